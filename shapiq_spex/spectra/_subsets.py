"""Padded-support arithmetic: canonical form and the subset-distribution engine.

A set of interactions is stored as an ``(s, w)`` int64 array: row ``i`` lists the players of
interaction ``i`` in ascending order, padded at the end with ``-1``. Every basis change and every
index conversion in this package is one call of :func:`distribute`: each term ``T`` sends
``coef(T) * weights[|T|, |S|]`` to each of its subsets ``S``. Cost is
``sum_T sum_{j <= max_size} C(|T|, j)``: it grows with the support, never with ``2**n``.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

__all__ = [
    "canonicalize",
    "count_dtype",
    "degrees",
    "distribute",
    "float32_columns",
    "incidence",
    "pad_supports",
    "row_keys",
    "widen",
]

PAD = -1


def degrees(supports: np.ndarray) -> np.ndarray:
    """Number of players in each interaction, shape ``(s,)``."""
    return (supports >= 0).sum(axis=1)


def widen(supports: np.ndarray, width: int) -> np.ndarray:
    """Pad a ``(s, w)`` support array with ``PAD`` columns to ``(s, width)``, ``width >= w``."""
    return np.pad(supports, ((0, 0), (0, width - supports.shape[1])), constant_values=PAD)


def row_keys(rows: np.ndarray) -> np.ndarray:
    """One opaque, sortable key per padded support row (its bytes), for set operations on rows."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    return rows.view(np.dtype((np.void, 8 * rows.shape[1]))).ravel()


def incidence(supports: np.ndarray, n: int):
    """Sparse ``(s, n)`` float32 0/1 matrix with a one for each player of each term."""
    import scipy.sparse as sp

    r, c = np.nonzero(supports >= 0)
    data = np.ones(r.size, dtype=np.float32)
    return sp.csr_array((data, (r, supports[r, c])), shape=(supports.shape[0], n))


def count_dtype(width: int) -> type:
    """Smallest integer type that holds every ``|K ∩ x|`` of supports ``width`` columns wide."""
    return np.int8 if width < 128 else np.int16


def float32_columns(masks: np.ndarray) -> np.ndarray:
    """``(n, m)`` float32 transpose of ``(m, n)`` bool coalitions, for ``incidence(...) @ it``.

    The bool matrix is transposed before the cast, which moves a quarter of the bytes.
    """
    return np.ascontiguousarray(np.asarray(masks, dtype=bool).T).astype(np.float32)


def pad_supports(rows: list[tuple[int, ...]] | list[list[int]], width: int | None = None):
    """Build a padded ``(s, width)`` support array from a list of player tuples (sorted here)."""
    rows = [sorted(r) for r in rows]
    w = max((len(r) for r in rows), default=0) if width is None else width
    out = np.full((len(rows), w), PAD, dtype=np.int64)
    for i, r in enumerate(rows):  # construction from Python objects only, never on hot paths
        out[i, : len(r)] = r
    return out


def canonicalize(supports: np.ndarray, coefs: np.ndarray, *, drop_zeros: bool = False):
    """Sum duplicate interactions, shrink the padding and sort rows by (degree, players).

    Args:
        supports: ``(s, w)`` int array, rows ascending and padded with ``-1`` at the end.
        coefs: ``(s,)`` coefficients.
        drop_zeros: remove terms whose summed coefficient is exactly ``0.0``.

    Returns:
        ``(supports, coefs)`` with unique rows.
    """
    supports = np.asarray(supports, dtype=np.int64)
    coefs = np.asarray(coefs, dtype=np.float64)
    if supports.ndim != 2 or coefs.shape != (supports.shape[0],):
        msg = f"supports must be (s, w) and coefs (s,). Got {supports.shape} and {coefs.shape}."
        raise ValueError(msg)
    if supports.shape[0] == 0:
        return np.zeros((0, 0), dtype=np.int64), np.zeros(0)
    width = int(degrees(supports).max())
    supports = supports[:, :width]
    # Sort key: degree first, then the players; padding -1 sorts before players, so put degree
    # as the leading column to keep (degree, lexicographic) order.
    keyed = np.concatenate([degrees(supports)[:, None], supports], axis=1)
    uniq, inverse = np.unique(keyed, axis=0, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=coefs, minlength=uniq.shape[0])
    out = uniq[:, 1:]
    if drop_zeros:
        keep = summed != 0.0
        out, summed = out[keep], summed[keep]
    return np.ascontiguousarray(out), summed


def distribute(
    supports: np.ndarray,
    coefs: np.ndarray,
    weights: np.ndarray,
    max_size: int | None = None,
    *,
    min_size: int = 0,
):
    """Send every term's coefficient to its subsets with a weight that depends on both sizes.

    ``out[S] = sum_{T ⊇ S} weights[|T|, |S|] * coefs[T]`` for ``min_size <= |S| <= max_size``.

    Args:
        supports: ``(s, w)`` padded supports of the input terms.
        coefs: ``(s,)`` input coefficients.
        weights: ``(w + 1, max_size + 1)`` table (or larger) indexed ``[|T|, |S|]``.
        max_size: largest subset size produced; ``None`` means every subset.
        min_size: smallest subset size produced.

    Returns:
        ``(supports, coefs)`` in canonical form (duplicates summed; terms that cancel to 0 stay).
    """
    supports = np.asarray(supports, dtype=np.int64)
    coefs = np.asarray(coefs, dtype=np.float64)
    deg = degrees(supports) if supports.size else np.zeros(supports.shape[0], dtype=np.int64)
    top = int(deg.max()) if deg.size else 0
    max_size = top if max_size is None else min(int(max_size), top)
    out_rows: list[np.ndarray] = []
    out_coefs: list[np.ndarray] = []
    for d in np.unique(deg):
        sel = deg == d
        rows = supports[sel, :d]
        c = coefs[sel]
        for j in range(min_size, min(int(d), max_size) + 1):
            w = weights[d, j] if d < weights.shape[0] and j < weights.shape[1] else 0.0
            if w == 0.0:
                continue
            if j == 0:
                sub = np.full((rows.shape[0], max(max_size, 1)), PAD, dtype=np.int64)
                out_rows.append(sub)
                out_coefs.append(c * w)
                continue
            combos = np.array(list(combinations(range(int(d)), j)), dtype=np.int64)
            sub = rows[:, combos].reshape(-1, j)
            padded = np.full((sub.shape[0], max(max_size, 1)), PAD, dtype=np.int64)
            padded[:, :j] = sub
            out_rows.append(padded)
            out_coefs.append(np.repeat(c * w, combos.shape[0]))
    if not out_rows:
        return np.zeros((0, 0), dtype=np.int64), np.zeros(0)
    merged = canonicalize(np.concatenate(out_rows), np.concatenate(out_coefs))
    return merged
