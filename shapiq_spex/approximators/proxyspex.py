"""ProxySPEX: interactions read off a tuned tree proxy, refined by validation (Butler et al., 2025).

The recipe, one pure function per step:

1. :func:`~shapiq_spex.sampling.random_masks.uniform_masks`: distinct uniform random coalitions
   (with ∅ and N), plus held-out ones used only to measure faithfulness.
2. :func:`~shapiq_spex.proxy.models.fit_proxy`: a LightGBM (or other tree) proxy of the game,
   tuned by early stopping on a validation split, refitted on all training coalitions.
3. :func:`~shapiq_spex.proxy.tree_fourier.tree_terms`: the proxy's exact Fourier spectrum.
4. :func:`~shapiq_spex.proxy.refine.select_and_refit`: how many terms to keep, chosen on the
   validation split (no fixed 95% energy cut), refitted by ridge/GCV on all training coalitions.
5. :func:`~shapiq_spex.spectra.indices.to_interaction_values`: the requested index, built once.
"""

from __future__ import annotations

import math
import time

import numpy as np
from shapiq.interaction_values import InteractionValues

from shapiq_spex._random import spawn
from shapiq_spex.approximators._base import (
    GameCaller,
    SparseApproximator,
    check_budget,
    check_fraction,
    check_positive_int,
    holdout_r2,
)
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.proxy.models import TUNINGS, check_proxy, fit_proxy
from shapiq_spex.proxy.refine import select_and_refit
from shapiq_spex.proxy.tree_arrays import ensemble_arrays, merge_ensembles
from shapiq_spex.proxy.tree_fourier import tree_terms
from shapiq_spex.sampling.random_masks import uniform_masks

__all__ = ["LINEAR_TERMS", "ProxySPEX", "holdout_r2", "resolve_linear_terms", "validation_split"]

# Fewest training coalitions ProxySPEX works with (the validation split needs a few rows).
MIN_TRAIN = 16
LINEAR_TERMS = ("auto", "all", "selected")


def resolve_linear_terms(linear_terms: str, n: int, n_fit: int) -> str:
    """``"all"`` or ``"selected"``; ``"auto"`` is ``"all"`` when ``n + 1 <= n_fit / 4``.

    With fewer fitting rows, forcing all ``n`` singletons would spend most of the degrees of
    freedom on players that may not matter (at ``n = 1000`` and 800 queries it halves the R²);
    the singletons then compete for the support like every other term.
    """
    if linear_terms != "auto":
        return linear_terms
    return "all" if 4 * (n + 1) <= n_fit else "selected"


def fit_and_refine(approx, train, y_train, validation, rng, *, candidates=None):
    """Fit the proxy, read its Fourier terms and select and refit them (shared with HybridSPEX).

    The candidates are the terms of the final proxy and of its early-stopped tuning models (one
    extraction of their average), so a shallow winner does not hide deeper interactions.

    Args:
        approx: the ProxySPEX or HybridSPEX instance (its proxy options and ``n``).
        train: ``(m, n)`` bool training coalitions; ``y_train`` their values.
        y_train: ``(m,)`` values of ``train``.
        validation: ``(m,)`` bool rows held out of the proxy fit and used for selection.
        rng: generator of the proxy fit.
        candidates: optional ``(supports, coefs) -> (supports, scores)`` applied to the proxy's
            terms before the selection (HybridSPEX unites them with the peeled SPEX terms).

    Returns:
        ``(proxy fit, refinement, report details)``.
    """
    t0 = time.perf_counter()
    proxy = fit_proxy(
        train,
        y_train,
        approx.proxy,
        tuning=approx.tuning,
        rng=rng,
        validation=validation,
        n_jobs=approx.n_jobs,
    )
    t1 = time.perf_counter()
    parts = [ensemble_arrays(m) for m in (proxy.model, *proxy.trial_models)]
    supports, coefs = tree_terms(merge_ensembles(parts), approx.n)
    n_proxy_terms = int(coefs.shape[0])
    if candidates is not None:
        supports, coefs = candidates(supports, coefs)
    t2 = time.perf_counter()
    linear = resolve_linear_terms(approx.linear_terms, approx.n, int((~validation).sum()))
    refined = select_and_refit(
        train,
        y_train,
        supports,
        coefs,
        validation=validation,
        max_terms=approx.max_terms,
        linear=linear,
    )
    t3 = time.perf_counter()
    details = {
        "proxy": proxy.kind,
        "proxy_params": proxy.params,
        "proxy_trees": proxy.n_estimators,
        "proxy_validation_r2": proxy.validation_r2,
        "proxy_terms": n_proxy_terms,
        "n_candidates": refined.n_candidates,
        "linear_terms": linear,
        "n_forced": refined.n_forced,
        "n_selected": refined.n_selected,
        "selection_validation_r2": refined.validation_r2,
        "selection_ordering": refined.ordering,
        "selection_path": refined.path,
        "refit_alpha": refined.alpha,
        "refit_gcv_r2": refined.gcv_r2,
        "proxy_time_s": t1 - t0,
        "extract_time_s": t2 - t1,
        "refine_time_s": t3 - t2,
    }
    return proxy, refined, details


def validation_split(
    rng: np.random.Generator, m: int, fraction: float, *, protect: int = 2
) -> np.ndarray:
    """Boolean ``(m,)`` marking a random ``fraction`` of the rows (at least 2) for validation.

    The first ``protect`` rows (the empty and the full coalition) always stay in the fitting part.
    """
    size = min(max(2, round(fraction * m)), max(m - protect - 2, 0))
    val = np.zeros(m, dtype=bool)
    if size > 0:
        val[protect + rng.choice(m - protect, size=size, replace=False)] = True
    return val


def set_proxy_options(
    approx,
    *,
    proxy,
    tuning,
    holdout_fraction,
    validation_fraction,
    max_terms,
    linear_terms,
    n_jobs,
) -> None:
    """Validate the proxy options ProxySPEX and HybridSPEX share and store them on ``approx``."""
    check_proxy(proxy)
    approx.proxy = proxy
    if tuning not in TUNINGS:
        msg = f"The 'tuning' parameter must be one of {list(TUNINGS)}. Got {tuning!r}."
        raise InvalidParameterError(msg)
    approx.tuning = tuning
    approx.holdout_fraction = check_fraction(
        holdout_fraction, "holdout_fraction", 0.0, 0.5, open_low=False
    )
    approx.validation_fraction = check_fraction(
        validation_fraction, "validation_fraction", 0.0, 0.5, open_low=True
    )
    approx.max_terms = check_positive_int(max_terms, "max_terms", allow_none=True)
    if linear_terms not in LINEAR_TERMS:
        msg = (
            f"The 'linear_terms' parameter must be one of {list(LINEAR_TERMS)}. "
            f"Got {linear_terms!r}."
        )
        raise InvalidParameterError(msg)
    approx.linear_terms = linear_terms
    approx.n_jobs = check_positive_int(n_jobs, "n_jobs")


class ProxySPEX(SparseApproximator):
    """ProxySPEX: sparse interactions from the exact Fourier spectrum of a tuned tree proxy.

    The game is queried on distinct uniform random coalitions. A gradient-boosted tree proxy is
    fitted to them (a few configurations, early stopping on a validation split, refitted on all
    training coalitions), its exact Fourier spectrum is read off the trees, and the number of
    terms to keep is chosen on the validation split (the constant and, unless the budget is
    small next to ``n``, every first-order term are always kept; see ``linear_terms``) before a
    final ridge/GCV refit on all training coalitions. A ``holdout_fraction``
    of the budget buys further random coalitions that are never fitted; the R² on them is
    ``report_.faithfulness_r2``.

    Works with the keywords shapiq's explainers and benchmark runner pass
    (``n, max_order, index, random_state``); everything else has a default.

    Args:
        n: number of players.
        max_order: largest interaction order reported (``None`` = no cap). The recovered
            spectrum in ``spectrum_`` is never truncated.
        index: interaction index to return (SII, k-SII, STII, FSII, FBII, SV, BV, BII, Moebius,
            Fourier).
        top_order: return only interactions of order ``max_order`` (plus ``()``).
        random_state: seed; two calls with the same seed and game give identical results.
        proxy: ``"lightgbm"`` (default), ``"xgboost"``, ``"gradient_boosting"``,
            ``"random_forest"``, ``"extra_trees"``, or an estimator instance (``LGBMRegressor``,
            ``XGBRegressor``, a scikit-learn tree regressor or ensemble), fitted or not: it is
            cloned and fitted on the queried coalitions with its own hyper-parameters, untuned.
        tuning: ``"fast"`` (a few configurations with early stopping) or ``"none"``.
        pairing: query coalitions in complementary pairs ``x, ~x``.
        holdout_fraction: share of the budget spent on held-out coalitions (0 = none, then
            ``report_.faithfulness_r2`` is NaN). At most 0.5.
        validation_fraction: share of the training coalitions used to tune the proxy and to
            choose the support size (they are refitted on at the end). In (0, 0.5].
        max_terms: pool at most this many of the proxy's terms (the largest by magnitude) for
            the selection (``None`` = as many as memory allows).
        linear_terms: ``"all"`` keeps every first-order term unconditionally; ``"selected"``
            lets them compete for the support like other terms; ``"auto"`` (default) is
            ``"all"`` when ``n + 1 <= fitting rows / 4`` and ``"selected"`` otherwise (the
            choice is in ``report_.details["linear_terms"]``). The constant is always kept.
        n_jobs: threads per proxy fit. Defaults to 1.

    Attributes:
        spectrum_: recovered Fourier :class:`~shapiq_spex.SparseSpectrum` (with ``predict``).
        report_: :class:`~shapiq_spex.approximators._base.ApproximationReport` of the last call;
            ``details`` holds the proxy's configuration, the support sizes and timings.

    Examples:
        >>> from shapiq_spex.games import SparseMoebiusGame
        >>> game = SparseMoebiusGame(32, 5, 3, hierarchical=True, random_state=0)
        >>> explainer = ProxySPEX(32, max_order=2, index="k-SII", random_state=0)
        >>> values = explainer.approximate(1000, game)
        >>> explainer.report_.faithfulness_r2 > 0.99
        True
    """

    method_name = "ProxySPEX"

    def __init__(
        self,
        n: int,
        max_order: int | None = 2,
        index: str = "k-SII",
        *,
        top_order: bool = False,
        random_state: int | None = None,
        proxy="lightgbm",
        tuning: str = "fast",
        pairing: bool = False,
        holdout_fraction: float = 0.1,
        validation_fraction: float = 0.2,
        max_terms: int | None = None,
        linear_terms: str = "auto",
        n_jobs: int = 1,
    ) -> None:
        super().__init__(n, max_order, index, top_order=top_order, random_state=random_state)
        if not isinstance(pairing, bool):
            msg = f"The 'pairing' parameter must be a bool. Got {pairing!r}."
            raise InvalidParameterError(msg)
        self.pairing = pairing
        set_proxy_options(
            self,
            proxy=proxy,
            tuning=tuning,
            holdout_fraction=holdout_fraction,
            validation_fraction=validation_fraction,
            max_terms=max_terms,
            linear_terms=linear_terms,
            n_jobs=n_jobs,
        )

    def min_budget(self) -> int:
        """Smallest budget accepted: ``MIN_TRAIN`` training coalitions plus the held-out share."""
        return math.ceil(MIN_TRAIN / (1.0 - self.holdout_fraction))

    def _plan(self, budget: int) -> tuple[int, int]:
        """``(n_train, n_holdout)`` for a budget (never more than the ``2^n`` coalitions)."""
        total = min(budget, 2**self.n)
        n_hold = math.floor(self.holdout_fraction * total)
        if n_hold == 1:  # one held-out value gives no R²; spend it on training instead
            n_hold = 0
        n_train = total - n_hold
        if n_train < MIN_TRAIN:
            msg = (
                f"The 'n' parameter is too small for ProxySPEX: {self.n} players have only "
                f"{2**self.n} coalitions, fewer than the {MIN_TRAIN} training coalitions it needs."
                " Compute the values exactly (shapiq.ExactComputer) instead."
            )
            raise InvalidParameterError(msg)
        return n_train, n_hold

    def approximate(self, budget: int, game, *args, **kwargs) -> InteractionValues:
        """Estimate the interactions of ``game`` with at most ``budget`` evaluations.

        Args:
            budget: most coalitions the game may be evaluated on (at most ``2^n`` are used).
            game: a ``shapiq.Game`` or a callable ``(m, n) bool -> (m,)``.
            *args: ignored (shapiq's ``approximate`` signature).
            **kwargs: ignored (shapiq's ``approximate`` signature).

        Returns:
            ``InteractionValues`` of ``self.index`` up to ``self.max_order`` (with ``()``);
            ``estimation_budget`` = queries used.

        Raises:
            BudgetTooSmallError: ``budget < self.min_budget()`` (the message gives the minimum).
            InvalidGameError: wrong ``n_players``, wrongly shaped or non-finite game values.
        """
        start = time.perf_counter()
        exact = self._exact_if_affordable(budget, game, start)
        if exact is not None:
            return exact
        budget = check_budget(budget, self.min_budget(), what="ProxySPEX")
        caller = GameCaller(game, self.n, budget)
        n_train, n_hold = self._plan(budget)
        rng_train, rng_hold, rng_split, rng_proxy = spawn(self._make_rng(), 4)

        t0 = time.perf_counter()
        train = uniform_masks(rng_train, self.n, n_train, pairing=self.pairing)
        hold = uniform_masks(rng_hold, self.n, n_hold, include_extremes=False, exclude=train)
        sample_s = time.perf_counter() - t0
        y_train = caller(train)
        y_hold = caller(hold)

        validation = validation_split(rng_split, n_train, self.validation_fraction)
        proxy, refined, fit_details = fit_and_refine(self, train, y_train, validation, rng_proxy)

        details = {
            "n_train": n_train,
            "n_validation": int(validation.sum()),
            "proxy_trials": proxy.trials,
            **fit_details,
            "sample_time_s": sample_s,
        }
        return self._result(
            refined.spectrum,
            caller=caller,
            budget=budget,
            start=start,
            empty_value=float(y_train[0]),
            details=details,
            n_holdout=n_hold,
            faithfulness_r2=holdout_r2(refined.spectrum, hold, y_hold),
        )
