"""Exact subset selection (MILP, HiGHS) vs greedy and beam search on sparse Möbius spectra.

Part 1 (the target): a random 2,000-term Möbius spectrum on n = 1,000 players (degrees 1–4,
coefficients N(0, 1)) and a hierarchical one of about the same size (every top-level term brings
all its subsets, as LLM interactions do); r = 10; objectives max, min and max_change; remove and
keep mode; MILP vs greedy vs beam (width 8). Times are the best of 3 calls of ``best_subset``
(conversion to the MILP and solution check included).

Part 2 (where the MILP gets hard): the same at more terms per player (denser overlap), with a
20 s limit per solve; the MILP's proven bound and the beam value are reported next to it.

Part 3 (Rem(r)): a removal curve on a noisy hierarchical game (n = 1,000), the true spectrum
standing in for a recovered surrogate, against the marginal choice by Shapley values
(``φ_i = Σ_{S ∋ i} a_S / |S|``), r = 1..10.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/optimize_milp.py``; writes
``benchmarks/results/optimize_milp.md``.
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import scipy

from shapiq_spex.games import SparseMoebiusGame
from shapiq_spex.optimize import best_subset, removal_curve, removal_curve_marginal

RESULTS = Path(__file__).resolve().parent / "results"
R = 10
REPEATS = 3
HARD_LIMIT_S = 20.0
NOTES = """## Notes

* Target (part 1): the exact MILP solves every max / min / max_change case at n = 1,000, about
  2,000 terms, r = 10 in 0.1-0.3 s on one thread (target: under 10 s on 2 cores).
* Greedy and beam search reach the exact optimum on the random spectrum; on the hierarchical
  spectrum in keep mode they miss it by up to 5.8 % (a term pays off only when all its players
  are kept, while its parts alone do not look useful).
* Part 2, n = 1,000 / 10,001 terms / keep: the 20 s limit was overrun (about 205 s) because HiGHS
  (1.12, inside scipy) does not check the time limit in its root cut loop. The answer is still
  reported honestly (optimal = False, beam search returned because it was better, warning
  issued), and `method="auto"` picks beam search for this density.
* Part 3 uses the true spectrum as the surrogate, so "interaction >= marginal" is expected by
  construction here; it checks the pipeline and timings, not the claim on real models.
"""


def timed(fn, repeats: int = REPEATS):
    """``(result of the last call, best wall time in s)``."""
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def score(res, objective: str) -> float:
    """The optimised quantity: f̂ for max, −f̂ for min, |f̂ − reference| for max_change."""
    if objective == "max":
        return res.predicted_value
    if objective == "min":
        return -res.predicted_value
    return abs(res.predicted_change)


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    lines = ["| " + " | ".join(h for _, h in columns) + " |"]
    lines.append("| " + " | ".join("---" for _ in columns) + " |")
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(k, "-")) for k, _ in columns) + " |")
    return "\n".join(lines) + "\n"


def part1() -> tuple[list[dict], dict]:
    spectra = {
        "random": SparseMoebiusGame(
            1000, 2000, 4, coef_distribution="normal", random_state=0
        ).moebius_spectrum,
        "hierarchical": SparseMoebiusGame(
            1000, 310, 4, hierarchical=True, random_state=1
        ).moebius_spectrum,
    }
    sizes = {name: len(s) for name, s in spectra.items()}
    rows = []
    for name, spectrum in spectra.items():
        for mode in ("remove", "keep"):
            for objective in ("max", "min", "max_change"):
                exact, t_exact = timed(
                    lambda s=spectrum, m=mode, o=objective: best_subset(
                        s, R, mode=m, objective=o, method="milp", time_limit=None
                    )
                )
                row = {
                    "spectrum": name,
                    "mode": mode,
                    "objective": objective,
                    "milp_s": f"{t_exact:.3f}",
                    "optimal": exact.optimal,
                    "exact": f"{score(exact, objective):.4f}",
                }
                for method in ("greedy", "beam"):
                    heur, t_heur = timed(
                        lambda s=spectrum, m=mode, o=objective, h=method: best_subset(
                            s, R, mode=m, objective=o, method=h
                        )
                    )
                    gap = 1.0 - score(heur, objective) / score(exact, objective)
                    row[f"{method}_s"] = f"{t_heur:.3f}"
                    row[f"{method}_gap"] = f"{100 * gap:.2f}%"
                rows.append(row)
                print(row, flush=True)
    return rows, sizes


def part2() -> list[dict]:
    cases = [
        (1000, 5000, False),
        (1000, 10000, False),
        (1000, 1400, True),
        (500, 2000, False),
        (300, 2000, False),
        (200, 2000, False),
        (100, 2000, False),
    ]
    rows = []
    for n, n_terms, hierarchical in cases:
        spectrum = SparseMoebiusGame(
            n, n_terms, 4, hierarchical=hierarchical, coef_distribution="normal", random_state=0
        ).moebius_spectrum
        deg_sum = int(spectrum.degrees.sum())
        for mode in ("remove", "keep"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # time limits are reported below
                exact, t_exact = timed(
                    lambda s=spectrum, m=mode: best_subset(
                        s, R, mode=m, objective="max", method="milp", time_limit=HARD_LIMIT_S
                    ),
                    repeats=1,
                )
            auto = best_subset(spectrum, R, mode=mode, objective="max", time_limit=HARD_LIMIT_S)
            beam, t_beam = timed(
                lambda s=spectrum, m=mode: best_subset(s, R, mode=m, objective="max", method="beam")
            )
            row = {
                "n": n,
                "terms": len(spectrum),
                "terms_per_player": f"{deg_sum / n:.1f}",
                "kind": "hierarchical" if hierarchical else "random",
                "mode": mode,
                "milp_s": f"{t_exact:.2f}",
                "optimal": exact.optimal,
                "milp_value": f"{exact.predicted_value:.3f}",
                "returned_by": exact.method,
                "bound": "-" if exact.bound is None else f"{exact.bound:.3f}",
                "beam_value": f"{beam.predicted_value:.3f}",
                "beam_s": f"{t_beam:.3f}",
                "auto": auto.method,
            }
            rows.append(row)
            print(row, flush=True)
    return rows


def part3() -> tuple[list[dict], dict]:
    game = SparseMoebiusGame(
        1000, 310, 4, hierarchical=True, constant=20.0, noise_std=0.05, random_state=2
    )
    spectrum = game.moebius_spectrum
    sup, coefs, deg = spectrum.supports, spectrum.coefs, spectrum.degrees
    shapley = np.zeros(spectrum.n)
    rows_, cols_ = np.nonzero(sup >= 0)
    np.add.at(shapley, sup[rows_, cols_], (coefs / np.maximum(deg, 1))[rows_])
    rs = range(1, R + 1)
    inter, t_inter = timed(lambda: removal_curve(spectrum, game, rs), repeats=1)
    marg, t_marg = timed(lambda: removal_curve_marginal(shapley, game, rs), repeats=1)
    rows = [
        {
            "r": int(r),
            "rem_interaction": f"{a:.3f}",
            "rem_marginal": f"{b:.3f}",
            "interaction_ge_marginal": bool(a >= b),
            "optimal": bool(o),
        }
        for r, a, b, o in zip(inter.rs, inter.rem, marg.rem, inter.optimal, strict=True)
    ]
    info = {
        "terms": len(spectrum),
        "full_value": inter.full_value,
        "t_interaction": t_inter,
        "t_marginal": t_marg,
        "chooser": inter.chooser,
    }
    print(rows, info, flush=True)
    return rows, info


def main() -> None:
    rows1, sizes = part1()
    rows2 = part2()
    rows3, info3 = part3()
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    md = [
        "# Exact subset selection on sparse Möbius spectra: MILP vs greedy vs beam\n",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python "
        f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__} (HiGHS "
        f"via `scipy.optimize.milp`), OMP_NUM_THREADS={threads}. "
        "Script: `benchmarks/optimize_milp.py`.\n",
        "## 1. Target: n = 1,000, about 2,000 terms, degrees 1-4, r = 10\n",
        f"Spectra: random = {sizes['random']} Möbius terms (2,000 random supports + constant, "
        f"N(0, 1) coefficients); hierarchical = {sizes['hierarchical']} terms (310 top-level "
        "terms with all their subsets). Wall times are the best of 3 calls of `best_subset` (no "
        "time limit for the MILP). 'exact' is the optimum of the optimised quantity (f̂ for max, "
        "-f̂ for min, |f̂ - f̂(reference)| for max_change); gap = 1 - heuristic / exact.\n",
        table(
            rows1,
            [
                ("spectrum", "spectrum"),
                ("mode", "mode"),
                ("objective", "objective"),
                ("milp_s", "MILP (s)"),
                ("optimal", "proven optimal"),
                ("exact", "exact value"),
                ("greedy_s", "greedy (s)"),
                ("greedy_gap", "greedy gap"),
                ("beam_s", "beam-8 (s)"),
                ("beam_gap", "beam-8 gap"),
            ],
        ),
        "## 2. Denser overlap: where the MILP stops being easy (objective max, r = 10)\n",
        f"MILP limited to {HARD_LIMIT_S:.0f} s per solve (one run). When it stops early, "
        "`best_subset` compares its incumbent with beam search and returns the better "
        "('returned by'); 'bound' is HiGHS's proven upper bound on f̂. terms/player = Σ|S| / n.\n",
        table(
            rows2,
            [
                ("n", "n"),
                ("terms", "terms"),
                ("terms_per_player", "terms/player"),
                ("kind", "kind"),
                ("mode", "mode"),
                ("milp_s", "MILP (s)"),
                ("optimal", "proven optimal"),
                ("milp_value", "returned f̂"),
                ("returned_by", "returned by"),
                ("bound", "bound"),
                ("beam_value", "beam-8 f̂"),
                ("beam_s", "beam-8 (s)"),
                ("auto", "auto picks"),
            ],
        ),
        "## 3. Rem(r): interaction-chosen vs Shapley-chosen removals\n",
        f"Noisy hierarchical game (n = 1,000, {info3['terms']} terms, constant 20, noise sd 0.05); "
        "the true Möbius spectrum is the surrogate; objective max_change, exactly r removed. "
        f"f(all) = {info3['full_value']:.3f}. Wall time for r = 1..10: interaction "
        f"{info3['t_interaction']:.2f} s ({info3['chooser']}, 20 MILPs), marginal "
        f"{info3['t_marginal']:.3f} s.\n",
        table(
            rows3,
            [
                ("r", "r"),
                ("rem_interaction", "Rem(r) interaction"),
                ("rem_marginal", "Rem(r) Shapley"),
                ("interaction_ge_marginal", "interaction ≥ marginal"),
                ("optimal", "MILP proven optimal"),
            ],
        ),
    ]
    md.append(NOTES)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "optimize_milp.md").write_text("\n".join(md))
    print("wrote", RESULTS / "optimize_milp.md")


if __name__ == "__main__":
    main()
