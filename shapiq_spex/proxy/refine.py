"""Support selection and refit: how many of the proxy's Fourier terms to keep, chosen by validation.

shapiq's ProxySPEX keeps the terms holding 95% of the proxy's spectral energy and refits them.
A fixed energy cut caps faithfulness near 0.95 by construction (it throws away the last 5%).
Here the number of terms is chosen from the data instead:

1. The constant and every first-order term are always kept (``forced``), as are any extra
   forced supports; with ``linear="selected"`` the singletons compete like other candidates
   (for ``n`` close to the number of rows, where forcing ``n`` terms leaves no room).
2. The other candidates form a pool (those with the largest ``|coef|`` when they do not all fit
   the memory cap). Along a geometric grid of support sizes ``k`` (0, 8, 16, 24, 32, 48, 72, ...
   up to about the number of fitting rows) the support grows by blocks in two orderings:
   ``"magnitude"`` (by decreasing proxy coefficient) and ``"pursuit"`` (block orthogonal
   matching pursuit: the free candidates most correlated with the current residual). At every
   grid point the forced terms plus the first ``k`` candidates are fitted by ridge regression on
   the *fitting* rows, for a few penalties, and scored on the *validation* rows. The Gram matrix
   grows block by block, so each grid point costs one Cholesky solve per penalty; a sweep stops
   once the validation error has not improved for three grid points in a row. The proxy's
   magnitudes are a poor ranking when trees are deep (true terms rank in the thousands), which
   pursuit fixes; with very few rows the magnitude order is the safer prior. Validation decides.
3. The best ``(ordering, k)`` fixes the support. Its *closure* (every subset of its terms of
   degree <= 6 that it lacks) is then tried as one block: a Möbius term on ``T`` is a sum of
   Fourier terms on all subsets of ``T``, so a hierarchical game's smallest Fourier terms sit
   under its large ones, often below the proxy's resolution. The block is kept when it lowers
   the validation error (by the same relative margin a grid point needs).
4. The support is refitted on all training rows with
   :func:`~shapiq_spex.spectra.regression.refit` (ridge penalty by GCV, least squares allowed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from shapiq_spex._parallel import thread_map
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra._subsets import (
    PAD,
    count_dtype,
    degrees,
    distribute,
    float32_columns,
    incidence,
    row_keys,
    widen,
)
from shapiq_spex.spectra.regression import refit
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = ["Refinement", "prefix_grid", "select_and_refit"]

# Penalties tried at every prefix, relative to the mean diagonal of the Gram matrix.
_RELATIVE_PENALTIES = (1e-9, 1e-4, 1e-2, 1e-1)
_PATIENCE = 3
_GROWTH = 1.5
_ORDERINGS = ("magnitude", "pursuit")
# The candidate pool's int8 designs are capped at about this many entries (64 MB).
_POOL_ENTRIES = 1 << 26
# Float work arrays are built in column chunks of about this many entries.
_DESIGN_CHUNK = 1 << 22
# The closure step takes subsets of terms up to this degree (2^6 subsets each at most).
_CLOSURE_DEGREE = 6


@dataclass(frozen=True)
class Refinement:
    """Result of :func:`select_and_refit`.

    Attributes:
        spectrum: the refitted Fourier spectrum (forced terms plus the chosen candidates).
        n_candidates: candidates ranked (after ``max_terms``), forced terms excluded.
        n_forced: terms kept unconditionally (the constant, the singletons unless
            ``linear="selected"``, extra forced).
        n_selected: candidates kept on top of the forced terms.
        validation_r2: validation R² of the chosen prefix (NaN without validation rows).
        alpha: ridge penalty of the final refit (chosen by GCV).
        gcv_r2: GCV estimate of the final refit's out-of-sample R².
        path: ``{ordering: [(k, validation R² at k), ...]}`` for every grid point evaluated.
        ordering: the candidate ordering that won (``"magnitude"`` or ``"pursuit"``; ``"none"``
            without validation rows).
        n_closure: subsets of the chosen terms added by the closure step (0 when it did not
            lower the validation error); counted in ``n_selected`` too.
    """

    spectrum: SparseSpectrum
    n_candidates: int
    n_forced: int
    n_selected: int
    validation_r2: float
    alpha: float
    gcv_r2: float
    path: dict = field(default_factory=dict)
    ordering: str = "none"
    n_closure: int = 0


def prefix_grid(limit: int) -> np.ndarray:
    """Prefix sizes ``0, 8, 16, 24, 32, 48, ...`` (about ×1.5 per step) up to ``limit``, inclusive.

    Returns:
        ``(g,)`` int64 ascending, starting at 0 and ending at ``limit``.
    """
    grid = [0]
    k = 8
    while k < limit:
        grid.append(k)
        k = max(k + 8, round(k * _GROWTH / 8.0) * 8)
    if limit > 0:
        grid.append(limit)
    return np.asarray(grid, dtype=np.int64)


def _split_forced(
    n: int, supports: np.ndarray, coefs: np.ndarray, forced: np.ndarray | None, linear: str
):
    """Forced supports (constant, singletons, extra) and the remaining candidates by |coef|.

    Returns:
        ``(forced (f, w), ranked (r, w))`` padded to a common width; ``ranked`` holds the
        candidates that are not forced, by decreasing ``|coef|``.
    """
    extra = np.zeros((0, 1), np.int64) if forced is None else np.asarray(forced, np.int64)
    width = max(supports.shape[1], extra.shape[1], 1)
    players = np.arange(n) if linear == "all" else np.zeros(0, dtype=np.int64)
    base = np.full((players.size + 1, width), PAD, dtype=np.int64)
    base[1:, 0] = players
    extra = widen(extra, width)
    # the constant (and with linear="all" every singleton) is in `base` already
    extra = extra[degrees(extra) >= (2 if linear == "all" else 1)]
    if extra.shape[0]:
        extra = extra[np.sort(np.unique(row_keys(extra), return_index=True)[1])]
    cand = widen(np.asarray(supports, np.int64), width)
    keep = degrees(cand) >= (2 if linear == "all" else 1)
    if extra.shape[0]:
        keep &= ~np.isin(row_keys(cand), row_keys(extra))
    cand, score = cand[keep], np.abs(np.asarray(coefs, dtype=np.float64)[keep])
    order = np.argsort(-score, kind="stable")
    return np.concatenate([base, extra]), cand[order]


def _design_rows(masks: np.ndarray, supports: np.ndarray) -> np.ndarray:
    """Transposed ±1 Fourier design ``(s, m)`` int8: row ``j`` is ``chi_j`` on every coalition.

    ``|K_j ∩ x|`` is one sparse product in float32 (exact small integers); its parity is taken
    in int8, in row chunks of bounded memory.
    """
    s, m = supports.shape[0], masks.shape[0]
    out = np.empty((s, m), dtype=np.int8)
    if s == 0 or m == 0:
        return out
    inc = incidence(supports, masks.shape[1])
    xt = float32_columns(masks)  # (n, m)
    step = max(1, _DESIGN_CHUNK // m)
    wide = count_dtype(supports.shape[1])
    for start in range(0, s, step):
        counts = (inc[start : start + step] @ xt).astype(wide)  # exact: counts <= degree
        counts &= 1
        out[start : start + step] = 1 - 2 * counts
    return out


def _correlations(P: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``|P r|`` for an int8 ``(K, m)`` transposed design, converted in row chunks."""
    out = np.empty(P.shape[0])
    r32 = r.astype(np.float32)
    step = max(1, _DESIGN_CHUNK // max(P.shape[1], 1))
    for c in range(0, P.shape[0], step):
        out[c : c + step] = np.abs(P[c : c + step].astype(np.float32) @ r32)
    return out


class _GrowingGram:
    """Ridge fits on the fitting rows for a support that grows by column blocks.

    ``±1`` entries and integer sums below ``2^24`` are exact in float32, so the Gram blocks are
    computed in float32 and stored in float64 without rounding error (``m < 16.7`` million).
    """

    def __init__(self, fit_values: np.ndarray, val_values: np.ndarray) -> None:
        self.y = fit_values
        self.y_val = val_values
        self.A = np.zeros((0, fit_values.shape[0]), dtype=np.int8)  # transposed: (p, m_fit)
        self.V = np.zeros((0, val_values.shape[0]), dtype=np.int8)
        self.G = np.zeros((0, 0))
        self.b = np.zeros(0)

    @property
    def size(self) -> int:
        return self.G.shape[0]

    def add(self, fit_rows: np.ndarray, val_rows: np.ndarray) -> None:
        """Append terms given by their transposed int8 designs ``(d, m_fit)``, ``(d, m_val)``."""
        if fit_rows.shape[0] == 0:
            return
        nf = fit_rows.astype(np.float32)
        cross = (self.A.astype(np.float32) @ nf.T).astype(np.float64)
        k, d = self.size, fit_rows.shape[0]
        G = np.empty((k + d, k + d))
        G[:k, :k] = self.G
        G[:k, k:] = cross
        G[k:, :k] = cross.T
        G[k:, k:] = (nf @ nf.T).astype(np.float64)
        self.G = G
        self.b = np.concatenate([self.b, nf.astype(np.float64) @ self.y])
        self.A = np.concatenate([self.A, fit_rows])
        self.V = np.concatenate([self.V, val_rows])

    def fit(self) -> tuple[float, np.ndarray]:
        """Ridge over the penalty grid; the validation SSE and coefficients of the best one."""
        p = self.size
        scale = float(np.trace(self.G)) / max(p, 1)
        V = self.V.T.astype(np.float64)
        best = (np.inf, np.zeros(p))
        for rel in _RELATIVE_PENALTIES:
            try:
                factor = sla.cho_factor(self.G + rel * scale * np.eye(p), check_finite=False)
            except np.linalg.LinAlgError:
                continue  # numerically singular at this penalty; the larger ones still run
            beta = sla.cho_solve(factor, self.b, check_finite=False)
            resid = self.y_val - V @ beta
            sse = float(resid @ resid)
            if sse < best[0]:
                best = (sse, beta)
        return best


def _sweep(mode: str, gram: _GrowingGram, P_fit, P_val, grid):
    """Grow the support along one candidate ordering and score every grid point.

    ``"magnitude"`` adds candidates in pool order (by decreasing ``|proxy coefficient|``);
    ``"pursuit"`` adds, at each step, the free candidates most correlated with the current
    residual on the fitting rows (block orthogonal matching pursuit).

    Returns:
        ``(picked pool indices in order, best k, its validation SSE, [(k, R²), ...])``.
    """
    tss = float(((gram.y_val - gram.y_val.mean()) ** 2).sum())
    free = np.ones(P_fit.shape[0], dtype=bool)
    order: list[np.ndarray] = []
    best_k, best_sse, stale = 0, np.inf, 0
    path = []
    for i, k in enumerate(grid):
        sse, beta = gram.fit()
        path.append((int(k), 1.0 - sse / tss if tss > 0 else float("nan")))
        # an improvement must be real: relative 1e-9, and 1e-12 of the variance (exact fits)
        if not np.isfinite(best_sse) or sse < best_sse - max(1e-9 * best_sse, 1e-12 * tss):
            best_k, best_sse, stale = int(k), sse, 0
        else:
            stale += 1
        if stale >= _PATIENCE or i + 1 == grid.size:
            break
        block = int(grid[i + 1] - k)
        if mode == "magnitude":
            pick = np.arange(k, k + block)
        else:
            resid = gram.y - beta @ gram.A.astype(np.float64)
            score = np.where(free, _correlations(P_fit, resid), -1.0)
            pick = np.argpartition(-score, block - 1)[:block]
            pick = pick[np.argsort(-score[pick], kind="stable")]
        free[pick] = False
        order.append(pick)
        gram.add(P_fit[pick], P_val[pick])
    picked = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    return picked, best_k, best_sse, path


def select_and_refit(
    masks: np.ndarray,
    values: np.ndarray,
    supports: np.ndarray,
    coefs: np.ndarray,
    *,
    validation: np.ndarray,
    max_terms: int | None = None,
    forced: np.ndarray | None = None,
    linear: str = "all",
    max_selected: int | None = None,
    n_jobs: int = 1,
) -> Refinement:
    """Choose which candidate terms to keep by validation, then refit them on all rows.

    Args:
        masks: ``(m, n)`` boolean training coalitions (fitting and validation rows).
        values: ``(m,)`` their game values.
        supports: ``(s, w)`` padded candidate supports (e.g. the proxy's Fourier terms).
        coefs: ``(s,)`` candidate scores; when the candidates do not all fit in the pool, the
            pool holds those with the largest ``|coefs|``.
        validation: ``(m,)`` boolean, rows used only to score support sizes. With fewer than 2
            validation rows no selection is possible and every pooled candidate (up to the
            number of rows) is kept.
        max_terms: pool at most this many candidates (``None`` = as many as memory allows,
            about ``2^26`` design entries).
        forced: ``(f, w')`` extra supports always kept (the constant is always kept anyway).
        linear: ``"all"`` keeps every first-order term unconditionally; ``"selected"`` treats
            the singletons among ``supports`` as ordinary candidates (for ``n`` close to or above
            the number of rows, where forcing ``n`` terms would leave no room). Defaults to
            ``"all"``.
        max_selected: most candidates kept on top of the forced terms (``None`` = up to about
            the number of fitting rows). A caller that uses only the strongest few hundred
            supports caps it: the ridge fits of the sweep cost the cube of the support size.
        n_jobs: threads; the designs are built and the orderings swept side by side (the same
            values). Defaults to 1.

    Returns:
        A :class:`Refinement` with a Fourier spectrum on ``n = masks.shape[1]`` players.

    Raises:
        InvalidParameterError: ``linear`` is not ``"all"`` or ``"selected"``.
    """
    if linear not in ("all", "selected"):
        msg = f"The 'linear' parameter must be 'all' or 'selected'. Got {linear!r}."
        raise InvalidParameterError(msg)
    masks = np.asarray(masks, dtype=bool)
    values = np.asarray(values, dtype=np.float64)
    validation = np.asarray(validation, dtype=bool)
    n = masks.shape[1]
    force, ranked = _split_forced(n, supports, coefs, forced, linear)
    pool_cap = max(1, _POOL_ENTRIES // max(masks.shape[0], 1))
    pool = ranked[: pool_cap if max_terms is None else min(max_terms, pool_cap)]
    fit_rows = ~validation
    m_fit = int(fit_rows.sum())
    limit = int(min(pool.shape[0], max(m_fit - force.shape[0], m_fit // 2)))
    if max_selected is not None:
        limit = min(limit, int(max_selected))
    path: dict[str, list[tuple[int, float]]] = {}
    order_used = "none"
    n_closure = 0
    if validation.sum() >= 2 and limit > 0:
        y_fit, y_val = values[fit_rows], values[validation]
        jobs = [(rows, terms) for terms in (pool, force) for rows in (fit_rows, validation)]
        P_fit, P_val, F_fit, F_val = thread_map(
            lambda job: _design_rows(masks[job[0]], job[1]), jobs, n_jobs
        )
        grid = prefix_grid(limit)

        def sweep(mode):
            gram = _GrowingGram(y_fit, y_val)
            gram.add(F_fit, F_val)
            return _sweep(mode, gram, P_fit, P_val, grid)

        best = None
        for mode, (picked, k, sse, path[mode]) in zip(
            _ORDERINGS, thread_map(sweep, _ORDERINGS, n_jobs), strict=True
        ):
            if best is None or sse < best[2] - 1e-9 * best[2]:
                best = (picked, k, sse, mode)
        picked, best_k, best_sse, order_used = best
        selected = pool[picked[:best_k]]
        tss = float(((y_val - y_val.mean()) ** 2).sum())
        closure = _closure(force, selected, 2 if linear == "all" else 1)
        room = max(m_fit - force.shape[0] - selected.shape[0], 0) // 2
        if max_selected is not None:
            room = min(room, int(max_selected) - selected.shape[0])
        if 0 < closure.shape[0] <= room:
            gram = _GrowingGram(y_fit, y_val)
            gram.add(F_fit, F_val)  # the designs of the forced and chosen terms are at hand
            gram.add(P_fit[picked[:best_k]], P_val[picked[:best_k]])
            gram.add(
                _design_rows(masks[fit_rows], closure), _design_rows(masks[validation], closure)
            )
            sse, _ = gram.fit()
            if sse < best_sse - max(1e-9 * best_sse, 1e-12 * tss):
                selected, best_sse, n_closure = (
                    np.concatenate([selected, closure]),
                    sse,
                    closure.shape[0],
                )
        val_r2 = 1.0 - best_sse / tss if tss > 0 else float("nan")
    else:
        selected, val_r2 = pool[:limit], float("nan")
    chosen = np.concatenate([force, selected])
    chosen = chosen[:, : max(int(degrees(chosen).max()), 1)]
    fit = refit(masks, values, chosen, "fourier", alpha="gcv")
    spectrum = SparseSpectrum(n, chosen, fit.coefs, "fourier")
    return Refinement(
        spectrum=spectrum,
        n_candidates=int(pool.shape[0]),
        n_forced=int(force.shape[0]),
        n_selected=int(selected.shape[0]),
        validation_r2=val_r2,
        alpha=fit.alpha,
        gcv_r2=fit.gcv_r2,
        path=path,
        ordering=order_used,
        n_closure=int(n_closure),
    )


def _closure(force: np.ndarray, selected: np.ndarray, min_degree: int) -> np.ndarray:
    """Subsets (degree ``>= min_degree``) of the chosen terms that are not chosen themselves.

    ``force`` and ``selected`` share one padded width (as :func:`_split_forced` returns them).
    Only terms of degree ``<= _CLOSURE_DEGREE`` contribute, so the block is at most
    ``2^_CLOSURE_DEGREE`` times the support.
    """
    width = selected.shape[1]
    chosen = np.concatenate([force, selected])
    deg = degrees(chosen)
    parents = chosen[(deg > min_degree) & (deg <= _CLOSURE_DEGREE)]
    if parents.shape[0] == 0:
        return np.zeros((0, width), dtype=np.int64)
    ones = np.ones((_CLOSURE_DEGREE + 1, _CLOSURE_DEGREE + 1))
    subsets, _ = distribute(parents, np.zeros(parents.shape[0]), ones, min_size=min_degree)
    subsets = widen(subsets, width)
    known = row_keys(chosen)
    return subsets[~np.isin(row_keys(subsets), known)]
