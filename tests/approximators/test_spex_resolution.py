"""SPEX says when its design cannot resolve a game, and never returns worse than linear LS."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from shapiq_spex.approximators.spex import RESOLVED_SHARE, SPEX
from shapiq_spex.exceptions import DecodingWarning
from shapiq_spex.games import SparseFourierGame, SparseMoebiusGame
from shapiq_spex.spectra import SparseSpectrum


def run(game, n, budget, seed):
    approx = SPEX(n, None, "Moebius", random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iv = approx.approximate(budget, game)
    decoding = [w for w in caught if issubclass(w.category, DecodingWarning)]
    return approx, iv, decoding


def rebuild(iv, n, coalitions):
    """Predictions of Möbius ``InteractionValues`` with the constant from ``baseline_value``."""
    terms = {tuple(int(i) for i in k): float(v) for k, v in iv.dict_values.items()}
    terms[()] = float(iv.baseline_value)
    return SparseSpectrum.from_dict(n, terms, basis="moebius").evaluate(coalitions)


def test_sparse_low_degree_game_is_resolved_without_warning():
    n = 20
    game = SparseMoebiusGame(n, 20, 3, random_state=1)
    approx, _, decoding = run(game, n, 2000, seed=0)
    details = approx.report_.details
    assert details["resolved"] is True
    assert details["unresolved_reason"] is None
    assert details["returned"] == "spex"
    assert details["unexplained_share"] < 1e-6
    assert approx.report_.faithfulness_r2 == pytest.approx(1.0, abs=1e-9)
    assert decoding == []


def test_linear_game_is_resolved_and_spex_kept():
    # a purely additive game: linear LS and SPEX tie, SPEX's own spectrum is returned
    n = 30
    game = SparseFourierGame(n, 10, 1, random_state=2)
    approx, _, decoding = run(game, n, 1000, seed=0)
    assert approx.report_.details["resolved"] is True
    assert approx.report_.details["returned"] == "spex"
    assert decoding == []


@pytest.mark.parametrize("seed", [0, 1])
def test_dense_high_degree_game_is_reported_unresolved(seed):
    # 600 Fourier terms up to degree 4 over n = 30 cannot be separated by SPEX's 8 bins at 1,000
    n = 30
    game = SparseFourierGame(n, 600, 4, random_state=1)
    approx, _, decoding = run(game, n, 1000, seed=seed)
    details = approx.report_.details
    assert details["resolved"] is False
    assert details["unexplained_share"] > RESOLVED_SHARE
    reason = details["unresolved_reason"]
    assert "did not resolve" in reason
    assert "Raise the budget to at least" in reason
    assert "ProxySPEX" in reason
    assert len(decoding) == 1
    assert str(decoding[0].message) == reason
    # the suggested budget buys at least twice the bins
    target = int(reason.split("Raise the budget to at least ")[1].split(",")[0])
    assert target >= 2 * details["design_queries"]


def test_hierarchical_game_at_small_budget_is_unresolved_but_better_than_linear():
    n = 30
    game = SparseMoebiusGame(n, 20, 5, hierarchical=True, random_state=1)
    approx, _, decoding = run(game, n, 1000, seed=0)
    details = approx.report_.details
    assert details["resolved"] is False
    assert details["returned"] == "spex"
    assert details["holdout_r2_spex"] > details["holdout_r2_linear"]
    assert "linear fit is returned" not in details["unresolved_reason"]
    assert len(decoding) == 1


def test_linear_fallback_fires_and_the_returned_values_are_the_linear_fit():
    # seed 1 on this dense game: the peeled spectrum's held-out R² (0.008) is below linear LS's
    n = 30
    game = SparseFourierGame(n, 600, 4, random_state=1)
    approx, iv, decoding = run(game, n, 1000, seed=1)
    # what is returned is the first-order surrogate: constant and singletons only (without the
    # fallback, the refitted spectrum with its peeled terms of degree 4 comes back)
    assert approx.spectrum_.max_degree <= 1
    assert len(approx.spectrum_) <= n + 1
    assert all(len(k) <= 1 for k in iv.dict_values)
    rng = np.random.default_rng(7)
    X = rng.random((500, n)) < 0.5
    np.testing.assert_allclose(rebuild(iv, n, X), approx.spectrum_.evaluate(X), atol=1e-10)
    report = approx.report_
    details = report.details
    assert details["returned"] == "linear"
    assert details["holdout_r2_linear"] > details["holdout_r2_spex"]
    assert "linear fit is returned" in details["unresolved_reason"]
    assert len(decoding) == 1
    # and the reported R² is the held-out R² of what is returned, the better of the two
    assert report.faithfulness_r2 == pytest.approx(details["holdout_r2_linear"], abs=1e-12)
    assert report.faithfulness_r2 >= details["holdout_r2_spex"]


def test_exact_path_reports_resolved():
    n = 8
    game = SparseMoebiusGame(n, 5, 3, random_state=0)
    approx, _, decoding = run(game, n, 2**n, seed=0)
    assert approx.report_.details["exact"] is True
    assert approx.report_.details["resolved"] is True
    assert decoding == []
