from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapiq

from shapiq_spex import HybridSPEX, ProxySPEX
from shapiq_spex.approximators.spex import SPEX
from shapiq_spex.exceptions import (
    BudgetTooSmallError,
    DecodingWarning,
    InvalidGameError,
    InvalidParameterError,
)
from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra.indices import SUPPORTED_INDICES, to_interaction_values


def random_terms(n, n_terms, max_degree, seed, *, min_degree=1):
    rng = np.random.default_rng(seed)
    terms = {(): float(rng.normal())}
    while len(terms) < n_terms + 1:
        deg = int(rng.integers(min_degree, max_degree + 1))
        key = tuple(sorted(rng.choice(n, deg, replace=False).tolist()))
        terms[key] = float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.0))
    return terms


class CountingGame:
    """A sparse Fourier game that counts its evaluations (optionally with noise)."""

    def __init__(self, n, terms, noise=0.0, seed=0):
        self.n_players = n
        self.spectrum = SparseSpectrum.from_dict(n, terms)
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.calls = 0

    def __call__(self, X):
        self.calls += X.shape[0]
        y = self.spectrum.evaluate(X)
        if self.noise:
            y = y + self.noise * self.rng.standard_normal(y.shape[0])
        return y


@pytest.mark.parametrize("index", SUPPORTED_INDICES)
def test_every_index_exact_on_noiseless_game(index, exact_values):
    n = 12
    game = CountingGame(n, random_terms(n, 12, 3, seed=1))
    order = 1 if index in ("SV", "BV") else 3
    approx = SPEX(n, order, index, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = approx.approximate(4000, game)
    truth = exact_values(game.spectrum.evaluate, n, index, order)
    truth_dict = dict(truth.interactions)
    if index == "Moebius":
        truth_dict = {k: v for k, v in truth_dict.items() if len(k) <= order}
    keys = set(truth_dict) | set(iv.interactions)
    err = max(abs(truth_dict.get(k, 0.0) - iv[k]) for k in keys)
    assert err < 1e-8
    assert iv.index == truth.index
    assert () in iv.interactions
    assert iv.estimation_budget == game.calls <= 4000


def test_exact_recovery_at_n_1000():
    n = 1000
    terms = random_terms(n, 100, 3, seed=2)
    game = CountingGame(n, terms)
    approx = SPEX(n, 2, "k-SII", random_state=3)
    approx.approximate(40_000, game)
    est = approx.spectrum_.to_dict()
    keys = set(est) | set(terms)
    diff = np.sqrt(sum((est.get(k, 0.0) - terms.get(k, 0.0)) ** 2 for k in keys))
    norm = np.sqrt(sum(v * v for v in terms.values()))
    assert diff / norm < 1e-6
    assert game.calls <= 40_000
    assert approx.report_.faithfulness_r2 == pytest.approx(1.0, abs=1e-9)
    # the peeled support is the true support (plus nothing spurious beyond zeroed singletons)
    big = {k for k, v in est.items() if abs(v) > 1e-6}
    assert big == set(terms)


def test_noisy_parity_game_high_faithfulness():
    n = 128
    game = CountingGame(n, random_terms(n, 60, 4, seed=4), noise=0.2, seed=5)
    approx = SPEX(n, 2, "k-SII", random_state=0)
    approx.approximate(12_000, game)
    X = np.random.default_rng(9).random((1000, n)) < 0.5
    truth = game.spectrum.evaluate(X)
    pred = approx.spectrum_.predict(X)
    r2 = 1 - np.sum((truth - pred) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert r2 > 0.99
    assert approx.report_.faithfulness_r2 > 0.9  # against noisy held-out values


def test_result_matches_conversion_of_its_spectrum():
    n = 30
    game = CountingGame(n, random_terms(n, 20, 3, seed=6))
    approx = SPEX(n, 2, "STII", random_state=1)
    iv = approx.approximate(6000, game)
    again = to_interaction_values(approx.spectrum_, "STII", 2, baseline_value=iv.baseline_value)
    assert iv.interactions.keys() == again.interactions.keys()
    for k in iv.interactions:
        assert iv[k] == pytest.approx(again[k], abs=1e-12)


def test_reproducible_and_seed_dependent():
    n = 64
    terms = random_terms(n, 30, 3, seed=7)
    runs = []
    for seed in (11, 11, 12):
        game = CountingGame(n, terms, noise=0.1, seed=0)
        iv = SPEX(n, 2, "k-SII", random_state=seed).approximate(5000, game)
        runs.append(iv)
    assert runs[0].interactions == runs[1].interactions
    assert runs[0].interactions != runs[2].interactions


def test_same_instance_twice_is_identical():
    n = 40
    terms = random_terms(n, 15, 3, seed=8)
    approx = SPEX(n, 2, "FBII", random_state=5)
    a = approx.approximate(3000, CountingGame(n, terms))
    b = approx.approximate(3000, CountingGame(n, terms))
    assert a.interactions == b.interactions


def test_top_order_and_no_cap():
    n = 20
    game = CountingGame(n, random_terms(n, 10, 4, seed=9))
    iv = SPEX(n, 2, "k-SII", top_order=True, random_state=0).approximate(5000, game)
    assert {len(k) for k in iv.interactions} <= {0, 2}
    assert () in iv.interactions
    game2 = CountingGame(n, random_terms(n, 10, 4, seed=9))
    full = SPEX(n, None, "Moebius", random_state=0).approximate(5000, game2)
    assert max(len(k) for k in full.interactions) == 4
    truth = game2.spectrum.to_moebius().to_dict()
    for k, v in truth.items():
        assert full[k] == pytest.approx(v, abs=1e-8)


def test_only_shapiq_keywords_and_explainer():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 12))
    y = X[:, 0] * X[:, 1] + X[:, 2]
    model = LinearRegression().fit(X, y)
    approx = SPEX(n=12, max_order=2, index="k-SII", random_state=0)
    explainer = shapiq.TabularExplainer(
        model.predict, X[:50], approximator=approx, index="k-SII", max_order=2, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = explainer.explain(X[0], budget=3000)
    assert iv.index == "k-SII"
    assert () in iv.interactions


def test_budget_too_small_names_minimum():
    approx = SPEX(100, 2, "k-SII")
    minimum = approx.min_budget()
    with pytest.raises(BudgetTooSmallError, match=str(minimum)):
        approx.approximate(minimum - 1, CountingGame(100, {(): 1.0}))
    game = CountingGame(100, {(): 1.0, (3,): 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        approx.approximate(minimum, game)
    assert game.calls <= minimum


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (lambda X: np.full(X.shape[0], np.nan), "non-finite"),
        (lambda X: np.where(X[:, 0], np.inf, 0.0), "non-finite"),
        (lambda X: np.zeros((X.shape[0], 2)), "shape"),
        (lambda X: np.zeros(X.shape[0] + 1), "shape"),
    ],
)
def test_bad_game_values(values, match):
    with pytest.raises(InvalidGameError, match=match):
        SPEX(12, 2, "k-SII", random_state=0).approximate(3000, values)


def test_n_mismatch():
    with pytest.raises(InvalidGameError, match="n_players"):
        SPEX(12, 2, "k-SII").approximate(3000, CountingGame(13, {(): 1.0}))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "'n'"),
        ({"n": 8, "index": "Shapley"}, "'index'"),
        ({"n": 8, "max_order": 0}, "'max_order'"),
        ({"n": 8, "max_order": 9}, "'max_order'"),
        ({"n": 8, "decoder": "magic"}, "'decoder'"),
        ({"n": 8, "degree_cap": 0}, "'degree_cap'"),
        ({"n": 8, "singleton_cutoff": 1.5}, "'singleton_cutoff'"),
        ({"n": 8, "max_order": "recovered", "top_order": True}, "'top_order'"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        SPEX(**kwargs)


def test_bad_budget_type():
    with pytest.raises(InvalidParameterError, match="'budget'"):
        SPEX(8).approximate(1000.5, CountingGame(8, {(): 1.0}))


@pytest.mark.parametrize(("n", "budget"), [(128, 3000), (256, 4000)])
def test_values_do_not_depend_on_the_blas_thread_count(n, budget):
    """The refit's BLAS runs on one thread: one seed, the same values on any machine."""
    from threadpoolctl import threadpool_limits

    from shapiq_spex.games import SparseFourierGame

    game = SparseFourierGame(n, 40, 3, noise_std=0.3, random_state=1)
    runs = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unresolved run warns; both must agree anyway
            runs.append(SPEX(n, 2, "k-SII", random_state=0).approximate(budget, game))
    np.testing.assert_array_equal(runs[1].values, runs[0].values)
    assert runs[1].interaction_lookup == runs[0].interaction_lookup


def test_design_leaves_room_for_a_holdout():
    # at n = 166 and 1,000 queries the degree-5 design takes 984, which would leave 8 random
    # coalitions (4 held out): the cap is lowered to 4 so that 104 are held out
    from shapiq_spex.approximators.spex import HOLDOUT_TARGET

    n = 166
    game = CountingGame(n, random_terms(n, 10, 2, seed=3))
    approx = SPEX(n, 2, "Moebius", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        approx.approximate(1000, game)
    d = approx.report_.details
    assert d["degree_cap"] == 4
    assert approx.report_.n_holdout >= HOLDOUT_TARGET
    assert d["design_queries"] + d["extra_queries"] + approx.report_.n_holdout == game.calls == 1000
    assert approx.report_.faithfulness_r2 == pytest.approx(1.0, abs=1e-10)


def test_few_held_out_coalitions_are_warned_about():
    from shapiq_spex.approximators.spex import HOLDOUT_WARN

    n = 128
    approx = SPEX(n, 2, "Moebius", degree_cap=2, random_state=0)
    budget = approx.min_budget() + 10  # nothing can shrink the smallest design
    game = CountingGame(n, random_terms(n, 3, 2, seed=1))
    with pytest.warns(DecodingWarning) as caught:
        approx.approximate(budget, game)
    assert approx.report_.n_holdout == 5 < HOLDOUT_WARN
    messages = [str(w.message) for w in caught if "held-out coalitions, so" in str(w.message)]
    assert len(messages) == 1
    assert "only 5 held-out" in messages[0]
    assert "Raise the budget by at least 30" in messages[0]


@pytest.mark.parametrize("terms_seed", [0, 1])
def test_returned_support_is_refitted_on_every_queried_coalition(terms_seed):
    from shapiq_spex.spectra.regression import refit

    n = 40
    game = CountingGame(n, random_terms(n, 12, 3, seed=terms_seed), noise=0.3, seed=terms_seed)
    seen_masks, seen_values = [], []

    def recording(X):
        y = game(X)
        seen_masks.append(X.copy())
        seen_values.append(y)
        return y

    recording.n_players = n
    # plain least squares: unlike a ridge penalty, it commutes with the caller's affine
    # standardisation of the values, so the refit can be redone here in the game's units
    approx = SPEX(n, 2, "Fourier", random_state=0, refit="ls")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecodingWarning)
        approx.approximate(1500, recording)
    X, y = np.concatenate(seen_masks), np.concatenate(seen_values)
    spec = approx.spectrum_
    h = approx.report_.n_holdout
    assert h >= 50
    on_all = refit(X, y, spec.supports, "fourier", alpha=0.0).coefs
    np.testing.assert_allclose(spec.coefs, on_all, rtol=0, atol=1e-10)
    without_holdout = refit(X[:-h], y[:-h], spec.supports, "fourier", alpha=0.0).coefs
    assert np.abs(without_holdout - on_all).max() > 1e-4


def test_holdout_max_zero_holds_nothing_out_and_does_not_warn_about_it():
    n = 40
    game = CountingGame(n, random_terms(n, 8, 2, seed=2))
    approx = SPEX(n, 2, "Moebius", random_state=0, holdout_max=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        approx.approximate(1000, game)
    assert approx.report_.n_holdout == 0
    assert np.isnan(approx.report_.faithfulness_r2)
    assert game.calls == 1000


@pytest.mark.parametrize("cls", [SPEX, HybridSPEX])
@pytest.mark.parametrize("n", [4, 6, 8])
def test_min_budget_is_the_exact_path_when_it_is_cheaper(cls, n):
    """At n <= 8 the 2**n queries of the exact path cost less than SPEX's smallest design."""
    approx = cls(n, 2, "k-SII", random_state=0)
    assert approx.min_budget() == 2**n
    game = CountingGame(n, {(): 1.0, (0, 1): 2.0, (2,): -1.0})
    approx.approximate(approx.min_budget(), game)  # the minimum itself works
    assert approx.report_.details["exact"] is True
    with pytest.raises(BudgetTooSmallError, match=rf">= {2**n}\b.*exact|exact.*>= {2**n}\b"):
        approx.approximate(2**n - 1, game)
    # a tight max_memory rules the exact path out: the design's minimum again
    tight = cls(n, 2, "k-SII", max_memory=1)
    assert tight.min_budget() > 2**n


@pytest.mark.parametrize("cls", [SPEX, HybridSPEX, ProxySPEX])
@pytest.mark.parametrize("budget", [0, -5, 1])
def test_a_budget_below_one_names_the_real_minimum(cls, budget):
    """0 or a negative budget was told to raise it to >= 1, which is refused next."""
    approx = cls(12, 2, "k-SII", random_state=0)
    game = CountingGame(12, {(): 1.0, (0, 1): 2.0})
    with pytest.raises(BudgetTooSmallError, match=rf"Got {budget}\. Raise the budget to >= "
                                                  rf"{approx.min_budget()}\b"):  # fmt: skip
        approx.approximate(budget, game)
    assert game.calls == 0
