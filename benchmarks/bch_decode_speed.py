"""Speed of our batched BCH decoder vs galois's BCH decoder (the reference SPEX decode path).

For each ``n`` (t = 5) we draw 10,000 decodable received parity words (a random frequency of
weight <= t plus random flipped parity bits, total <= t) and, separately, 10,000 uniformly
random parity words (what a multiton or empty bin looks like: almost all fail). Our decoder
gets each set in one batched call; galois (if installed) decodes 50 of the decodable words,
after a warm-up call per input shape so that numba compilation is not counted. Everything runs
in one process on one thread.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/bch_decode_speed.py``; writes
``benchmarks/results/bch_decode_speed.md``.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from shapiq_spex.codes import BCHCode, decode

RESULTS = Path(__file__).resolve().parent / "results"
N_WORDS = 10_000
N_GALOIS = 50
CASES = [(128, 5), (1000, 5), (4000, 8)]  # galois is timed only where t = 5


def decodable_words(code: BCHCode, n_words: int, rng: np.random.Generator):
    """``(bits (W, p), supports (W, t))`` with ``weight(k) + #flips <= t`` per word."""
    n, p, t = code.n, code.p, code.t
    total = rng.integers(0, t + 1, n_words)
    n_msg = rng.binomial(total, n / (n + p))
    sup = np.full((n_words, t), -1)
    flips = np.zeros((n_words, p), dtype=bool)
    for w in range(n_words):  # data generation only, not timed
        sup[w, : n_msg[w]] = np.sort(rng.choice(n, n_msg[w], replace=False))
        flips[w, rng.choice(p, total[w] - n_msg[w], replace=False)] = True
    return code.parity_of_supports(sup) ^ flips, sup


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def time_galois(code: BCHCode, bits: np.ndarray, sup: np.ndarray):
    try:
        import galois
    except ImportError:
        return None
    ref = galois.BCH(code.n_c, d=2 * code.t + 1)
    # galois layout: shortened systematic [message | parity], coefficients by descending degree
    vec = np.concatenate([np.zeros((len(bits), code.n), dtype=int), bits[:, ::-1]], axis=1)
    ref.decode(galois.GF2(vec[0]), errors=True)  # warm-ups (numba compilation), both shapes
    ref.decode(galois.GF2(vec[:2]), errors=True)
    start = time.perf_counter()
    for row in vec:  # the reference decodes one word per call
        ref.decode(galois.GF2(row), errors=True)
    per_word = (time.perf_counter() - start) / len(vec)
    start = time.perf_counter()
    msgs, _ = ref.decode(galois.GF2(vec), errors=True)
    batched = (time.perf_counter() - start) / len(vec)
    k = np.asarray(msgs)[:, ::-1].astype(bool)
    expected = np.zeros_like(k)
    r, c = np.nonzero(sup >= 0)
    expected[r, sup[r, c]] = True
    return per_word, batched, bool(np.array_equal(k, expected))


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for n, t in CASES:
        code = BCHCode.for_messages(n, t)
        bits, sup = decodable_words(code, N_WORDS, rng)
        noise = rng.random((N_WORDS, code.p)) < 0.5
        decode(code, bits[:8])  # build the cached tables outside the timing
        res = decode(code, bits)
        exact = bool(res.success.all() and np.array_equal(res.message_errors, sup))
        ours = N_WORDS / best_of(lambda b=bits, c=code: decode(c, b))
        ours_noise = N_WORDS / best_of(lambda b=noise, c=code: decode(c, b))
        gal = time_galois(code, bits[:N_GALOIS], sup[:N_GALOIS]) if t == 5 else None
        rows.append((n, t, code, ours, ours_noise, exact, gal))
        line = f"n={n} t={t} p={code.p}: ours {ours:,.0f} words/s (noise {ours_noise:,.0f})"
        if gal is not None:
            line += f", galois {1 / gal[0]:,.1f} words/s ({1 / gal[1]:,.1f} batched)"
        print(line, flush=True)

    lines = [
        "# BCH decoding speed: batched numpy decoder vs galois",
        "",
        f"Machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, numpy {np.__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}. "
        f"{N_WORDS:,} words per set for ours (best of 3), {N_GALOIS} for galois (after warm-up "
        "calls). 'decodable' = weight(k) + flips <= t; 'random' = uniform parity bits.",
        "",
        "| n | t | m | p | ours, decodable (words/s) | ours, random (words/s) | all exact "
        "| galois per word (words/s) | galois batched (words/s) | galois exact "
        "| speed-up vs galois's faster mode |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, t, code, ours, ours_noise, exact, gal in rows:
        if gal is None:
            g_cells = "n/a | n/a | n/a | n/a"
        else:
            fastest = min(gal[0], gal[1])  # seconds per word of galois's faster mode
            g_cells = f"{1 / gal[0]:,.1f} | {1 / gal[1]:,.1f} | {gal[2]} | {ours * fastest:,.0f}x"
        lines.append(
            f"| {n} | {t} | {code.m} | {code.p} | {ours:,.0f} | {ours_noise:,.0f} | {exact} "
            f"| {g_cells} |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bch_decode_speed.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
