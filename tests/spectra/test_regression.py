from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra.regression import constant_and_linear, design_matrix, gram, refit


def test_design_matrix_matches_definition():
    rng = np.random.default_rng(0)
    spec = SparseSpectrum.from_dict(9, {(): 1.0, (0, 3): 1.0, (1, 2, 8): 1.0})
    X = rng.random((50, 9)) < 0.5
    A = design_matrix(X, spec.supports, "fourier")
    for j, row in enumerate(spec.supports):
        k = row[row >= 0]
        np.testing.assert_array_equal(A[:, j], (-1.0) ** X[:, k].sum(axis=1))
    B = design_matrix(X, spec.supports, "moebius")
    for j, row in enumerate(spec.supports):
        k = row[row >= 0]
        np.testing.assert_array_equal(B[:, j], X[:, k].all(axis=1).astype(float))


def test_chunked_gram_equals_dense(monkeypatch):
    import shapiq_spex.spectra.regression as reg

    monkeypatch.setattr(reg, "_CHUNK_ENTRIES", 64)  # force many chunks
    rng = np.random.default_rng(1)
    sup = constant_and_linear(6)
    X = rng.random((101, 6)) < 0.5
    y = rng.normal(size=101)
    G, b, yy = gram(X, y, sup)
    A = design_matrix(X, sup)
    np.testing.assert_allclose(G, A.T @ A)
    np.testing.assert_allclose(b, A.T @ y)
    assert yy == pytest.approx(y @ y)


@pytest.mark.parametrize("basis", ["fourier", "moebius"])
def test_refit_recovers_noiseless_coefficients(basis):
    rng = np.random.default_rng(2)
    spec = SparseSpectrum.from_dict(30, {(): 0.3, (1,): -1.0, (4, 7): 0.8, (2, 9, 20): 0.4}, basis)
    X = rng.random((400, 30)) < 0.5
    res = refit(X, spec.evaluate(X), spec.supports, basis, alpha=0.0)
    np.testing.assert_allclose(res.coefs, spec.coefs, atol=1e-10)
    assert res.train_r2 == pytest.approx(1.0)


def test_gcv_picks_no_penalty_without_noise_and_one_with_noise():
    rng = np.random.default_rng(3)
    sup = constant_and_linear(40)
    coefs = rng.normal(size=41) * 0.05
    spec = SparseSpectrum(40, sup, coefs)
    X = rng.random((120, 40)) < 0.5
    clean = refit(X, spec.evaluate(X), spec.supports)
    assert clean.alpha == 0.0
    noisy = refit(X, spec.evaluate(X) + rng.normal(size=120), spec.supports)
    assert noisy.alpha > 0.0
    # the penalty shrinks: ridge coefficients have a smaller norm than least squares
    ls = refit(X, spec.evaluate(X) + rng.normal(size=120) * 0, spec.supports, alpha=0.0)
    assert np.linalg.norm(noisy.coefs) < np.linalg.norm(ls.coefs) + 10
