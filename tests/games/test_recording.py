from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games import RecordingGame, SparseMoebiusGame


def test_records_every_coalition_in_order_and_returns_the_values():
    game = SparseMoebiusGame(11, 6, 3, random_state=0)
    rec = RecordingGame(game)
    rng = np.random.default_rng(0)
    first, second = rng.random((5, 11)) < 0.5, rng.random((3, 11)) < 0.5
    out = rec(first)
    np.testing.assert_array_equal(out, game(first))
    rec(second.astype(int))  # 0/1 integers are coalitions too
    assert rec.queries == 8
    np.testing.assert_array_equal(rec.masks, np.concatenate([first, second]))
    np.testing.assert_allclose(rec.values, game(np.concatenate([first, second])))
    assert rec.time_s > 0.0


def test_empty_and_bad_input():
    rec = RecordingGame(lambda x: np.zeros(len(x)), n_players=4)
    assert rec.masks.shape == (0, 4)
    assert rec.values.shape == (0,)
    with pytest.raises(InvalidParameterError, match="'coalitions'"):
        rec(np.zeros((2, 5), dtype=bool))
    with pytest.raises(InvalidParameterError, match="n_players"):
        RecordingGame(lambda x: x)
