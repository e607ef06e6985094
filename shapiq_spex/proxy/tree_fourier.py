"""Exact Fourier spectrum of a fitted tree ensemble on 0/1 inputs, vectorized over all leaves.

On inputs ``x ∈ {0, 1}^n`` a tree is a sum over its leaves of ``value * [x reaches the leaf]``,
and reaching a leaf is a product over the edges of its root path of one-feature indicators.
With ``χ_i(x) = (-1)^{x_i}`` (the Fourier convention of :class:`~shapiq_spex.SparseSpectrum`,
``x_i = 1`` = player kept):

* ``[x_i = 0] = (1 + χ_i) / 2`` and ``[x_i = 1] = (1 - χ_i) / 2``;
* an edge that both values pass is the constant 1 and one that neither passes is 0.

Each edge is therefore described by which of the two values pass it, ``(p0, p1)``. Edges of one
path that test the same feature multiply pointwise, ``(p0, p1) * (q0, q1) = (p0 q0, p1 q1)``
(``χ_i² = 1``), so a path that splits on a feature twice is merged into one factor before the
expansion: it is either the same indicator again, the constant 1, or 0 (an unreachable leaf).
A leaf whose merged path has ``d`` informative features ``f_1 < ... < f_d`` with signs
``s_j = +1`` (``x = 0`` passes) or ``-1`` (``x = 1`` passes) contributes

    value / 2^d * Π_{j ∈ J} s_j   to the Fourier coefficient of  {f_j : j ∈ J},  for all J.

This is the recursion ``F = (L + R)/2`` on ``S`` and ``(L - R)/2`` on ``S ∪ {i}`` unrolled along
each root-to-leaf path. The implementation never recurses in Python: all trees are walked level by
level at once (one vectorized step per depth), leaves are grouped by path length, every
``(leaf, subset)`` pair becomes one integer key by a small integer matrix product, and equal keys
are summed with one ``np.unique``.

The models are read into flat node arrays by :mod:`shapiq_spex.proxy.tree_arrays`.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.proxy.tree_arrays import TreeEnsembleArrays, ensemble_arrays
from shapiq_spex.spectra._subsets import PAD
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = ["tree_spectrum", "tree_terms"]

# Expansions are processed in chunks of about this many (leaf, subset) pairs.
_CHUNK_PAIRS = 1 << 21
_DEFAULT_MAX_EXPANSION = 50_000_000
# Keys below this bound (terms of low degree) are summed with a dense bincount instead of a sort.
_DENSE_KEYS = 1 << 22


# ----------------------------------------------------------------------------- leaves
def _leaf_paths(arr: TreeEnsembleArrays):
    """Walk all trees level by level; return every reachable leaf with its merged path.

    Returns:
        ``(value (L,), features (L, D) int64 padded -1, p0 (L, D) bool, p1 (L, D) bool)`` where
        column ``j`` of a leaf's path holds one feature and which of ``x = 0`` / ``x = 1`` reach
        the leaf through all edges that test it.
    """
    cur = arr.roots.copy()
    feats = np.full((cur.size, 0), PAD, dtype=np.int64)
    p0 = np.ones((cur.size, 0), dtype=bool)
    p1 = np.ones((cur.size, 0), dtype=bool)
    out = []
    while cur.size:
        is_leaf = arr.left[cur] < 0
        if is_leaf.any():
            out.append((arr.value[cur[is_leaf]], feats[is_leaf], p0[is_leaf], p1[is_leaf]))
        inner = cur[~is_leaf]
        if inner.size == 0:
            break
        f = np.tile(arr.feature[inner], 2)
        q0 = np.concatenate([arr.left_if0[inner], ~arr.left_if0[inner]])
        q1 = np.concatenate([arr.left_if1[inner], ~arr.left_if1[inner]])
        cur = np.concatenate([arr.left[inner], arr.right[inner]])
        feats = np.tile(feats[~is_leaf], (2, 1))
        p0 = np.tile(p0[~is_leaf], (2, 1))
        p1 = np.tile(p1[~is_leaf], (2, 1))
        hit = feats == f[:, None]  # the feature was already tested on this path: merge
        seen = hit.any(axis=1)
        p0 &= ~hit | q0[:, None]
        p1 &= ~hit | q1[:, None]
        feats = np.concatenate([feats, np.where(seen, PAD, f)[:, None]], axis=1)
        p0 = np.concatenate([p0, (seen | q0)[:, None]], axis=1)
        p1 = np.concatenate([p1, (seen | q1)[:, None]], axis=1)
        alive = ~(~p0 & ~p1).any(axis=1)  # an edge neither value passes: unreachable subtree
        cur, feats, p0, p1 = cur[alive], feats[alive], p0[alive], p1[alive]
    width = max((o[1].shape[1] for o in out), default=0)

    def pad(a, fill):
        return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill)

    value = np.concatenate([o[0] for o in out]) if out else np.zeros(0)
    feats = np.concatenate([pad(o[1], PAD) for o in out]) if out else np.zeros((0, 0), np.int64)
    p0 = np.concatenate([pad(o[2], True) for o in out]) if out else np.zeros((0, 0), bool)
    p1 = np.concatenate([pad(o[3], True) for o in out]) if out else np.zeros((0, 0), bool)
    return value, feats, p0, p1


def _subset_table(d: int, max_degree: int) -> np.ndarray:
    """``(T, d)`` bool: every subset of ``d`` positions with at most ``max_degree`` elements."""
    rows = [np.zeros(d, dtype=bool)]
    for j in range(1, min(d, max_degree) + 1):
        for combo in combinations(range(d), j):  # table of size Σ C(d, j): tiny, built once
            r = np.zeros(d, dtype=bool)
            r[list(combo)] = True
            rows.append(r)
    return np.array(rows, dtype=bool).reshape(len(rows), d)


def _digits_per_word(n: int) -> int:
    """How many base-``(n + 1)`` digits fit in a signed 64-bit key."""
    base = n + 1
    k, acc = 0, 1
    while acc * base < 2**63:
        acc *= base
        k += 1
    return max(k, 1)


def _decode(keys: np.ndarray, n: int, per_word: int, width: int) -> np.ndarray:
    """``(u, n_words)`` int64 keys → ``(u, width)`` padded supports (ascending players)."""
    digits = np.concatenate(
        [(keys[:, [w]] // (n + 1) ** np.arange(per_word)) % (n + 1) for w in range(keys.shape[1])],
        axis=1,
    )[:, :width]
    return digits.astype(np.int64) - 1  # digit 0 = empty slot → PAD (-1)


def tree_terms(
    model,
    n: int | None = None,
    *,
    max_degree: int | None = None,
    max_expansion: int = _DEFAULT_MAX_EXPANSION,
) -> tuple[np.ndarray, np.ndarray]:
    """Fourier terms of a fitted tree ensemble as raw arrays (see :func:`tree_spectrum`).

    Args:
        model: a fitted tree model (see :func:`ensemble_arrays`) or a
            :class:`TreeEnsembleArrays`.
        n: number of players; defaults to the model's number of features.
        max_degree: keep only terms of at most this many players (``None`` = all, exact).
        max_expansion: refuse to expand more than this many ``(leaf, subset)`` pairs.

    Returns:
        ``(supports (s, w) int64, coefs (s,) float64)``: distinct supports, players ascending
        and padded with -1, the constant term first. Exact-zero sums may be left out.
    """
    arr = model if isinstance(model, TreeEnsembleArrays) else ensemble_arrays(model)
    n = arr.n_features if n is None else int(n)
    used = arr.feature[arr.feature >= 0]
    if used.size and used.max() >= n:
        msg = (
            f"The 'n' parameter ({n}) is smaller than the number of features the model splits on "
            f"(up to feature {int(used.max())}). Pass n >= {int(used.max()) + 1}."
        )
        raise InvalidParameterError(msg)
    if max_degree is not None and (
        isinstance(max_degree, bool)
        or not isinstance(max_degree, int | np.integer)
        or max_degree < 0
    ):
        msg = f"The 'max_degree' parameter must be a non-negative int or None. Got {max_degree!r}."
        raise InvalidParameterError(msg)
    cap = n if max_degree is None else int(max_degree)
    value, feats, p0, p1 = _leaf_paths(arr)
    informative = (feats >= 0) & (p0 != p1)
    depth = informative.sum(axis=1)
    keep = value != 0.0
    value, feats, p0, informative, depth = (
        value[keep],
        feats[keep],
        p0[keep],
        informative[keep],
        depth[keep],
    )
    groups, counts = np.unique(depth, return_counts=True)
    total = sum(
        int(c) * sum(comb(int(d), j) for j in range(min(int(d), cap) + 1))
        for d, c in zip(groups, counts, strict=True)
    )
    if total > max_expansion:
        msg = (
            f"The model's spectrum needs {total:,} (leaf, subset) pairs, more than "
            f"max_expansion={max_expansion:,}. Fit shallower trees (max_depth), set max_degree, "
            "or raise max_expansion."
        )
        raise InvalidParameterError(msg)
    width = int(min(groups.max(), cap)) if groups.size else 0
    per_word = _digits_per_word(n)
    n_words = max(1, -(-width // per_word))
    # Keys below `dense` (low-degree terms) are summed by bincount; the rest by one sort.
    dense_digits = 0
    while dense_digits < per_word and (n + 1) ** (dense_digits + 1) <= _DENSE_KEYS:
        dense_digits += 1
    dense = (n + 1) ** dense_digits if n_words == 1 else 0
    dense_sum = np.zeros(dense)
    dense_hit = np.zeros(dense, dtype=bool)
    sparse_keys, sparse_coefs = [], []
    for d in groups:
        d = int(d)
        sel = depth == d
        # Informative features of each leaf, ascending, with their signs (+1: x = 0 passes).
        f = np.where(informative[sel], feats[sel], n)
        order = np.argsort(f, axis=1, kind="stable")[:, :d]
        f = np.take_along_axis(f, order, axis=1)
        neg = ~np.take_along_axis(p0[sel], order, axis=1)
        v = value[sel] * 0.5**d
        table = _subset_table(d, min(d, cap))  # (T, d)
        rank = np.cumsum(table, axis=1) - 1  # digit position of each chosen feature
        powers = []
        for w in range(n_words):  # one int64 key word per `per_word` digits
            in_word = table & (rank >= w * per_word) & (rank < (w + 1) * per_word)
            powers.append(np.where(in_word, (n + 1) ** np.clip(rank - w * per_word, 0, None), 0))
        sign_table = table.T.astype(np.int64)
        chunk = max(1, _CHUNK_PAIRS // table.shape[0])
        for start in range(0, f.shape[0], chunk):
            fs = f[start : start + chunk] + 1
            parity = (neg[start : start + chunk].astype(np.int64) @ sign_table) & 1  # (L, T)
            coefs = ((1 - 2 * parity) * v[start : start + chunk, None]).ravel()
            keys = np.stack([(fs @ pw.T.astype(np.int64)).ravel() for pw in powers], axis=1)
            if dense:
                low = keys[:, 0] < dense
                dense_sum += np.bincount(keys[low, 0], weights=coefs[low], minlength=dense)
                dense_hit[keys[low, 0]] = True
                keys, coefs = keys[~low], coefs[~low]
            sparse_keys.append(keys)
            sparse_coefs.append(coefs)
    out_keys = [np.flatnonzero(dense_hit)[:, None]]
    out_coefs = [dense_sum[out_keys[0][:, 0]]]
    keys = np.concatenate(sparse_keys) if sparse_keys else np.zeros((0, n_words), np.int64)
    if keys.shape[0]:
        coefs = np.concatenate(sparse_coefs)
        if n_words == 1:
            uniq, inverse = np.unique(keys[:, 0], return_inverse=True)
            uniq = uniq[:, None]
        else:
            uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        out_keys.append(uniq)
        out_coefs.append(np.bincount(inverse.ravel(), weights=coefs, minlength=uniq.shape[0]))
    if n_words > 1:
        out_keys[0] = np.pad(out_keys[0], ((0, 0), (0, n_words - 1)))
    keys = np.concatenate(out_keys)
    coefs = np.concatenate(out_coefs)
    supports = _decode(keys, n, per_word, width)
    const = np.flatnonzero((supports < 0).all(axis=1))
    if const.size:
        coefs[const] += arr.intercept
    else:
        supports = np.concatenate([np.full((1, width), PAD, dtype=np.int64), supports])
        coefs = np.concatenate([[arr.intercept], coefs])
    return supports, coefs


def tree_spectrum(
    model,
    n: int | None = None,
    *,
    max_degree: int | None = None,
    max_expansion: int = _DEFAULT_MAX_EXPANSION,
) -> SparseSpectrum:
    """Exact Fourier spectrum of a fitted tree ensemble on 0/1 inputs.

    The returned spectrum reproduces the model's raw prediction on every ``x ∈ {0,1}^n`` (up to
    float rounding; XGBoost predicts in float32) when ``max_degree`` is ``None``.

    Args:
        model: a fitted tree model (see :func:`ensemble_arrays`) or a
            :class:`TreeEnsembleArrays`.
        n: number of players; defaults to the model's number of features (features the model
            never splits on may lie beyond ``n``).
        max_degree: keep only Fourier terms of at most this many players (``None`` = all, exact).
        max_expansion: refuse to expand more than this many ``(leaf, subset)`` pairs. Defaults
            to 50 million.

    Returns:
        A Fourier :class:`~shapiq_spex.SparseSpectrum` (the constant term always present).

    Raises:
        InvalidParameterError: unsupported model, ``n`` too small for the features the model
            splits on, or an expansion above ``max_expansion`` (lower the trees' depth or set
            ``max_degree``).

    Examples:
        >>> import numpy as np
        >>> from sklearn.tree import DecisionTreeRegressor
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        >>> tree = DecisionTreeRegressor().fit(X, [0.0, 0.0, 0.0, 1.0])  # AND of two players
        >>> tree_spectrum(tree).to_dict()
        {(): 0.25, (0,): -0.25, (1,): -0.25, (0, 1): 0.25}
    """
    arr = model if isinstance(model, TreeEnsembleArrays) else ensemble_arrays(model)
    supports, coefs = tree_terms(arr, n, max_degree=max_degree, max_expansion=max_expansion)
    return SparseSpectrum(arr.n_features if n is None else int(n), supports, coefs, "fourier")
