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
@pytest.mark.parametrize("width", [4, 130])  # 130: counts past int8, the int16 path
def test_float32_gram_is_exact(monkeypatch, basis, width):
    """The Gram is summed in float32 per chunk: it must equal the float64 product exactly."""
    import shapiq_spex.spectra.regression as reg

    monkeypatch.setattr(reg, "_CHUNK_ENTRIES", 4000)  # several chunks of ~100 rows
    rng = np.random.default_rng(2)
    n, m = 140, 517
    sup = np.full((37, width), -1, dtype=np.int64)
    for i in range(1, sup.shape[0]):
        k = int(rng.integers(1, width + 1))
        sup[i, :k] = np.sort(rng.choice(n, k, replace=False))
    sup[1, :width] = np.arange(width)  # one term of full width
    X = rng.random((m, n)) < 0.5
    y = rng.normal(size=m)
    G, b, _ = gram(X, y, sup, basis)
    A = design_matrix(X, sup, basis)
    np.testing.assert_array_equal(G, A.T @ A)  # integer counts: no rounding allowed
    np.testing.assert_allclose(b, A.T @ y, rtol=1e-13, atol=1e-12)


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


@pytest.mark.parametrize("alpha", ["gcv", 0.0, 0.5])
def test_normal_equations_of_disjoint_rows_add_up_to_the_fit_on_all(alpha):
    from shapiq_spex.spectra.regression import normal_equations, solve_normal_equations

    rng = np.random.default_rng(7)
    n = 12
    pairs = np.array([[0, 1], [2, 5], [3, 9]])
    sup = np.full((n + 4, 2), -1)
    sup[: n + 1, 0] = constant_and_linear(n)[:, 0]
    sup[n + 1 :] = pairs
    X = rng.random((300, n)) < 0.5
    y = rng.normal(size=300) + X[:, 0] * X[:, 1]
    whole = refit(X, y, sup, "fourier", alpha=alpha)
    parts = normal_equations(X[:200], y[:200], sup) + normal_equations(X[200:], y[200:], sup)
    assert parts.m == 300
    got = solve_normal_equations(parts, alpha=alpha)
    np.testing.assert_allclose(got.coefs, whole.coefs, rtol=0, atol=1e-12)
    assert got.alpha == pytest.approx(whole.alpha, rel=1e-12)
    assert got.gcv_r2 == pytest.approx(whole.gcv_r2, abs=1e-12)
    # and the first part alone is a different fit (the test can tell them apart)
    first = solve_normal_equations(normal_equations(X[:200], y[:200], sup), alpha=alpha)
    assert np.abs(first.coefs - whole.coefs).max() > 1e-3
