from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapiq

from shapiq_spex.approximators.hybrid import HybridSPEX
from shapiq_spex.approximators.proxyspex import EXACT_SELECTION, ProxySPEX
from shapiq_spex.approximators.spex import SPEX
from shapiq_spex.exceptions import (
    BudgetTooSmallError,
    DecodingWarning,
    InvalidGameError,
    InvalidParameterError,
)
from shapiq_spex.games import SparseFourierGame, SparseMoebiusGame
from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra.indices import SUPPORTED_INDICES, to_interaction_values


class Counting:
    """Wraps a game and counts evaluated coalitions."""

    def __init__(self, game):
        self.game = game
        self.n_players = game.n_players
        self.calls = 0

    def __call__(self, X):
        self.calls += X.shape[0]
        return self.game(X)


def fresh_r2(spectrum, game, n, seed=123, m=3000):
    X = np.random.default_rng(seed).integers(0, 2, size=(m, n)).astype(bool)
    y = game.noiseless_values(X)
    return 1.0 - ((spectrum.evaluate(X) - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()


@pytest.fixture(scope="module")
def hierarchical():
    """Noiseless hierarchical Möbius game and one ProxySPEX run on it."""
    n = 24
    game = SparseMoebiusGame(n, 6, 3, hierarchical=True, random_state=3)
    approx = ProxySPEX(n, 3, "Moebius", random_state=0)
    iv = approx.approximate(800, game)
    return n, game, approx, iv


def test_noiseless_hierarchical_game_is_recovered(hierarchical):
    n, game, approx, iv = hierarchical
    assert approx.report_.faithfulness_r2 >= 0.99
    assert fresh_r2(approx.spectrum_, game, n) >= 0.99
    truth = game.moebius_spectrum.to_dict()
    for key, coef in truth.items():  # exact recovery: Möbius values match to solver accuracy
        assert iv[key] == pytest.approx(coef, abs=1e-6)
    assert approx.report_.queries <= 800
    assert approx.report_.n_holdout == 0  # the reported R² is the validation rows' (see below)
    d = approx.report_.details
    assert d["faithfulness_source"].endswith("(fitted without them)")
    assert d["n_selected"] >= 0
    assert d["selection_validation_r2"] > 0.99


@pytest.mark.parametrize("seed", [0, 1])
def test_deep_noiseless_terms_are_recovered_exactly(seed):
    """Degree-4 terms with coefficients halving per dropped player (shapiq_suite's 'hier' game):
    the L1 path stops short of the smallest ones, the refitted selection is exact and returned.
    """
    n = 40
    game = SparseMoebiusGame(n, 20, 4, hierarchical=True, decay=0.5, random_state=0)
    approx = ProxySPEX(n, 2, "k-SII", random_state=seed)
    approx.approximate(1000, game)
    d = approx.report_.details
    assert d["surrogate"] == "selection refit"
    assert d["sparse_fit_skipped"]  # exact on the validation rows: nothing can beat it
    assert 1.0 - d["selection_validation_r2"] <= EXACT_SELECTION
    X = np.random.default_rng(9).random((2000, n)) < 0.5
    assert np.max(np.abs(approx.spectrum_.evaluate(X) - game(X))) < 1e-9


@pytest.mark.parametrize("cls", [ProxySPEX, HybridSPEX])
def test_skipping_the_sparse_fit_after_an_exact_selection_changes_nothing(monkeypatch, cls):
    """With the shortcut disabled the sparse fit runs, loses by the margin rule, and the same
    spectrum is returned."""
    import shapiq_spex.approximators.proxyspex as proxy_module

    n = 40
    game = SparseMoebiusGame(n, 20, 4, hierarchical=True, decay=0.5, random_state=0)
    fast = cls(n, 2, "k-SII", random_state=1)
    fast.approximate(1500, game)
    assert fast.report_.details["sparse_fit_skipped"]
    monkeypatch.setattr(proxy_module, "selection_is_exact", lambda r2: False)
    slow = cls(n, 2, "k-SII", random_state=1)
    slow.approximate(1500, game)
    d = slow.report_.details
    assert not d["sparse_fit_skipped"]
    assert d["surrogate"] == "selection refit"
    assert fast.spectrum_.to_dict() == slow.spectrum_.to_dict()


def test_the_sparse_fit_is_kept_on_a_noisy_game():
    """Noise: the selection's validation error is not half of the blend's, the blend stays."""
    n = 30
    game = SparseFourierGame(n, 25, 3, noise_std=0.4, random_state=8)
    approx = ProxySPEX(n, 2, random_state=0)
    approx.approximate(1500, game)
    d = approx.report_.details
    assert d["surrogate"] == "sparse fit blended with the proxy"
    assert d["validation_r2"] == d["blend_validation_r2"]
    assert 1.0 - d["selection_validation_r2"] > 0.5 * (1.0 - d["blend_validation_r2"])


@pytest.mark.parametrize("cls", [ProxySPEX, HybridSPEX])
@pytest.mark.parametrize("sequential", [False, True])
def test_sequential_players_offer_the_sets_of_neighbours_first(monkeypatch, cls, sequential):
    """``sequential=True``: the sparse fit is offered the near sets before the proxy's terms."""
    import shapiq_spex.approximators.proxyspex as proxy_module
    from shapiq_spex.proxy.sparse_regression import sequence_supports

    offered = []
    real = proxy_module.fit_sparse_moebius

    def spy(X, y, rng, **kwargs):
        offered.append(kwargs["extra"])
        return real(X, y, rng, **kwargs)

    monkeypatch.setattr(proxy_module, "fit_sparse_moebius", spy)
    n = 30
    game = SparseFourierGame(n, 25, 3, noise_std=0.4, random_state=8)  # the sparse fit runs
    approx = cls(n, 2, random_state=0, sequential=sequential)
    approx.approximate(1500, game)
    (extra,) = offered
    local = sequence_supports(n)
    head = extra[: local.shape[0], : local.shape[1]]
    assert np.array_equal(head, local) == sequential
    proxy_part = extra[local.shape[0] :] if sequential else extra
    assert proxy_part.shape[0] > 0  # the proxy's supports are still offered after them


def _threshold_game(X):
    """3 of 6 players plus a pair: depth-5 trees fit it badly, so the blend keeps some proxy."""
    return (X[:, :6].sum(axis=1) >= 3).astype(float) + 0.3 * X[:, 6] * X[:, 7]


@pytest.mark.parametrize(
    ("n", "game", "budget", "blended"),
    [
        (30, SparseFourierGame(30, 25, 3, noise_std=0.4, random_state=8), 1500, False),
        (20, _threshold_game, 800, True),
    ],
)
def test_the_final_proxy_is_fitted_only_when_the_blend_uses_it(
    monkeypatch, n, game, budget, blended
):
    """The proxy refitted on every row is only needed for a blend weight below 1."""
    import shapiq_spex.approximators.proxyspex as proxy_module

    calls = []
    real = proxy_module.refit_final

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(proxy_module, "refit_final", counted)
    approx = ProxySPEX(n, 2, random_state=0)
    approx.approximate(budget, game)
    d = approx.report_.details
    assert d["surrogate"] == "sparse fit blended with the proxy"
    assert (d["blend_weight"] < 1.0) == blended
    assert len(calls) == int(blended)


def test_constant_and_every_first_order_term_are_present(hierarchical):
    n, _, approx, iv = hierarchical
    terms = approx.spectrum_.to_dict()
    assert () in terms
    assert all((i,) in terms for i in range(n))
    assert () in iv.interactions
    assert approx.report_.details["n_forced"] == n + 1


@pytest.mark.parametrize("index", SUPPORTED_INDICES)
def test_every_index_matches_the_known_spectrum(hierarchical, index):
    n, game, _approx, _ = hierarchical
    order = 1 if index in ("SV", "BV") else 2
    iv = ProxySPEX(n, order, index, random_state=0).approximate(800, game)
    truth = to_interaction_values(game.fourier_spectrum, index, order)
    keys = set(truth.interactions) | set(iv.interactions)
    err = max(abs(truth[k] - iv[k]) for k in keys)
    assert err < 1e-6
    assert iv.index == index
    assert () in iv.interactions


def test_parity_game_with_noise_gets_most_of_the_variance():
    n = 32
    game = SparseFourierGame(n, 20, 3, noise_std=0.05, random_state=1)
    approx = ProxySPEX(n, 2, random_state=1)
    approx.approximate(2000, game)
    assert approx.report_.faithfulness_r2 > 0.8
    assert fresh_r2(approx.spectrum_, game, n) > 0.8


def test_budget_is_never_exceeded_and_reported():
    game = Counting(SparseMoebiusGame(40, 5, 3, hierarchical=True, random_state=2))
    for budget in (18, 100, 333):
        game.calls = 0
        approx = ProxySPEX(40, 2, random_state=0)
        iv = approx.approximate(budget, game)
        assert game.calls == approx.report_.queries <= budget
        assert iv.estimation_budget == approx.report_.queries
    # at most 2^n distinct coalitions are ever queried
    small = Counting(SparseMoebiusGame(5, 3, 2, random_state=0))
    approx = ProxySPEX(5, 2, random_state=0)
    approx.approximate(1000, small)
    assert small.calls == 32


def test_many_players_small_budget_lets_singletons_compete():
    n = 300
    game = SparseMoebiusGame(n, 6, 3, hierarchical=True, random_state=11)
    approx = ProxySPEX(n, 2, random_state=0)
    approx.approximate(600, game)
    assert approx.report_.details["linear_terms"] == "selected"  # 301 > 432 / 4 fitting rows
    assert approx.report_.details["n_forced"] == 1
    assert fresh_r2(approx.spectrum_, game, n) > 0.99
    forced = ProxySPEX(n, 2, random_state=0, linear_terms="all")
    forced.approximate(600, game)
    assert forced.report_.details["n_forced"] == n + 1
    assert all((i,) in forced.spectrum_.to_dict() for i in range(n))


def test_holdout_can_be_switched_on():
    game = SparseMoebiusGame(16, 4, 2, hierarchical=True, random_state=4)
    approx = ProxySPEX(16, 2, random_state=0, holdout_fraction=0.2)
    approx.approximate(300, game)
    assert approx.report_.n_holdout == 60
    assert approx.report_.details["faithfulness_source"] == "60 held-out coalitions"
    assert approx.report_.faithfulness_r2 == pytest.approx(1.0, abs=1e-9)


def test_reproducible_from_random_state():
    game = SparseFourierGame(20, 10, 3, noise_std=0.1, random_state=5)
    a = ProxySPEX(20, 2, random_state=7).approximate(400, game)
    b = ProxySPEX(20, 2, random_state=7).approximate(400, game)
    c = ProxySPEX(20, 2, random_state=8).approximate(400, game)
    assert a.interaction_lookup == b.interaction_lookup
    np.testing.assert_array_equal(a.values, b.values)
    da, dc = a.dict_values, c.dict_values
    assert any(abs(da.get(k, 0.0) - dc.get(k, 0.0)) > 1e-9 for k in set(da) | set(dc))
    approx = ProxySPEX(20, 2, random_state=7)
    first = approx.approximate(400, game)
    second = approx.approximate(400, game)  # the same object: a fresh generator per call
    np.testing.assert_array_equal(first.values, second.values)


@pytest.mark.parametrize("proxy", ["xgboost", "random_forest", "gradient_boosting"])
def test_other_proxies(proxy):
    if proxy == "xgboost":
        pytest.importorskip("xgboost")
    game = SparseMoebiusGame(16, 4, 2, hierarchical=True, random_state=6)
    approx = ProxySPEX(16, 2, random_state=0, proxy=proxy)
    approx.approximate(400, game)
    assert approx.report_.details["proxy"] == proxy
    assert approx.report_.faithfulness_r2 > 0.95


def test_pairing_top_order_and_no_order_cap():
    game = SparseMoebiusGame(16, 4, 3, hierarchical=True, random_state=7)
    iv = ProxySPEX(16, 2, "k-SII", top_order=True, pairing=True, random_state=0).approximate(
        400, game
    )
    assert () in iv.interactions
    assert all(len(k) in (0, 2) for k in iv.interactions)
    approx = ProxySPEX(16, None, "Moebius", random_state=0)
    iv = approx.approximate(400, game)
    assert max(len(k) for k in iv.interactions) == approx.spectrum_.max_degree


def test_shapiq_keyword_contract_and_explainer():
    # what shapiq's explainers and benchmark runner pass
    approx = ProxySPEX(n=8, max_order=2, index="k-SII", random_state=0)
    assert approx.index == "k-SII"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8))
    y = X[:, 0] * X[:, 1] + X[:, 2]
    from sklearn.tree import DecisionTreeRegressor

    model = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X, y)
    explainer = shapiq.TabularExplainer(
        model=model.predict, data=X[:50], approximator=approx, index="k-SII", max_order=2
    )
    iv = explainer.explain(X[0], budget=128)
    assert () in iv.interactions
    assert iv.index == "k-SII"


@pytest.mark.parametrize("n", [2, 3])
def test_min_budget_is_the_exact_path_below_16_coalitions(n):
    approx = ProxySPEX(n, 2, random_state=0)
    assert approx.min_budget() == 2**n
    game = SparseMoebiusGame(n, 2, 2, random_state=0)
    approx.approximate(2**n, game)
    assert approx.report_.details["exact"] is True
    with pytest.raises(BudgetTooSmallError, match=f">= {2**n}"):
        approx.approximate(2**n - 1, game)
    assert ProxySPEX(4).min_budget() == 16  # 16 coalitions: the sampled minimum again


def test_bad_input():
    game = SparseMoebiusGame(12, 3, 2, random_state=0)
    approx = ProxySPEX(12, 2, random_state=0)
    with pytest.raises(BudgetTooSmallError, match=f">= {approx.min_budget()}"):
        approx.approximate(approx.min_budget() - 1, game)
    with pytest.raises(InvalidParameterError, match="'budget' parameter"):
        approx.approximate(100.0, game)

    def bad(X):
        v = np.ones(X.shape[0])
        v[3] = np.nan
        return v

    with pytest.raises(InvalidGameError, match="non-finite"):
        approx.approximate(100, bad)
    with pytest.raises(InvalidGameError, match="n_players"):
        approx.approximate(100, SparseMoebiusGame(13, 3, 2, random_state=0))
    with pytest.raises(InvalidGameError, match="shape"):
        approx.approximate(100, lambda X: np.ones((X.shape[0], 2)))
    with pytest.raises(InvalidParameterError, match="'index' parameter"):
        ProxySPEX(12, 2, "Shapley")
    with pytest.raises(InvalidParameterError, match="'max_order' parameter"):
        ProxySPEX(12, 13)
    with pytest.raises(InvalidParameterError, match="'max_order' parameter"):
        ProxySPEX(12, 0)
    with pytest.raises(InvalidParameterError, match="'proxy' parameter"):
        ProxySPEX(12, 2, proxy="catboost")
    with pytest.raises(InvalidParameterError, match="'proxy' parameter"):
        ProxySPEX(12, 2, proxy=object())
    with pytest.raises(InvalidParameterError, match="'tuning' parameter"):
        ProxySPEX(12, 2, tuning="slow")
    with pytest.raises(InvalidParameterError, match="'holdout_fraction' parameter"):
        ProxySPEX(12, 2, holdout_fraction=0.9)
    with pytest.raises(InvalidParameterError, match="'validation_fraction' parameter"):
        ProxySPEX(12, 2, validation_fraction=0.0)
    with pytest.raises(InvalidParameterError, match="'max_terms' parameter"):
        ProxySPEX(12, 2, max_terms=0)
    with pytest.raises(InvalidParameterError, match="'linear_terms' parameter"):
        ProxySPEX(12, 2, linear_terms="none")
    with pytest.raises(InvalidParameterError, match="'pairing' parameter"):
        ProxySPEX(12, 2, pairing="yes")
    with pytest.raises(InvalidParameterError, match="'sequential' parameter"):
        ProxySPEX(12, 2, sequential="yes")
    with pytest.raises(InvalidParameterError, match="'sequential' parameter"):
        HybridSPEX(12, 2, sequential=1)
    with pytest.raises(InvalidParameterError, match="'n' parameter"):
        ProxySPEX(4, 2)._plan(15)  # 16 coalitions, fewer than the training set needs


class RecordingShapiqProxySPEX(shapiq.ProxySPEX):
    """shapiq's ProxySPEX, keeping the refined Fourier coefficients it computes."""

    def _refine(self, four_dict, train_X, train_y):
        self.refined_fourier_ = super()._refine(four_dict, train_X, train_y)
        return self.refined_fourier_


def test_at_least_as_faithful_as_shapiq_proxyspex():
    n = 32
    game = SparseMoebiusGame(n, 8, 3, hierarchical=True, noise_std=0.02, random_state=9)
    ours = ProxySPEX(n, 2, random_state=0)
    ours.approximate(600, game)
    theirs = RecordingShapiqProxySPEX(n=n, max_order=2, index="k-SII", hpo=False, random_state=0)
    theirs.approximate(600, game)
    theirs_spectrum = SparseSpectrum.from_dict(n, theirs.refined_fourier_)
    ours_r2 = fresh_r2(ours.spectrum_, game, n, seed=0)
    theirs_r2 = fresh_r2(theirs_spectrum, game, n, seed=0)
    assert ours_r2 > 0.99
    assert ours_r2 >= theirs_r2 - 0.005


class _Recording:
    """Counts every coalition a game is asked for (to prove nothing is paid twice)."""

    def __init__(self, game) -> None:
        self.game = game
        self.n_players = game.n_players
        self.rows: list[np.ndarray] = []

    def __call__(self, coalitions):
        self.rows.append(np.asarray(coalitions, dtype=bool).copy())
        return self.game(coalitions)


def test_target_r2_stops_early_and_never_queries_a_coalition_twice():
    game = _Recording(SparseMoebiusGame(40, 6, 3, hierarchical=True, random_state=5))
    approx = ProxySPEX(40, 2, random_state=0, target_r2=0.99)
    approx.approximate(8000, game)
    rounds = approx.report_.details["rounds"]
    assert approx.report_.details["target_reached"] is True
    assert rounds[-1]["validation_r2"] >= 0.99
    assert all(r["validation_r2"] < 0.99 for r in rounds[:-1])
    assert approx.report_.queries == rounds[-1]["queries"] < 8000
    asked = np.concatenate(game.rows)
    assert asked.shape[0] == approx.report_.queries
    assert np.unique(asked, axis=0).shape[0] == asked.shape[0]


def test_target_r2_rounds_give_the_fixed_budget_result_of_their_size():
    """A run that stops after the 500-coalition round equals a plain 500-query run."""
    game = SparseFourierGame(24, 12, 3, noise_std=0.3, random_state=3)
    target = ProxySPEX(24, 2, random_state=1, target_r2=0.999999)
    target.approximate(500, game)
    assert [r["queries"] for r in target.report_.details["rounds"]] == [250, 500]
    assert target.report_.details["target_reached"] is False
    fixed = ProxySPEX(24, 2, random_state=1)
    fixed.approximate(500, game)
    # equal up to rounding: values are standardised from the first batch (250 vs 500 rows), and
    # LightGBM bins float32 labels
    np.testing.assert_array_equal(target.spectrum_.supports, fixed.spectrum_.supports)
    np.testing.assert_allclose(target.spectrum_.coefs, fixed.spectrum_.coefs, rtol=1e-6, atol=1e-9)
    assert target.report_.faithfulness_r2 == pytest.approx(fixed.report_.faithfulness_r2, abs=1e-7)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, float("nan"), True, "0.9"])
def test_target_r2_must_be_a_fraction(bad):
    with pytest.raises(InvalidParameterError, match="'target_r2'"):
        ProxySPEX(10, 2, target_r2=bad)


def test_reported_r2_tracks_fresh_r2_on_a_noisy_game():
    """The reported R² is scored on rows no part of the fit saw: close to the truth."""
    n = 30
    game = SparseFourierGame(n, 25, 3, noise_std=0.4, random_state=8)
    approx = ProxySPEX(n, 2, random_state=0)
    approx.approximate(1500, game)
    assert abs(approx.report_.faithfulness_r2 - fresh_r2(approx.spectrum_, game, n)) < 0.05


def test_target_r2_with_pairing_is_refused():
    with pytest.raises(InvalidParameterError, match=r"'target_r2'.*pairing"):
        ProxySPEX(10, 2, target_r2=0.9, pairing=True)


class _Table:
    """A dense random game on ``n`` players: no sparse surrogate reaches a high R²."""

    def __init__(self, n, seed):
        self.n_players = n
        self.values = np.random.default_rng(seed).normal(size=2**n)

    def __call__(self, coalitions):
        rows = np.asarray(coalitions, dtype=np.int64) @ (1 << np.arange(self.n_players))
        return self.values[rows]


def test_target_r2_with_a_budget_of_every_coalition_still_stops_early():
    """A budget >= 2^n does not force the exact path when a round already reaches the target."""
    n = 10
    game = _Recording(SparseMoebiusGame(n, 5, 2, random_state=2))
    approx = ProxySPEX(n, 2, random_state=0, target_r2=0.9)
    approx.approximate(4000, game)
    assert approx.report_.details["target_reached"] is True
    assert "exact" not in approx.report_.details
    assert approx.report_.queries == np.concatenate(game.rows).shape[0] == 250 < 2**n


@pytest.mark.parametrize("holdout_fraction", [0.0, 0.1])
def test_target_r2_ends_exact_paying_each_coalition_once(holdout_fraction):
    """When no round reaches the target, the rest of the table is queried: exact values."""
    n = 10
    game = _Recording(_Table(n, seed=4))
    approx = ProxySPEX(
        n, 3, "Moebius", random_state=0, target_r2=0.99, holdout_fraction=holdout_fraction
    )
    iv = approx.approximate(4000, game)
    details = approx.report_.details
    assert details["exact"] is True
    assert details["target_reached"] is True
    assert all(r["validation_r2"] < 0.99 for r in details["rounds"][:-1])
    assert details["rounds"][-1] == {"queries": 2**n, "validation_r2": 1.0}
    asked = np.concatenate(game.rows)
    assert asked.shape[0] == approx.report_.queries == iv.estimation_budget == 2**n
    assert np.unique(asked, axis=0).shape[0] == 2**n
    plain = ProxySPEX(n, 3, "Moebius", random_state=0).approximate(4000, game.game)
    keys = set(plain.interaction_lookup) | set(iv.interaction_lookup)
    assert max(abs(plain[k] - iv[k]) for k in keys) < 1e-10


def test_target_r2_rounds_nest_beyond_half_of_the_coalitions():
    """n = 12, 4,000 queries: the last round draws more than half of the 4,096 coalitions."""
    n = 12
    game = _Recording(_Table(n, seed=5))
    approx = ProxySPEX(n, 2, random_state=0, target_r2=0.99)
    approx.approximate(4000, game)
    details = approx.report_.details
    assert [r["queries"] for r in details["rounds"]] == [250, 500, 1000, 2000, 4000]
    assert details["target_reached"] is False
    asked = np.concatenate(game.rows)
    assert np.unique(asked, axis=0).shape[0] == asked.shape[0] == 4000


class _Recorded:
    """A dense random game (every coalition its own value) that records what it was asked."""

    def __init__(self, n, seed):
        self.n = n
        self.table = np.random.default_rng(seed).normal(size=2**n)
        self.asked = []

    def __call__(self, masks):
        masks = np.asarray(masks, dtype=bool)
        self.asked.append(masks.copy())
        return self.table[masks.astype(np.int64) @ (1 << np.arange(self.n))]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("cls", "n", "budget"), [(ProxySPEX, 8, 200), (HybridSPEX, 9, 400), (SPEX, 10, 900)]
)
def test_most_of_the_table_queried_is_interpolated(seed, cls, n, budget):
    # at least COMPLETION_FRACTION of the 2^n coalitions are queried
    game = _Recorded(n, seed)
    approx = cls(n, None, "Moebius", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecodingWarning)  # SPEX: a dense game is not resolved
        iv = approx.approximate(budget, game)
    asked = np.unique(np.concatenate(game.asked), axis=0)
    assert budget / 2 < asked.shape[0] <= budget
    d = approx.report_.details
    assert d["completed"] == 2**n - asked.shape[0]
    np.testing.assert_allclose(approx.spectrum_.evaluate(asked), game(asked), atol=1e-9)
    # the returned values are that interpolating spectrum (baseline value included)
    rebuilt = SparseSpectrum.from_dict(
        n, {k: v for k, v in iv.dict_values.items()}, basis="moebius"
    )
    np.testing.assert_allclose(rebuilt.evaluate(asked), game(asked), atol=1e-9)
    share = asked.shape[0] / 2**n
    expected = 1.0 - (1.0 - share) * (1.0 - d["surrogate_r2"])
    assert approx.report_.faithfulness_r2 == pytest.approx(expected, abs=1e-12)


def test_less_than_half_the_table_is_not_interpolated():
    n = 8
    game = _Recorded(n, 0)
    approx = ProxySPEX(n, None, "Moebius", random_state=0)
    approx.approximate(120, game)  # 120 < 128 = half of 2^8
    asked = np.unique(np.concatenate(game.asked), axis=0)
    d = approx.report_.details
    assert d["completed"] == 0
    assert "surrogate_r2" not in d
    assert approx.report_.faithfulness_r2 == d["validation_r2"]
    # a smooth surrogate of a dense random game cannot interpolate it
    assert np.abs(approx.spectrum_.evaluate(asked) - game(asked)).max() > 0.1


def test_target_r2_counts_the_completed_table():
    # a dense random game: no smooth surrogate fits it, but 500 of the 512 coalitions are known
    n = 9
    game = _Recorded(n, 3)
    approx = ProxySPEX(n, None, "Moebius", random_state=0, target_r2=0.9)
    approx.approximate(500, game)
    d = approx.report_.details
    assert d["completed"] == 2**n - 500
    assert d["surrogate_r2"] < 0.9  # the surrogate alone does not reach the target
    assert approx.report_.faithfulness_r2 >= 0.9
    assert d["target_reached"] is True
    assert d["rounds"][-1]["validation_r2"] == pytest.approx(approx.report_.faithfulness_r2)
    assert d["rounds"][0]["validation_r2"] < 0.9  # 250 coalitions: not completed


@pytest.mark.parametrize("cls", [ProxySPEX, HybridSPEX])
def test_values_do_not_depend_on_threads(cls):
    """``n_jobs`` and the BLAS thread count change the speed, never the returned values.

    A BLAS summing on two threads used to move the values in their last bits, so the same seed
    gave different results on machines with different core counts.
    """
    from threadpoolctl import threadpool_limits

    n = 48
    game = SparseFourierGame(n, 30, 3, noise_std=0.2, random_state=4)  # the sparse fit runs
    with threadpool_limits(limits=1, user_api="blas"):
        one = cls(n, 2, random_state=0, n_jobs=1)
        ref = one.approximate(1500, game)
    with threadpool_limits(limits=2, user_api="blas"):
        two = cls(n, 2, random_state=0, n_jobs=2)
        par = two.approximate(1500, game)
    assert one.report_.details["surrogate"] == "sparse fit blended with the proxy"
    assert two.report_.details["surrogate"] == one.report_.details["surrogate"]
    np.testing.assert_array_equal(par.values, ref.values)
    assert par.interaction_lookup == ref.interaction_lookup


@pytest.mark.parametrize("cls", [ProxySPEX, HybridSPEX])
@pytest.mark.parametrize("bad", [0, -2, 2.0, True])
def test_n_jobs_must_be_a_positive_int_or_minus_one(cls, bad):
    with pytest.raises(InvalidParameterError, match="'n_jobs' parameter"):
        cls(20, 2, n_jobs=bad)


def test_an_r2_on_few_validation_coalitions_is_flagged():
    game = SparseMoebiusGame(12, 4, 2, random_state=0, noise_std=0.1)
    approx = ProxySPEX(12, 2, random_state=0)
    with pytest.warns(DecodingWarning, match="rests on only 6 validation coalitions"):
        approx.approximate(30, game)
    assert approx.report_.n_holdout == 0
    assert approx.report_.faithfulness_coalitions == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error", DecodingWarning)
        approx.approximate(100, game)  # 20 validation coalitions: no warning
    assert approx.report_.faithfulness_coalitions == 20
    held = ProxySPEX(12, 2, random_state=0, holdout_fraction=0.25)
    held.approximate(400, game)
    assert held.report_.faithfulness_coalitions == held.report_.n_holdout == 100
    exact = ProxySPEX(6, 2, random_state=0)
    exact.approximate(64, SparseMoebiusGame(6, 3, 2, random_state=0))
    assert exact.report_.faithfulness_coalitions == 64
