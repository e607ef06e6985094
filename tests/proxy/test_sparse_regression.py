"""Tests of the cross-validated sparse Möbius candidate (brute force and known spectra)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shapiq_spex.proxy.sparse_regression import (
    fit_sparse_moebius,
    monomials,
    proxy_supports,
    screen_pairs,
    sequence_supports,
)
from shapiq_spex.sampling.random_masks import uniform_masks
from shapiq_spex.spectra._subsets import PAD, widen
from shapiq_spex.spectra.spectrum import SparseSpectrum


def known_game(n: int, rng: np.random.Generator) -> SparseSpectrum:
    """Möbius spectrum: 5 singletons, 4 pairs, 2 triples (orders as in LM word games)."""
    terms = {(): 0.3}
    players = rng.permutation(n)
    for i in players[:5]:
        terms[(int(i),)] = float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.5))
    for a, b in [(0, 1), (2, 3), (4, 5), (6, 7)]:
        pair = tuple(sorted((int(players[a]), int(players[b]))))
        terms[pair] = float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.5))
    for a, b, c in [(0, 2, 4), (1, 3, 8)]:
        triple = tuple(sorted(int(players[k]) for k in (a, b, c)))
        terms[triple] = float(rng.choice([-1, 1]) * rng.uniform(1.0, 2.0))
    return SparseSpectrum.from_dict(n, terms, basis="moebius")


def test_monomials_match_brute_force():
    rng = np.random.default_rng(0)
    X = rng.random((40, 7)) < 0.5
    supports = np.array([[0, PAD, PAD], [1, 3, PAD], [2, 4, 6], [PAD, PAD, PAD]])
    D = monomials(X, supports)
    for row, support in enumerate(supports):
        players = [p for p in support if p != PAD]
        expected = np.all(X[:, players], axis=1) if players else np.ones(40, bool)
        np.testing.assert_array_equal(D[:, row], expected.astype(float))


@pytest.mark.parametrize("n", [6, 300])
def test_screen_pairs_is_the_brute_force_top_k(n):
    rng = np.random.default_rng(1)
    X = rng.random((200, n)) < 0.5
    r = rng.normal(size=200)
    k = 25
    got = screen_pairs(X, r, k)
    Xf = X.astype(float)
    scores = {
        (i, j): abs(float(np.sum(Xf[:, i] * Xf[:, j] * r)))
        for i, j in itertools.combinations(range(n), 2)
    }
    ranked = sorted(scores, key=lambda p: (-scores[p], p))[: min(k, len(scores))]
    assert [tuple(p) for p in got.tolist()] == ranked


@pytest.mark.parametrize("n", [12, 40, 120])
def test_recovers_a_known_sparse_spectrum(n):
    rng = np.random.default_rng(n)
    truth = known_game(n, rng)
    X = uniform_masks(rng, n, 1500)
    y = truth.evaluate(X)
    triples = truth.supports[(truth.supports != PAD).sum(axis=1) == 3]
    fit = fit_sparse_moebius(X, y, np.random.default_rng(0), extra=triples)
    H = np.random.default_rng(99).random((500, n)) < 0.5
    err = fit.spectrum.evaluate(H) - truth.evaluate(H)
    assert np.max(np.abs(err)) < 1e-9
    assert fit.relaxed
    assert fit.cv_r2 > 1 - 1e-12
    recovered = {k: v for k, v in fit.spectrum.to_dict().items() if abs(v) > 1e-2}
    assert set(recovered) == set(truth.to_dict())
    for key, value in truth.to_dict().items():
        assert recovered[key] == pytest.approx(value, abs=1e-10)


def test_without_the_triples_the_fit_is_not_exact_and_cv_says_so():
    """A missing column must show in the cross-validated R² (it can fail, unlike an echo)."""
    rng = np.random.default_rng(3)
    n = 30
    truth = known_game(n, rng)
    X = uniform_masks(rng, n, 1500)
    y = truth.evaluate(X)
    fit = fit_sparse_moebius(X, y, np.random.default_rng(0))
    H = np.random.default_rng(98).random((2000, n)) < 0.5
    yh = truth.evaluate(H)
    true_r2 = 1 - np.mean((fit.spectrum.evaluate(H) - yh) ** 2) / np.var(yh)
    assert true_r2 < 0.999
    assert abs(fit.cv_r2 - true_r2) < 0.02


def test_noisy_game_cv_tracks_held_out_r2_and_is_reproducible():
    rng = np.random.default_rng(4)
    n = 50
    truth = known_game(n, rng)
    X = uniform_masks(rng, n, 800)
    y = truth.evaluate(X) + rng.normal(scale=0.5, size=800)
    a = fit_sparse_moebius(X, y, np.random.default_rng(7))
    b = fit_sparse_moebius(X, y, np.random.default_rng(7))
    np.testing.assert_array_equal(a.spectrum.coefs, b.spectrum.coefs)
    H = np.random.default_rng(97).random((4000, n)) < 0.5
    yh = truth.evaluate(H) + np.random.default_rng(96).normal(scale=0.5, size=4000)
    true_r2 = 1 - np.mean((a.spectrum.evaluate(H) - yh) ** 2) / np.var(yh)
    assert abs(a.cv_r2 - true_r2) < 0.03


def test_proxy_supports_are_the_largest_moebius_terms():
    spectrum = SparseSpectrum.from_dict(6, {(0, 1, 2): 1.0, (3,): 2.0, (4, 5): -0.25})
    sup = proxy_supports(spectrum, 10)
    moebius = spectrum.to_moebius().to_dict()
    expected = sorted((k for k in moebius if len(k) >= 2), key=lambda k: -abs(moebius[k]))
    got = [tuple(int(p) for p in row if p != PAD) for row in sup]
    assert set(got) == set(expected)
    assert abs(moebius[got[0]]) == max(abs(moebius[k]) for k in expected)


def test_screened_pairs_do_not_make_the_cross_validation_optimistic():
    """Pure noise with many more pairs than slots: CV must not find signal (it did when the
    pairs were screened on all rows, test folds included)."""
    rng = np.random.default_rng(11)
    n = 80
    X = uniform_masks(rng, n, 400)
    y = rng.normal(size=400)
    fit = fit_sparse_moebius(X, y, np.random.default_rng(0), max_columns=300)
    assert fit.n_pairs < n * (n - 1) // 2  # the pairs were screened
    assert fit.cv_r2 < 0.05


def _noisy_sparse_problem(n=30, m=800, noise=0.6, seed=4):
    rng = np.random.default_rng(seed)
    truth = known_game(n, rng)
    X = uniform_masks(rng, n, m)
    return X, truth.evaluate(X) + noise * rng.normal(size=m)


def test_the_path_stopped_early_chooses_what_the_whole_path_chooses(monkeypatch):
    import shapiq_spex.proxy.sparse_regression as sr

    X, y = _noisy_sparse_problem()
    early = fit_sparse_moebius(X, y, np.random.default_rng(3))
    assert len(early.cv_path) < sr._N_ALPHAS  # it did stop before the smallest penalty
    monkeypatch.setattr(sr, "_PATH_PATIENCE", 10**6)
    whole = fit_sparse_moebius(X, y, np.random.default_rng(3))
    assert len(whole.cv_path) == sr._N_ALPHAS
    # the same iterates (warm starts continue the path), so the same choice and fit
    assert whole.cv_path[: len(early.cv_path)] == early.cv_path
    assert (whole.alpha, whole.relaxed) == (early.alpha, early.relaxed)
    np.testing.assert_allclose(whole.spectrum.coefs, early.spectrum.coefs, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(whole.oof, early.oof)


@pytest.mark.parametrize("n", [12, 60])  # every pair a column / pairs screened per fold
def test_out_of_fold_predictions_never_saw_their_row(n):
    # pure noise with free singletons: the fit on all rows explains some of the noise, a row's
    # out-of-fold prediction cannot (it comes from a fit without that row)
    rng = np.random.default_rng(5)
    X = uniform_masks(rng, n, 400)
    y = rng.normal(size=400)
    fit = fit_sparse_moebius(X, y, np.random.default_rng(0), force_singletons=True)

    def r2(pred):
        return 1.0 - np.mean((y - pred) ** 2) / np.var(y)

    assert fit.oof.shape == (400,)
    assert r2(fit.spectrum.evaluate(X)) > 0.01
    assert r2(fit.oof) < 0.0
    assert abs(r2(fit.oof) - fit.cv_r2) < 0.05  # the same folds' errors


def test_out_of_fold_predictions_track_the_cv_score_on_a_sparse_game():
    X, y = _noisy_sparse_problem(noise=0.2)
    fit = fit_sparse_moebius(X, y, np.random.default_rng(1))
    r2 = 1.0 - np.mean((y - fit.oof) ** 2) / np.var(y)
    assert r2 > 0.9
    assert abs(r2 - fit.cv_r2) < 0.01


@pytest.mark.parametrize(("n", "max_columns"), [(12, 1500), (60, 300)])
def test_folds_fitted_on_threads_give_the_same_fit(n, max_columns):
    """Every pair as a column (one Gram matrix) and screened pairs (one per fold)."""
    rng = np.random.default_rng(3)
    truth = known_game(n, rng)
    X = uniform_masks(rng, n, 600)
    y = truth.evaluate(X) + 0.2 * rng.normal(size=600)
    fits = [
        fit_sparse_moebius(X, y, np.random.default_rng(4), max_columns=max_columns, n_jobs=jobs)
        for jobs in (1, 3)
    ]
    assert (fits[0].n_pairs == n * (n - 1) // 2) == (n == 12)
    assert fits[1].spectrum.to_dict() == fits[0].spectrum.to_dict()
    assert fits[1].cv_path == fits[0].cv_path
    np.testing.assert_array_equal(fits[1].oof, fits[0].oof)


@pytest.mark.parametrize(("n", "window"), [(1, 4), (3, 4), (9, 4), (12, 5), (40, 4)])
def test_sequence_supports_are_every_near_set_once_tightest_first(n, window):
    """Brute force: the sets of 3..window players spanning at most ``window``, by span."""
    got = [tuple(p for p in row if p != PAD) for row in sequence_supports(n, window).tolist()]
    expected = {
        t
        for size in range(3, window + 1)
        for t in itertools.combinations(range(n), size)
        if t[-1] - t[0] < window
    }
    assert len(got) == len(set(got))
    assert set(got) == expected
    spans = [t[-1] - t[0] for t in got]
    assert spans == sorted(spans)  # a column cap cuts the widest spans first
    assert sequence_supports(n, window).shape[1] == max(window, 3)


def test_a_support_offered_twice_is_one_column():
    """Duplicates in ``extra`` (in any player order) give the fit of the deduplicated list."""
    rng = np.random.default_rng(5)
    n = 30
    truth = known_game(n, rng)
    X = uniform_masks(rng, n, 800)
    y = truth.evaluate(X) + 0.1 * rng.normal(size=800)
    triples = truth.supports[(truth.supports != PAD).sum(axis=1) == 3][:, :3]
    shuffled = widen(triples[:, [2, 0, 1]], 4)  # the same sets, players in another order
    triples = widen(triples, 4)
    local = sequence_supports(n)[:40]
    extra = np.concatenate([triples, local])
    twice = np.concatenate([triples, shuffled, local, local[:5]])
    assert twice.shape[0] > extra.shape[0]
    one = fit_sparse_moebius(X, y, np.random.default_rng(0), extra=extra)
    two = fit_sparse_moebius(X, y, np.random.default_rng(0), extra=twice)
    assert two.n_columns == one.n_columns
    assert two.spectrum.to_dict() == one.spectrum.to_dict()
