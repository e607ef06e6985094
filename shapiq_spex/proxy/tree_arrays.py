"""Fitted tree ensembles (scikit-learn, LightGBM, XGBoost) as flat node arrays on 0/1 inputs.

:func:`ensemble_arrays` reads a fitted model into a :class:`TreeEnsembleArrays` (all nodes of all
trees, with which of the values 0 and 1 of the split feature goes left), the input of the exact
Fourier extraction in :mod:`shapiq_spex.proxy.tree_fourier`.

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

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["TreeEnsembleArrays", "ensemble_arrays", "merge_ensembles"]

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
