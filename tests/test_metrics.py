"""Tests of the benchmark metrics against hand computations and independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapiq import ExactComputer, InteractionValues
from shapiq_benchmark import faithfulness as benchmark_faithfulness

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games import SparseFourierGame, SparseMoebiusGame
from shapiq_spex.metrics import (
    coefficient_error,
    faithfulness_r2,
    holdout_masks,
    index_errors,
    precision_at_k,
    r2_score,
    support_precision_recall,
    surrogate_function,
)
from shapiq_spex.spectra import SparseSpectrum


def iv(values: dict, n: int, index: str = "k-SII", baseline: float = 0.0) -> InteractionValues:
    keys = list(values)
    return InteractionValues(
        values=np.array([values[k] for k in keys], dtype=float),
        index=index,
        max_order=max((len(k) for k in keys), default=0) or 2,
        min_order=0,
        n_players=n,
        interaction_lookup={k: i for i, k in enumerate(keys)},
        baseline_value=baseline,
        estimated=True,
    )


# ------------------------------------------------------------------ R²
def test_r2_score_hand_values():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2_score(y, y) == 1.0
    # residual = 0.25 * 4 = 1, total = 5 -> 0.8
    assert r2_score(y, y + 0.5) == pytest.approx(0.8, abs=1e-15)
    assert r2_score(y, np.full(4, y.mean())) == 0.0
    assert r2_score(y, np.zeros(4)) == pytest.approx(1 - 30 / 5, abs=1e-15)
    assert math.isnan(r2_score(np.ones(3), np.zeros(3)))
    with pytest.raises(InvalidParameterError):
        r2_score(y, y[:3])
    with pytest.raises(InvalidParameterError):
        r2_score([], [])


def test_holdout_masks():
    m = holdout_masks(40, 5000, random_state=3)
    assert m.shape == (5000, 40)
    assert m.dtype == bool
    np.testing.assert_array_equal(m, holdout_masks(40, 5000, random_state=3))
    assert not np.array_equal(m, holdout_masks(40, 5000, random_state=4))
    assert abs(m.mean() - 0.5) < 5 * 0.5 / math.sqrt(m.size)
    np.testing.assert_array_equal(holdout_masks(7), holdout_masks(7, 1000, 0))
    for bad in [{"n": 0}, {"n": 3, "n_masks": 1}, {"n": 3.5}, {"n": 3, "random_state": -2}]:
        with pytest.raises(InvalidParameterError):
            holdout_masks(**bad)


def test_faithfulness_perfect_and_constant_predictors():
    game = SparseFourierGame(60, 20, 4, constant=0.7, random_state=0)
    assert faithfulness_r2(game.spectrum, game) == 1.0
    assert faithfulness_r2(game.moebius_spectrum, game) == pytest.approx(1.0, abs=1e-12)
    assert faithfulness_r2(game.moebius_coefficients, game) == pytest.approx(1.0, abs=1e-12)
    masks = holdout_masks(60, 1000, 0)
    mean = game(masks).mean()
    assert faithfulness_r2(lambda x: np.full(x.shape[0], mean), game) == 0.0
    assert faithfulness_r2(lambda x: np.full(x.shape[0], mean + 1.0), game) < 0.0


def test_faithfulness_matches_hand_computation_and_values_api():
    game = SparseFourierGame(25, 10, 3, random_state=1)
    truncated = game.spectrum.top_k(5)
    masks = holdout_masks(25, 1500, random_state=9)
    y = np.array([game(x[None, :])[0] for x in masks])
    y_hat = np.array([truncated.evaluate(x[None, :])[0] for x in masks])
    expected = 1 - np.sum((y - y_hat) ** 2) / np.sum((y - y.mean()) ** 2)
    got = faithfulness_r2(truncated, game, n_masks=1500, random_state=9)
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0.0 < got < 1.0
    # same masks given explicitly, or the game's values at them, or the spectrum as the game
    assert faithfulness_r2(truncated, game, masks=masks) == pytest.approx(expected, abs=1e-12)
    assert faithfulness_r2(truncated, y, masks=masks) == pytest.approx(expected, abs=1e-12)
    assert faithfulness_r2(truncated, game.spectrum, masks=masks.astype(int)) == pytest.approx(
        expected, abs=1e-12
    )
    assert faithfulness_r2(truncated.evaluate, game, 25, n_masks=1500, random_state=9) == (
        pytest.approx(expected, abs=1e-12)
    )
    # a different seed gives a different held-out set
    assert faithfulness_r2(truncated, game, random_state=10) != got


def test_faithfulness_of_interaction_values_matches_shapiq_benchmark():
    n = 9
    game = SparseMoebiusGame(n, 8, 3, hierarchical=True, constant=0.4, random_state=2)
    exact = ExactComputer(game, n_players=n)
    masks = holdout_masks(n, 800, 1)
    values = game(masks)
    for index, order in [("SV", 1), ("k-SII", 2), ("FSII", 2)]:
        est = exact(index, order)
        ours = faithfulness_r2(est, values, masks=masks)
        ref = benchmark_faithfulness(game, est, sample=(masks, values))
        assert ours == pytest.approx(ref, abs=1e-10), index
    # Fourier index: parity reconstruction of the full Fourier transform is exact
    fourier = exact("Fourier", n)
    assert faithfulness_r2(fourier, values, masks=masks) == pytest.approx(1.0, abs=1e-10)
    # the Möbius transform from ExactComputer too
    assert faithfulness_r2(exact("Moebius", n), values, masks=masks) == pytest.approx(
        1.0, abs=1e-10
    )


def test_surrogate_function_first_order_values():
    est = iv({(): 2.0, (0,): 1.0, (2,): -3.0}, 3, index="SV", baseline=2.0)
    f = surrogate_function(est)
    x = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 1], [0, 0, 1]], dtype=bool)
    np.testing.assert_allclose(f(x), [2.0, 3.0, 0.0, -1.0], atol=1e-15)


def test_faithfulness_bad_inputs():
    game = SparseFourierGame(6, 3, 2, random_state=0)
    masks = holdout_masks(6, 20, 0)
    with pytest.raises(InvalidParameterError):
        faithfulness_r2(game.spectrum, game(masks))  # values without masks
    with pytest.raises(InvalidParameterError):
        faithfulness_r2(game.spectrum, game(masks)[:-1], masks=masks)
    with pytest.raises(InvalidParameterError):
        faithfulness_r2("spectrum", game)
    with pytest.raises(InvalidParameterError):
        faithfulness_r2(game.spectrum, game, masks=np.full((20, 6), 3))
    with pytest.raises(InvalidParameterError):
        faithfulness_r2(game.spectrum, game, masks=masks[0])
    with pytest.raises(InvalidParameterError):
        faithfulness_r2(lambda x: x.sum(1), lambda x: x.sum(1))  # n cannot be inferred


# ------------------------------------------------------------------ coefficients
TRUE = SparseSpectrum.from_dict(6, {(): 1.0, (0,): 2.0, (1, 2): -2.0}, "fourier")
EST = SparseSpectrum.from_dict(6, {(0,): 2.5, (3,): 1.0}, "fourier")


def test_coefficient_error_hand_computation():
    # differences: () 1, (0,) -0.5, (1, 2) -2, (3,) -1 -> sqrt(6.25) / sqrt(9)
    assert coefficient_error(TRUE, EST) == pytest.approx(2.5 / 3.0, abs=1e-15)
    assert coefficient_error(TRUE, EST, include_constant=False) == pytest.approx(
        math.sqrt(5.25) / math.sqrt(8.0), abs=1e-15
    )
    assert coefficient_error(TRUE, TRUE) == 0.0
    # est given in the other basis is converted to the basis of true
    assert coefficient_error(TRUE, TRUE.to_moebius()) == pytest.approx(0.0, abs=1e-14)
    m = TRUE.to_moebius()
    assert coefficient_error(m, EST) == pytest.approx(
        np.linalg.norm(
            [m[k] - EST.to_moebius()[k] for k in set(m.to_dict()) | set(EST.to_moebius().to_dict())]
        )
        / np.linalg.norm(m.coefs),
        abs=1e-14,
    )
    zero = SparseSpectrum.from_dict(6, {}, "fourier")
    assert coefficient_error(zero, zero) == 0.0
    assert coefficient_error(zero, EST) == math.inf
    assert coefficient_error(TRUE, zero) == pytest.approx(1.0, abs=1e-15)


def test_support_precision_recall_constructed():
    # supports without constant: true {(0,), (1, 2)}, est {(0,), (3,)}
    assert support_precision_recall(TRUE, EST) == (0.5, 0.5)
    assert support_precision_recall(TRUE, EST, include_constant=True) == (0.5, 1 / 3)
    est = SparseSpectrum.from_dict(
        6, {(0,): 1.0, (1, 2): 0.05, (3,): 0.05, (4,): 0.01, (2, 1, 5): 0.3}, "fourier"
    )
    assert support_precision_recall(TRUE, est) == (0.4, 1.0)
    assert support_precision_recall(TRUE, est, tol=0.04) == (0.5, 1.0)
    assert support_precision_recall(TRUE, est, tol=0.1) == (0.5, 0.5)
    assert support_precision_recall(TRUE, TRUE.to_moebius()) == pytest.approx((1.0, 1.0))
    empty = SparseSpectrum.from_dict(6, {(): 3.0}, "fourier")
    assert support_precision_recall(TRUE, empty) == (0.0, 0.0)
    assert support_precision_recall(empty, empty) == (1.0, 1.0)
    assert support_precision_recall(empty, EST) == (0.0, 1.0)


def test_game_recovery_metrics_end_to_end():
    game = SparseFourierGame(300, 50, 5, random_state=4)
    noisy = SparseSpectrum(300, game.spectrum.supports, game.spectrum.coefs * 1.01, "fourier")
    assert coefficient_error(game.spectrum, noisy) == pytest.approx(0.01, rel=1e-9)
    assert support_precision_recall(game.spectrum, noisy) == (1.0, 1.0)
    half = game.spectrum.top_k(25, keep_constant=False)
    p, r = support_precision_recall(game.spectrum, half)
    assert (p, r) == (1.0, 0.5)


def test_spectrum_metric_bad_inputs():
    other = SparseSpectrum.from_dict(7, {(0,): 1.0}, "fourier")
    with pytest.raises(InvalidParameterError):
        coefficient_error(TRUE, other)
    with pytest.raises(InvalidParameterError):
        coefficient_error(TRUE, {(0,): 1.0})
    with pytest.raises(InvalidParameterError):
        support_precision_recall(TRUE, EST, tol=-1.0)
    with pytest.raises(InvalidParameterError):
        support_precision_recall(TRUE, other)


# ------------------------------------------------------------------ indices
GT = iv({(): 5.0, (0,): 1.0, (1,): -2.0, (0, 1): 0.5, (2, 3): 3.0}, 4, baseline=5.0)
ES = iv({(): 0.0, (0,): 1.5, (1,): -2.0, (1, 2): 1.0, (2, 3): 2.0}, 4, baseline=0.0)


def test_index_errors_hand_computation():
    # errors: (0,) .5, (1,) 0, (0,1) .5, (2,3) 1, (1,2) 1 -> max 1, mean 3/5
    out = index_errors(GT, ES)
    assert out == {"max_abs": 1.0, "mean_abs": pytest.approx(0.6, abs=1e-15), "n_interactions": 5}
    first = index_errors(GT, ES, orders=[1])
    assert first == {"max_abs": 0.5, "mean_abs": 0.25, "n_interactions": 2}
    with_empty = index_errors(GT, ES, orders=[0, 1])
    assert with_empty["max_abs"] == 5.0
    assert with_empty["n_interactions"] == 3
    assert index_errors(GT, GT) == {"max_abs": 0.0, "mean_abs": 0.0, "n_interactions": 4}
    assert index_errors(GT, ES, orders=[3])["n_interactions"] == 0
    with pytest.raises(InvalidParameterError):
        index_errors(GT, iv({(0,): 1.0}, 4, index="SII"))
    assert index_errors(GT, iv({(0,): 1.0}, 4, index="SII"), check_index=False)["max_abs"] == 3.0
    with pytest.raises(InvalidParameterError):
        index_errors(GT, {(0,): 1.0})
    with pytest.raises(InvalidParameterError):
        index_errors(GT, ES, orders=[-1])


def test_precision_at_k_constructed():
    # gt ranking (no empty set): (2,3) 3, (1,) 2, (0,) 1, (0,1) .5
    # est ranking: (2,3) 2, (1,) 2 (tie, (1,) first by order), (0,) 1.5, (1,2) 1
    assert precision_at_k(GT, ES, 1) == 0.0  # (2,3) vs (1,)
    assert precision_at_k(GT, ES, 2) == 1.0
    assert precision_at_k(GT, ES, 3) == 1.0
    assert precision_at_k(GT, ES, 4) == 0.75
    assert precision_at_k(GT, ES, 10) == 0.75  # denominator: the 4 nonzero true interactions
    assert precision_at_k(GT, ES, 1, orders=[2]) == 1.0
    assert precision_at_k(GT, GT, 3) == 1.0
    assert precision_at_k(iv({(): 1.0, (0,): 0.0}, 4), ES, 3) == 1.0
    with pytest.raises(InvalidParameterError):
        precision_at_k(GT, ES, 0)
    with pytest.raises(InvalidParameterError):
        precision_at_k(GT, ES, 2.0)


def test_index_metrics_on_game_indices():
    game = SparseMoebiusGame(10, 6, 3, hierarchical=True, random_state=3)
    exact = ExactComputer(game, n_players=10)("k-SII", 2)
    perturbed = exact * 1.0
    for k, v in exact.dict_values.items():
        perturbed[k] = v + 0.01 * len(k)
    errs = index_errors(exact, perturbed)
    assert errs["max_abs"] == pytest.approx(0.02, abs=1e-12)
    n1, n2 = len(exact.get_n_order(1).dict_values), len(exact.get_n_order(2).dict_values)
    assert errs["mean_abs"] == pytest.approx((0.01 * n1 + 0.02 * n2) / (n1 + n2), abs=1e-12)
    assert precision_at_k(exact, exact, 5) == 1.0


def test_banzhaf_regression_on_all_coalitions_is_the_banzhaf_value():
    import itertools

    from shapiq_spex.games import SparseMoebiusGame
    from shapiq_spex.metrics import banzhaf_regression
    from shapiq_spex.spectra.indices import to_interaction_values

    n = 6
    game = SparseMoebiusGame(n, 8, 3, random_state=3)
    x = np.array(list(itertools.product([False, True], repeat=n)))
    intercept, phi = banzhaf_regression(x, game(x))
    bv = to_interaction_values(game.moebius_spectrum, "BV", 1)
    np.testing.assert_allclose(phi, [bv[(i,)] for i in range(n)], atol=1e-10)
    # the intercept of the best additive fit is the mean value minus half the slopes
    assert intercept == pytest.approx(game(x).mean() - phi.sum() / 2, abs=1e-10)


def test_banzhaf_regression_bad_input():
    from shapiq_spex.metrics import banzhaf_regression

    x = np.random.default_rng(0).random((10, 4)) < 0.5
    with pytest.raises(InvalidParameterError, match="'values'"):
        banzhaf_regression(x, np.zeros(9))
    with pytest.raises(InvalidParameterError, match="NaN"):
        banzhaf_regression(x, np.full(10, np.nan))
    with pytest.raises(InvalidParameterError, match="fewer than the 5"):
        banzhaf_regression(x[:4], np.zeros(4))
