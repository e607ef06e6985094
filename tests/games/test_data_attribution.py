from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games.data_attribution import DataAttributionGame


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(data.target))
    X, y = data.data[idx] / 16.0, data.target[idx]
    return X[:40], y[:40], X[500]


def log_odds(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def test_values_equal_retraining_by_hand(digits):
    X, y, x = digits
    game = DataAttributionGame(X, y, x, model=LogisticRegression(max_iter=500))
    full = LogisticRegression(max_iter=500).fit(X, y)
    assert game.target_class == full.predict(x[None])[0]
    coalitions = np.random.default_rng(1).random((5, 40)) < 0.7
    values = game(coalitions)
    for row, coalition in enumerate(coalitions):
        clf = LogisticRegression(max_iter=500).fit(X[coalition], y[coalition])
        assert game.target_class in clf.classes_
        p = clf.predict_proba(x[None])[0, list(clf.classes_).index(game.target_class)]
        assert values[row] == pytest.approx(log_odds(p), abs=1e-9)
    p_full = full.predict_proba(x[None])[0, list(full.classes_).index(game.target_class)]
    assert game.original_model_output == pytest.approx(log_odds(p_full), abs=1e-9)


def test_fallback_for_untrainable_subsets(digits):
    X, y, x = digits
    game = DataAttributionGame(X, y, x, target="prob")
    k = np.unique(y).size
    assert game.empty_value == pytest.approx(1.0 / k)
    # only examples of the target class: smoothed frequency (count + 1) / (size + K)
    only_target = y == game.target_class
    assert game(only_target[None])[0] == pytest.approx(
        (only_target.sum() + 1) / (only_target.sum() + k)
    )
    # two other classes, no target class: (0 + 1) / (size + K)
    other = np.isin(y, [c for c in np.unique(y) if c != game.target_class][:2])
    assert game(other[None])[0] == pytest.approx(1.0 / (other.sum() + k))
    margin = DataAttributionGame(X, y, x)
    assert margin.empty_value == pytest.approx(log_odds(1.0 / k))
    assert np.all(np.isfinite(margin(np.eye(40, dtype=bool))))


def test_groups_and_determinism(digits):
    X, y, x = digits
    groups = np.repeat(["a", "b", "c", "d"], 10)
    game = DataAttributionGame(
        X, y, x, groups=groups, model=DecisionTreeClassifier(max_depth=3), random_state=7
    )
    assert game.n_players == 4
    assert game.group_labels.tolist() == ["a", "b", "c", "d"]
    again = DataAttributionGame(
        X, y, x, groups=groups, model=DecisionTreeClassifier(max_depth=3), random_state=7
    )
    coalitions = np.array([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(game(coalitions), again(coalitions))
    rows = coalitions[0][np.arange(40) // 10]
    seed = game._factory().get_params()["random_state"]
    clf = DecisionTreeClassifier(max_depth=3, random_state=seed).fit(X[rows], y[rows])
    p = clf.predict_proba(x[None])[0, list(clf.classes_).index(game.target_class)]
    expected = log_odds(min(max(p, 1e-12), 1 - 1e-12))
    assert game(coalitions[:1])[0] == pytest.approx(expected)


def test_parallel_equals_sequential(digits):
    X, y, x = digits
    seq = DataAttributionGame(X[:20], y[:20], x, target_class=int(y[0]))
    par = DataAttributionGame(X[:20], y[:20], x, target_class=int(y[0]), n_jobs=2)
    coalitions = np.random.default_rng(2).random((6, 20)) < 0.5
    np.testing.assert_allclose(seq(coalitions), par(coalitions), rtol=0, atol=1e-12)


def test_from_digits_and_factory():
    game = DataAttributionGame.from_digits(n_train=30, test_index=3, group_size=5, random_state=0)
    assert game.n_players == 6
    factory_game = DataAttributionGame.from_digits(
        n_train=30, test_index=3, group_size=5, random_state=0,
        model=lambda: LogisticRegression(max_iter=1000),
    )  # fmt: skip
    coalitions = np.array([[1, 1, 0, 1, 1, 0]], dtype=bool)
    np.testing.assert_allclose(game(coalitions), factory_game(coalitions), atol=1e-9)


def test_errors(digits):
    X, y, x = digits
    with pytest.raises(InvalidParameterError, match="two classes"):
        DataAttributionGame(X, np.zeros(40), x)
    with pytest.raises(InvalidParameterError, match="x_test"):
        DataAttributionGame(X, y, x[:5])
    with pytest.raises(InvalidParameterError, match="'target'"):
        DataAttributionGame(X, y, x, target="loss")
    with pytest.raises(InvalidParameterError, match="target_class"):
        DataAttributionGame(X, y, x, target_class=11)
    with pytest.raises(InvalidParameterError, match="groups"):
        DataAttributionGame(X, y, x, groups=[0, 1])
    with pytest.raises(InvalidParameterError, match="'model'"):
        DataAttributionGame(X, y, x, model="logreg")
    from sklearn.svm import LinearSVC

    with pytest.raises(InvalidParameterError, match="predict_proba"):
        DataAttributionGame(X, y, x, model=LinearSVC())
    with pytest.raises(InvalidParameterError, match="X_train"):
        DataAttributionGame(X[:, :, None], y, x)
    with pytest.raises(InvalidParameterError, match="n_train"):
        DataAttributionGame.from_digits(n_train=5000)
