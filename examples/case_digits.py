"""Case study: synergistic and redundant training digits, and pruning guided by them.

Players are training images of scikit-learn's digits; the value of a subset is the log-odds of
the predicted class for one test image after retraining a logistic regression on that subset
(``DataAttributionGame.from_digits``). For each test image:

1. ProxySPEX (FBII, order 2) learns a sparse interaction surrogate from ``budget`` retrainings on
   uniform random subsets. At the same number of retrainings two marginal methods: Banzhaf values
   (least squares on the very coalitions ProxySPEX queried) and Shapley values (shapiq's
   KernelSHAP, its own ``budget`` retrainings).
2. The most synergistic and most redundant pairs of training images (with their labels) are read
   off the surrogate and verified by retraining without them, next to what Banzhaf and Shapley
   say about each member.
3. Pruning (:func:`~shapiq_spex.optimize.pruning.pruning_experiment`): remove ``r`` training
   images chosen by interactions, Banzhaf, Shapley or at random (the first ``r`` images of each of
   ``n_random`` seeded random orders), once to lower the test score most (``min``), once to change
   it least (``min_change``: keep the prediction while pruning).

Run: ``python examples/case_digits.py [--fast] [--write-results]`` (``--fast``: 16 images, tiny
budget, a few seconds, writes nothing). ``--write-results`` writes
``benchmarks/results/case_digits.md`` and ``.jsonl``; the "Reading" section of the ``.md`` is
copied from the hand-written ``benchmarks/results/case_digits.reading.md`` if that file exists
(update it by hand after a rerun: it quotes the numbers of one run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
READING = RESULTS / "case_digits.reading.md"
OBJECTIVES = {
    "min": "lower the test score most (score after removal; lower is better)",
    "min_change": "keep the prediction (|score change| after removal; lower is better)",
}
METHODS = ("interactions", "Banzhaf", "Shapley")


def r2(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(1.0 - np.sum((truth - pred) ** 2) / np.sum((truth - truth.mean()) ** 2))


def surrogate_fit(game, spectrum, banzhaf, shapley, n_eval: int, max_r: int, rng) -> dict:
    """R² of the three surrogates on fresh uniform coalitions and on pruned full sets.

    Near the full set only changes matter for pruning, so there every surrogate is anchored at
    the true ``v(N)``: the prediction is ``v(N) + f̂(x) − f̂(N)`` (the Banzhaf intercept is fitted
    to half-size coalitions and would otherwise dominate the error).
    """
    n = game.n_players
    uniform = rng.random((n_eval, n)) < 0.5
    near = np.ones((n_eval, n), dtype=bool)
    for row, k in enumerate(rng.integers(1, min(max_r, n - 1) + 1, size=n_eval)):
        near[row, rng.choice(n, k, replace=False)] = False
    full = np.ones((1, n), dtype=bool)
    masks = np.concatenate([uniform, near, full])
    truth = game(masks)
    c_bz, phi_bz = banzhaf
    preds = {
        "interactions": spectrum.evaluate(masks),
        "Banzhaf": c_bz + masks @ phi_bz,
        # KernelSHAP's values are efficient (they sum to v(N) - v(∅)): anchor them at v(N)
        "Shapley": truth[-1] - (~masks) @ shapley,
    }
    out = {}
    for name, p in preds.items():
        anchored = truth[-1] + p[n_eval:-1] - p[-1]
        out[name] = {
            "uniform": r2(p[:n_eval], truth[:n_eval]),
            "near_full": r2(anchored, truth[n_eval:-1]),
        }
    return out


def run_digit(test_index: int, args) -> dict:
    """Everything for one test image; returns a dict of tables and numbers."""
    import shapiq

    from shapiq_spex import DataAttributionGame, ProxySPEX, RecordingGame
    from shapiq_spex.metrics import banzhaf_regression
    from shapiq_spex.optimize import data as dh
    from shapiq_spex.optimize.choosers import interaction_chooser, marginal_chooser
    from shapiq_spex.optimize.pruning import pruning_experiment

    start = time.perf_counter()
    game = DataAttributionGame.from_digits(
        n_train=args.n_train, test_index=test_index, random_state=0
    )
    n = game.n_players
    rec = RecordingGame(game)
    proxy = ProxySPEX(n, max_order=2, index="FBII", random_state=0)
    proxy.approximate(args.budget, rec)
    spectrum = proxy.spectrum_
    masks, values = rec.masks, rec.values
    banzhaf = banzhaf_regression(masks, values)

    shap_rec = RecordingGame(game)
    sv = shapiq.KernelSHAP(n, random_state=0).approximate(args.budget, shap_rec)
    shapley = np.array([sv[(i,)] for i in range(n)], dtype=np.float64)
    queries = {"ProxySPEX": rec.queries, "Banzhaf": rec.queries, "KernelSHAP": shap_rec.queries}

    rng = np.random.default_rng(1000 + test_index)
    fit = surrogate_fit(game, spectrum, banzhaf, shapley, args.n_eval, max(args.rs), rng)

    marginals = {"Banzhaf": banzhaf[1], "Shapley": shapley}
    report = dh.data_report(game, spectrum, k=args.k, marginals=marginals)

    pruning = {}
    for objective in OBJECTIVES:
        choices = {
            "interactions": interaction_chooser(spectrum, objective, time_limit=20.0),
            "Banzhaf": marginal_chooser(banzhaf[1], objective),
            "Shapley": marginal_chooser(shapley, objective),
        }
        pruning[objective] = pruning_experiment(
            game, choices, args.rs, n_random=args.n_random, random_state=test_index
        )
    return {
        "test_index": test_index,
        "game": game,
        "spectrum": spectrum,
        "r2_holdout": float(proxy.report_.faithfulness_r2),
        "queries": queries,
        "fit": fit,
        "report": report,
        "pruning": pruning,
        "seconds": time.perf_counter() - start,
    }


def metric_of(objective: str) -> str:
    return "value" if objective == "min" else "abs_change"


def summary_table(runs: list[dict], objective: str) -> str:
    """Mean over test images per r, and how often interactions beat each marginal method."""
    metric = metric_of(objective)
    rs = runs[0]["pruning"][objective].rs
    per = {
        m: np.array([run["pruning"][objective].metric(m, metric) for run in runs]) for m in METHODS
    }
    rnd = np.array([run["pruning"][objective].random_stats(metric)[0] for run in runs])
    if objective == "min":  # scores differ per image: compare drops v(N) - v(N∖R)
        full = np.array([run["pruning"][objective].full_value for run in runs])[:, None]
        per = {m: full - v for m, v in per.items()}
        rnd = full - rnd
        what = "mean score drop v(N) - v(N minus R) (higher is better)"
        better = np.greater
    else:
        what = "mean |score change| (lower is better)"
        better = np.less
    lines = [
        f"{what}; W-T-L = test images where interactions did better, the same (within 1e-9), worse",
        "",
        "| r | interactions | Banzhaf | Shapley | random | vs Banzhaf W-T-L | vs Shapley W-T-L |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]

    def wtl(ours: np.ndarray, theirs: np.ndarray) -> str:
        tie = np.abs(ours - theirs) <= 1e-9
        win = better(ours, theirs) & ~tie
        return f"{int(win.sum())}-{int(tie.sum())}-{int((~win & ~tie).sum())}"

    for i, r in enumerate(rs):
        ours = per["interactions"][:, i]
        cells = " | ".join(f"{per[m][:, i].mean():.3f}" for m in METHODS)
        lines.append(
            f"| {r} | {cells} | {rnd[:, i].mean():.3f} | {wtl(ours, per['Banzhaf'][:, i])} | "
            f"{wtl(ours, per['Shapley'][:, i])} |"
        )
    return "\n".join(lines)


def digit_markdown(run: dict) -> str:
    game, fit = run["game"], run["fit"]
    q = run["queries"]
    lines = [
        f"### Test image {run['test_index']} (explained class {game.target_class})",
        "",
        f"Score (log-odds of class {game.target_class}) with all {game.n_players} training "
        f"images ({int(np.sum(game.y_train == game.target_class))} of class "
        f"{game.target_class}) {game.original_model_output:+.3f}, with none "
        f"{game.empty_value:+.3f}. "
        f"Retrainings: ProxySPEX {q['ProxySPEX']} (Banzhaf reuses them), KernelSHAP "
        f"{q['KernelSHAP']}. ProxySPEX held-out R² {run['r2_holdout']:.3f}; "
        f"{len(run['spectrum'])} Fourier terms up to degree {run['spectrum'].max_degree}. "
        f"Time {run['seconds']:.0f} s.",
        "",
        "R² of each surrogate on fresh coalitions: uniform random, and the full set with 1 to "
        f"{max(run['pruning']['min'].rs)} random images removed (there anchored at the true "
        "score with all data, since pruning only sees changes):",
        "",
        "| surrogate | uniform | pruned full set |",
        "| --- | --- | --- |",
    ]
    for name, vals in fit.items():
        lines.append(f"| {name} | {vals['uniform']:.3f} | {vals['near_full']:.3f} |")
    lines += ["", run["report"].to_markdown(), ""]
    for objective, text in OBJECTIVES.items():
        res = run["pruning"][objective]
        lines += [
            f"Pruning, objective `{objective}`: {text}; random = the first r images of "
            f"{res.n_random} seeded random orders (mean ± sample std).",
            "",
            res.to_markdown(metric_of(objective)),
        ]
    return "\n".join(lines)


def json_lines(runs: list[dict]) -> list[str]:
    out = []
    for run in runs:
        report = run["report"]
        groups = [
            {
                "kind": kind,
                "players": list(c.players),
                "labels": [list(report.labels[p]) for p in c.players],
                "predicted": c.predicted,
                "measured_interaction": c.interaction,
                "joint_drop": c.joint_drop,
                "sum_single_drops": c.sum_single_drops,
                "confirmed": c.confirmed,
            }
            for kind, checks in (("synergy", report.synergy), ("redundancy", report.redundancy))
            for c in checks
        ]
        pruning = {
            objective: {
                "full_value": res.full_value,
                "rows": res.rows(metric_of(objective)),
                "players": {k: [list(p) for p in v] for k, v in res.removed.items()},
            }
            for objective, res in run["pruning"].items()
        }
        out.append(
            json.dumps(
                {
                    "test_index": run["test_index"],
                    "target_class": int(run["game"].target_class),
                    "full_value": run["game"].original_model_output,
                    "queries": run["queries"],
                    "r2_holdout": run["r2_holdout"],
                    "fit": run["fit"],
                    "groups": groups,
                    "pruning": pruning,
                    "seconds": run["seconds"],
                }
            )
        )
    return out


def confirmation_line(runs: list[dict]) -> str:
    parts = []
    for kind in ("synergy", "redundancy"):
        checks = [c for run in runs for c in getattr(run["report"], kind)]
        ok = sum(bool(c.confirmed) for c in checks)
        parts.append(f"{kind} {ok}/{len(checks)}")
    return "predicted groups confirmed by retraining: " + ", ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="16 images, tiny budget, no files")
    parser.add_argument("--n-train", type=int, default=80)
    parser.add_argument("--budget", type=int, default=1500)
    parser.add_argument("--tests", type=str, default="0,1,2,3,4,5,6,7", help="test images")
    parser.add_argument("--rs", type=str, default="1,2,4,6,8,12,16,24,32")
    parser.add_argument("--n-random", type=int, default=20)
    parser.add_argument("--n-eval", type=int, default=100, help="fresh coalitions per R² set")
    parser.add_argument("--k", type=int, default=5, help="groups per kind")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("SHAPIQ_SPEX_EXAMPLES_FAST") == "1"
    if fast:
        args.n_train, args.budget, args.tests, args.rs = 16, 120, "0", "1,2,4"
        args.n_random, args.n_eval, args.k, args.write_results = 3, 20, 2, False
    args.tests = [int(t) for t in args.tests.split(",")]
    args.rs = [int(r) for r in args.rs.split(",")]

    start = time.perf_counter()
    runs = []
    for t in args.tests:
        run = run_digit(t, args)
        runs.append(run)
        res = run["pruning"]["min"]
        print(
            f"test image {t}: class {run['game'].target_class}, score {res.full_value:+.3f}, "
            f"ProxySPEX {run['queries']['ProxySPEX']} retrainings, held-out R2 "
            f"{run['r2_holdout']:.3f}, {run['seconds']:.1f}s"
        )
        print(run["report"].to_markdown())
        for objective in OBJECTIVES:
            print(f"pruning ({objective}):")
            print(run["pruning"][objective].to_markdown(metric_of(objective)), end="")
    total = time.perf_counter() - start
    print(confirmation_line(runs))
    for objective in OBJECTIVES:
        print(f"summary ({objective}):")
        print(summary_table(runs, objective))

    if args.write_results:
        import numpy as _np
        import scipy
        import shapiq
        import sklearn

        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
        cmd = "python examples/case_digits.py " + " ".join(sys.argv[1:] if argv is None else argv)
        machine = (
            f"Machine: {platform.machine()}, {os.cpu_count()} core(s), {usable} usable by this "
            f"process (shared with other jobs), Python "
            f"{platform.python_version()}, numpy {_np.__version__}, scipy {scipy.__version__}, "
            f"scikit-learn {sklearn.__version__}, shapiq {shapiq.__version__}, "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}."
        )
        parts = [
            "# Case study: data attribution on scikit-learn's digits",
            "",
            machine,
            "",
            f"Command: `{cmd.strip()}` (total {total:.0f} s). Players: {args.n_train} training "
            f"images (seeded sample), model: LogisticRegression(max_iter=1000) retrained per "
            f"coalition, value: log-odds of the class predicted with all data. Budget "
            f"{args.budget} retrainings per method; pruning r in {args.rs}; random baseline: the "
            f"first r images of each of {args.n_random} seeded random orders (nested in r; each "
            "set is a uniform random r-subset).",
            "",
            "## Summary over test images",
            "",
            confirmation_line(runs) + ".",
            "",
        ]
        for objective, text in OBJECTIVES.items():
            parts += [f"Objective `{objective}` ({text}):", "", summary_table(runs, objective), ""]
        reading = (
            READING.read_text(encoding="utf-8").strip()
            if READING.is_file()
            else f"(written by hand after the run, in {READING.relative_to(ROOT)})"
        )
        parts += ["## Reading", "", reading, ""]
        parts += ["## Per test image", ""]
        parts += [digit_markdown(run) for run in runs]
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "case_digits.md").write_text("\n".join(parts) + "\n")
        (RESULTS / "case_digits.jsonl").write_text("\n".join(json_lines(runs)) + "\n")
        print(f"wrote {RESULTS / 'case_digits.md'}")
    print("example case_digits: OK")


if __name__ == "__main__":
    main()
