"""SPEX says when its design cannot resolve a game, and returns the best of its candidate fits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from shapiq_spex.approximators.spex import (
    PAIRS_COLUMNS,
    PAIRS_MAX_WORK,
    RESOLVED_SHARE,
    SPEX,
    pairwise_columns,
)
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
    assert details["holdout_r2_pairs"] is None  # a resolved game never pays for the pairwise fit
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


def check_returned_is_the_best_candidate(approx, iv, n):
    """The returned candidate has the top held-out R², and the values rebuild ``spectrum_``."""
    details = approx.report_.details
    held_out = {
        k: details[f"holdout_r2_{k}"]
        for k in ("spex", "linear", "pairs")
        if details[f"holdout_r2_{k}"] is not None
    }
    assert details["returned"] in held_out
    assert held_out[details["returned"]] == max(held_out.values())
    assert approx.report_.faithfulness_r2 == pytest.approx(held_out[details["returned"]])
    X = np.random.default_rng(7).random((500, n)) < 0.5
    np.testing.assert_allclose(rebuild(iv, n, X), approx.spectrum_.evaluate(X), atol=1e-10)


def test_hierarchical_game_at_small_budget_is_unresolved_and_the_best_fit_is_returned():
    n = 30
    game = SparseMoebiusGame(n, 20, 5, hierarchical=True, random_state=1)
    approx, iv, decoding = run(game, n, 1000, seed=0)
    details = approx.report_.details
    assert details["resolved"] is False
    assert details["holdout_r2_spex"] > details["holdout_r2_linear"]
    # unresolved: the pairwise fit is made, and here it predicts the held-out rows best
    assert details["holdout_r2_pairs"] > details["holdout_r2_spex"]
    assert details["returned"] == "pairs"
    assert "singletons and pairs" in details["unresolved_reason"]
    assert len(decoding) == 1
    check_returned_is_the_best_candidate(approx, iv, n)


def test_pairwise_fit_recovers_a_dense_pairwise_game_spex_cannot_peel():
    # 150 pair terms over 30 players: far more than SPEX's bins at 1,000 queries separate, and
    # all 435 pairs fit the pairwise fit's columns: it recovers the game (Möbius degree <= 2)
    n = 30
    game = SparseMoebiusGame(n, 150, 2, random_state=4)
    approx, iv, _ = run(game, n, 1000, seed=0)
    details = approx.report_.details
    assert details["resolved"] is False
    assert details["returned"] == "pairs"
    assert approx.spectrum_.max_degree <= 2
    assert all(len(k) <= 2 for k in iv.dict_values)
    assert details["holdout_r2_pairs"] > 0.999
    assert details["holdout_r2_pairs"] > max(
        details["holdout_r2_spex"], details["holdout_r2_linear"]
    )
    check_returned_is_the_best_candidate(approx, iv, n)
    X = np.random.default_rng(3).random((1000, n)) < 0.5
    truth = game.moebius_spectrum.evaluate(X)
    np.testing.assert_allclose(approx.spectrum_.evaluate(X), truth, atol=1e-6)
    _, iv2, _ = run(game, n, 1000, seed=0)  # the folds are seeded: the same values
    np.testing.assert_array_equal(iv2.values, iv.values)


def test_linear_fallback_fires_and_the_returned_values_are_the_linear_fit():
    # seed 1 on this dense game: the peeled spectrum's held-out R² (0.008) is below linear LS's;
    # max_memory leaves no room for the pairwise fit, so linear LS is the only other candidate
    n = 30
    game = SparseFourierGame(n, 600, 4, random_state=1)
    memory = SPEX(n, None, "Moebius").planned_bytes(1000) + 10_000
    approx = SPEX(n, None, "Moebius", random_state=1, max_memory=memory)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iv = approx.approximate(1000, game)
    decoding = [w for w in caught if issubclass(w.category, DecodingWarning)]
    # what is returned is the first-order surrogate: constant and singletons only (without the
    # fallback, the refitted spectrum with its peeled terms of degree 4 comes back)
    assert approx.spectrum_.max_degree <= 1
    assert len(approx.spectrum_) <= n + 1
    assert all(len(k) <= 1 for k in iv.dict_values)
    report = approx.report_
    details = report.details
    assert details["holdout_r2_pairs"] is None
    assert "max_memory" in details["pairs_skipped"]
    assert details["returned"] == "linear"
    assert details["holdout_r2_linear"] > details["holdout_r2_spex"]
    assert "first-order least squares" in details["unresolved_reason"]
    assert len(decoding) == 1
    check_returned_is_the_best_candidate(approx, iv, n)


def test_exact_path_reports_resolved():
    n = 8
    game = SparseMoebiusGame(n, 5, 3, random_state=0)
    approx, _, decoding = run(game, n, 2**n, seed=0)
    assert approx.report_.details["exact"] is True
    assert approx.report_.details["resolved"] is True
    assert decoding == []


@pytest.mark.parametrize(
    ("n", "queries", "expected"),
    [(30, 1000, PAIRS_COLUMNS), (250, 4000, 1089), (1000, 2000, 1224), (1000, 4000, 0)],
)
def test_pairwise_columns_follow_the_work_cap(n, queries, expected):
    columns, why = pairwise_columns(SPEX(n, 2), queries)
    assert columns == expected
    # the work of the fit stays within the cap whenever it is made
    assert queries * (n * n + columns * columns) <= PAIRS_MAX_WORK or columns == 0
    assert (why is None) == (columns > 0)
    if columns == 0:
        assert "PAIRS_MAX_WORK" in why


def test_pairwise_columns_follow_max_memory():
    approx = SPEX(30, 2, max_memory=SPEX(30, 2).planned_bytes(1000) + 10_000)
    columns, why = pairwise_columns(approx, 1000)
    assert columns == 0
    assert "max_memory" in why
