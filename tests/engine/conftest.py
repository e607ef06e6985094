"""Fixtures of the engine tests; makes ``engine_games`` importable by worker processes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    # Spawned worker processes copy sys.path, so they can unpickle the games by reference.
    sys.path.insert(0, _HERE)


@pytest.fixture
def coalitions() -> np.ndarray:
    """300 random coalitions on 12 players plus 60 repeated rows, shape (360, 12)."""
    rng = np.random.default_rng(7)
    rows = rng.random((300, 12)) < 0.5
    return np.concatenate([rows, rows[rng.integers(0, 300, 60)]])
