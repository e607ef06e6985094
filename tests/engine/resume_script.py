"""Evaluate a slow logging game through a cached QueryEngine (run by test_engine_resume.py).

Usage: python resume_script.py CACHE_PATH LOG_PATH OUT_PATH
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_games import LoggingGame

from shapiq_spex.engine import QueryEngine

N_PLAYERS = 16
BATCH_SIZE = 8
DELAY_S = 0.03


def resume_coalitions() -> np.ndarray:
    """240 distinct random coalitions plus 40 repeats, shape (280, 16)."""
    rng = np.random.default_rng(11)
    rows = np.unique(rng.random((260, N_PLAYERS)) < 0.5, axis=0)[:240]
    rows = rows[rng.permutation(len(rows))]
    return np.concatenate([rows, rows[rng.integers(0, len(rows), 40)]])


def main(cache: str, log: str, out: str) -> None:
    game = LoggingGame(N_PLAYERS, log, DELAY_S, seed=5)
    with QueryEngine(game, cache=cache, batch_size=BATCH_SIZE, progress=False) as engine:
        values = engine(resume_coalitions())
    np.save(out, values)


if __name__ == "__main__":
    main(*sys.argv[1:4])
