"""Rem(r) for r = 1..10: interaction-chosen vs marginal-chosen removal sets on real models.

The target of the "from interactions to actions" issue: removing the ``r`` players picked from an
interaction surrogate should move the model's output at least as much as removing the ``r``
players a marginal attribution picks, at the same number of model queries. Two tasks, both on
real offline models with word players:

* ``sentiment``: the offline MiniLM sentiment classifier (:class:`TextClassificationGame`,
  ``mask_token`` masking, logit of the predicted class) on real movie reviews: Rotten Tomatoes
  sentences of 16-63 words and IMDB reviews of 64-127 words, sampled with a fixed seed.
* ``answer``: SmolLM2-135M-Instruct (:class:`GenerationLogProbGame`, chat template, words of the
  user message removed) scoring the log-probability of its own greedy answer to short reasoning
  and factual prompts.

Per item every method gets the same budget ``B`` of queries:

* **interactions**: ProxySPEX (order-2 k-SII); ``R_r`` = the best set of exactly ``r`` players
  on the recovered surrogate (:func:`shapiq_spex.optimize.removal_curve`,
  ``objective="max_change"``, ``method="auto"``: the MILP, or beam search on a surrogate too dense
  for it; the table counts the items the MILP proved optimal for every ``r``);
* **Banzhaf**: least squares (with intercept) on the ``B`` uniform random coalitions ProxySPEX
  queried, i.e. the regression estimate of the Banzhaf values from the very same queries;
* **Shapley**: shapiq's ``KernelSHAP`` with budget ``B`` (its own queries);

both marginal choices are the top-``r`` players by value in the direction that moves the sum most
(:func:`shapiq_spex.optimize.removal_curve_marginal`). ``Rem(r) = |f(all) - f(all minus R_r)| /
|f(all)|`` is measured on the model (11 extra queries per method and item, outside the budget).
The table reports per ``r`` the mean and median over items and how many items the interaction
choice matched or beat each marginal choice on.

Usage: ``python benchmarks/rem_curves.py [--task sentiment|answer|both] [--quick]
[--task answer --answer-budget B]``; writes
``benchmarks/results/rem_curves.md`` and ``.jsonl`` (each finished item is appended to
``rem_curves.partial.jsonl`` first, so ``--rebuild`` can write the table after an interrupted
run). Torch and BLAS run on one thread (see ``text_sentiment.py`` for why).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, TimedGame, machine, md_table

RS = tuple(range(1, 11))
METHODS = ("interactions", "Banzhaf", "Shapley")
SENTIMENT = {"buckets": ((16, 63, 6), (64, 127, 4)), "budget": 1000}
ANSWER = {"budget": 500, "max_new_tokens": 12}
QUICK_SENTIMENT = {"buckets": ((16, 31, 1),), "budget": 300}
QUICK_ANSWER = {"budget": 200, "max_new_tokens": 6}

#: Short prompts for SmolLM2-135M-Instruct: reasoning it gets right, arithmetic it gets wrong, a
#: moral dilemma and plain facts. Fixed before any result was seen.
PROMPTS = (
    "Tom is taller than Anna. Anna is taller than Ben. Who is the shortest? Answer with one name.",
    "Mary has three apples and gives one to John. How many apples does Mary have now? Answer "
    "with a number.",
    "A trolley is heading towards five people. You can pull a lever to divert it to another "
    "track, where it will hit one person. Should you pull the lever? Answer yes or no.",
    "The capital of France is a city on the river Seine. What is the capital of France? Answer "
    "in one word.",
    "Water freezes at zero degrees Celsius. It is minus five degrees outside. Is the pond "
    "frozen? Answer yes or no.",
    "Lisa was born in Berlin but moved to Madrid when she was ten. Which language did she learn "
    "at school? Answer in one word.",
)


def compare(game, budget: int) -> list[dict]:
    """The three removal curves for one game, every method at ``budget`` queries."""
    from shapiq.approximator import KernelSHAP

    from shapiq_spex import ProxySPEX, RecordingGame
    from shapiq_spex.metrics import banzhaf_regression
    from shapiq_spex.optimize import removal_curve, removal_curve_marginal

    n = game.n_players
    rec = RecordingGame(game)
    approx = ProxySPEX(n, 2, "k-SII", random_state=0)
    start = time.perf_counter()
    approx.approximate(budget, rec)
    proxy_s = time.perf_counter() - start
    t0 = time.perf_counter()
    curves = {"interactions": removal_curve(approx.spectrum_, game, RS, time_limit=30.0)}
    choose_s = time.perf_counter() - t0
    curves["Banzhaf"] = removal_curve_marginal(
        banzhaf_regression(rec.masks, rec.values)[1], game, RS
    )
    timed = TimedGame(game)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = KernelSHAP(n=n, random_state=0).approximate(budget, timed)
    phi = np.array([iv[(i,)] for i in range(n)])
    curves["Shapley"] = removal_curve_marginal(phi, game, RS)
    queries = {"interactions": rec.queries, "Banzhaf": rec.queries, "Shapley": timed.queries}
    rows = []
    for method, curve in curves.items():
        rows.append(
            {
                "method": method,
                "n": n,
                "budget": budget,
                "queries": int(queries[method]),
                "full_value": float(curve.full_value),
                "rem": [float(v) for v in curve.rem],
                "removed_values": [float(v) for v in curve.removed_values],
                "players": [list(p) for p in curve.players],
                "optimal": bool(np.all(curve.optimal)),
                "proxy_r2": float(approx.report_.faithfulness_r2),
                "proxy_s": proxy_s,
                "choose_s": choose_s if method == "interactions" else float("nan"),
                "model_s": rec.time_s + timed.time_s,
            }
        )
    return rows


def sentiment_items(cfg: dict, seed: int):
    """``(label, text)`` of the sampled reviews."""
    from text_sentiment import load_reviews, pick_reviews

    df = load_reviews()
    for lo, hi, k in cfg["buckets"]:
        for i, text in enumerate(pick_reviews(df, lo, hi, k, seed).text):
            yield f"{lo}-{hi} #{i}", text


def run_sentiment(cfg: dict, seed: int, emit) -> None:
    from shapiq_spex import TextClassificationGame

    for label, text in sentiment_items(cfg, seed):
        game = TextClassificationGame(text, "minilm-sentiment", players="word", batch_size=32)
        for row in compare(game, cfg["budget"]):
            emit({"task": "sentiment", "item": label, "text": text, **row})


def run_answer(cfg: dict, prompts, emit) -> None:
    from shapiq_spex import GenerationLogProbGame
    from shapiq_spex.models.smollm2 import load_smollm2

    model, tokenizer = load_smollm2()
    for i, prompt in enumerate(prompts):
        game = GenerationLogProbGame(
            prompt,
            model,
            tokenizer,
            players="word",
            use_chat_template=True,
            max_new_tokens=cfg["max_new_tokens"],
            batch_size=32,
        )
        for row in compare(game, cfg["budget"]):
            emit({"task": "answer", "item": f"#{i}", "text": prompt, "answer": game.answer, **row})


def summarize(rows: list[dict], task: str) -> tuple[list[dict], dict]:
    """Per ``r``: mean/median Rem per method and the interaction choice's wins (>=)."""
    by = {
        m: {r["item"]: r for r in rows if r["task"] == task and r["method"] == m} for m in METHODS
    }
    items = sorted(set.intersection(*(set(v) for v in by.values())))
    if not items:
        return [], {}
    rem = {m: np.array([by[m][i]["rem"] for i in items]) for m in METHODS}
    out = []
    for j, r in enumerate(RS):
        row = {"r": r, "items": len(items)}
        for m in METHODS:
            row[f"mean_{m}"] = float(np.mean(rem[m][:, j]))
            row[f"median_{m}"] = float(np.median(rem[m][:, j]))
        for m in METHODS[1:]:
            # a tie up to float noise (the same set chosen) counts as "at least as large"
            wins = rem["interactions"][:, j] >= rem[m][:, j] - 1e-12
            row[f"wins_{m}"] = f"{int(wins.sum())}/{len(items)}"
        out.append(row)
    met = {
        m: all(row["mean_interactions"] >= row[f"mean_{m}"] - 1e-12 for row in out)
        for m in METHODS[1:]
    }
    return out, met


def markdown(rows: list[dict], command: str, wall_s: float, cfgs: dict) -> str:
    lines = [
        "# Rem(r): interaction-chosen vs marginal-chosen removals on real models",
        "",
        f"Machine: {machine()}; torch and BLAS on 1 thread; shared with other jobs. "
        f"Total wall time {wall_s / 60:.1f} min.",
        "",
        f"Command: `{command}`",
        "",
        "Rem(r) = |f(all) - f(all minus R_r)| / |f(all)|, measured on the model, for exactly r "
        "removed players. Every method gets the same query budget per item: 'interactions' = "
        "ProxySPEX (order-2 k-SII) and the best set on its surrogate (`removal_curve`, "
        "objective max_change, method auto: the MILP, beam search where the surrogate is too "
        "dense for it); 'Banzhaf' = least squares on the same uniform "
        "random coalitions ProxySPEX queried (no extra queries); 'Shapley' = shapiq's KernelSHAP "
        "(its own queries at the same budget). Marginal choices are the top-r players in the "
        "direction that moves the additive model most (`removal_curve_marginal`). 'wins' = items "
        "on which the interaction choice's Rem(r) was at least the marginal one's.",
        "",
    ]
    for task, title in (
        ("sentiment", "Sentiment (MiniLM classifier, movie reviews, word players)"),
        ("answer", "Answer log-probability (SmolLM2-135M-Instruct, word players)"),
    ):
        summary, met = summarize(rows, task)
        if not summary:
            continue
        sel = [r for r in rows if r["task"] == task and r["method"] == "interactions"]
        ns = [r["n"] for r in sel]
        r2s = [r["proxy_r2"] for r in sel]
        lines += [
            f"## {title}",
            "",
            f"{len(sel)} items, n = {min(ns)}-{max(ns)} players, budget {cfgs[task]['budget']} "
            f"queries per method; ProxySPEX's own held-out R² mean "
            f"{np.mean(r2s):.3f} (min {min(r2s):.3f}); "
            f"proved optimal (MILP) for every r on {sum(r['optimal'] for r in sel)}/{len(sel)} "
            f"items; choice time per item (10 solves) {np.mean([r['choose_s'] for r in sel]):.2f} "
            "s mean.",
            "",
        ]
        cols = [("r", "r", "d")]
        for m in METHODS:
            cols.append((f"mean_{m}", f"mean {m}", ".3f"))
        for m in METHODS:
            cols.append((f"median_{m}", f"median {m}", ".3f"))
        cols += [(f"wins_{m}", f"wins vs {m}", "") for m in METHODS[1:]]
        lines += [md_table(summary, cols), ""]
        verdict = ", ".join(
            f"vs {m}: {'met' if ok else 'NOT met'} for every r" if ok else f"vs {m}: NOT met"
            for m, ok in met.items()
        )
        lines += [
            "Target (mean Rem(r) of the interaction choice >= the marginal choice's, "
            f"r = 1..10): {verdict}.",
            "",
        ]
        per_item = []
        for r in sel:
            item = {"item": r["item"], "n": r["n"], "full": r["full_value"]}
            for m in METHODS:
                row = next(
                    x
                    for x in rows
                    if x["task"] == task and x["item"] == r["item"] and x["method"] == m
                )
                item[f"{m}_1"] = row["rem"][0]
                item[f"{m}_5"] = row["rem"][4]
                item[f"{m}_10"] = row["rem"][9]
            item["text"] = (r["text"][:60] + "...") if len(r["text"]) > 60 else r["text"]
            if task == "answer":
                item["text"] += f" → {r['answer'][:40]!r}"
            per_item.append(item)
        cols = [("item", "item", ""), ("n", "n", "d"), ("full", "f(all)", ".3f")]
        for k in (1, 5, 10):
            cols += [(f"{m}_{k}", f"{m[:5]} Rem({k})", ".3f") for m in METHODS]
        cols.append(("text", "text", ""))
        lines += ["Per item:", "", md_table(per_item, cols), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["sentiment", "answer", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="one item per task, small budgets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--rebuild", action="store_true", help="table from the partial jsonl")
    parser.add_argument(
        "--answer-budget",
        type=int,
        default=None,
        help="queries per method for the answer task (results go to rem_curves_answer<B>.*)",
    )
    args = parser.parse_args(argv)
    out = args.out or (Path("/tmp") if args.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    name = "rem_curves_quick" if args.quick else "rem_curves"
    if args.answer_budget is not None:
        if args.task != "answer":
            parser.error("--answer-budget needs --task answer")
        name += f"_answer{args.answer_budget}"
    partial = out / f"{name}.partial.jsonl"
    cfgs = {
        "sentiment": QUICK_SENTIMENT if args.quick else SENTIMENT,
        "answer": QUICK_ANSWER if args.quick else ANSWER,
    }
    if args.answer_budget is not None:
        cfgs["answer"] = {**cfgs["answer"], "budget": args.answer_budget}
    command = "python benchmarks/rem_curves.py" + (" --quick" if args.quick else "")
    if args.task != "both":
        command += f" --task {args.task}"
    if args.answer_budget is not None:
        command += f" --answer-budget {args.answer_budget}"
    start = time.perf_counter()
    if not args.rebuild:
        import torch

        torch.set_num_threads(1)
        keep = []
        if partial.exists():  # a task that is rerun replaces its old rows
            keep = [json.loads(line) for line in partial.read_text().splitlines() if line]
            tasks = {"sentiment", "answer"} if args.task == "both" else {args.task}
            keep = [row for row in keep if row["task"] not in tasks]
        with partial.open("w") as fh:
            for row in keep:
                fh.write(json.dumps(row) + "\n")

        def emit(row: dict) -> None:
            with partial.open("a") as fh:
                fh.write(json.dumps(row, default=float) + "\n")
            rem = " ".join(f"{v:.2f}" for v in row["rem"])
            print(f"{row['task']} {row['item']} n={row['n']} {row['method']}: {rem}", flush=True)

        if args.task in ("sentiment", "both"):
            run_sentiment(cfgs["sentiment"], args.seed, emit)
        if args.task in ("answer", "both"):
            run_answer(cfgs["answer"], PROMPTS[:1] if args.quick else PROMPTS, emit)
    source = partial if partial.exists() else out / f"{name}.jsonl"  # partials are not committed
    rows = [json.loads(line) for line in source.read_text().splitlines() if line]
    wall = time.perf_counter() - start
    if args.rebuild:
        command += " (table rebuilt from the partial rows)"
    text = markdown(rows, command, wall, cfgs)
    with (out / f"{name}.jsonl").open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=float) + "\n")
    (out / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
