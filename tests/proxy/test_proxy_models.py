from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.proxy.models import PROXY_NAMES, check_proxy, fit_proxy
from shapiq_spex.proxy.tree_fourier import tree_spectrum


def data(seed=0, m=500, n=12, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(m, n)).astype(bool)
    y = 2.0 * X[:, 0] * X[:, 1] + X[:, 2] - X[:, 3] * X[:, 4] * X[:, 5] + noise * rng.normal(size=m)
    val = np.zeros(m, dtype=bool)
    val[rng.choice(m, m // 5, replace=False)] = True
    return X, y, val


def r2(y, p):
    return 1.0 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum()


@pytest.mark.parametrize("proxy", PROXY_NAMES)
def test_every_named_proxy_fits_and_extracts(proxy):
    if proxy == "xgboost":
        pytest.importorskip("xgboost")
    X, y, val = data()
    fit = fit_proxy(X, y, proxy, rng=np.random.default_rng(0), validation=val)
    assert fit.kind == proxy
    assert fit.validation_r2 > 0.8
    assert len(fit.trials) >= 2
    best = max(t["validation_r2"] for t in fit.trials)
    assert fit.validation_r2 == best
    Xt = np.random.default_rng(1).integers(0, 2, size=(300, 12)).astype(bool)
    yt = 2.0 * Xt[:, 0] * Xt[:, 1] + Xt[:, 2] - Xt[:, 3] * Xt[:, 4] * Xt[:, 5]
    spectrum = tree_spectrum(fit.model, 12)
    assert r2(yt, spectrum.evaluate(Xt)) > 0.8
    for model in fit.trial_models:  # early-stopped tuning models extract too
        assert len(tree_spectrum(model, 12)) > 1


def test_lightgbm_search_uses_early_stopping_and_refits_on_all_rows():
    X, y, val = data(2)
    fit = fit_proxy(X, y, "lightgbm", rng=np.random.default_rng(0), validation=val)
    assert fit.model.num_trees() == fit.n_estimators
    assert all(t["n_estimators"] < 3000 for t in fit.trials)  # stopped early
    assert {t["params"]["max_depth"] for t in fit.trials} == {3, 4, 5}
    assert len(fit.trial_models) == len(fit.trials)
    for t, model in zip(fit.trials, fit.trial_models, strict=True):
        assert model.best_iteration == t["n_estimators"]


def test_tuning_none_has_no_validation_score():
    X, y, _ = data(3)
    fit = fit_proxy(X, y, "lightgbm", tuning="none", rng=np.random.default_rng(0))
    assert np.isnan(fit.validation_r2)
    assert fit.trials == []
    assert fit.n_estimators == fit.model.num_trees()


def test_reproducible_and_silent(capfd):
    X, y, val = data(4)
    a = fit_proxy(X, y, "lightgbm", rng=np.random.default_rng(5), validation=val)
    b = fit_proxy(X, y, "lightgbm", rng=np.random.default_rng(5), validation=val)
    Xf = X.astype(float)
    np.testing.assert_array_equal(a.model.predict(Xf), b.model.predict(Xf))
    out, err = capfd.readouterr()
    assert "LightGBM" not in out + err
    assert "Warning" not in out + err


def test_estimator_instances_are_cloned_and_fitted_as_given():
    X, y, val = data(5)
    given = RandomForestRegressor(n_estimators=7, max_depth=3, random_state=0)
    fit = fit_proxy(X, y, given, rng=np.random.default_rng(0), validation=val)
    assert fit.kind == "estimator"
    assert fit.model is not given
    assert not hasattr(given, "estimators_")  # the user's object is untouched
    assert len(fit.model.estimators_) == 7
    assert fit.model.max_depth == 3
    # a fitted estimator is refitted on the coalitions, not used as is
    other = GradientBoostingRegressor(n_estimators=5).fit(np.zeros((4, 12)), np.arange(4.0))
    refit = fit_proxy(X, y, other, rng=np.random.default_rng(0), validation=val)
    assert r2(y, refit.model.predict(X.astype(float))) > 0.5
    lgbm = lgb.LGBMRegressor(n_estimators=20, verbose=-1)
    assert fit_proxy(X, y, lgbm, rng=np.random.default_rng(0)).model.n_estimators == 20


def test_bad_proxy_arguments():
    for bad in ("catboost", "linear", 3, None, object(), lgb.LGBMClassifier()):
        with pytest.raises(InvalidParameterError, match="'proxy' parameter"):
            check_proxy(bad)
    X, y, val = data(6)
    with pytest.raises(InvalidParameterError, match="'tuning' parameter"):
        fit_proxy(X, y, "lightgbm", tuning="grid", rng=np.random.default_rng(0), validation=val)
    with pytest.raises(InvalidParameterError, match="validation split"):
        fit_proxy(X, y, "lightgbm", rng=np.random.default_rng(0), validation=None)


def test_the_final_lightgbm_fit_can_wait_and_is_the_same():
    from shapiq_spex.proxy.models import refit_final

    X, y, val = data(6)
    now = fit_proxy(X, y, "lightgbm", rng=np.random.default_rng(2), validation=val)
    later = fit_proxy(X, y, "lightgbm", rng=np.random.default_rng(2), validation=val, final=False)
    assert later.model is None
    assert [t["n_estimators"] for t in later.trials] == [t["n_estimators"] for t in now.trials]
    done = refit_final(later, X, y)
    assert done.model.num_trees() == now.model.num_trees()
    Xf = np.random.default_rng(3).integers(0, 2, size=(200, 12)).astype(float)
    np.testing.assert_array_equal(done.model.predict(Xf), now.model.predict(Xf))
    assert refit_final(done, X, y) is done  # a fit with a model is returned as is


@pytest.mark.parametrize("n_jobs", [2, 3, 4])
def test_lightgbm_tuning_on_several_threads_gives_the_same_models(n_jobs):
    X, y, val = data(7)
    one = fit_proxy(X, y, "lightgbm", rng=np.random.default_rng(4), validation=val, n_jobs=1)
    many = fit_proxy(X, y, "lightgbm", rng=np.random.default_rng(4), validation=val, n_jobs=n_jobs)
    assert many.trials == one.trials
    Xf = X.astype(float)
    for a, b in zip(one.trial_models, many.trial_models, strict=True):
        np.testing.assert_array_equal(a.predict(Xf), b.predict(Xf))
    np.testing.assert_array_equal(one.model.predict(Xf), many.model.predict(Xf))
