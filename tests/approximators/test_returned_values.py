"""What ``approximate()`` returns is the surrogate it found (``spectrum_``), for every index.

The games here are noisy, so the surrogate's value at the empty coalition differs from the game's:
returning the game's ``v(∅)`` in place of the surrogate's would shift every prediction rebuilt
from the returned Möbius values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from shapiq_spex import SPEX, HybridSPEX, ProxySPEX
from shapiq_spex.games import SparseFourierGame, SparseMoebiusGame
from shapiq_spex.spectra.indices import SUPPORTED_INDICES, to_interaction_values

N = 12


def _noisy_game(n: int = N):
    return SparseMoebiusGame(n, 8, 3, hierarchical=True, noise_std=0.3, random_state=5)


def _run(method: str, index: str, max_order):
    """One approximation on a noisy game; budgets below ``2^n / 2``: nothing exact or completed."""
    game = _noisy_game()
    if method == "SPEX":
        approx, budget = SPEX(N, max_order, index, random_state=1), 1500
    elif method == "ProxySPEX":
        approx, budget = ProxySPEX(N, max_order, index, random_state=1), 400
    elif method == "HybridSPEX":
        approx, budget = HybridSPEX(N, max_order, index, random_state=1), 1500
    else:  # the exact path: a budget that pays for every coalition
        game = _noisy_game(6)
        approx, budget = SPEX(6, max_order, index, random_state=1), 64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = approx.approximate(budget, game)
    return approx, iv, game


def _random_masks(n: int, m: int = 400, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=(m, n)).astype(bool)


def _rebuild(iv, masks: np.ndarray) -> np.ndarray:
    """The set function the returned values describe (Möbius: AND terms; Fourier: parities)."""
    out = np.zeros(masks.shape[0])
    for key, value in iv.interactions.items():
        cols = masks[:, list(key)]
        if iv.index == "Moebius":
            out += value * cols.all(axis=1)
        else:
            out += value * (-1.0) ** cols.sum(axis=1)
    return out


METHODS = ("SPEX", "ProxySPEX", "HybridSPEX", "exact")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("index", ["Moebius", "Fourier"])
def test_returned_basis_values_rebuild_the_spectrum(method, index):
    approx, iv, game = _run(method, index, None)
    masks = _random_masks(game.n_players)
    expected = approx.spectrum_.predict(masks)
    np.testing.assert_allclose(_rebuild(iv, masks), expected, rtol=0, atol=1e-10)
    if index == "Moebius":  # the surrogate's own constant, not the game's v(∅)
        empty = np.zeros((1, game.n_players), dtype=bool)
        assert iv.baseline_value == pytest.approx(float(approx.spectrum_.predict(empty)[0]))


@pytest.mark.parametrize("method", METHODS[:3])
def test_empty_value_of_the_game_is_reported_not_returned(method):
    approx, iv, game = _run(method, "Moebius", None)
    empty = np.zeros((1, game.n_players), dtype=bool)
    truth = float(game(empty)[0])
    surrogate = float(approx.spectrum_.predict(empty)[0])
    assert approx.report_.empty_value == pytest.approx(truth, abs=1e-12)
    assert iv[()] == pytest.approx(surrogate, abs=1e-10)
    assert iv.baseline_value == pytest.approx(surrogate, abs=1e-10)
    # the test means something only if the two differ (a noisy game)
    assert abs(truth - surrogate) > 1e-6


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("index", [i for i in SUPPORTED_INDICES if i not in ("Moebius", "Fourier")])
def test_game_theoretic_indices_are_the_conversion_of_the_spectrum(method, index):
    order = 1 if index in ("SV", "BV") else 2
    approx, iv, _ = _run(method, index, order)
    expected = to_interaction_values(approx.spectrum_, index, order)
    keys = set(iv.interactions) | set(expected.interactions)
    err = max(abs(iv[k] - expected[k]) for k in keys)
    assert err < 1e-10
    assert iv.baseline_value == pytest.approx(expected.baseline_value, abs=1e-10)
    assert iv.index == expected.index


def test_fourier_game_rebuild_large_offset():
    """A Fourier-sparse game with a large constant: the returned surrogate keeps it."""
    game = SparseFourierGame(16, 10, 2, noise_std=0.2, random_state=2)
    game_offset = lambda X: 1e3 + game(X)  # noqa: E731
    approx = ProxySPEX(16, None, "Fourier", random_state=0)
    iv = approx.approximate(600, game_offset)
    masks = _random_masks(16)
    np.testing.assert_allclose(_rebuild(iv, masks), approx.spectrum_.predict(masks), atol=1e-10)
