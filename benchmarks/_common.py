"""Shared helpers of the benchmark scripts: timing wrappers, metrics, table writing."""

from __future__ import annotations

import json
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


class TimedGame:
    """Wraps a game to count queries and time spent inside it (the model's share of the run)."""

    def __init__(self, game) -> None:
        self.game = game
        self.n_players = game.n_players
        self.queries = 0
        self.time_s = 0.0

    def __call__(self, coalitions):
        start = time.perf_counter()
        out = self.game(np.asarray(coalitions, dtype=bool))
        self.time_s += time.perf_counter() - start
        self.queries += len(coalitions)
        return out


def run_timed(fn, *, memory: bool = False):
    """Run ``fn()``; return ``(result, wall_s, peak_mb)`` (peak only if ``memory``)."""
    if memory:
        tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - start
    peak = float("nan")
    if memory:
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return out, wall, peak


def r2(truth: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination."""
    return float(1 - np.sum((truth - pred) ** 2) / np.sum((truth - truth.mean()) ** 2))


def holdout_masks(n: int, m: int = 1000, seed: int = 0) -> np.ndarray:
    """The protocol's held-out masks: i.i.d. Bernoulli(1/2), fixed seed, never used for fitting."""
    return np.random.default_rng(seed).random((m, n)) < 0.5


def index_error(truth, est) -> float:
    """Max absolute error over the union of interactions of order >= 1 (missing entries are 0).

    Order 0 is excluded (as in shapiq_benchmark): it is the baseline, the game's own value of the
    empty coalition, which on a noisy game carries that query's noise.
    """
    keys = (set(truth.interactions) | set(est.interactions)) - {()}
    return max(abs(truth[k] - est[k]) for k in keys)


def machine() -> str:
    """One line describing where the numbers were measured."""
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_results(name: str, rows: list[dict], markdown: str) -> None:
    """Write ``results/<name>.jsonl`` (raw rows) and ``results/<name>.md`` (the table)."""
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"{name}.jsonl").open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=float) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)


def md_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Markdown table; ``columns`` = (key, header, format)."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    sep = "| " + " | ".join("---" for _ in columns) + " |"
    lines = [head, sep]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            val = row.get(key)
            if val is None or (isinstance(val, float) and np.isnan(val)):
                cells.append("-")
            elif fmt:
                cells.append(format(val, fmt))
            else:
                cells.append(str(val))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
