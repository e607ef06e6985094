from __future__ import annotations

import warnings

import numpy as np
import pytest

from shapiq_spex.approximators.hybrid import (
    HybridSPEX,
    StructuredStage,
    spex_structured_stage,
    union_candidates,
)
from shapiq_spex.approximators.proxyspex import ProxySPEX, prefer_selection
from shapiq_spex.approximators.spex import SPEX
from shapiq_spex.exceptions import BudgetTooSmallError, InvalidGameError, InvalidParameterError
from shapiq_spex.games import SparseFourierGame, SparseMoebiusGame
from shapiq_spex.sampling.random_masks import uniform_masks
from shapiq_spex.spectra import SparseSpectrum


class Counting:
    def __init__(self, game):
        self.game = game
        self.n_players = game.n_players
        self.calls = 0

    def __call__(self, X):
        self.calls += X.shape[0]
        return self.game(X)

    def noiseless_values(self, X):
        return self.game.noiseless_values(X)


def fresh_r2(spectrum, game, seed=321, m=3000):
    n = game.n_players
    X = np.random.default_rng(seed).integers(0, 2, size=(m, n)).astype(bool)
    y = game.noiseless_values(X)
    return 1.0 - ((spectrum.evaluate(X) - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()


def run(approx, budget, game):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SPEX warns when its design leaves no holdout
        approx.approximate(budget, game)
    return fresh_r2(approx.spectrum_, game)


def test_parity_game_where_trees_fail():
    n = 48
    game = SparseFourierGame(n, 30, 3, min_degree=3, noise_std=0.05, random_state=0)
    hybrid = HybridSPEX(n, 2, random_state=0)
    r2_hybrid = run(hybrid, 2000, game)
    r2_proxy = run(ProxySPEX(n, 2, random_state=0), 2000, game)
    r2_spex = run(SPEX(n, 2, random_state=0), 2000, game)
    assert r2_hybrid >= 0.99
    assert r2_hybrid >= max(r2_proxy, r2_spex) - 0.01
    assert r2_proxy < 0.95  # the proxy alone misses parity terms: the hybrid matters here
    assert hybrid.report_.details["peeled_terms"] > 0
    assert hybrid.report_.faithfulness_r2 >= 0.98


def test_hierarchical_game_matches_proxyspex():
    n = 40
    game = SparseMoebiusGame(n, 8, 3, hierarchical=True, noise_std=0.02, random_state=1)
    r2_hybrid = run(HybridSPEX(n, 2, random_state=0), 2000, game)
    r2_proxy = run(ProxySPEX(n, 2, random_state=0), 2000, game)
    assert r2_hybrid >= r2_proxy - 0.01
    assert r2_hybrid >= 0.98


def test_budget_is_respected_and_split():
    game = Counting(SparseFourierGame(32, 10, 2, random_state=2))
    hybrid = HybridSPEX(32, 2, random_state=0)
    run(hybrid, 1500, game)
    d = hybrid.report_.details
    assert game.calls == hybrid.report_.queries <= 1500
    assert d["structured_queries"] + d["random_queries"] + hybrid.report_.n_holdout == game.calls
    assert d["structured_queries"] <= 0.9 * (1500 - hybrid.report_.n_holdout)
    assert d["random_queries"] >= 0.1 * 1500 - hybrid.report_.n_holdout


def test_oracle_stage_plumbing():
    """A stand-in SPEX stage that 'peels' the true support: the union must keep it."""
    n = 24
    truth = SparseFourierGame(n, 12, 4, min_degree=3, random_state=3)
    calls = {}

    def oracle(caller, n_, budget, rng, **kwargs):
        calls.update(budget=budget, kwargs=kwargs)
        masks = uniform_masks(rng, n_, min(budget, 200))
        return StructuredStage(masks, caller(masks), truth.fourier_spectrum, {"oracle": True})

    hybrid = HybridSPEX(n, 3, "Fourier", random_state=0, spex_stage=oracle)
    iv = hybrid.approximate(900, truth)
    assert calls["budget"] == int(0.9 * 810)
    assert calls["kwargs"] == {"degree_cap": 5, "n_groups": 3, "decoder": "soft"}
    assert hybrid.report_.details["spex"] == {"oracle": True}
    for key, coef in truth.fourier_spectrum.to_dict().items():
        if len(key) <= 3:
            assert iv[key] == pytest.approx(coef, abs=1e-8)
    assert fresh_r2(hybrid.spectrum_, truth) > 1 - 1e-10


def test_empty_peeling_still_works():
    n = 20
    game = SparseMoebiusGame(n, 5, 2, hierarchical=True, random_state=4)

    def nothing(caller, n_, budget, rng, **kwargs):
        masks = uniform_masks(rng, n_, 50)
        empty = SparseSpectrum(n_, np.zeros((0, 1), dtype=np.int64), np.zeros(0))
        return StructuredStage(masks, caller(masks), empty)

    hybrid = HybridSPEX(n, 2, random_state=0, spex_stage=nothing)
    assert run(hybrid, 600, game) > 0.99


def test_union_candidates_ranks_first_set_ahead():
    first = SparseSpectrum.from_dict(10, {(1, 2): 0.1, (3,): -0.2})
    sup = np.array([[1, 2], [4, 5], [6, -1]])
    cand, score = union_candidates(first, (sup, np.array([5.0, 3.0, -9.0])))
    rows = [tuple(int(p) for p in r if p >= 0) for r in cand]
    assert sorted(rows) == [(1, 2), (3,), (4, 5), (6,)]
    ranked = [rows[i] for i in np.argsort(-score)]
    assert ranked[:2] == [(3,), (1, 2)]
    assert ranked[2:] == [(6,), (4, 5)]


def test_reproducible():
    game = SparseFourierGame(32, 10, 3, noise_std=0.1, random_state=5)
    a = HybridSPEX(32, 2, random_state=3)
    b = HybridSPEX(32, 2, random_state=3)
    run(a, 1200, game)
    run(b, 1200, game)
    np.testing.assert_array_equal(a.spectrum_.coefs, b.spectrum_.coefs)
    np.testing.assert_array_equal(a.spectrum_.supports, b.spectrum_.supports)


def test_bad_input():
    game = SparseFourierGame(32, 5, 2, random_state=0)
    hybrid = HybridSPEX(32, 2, random_state=0)
    minimum = hybrid.min_budget()
    with pytest.raises(BudgetTooSmallError, match=f">= {minimum}"):
        hybrid.approximate(minimum - 1, game)
    counted = Counting(game)
    run(hybrid, minimum, counted)  # the minimum itself works
    assert counted.calls <= minimum

    def small_stage(caller, n_, budget, rng, **kwargs):
        masks = uniform_masks(rng, n_, budget)  # uses its whole share: no random rows left
        return StructuredStage(masks, caller(masks), SparseSpectrum.from_dict(n_, {(): 0.0}))

    with pytest.raises(BudgetTooSmallError, match="random coalitions are left"):
        HybridSPEX(32, 2, spex_fraction=0.95, spex_stage=small_stage).approximate(60, game)
    with pytest.raises(InvalidGameError, match="n_players"):
        HybridSPEX(31, 2).approximate(2000, game)
    with pytest.raises(InvalidParameterError, match="'spex_fraction' parameter"):
        HybridSPEX(32, 2, spex_fraction=1.0)
    with pytest.raises(InvalidParameterError, match="'proxy' parameter"):
        HybridSPEX(32, 2, proxy="svm")
    with pytest.raises(InvalidParameterError, match="'decoder' parameter"):
        HybridSPEX(32, 2, decoder="fuzzy")
    with pytest.raises(InvalidParameterError, match="'spex_stage' parameter"):
        HybridSPEX(32, 2, spex_stage=3)
    with pytest.raises(InvalidParameterError, match="'index' parameter"):
        HybridSPEX(32, 2, "foo")


def test_default_stage_is_the_spex_design():
    from shapiq_spex.approximators._base import GameCaller

    game = SparseFourierGame(32, 8, 2, random_state=6)
    caller = GameCaller(game, 32, 1000)
    stage = spex_structured_stage(caller, 32, 1000, np.random.default_rng(0))
    assert caller.queries == stage.masks.shape[0] <= 1000
    assert len(stage.peeled) > 0


def test_the_validation_rows_choose_between_the_refit_and_the_sparse_fit(monkeypatch):
    import shapiq_spex.approximators.proxyspex as proxy_module

    # many hierarchical terms plus noise, as in texts: the sparse Möbius fit is the better one
    game = SparseMoebiusGame(40, 60, 4, hierarchical=True, noise_std=0.3, random_state=1)
    chosen = HybridSPEX(40, 2, random_state=0)
    r2_chosen = run(chosen, 2000, game)
    d = chosen.report_.details
    assert d["surrogate"] == "sparse fit blended with the proxy"
    assert d["validation_r2"] > d["selection_validation_r2"]

    real = proxy_module.sparse_surrogate

    def never_better(*args):  # the sparse fit as scored, but never preferred
        return {**real(*args), "validation_r2": -np.inf}

    monkeypatch.setattr(proxy_module, "sparse_surrogate", never_better)
    refit_only = HybridSPEX(40, 2, random_state=0)
    r2_refit = run(refit_only, 2000, game)
    assert refit_only.report_.details["surrogate"] == "selection refit"
    assert r2_chosen > r2_refit + 0.005


def test_parity_game_is_represented_by_either_choice():
    """Degree-3 parities: the refit holds them exactly; the sparse fit over its supports does
    too (its error is not double the refit's under noise, so by the margin rule it stays)."""
    game = SparseFourierGame(48, 30, 3, min_degree=3, noise_std=0.05, random_state=0)
    hybrid = HybridSPEX(48, 2, random_state=0)
    assert run(hybrid, 2000, game) >= 0.9999
    d = hybrid.report_.details
    assert d["selection_validation_r2"] > 0.999
    chose_refit = d["surrogate"] == "selection refit"
    assert chose_refit == prefer_selection(d["selection_validation_r2"], d["blend_validation_r2"])


@pytest.mark.parametrize(("error_ratio", "expected"), [(0.99, "sparse"), (0.4, "selection")])
def test_the_refit_must_halve_the_sparse_fits_validation_error(monkeypatch, error_ratio, expected):
    """ProxySPEX's rule: the refit's validation R² is optimistic (its size was chosen there), so
    it is returned only when its error is at most half the sparse fit's, not when merely lower.
    """
    import shapiq_spex.approximators.proxyspex as proxy_module

    real = proxy_module.sparse_surrogate

    def scored(*args):  # the sparse fit as fitted, its validation error set relative to the refit's
        refined = args[5]
        error = (1.0 - refined.validation_r2) / error_ratio
        return {**real(*args), "validation_r2": 1.0 - error}

    monkeypatch.setattr(proxy_module, "sparse_surrogate", scored)
    game = SparseMoebiusGame(40, 60, 4, hierarchical=True, noise_std=0.3, random_state=1)
    hybrid = HybridSPEX(40, 2, random_state=0)
    hybrid.approximate(2000, game)
    d = hybrid.report_.details
    assert d["blend_validation_r2"] < d["selection_validation_r2"]  # the refit scores higher
    if expected == "sparse":
        assert d["surrogate"] == "sparse fit blended with the proxy"
    else:
        assert d["surrogate"] == "selection refit"
