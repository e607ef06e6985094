from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.proxy.refine import prefix_grid, select_and_refit
from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra._subsets import pad_supports


def random_terms(n, s, max_degree, seed):
    rng = np.random.default_rng(seed)
    terms = {(): 1.0}
    while len(terms) < s + 1:
        d = int(rng.integers(2, max_degree + 1))
        terms[tuple(sorted(rng.choice(n, d, replace=False).tolist()))] = float(
            rng.choice([-1, 1]) * rng.uniform(0.5, 1.0)
        )
    for i in range(0, n, 3):
        terms[(i,)] = float(rng.uniform(0.5, 1.0))
    return terms


def setup(n=40, s=25, m=1200, noise=0.0, seed=0, decoys=3000):
    rng = np.random.default_rng(seed)
    truth = SparseSpectrum.from_dict(n, random_terms(n, s, 4, seed))
    X = rng.integers(0, 2, size=(m, n)).astype(bool)
    y = truth.evaluate(X) + noise * rng.normal(size=m)
    val = np.zeros(m, dtype=bool)
    val[rng.choice(m, m // 5, replace=False)] = True
    decoy = pad_supports(
        [tuple(rng.choice(n, int(rng.integers(2, 5)), replace=False)) for _ in range(decoys)], 4
    )
    true_sup = np.pad(
        truth.supports, ((0, 0), (0, 4 - truth.supports.shape[1])), constant_values=-1
    )
    cand = np.concatenate([decoy, true_sup])
    # scores: decoys often outrank true terms (a poorly ranked candidate list)
    score = np.concatenate([rng.uniform(0, 1, decoys), rng.uniform(0, 0.5, true_sup.shape[0])])
    return truth, X, y, val, cand, score


def test_prefix_grid():
    g = prefix_grid(1000)
    assert g[0] == 0
    assert g[-1] == 1000
    assert np.all(np.diff(g) > 0)
    assert prefix_grid(0).tolist() == [0]
    assert prefix_grid(5).tolist() == [0, 5]


def test_recovers_exact_support_among_decoys():
    truth, X, y, val, cand, score = setup()
    ref = select_and_refit(X, y, cand, score, validation=val)
    Xt = np.random.default_rng(9).integers(0, 2, size=(2000, 40)).astype(bool)
    resid = ref.spectrum.evaluate(Xt) - truth.evaluate(Xt)
    assert np.abs(resid).max() < 1e-8
    assert ref.validation_r2 > 0.999999
    assert ref.ordering == "pursuit"  # the magnitude order is misleading here
    for key, coef in truth.to_dict().items():
        assert ref.spectrum[key] == pytest.approx(coef, abs=1e-8)


def test_noisy_selection_keeps_the_signal_and_stays_small():
    truth, X, y, val, cand, score = setup(noise=0.2, seed=1)
    ref = select_and_refit(X, y, cand, score, validation=val)
    Xt = np.random.default_rng(9).integers(0, 2, size=(2000, 40)).astype(bool)
    yt = truth.evaluate(Xt)
    r2 = 1.0 - ((ref.spectrum.evaluate(Xt) - yt) ** 2).sum() / ((yt - yt.mean()) ** 2).sum()
    assert r2 > 0.97
    assert ref.n_selected < 300  # far fewer than the 3000 decoys


def test_constant_and_every_singleton_are_always_kept():
    _truth, X, y, val, cand, score = setup(n=30, s=10, seed=2, decoys=200)
    ref = select_and_refit(X, y, cand[:5], score[:5], validation=val)
    d = ref.spectrum.to_dict()
    assert () in d
    assert all((i,) in d for i in range(30))
    assert ref.n_forced == 31


def test_forced_extra_terms_and_max_terms():
    _truth, X, y, val, cand, score = setup(n=30, s=10, seed=3, decoys=200)
    forced = pad_supports([(1, 2, 3), (4, 5)])
    ref = select_and_refit(X, y, cand, score, validation=val, forced=forced, max_terms=50)
    assert ref.n_candidates <= 50
    assert ref.n_forced == 33
    d = ref.spectrum.to_dict()
    assert (1, 2, 3) in d
    assert (4, 5) in d


def test_without_validation_rows_every_pooled_candidate_is_kept():
    _truth, X, y, _, cand, score = setup(n=20, s=8, m=400, seed=4, decoys=30)
    ref = select_and_refit(X, y, cand, score, validation=np.zeros(400, dtype=bool))
    assert np.isnan(ref.validation_r2)
    assert ref.n_selected == ref.n_candidates
    assert ref.ordering == "none"


def test_selected_linear_terms_compete_and_bad_value():
    _truth, X, y, val, cand, score = setup(n=30, s=10, seed=5, decoys=200)
    ref = select_and_refit(X, y, cand, score, validation=val, linear="selected")
    assert ref.n_forced == 1
    assert ref.validation_r2 > 0.99
    with pytest.raises(InvalidParameterError, match="'linear' parameter"):
        select_and_refit(X, y, cand, score, validation=val, linear="some")


@pytest.mark.parametrize("cap", [0, 8, 20])
def test_max_selected_caps_the_support_and_the_sweep(cap):
    _truth, X, y, val, cand, score = setup()
    ref = select_and_refit(X, y, cand, score, validation=val, max_selected=cap)
    assert ref.n_selected <= cap
    assert max((k for path in ref.path.values() for k, _ in path), default=0) <= cap
    uncapped = select_and_refit(X, y, cand, score, validation=val)
    assert uncapped.n_selected > cap  # the cap is what stopped it


def hierarchical_case(seed, m=1500, n=30):
    """A Möbius game of degree-3/4 terms: its Fourier support is every subset of them."""
    rng = np.random.default_rng(seed)
    moebius = {(): 0.5}
    for _ in range(6):
        sup = tuple(sorted(rng.choice(n, int(rng.integers(3, 5)), replace=False).tolist()))
        moebius[sup] = float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.0))
    truth = SparseSpectrum.from_dict(n, moebius, basis="moebius").to_fourier()
    X = rng.integers(0, 2, size=(m, n)).astype(bool)
    val = np.zeros(m, dtype=bool)
    val[rng.choice(m, m // 5, replace=False)] = True
    tops = pad_supports([k for k in moebius if k], 4)
    return truth, X, val, tops


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("as_forced", [False, True])
def test_closure_adds_the_subsets_the_candidates_lack(seed, as_forced):
    truth, X, val, tops = hierarchical_case(seed)
    y = truth.evaluate(X)
    # only the Möbius supports are offered: their Fourier subsets are what a coarse proxy misses
    if as_forced:
        decoy = pad_supports([(0, 1, 2, 3)], 4)  # one candidate, so that a selection runs
        ref = select_and_refit(X, y, decoy, np.ones(1), validation=val, forced=tops)
    else:
        ref = select_and_refit(X, y, tops, np.ones(tops.shape[0]), validation=val)
        assert ref.n_selected - ref.n_closure == tops.shape[0]
    Xt = np.random.default_rng(9).integers(0, 2, size=(2000, X.shape[1])).astype(bool)
    assert np.abs(ref.spectrum.evaluate(Xt) - truth.evaluate(Xt)).max() < 1e-8
    deg = (truth.supports >= 0).sum(axis=1)
    assert ref.n_closure >= int((deg >= 2).sum()) - tops.shape[0] > 0
    assert ref.validation_r2 > 1 - 1e-10


def test_closure_is_rejected_when_it_does_not_help():
    # the candidates already hold the whole support: nothing to add that lowers the error
    truth, X, val, _ = hierarchical_case(0)
    rng = np.random.default_rng(3)
    y = truth.evaluate(X) + 0.05 * rng.normal(size=X.shape[0])
    noise_only = pad_supports([tuple(rng.choice(30, 6, replace=False)) for _ in range(20)], 6)
    cand = np.concatenate(
        [
            np.pad(truth.supports, ((0, 0), (0, 6 - truth.supports.shape[1])), constant_values=-1),
            noise_only,
        ]
    )
    ref = select_and_refit(X, y, cand, np.ones(cand.shape[0]), validation=val)
    assert ref.n_closure == 0


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_the_orderings_swept_on_threads_give_the_same_selection(noise):
    _, X, y, val, cand, score = setup(noise=noise, seed=2)
    one = select_and_refit(X, y, cand, score, validation=val, n_jobs=1)
    two = select_and_refit(X, y, cand, score, validation=val, n_jobs=2)
    assert two.ordering == one.ordering
    assert two.path == one.path
    assert two.spectrum.to_dict() == one.spectrum.to_dict()
