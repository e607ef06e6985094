"""Our SPEX vs shapiq 1.8's built-in SPEX: same games, same budgets, same process.

For every cell both approximators get the same game object and budget. We report the queries
actually used, wall time split into the game's share and everything else (sampling, decoding,
conversion: "decode"), peak traced memory of the call, faithfulness R² on 1,000 held-out
Bernoulli(1/2) masks against the noiseless game, and the max error of order-2 k-SII against the
exact k-SII of the known spectrum (the built-in's k-SII is aggregated twice, see the README).

shapiq's SPEX exposes no spectrum, so its Fourier transform is captured by wrapping the
``fourier_to_moebius`` call inside ``shapiq.approximator.sparse.base`` (read-only).

Usage: ``python benchmarks/spex_vs_shapiq.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import shapiq
import shapiq.approximator.sparse.base as sq_sparse
from _common import (
    TimedGame,
    holdout_masks,
    index_error,
    machine,
    md_table,
    r2,
    run_timed,
    write_results,
)

from shapiq_spex import SPEX, SparseFourierGame, SparseMoebiusGame, SparseSpectrum
from shapiq_spex.spectra.indices import to_interaction_values

warnings.filterwarnings("ignore")

_captured: dict = {}
_orig_f2m = sq_sparse.fourier_to_moebius


def _capture_f2m(transform):
    _captured["fourier"] = dict(transform)
    return _orig_f2m(transform)


sq_sparse.fourier_to_moebius = _capture_f2m


def spectrum_from_dict(n: int, d: dict) -> SparseSpectrum:
    return SparseSpectrum.from_dict(n, {tuple(int(i) for i in k): float(v) for k, v in d.items()})


class LightGBMGame:
    """A real model: LightGBM on breast_cancer, one explicand, shapiq's marginal imputer."""

    def __init__(self, seed: int = 0) -> None:
        import lightgbm as lgb
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        model = lgb.LGBMClassifier(n_estimators=200, num_leaves=15, verbose=-1, random_state=seed)
        model.fit(X, y)
        rng = np.random.default_rng(seed)
        background = X[rng.choice(len(X), 50, replace=False)]

        def predict(z):
            p = model.predict_proba(z)[:, 1]
            return np.log(p / (1 - p))

        self.imputer = shapiq.imputer.MarginalImputer(
            model=predict, data=background, x=X[0], random_state=seed, normalize=False
        )
        self.n_players = X.shape[1]

    def __call__(self, coalitions):
        return self.imputer(coalitions)


def run_cell(game_name, game, budget, seed, *, truth_spec=None, memory=False, run_shapiq=True):
    n = game.n_players
    test = holdout_masks(n)
    target = truth_spec.evaluate(test) if truth_spec is not None else np.asarray(game(test))
    truth_ksii = to_interaction_values(truth_spec, "k-SII", 2) if truth_spec is not None else None
    rows = []
    methods = [("ours", lambda: SPEX(n, 2, "k-SII", random_state=seed))]
    if run_shapiq:
        methods.append(
            ("shapiq", lambda: shapiq.SPEX(n=n, max_order=2, index="k-SII", random_state=seed))
        )
    for name, make in methods:
        timed = TimedGame(game)
        approx = make()
        if name == "shapiq":
            np.random.seed(seed)  # noqa: NPY002 - shapiq's SPEX draws from the global generator
        iv, wall, peak = run_timed(
            lambda a=approx, g=timed: a.approximate(budget, g), memory=memory
        )
        if name == "ours":
            spec = approx.spectrum_
        else:
            spec = spectrum_from_dict(n, _captured.pop("fourier"))
        row = {
            "game": game_name,
            "n": n,
            "budget": budget,
            "seed": seed,
            "method": name,
            "queries": timed.queries,
            "wall_s": wall,
            "game_s": timed.time_s,
            "decode_s": wall - timed.time_s,
            "peak_mb": peak,
            "r2": r2(target, spec.evaluate(test)),
            "terms": len(spec),
            "ksii_err": index_error(truth_ksii, iv) if truth_ksii is not None else float("nan"),
        }
        rows.append(row)
        print(
            f"{game_name:>24} n={n:<5} B={budget:<6} {name:>6} q={row['queries']:<6} "
            f"decode={row['decode_s']:8.2f}s r2={row['r2']:.4f} ksii_err={row['ksii_err']:.2e}",
            flush=True,
        )
    return rows


_OURS_ONLY = "--ours-only" in sys.argv
# a smoke run keeps its own log: its rows must never reach the full run's tables
PARTIAL = (
    Path(__file__).resolve().parent
    / "results"
    / (
        "spex_vs_shapiq_quick.partial.jsonl"
        if "--quick" in sys.argv
        else "spex_vs_shapiq.partial.jsonl"
    )
)


def flush(rows: list[dict]) -> list[dict]:
    """Append finished rows to a partial log so an interrupted run keeps its numbers."""
    import json

    if _OURS_ONLY:
        return rows
    PARTIAL.parent.mkdir(exist_ok=True)
    with PARTIAL.open("a") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=float) + "\n")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument(
        "--from-partial",
        action="store_true",
        help="build the tables from the rows an interrupted run left in the partial log",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated substrings: run only games whose name has one"
    )
    parser.add_argument(
        "--ours-only",
        action="store_true",
        help="rerun only our SPEX on every cell and merge with the built-in's rows (from the"
        " partial log of an interrupted run, else from the committed JSON lines)",
    )
    args = parser.parse_args()
    seeds = (0,) if args.quick else (0, 1)
    cells = []
    if args.quick:
        cells.append(("parity s=30 d<=3", 64, 30, 3, 0.0, "fourier", [3000]))
    else:
        # (the built-in's soft decoder costs 12-34 ms per galois decode, so its noisy cells at
        # large n take many minutes each: the grid below keeps the whole run near an hour)
        for n in (16, 64, 128, 256, 1024):
            s = 30 if n == 16 else 60
            budgets = [3000, 10000] if n < 1024 else [10000, 30000]
            cells.append((f"parity s={s} d<=3", n, s, 3, 0.0, "fourier", budgets))
            if n <= 256:
                noisy = budgets if n <= 64 else [10000]
                cells.append((f"parity s={s} d<=3 noise .1", n, s, 3, 0.1, "fourier", noisy))
        for n in (64, 256):
            cells.append(("hierarchical 15x d<=3 noise .05", n, 15, 3, 0.05, "moebius", [10000]))
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        cells = [c for c in cells if any(w in c[0] for w in wanted)]
    rows = []
    if args.from_partial:
        import json

        rows = [json.loads(line) for line in PARTIAL.read_text().splitlines() if line.strip()]
        cells = []
    for name, n, s, d, noise, basis, budgets in cells:
        for seed in seeds:
            if basis == "fourier":
                game = SparseFourierGame(n, s, d, noise_std=noise, constant=0.5, random_state=seed)
            else:
                game = SparseMoebiusGame(
                    n, s, d, hierarchical=True, noise_std=noise, random_state=seed
                )
            for budget in budgets:
                rows += flush(
                    run_cell(
                        name,
                        game,
                        budget,
                        seed,
                        truth_spec=game.fourier_spectrum,
                        memory=(noise == 0.0),
                        run_shapiq=(seed == seeds[0]) and not args.ours_only,  # slow: one seed
                    )
                )
    run_lgbm = not args.only or "LightGBM" in args.only
    if not args.quick and not args.from_partial and run_lgbm:
        for seed in seeds:
            game = LightGBMGame(seed)
            for budget in (3000, 10000):
                rows += flush(
                    run_cell(
                        "LightGBM breast_cancer",
                        game,
                        budget,
                        seed,
                        run_shapiq=(seed == seeds[0]) and not args.ours_only,
                    )
                )

    if args.ours_only:
        import json

        # the built-in's rows: from an interrupted run's log if there is one, else the committed
        source = PARTIAL if PARTIAL.exists() else PARTIAL.with_name("spex_vs_shapiq.jsonl")
        old = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
        # keep the built-in's rows, and ours where this run (--only) did not rerun them
        rerun = {(r["game"], r["n"], r["budget"]) for r in rows}
        kept = [
            r
            for r in old
            if r["method"] == "shapiq" or (r["game"], r["n"], r["budget"]) not in rerun
        ]
        rows = kept + rows
    # medians over seeds, side by side
    table = []
    keys = sorted(
        {(r["game"], r["n"], r["budget"]) for r in rows}, key=lambda k: (k[0], k[1], k[2])
    )
    for game_name, n, budget in keys:
        sel = [r for r in rows if (r["game"], r["n"], r["budget"]) == (game_name, n, budget)]
        ours = [r for r in sel if r["method"] == "ours"]
        base = [r for r in sel if r["method"] == "shapiq"]

        def med(rs, k):
            return float(np.median([r[k] for r in rs])) if rs else float("nan")

        table.append(
            {
                "game": game_name,
                "n": n,
                "budget": budget,
                "q_ours": int(med(ours, "queries")),
                "q_shapiq": int(med(base, "queries")) if base else None,
                "dec_ours": med(ours, "decode_s"),
                "dec_shapiq": med(base, "decode_s"),
                "speedup": med(base, "decode_s") / med(ours, "decode_s"),
                "r2_ours": med(ours, "r2"),
                "r2_shapiq": med(base, "r2"),
                "ksii_ours": med(ours, "ksii_err"),
                "ksii_shapiq": med(base, "ksii_err"),
                "mem_ours": med(ours, "peak_mb"),
                "mem_shapiq": med(base, "peak_mb"),
            }
        )
    cols = [
        ("game", "game", ""),
        ("n", "n", "d"),
        ("budget", "budget", "d"),
        ("q_ours", "queries ours", "d"),
        ("q_shapiq", "queries shapiq", ""),
        ("dec_ours", "decode s ours", ".3f"),
        ("dec_shapiq", "decode s shapiq", ".2f"),
        ("speedup", "decode speed-up", ".0f"),
        ("r2_ours", "R² ours", ".4f"),
        ("r2_shapiq", "R² shapiq", ".4f"),
        ("ksii_ours", "k-SII max err ours", ".1e"),
        ("ksii_shapiq", "k-SII max err shapiq", ".1e"),
        ("mem_ours", "peak MB ours", ".0f"),
        ("mem_shapiq", "peak MB shapiq", ".0f"),
    ]
    md = (
        "# SPEX: shapiq-spex vs shapiq 1.8 built-in\n\n"
        f"Machine: {machine()}. Ours: medians over seeds {list(seeds)}; shapiq: seed {seeds[0]} "
        "only (it is slow). Both with their default "
        "(soft) decoders. 'decode s' = wall time of `approximate` minus time inside the game. "
        "R² on 1,000 held-out Bernoulli(1/2) masks against the noiseless game (the model itself "
        "for LightGBM). k-SII error vs the exact order-2 k-SII of the known spectrum. Peak MB = "
        "tracemalloc peak during the call, measured on noiseless cells only (tracing slows "
        "Python loops).\n\n"
        "Command: `python benchmarks/spex_vs_shapiq.py`\n\n"
        "Noiseless cells run with tracemalloc on for both, which slows the built-in's Python loops "
        "more than ours: use the noisy cells for the decoding speed-up.\n\n" + md_table(table, cols)
    )
    write_results("spex_vs_shapiq" + ("_quick" if args.quick else ""), rows, md)
    if not args.ours_only:
        # the tables hold every row now: an old log would mix into the next run's tables
        PARTIAL.unlink(missing_ok=True)
    print(md)


if __name__ == "__main__":
    main()
