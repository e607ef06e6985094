"""Tree proxies for ProxySPEX: a factory, and fast tuning by early stopping on a validation split.

shapiq's ProxySPEX tunes its LightGBM proxy with a 5-fold grid search over 8 configurations of
500–1,000 trees (40 fits); that dominates its run time. Here the proxy is tuned the way boosting is
usually tuned in practice: each of a handful of configurations is trained once on the fitting
part of a split, with early stopping on the validation part, which picks the number of trees; the
configuration with the best validation R² is refitted on all training samples with its number of
trees. Every fit is seeded and silent; LightGBM's configurations can be fitted side by side on
threads (``n_jobs``), with the same models as one after the other.

Accepted ``proxy`` values (see :func:`check_proxy`):

* ``"lightgbm"`` (default), ``"xgboost"``: gradient boosting, tuned as above.
* ``"gradient_boosting"``, ``"random_forest"``, ``"extra_trees"``: scikit-learn ensembles; the
  boosting one picks its number of trees from ``staged_predict`` on the validation split, the
  forests pick their depth.
* an **unfitted or fitted** estimator instance of a supported kind (``LGBMRegressor``,
  ``XGBRegressor`` or a scikit-learn tree regressor / ensemble): it is cloned (its
  hyper-parameters kept, any fitted state dropped) and fitted on the training coalitions as given,
  without tuning. A fitted model is never used as is: ProxySPEX explains the queried game, not
  whatever the model was fitted on before.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from shapiq_spex._parallel import thread_map
from shapiq_spex.exceptions import InvalidParameterError, MissingDependencyError

__all__ = [
    "PROXY_NAMES",
    "TUNINGS",
    "ProxyFit",
    "check_backend",
    "check_proxy",
    "fit_proxy",
    "refit_final",
]

PROXY_NAMES = ("lightgbm", "xgboost", "gradient_boosting", "random_forest", "extra_trees")
TUNINGS = ("fast", "none")

# Candidate configurations of the fast search (depth bounds the order of the recovered terms
# and the cost of the Fourier extraction: a leaf at depth d expands into 2^d terms).
_BOOSTING_CONFIGS = (
    {"max_depth": 3, "num_leaves": 8, "learning_rate": 0.2},
    {"max_depth": 4, "num_leaves": 16, "learning_rate": 0.1},
    {"max_depth": 5, "num_leaves": 24, "learning_rate": 0.1},
)
_BOOSTING_DEFAULT = {"max_depth": 5, "num_leaves": 24, "learning_rate": 0.1}
_FOREST_DEPTHS = (4, 6)
_MAX_ROUNDS = 3000
_PATIENCE = 30
_NONE_ROUNDS = 500


@dataclass(frozen=True)
class ProxyFit:
    """A fitted proxy and how it was chosen.

    Attributes:
        model: the fitted model (``lightgbm.Booster``, ``xgboost.Booster`` or a scikit-learn
            estimator), ready for :func:`~shapiq_spex.proxy.tree_fourier.tree_spectrum`;
            ``None`` after ``fit_proxy(..., final=False)`` until :func:`refit_final`.
        kind: ``"lightgbm"``, ``"xgboost"``, ``"gradient_boosting"``, ``"random_forest"``,
            ``"extra_trees"`` or ``"estimator"`` (a user instance).
        params: hyper-parameters of the chosen configuration.
        n_estimators: number of trees of the final model.
        validation_r2: validation R² of the chosen configuration (NaN without tuning).
        trials: one dict per configuration tried: its parameters, trees and validation R².
        trial_models: the early-stopped models of the tuning (fitted on the fitting rows only,
            truncated to their best iteration); ProxySPEX reads candidate terms from them too.
        fit_time_s: wall time of tuning and refitting.
        seed: the seed of the LightGBM fits (:func:`refit_final` reuses it).
    """

    model: Any
    kind: str
    params: dict
    n_estimators: int
    validation_r2: float
    trials: list = field(default_factory=list)
    trial_models: tuple = ()
    fit_time_s: float = 0.0
    seed: int | None = None


def _estimator_kind(obj) -> str | None:
    """``"lightgbm"`` / ``"xgboost"`` / ``"sklearn"`` for a supported estimator instance."""
    mod = type(obj).__module__.split(".")[0]
    name = type(obj).__name__
    if mod == "lightgbm" and name == "LGBMRegressor":
        return "lightgbm"
    if mod == "xgboost" and name == "XGBRegressor":
        return "xgboost"
    if mod == "sklearn" and name in {
        "DecisionTreeRegressor",
        "ExtraTreeRegressor",
        "RandomForestRegressor",
        "ExtraTreesRegressor",
        "GradientBoostingRegressor",
        "HistGradientBoostingRegressor",
    }:
        return "sklearn"
    return None


# Back-ends the proxy names need: (module, pip command).
_BACKENDS = {
    "lightgbm": ("lightgbm", "pip install lightgbm"),
    "xgboost": ("xgboost", "pip install xgboost"),
}


def check_backend(name: str) -> None:
    """Import the package proxy ``name`` needs, or say which one is missing and how to install it.

    Raises:
        MissingDependencyError: the package cannot be imported (missing or broken install).
    """
    if name not in _BACKENDS:
        return
    module, command = _BACKENDS[name]
    try:
        importlib.import_module(module)
    except ImportError as err:  # missing, or a broken install (a missing shared library, ...)
        msg = (
            f"The 'proxy' parameter is {name!r} but {module} cannot be imported ({err}). Install "
            f"it with `{command}`, or choose another proxy: 'gradient_boosting', "
            "'random_forest' or 'extra_trees' need only scikit-learn."
        )
        raise MissingDependencyError(msg) from err


def check_proxy(proxy) -> None:
    """Validate a ``proxy`` argument (a name or a supported estimator instance).

    Raises:
        InvalidParameterError: an unknown name or an unsupported object.
        MissingDependencyError: the back-end of a named proxy (LightGBM, XGBoost) cannot be
            imported; the message gives the install command.
    """
    if isinstance(proxy, str):
        if proxy not in PROXY_NAMES:
            hint = ""
            if proxy.lower() in PROXY_NAMES:
                hint = f" Did you mean {proxy.lower()!r}? Names are lower-case."
            msg = (
                f"The 'proxy' parameter must be one of {list(PROXY_NAMES)} or a tree regressor "
                f"instance (LGBMRegressor, XGBRegressor, scikit-learn tree ensembles). "
                f"Got {proxy!r}.{hint}"
            )
            raise InvalidParameterError(msg)
        check_backend(proxy)
        return
    if _estimator_kind(proxy) is None:
        hint = ""
        if hasattr(proxy, "best_estimator_") or hasattr(proxy, "param_grid"):
            hint = (
                " Search wrappers (GridSearchCV, ...) are not used: pass the estimator itself, or "
                "a proxy name with tuning='fast', which tunes by early stopping."
            )
        msg = (
            "The 'proxy' parameter must be a name in "
            f"{list(PROXY_NAMES)} or a tree regressor instance (LGBMRegressor, XGBRegressor, "
            "scikit-learn DecisionTree/ExtraTree/RandomForest/ExtraTrees/GradientBoosting/"
            f"HistGradientBoosting regressor). Got {type(proxy).__name__}.{hint}"
        )
        raise InvalidParameterError(msg)


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    tss = float(((y - y.mean()) ** 2).sum())
    if tss <= 0.0:
        return 1.0 if np.allclose(y, pred) else float("-inf")
    return 1.0 - float(((y - pred) ** 2).sum()) / tss


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


# ----------------------------------------------------------------------------- LightGBM
def _lgb_params(config: dict, m: int, seed: int, n_jobs: int) -> dict:
    return {
        "objective": "regression",
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": n_jobs,
        "min_data_in_leaf": max(2, min(20, m // 100)),
        "min_sum_hessian_in_leaf": 0.0,
        "feature_pre_filter": False,
        **config,
    }


def _fit_lightgbm(X, y, fit, val, tuning, seed, n_jobs, final) -> ProxyFit:
    import lightgbm as lgb

    trials, models = [], []
    if tuning == "fast":
        # The configurations are fitted side by side (LightGBM releases the GIL): on 2,000 rows
        # a second LightGBM thread saves a fifth of a fit, a second fit at once almost all of
        # it. Each thread builds its own Dataset, since lgb.train updates the one it is given.
        workers = min(n_jobs, len(_BOOSTING_CONFIGS))
        threads = max(1, n_jobs // workers)

        def trial(config):
            train = lgb.Dataset(X[fit], y[fit], params={"verbose": -1}, free_raw_data=False)
            valid = lgb.Dataset(X[val], y[val], reference=train, free_raw_data=False)
            booster = lgb.train(
                _lgb_params(config, int(fit.sum()), seed, threads),
                train,
                num_boost_round=_MAX_ROUNDS,
                valid_sets=[valid],
                callbacks=[lgb.early_stopping(_PATIENCE, verbose=False)],
                keep_training_booster=True,  # no copy through a model string
            )
            rounds = max(1, booster.best_iteration)
            booster.best_iteration = rounds  # extraction and predict stop here
            # predict's own default is every core: an OpenMP team per trial thread, whose
            # waiting threads slowed the other trial's fit by half (row sums: same values)
            pred = booster.predict(X[val], num_iteration=rounds, num_threads=threads)
            score = _r2(y[val], pred)
            return {"params": dict(config), "n_estimators": rounds, "validation_r2": score}, booster

        # deepest first: on two threads the two deep fits start together and the shallow one
        # follows the quicker of them, instead of the deepest waiting for the shallow one
        done = thread_map(trial, _BOOSTING_CONFIGS[::-1], workers)[::-1]
        trials, models = [t for t, _ in done], [b for _, b in done]
        best = max(trials, key=lambda t: t["validation_r2"])
    else:
        best = {"params": dict(_BOOSTING_DEFAULT), "n_estimators": _NONE_ROUNDS}
        best["validation_r2"] = float("nan")
    fitted = ProxyFit(
        None,
        "lightgbm",
        best["params"],
        best["n_estimators"],
        best["validation_r2"],
        trials,
        tuple(models),
        seed=seed,
    )
    return refit_final(fitted, X, y, n_jobs) if final else fitted


def _refit_lightgbm(fitted: ProxyFit, X, y, n_jobs: int):
    import lightgbm as lgb

    params = _lgb_params(fitted.params, X.shape[0], fitted.seed, n_jobs)
    full = lgb.Dataset(X, y, params={"verbose": -1})
    return lgb.train(params, full, num_boost_round=fitted.n_estimators, keep_training_booster=True)


def refit_final(fitted: ProxyFit, masks, values, n_jobs: int = 1) -> ProxyFit:
    """``fitted`` with its final model: the chosen configuration refitted on every row.

    For a :class:`ProxyFit` returned by ``fit_proxy(..., final=False)`` (LightGBM only): a caller
    that may only need the tuning models (ProxySPEX when its selection is exact) saves the
    final fit until it needs it. ``masks`` and ``values`` must be those given to ``fit_proxy``;
    the model is the one ``final=True`` would have returned. A fit with a model is returned as is.
    """
    if fitted.model is not None:
        return fitted
    if fitted.kind != "lightgbm":
        msg = f"refit_final supports LightGBM proxies only; got a {fitted.kind!r} fit."
        raise InvalidParameterError(msg)
    start = time.perf_counter()
    X = np.ascontiguousarray(masks, dtype=np.float64)
    model = _refit_lightgbm(fitted, X, np.asarray(values, dtype=np.float64), n_jobs)
    return replace(fitted, model=model, fit_time_s=fitted.fit_time_s + time.perf_counter() - start)


# ----------------------------------------------------------------------------- XGBoost
def _xgb_params(config: dict, seed: int, n_jobs: int) -> dict:
    return {
        "objective": "reg:squarederror",
        "tree_method": "hist",
        "max_depth": config["max_depth"],
        "eta": config["learning_rate"],
        "min_child_weight": 1.0,
        "seed": seed,
        "nthread": n_jobs,
        "verbosity": 0,
    }


def _fit_xgboost(X, y, fit, val, tuning, seed, n_jobs) -> ProxyFit:
    import xgboost as xgb

    trials, models = [], []
    if tuning == "fast":
        dtrain = xgb.DMatrix(X[fit], label=y[fit], nthread=n_jobs)
        dval = xgb.DMatrix(X[val], label=y[val], nthread=n_jobs)
        for config in _BOOSTING_CONFIGS:
            booster = xgb.train(
                _xgb_params(config, seed, n_jobs),
                dtrain,
                num_boost_round=_MAX_ROUNDS,
                evals=[(dval, "validation")],
                early_stopping_rounds=_PATIENCE,
                verbose_eval=False,
            )
            rounds = int(booster.best_iteration) + 1
            pred = booster.predict(dval, iteration_range=(0, rounds))
            config = {"max_depth": config["max_depth"], "learning_rate": config["learning_rate"]}
            trials.append(
                {"params": config, "n_estimators": rounds, "validation_r2": _r2(y[val], pred)}
            )
            models.append(booster[:rounds])
        best = max(trials, key=lambda t: t["validation_r2"])
    else:
        config = {"max_depth": _BOOSTING_DEFAULT["max_depth"], "learning_rate": 0.1}
        best = {"params": config, "n_estimators": _NONE_ROUNDS, "validation_r2": float("nan")}
    model = xgb.train(
        _xgb_params(best["params"], seed, n_jobs),
        xgb.DMatrix(X, label=y, nthread=n_jobs),
        num_boost_round=best["n_estimators"],
    )
    return ProxyFit(
        model,
        "xgboost",
        best["params"],
        best["n_estimators"],
        best["validation_r2"],
        trials,
        tuple(models),
    )


# ----------------------------------------------------------------------------- scikit-learn
def _fit_sklearn(kind, X, y, fit, val, tuning, seed, n_jobs) -> ProxyFit:
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        RandomForestRegressor,
    )

    trials = []
    if kind == "gradient_boosting":
        configs = [{"max_depth": 3}, {"max_depth": 5}] if tuning == "fast" else [{"max_depth": 5}]

        def make(config, trees):
            return GradientBoostingRegressor(
                n_estimators=trees, learning_rate=0.1, random_state=seed, **config
            )

        if tuning == "fast":
            for config in configs:
                est = make(config, 300).fit(X[fit], y[fit])
                # validation R² of every prefix of the boosting sequence, one stage at a time
                scores = [_r2(y[val], p) for p in est.staged_predict(X[val])]
                rounds = int(np.argmax(scores)) + 1
                trials.append(
                    {"params": config, "n_estimators": rounds, "validation_r2": max(scores)}
                )
            best = max(trials, key=lambda t: t["validation_r2"])
        else:
            best = {"params": configs[0], "n_estimators": 300, "validation_r2": float("nan")}
        model = make(best["params"], best["n_estimators"]).fit(X, y)
        return ProxyFit(
            model, kind, best["params"], best["n_estimators"], best["validation_r2"], trials
        )
    cls = RandomForestRegressor if kind == "random_forest" else ExtraTreesRegressor

    def make_forest(depth):
        return cls(n_estimators=100, max_depth=depth, random_state=seed, n_jobs=n_jobs)

    if tuning == "fast":
        for depth in _FOREST_DEPTHS:
            est = make_forest(depth).fit(X[fit], y[fit])
            score = _r2(y[val], est.predict(X[val]))
            trials.append(
                {"params": {"max_depth": depth}, "n_estimators": 100, "validation_r2": score}
            )
        best = max(trials, key=lambda t: t["validation_r2"])
    else:
        best = {"params": {"max_depth": _FOREST_DEPTHS[-1]}, "n_estimators": 100}
        best["validation_r2"] = float("nan")
    model = make_forest(best["params"]["max_depth"]).fit(X, y)
    return ProxyFit(model, kind, best["params"], 100, best["validation_r2"], trials)


# ----------------------------------------------------------------------------- entry point
def fit_proxy(
    masks: np.ndarray,
    values: np.ndarray,
    proxy="lightgbm",
    *,
    tuning: str = "fast",
    rng: np.random.Generator,
    validation: np.ndarray | None = None,
    n_jobs: int = 1,
    final: bool = True,
) -> ProxyFit:
    """Fit (and by default tune) a tree proxy ``g(x) ≈ f(x)`` on queried coalitions.

    Args:
        masks: ``(m, n)`` boolean coalitions.
        values: ``(m,)`` game values.
        proxy: a name in :data:`PROXY_NAMES` or an estimator instance (see the module docstring).
        tuning: ``"fast"`` (a few configurations, early stopping on ``validation``) or
            ``"none"`` (one fixed configuration). Ignored for estimator instances.
        rng: generator for the model seeds.
        validation: ``(m,)`` boolean, the rows used only to choose the configuration and the
            number of trees (the final model is refitted on all rows). Needed for ``"fast"``.
        n_jobs: threads. LightGBM's tuning fits its configurations on up to ``n_jobs``
            threads side by side; the other proxies use them inside each fit. The values do not
            depend on it (LightGBM's fits are deterministic across thread counts). Defaults to 1.
        final: refit the chosen configuration on every row (``ProxyFit.model``). ``False``
            leaves a LightGBM fit's ``model`` as ``None`` for a later :func:`refit_final` (the
            other proxies always refit). Defaults to ``True``.

    Returns:
        A :class:`ProxyFit`.

    Raises:
        InvalidParameterError: a bad ``proxy`` or ``tuning``, or ``"fast"`` tuning without a
            validation split holding at least 2 rows on each side.
    """
    start = time.perf_counter()
    check_proxy(proxy)
    if tuning not in TUNINGS:
        msg = f"The 'tuning' parameter must be one of {list(TUNINGS)}. Got {tuning!r}."
        raise InvalidParameterError(msg)
    X = np.ascontiguousarray(masks, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    seed = _seed(rng)
    if not isinstance(proxy, str):
        from sklearn.base import clone

        model = clone(proxy).fit(X, y)
        trees = getattr(model, "n_estimators", 1)
        fitted = ProxyFit(model, "estimator", model.get_params(), int(trees), float("nan"))
        return _timed(fitted, start)
    val = np.zeros(X.shape[0], dtype=bool) if validation is None else np.asarray(validation, bool)
    fit = ~val
    if tuning == "fast" and (val.sum() < 2 or fit.sum() < 2):
        msg = (
            "The 'tuning' parameter is 'fast' but the validation split has "
            f"{int(val.sum())} validation and {int(fit.sum())} fitting rows; it needs >= 2 of "
            "each. Raise the budget or use tuning='none'."
        )
        raise InvalidParameterError(msg)
    if proxy == "lightgbm":
        fitted = _fit_lightgbm(X, y, fit, val, tuning, seed, n_jobs, final)
    elif proxy == "xgboost":
        fitted = _fit_xgboost(X, y, fit, val, tuning, seed, n_jobs)
    else:
        fitted = _fit_sklearn(proxy, X, y, fit, val, tuning, seed, n_jobs)
    return _timed(fitted, start)


def _timed(fitted: ProxyFit, start: float) -> ProxyFit:
    return replace(fitted, fit_time_s=time.perf_counter() - start)
