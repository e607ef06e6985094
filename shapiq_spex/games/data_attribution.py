"""Data attribution game: players are training examples (or groups of them).

``v(S)`` retrains a small scikit-learn classifier on the training examples of the players in
``S`` and scores its prediction for one test point: the log-odds (``"margin"``) or probability
(``"prob"``) of the target class.

Subsets a classifier cannot be trained on get a documented fallback, not an error: when the
subset is empty, holds a single class, or lacks the target class, the prediction is the
Laplace-smoothed class frequency of the subset, ``p = (count_target + 1) / (|S| + K)`` over the
``K`` classes of ``y_train`` (``1 / K`` for the empty set: the prior of a model that has seen no
data). Probabilities are clipped to ``[1e-12, 1 - 1e-12]`` before taking log-odds, so every value
is finite.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Literal

import numpy as np
from shapiq import Game

from shapiq_spex._random import as_generator
from shapiq_spex.exceptions import GameIdentityError, InvalidParameterError
from shapiq_spex.games._identity import array_digest, canonical, game_identity, qualname
from shapiq_spex.spectra.spectrum import check_coalitions

__all__ = ["PROB_CLIP", "DataAttributionGame"]

#: Probabilities are clipped to ``[PROB_CLIP, 1 - PROB_CLIP]`` before log-odds.
PROB_CLIP = 1e-12

Target = Literal["margin", "prob"]


def _deterministic_fit(estimator) -> bool:
    """Whether the fit ignores ``random_state`` (logistic regression with an exact solver)."""
    from sklearn.linear_model import LogisticRegression

    exact = ("lbfgs", "newton-cg", "newton-cholesky")
    return isinstance(estimator, LogisticRegression) and estimator.solver in exact


def _default_model():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


class DataAttributionGame(Game):
    """Explain a retrained classifier's prediction for a test point by its training data.

    Attributes:
        groups: ``(n_train,)`` int64 player index of each training example.
        group_labels: the original group label of each player.
        classes: the sorted classes of ``y_train``.
        target_class: the explained class (a value of ``classes``).
        original_model_output: the value of the model trained on all data, before centering.
        empty_value: the value of the empty coalition (the prior ``1 / K``), before centering.

    Example:
        >>> game = DataAttributionGame.from_digits(n_train=60, random_state=0)  # doctest: +SKIP
        >>> game(game.grand_coalition)  # doctest: +SKIP
    """

    def __init__(
        self,
        X_train,
        y_train,
        x_test,
        *,
        model=None,
        groups=None,
        target: Target = "margin",
        target_class=None,
        random_state: int | np.random.Generator | None = None,
        n_jobs: int | None = None,
        normalize: bool = False,
        verbose: bool = False,
    ) -> None:
        """Validate the data and evaluate the full and the empty training set.

        Args:
            X_train: ``(n_train, d)`` training features.
            y_train: ``(n_train,)`` training labels (at least two classes).
            x_test: ``(d,)`` (or ``(1, d)``) test point.
            model: a scikit-learn classifier with ``predict_proba`` (cloned for every
                coalition), or a zero-argument callable returning a fresh one. Default
                ``LogisticRegression(max_iter=1000)``.
            groups: ``(n_train,)`` group labels; players are the distinct groups (sorted).
                Default: every example is a player.
            target: ``"margin"`` (log-odds of the target class, default) or ``"prob"``.
            target_class: the explained class; default the class predicted by the model
                trained on all data.
            random_state: seed for the model's ``random_state`` parameter (drawn once, so every
                coalition is trained with the same seed); ``None`` leaves the model as given.
            n_jobs: parallel retrainings (joblib threads: no start-up cost, and numpy/scipy
                release the GIL in the fits); ``None`` = sequential.
            normalize: center the game on the empty coalition.
            verbose: shapiq's one-by-one progress bar.
        """
        X = np.asarray(X_train, dtype=np.float64)
        y = np.asarray(y_train)
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            msg = (
                "The 'X_train' parameter must be (n_train, d) and 'y_train' (n_train,) with "
                f"n_train > 0. Got {X.shape} and {y.shape}."
            )
            raise InvalidParameterError(msg)
        if not np.all(np.isfinite(X)):
            msg = "The 'X_train' parameter holds NaN or inf."
            raise InvalidParameterError(msg)
        x = np.asarray(x_test, dtype=np.float64).reshape(-1)
        if x.shape[0] != X.shape[1] or not np.all(np.isfinite(x)):
            msg = (
                f"The 'x_test' parameter must be {X.shape[1]} finite features. "
                f"Got shape {np.shape(x_test)}."
            )
            raise InvalidParameterError(msg)
        self.classes = np.unique(y)
        if self.classes.size < 2:
            msg = "The 'y_train' parameter must hold at least two classes."
            raise InvalidParameterError(msg)
        if target not in ("margin", "prob"):
            msg = f"The 'target' parameter must be 'margin' or 'prob'. Got {target!r}."
            raise InvalidParameterError(msg)
        if n_jobs is not None and (not isinstance(n_jobs, numbers.Integral) or n_jobs == 0):
            msg = f"The 'n_jobs' parameter must be None or a non-zero int. Got {n_jobs!r}."
            raise InvalidParameterError(msg)
        self.X_train, self.y_train, self.x_test = X, y, x[None, :]
        self.target = target
        self.n_jobs = n_jobs
        self.random_state = random_state
        self._factory = self._make_factory(model, random_state)

        if groups is None:
            self.group_labels = np.arange(X.shape[0])
            self.groups = np.arange(X.shape[0], dtype=np.int64)
        else:
            g = np.asarray(groups)
            if g.shape != y.shape:
                msg = f"The 'groups' parameter must have shape {y.shape}. Got {g.shape}."
                raise InvalidParameterError(msg)
            self.group_labels, inverse = np.unique(g, return_inverse=True)
            self.groups = inverse.astype(np.int64)
        n_players = int(self.group_labels.size)

        self.target_class = None
        if target_class is None:
            full = self._fit(np.ones(X.shape[0], dtype=bool))
            target_class = full.predict(self.x_test)[0]
        if target_class not in set(self.classes.tolist()):
            msg = (
                f"The 'target_class' parameter must be one of {self.classes.tolist()}. "
                f"Got {target_class!r}."
            )
            raise InvalidParameterError(msg)
        self.target_class = target_class
        self.original_model_output = float(self.value_function(np.ones((1, n_players), bool))[0])
        self.empty_value = float(self.value_function(np.zeros((1, n_players), bool))[0])
        super().__init__(
            n_players,
            normalize=normalize,
            normalization_value=self.empty_value if normalize else None,
            verbose=verbose,
        )

    @staticmethod
    def _make_factory(model, random_state) -> Callable[[], object]:
        from sklearn.base import clone

        seed = None
        if random_state is not None:
            seed = int(as_generator(random_state).integers(2**31 - 1))
        if model is None:
            model = _default_model()
        if hasattr(model, "fit") and hasattr(model, "get_params"):
            template = model

            def factory():
                est = clone(template)
                if seed is not None and "random_state" in est.get_params():
                    est.set_params(random_state=seed)
                return est

            factory.template, factory.seed = template, seed  # read by cache_identity
            return factory
        if callable(model):
            return model
        msg = (
            "The 'model' parameter must be a scikit-learn classifier or a zero-argument callable "
            f"returning one. Got {type(model).__name__}."
        )
        raise InvalidParameterError(msg)

    def cache_identity(self) -> dict:
        """What determines this game's values, for the cache of a :class:`~shapiq_spex.QueryEngine`.

        Returns:
            A JSON-serialisable dict: ``game``, ``value_semantics``, SHA-256 of ``X_train``,
            ``y_train``, ``x_test`` and ``groups``, ``target``, ``target_class``, ``model`` (class
            and parameters, with the seed the game sets) and ``normalized``.

        Raises:
            GameIdentityError: the model was given as a callable (its estimator is unknown until
                called), or it takes a ``random_state`` that is left ``None``, so retraining may
                give other values in every run.
        """
        template = getattr(self._factory, "template", None)
        if template is None:
            msg = (
                "DataAttributionGame(model=<callable>) cannot be identified: the estimator the "
                "callable returns is unknown until it is called. Pass a scikit-learn estimator as "
                "'model'."
            )
            raise GameIdentityError(msg)
        params = template.get_params(deep=False)
        seed = self._factory.seed
        if "random_state" in params:
            if seed is not None:
                params["random_state"] = seed
            elif params["random_state"] is None and not _deterministic_fit(template):
                msg = (
                    f"The model {type(template).__name__} takes a random_state and it is None, so "
                    "retraining it may give other values in every run. Pass random_state=0 (any "
                    "int) to DataAttributionGame, or set the estimator's random_state."
                )
                raise GameIdentityError(msg)
        return game_identity(
            self,
            X_train=array_digest(self.X_train),
            y_train=array_digest(self.y_train),
            x_test=array_digest(self.x_test),
            groups=array_digest(self.groups),
            target=self.target,
            target_class=canonical(self.target_class),
            model={
                "class": qualname(template),
                "params": canonical(params, what="model parameter"),
            },
            normalized=bool(self.normalize),
        )

    def _fit(self, rows: np.ndarray):
        est = self._factory()
        if not hasattr(est, "predict_proba"):
            msg = f"The model {type(est).__name__} must have predict_proba."
            raise InvalidParameterError(msg)
        return est.fit(self.X_train[rows], self.y_train[rows])

    def _prob(self, coalition: np.ndarray) -> float:
        """Probability of the target class after training on the coalition's examples."""
        rows = coalition[self.groups]
        y = self.y_train[rows]
        present = np.unique(y)
        if present.size < 2 or self.target_class not in set(present.tolist()):
            count = int(np.sum(y == self.target_class))
            return (count + 1.0) / (y.size + self.classes.size)
        est = self._fit(rows)
        col = int(np.flatnonzero(np.asarray(est.classes_) == self.target_class)[0])
        return float(est.predict_proba(self.x_test)[0, col])

    def _score(self, p: float) -> float:
        if self.target == "prob":
            return p
        p = min(max(p, PROB_CLIP), 1.0 - PROB_CLIP)
        return float(np.log(p) - np.log1p(-p))

    def value_function(self, coalitions) -> np.ndarray:
        """Retrain on each coalition's examples and score the test point.

        Args:
            coalitions: ``(m, n_players)`` bool (``True`` = player's examples used).

        Returns:
            ``(m,)`` float64 values, not centered.
        """
        x = check_coalitions(coalitions, int(self.group_labels.size))
        if self.n_jobs is None:
            probs = [self._prob(row) for row in x]
        else:
            from joblib import Parallel, delayed

            probs = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(self._prob)(row) for row in x
            )
        return np.array([self._score(p) for p in probs], dtype=np.float64)

    @classmethod
    def from_digits(
        cls,
        *,
        n_train: int = 100,
        test_index: int = 0,
        group_size: int | None = None,
        random_state: int = 0,
        **kwargs,
    ) -> DataAttributionGame:
        """A game on scikit-learn's digits (8x8 images, 10 classes, pixels scaled to [0, 1]).

        Args:
            n_train: number of training images (a seeded random sample of the 1,797).
            test_index: which of the remaining images is the test point.
            group_size: if given, players are consecutive groups of this many training images.
            random_state: seed of the sample (and of the model).
            **kwargs: passed to the constructor (``model``, ``target``, ``n_jobs``...).
        """
        from sklearn.datasets import load_digits

        data = load_digits()
        X, y = data.data / 16.0, data.target
        perm = as_generator(random_state).permutation(X.shape[0])
        if not 0 < n_train < X.shape[0] or not 0 <= test_index < X.shape[0] - n_train:
            msg = (
                f"The 'n_train' ({n_train}) and 'test_index' ({test_index}) parameters must leave "
                f"a test image among the {X.shape[0]} digits."
            )
            raise InvalidParameterError(msg)
        train, test = perm[:n_train], perm[n_train + test_index]
        groups = None
        if group_size is not None:
            if not isinstance(group_size, int) or group_size < 1:
                msg = f"The 'group_size' parameter must be a positive int. Got {group_size!r}."
                raise InvalidParameterError(msg)
            groups = np.arange(n_train) // group_size
        return cls(X[train], y[train], X[test], groups=groups, random_state=random_state, **kwargs)
