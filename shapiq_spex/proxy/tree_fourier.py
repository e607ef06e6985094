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

Library conventions handled (for 0/1 features stored as floats):

* LightGBM: ``x <= threshold`` goes left; with ``missing_type = Zero`` a 0 is "missing" and goes
  to the default side; categorical splits send the categories in the node's bitset left. Leaf
  values already include shrinkage and the initial score; ``average_output`` (random forest mode)
  divides by the number of trees. The model text (``model_to_string``) is parsed, restricted to
  the best iteration exactly as ``predict`` does.
* XGBoost: ``x < split_condition`` (float32) goes left; zeros are not missing in dense input;
  ``base_score`` is added; ``XGBModel`` uses ``best_iteration`` like its ``predict``.
* scikit-learn: ``x <= threshold`` goes left; gradient boosting scales every tree by
  ``learning_rate`` and adds the constant of its ``init_`` estimator; forests average their trees;
  ``HistGradientBoostingRegressor`` adds its baseline prediction.

Only identity-link regressors are accepted (their raw score is their prediction).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra._subsets import PAD
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = [
    "TreeEnsembleArrays",
    "ensemble_arrays",
    "merge_ensembles",
    "tree_spectrum",
    "tree_terms",
]

# Expansions are processed in chunks of about this many (leaf, subset) pairs.
_CHUNK_PAIRS = 1 << 21
_DEFAULT_MAX_EXPANSION = 50_000_000
# Keys below this bound (terms of low degree) are summed with a dense bincount instead of a sort.
_DENSE_KEYS = 1 << 22
_XGB_IDENTITY_OBJECTIVES = {
    "reg:squarederror",
    "reg:absoluteerror",
    "reg:pseudohubererror",
    "reg:quantileerror",
}
_LGB_IDENTITY_OBJECTIVES = {"regression", "regression_l1", "huber", "fair", "quantile", "mape"}


@dataclass(frozen=True)
class TreeEnsembleArrays:
    """All nodes of all trees of an ensemble, flattened into node arrays.

    Attributes:
        left: ``(N,)`` int64 global id of the left child, ``-1`` for a leaf.
        right: ``(N,)`` int64 global id of the right child, ``-1`` for a leaf.
        feature: ``(N,)`` int64 split feature, ``-1`` for a leaf.
        left_if0: ``(N,)`` bool, whether ``x_feature = 0`` goes to the left child.
        left_if1: ``(N,)`` bool, whether ``x_feature = 1`` goes to the left child.
        value: ``(N,)`` float64 leaf output, already multiplied by the tree's weight (0 for
            internal nodes).
        roots: ``(T,)`` int64 global id of every tree's root.
        intercept: constant added to the sum of the trees.
        n_features: number of input features the model was fitted on.
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    left_if0: np.ndarray
    left_if1: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    intercept: float
    n_features: int


# ----------------------------------------------------------------------------- adapters
def _from_local_trees(trees, intercept: float, n_features: int) -> TreeEnsembleArrays:
    """Concatenate per-tree local arrays ``(left, right, feature, l0, l1, value)``."""
    sizes = np.array([t[0].shape[0] for t in trees], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    cat = [np.concatenate([t[k] for t in trees]) for k in range(6)]
    shift = np.repeat(offsets, sizes)
    left = np.where(cat[0] >= 0, cat[0] + shift, -1)
    right = np.where(cat[1] >= 0, cat[1] + shift, -1)
    return TreeEnsembleArrays(
        left=left.astype(np.int64),
        right=right.astype(np.int64),
        feature=cat[2].astype(np.int64),
        left_if0=cat[3].astype(bool),
        left_if1=cat[4].astype(bool),
        value=cat[5].astype(np.float64),
        roots=offsets,
        intercept=float(intercept),
        n_features=int(n_features),
    )


def _sklearn_tree(tree, weight: float):
    """Local arrays of one fitted ``sklearn.tree._tree.Tree`` scaled by ``weight``."""
    left = tree.children_left.astype(np.int64)
    right = tree.children_right.astype(np.int64)
    leaf = left < 0
    thr = tree.threshold
    if tree.value.shape[1] != 1:
        msg = "The 'model' parameter must be a single-output regressor; got a multi-output tree."
        raise InvalidParameterError(msg)
    value = np.where(leaf, tree.value[:, 0, 0] * weight, 0.0)
    feature = np.where(leaf, -1, tree.feature).astype(np.int64)
    return left, right, feature, ~leaf & (thr >= 0.0), ~leaf & (thr >= 1.0), value


def _from_sklearn(model) -> TreeEnsembleArrays:
    from sklearn.base import is_regressor
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.tree import BaseDecisionTree

    if not is_regressor(model):
        msg = f"The 'model' parameter must be a regressor. Got {type(model).__name__}."
        raise InvalidParameterError(msg)
    if not hasattr(model, "n_features_in_"):
        msg = f"The 'model' parameter must be a fitted estimator; {type(model).__name__} is not."
        raise InvalidParameterError(msg)
    n_features = int(model.n_features_in_)
    if isinstance(model, BaseDecisionTree):
        return _from_local_trees([_sklearn_tree(model.tree_, 1.0)], 0.0, n_features)
    if isinstance(model, RandomForestRegressor | ExtraTreesRegressor):
        w = 1.0 / len(model.estimators_)
        trees = [_sklearn_tree(e.tree_, w) for e in model.estimators_]
        return _from_local_trees(trees, 0.0, n_features)
    if isinstance(model, GradientBoostingRegressor):
        if isinstance(model.init_, str) and model.init_ == "zero":
            intercept = 0.0
        elif isinstance(model.init_, DummyRegressor):
            intercept = float(np.ravel(model.init_.constant_)[0])
        else:
            msg = (
                "The 'model' parameter is a GradientBoostingRegressor with a non-constant init "
                f"estimator ({type(model.init_).__name__}); its prediction is not a tree sum. "
                "Use init=None (the default) or init='zero'."
            )
            raise InvalidParameterError(msg)
        lr = float(model.learning_rate)
        trees = [_sklearn_tree(e.tree_, lr) for e in model.estimators_[:, 0]]
        return _from_local_trees(trees, intercept, n_features)
    if isinstance(model, HistGradientBoostingRegressor):
        return _from_hist_gradient_boosting(model, n_features)
    msg = (
        f"The 'model' parameter has unsupported type {type(model).__name__}. Supported: LightGBM "
        "and XGBoost regressors/boosters, scikit-learn DecisionTree/ExtraTree, RandomForest, "
        "ExtraTrees, GradientBoosting and HistGradientBoosting regressors."
    )
    raise InvalidParameterError(msg)


def _from_hist_gradient_boosting(model, n_features: int) -> TreeEnsembleArrays:
    link = type(getattr(model._loss, "link", None)).__name__
    if link != "IdentityLink":
        msg = (
            f"The 'model' parameter is a HistGradientBoostingRegressor with a non-identity link "
            f"({model.loss!r}); its prediction is not a tree sum. Use loss='squared_error'."
        )
        raise InvalidParameterError(msg)
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            msg = "The 'model' parameter uses categorical splits; fit it with numeric 0/1 features."
            raise InvalidParameterError(msg)
        leaf = nodes["is_leaf"].astype(bool)
        thr = nodes["num_threshold"]
        trees.append(
            (
                np.where(leaf, -1, nodes["left"].astype(np.int64)),
                np.where(leaf, -1, nodes["right"].astype(np.int64)),
                np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64),
                ~leaf & (thr >= 0.0),
                ~leaf & (thr >= 1.0),
                np.where(leaf, nodes["value"], 0.0),
            )
        )
    intercept = float(np.ravel(model._baseline_prediction)[0])
    return _from_local_trees(trees, intercept, n_features)


_LGB_KEYS = (
    "num_leaves",
    "num_cat",
    "split_feature",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "cat_boundaries",
    "cat_threshold",
    "is_linear",
)


def _lgb_fields(body: str) -> dict[str, list[str]]:
    """``{key: [value of that line in tree 0, tree 1, ...]}`` for the keys the extraction needs."""
    fields: dict[str, list[str]] = {k: [] for k in _LGB_KEYS}
    for line in body.split("\n"):  # one pass over the lines; numbers are parsed in bulk later
        key, sep, val = line.partition("=")
        if sep and key in fields:
            fields[key].append(val)
    return fields


def _numbers(rows: list[str], dtype) -> np.ndarray:
    """All space-separated numbers of ``rows``, concatenated, parsed in one call."""
    return np.fromstring(" ".join(rows), sep=" ").astype(dtype)


def _from_lightgbm(model) -> TreeEnsembleArrays:
    booster = model.booster_ if hasattr(model, "booster_") else model
    text = booster.model_to_string(num_iteration=None)  # best iteration, as predict uses
    head, _, body = text.partition("\nTree=")
    body = "Tree=" + body.split("end of trees")[0]
    header = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    if int(header.get("num_tree_per_iteration", 1)) != 1:
        msg = "The 'model' parameter must be a single-output LightGBM model (no multiclass)."
        raise InvalidParameterError(msg)
    objective = header.get("objective", "regression").split()[0]
    if objective not in _LGB_IDENTITY_OBJECTIVES:
        msg = (
            f"The 'model' parameter is a LightGBM model with objective {objective!r}, whose "
            "prediction is not its raw tree sum. Use a regression objective (e.g. 'regression')."
        )
        raise InvalidParameterError(msg)
    n_features = int(header["max_feature_idx"]) + 1
    average = any(line.strip() == "average_output" for line in head.splitlines())
    fields = _lgb_fields(body)
    if any(v.strip() != "0" for v in fields["is_linear"]):
        msg = "The 'model' parameter uses linear trees (linear_tree=True); refit without them."
        raise InvalidParameterError(msg)
    n_leaves = _numbers(fields["num_leaves"], np.int64)
    n_trees = n_leaves.size
    weight = 1.0 / n_trees if average and n_trees else 1.0
    n_int = n_leaves - 1
    leaf_value = _numbers(fields["leaf_value"], np.float64)
    feat = _numbers(fields["split_feature"], np.int64)
    thr = _numbers(fields["threshold"], np.float64)
    dtype = _numbers(fields["decision_type"], np.int64)
    lchild = _numbers(fields["left_child"], np.int64)
    rchild = _numbers(fields["right_child"], np.int64)
    if leaf_value.size != n_leaves.sum() or feat.size != n_int.sum() or lchild.size != feat.size:
        msg = "Could not parse the LightGBM model text (split and leaf counts disagree)."
        raise InvalidParameterError(msg)
    # Categorical splits: ``threshold`` indexes the tree's cat_boundaries into cat_threshold.
    is_cat = (dtype & 1).astype(bool)
    cat_left0 = np.zeros(feat.size, dtype=bool)
    cat_left1 = np.zeros(feat.size, dtype=bool)
    if is_cat.any():
        bounds = fields["cat_boundaries"]
        words = fields["cat_threshold"]
        tree_of_split = np.repeat(np.arange(n_trees), n_int)
        has_cat = _numbers(fields["num_cat"], np.int64) > 0
        cat_rows = np.flatnonzero(has_cat)
        for pos, t in enumerate(cat_rows):  # per tree with categorical splits; nodes vectorized
            b = np.array(bounds[pos].split(), dtype=np.int64)
            w = np.array(words[pos].split(), dtype=np.int64)
            sel = np.flatnonzero(is_cat & (tree_of_split == t))
            first_word = w[b[thr[sel].astype(np.int64)]]
            cat_left0[sel] = (first_word & 1).astype(bool)
            cat_left1[sel] = ((first_word >> 1) & 1).astype(bool)
    default_left = ((dtype >> 1) & 1).astype(bool)
    zero_missing = ((dtype >> 2) & 3) == 1
    num_left0 = np.where(zero_missing, default_left, thr >= 0.0)
    num_left1 = thr >= 1.0
    left_if0 = np.where(is_cat, cat_left0, num_left0)
    left_if1 = np.where(is_cat, cat_left1, num_left1)
    # Local layout per tree: internal nodes 0..L-2, then leaves; child < 0 means leaf ~child.
    sizes = 2 * n_leaves - 1
    tree_int = np.repeat(np.arange(n_trees), n_int)
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    n_int_t = n_int[tree_int]

    def child(c):
        return np.where(c >= 0, c, n_int_t + (-c - 1)) + base[tree_int]

    total = int(sizes.sum())
    int_ids = base[tree_int] + (np.arange(feat.size) - np.repeat(np.cumsum(n_int) - n_int, n_int))
    tree_leaf = np.repeat(np.arange(n_trees), n_leaves)
    leaf_ids = (
        base[tree_leaf]
        + n_int[tree_leaf]
        + (np.arange(leaf_value.size) - np.repeat(np.cumsum(n_leaves) - n_leaves, n_leaves))
    )
    left = np.full(total, -1, dtype=np.int64)
    right = np.full(total, -1, dtype=np.int64)
    feature = np.full(total, -1, dtype=np.int64)
    l0 = np.zeros(total, dtype=bool)
    l1 = np.zeros(total, dtype=bool)
    value = np.zeros(total)
    left[int_ids] = child(lchild)
    right[int_ids] = child(rchild)
    feature[int_ids] = feat
    l0[int_ids] = left_if0
    l1[int_ids] = left_if1
    value[leaf_ids] = leaf_value * weight
    return TreeEnsembleArrays(left, right, feature, l0, l1, value, base, 0.0, n_features)


def _from_xgboost(model) -> TreeEnsembleArrays:
    from xgboost import Booster

    booster = model if isinstance(model, Booster) else model.get_booster()
    raw = json.loads(booster.save_raw("json"))
    learner = raw["learner"]
    objective = learner["objective"]["name"]
    if objective not in _XGB_IDENTITY_OBJECTIVES:
        msg = (
            f"The 'model' parameter is an XGBoost model with objective {objective!r}, whose "
            "prediction is not its raw tree sum. Use objective='reg:squarederror'."
        )
        raise InvalidParameterError(msg)
    gb = learner["gradient_booster"]
    if gb["name"] != "gbtree":
        msg = f"The 'model' parameter must use booster='gbtree'. Got {gb['name']!r}."
        raise InvalidParameterError(msg)
    params = learner["learner_model_param"]
    if int(params.get("num_target", "1")) != 1:
        msg = "The 'model' parameter must be a single-target XGBoost model."
        raise InvalidParameterError(msg)
    base_score = float(re.findall(r"[-+0-9.eE]+", params["base_score"])[0])
    trees = gb["model"]["trees"]
    indptr = gb["model"].get("iteration_indptr")
    best = None if isinstance(model, Booster) else getattr(model, "best_iteration", None)
    if best is not None and indptr is not None:
        trees = trees[: indptr[int(best) + 1]]
    local = []
    for tree in trees:  # per tree; per-node work is vectorized
        if any(tree["split_type"]):
            msg = "The 'model' parameter uses categorical splits; fit it on numeric 0/1 features."
            raise InvalidParameterError(msg)
        left = np.asarray(tree["left_children"], dtype=np.int64)
        right = np.asarray(tree["right_children"], dtype=np.int64)
        cond = np.asarray(tree["split_conditions"], dtype=np.float32)
        leaf = left < 0
        local.append(
            (
                left,
                right,
                np.where(leaf, -1, np.asarray(tree["split_indices"], dtype=np.int64)),
                ~leaf & (np.float32(0.0) < cond),
                ~leaf & (np.float32(1.0) < cond),
                np.where(leaf, cond.astype(np.float64), 0.0),
            )
        )
    n_features = int(params["num_feature"])
    if not local:
        empty = np.zeros(1, dtype=np.int64)
        local = [(empty - 1, empty - 1, empty - 1, empty > 0, empty > 0, np.zeros(1))]
    return _from_local_trees(local, base_score, n_features)


def ensemble_arrays(model) -> TreeEnsembleArrays:
    """Read a fitted tree model into flat node arrays.

    Args:
        model: a fitted ``lightgbm.Booster`` / ``LGBMRegressor``, ``xgboost.Booster`` /
            ``XGBRegressor``, or scikit-learn ``DecisionTreeRegressor``, ``ExtraTreeRegressor``,
            ``RandomForestRegressor``, ``ExtraTreesRegressor``, ``GradientBoostingRegressor`` or
            ``HistGradientBoostingRegressor``.

    Returns:
        A :class:`TreeEnsembleArrays`.

    Raises:
        InvalidParameterError: an unsupported or unfitted model, a classifier or non-identity
            objective, categorical (XGBoost, scikit-learn) or linear trees.
    """
    mod = type(model).__module__.split(".")[0]
    if mod == "lightgbm":
        if not hasattr(model, "model_to_string") and not hasattr(model, "booster_"):
            msg = "The 'model' parameter must be a fitted LightGBM model; call fit first."
            raise InvalidParameterError(msg)
        return _from_lightgbm(model)
    if mod == "xgboost":
        return _from_xgboost(model)
    if mod == "sklearn":
        return _from_sklearn(model)
    msg = (
        f"The 'model' parameter has unsupported type {type(model).__name__}. Supported: LightGBM "
        "and XGBoost regressors/boosters and scikit-learn tree regressors and tree ensembles."
    )
    raise InvalidParameterError(msg)


def merge_ensembles(
    parts: list[TreeEnsembleArrays], weights: np.ndarray | None = None
) -> TreeEnsembleArrays:
    """One ensemble computing ``sum_i weights[i] * parts[i](x)`` (default: the mean).

    Its Fourier spectrum is the weighted sum of the parts' spectra, so one extraction yields the
    union of their supports.

    Args:
        parts: ensembles on the same features.
        weights: ``(len(parts),)`` weights; ``None`` = ``1 / len(parts)`` each.

    Returns:
        A :class:`TreeEnsembleArrays` with every tree of every part.
    """
    if not parts:
        msg = "The 'parts' parameter must hold at least one ensemble."
        raise InvalidParameterError(msg)
    w = np.full(len(parts), 1.0 / len(parts)) if weights is None else np.asarray(weights, float)
    sizes = np.array([p.left.size for p in parts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    def shifted(a, off):
        return np.where(a >= 0, a + off, -1)

    return TreeEnsembleArrays(
        left=np.concatenate([shifted(p.left, o) for p, o in zip(parts, offsets, strict=True)]),
        right=np.concatenate([shifted(p.right, o) for p, o in zip(parts, offsets, strict=True)]),
        feature=np.concatenate([p.feature for p in parts]),
        left_if0=np.concatenate([p.left_if0 for p in parts]),
        left_if1=np.concatenate([p.left_if1 for p in parts]),
        value=np.concatenate([p.value * wi for p, wi in zip(parts, w, strict=True)]),
        roots=np.concatenate([p.roots + o for p, o in zip(parts, offsets, strict=True)]),
        intercept=float(sum(p.intercept * wi for p, wi in zip(parts, w, strict=True))),
        n_features=max(p.n_features for p in parts),
    )


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
