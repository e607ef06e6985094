"""SPEX at large n: exact recovery, wall time and memory of one call (our SPEX only).

The issue's target: n = 1000, a noiseless sparse game with about 100 terms of degree <= 3 is
recovered exactly (relative coefficient error < 1e-6) in under 10 s and under 1 GB. Memory is
reported two ways: the tracemalloc peak of the call (what the algorithm allocates) and the growth
of the process's peak RSS during the call; the RSS before the call is mostly the import of shapiq,
which imports torch, numba and galois when they are installed.

Usage: ``python benchmarks/spex_large_n.py``.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, md_table, write_results

from shapiq_spex import SPEX, SparseFourierGame
from shapiq_spex.metrics import coefficient_error, faithfulness_r2


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    rows = []
    cases = [
        (1000, 100, 3, 0.0, 40_000),
        (1000, 100, 3, 0.1, 40_000),
        (2000, 200, 3, 0.0, 60_000),
    ]
    for n, s, d, noise, budget in cases:
        for seed in (0, 1, 2):
            game = SparseFourierGame(n, s, d, constant=0.5, noise_std=noise, random_state=seed)
            spex = SPEX(n, 2, "k-SII", random_state=seed)
            before = rss_mb()
            start, cpu0 = time.perf_counter(), time.process_time()
            spex.approximate(budget, game)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
            rss_growth = rss_mb() - before
            tracemalloc.start()
            SPEX(n, 2, "k-SII", random_state=seed).approximate(budget, game)
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
            row = {
                "n": n,
                "terms": s,
                "noise": noise,
                "budget": budget,
                "seed": seed,
                "queries": spex.report_.queries,
                "wall_s": wall,
                "cpu_s": cpu,
                "game_s": spex.report_.game_time_s,
                "coef_err": coefficient_error(game.fourier_spectrum, spex.spectrum_),
                "r2": faithfulness_r2(spex.spectrum_, game.noiseless_values, n),
                "traced_peak_mb": peak,
                "rss_before_mb": before,
                "rss_growth_mb": rss_growth,
            }
            rows.append(row)
            print(row, flush=True)
    cols = [
        ("n", "n", "d"),
        ("terms", "terms", "d"),
        ("noise", "noise", ".2f"),
        ("seed", "seed", "d"),
        ("queries", "queries", "d"),
        ("wall_s", "wall s", ".2f"),
        ("cpu_s", "CPU s", ".2f"),
        ("game_s", "game s", ".2f"),
        ("coef_err", "rel. coef error", ".1e"),
        ("r2", "held-out R²", ".6f"),
        ("traced_peak_mb", "traced peak MB", ".0f"),
        ("rss_growth_mb", "RSS growth MB", ".0f"),
        ("rss_before_mb", "RSS before call MB", ".0f"),
    ]
    md = (
        "# SPEX at large n\n\n"
        f"Machine: {machine()} (shared with other jobs: wall time is inflated by the load; "
        "CPU s is "
        "the process's own CPU time, all threads). Degree <= 3 parity-type terms, constant 0.5. "
        "Command: `python benchmarks/spex_large_n.py`\n\n" + md_table(rows, cols)
    )
    write_results("spex_large_n", rows, md)
    print(md)


if __name__ == "__main__":
    main()
