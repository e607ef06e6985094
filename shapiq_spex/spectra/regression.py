"""Least-squares refits of a spectrum on a fixed support, with bounded memory.

Both SPEX (after peeling) and ProxySPEX (after reading the trees) end by refitting the
coefficients of a candidate support on every queried coalition. The design matrix can be large
(``n_queries x support``), so it is never formed whole: its Gram matrix ``A^T A`` and ``A^T y``
are accumulated in row chunks, and ridge penalties are chosen from the Gram's eigenvalues by
generalized cross-validation (GCV), which needs no second pass over the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shapiq_spex._parallel import one_blas_thread
from shapiq_spex.spectra._subsets import PAD, count_dtype, degrees, float32_columns, incidence
from shapiq_spex.spectra.spectrum import Basis

__all__ = [
    "NormalEquations",
    "RefitResult",
    "design_matrix",
    "gram",
    "normal_equations",
    "refit",
    "solve_normal_equations",
]

_CHUNK_ENTRIES = 1 << 22


def design_matrix(masks: np.ndarray, supports: np.ndarray, basis: Basis = "fourier"):
    """Design matrix ``A[m, j] = chi_j(x_m)`` for the terms in ``supports``.

    Args:
        masks: ``(m, n)`` boolean coalitions.
        supports: ``(s, w)`` padded supports.
        basis: ``"fourier"`` gives ``(-1)^{|K_j ∩ x_m|}``; ``"moebius"`` gives ``[S_j ⊆ x_m]``.

    Returns:
        ``(m, s)`` float64 array.
    """
    masks = np.asarray(masks, dtype=bool)
    inc = incidence(np.asarray(supports, dtype=np.int64), masks.shape[1])
    counts = np.rint((inc @ masks.T.astype(np.float32)).T).astype(np.int64)  # (m, s)
    if basis == "fourier":
        return 1.0 - 2.0 * (counts & 1)
    return (counts == degrees(supports)[None, :]).astype(np.float64)


def gram(masks: np.ndarray, values: np.ndarray, supports: np.ndarray, basis: Basis = "fourier"):
    """Accumulate ``(A^T A, A^T y, y^T y)`` over row chunks of ``masks``.

    The design's entries are ``±1`` (Fourier) or ``0/1`` (Möbius), so every partial sum of
    ``A^T A`` over a chunk (fewer than ``2^24`` rows) is an integer exact in float32: the Gram
    is computed in float32 (half the time of float64) without rounding. ``A^T y`` stays float64.
    """
    masks = np.asarray(masks, dtype=bool)
    supports = np.asarray(supports, dtype=np.int64)
    s = supports.shape[0]
    G = np.zeros((s, s))
    b = np.zeros(s)
    inc = incidence(supports, masks.shape[1])
    deg = degrees(supports)[:, None]
    small = count_dtype(supports.shape[1])
    chunk = max(1, _CHUNK_ENTRIES // max(s, 1))
    for start in range(0, masks.shape[0], chunk):
        # (s, c) |K ∩ x|: exact small integers in the float32 product
        counts = (inc @ float32_columns(masks[start : start + chunk])).astype(small)
        if basis == "fourier":
            counts &= 1
            At = np.subtract(1, 2 * counts, dtype=np.float32)
        else:
            At = (counts == deg).astype(np.float32)
        G += (At @ At.T).astype(np.float64)
        b += At.astype(np.float64) @ values[start : start + chunk]
    return G, b, float(values @ values)


@dataclass(frozen=True)
class NormalEquations:
    """Sufficient statistics of a least-squares fit on a fixed support, over some rows.

    Sums over disjoint sets of rows add (``a + b``), so a fit on more coalitions costs only the
    new rows' Gram.

    Attributes:
        G: ``(s, s)`` ``A^T A``.
        b: ``(s,)`` ``A^T y``.
        yy: ``y^T y``.
        y_sum: ``Σ y``.
        m: number of rows.
    """

    G: np.ndarray
    b: np.ndarray
    yy: float
    y_sum: float
    m: int

    def restrict(self, index: np.ndarray) -> NormalEquations:
        """The normal equations of the terms ``index`` (positions in this support) alone."""
        index = np.asarray(index, dtype=np.int64)
        return NormalEquations(
            self.G[np.ix_(index, index)], self.b[index], self.yy, self.y_sum, self.m
        )

    def __add__(self, other: NormalEquations) -> NormalEquations:
        return NormalEquations(
            self.G + other.G,
            self.b + other.b,
            self.yy + other.yy,
            self.y_sum + other.y_sum,
            self.m + other.m,
        )


@one_blas_thread  # a Gram summed in a thread-count-dependent order would change the fit
def normal_equations(
    masks: np.ndarray, values: np.ndarray, supports: np.ndarray, basis: Basis = "fourier"
) -> NormalEquations:
    """:class:`NormalEquations` of the terms in ``supports`` over the rows of ``masks``."""
    values = np.asarray(values, dtype=np.float64)
    G, b, yy = gram(masks, values, supports, basis)
    return NormalEquations(G, b, yy, float(values.sum()), int(values.shape[0]))


@dataclass(frozen=True)
class RefitResult:
    """Outcome of :func:`refit`.

    Attributes:
        coefs: ``(s,)`` fitted coefficients.
        alpha: ridge penalty used (0.0 for plain least squares).
        train_r2: in-sample R² of the fit.
        gcv_r2: R² implied by the GCV estimate of the out-of-sample error (an honest
            estimate for the chosen penalty, not an in-sample number).
    """

    coefs: np.ndarray
    alpha: float
    train_r2: float
    gcv_r2: float


def refit(
    masks: np.ndarray,
    values: np.ndarray,
    supports: np.ndarray,
    basis: Basis = "fourier",
    *,
    alpha: float | str = "gcv",
    alphas: np.ndarray | None = None,
) -> RefitResult:
    """Fit coefficients of a fixed support to game values by (ridge) least squares.

    Args:
        masks: ``(m, n)`` boolean coalitions that were queried.
        values: ``(m,)`` game values.
        supports: ``(s, w)`` padded supports; include the constant term yourself.
        basis: basis of the functions the coefficients multiply.
        alpha: ``"gcv"`` chooses the penalty among ``alphas`` by generalized cross-validation;
            a float fixes it (``0.0`` = least squares, solved stably through the eigenbasis).
        alphas: candidate penalties for ``"gcv"``, relative to the mean Gram eigenvalue.
            Default: 0 and ``logspace(-10, 1, 23)``.

    Returns:
        A :class:`RefitResult`.
    """
    return solve_normal_equations(
        normal_equations(masks, values, supports, basis), alpha=alpha, alphas=alphas
    )


@one_blas_thread  # the same coefficients on any machine (see shapiq_spex._parallel)
def solve_normal_equations(
    eq: NormalEquations, *, alpha: float | str = "gcv", alphas: np.ndarray | None = None
) -> RefitResult:
    """The (ridge) least-squares fit of :func:`refit` from its :class:`NormalEquations`.

    Args:
        eq: the normal equations of the rows to fit.
        alpha: as for :func:`refit`.
        alphas: as for :func:`refit`.

    Returns:
        A :class:`RefitResult`.
    """
    G, b, yy, m = eq.G, eq.b, eq.yy, eq.m
    if G.shape[0] == 0:
        return RefitResult(np.zeros(0), 0.0, 0.0, 0.0)
    evals, evecs = np.linalg.eigh(G)
    evals = np.clip(evals, 0.0, None)
    bt = evecs.T @ b
    scale = float(evals.mean()) if evals.size else 1.0
    tss = yy - m * (eq.y_sum / m) ** 2 if m else 0.0
    tss = max(tss, 1e-300)
    tiny = evals.max() * 1e-12 if evals.size else 0.0

    def solve(a: float):
        # pseudo-inverse on numerically null directions keeps plain LS well defined
        denom = evals + a
        inv = np.where(denom > tiny, 1.0 / np.where(denom > tiny, denom, 1.0), 0.0)
        beta_t = inv * bt
        rss = yy - 2 * beta_t @ bt + beta_t @ (evals * beta_t)
        df = float(np.sum(evals * inv))
        return beta_t, max(rss, 0.0), df

    if isinstance(alpha, str):
        grid = np.concatenate([[0.0], np.logspace(-10, 1, 23)]) if alphas is None else alphas
        best = None
        # RSS comes from yy - 2 b'beta + beta'G beta, which cancels: differences below ~1e-9 of
        # yy are rounding, not evidence, so they never buy a penalty (noiseless fits stay exact).
        rss_noise = 1e-9 * max(yy, np.finfo(float).tiny)
        for rel in np.asarray(grid, dtype=float):  # a few dozen candidates, each O(s)
            beta_t, rss, df = solve(rel * scale)
            gcv = rss / max(m - df, 1e-12) ** 2 * m
            if best is None or gcv < best[0] - rss_noise * m / max(m - best[4], 1e-12) ** 2:
                best = (gcv, rel * scale, beta_t, rss, df)
        gcv, a, beta_t, rss, _df = best
    else:
        a = float(alpha)
        beta_t, rss, df = solve(a)
        gcv = rss / max(m - df, 1e-12) ** 2 * m
    coefs = evecs @ beta_t
    return RefitResult(coefs, a, 1.0 - rss / tss, 1.0 - gcv * m / tss)


def constant_and_linear(n: int) -> np.ndarray:
    """Padded supports of the empty set and every singleton, shape ``(n + 1, 1)``."""
    sup = np.full((n + 1, 1), PAD, dtype=np.int64)
    sup[1:, 0] = np.arange(n)
    return sup
