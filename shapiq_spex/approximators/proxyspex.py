"""ProxySPEX: interactions read off a tuned tree proxy, refined by validation (Butler et al., 2025).

The recipe, one pure function per step:

1. :func:`~shapiq_spex.sampling.random_masks.uniform_masks`: distinct uniform random coalitions
   (with ∅ and N), prefix-stable so that larger budgets and ``target_r2`` rounds nest.
2. :func:`~shapiq_spex.proxy.models.fit_proxy`: a LightGBM (or other tree) proxy of the game,
   tuned by early stopping on a validation split, refitted on all training coalitions.
3. :func:`~shapiq_spex.proxy.tree_fourier.tree_terms`: the exact Fourier spectrum of the tuning
   models (fitted without the validation rows).
4. :func:`~shapiq_spex.proxy.refine.select_and_refit`: which of those terms matter, chosen on
   the validation split (no fixed 95% energy cut).
5. :func:`~shapiq_spex.proxy.sparse_regression.fit_sparse_moebius`: the surrogate, a K-fold
   cross-validated L1 fit over singletons, screened pairs and those terms (Möbius basis).
6. :func:`proxy_blend`: the surrogate blended with the proxy's own exact spectrum, the weight
   fitted on the validation rows; their R² there is ``report_.faithfulness_r2``.
7. :func:`~shapiq_spex.spectra.indices.to_interaction_values`: the requested index, built once.
"""

from __future__ import annotations

import copy
import math
import numbers
import time

import numpy as np
from shapiq.interaction_values import InteractionValues

from shapiq_spex._parallel import check_n_jobs, one_blas_thread, resolve_n_jobs, thread_map
from shapiq_spex._random import spawn
from shapiq_spex.approximators._base import (
    DEFAULT_MAX_MEMORY,
    PROXYSPEX_ALIASES,
    GameCaller,
    SparseApproximator,
    accepts_shapiq_keywords,
    check_budget,
    check_fraction,
    check_positive_int,
    holdout_r2,
    lower_choice,
    prediction_r2,
    scored_coalitions,
)
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.proxy.models import PROXY_NAMES, TUNINGS, check_proxy, fit_proxy, refit_final
from shapiq_spex.proxy.refine import select_and_refit
from shapiq_spex.proxy.sparse_regression import (
    fit_sparse_moebius,
    proxy_supports,
    sequence_supports,
)
from shapiq_spex.proxy.tree_arrays import ensemble_arrays, merge_ensembles
from shapiq_spex.proxy.tree_fourier import tree_spectrum, tree_terms
from shapiq_spex.sampling.random_masks import uniform_masks
from shapiq_spex.spectra._subsets import widen
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = [
    "LINEAR_TERMS",
    "ProxySPEX",
    "choose_surrogate",
    "exact_selection",
    "holdout_r2",
    "prefer_selection",
    "resolve_linear_terms",
    "selection_is_exact",
    "validation_split",
]

# Fewest training coalitions ProxySPEX works with (the validation split needs a few rows).
MIN_TRAIN = 16
#: The refitted selection replaces the sparse fit only when its validation error is at most this
#: share of the sparse fit's (see ``ProxySPEX._fit``).
SELECTION_MARGIN = 0.5
#: A refitted selection whose validation error is at most this share of the validation variance
#: is exact: it is returned without the sparse fit (see ``selection_is_exact``).
EXACT_SELECTION = 1e-12
#: Training coalitions of the first round when a ``target_r2`` is asked for (then doubling).
FIRST_ROUND = 250
#: Most columns of the final sparse fit (singletons, screened pairs, the proxy's supports).
SPARSE_COLUMNS = 1500
#: Most of the proxy's terms the support selection keeps: the sparse fit is offered at most
#: ``SPARSE_COLUMNS // 4`` Möbius supports read from them, and the selection's ridge sweeps
#: cost the cube of the support size (a 3,000-term sweep was most of a 10 s fit at n = 128).
MAX_SELECTED = SPARSE_COLUMNS // 2
#: Largest exact proxy spectrum blended into the returned surrogate (see ``proxy_blend``).
BLEND_MAX_TERMS = 20_000
# Planned bytes per query of the proxy methods' arrays (coalitions, their float64 copy for the
# proxy and its fitting/validation parts, values, held-out rows, and the sparse fit's
# out-of-fold predictions: 2 x 25 penalties x 8 bytes); measured by tracemalloc.
PROXY_BYTES_PER_PLAYER = 20
PROXY_BYTES_PER_QUERY = 656
#: The sparse fit's float64 arrays per (query, column) entry (design, a fold's training design,
#: every fold's test rows, the float32 Gram copy) and per column² (the Gram matrices of all
#: folds, kept while the path runs in chunks, and of the fit). Measured peaks stay below the
#: plan (113 MB at n = 128, 4,000 queries and max_memory 200 MB).
SPARSE_BYTES_PER_ENTRY = 40
SPARSE_BYTES_PER_GRAM_ENTRY = 72
# ... plus a fixed workspace: the candidate pool (at most 64 MB of int8 designs), its float
# chunks and the trees' arrays (measured peaks 83-103 MB at 3,000 queries, n = 20-400).
PROXY_WORKSPACE_BYTES = 128 * 2**20
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


@one_blas_thread
def fit_and_refine(
    approx, train, y_train, validation, rng, *, candidates=None, clean=False, max_selected=None
):
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
        clean: read the terms of the tuning models only (fitted without the validation rows),
            not of the final proxy refitted on every row, so that a fit scored on the
            validation rows is not scored on rows its supports were chosen from. The final
            proxy is then fitted only when needed (:func:`sparse_surrogate`), not here.
        max_selected: most of the proxy's terms the selection keeps (see ``select_and_refit``).

    Returns:
        ``(proxy fit, refinement, report details)``.
    """
    threads = resolve_n_jobs(approx.n_jobs)
    t0 = time.perf_counter()
    proxy = fit_proxy(
        train,
        y_train,
        approx.proxy,
        tuning=approx.tuning,
        rng=rng,
        validation=validation,
        n_jobs=threads,
        final=not clean,  # a clean caller refits the final proxy only if it needs it
    )
    if not proxy.trial_models:
        proxy = refit_final(proxy, train, y_train, threads)
    t1 = time.perf_counter()
    models = (
        proxy.trial_models if clean and proxy.trial_models else (proxy.model, *proxy.trial_models)
    )
    parts = thread_map(ensemble_arrays, models, threads)
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
        max_selected=max_selected,
        n_jobs=threads,
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
        "selection_closure": refined.n_closure,
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
    sequential,
) -> None:
    """Validate the proxy options ProxySPEX and HybridSPEX share and store them on ``approx``."""
    if not isinstance(sequential, bool):
        msg = (
            "The 'sequential' parameter must be a bool: True when the players are in reading "
            f"order (words, tokens, sentences), False otherwise. Got {sequential!r}."
        )
        raise InvalidParameterError(msg)
    approx.sequential = sequential
    if isinstance(proxy, str) and proxy.lower() in PROXY_NAMES:
        proxy = proxy.lower()  # string options are case-insensitive, as shapiq's decoder_type
    check_proxy(proxy)
    approx.proxy = proxy
    approx.tuning = lower_choice(tuning, "tuning", TUNINGS)
    approx.holdout_fraction = check_fraction(
        holdout_fraction, "holdout_fraction", 0.0, 0.5, open_low=False
    )
    approx.validation_fraction = check_fraction(
        validation_fraction, "validation_fraction", 0.0, 0.5, open_low=True
    )
    approx.max_terms = check_positive_int(max_terms, "max_terms", allow_none=True)
    approx.linear_terms = lower_choice(linear_terms, "linear_terms", LINEAR_TERMS)
    approx.n_jobs = check_n_jobs(n_jobs)


class ProxySPEX(SparseApproximator):
    """ProxySPEX: sparse interactions from the exact Fourier spectrum of a tuned tree proxy.

    The game is queried on distinct uniform random coalitions. A gradient-boosted tree proxy is
    fitted to them (a few configurations, early stopping on a validation split, refitted on all
    training coalitions), its exact Fourier spectrum is read off the trees and its important
    terms are chosen on the validation split. The returned surrogate is a cross-validated L1 fit
    in the Möbius basis over every singleton (practically unpenalised unless the budget is small
    next to ``n``; see ``linear_terms``), screened pairs and those terms, blended with the proxy
    itself by a weight fitted on the validation rows (module docstring). Both parts were also
    fitted without the validation rows, and the blend's R² on them is
    ``report_.faithfulness_r2``; a ``holdout_fraction`` of the budget instead buys coalitions
    that are never fitted, and the R² on them is reported. With ``target_r2`` the game is
    queried in nested rounds of 250, 500, 1,000, ... coalitions (up to the budget), refitted
    each time, until that R² reaches the target (``report_.details["rounds"]``). When the
    queried coalitions are at least ``COMPLETION_FRACTION`` of all ``2^n`` (``n`` at most
    ``COMPLETION_MAX_N``; both in ``approximators._base``), the returned spectrum is the exact
    transform of the table completed with the surrogate's predictions
    (``report_.details["completed"]``), and the reported R² is the surrogate's scaled to the
    share not queried.

    Works with the keywords shapiq's explainers and benchmark runner pass
    (``n, max_order, index, random_state``); everything else has a default. Code written for
    ``shapiq.ProxySPEX`` runs unchanged: its keywords are aliases of ours (passing both names of
    one option is an error): ``proxy_model`` = ``proxy`` (``"tree"`` is a
    ``DecisionTreeRegressor``, ``"linear"`` is refused as in shapiq), ``hpo=True/False`` =
    ``tuning="fast"/"none"``, ``pairing_trick`` = ``pairing``, and ``sampling_weights`` is
    accepted only as shapiq's default (uniform coalitions, which is what is drawn).

    Args:
        n: number of players.
        max_order: largest interaction order reported; ``None`` = ``n`` (shapiq's meaning),
            ``"recovered"`` = no cap and the result's ``max_order`` is the largest order
            recovered. The recovered spectrum in ``spectrum_`` is never truncated.
        index: interaction index to return (SII, k-SII, STII, FSII, FBII, SV, BV, BII, Moebius,
            Fourier).
        top_order: return only interactions of order ``max_order`` (plus ``()``).
        random_state: seed (``None``, a non-negative int or a ``np.random.Generator``); two
            calls with the same int seed and game give identical results.
        max_memory: bytes this approximator's arrays may take in one call (default 2 GiB); the
            exact path is taken only if it fits, larger budgets are lowered to fit (reported in
            ``report_.details["budget_cap"]``).
        proxy: ``"lightgbm"`` (default), ``"xgboost"``, ``"gradient_boosting"``,
            ``"random_forest"``, ``"extra_trees"``, or an estimator instance (``LGBMRegressor``,
            ``XGBRegressor``, a scikit-learn tree regressor or ensemble), fitted or not: it is
            cloned and fitted on the queried coalitions with its own hyper-parameters, untuned.
            A back-end that cannot be imported is named at construction, with its install
            command. shapiq's name: ``proxy_model``.
        tuning: ``"fast"`` (a few configurations with early stopping) or ``"none"``. shapiq's
            name: ``hpo`` (``True`` = ``"fast"``).
        pairing: query coalitions in complementary pairs ``x, ~x``. shapiq's name:
            ``pairing_trick``.
        holdout_fraction: share of the budget spent on held-out coalitions, at most 0.5
            (default 0: the reported R² comes from the validation rows, see above).
        validation_fraction: share of the training coalitions used to tune the proxy and to
            choose the support size (they are refitted on at the end). In (0, 0.5].
        max_terms: pool at most this many of the proxy's terms (the largest by magnitude) for
            the selection (``None`` = as many as memory allows).
        linear_terms: ``"all"`` keeps every first-order term unconditionally; ``"selected"``
            lets them compete for the support like other terms; ``"auto"`` (default) is
            ``"all"`` when ``n + 1 <= fitting rows / 4`` and ``"selected"`` otherwise (the
            choice is in ``report_.details["linear_terms"]``). The constant is always kept.
        n_jobs: threads for the fit: the proxy's configurations, the selection's two orderings
            and the sparse fit's folds run side by side on up to ``n_jobs`` threads; ``-1``
            (default) uses every core this process may run on. With a LightGBM proxy (the
            default) the values do not depend on it, nor on the BLAS thread count.
        target_r2: ``None`` (spend the budget) or a number in (0, 1): stop at the first round
            whose reported R² reaches it (not with ``pairing``, whose draws do not nest).
        sequential: the players are in reading order (words, tokens, sentences of a text):
            the sparse fit is also offered every set of 3 and 4 players within 4 consecutive
            ones (see :func:`offered_supports`). The command line sets it for text. Default
            False: for tabular features or training examples neighbours mean nothing.

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

    @accepts_shapiq_keywords(*PROXYSPEX_ALIASES)
    def __init__(
        self,
        n: int,
        max_order: int | str | None = 2,
        index: str = "k-SII",
        *,
        top_order: bool = False,
        random_state: int | np.random.Generator | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY,
        proxy="lightgbm",
        tuning: str = "fast",
        pairing: bool = False,
        holdout_fraction: float = 0.0,
        validation_fraction: float = 0.2,
        max_terms: int | None = None,
        linear_terms: str = "auto",
        n_jobs: int = -1,
        target_r2: float | None = None,
        sequential: bool = False,
    ) -> None:
        super().__init__(
            n,
            max_order,
            index,
            top_order=top_order,
            random_state=random_state,
            max_memory=max_memory,
        )
        if not isinstance(pairing, bool):
            msg = f"The 'pairing' parameter must be a bool. Got {pairing!r}."
            raise InvalidParameterError(msg)
        self.pairing = pairing
        self.target_r2 = check_target_r2(target_r2)
        if self.target_r2 is not None and pairing:
            msg = (
                "The 'target_r2' parameter cannot be combined with pairing=True: paired draws do "
                "not nest, so each round would pay for new coalitions. Drop one of them."
            )
            raise InvalidParameterError(msg)
        set_proxy_options(
            self,
            proxy=proxy,
            tuning=tuning,
            holdout_fraction=holdout_fraction,
            validation_fraction=validation_fraction,
            max_terms=max_terms,
            linear_terms=linear_terms,
            n_jobs=n_jobs,
            sequential=sequential,
        )

    @property
    def pairing_trick(self) -> bool:
        """The shapiq name of :attr:`pairing`."""
        return self.pairing

    def _bytes_per_query(self) -> int:
        # the sparse fit's singleton columns are always there; more columns take what is left
        sparse = SPARSE_BYTES_PER_ENTRY * (self.n + 1)
        return PROXY_BYTES_PER_PLAYER * self.n + PROXY_BYTES_PER_QUERY + sparse

    def _workspace_bytes(self, queries: int) -> int:
        return PROXY_WORKSPACE_BYTES

    def _useful_queries(self) -> int | None:
        # distinct coalitions only: more than 2**n queries cannot be drawn
        return 2**self.n if self.n < 63 else None

    def min_budget(self) -> int:
        """Smallest budget accepted: ``MIN_TRAIN`` training coalitions plus the held-out share.

        Or ``2**n`` when that is less and the exact path fits ``max_memory`` (n <= 3).
        """
        return self._or_exact(math.ceil(MIN_TRAIN / (1.0 - self.holdout_fraction)))

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

        With ``target_r2`` set, ``budget`` is the most that may be spent: the game is queried
        in rounds (see the class docstring) and the call stops at the first round whose
        validation R² reaches the target.

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
        # with a target, rounds below 2^n come first: the whole table may not be needed
        exact = self._exact_if_affordable(budget, game, start, defer=self.target_r2 is not None)
        if exact is not None:
            return exact
        if self._plan_.exact:
            return self._rounds_then_exact(self._plan_.budget, game, start)
        budget = check_budget(budget, self.min_budget(), what="ProxySPEX")
        budget = self._capped_budget(budget, self.min_budget())
        caller = GameCaller(game, self.n, budget)
        n_train, n_hold = self._plan(budget)
        streams = spawn(self._make_rng(), 5)
        train, y_train, fit, rounds, sample_s = self._run_rounds(
            caller, self._round_sizes(n_train), streams
        )
        return self._finish(
            caller, budget, start, train, y_train, fit, rounds, sample_s, n_hold, streams[1]
        )

    def _rounds_then_exact(self, budget: int, game, start: float) -> InteractionValues:
        """A ``target_r2`` call whose budget covers every coalition.

        Rounds of ``FIRST_ROUND``, twice as many, ... distinct coalitions while they are fewer
        than ``2^n`` (and fit ``max_memory``); when none reaches the target, the coalitions not
        yet paid for are queried and the exact values returned (``details["exact"]``).
        """
        n_all = 2**self.n
        useful = self._queries_within(self.max_memory, n_all)
        sizes = []
        size = max(FIRST_ROUND, MIN_TRAIN)
        while size < n_all and math.ceil(size / (1.0 - self.holdout_fraction)) <= useful:
            sizes.append(size)
            size *= 2
        caller = GameCaller(game, self.n, n_all)
        streams = spawn(self._make_rng(), 5)
        rounds = []
        if sizes:
            train, y_train, fit, rounds, sample_s = self._run_rounds(caller, sizes, streams)
            if self._table_r2(fit["validation_r2"], train.shape[0]) >= self.target_r2:
                total = min(math.ceil(train.shape[0] / (1.0 - self.holdout_fraction)), n_all)
                n_hold = min(self._plan(total)[1], n_all - train.shape[0])
                return self._finish(
                    caller, budget, start, train, y_train, fit, rounds, sample_s, n_hold, streams[1]
                )
        details = {
            "exact": True,
            "rounds": [*rounds, {"queries": n_all, "validation_r2": 1.0}],
            "target_r2": self.target_r2,
            "target_reached": True,
        }
        known = (train, y_train) if sizes else None
        return self._exact_result(caller, budget=budget, start=start, details=details, known=known)

    def _run_rounds(self, caller: GameCaller, sizes: list[int], streams: list) -> tuple:
        """Query and fit nested rounds of ``sizes`` training coalitions (see the class doc).

        Returns ``(train, y_train, fit, rounds, sample_s)`` of the last round fitted: the first
        whose validation R² reaches ``target_r2``, or the last of ``sizes``.
        """
        rng_train, _, rng_split, rng_proxy, rng_cv = streams
        sample_s = 0.0
        train = np.zeros((0, self.n), dtype=bool)
        y_train = np.zeros(0)
        rounds = []
        for size in sizes:
            # prefix-stable draws: the coalitions of this round extend those already paid for
            t0 = time.perf_counter()
            masks = uniform_masks(copy.deepcopy(rng_train), self.n, size, pairing=self.pairing)
            sample_s += time.perf_counter() - t0
            if not np.array_equal(masks[: train.shape[0]], train):  # pairing is not nested
                msg = "Internal error: the rounds' coalitions do not nest."
                raise RuntimeError(msg)
            y_train = np.concatenate([y_train, caller(masks[train.shape[0] :])])
            train = masks
            fit = self._fit(train, y_train, rng_split, rng_proxy, rng_cv)
            # the R² this round would be returned with (its table completed when most is known)
            score = self._table_r2(fit["validation_r2"], train.shape[0])
            rounds.append({"queries": int(caller.queries), "validation_r2": score})
            if self.target_r2 is not None and score >= self.target_r2:
                break
        return train, y_train, fit, rounds, sample_s

    def _finish(
        self, caller, budget, start, train, y_train, fit, rounds, sample_s, n_hold, rng_hold
    ) -> InteractionValues:
        """Held-out coalitions (if any), the report and the returned values of a fitted call."""
        hold = uniform_masks(rng_hold, self.n, n_hold, include_extremes=False, exclude=train)
        y_hold = caller(hold)
        spectrum = fit.pop("spectrum")
        details = {
            "n_train": int(train.shape[0]),
            "rounds": rounds,
            "target_r2": self.target_r2,
            "target_reached": None
            if self.target_r2 is None
            else bool(self._table_r2(fit["validation_r2"], train.shape[0]) >= self.target_r2),
            **fit,
            "sample_time_s": sample_s,
        }
        held_out = holdout_r2(spectrum, hold, y_hold) if n_hold else float("nan")
        reported = held_out if n_hold else fit["validation_r2"]
        details["faithfulness_source"] = (
            f"{n_hold} held-out coalitions"
            if n_hold
            else f"{fit['n_validation']} validation coalitions (fitted without them)"
        )
        spectrum, reported = self._completed(
            spectrum,
            np.concatenate([train, hold]),
            np.concatenate([y_train, y_hold]),
            reported,
            details,
        )
        if not details["completed"]:
            # the coalitions the report says its R² rests on (held-out, else validation)
            scored, kind = scored_coalitions(n_hold, train.shape[0], details)
            self._warn_if_few_scoring(scored, f"{kind} coalitions", budget)
        return self._result(
            spectrum,
            caller=caller,
            budget=budget,
            start=start,
            empty_value=float(y_train[0]),
            details=details,
            n_holdout=n_hold,
            faithfulness_r2=reported,
        )

    def _round_sizes(self, n_train: int) -> list[int]:
        """Training sizes of the rounds: one, or doubling from ``FIRST_ROUND`` with a target."""
        if self.target_r2 is None:
            return [n_train]
        sizes = []
        size = min(max(FIRST_ROUND, MIN_TRAIN), n_train)
        while size < n_train:
            sizes.append(size)
            size *= 2
        return [*sizes, n_train]

    def _fit(self, train, y_train, rng_split, rng_proxy, rng_cv) -> dict:
        """One round's fit: the proxy's supports, then the sparse fit over them (see class doc).

        The validation rows are never seen by the tuning models whose terms are read, nor by
        the sparse fit scored on them: that score is the reported R².
        """
        validation = validation_split(
            copy.deepcopy(rng_split), train.shape[0], self.validation_fraction
        )
        proxy, refined, fit_details = fit_and_refine(
            self,
            train,
            y_train,
            validation,
            copy.deepcopy(rng_proxy),
            clean=True,
            max_selected=MAX_SELECTED,
        )
        surrogate = choose_surrogate(
            self, train, y_train, validation, proxy, refined, rng_cv, fit_details["linear_terms"]
        )
        return {
            **surrogate,
            "n_validation": int(validation.sum()),
            "proxy_trials": proxy.trials,
            **fit_details,
        }


def choose_surrogate(approx, train, y_train, validation, proxy, refined, rng_cv, linear) -> dict:
    """The returned surrogate: the refitted selection or the blended sparse fit (both classes).

    The refitted selection recovers noiseless sparse games with deep terms exactly, where the
    L1 path stops short of the smallest coefficients; on texts the sparse fit wins. When the
    selection is exact on the validation rows (:func:`selection_is_exact`) the sparse fit is not
    run; otherwise :func:`prefer_selection` decides (on MiniLM reviews a plain comparison picked
    the selection in 10 of 102 ProxySPEX runs and lost up to 0.07 R², and in 2 of 3 HybridSPEX
    runs on a 38-word review, 0.006-0.007).

    Arguments as :func:`sparse_surrogate`.

    Returns:
        :func:`sparse_surrogate`'s entries (or :func:`exact_selection`'s) plus ``"surrogate"``,
        ``"sparse_fit_skipped"`` and ``"blend_validation_r2"``; ``"spectrum"`` and
        ``"validation_r2"`` are those of the surrogate chosen.
    """
    if selection_is_exact(refined.validation_r2):
        return exact_selection(refined)
    surrogate = sparse_surrogate(approx, train, y_train, validation, proxy, refined, rng_cv, linear)
    surrogate["blend_validation_r2"] = surrogate["validation_r2"]
    use_sparse = not prefer_selection(refined.validation_r2, surrogate["validation_r2"])
    if not use_sparse:
        surrogate["spectrum"] = refined.spectrum
        surrogate["validation_r2"] = refined.validation_r2
    surrogate["surrogate"] = (
        "sparse fit blended with the proxy" if use_sparse else "selection refit"
    )
    surrogate["sparse_fit_skipped"] = False
    return surrogate


def selection_is_exact(selection_r2: float) -> bool:
    """Whether the refitted selection reproduces the validation rows to rounding error.

    Its error is then at most ``EXACT_SELECTION`` of the validation variance: the game is that
    sparse spectrum (no fit of at most half as many terms as rows matches unseen rows this
    closely by chance), and :func:`prefer_selection` would return it unless the sparse fit were
    exact too, so the sparse fit (a third to a half of a call's time) is skipped.
    """
    return bool(1.0 - selection_r2 <= EXACT_SELECTION)


def exact_selection(refined) -> dict:
    """The surrogate entries of a call whose refitted selection is exact (sparse fit skipped)."""
    return {
        "spectrum": refined.spectrum,
        "validation_r2": refined.validation_r2,
        "blend_validation_r2": float("nan"),
        "surrogate": "selection refit",
        "sparse_fit_skipped": True,
    }


def prefer_selection(selection_r2: float, surrogate_r2: float) -> bool:
    """Whether the refitted selection is returned instead of the blended sparse fit.

    The selection's validation R² is optimistic (its support size was chosen on those rows),
    so it must leave at most ``SELECTION_MARGIN`` of the blend's validation error; NaN (no
    validation rows) keeps the sparse fit. Shared by ProxySPEX and HybridSPEX.
    """
    return bool((1.0 - selection_r2) <= SELECTION_MARGIN * (1.0 - surrogate_r2))


def sparse_columns(approx, queries: int) -> int:
    """Most sparse-fit columns that keep ``queries`` rows within ``approx.max_memory``.

    ``approx._bytes_per_query`` must include the singleton columns'
    ``SPARSE_BYTES_PER_ENTRY * (n + 1)`` (always there); more columns take what is left.
    """
    base = approx.planned_bytes(queries) - SPARSE_BYTES_PER_ENTRY * (approx.n + 1) * queries
    spare = max(approx.max_memory - base, 0)
    a, b = SPARSE_BYTES_PER_GRAM_ENTRY, SPARSE_BYTES_PER_ENTRY * queries
    columns = int((-b + math.sqrt(b * b + 4 * a * spare)) / (2 * a))  # a c² + b c <= spare
    return max(approx.n + 1, min(SPARSE_COLUMNS, columns))


@one_blas_thread
def sparse_surrogate(approx, train, y_train, validation, proxy, refined, rng_cv, linear) -> dict:
    """The sparse fit over the selected proxy terms, blended with the proxy (steps 5 and 6).

    Shared by ProxySPEX and HybridSPEX. ``refined`` is the selection of
    :func:`fit_and_refine` (its supports are offered to the sparse fit), ``linear`` its
    ``linear_terms`` choice (``"all"`` forces the singletons).

    Returns:
        ``{"spectrum", "validation_r2", "blend_weight", "blend_reason", "cv_r2", ...}``; the
        validation R² is the blend's on the ``validation`` rows (see :func:`proxy_blend`).
    """
    threads = resolve_n_jobs(approx.n_jobs)
    t0 = time.perf_counter()
    sparse = fit_sparse_moebius(
        train,
        y_train,
        copy.deepcopy(rng_cv),
        extra=offered_supports(approx, refined.spectrum),
        max_columns=sparse_columns(approx, train.shape[0]),
        force_singletons=linear == "all",
        n_jobs=threads,
    )
    spectrum = sparse.spectrum.to_fourier()
    blend = proxy_blend(proxy, sparse.oof[validation], train[validation], y_train[validation])
    if blend["weight"] < 1.0:
        # the final proxy (refitted on every row) is fitted only when the blend uses it: at
        # n = 256 and 2,000 queries its fit is a fifth of the call, and a sparse fit that the
        # validation rows prefer alone (weight 1) does not need it
        proxy = refit_final(proxy, train, y_train, threads)
        tree = tree_spectrum(proxy.model, approx.n)
        if len(tree) > BLEND_MAX_TERMS:
            reason = f"proxy spectrum has {len(tree)} terms (> {BLEND_MAX_TERMS})"
            r2_sparse = prediction_r2(y_train[validation], sparse.oof[validation])
            blend = {"weight": 1.0, "validation_r2": r2_sparse, "reason": reason}
        else:
            spectrum = _scaled(spectrum, blend["weight"]) + _scaled(tree, 1.0 - blend["weight"])
    return {
        "spectrum": spectrum,
        "validation_r2": blend["validation_r2"],
        "blend_weight": blend["weight"],
        "blend_reason": blend["reason"],
        "cv_r2": sparse.cv_r2,
        "cv_folds": sparse.folds,
        "sparse_alpha": sparse.alpha,
        "sparse_relaxed": sparse.relaxed,
        "sparse_columns": sparse.n_columns,
        "sparse_pairs": sparse.n_pairs,
        "sparse_proxy_columns": sparse.n_extra,
        "sparse_time_s": time.perf_counter() - t0,
    }


def offered_supports(approx, selected: SparseSpectrum) -> np.ndarray:
    """Supports of order >= 2 offered to the sparse fit beside its pairs, most wanted first.

    The Möbius supports of the proxy's selected terms (:func:`proxy_supports`); with
    ``approx.sequential`` the sets of 3 and 4 neighbouring players come first
    (:func:`sequence_supports`): on MiniLM reviews of 16-255 words they raised the mean
    held-out R² of the returned values by 0.002-0.005 at 1,000 queries (``llm_faithfulness``,
    3 seeds), where they displace the proxy's weakest supports from the sparse fit's quarter
    of the columns.
    """
    supports = proxy_supports(selected, SPARSE_COLUMNS // 4)
    if not approx.sequential:
        return supports
    local = sequence_supports(approx.n)
    width = max(supports.shape[1], local.shape[1])
    return np.concatenate([widen(local, width), widen(supports, width)])


def _scaled(spectrum: SparseSpectrum, factor: float) -> SparseSpectrum:
    return SparseSpectrum(spectrum.n, spectrum.supports, spectrum.coefs * factor, spectrum.basis)


def proxy_blend(proxy, sparse_val, X_val, y_val) -> dict:
    """Weight ``w`` of the sparse fit against the tree proxy itself, chosen on validation rows.

    Neither prediction compared has seen the validation rows: ``sparse_val`` are the sparse
    fit's out-of-fold predictions (each row predicted by the fold fit without it, its columns
    screened without it too), the proxy's are those of its best tuning model (fitted without
    the validation rows), so the blend's validation R² is an honest estimate up to the one
    fitted weight and the choice of the L1 penalty. ``w = 1`` (the sparse fit alone) when the
    proxy was not tuned (no model fitted without those rows) or when the best weight is 1. The
    final surrogate is ``w * sparse + (1 - w) * tree``, both refitted on all rows (``tree``: the
    exact spectrum of the final proxy; :func:`sparse_surrogate` keeps ``w = 1`` when it has more
    than ``BLEND_MAX_TERMS`` terms, since the returned values would grow with it), still an
    exact sparse spectrum because the proxy's is.

    Args:
        proxy: the :class:`~shapiq_spex.proxy.models.ProxyFit` (its final model is not needed).
        sparse_val: ``(v,)`` out-of-fold sparse predictions on the validation rows.
        X_val: ``(v, n)`` validation coalitions.
        y_val: ``(v,)`` their values.

    Returns:
        ``{"weight", "validation_r2", "reason"}``.
    """
    a = np.asarray(sparse_val, dtype=np.float64)
    r2_sparse = prediction_r2(y_val, a)
    if not proxy.trial_models:
        return {"weight": 1.0, "validation_r2": r2_sparse, "reason": "proxy not tuned"}
    best = int(np.argmax([t["validation_r2"] for t in proxy.trials]))
    b = tree_spectrum(proxy.trial_models[best], X_val.shape[1]).evaluate(X_val)
    d = a - b
    denom = float(d @ d)
    w = 1.0 if denom == 0.0 else float(np.clip((y_val - b) @ d / denom, 0.0, 1.0))
    r2 = prediction_r2(y_val, w * a + (1.0 - w) * b)
    return {"weight": w, "validation_r2": r2, "reason": "validation least squares"}


def check_target_r2(value):
    """``None`` or a float in ``(0, 1)``: the faithfulness a ``target_r2`` run stops at."""
    if value is None:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or not 0.0 < float(value) < 1.0:
        msg = (
            "The 'target_r2' parameter must be None or a number strictly between 0 and 1 (the "
            f"held-out R² to reach, e.g. 0.9). Got {value!r}."
        )
        raise InvalidParameterError(msg)
    return float(value)
