from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeRegressor, ExtraTreeRegressor

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.proxy.tree_arrays import TreeEnsembleArrays, ensemble_arrays, merge_ensembles
from shapiq_spex.proxy.tree_fourier import tree_spectrum, tree_terms
from shapiq_spex.spectra import SparseSpectrum

N = 10


def binary_data(seed, m=600, n=N):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(m, n)).astype(float)
    y = 2 * X[:, 0] * X[:, 1] * X[:, 2] - X[:, 3] + X[:, 4] * X[:, 5] + rng.normal(0, 0.3, m)
    return X, y


def mixed_data(seed, m=1500, n=5):
    """Non-binary training data: trees split on a feature several times at odd thresholds."""
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 0.0, 0.3, 0.7, 1.0, 2.0], size=(m, n))
    y = np.sin(3 * X[:, 0]) + X[:, 1] * X[:, 0] + np.cos(2 * X[:, 2]) + rng.normal(0, 0.1, m)
    return X, y


def binary_test(n, seed=99, m=2000):
    return np.random.default_rng(seed).integers(0, 2, size=(m, n)).astype(float)


def brute_force_predict(arr: TreeEnsembleArrays, X):
    """Walk every tree for every row (a slow, obviously correct reference)."""
    out = np.full(X.shape[0], arr.intercept)
    for i, x in enumerate(X):
        for root in arr.roots:
            node = root
            while arr.left[node] >= 0:
                go_left = arr.left_if1[node] if x[arr.feature[node]] else arr.left_if0[node]
                node = arr.left[node] if go_left else arr.right[node]
            out[i] += arr.value[node]
    return out


SKLEARN_MODELS = {
    "decision_tree": lambda: DecisionTreeRegressor(max_depth=7, random_state=0),
    "extra_tree": lambda: ExtraTreeRegressor(max_depth=7, random_state=0),
    "random_forest": lambda: RandomForestRegressor(20, max_depth=6, random_state=0),
    "extra_trees": lambda: ExtraTreesRegressor(20, max_depth=6, random_state=0),
    "gradient_boosting": lambda: GradientBoostingRegressor(
        n_estimators=40, max_depth=4, random_state=0
    ),
    "gradient_boosting_zero_init": lambda: GradientBoostingRegressor(
        n_estimators=20, max_depth=3, init="zero", random_state=0
    ),
    "hist_gradient_boosting": lambda: HistGradientBoostingRegressor(
        max_iter=30, max_depth=5, random_state=0
    ),
}


@pytest.mark.parametrize("name", sorted(SKLEARN_MODELS))
@pytest.mark.parametrize("data", [binary_data, mixed_data])
def test_sklearn_spectrum_reproduces_predict(name, data):
    X, y = data(0)
    model = SKLEARN_MODELS[name]().fit(X, y)
    n = X.shape[1]
    spectrum = tree_spectrum(model, n)
    Xt = binary_test(n)
    np.testing.assert_allclose(spectrum.evaluate(Xt.astype(bool)), model.predict(Xt), atol=1e-10)
    assert spectrum[()] != 0.0


LIGHTGBM_MODELS = {
    "default": dict(n_estimators=40, max_depth=5, num_leaves=20, min_child_samples=3),
    "deep": dict(n_estimators=15, max_depth=9, num_leaves=60, min_child_samples=2),
    "zero_as_missing": dict(n_estimators=20, max_depth=4, zero_as_missing=True),
    "random_forest_mode": dict(
        boosting_type="rf", n_estimators=10, max_depth=5, subsample=0.7, subsample_freq=1
    ),
}


@pytest.mark.parametrize("name", sorted(LIGHTGBM_MODELS))
@pytest.mark.parametrize("data", [binary_data, mixed_data])
def test_lightgbm_spectrum_reproduces_predict(name, data):
    X, y = data(1)
    model = lgb.LGBMRegressor(verbose=-1, random_state=0, n_jobs=1, **LIGHTGBM_MODELS[name])
    model.fit(X, y)
    n = X.shape[1]
    Xt = binary_test(n)
    expected = model.predict(Xt)
    for source in (model, model.booster_):
        got = tree_spectrum(source, n).evaluate(Xt.astype(bool))
        np.testing.assert_allclose(got, expected, atol=1e-10)


def test_lightgbm_categorical_splits_and_early_stopping():
    X, y = binary_data(2)
    fit, val = slice(0, 450), slice(450, None)
    booster = lgb.train(
        {"verbose": -1, "max_depth": 4, "num_leaves": 12, "min_data_in_leaf": 3, "seed": 0},
        lgb.Dataset(X[fit], y[fit], categorical_feature=[0, 3], params={"verbose": -1}),
        num_boost_round=300,
        valid_sets=[lgb.Dataset(X[val], y[val])],
        callbacks=[lgb.early_stopping(5, verbose=False)],
        keep_training_booster=True,  # keeps the trees after the best iteration
    )
    assert 0 < booster.best_iteration < booster.num_trees()
    Xt = binary_test(N)
    np.testing.assert_allclose(
        tree_spectrum(booster, N).evaluate(Xt.astype(bool)), booster.predict(Xt), atol=1e-10
    )


@pytest.mark.parametrize("data", [binary_data, mixed_data])
def test_xgboost_spectrum_reproduces_predict(data):
    xgb = pytest.importorskip("xgboost")
    X, y = data(3)
    model = xgb.XGBRegressor(n_estimators=40, max_depth=6, learning_rate=0.3, nthread=1)
    model.fit(X, y)
    n = X.shape[1]
    Xt = binary_test(n)
    spectrum = tree_spectrum(model, n)
    got = spectrum.evaluate(Xt.astype(bool))
    # XGBoost predicts in float32; its leaf values summed in float64 must match exactly.
    np.testing.assert_allclose(got, model.predict(Xt), atol=1e-5)
    booster = model.get_booster()
    leaves = booster.predict(xgb.DMatrix(Xt), pred_leaf=True).astype(int)  # (m, trees)
    raw = json.loads(booster.save_raw("json"))["learner"]
    trees = raw["gradient_booster"]["model"]["trees"]
    leaf_value = [np.asarray(t["split_conditions"], dtype=np.float32) for t in trees]
    base = float(raw["learner_model_param"]["base_score"].strip("[]"))
    exact = base + sum(leaf_value[t][leaves[:, t]].astype(np.float64) for t in range(len(trees)))
    np.testing.assert_allclose(got, exact, atol=1e-10)


def test_xgboost_best_iteration_is_honoured():
    xgb = pytest.importorskip("xgboost")
    X, y = binary_data(4)
    model = xgb.XGBRegressor(n_estimators=400, max_depth=3, early_stopping_rounds=5, nthread=1)
    model.fit(X[:450], y[:450], eval_set=[(X[450:], y[450:])], verbose=False)
    assert model.best_iteration < 399
    Xt = binary_test(N)
    np.testing.assert_allclose(
        tree_spectrum(model, N).evaluate(Xt.astype(bool)), model.predict(Xt), atol=1e-5
    )


def hand_built_tree():
    """A tree that tests player 0 twice (consistently and inconsistently) and player 2 twice.

    Node 0: x0 (left if x0 = 0)
      node 1: x0 again (left if x0 = 0)  -> node 3 leaf 1.0 ; node 4 leaf 7.0 (unreachable)
      node 2: x2                         -> node 5: x2 again, but with a degenerate
                                            threshold (both values go left) -> node 7 leaf 2.0,
                                            node 8 leaf 5.0 (unreachable)
                                         -> node 6: x1 -> node 9 leaf -3.0 ; node 10 leaf 4.0
    """
    left = np.array([1, 3, 5, -1, -1, 7, 9, -1, -1, -1, -1])
    right = np.array([2, 4, 6, -1, -1, 8, 10, -1, -1, -1, -1])
    feature = np.array([0, 0, 2, -1, -1, 2, 1, -1, -1, -1, -1])
    l0 = np.array([1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0], dtype=bool)
    l1 = np.array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], dtype=bool)
    value = np.array([0, 0, 0, 1.0, 7.0, 0, 0, 2.0, 5.0, -3.0, 4.0])
    return TreeEnsembleArrays(left, right, feature, l0, l1, value, np.array([0]), 0.5, 3)


def test_repeated_feature_paths_against_brute_force():
    arr = hand_built_tree()
    X = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=float)
    spectrum = tree_spectrum(arr)
    np.testing.assert_allclose(spectrum.evaluate(X.astype(bool)), brute_force_predict(arr, X))
    # by hand: f = 0.5 + 1.0 [x0=0] + [x0=1] (2 [x2=0] - 3 [x2=1, x1=0] + 4 [x2=1, x1=1])
    expected = 0.5 + np.where(
        X[:, 0] == 0, 1.0, np.where(X[:, 2] == 0, 2.0, np.where(X[:, 1] == 0, -3.0, 4.0))
    )
    np.testing.assert_allclose(spectrum.evaluate(X.astype(bool)), expected)
    assert spectrum.max_degree == 3


def test_two_tree_ensemble_and_merge_is_a_weighted_sum():
    X, y = binary_data(5)
    a = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X, y)
    b = GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    merged = merge_ensembles([ensemble_arrays(a), ensemble_arrays(b)], np.array([0.25, 2.0]))
    Xt = binary_test(N)
    np.testing.assert_allclose(
        tree_spectrum(merged, N).evaluate(Xt.astype(bool)),
        0.25 * a.predict(Xt) + 2.0 * b.predict(Xt),
        atol=1e-10,
    )


def test_spectrum_matches_the_brute_force_fourier_transform():
    X, y = binary_data(6, n=6)
    model = lgb.LGBMRegressor(n_estimators=15, max_depth=4, verbose=-1, min_child_samples=3)
    model.fit(X, y)
    cube = ((np.arange(64)[:, None] >> np.arange(6)) & 1).astype(bool)
    f = model.predict(cube.astype(float))
    chi = 1.0 - 2.0 * ((cube.astype(int) @ cube.T.astype(int)) & 1)  # chi_K(x), rows x, cols K
    F = chi.T @ f / 64.0  # exact Walsh-Hadamard coefficients
    got = tree_spectrum(model, 6)
    dense = np.zeros(64)
    for key, coef in got.to_dict().items():
        dense[sum(1 << p for p in key)] = coef
    np.testing.assert_allclose(dense, F, atol=1e-10)


def test_max_degree_truncates_exactly():
    X, y = binary_data(7)
    model = GradientBoostingRegressor(n_estimators=30, max_depth=5, random_state=0).fit(X, y)
    full = tree_spectrum(model, N)
    low = tree_spectrum(model, N, max_degree=2)
    assert low.max_degree <= 2
    for key, coef in full.truncate(2).to_dict().items():
        assert low[key] == pytest.approx(coef, abs=1e-12)


def test_wide_keys_for_many_players():
    # n = 3000: more than 5 players of a term do not fit one int64 key (multi-word keys)
    rng = np.random.default_rng(8)
    n = 3000
    X = np.zeros((400, n))
    X[:, :8] = rng.integers(0, 2, size=(400, 8))
    X[:, -8:] = rng.integers(0, 2, size=(400, 8))
    y = X[:, :4].prod(axis=1) * X[:, -3:].prod(axis=1) + X[:, 5] - X[:, -6]
    model = DecisionTreeRegressor(max_depth=8, random_state=0).fit(X, y)
    spectrum = tree_spectrum(model, n)
    assert spectrum.max_degree > 5
    Xt = np.zeros((300, n))
    Xt[:, :8] = rng.integers(0, 2, size=(300, 8))
    Xt[:, -8:] = rng.integers(0, 2, size=(300, 8))
    np.testing.assert_allclose(spectrum.evaluate(Xt.astype(bool)), model.predict(Xt), atol=1e-10)


def test_docstring_example_and_constant_only_model():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    tree = DecisionTreeRegressor().fit(X, [0.0, 0.0, 0.0, 1.0])
    assert tree_spectrum(tree).to_dict() == {(): 0.25, (0,): -0.25, (1,): -0.25, (0, 1): 0.25}
    stump = DecisionTreeRegressor().fit(X, [3.0, 3.0, 3.0, 3.0])
    assert tree_spectrum(stump).to_dict() == {(): 3.0}
    sup, coefs = tree_terms(stump, 2)
    assert sup.shape[0] == 1
    assert coefs.tolist() == [3.0]
    assert isinstance(tree_spectrum(stump), SparseSpectrum)


def test_bad_models_are_rejected():
    X, y = binary_data(9)
    with pytest.raises(InvalidParameterError, match="regressor"):
        tree_spectrum(GradientBoostingClassifier(n_estimators=2).fit(X, y > 0.5))
    with pytest.raises(InvalidParameterError, match="fitted"):
        tree_spectrum(DecisionTreeRegressor())
    with pytest.raises(InvalidParameterError, match="unsupported type"):
        tree_spectrum(object())
    clf = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y > 0.5)
    with pytest.raises(InvalidParameterError, match="objective"):
        tree_spectrum(clf)
    model = DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="Pass n >= "):
        tree_spectrum(model, 3)
    with pytest.raises(InvalidParameterError, match="max_expansion"):
        tree_spectrum(model, N, max_expansion=10)
    with pytest.raises(InvalidParameterError, match="max_degree"):
        tree_spectrum(model, N, max_degree=-1)
