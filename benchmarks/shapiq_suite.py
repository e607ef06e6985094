"""shapiq's own benchmark suite (``shapiq_benchmark.run``): shapiq-spex next to shapiq's built-ins.

Games are the setups of :mod:`shapiq_spex.benchmark_setups` (exact ground truth from
``moebius_coefficients`` through shapiq_benchmark's ``MoebiusComputer`` for the synthetic games,
brute force for the 10-word MiniLM review). Every number is shapiq_benchmark's own: ``mse`` over
all interactions of orders 1-2, ``precision_at_k`` (k = 10), ``runtime_s`` of ``approximate``.

Approximators: ours (SPEX, ProxySPEX, HybridSPEX) and shapiq 1.8's SPEX, ProxySPEX with
``hpo=False``, KernelSHAPIQ (k-SII), RegressionFSII (FSII) and SVARMIQ. Cells that are too slow
on a 2-core machine are run on a reduced grid (fewer budgets or seeds) or not at all; the notes of
the table say which. shapiq's default ProxySPEX (``hpo=True``) is not run: 250 s for one run at
n = 64, budget 500 (``benchmarks/results/proxyspex_vs_shapiq.md``).

Usage: ``python benchmarks/shapiq_suite.py [--quick] [--minutes 18] [--out DIR]``
Writes ``benchmarks/results/shapiq_suite.{md,jsonl}`` (``--quick``: a smoke grid written to a
temporary folder unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import shapiq
from _common import RESULTS, machine, md_table
from shapiq_benchmark import Benchmark, run

from shapiq_spex.benchmark_setups import (
    HierarchicalMoebiusSetup,
    MiniLMSentimentSetup,
    SparseFourierSetup,
    approximators,
)


class ShapiqProxySPEXNoHPO(shapiq.ProxySPEX):
    """shapiq's ProxySPEX with ``hpo=False`` (a plain LightGBM), as ``run`` can build it."""

    def __init__(self, n, max_order=2, index="k-SII", random_state=None) -> None:
        super().__init__(
            n=n, max_order=max_order, index=index, random_state=random_state, hpo=False
        )


OURS = approximators(suffix=" (ours)")
SHAPIQ_SPEX = {"SPEX (shapiq)": shapiq.SPEX}
SHAPIQ_PROXY = {"ProxySPEX hpo=False (shapiq)": ShapiqProxySPEXNoHPO}
KSIQ = {"KernelSHAPIQ (shapiq)": shapiq.KernelSHAPIQ}
FSII = {"RegressionFSII (shapiq)": shapiq.RegressionFSII}
SVARMIQ = {"SVARMIQ (shapiq)": shapiq.SVARMIQ}


@dataclass
class Group:
    """One ``shapiq_benchmark.run`` call: a setup, an index, approximators, budgets, seeds."""

    label: str
    setup: object
    index: str
    approximators: dict
    budgets: list[int]
    seeds: list[int]
    slow: bool = False  # run after every fast group, and only while time is left
    note: str = ""
    extra: dict = field(default_factory=dict)


def groups(quick: bool) -> tuple[list[Group], list[str]]:
    """The grid, and the notes on what is left out."""
    if quick:
        small = HierarchicalMoebiusSetup(n=40, n_terms=10, max_degree=3)
        return [
            Group("hier", small, "k-SII", {**OURS, **KSIQ, **SHAPIQ_PROXY}, [1000], [0]),
            Group("hier", small, "FSII", {**OURS, **FSII}, [1000], [0]),
        ], ["quick smoke grid"]
    h40 = HierarchicalMoebiusSetup(n=40)
    h200 = HierarchicalMoebiusSetup(n=200)
    f40 = SparseFourierSetup(n=40, n_terms=30, max_degree=3)
    text = MiniLMSentimentSetup()
    full, two = [1000, 3000, 10000], [0, 1]
    grid = [
        Group("hier", h40, "k-SII", {**OURS, **KSIQ, **SHAPIQ_PROXY}, full, two),
        Group("hier", h40, "FSII", {**OURS, **FSII, **SHAPIQ_PROXY}, full, [0]),
        Group("hier", h200, "k-SII", {**OURS, **SHAPIQ_PROXY}, full, two),
        Group("hier", h200, "FSII", {**OURS, **SHAPIQ_PROXY}, full, [0]),
        Group("parity", f40, "k-SII", {**OURS, **KSIQ, **SHAPIQ_PROXY}, full, [0]),
        Group("minilm", text, "k-SII", {**OURS, **KSIQ, **SHAPIQ_PROXY}, [300, 1000], [0]),
        # shapiq's SPEX: seconds per run on a quiet machine, minutes under load (and its
        # first run compiles numba code), so it runs after everything else, while time is left
        Group("hier", h40, "k-SII", SHAPIQ_SPEX, full, two, slow=True),
        Group("hier", h40, "FSII", SHAPIQ_SPEX, full, [0], slow=True),
        Group("hier", h200, "k-SII", SHAPIQ_SPEX, full, two, slow=True),
        Group("hier", h200, "FSII", SHAPIQ_SPEX, full, [0], slow=True),
        Group("parity", f40, "k-SII", SHAPIQ_SPEX, full, [0], slow=True),
        Group("minilm", text, "k-SII", SHAPIQ_SPEX, [300, 1000], [0], slow=True),
        Group("hier", h40, "k-SII", SVARMIQ, [1000, 3000], [0], slow=True),
    ]
    notes = [
        "shapiq's default ProxySPEX (hpo=True) is not run: 250 s for one run at n=64, budget 500 "
        "(benchmarks/results/proxyspex_vs_shapiq.md).",
        "KernelSHAPIQ and RegressionFSII are not run at n=200: one run at budget 1000 did not "
        "finish in 300 s (a regression over all C(200, <=2) = 20,101 interactions).",
        "SVARMIQ runs only at n=40, k-SII, seed 0, budgets 1000 and 3000 (30-75 s per run in a "
        "probe, growing with n and budget).",
        "hier = spex_hierarchical_moebius (20 top terms of degree <= 4, all subsets, decay 0.5, "
        "noiseless); parity = spex_sparse_fourier (30 terms, degree <= 3); minilm = "
        "spex_minilm_sentiment on 'An uneven film, but the cast is wonderful.' (10 words, brute "
        "force ground truth, 1,024 model calls).",
    ]
    return grid, notes


def summarize(rows: list[dict]) -> list[dict]:
    """Median over seeds per (game, n, index, approximator, budget)."""
    frame = pd.DataFrame(rows)
    out = []
    keys = ["label", "n_players", "index", "approximator", "budget"]
    cells = list(
        dict.fromkeys(zip(frame["label"], frame["n_players"], frame["index"], strict=True))
    )
    names = list(dict.fromkeys([*OURS, *SHAPIQ_SPEX, *SHAPIQ_PROXY, *KSIQ, *FSII, *SVARMIQ]))
    frame = frame.assign(
        _cell=[
            cells.index(c)
            for c in zip(frame["label"], frame["n_players"], frame["index"], strict=True)
        ],
        _name=[names.index(a) for a in frame["approximator"]],
    ).sort_values(["_cell", "_name", "budget"], kind="stable")
    for key, part in frame.groupby(keys, sort=False):
        ok = part[part["status"] == "ok"]
        row = dict(zip(keys, key, strict=True))
        row["seeds"] = len(part)
        row["status"] = "ok" if len(ok) == len(part) else ",".join(sorted(set(part["status"])))
        for col in ("mse", "precision_at_k", "runtime_s"):
            row[col] = float(ok[col].median()) if len(ok) else math.nan
        errors = part["error"].dropna()
        row["error"] = str(errors.iloc[0])[:80] if len(errors) else ""
        out.append(row)
    return out


def write(rows: list[dict], notes: list[str], out: Path, elapsed: float, command: str) -> None:
    """Write the raw rows (``shapiq_suite.jsonl``) and the table (``shapiq_suite.md``)."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "shapiq_suite.jsonl").open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=str) + "\n")
    table = md_table(
        summarize(rows) if rows else [],
        [
            ("label", "game", ""),
            ("n_players", "n", "d"),
            ("index", "index", ""),
            ("budget", "budget", "d"),
            ("approximator", "approximator", ""),
            ("status", "status", ""),
            ("mse", "mse", ".2e"),
            ("precision_at_k", "precision@10", ".2f"),
            ("runtime_s", "time s", ".2f"),
            ("seeds", "seeds", "d"),
            ("error", "error", ""),
        ],
    )
    text = [
        "# shapiq_benchmark.run: shapiq-spex vs shapiq 1.8 built-ins",
        "",
        f"Machine: {machine()} (shared and loaded: compare times side by side only). "
        f"Wall time of the whole run: {elapsed / 60:.1f} min.",
        "",
        "Metrics are shapiq_benchmark's (`compare`): mse over all interactions of orders 1-2 "
        "(order 0 excluded), precision@10; medians over the seeds listed; time = `runtime_s` "
        "of `approximate` (game time included).",
        "",
        f"Command: `{command}`",
        "",
        *[f"* {note}" for note in notes],
        "",
        table,
    ]
    (out / "shapiq_suite.md").write_text("\n".join(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke grid")
    parser.add_argument("--minutes", type=float, default=18.0, help="no slow group after this")
    parser.add_argument("--out", default=None, help="folder of the results (default: results/)")
    args = parser.parse_args()
    if args.out is not None:
        out = Path(args.out)
    else:
        out = Path(tempfile.mkdtemp(prefix="shapiq_suite_")) if args.quick else RESULTS
    command = "python benchmarks/shapiq_suite.py" + (" --quick" if args.quick else "")
    grid, notes = groups(args.quick)
    ordered = [g for g in grid if not g.slow] + [g for g in grid if g.slow]
    start = time.perf_counter()
    benches: dict[str, Benchmark] = {}
    rows: list[dict] = []
    for group in ordered:
        elapsed = time.perf_counter() - start
        if group.slow and elapsed > 60 * args.minutes:
            notes.append(
                f"not run (time limit): {group.label} {group.index} {list(group.approximators)}"
            )
            continue
        key = group.setup.key
        if key not in benches:
            benches[key] = Benchmark.from_setup(group.setup, cache=False)
        bench = benches[key]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = run(
                bench,
                group.approximators,
                group.budgets,
                index=group.index,
                order=2,
                seeds=group.seeds,
            )
        for row in table.to_dict("records"):
            row["label"] = group.label
            rows.append(
                {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            )
        print(
            f"[{(time.perf_counter() - start) / 60:5.1f} min] {group.label} "
            f"n={bench.game.n_players} {group.index} {list(group.approximators)} "
            f"{group.budgets} seeds={group.seeds}: {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
        write(rows, notes, out, time.perf_counter() - start, command)
    write(rows, notes, out, time.perf_counter() - start, command)
    print((out / "shapiq_suite.md").read_text())


if __name__ == "__main__":
    main()
