"""HybridSPEX: SPEX's structured queries and a tree proxy's random ones, one validated support.

SPEX finds any sparse Fourier term once its budget pays for enough bins, hierarchical or not;
ProxySPEX finds hierarchical terms with far fewer queries but misses parity-type ones that greedy
trees cannot split on. Between the two budgets, HybridSPEX spends a share of the budget on SPEX's
structured design and the rest on uniform random coalitions, then:

1. peels the structured queries (SPEX's decoder) → a support ``S_spex``;
2. fits the tree proxy on *every* queried coalition (structured and random) → its exact Fourier
   terms ``S_proxy``;
3. selects from ``S_spex ∪ S_proxy`` on a validation split of the random coalitions, with the
   same two orderings as ProxySPEX (SPEX's peeled terms first, then the proxy's by magnitude;
   and residual pursuit over the union), keeping the constant and all first-order terms;
4. refits the chosen support on every training coalition (ridge/GCV);
5. fits ProxySPEX's surrogate over the chosen supports (the cross-validated sparse Möbius fit,
   blended with the proxy; :func:`~shapiq_spex.approximators.proxyspex.sparse_surrogate`) and
   returns the refit of step 4 instead only when its validation error is at most half the
   sparse fit's (:func:`~shapiq_spex.approximators.proxyspex.choose_surrogate`, ProxySPEX's
   rule; ``report_.details["surrogate"]``): the refit keeps parity-type terms exactly, the
   sparse fit wins on hierarchical games such as texts.

Choosing by validation between orderings that contain "SPEX's support" and "the proxy's support"
as special cases is what keeps the hybrid from doing worse than either alone beyond the
validation noise.

The SPEX side is reached through a small interface, :class:`StructuredStage` and a
``spex_stage`` callable (:func:`spex_structured_stage` by default, which runs the SPEX design and
peeling of :mod:`shapiq_spex.approximators.spex` without its random extras and holdout).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from shapiq.interaction_values import InteractionValues

from shapiq_spex._random import spawn
from shapiq_spex.approximators._base import (
    DEFAULT_MAX_MEMORY,
    HYBRID_ALIASES,
    DecoderAliases,
    GameCaller,
    SparseApproximator,
    accepts_shapiq_keywords,
    check_budget,
    check_fraction,
    check_positive_int,
    holdout_r2,
    lower_choice,
)
from shapiq_spex.approximators.proxyspex import (
    MIN_TRAIN,
    PROXY_BYTES_PER_PLAYER,
    PROXY_BYTES_PER_QUERY,
    PROXY_WORKSPACE_BYTES,
    SPARSE_BYTES_PER_ENTRY,
    choose_surrogate,
    fit_and_refine,
    set_proxy_options,
)
from shapiq_spex.exceptions import BudgetTooSmallError, InvalidParameterError
from shapiq_spex.sampling.random_masks import uniform_masks
from shapiq_spex.spectra._subsets import row_keys, widen
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = ["HybridSPEX", "StructuredStage", "spex_structured_stage", "union_candidates"]


@dataclass(frozen=True)
class StructuredStage:
    """What the SPEX side hands to the hybrid.

    Attributes:
        masks: ``(m, n)`` boolean structured coalitions that were queried (repeats allowed).
        values: ``(m,)`` their game values.
        peeled: Fourier :class:`~shapiq_spex.SparseSpectrum` recovered by peeling (unrefined).
        details: design sizes and decoder statistics, copied into the report.
    """

    masks: np.ndarray
    values: np.ndarray
    peeled: SparseSpectrum
    details: dict = field(default_factory=dict)


SpexStage = Callable[..., StructuredStage]


def spex_structured_stage(
    caller: GameCaller,
    n: int,
    budget: int,
    rng: np.random.Generator,
    *,
    degree_cap: int = 5,
    n_groups: int = 3,
    decoder: str = "soft",
) -> StructuredStage:
    """SPEX's largest structured design within ``budget``, queried and peeled.

    Args:
        caller: the budget-guarded game.
        n: number of players.
        budget: most queries the design may use.
        rng: generator of the design's random hashes.
        degree_cap: BCH degree cap ``t``.
        n_groups: hash groups ``C``.
        decoder: ``"soft"`` or ``"hard"``.

    Returns:
        A :class:`StructuredStage` (only design queries: no random extras, no holdout).

    Raises:
        BudgetTooSmallError: ``budget`` cannot pay for the smallest design.
    """
    from shapiq_spex.approximators.spex import fit_spex
    from shapiq_spex.sampling.design import plan_design

    plan = plan_design(n, budget, degree_cap, n_groups)
    fit = fit_spex(
        caller,
        n,
        plan.n_design,  # exactly the design: nothing left for SPEX's own extras and holdout
        rng,
        degree_cap=degree_cap,
        n_groups=n_groups,
        decoder=decoder,
        holdout_max=0,
    )
    return StructuredStage(fit.train_masks, fit.train_values, fit.peeled, dict(fit.details))


def union_candidates(first: SparseSpectrum, second: tuple[np.ndarray, np.ndarray]):
    """Union of two candidate sets, ``first``'s terms ranked ahead of all of ``second``'s.

    Args:
        first: e.g. SPEX's peeled spectrum; its terms get scores above every score of ``second``
            (ordered among themselves by ``|coef|``).
        second: ``(supports (s, w), coefs (s,))``, e.g. the proxy's terms, scored by ``|coef|``.

    Returns:
        ``(supports, scores)`` with distinct supports (a term in both keeps the higher score).
    """
    sup_b, coef_b = second
    width = max(first.supports.shape[1], sup_b.shape[1], 1)
    top = float(np.abs(coef_b).max()) if coef_b.size else 0.0
    sup = np.concatenate([widen(first.supports, width), widen(sup_b, width)])
    score = np.concatenate([top + 1.0 + np.abs(first.coefs), np.abs(coef_b)])
    order = np.argsort(-score, kind="stable")  # keep the best-scored copy of each support
    sup, score = sup[order], score[order]
    _, first_idx = np.unique(row_keys(sup), return_index=True)
    keep = np.sort(first_idx)
    return sup[keep], score[keep]


class HybridSPEX(DecoderAliases, SparseApproximator):
    """HybridSPEX: SPEX's structured queries plus a tree proxy, with a support chosen by validation.

    For budgets between what ProxySPEX needs (hierarchical games) and what SPEX needs (any sparse
    game), and for games whose interactions are not hierarchical (parity-type), where trees alone
    miss terms. ``spex_fraction`` of the non-held-out budget buys SPEX's largest structured design
    that fits; the rest buys distinct uniform random coalitions. The proxy is trained on all of
    them; the union of SPEX's peeled support and the proxy's Fourier terms is narrowed down on a
    validation split of the random coalitions and refitted on everything.

    shapiq's keywords of SPEX and ProxySPEX are accepted as aliases, as there: ``decoder_type``,
    ``degree_parameter``, ``proxy_model``, ``hpo``, ``sampling_weights`` (uniform only) and
    ``pairing_trick`` (``False`` only: the random coalitions are not paired).

    Args:
        n: number of players.
        max_order: largest interaction order reported; ``None`` = ``n`` (shapiq's meaning),
            ``"recovered"`` = no cap and the result's ``max_order`` is the largest order
            recovered.
        index: interaction index to return.
        top_order: return only interactions of order ``max_order`` (plus ``()``).
        random_state: seed (``None``, a non-negative int or a ``np.random.Generator``); two
            calls with the same int seed and game give identical results.
        max_memory: bytes this approximator's arrays may take in one call (default 2 GiB), as
            in SPEX and ProxySPEX.
        spex_fraction: share of the non-held-out budget offered to SPEX's design. The design
            uses the largest power-of-two size that fits (so usually 50–100% of the offer); the
            rest buys random coalitions. The default 0.9 gives SPEX the same design as SPEX alone
            at most budgets while keeping at least 10% random coalitions for validation.
        proxy: as for :class:`~shapiq_spex.approximators.proxyspex.ProxySPEX`.
        tuning: ``"fast"`` or ``"none"``.
        holdout_fraction: share of the budget held out to measure faithfulness (0 = none).
        validation_fraction: share of the random training coalitions used for validation.
        max_terms: pool at most this many candidates (``None`` = as memory allows).
        linear_terms: ``"all"``, ``"selected"`` or ``"auto"``, as in ProxySPEX.
        n_jobs: threads for the proxy fit, as in ProxySPEX (``-1``, the default: every core).
        sequential: players in reading order: the sparse fit is also offered sets of 3 and 4
            neighbouring players, as in ProxySPEX (default False).
        degree_cap: SPEX's BCH degree cap.
        n_groups: SPEX's hash groups.
        decoder: SPEX's decoder, ``"soft"`` or ``"hard"`` (any case).
        spex_stage: the SPEX side (see :class:`StructuredStage`); ``None`` =
            :func:`spex_structured_stage`. A callable ``(caller, n, budget, rng, *,
            degree_cap, n_groups, decoder) -> StructuredStage``.

    Attributes:
        spectrum_: recovered Fourier :class:`~shapiq_spex.SparseSpectrum`.
        report_: :class:`~shapiq_spex.approximators._base.ApproximationReport` of the last call.
    """

    method_name = "HybridSPEX"

    @accepts_shapiq_keywords(*HYBRID_ALIASES)
    def __init__(
        self,
        n: int,
        max_order: int | str | None = 2,
        index: str = "k-SII",
        *,
        top_order: bool = False,
        random_state: int | np.random.Generator | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY,
        spex_fraction: float = 0.9,
        proxy="lightgbm",
        tuning: str = "fast",
        holdout_fraction: float = 0.1,
        validation_fraction: float = 0.2,
        max_terms: int | None = None,
        linear_terms: str = "auto",
        n_jobs: int = -1,
        sequential: bool = False,
        degree_cap: int = 5,
        n_groups: int = 3,
        decoder: str = "soft",
        spex_stage: SpexStage | None = None,
    ) -> None:
        super().__init__(
            n,
            max_order,
            index,
            top_order=top_order,
            random_state=random_state,
            max_memory=max_memory,
        )
        self.spex_fraction = check_fraction(
            spex_fraction, "spex_fraction", 0.0, 0.95, open_low=True
        )
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
        self.degree_cap = check_positive_int(degree_cap, "degree_cap")
        self.n_groups = check_positive_int(n_groups, "n_groups")
        self.decoder = lower_choice(decoder, "decoder", ("soft", "hard"))
        if spex_stage is not None and not callable(spex_stage):
            msg = f"The 'spex_stage' parameter must be callable or None. Got {spex_stage!r}."
            raise InvalidParameterError(msg)
        self.spex_stage = spex_stage

    def _bytes_per_query(self) -> int:
        # every query (structured or random) feeds the proxy and the sparse fit: plan as
        # ProxySPEX does (more sparse columns take what max_memory leaves)
        sparse = SPARSE_BYTES_PER_ENTRY * (self.n + 1)
        return PROXY_BYTES_PER_PLAYER * self.n + PROXY_BYTES_PER_QUERY + sparse

    def _workspace_bytes(self, queries: int) -> int:
        # the proxy's pool and SPEX's decoder tables
        return PROXY_WORKSPACE_BYTES + super()._workspace_bytes(queries)

    def min_budget(self) -> int:
        """Smallest budget whose SPEX share pays for SPEX's smallest design (plus random rows).

        Or ``2**n`` when that is less and the exact path fits ``max_memory`` (as SPEX's). Only
        meaningful for the default SPEX stage; a custom ``spex_stage`` may need less.
        """
        return self._or_exact(self._sampled_min_budget())

    def _sampled_min_budget(self) -> int:
        """Smallest budget of the sampled path (SPEX's design, then the random rows)."""
        from shapiq_spex.approximators.spex import SPEX

        design = SPEX(self.n, None, degree_cap=self.degree_cap, n_groups=self.n_groups)
        smallest = design._design_min_budget()
        budget = math.ceil((smallest + MIN_TRAIN) / (1.0 - self.holdout_fraction))
        while True:  # a few steps at most: floors in _split
            spex_budget, n_hold = self._split(budget)
            if spex_budget >= smallest and budget - n_hold - smallest >= MIN_TRAIN:
                return budget
            budget += max(1, (smallest - spex_budget) // 2)

    def _split(self, budget: int) -> tuple[int, int]:
        """``(budget offered to SPEX, held-out coalitions)``."""
        n_hold = math.floor(self.holdout_fraction * budget)
        n_hold = 0 if n_hold == 1 else n_hold
        return math.floor(self.spex_fraction * (budget - n_hold)), n_hold

    def approximate(self, budget: int, game, *args, **kwargs) -> InteractionValues:
        """Estimate the interactions of ``game`` with at most ``budget`` evaluations.

        Args:
            budget: most coalitions the game may be evaluated on.
            game: a ``shapiq.Game`` or a callable ``(m, n) bool -> (m,)``.
            *args: ignored (shapiq's ``approximate`` signature).
            **kwargs: ignored (shapiq's ``approximate`` signature).

        Returns:
            ``InteractionValues`` of ``self.index`` up to ``self.max_order`` (with ``()``).

        Raises:
            BudgetTooSmallError: the SPEX share cannot pay for SPEX's smallest design, or too few
                random coalitions are left (the message gives the minimum).
            InvalidGameError: wrong ``n_players``, wrongly shaped or non-finite game values.
        """
        start = time.perf_counter()
        exact = self._exact_if_affordable(budget, game, start)
        if exact is not None:
            return exact
        # the exact path (budget >= 2**n) was taken above: below it the sampled path's minimum
        minimum = MIN_TRAIN if self.spex_stage is not None else self._sampled_min_budget()
        self._refuse_below_exact(budget, minimum, "HybridSPEX's sampled path")
        budget = check_budget(budget, minimum, what="HybridSPEX (SPEX's smallest design + random)")
        budget = self._capped_budget(budget, minimum)
        caller = GameCaller(game, self.n, budget)
        spex_budget, n_hold = self._split(budget)
        rng_spex, rng_rand, rng_hold, rng_split, rng_proxy, rng_cv = spawn(self._make_rng(), 6)
        stage_fn = spex_structured_stage if self.spex_stage is None else self.spex_stage
        try:
            stage = stage_fn(
                caller,
                self.n,
                spex_budget,
                rng_spex,
                degree_cap=self.degree_cap,
                n_groups=self.n_groups,
                decoder=self.decoder,
            )
        except BudgetTooSmallError as err:
            msg = (
                f"The 'budget' parameter is too small for HybridSPEX: its SPEX share "
                f"(spex_fraction={self.spex_fraction} of {budget - n_hold} = {spex_budget}) "
                f"cannot pay for SPEX's smallest design. {err} Raise the budget (or "
                "spex_fraction), or use ProxySPEX."
            )
            raise BudgetTooSmallError(msg) from None
        structured = np.asarray(stage.masks, dtype=bool)
        n_rand = budget - n_hold - caller.queries
        if n_rand < MIN_TRAIN:
            need = math.ceil((caller.queries + MIN_TRAIN) / (1.0 - self.holdout_fraction)) + 1
            msg = (
                f"The 'budget' parameter is too small for HybridSPEX: SPEX's design used "
                f"{caller.queries} queries and only {n_rand} random coalitions are left (it needs "
                f">= {MIN_TRAIN}). Raise the budget to >= {need} or lower spex_fraction."
            )
            raise BudgetTooSmallError(msg)
        t0 = time.perf_counter()
        rand = uniform_masks(rng_rand, self.n, n_rand, include_extremes=False, exclude=structured)
        rand_values = caller(rand)
        train = np.concatenate([structured, rand])
        y_train = np.concatenate([np.asarray(stage.values, dtype=np.float64), rand_values])
        hold = uniform_masks(rng_hold, self.n, n_hold, include_extremes=False, exclude=train)
        y_hold = caller(hold)
        # Validation rows: uniform random coalitions only (the structured ones are not uniform).
        validation = np.zeros(train.shape[0], dtype=bool)
        n_val = min(max(2, round(self.validation_fraction * n_rand)), n_rand - 2)
        validation[structured.shape[0] + rng_split.choice(n_rand, n_val, replace=False)] = True
        t1 = time.perf_counter()
        proxy, refined, fit_details = fit_and_refine(
            self,
            train,
            y_train,
            validation,
            rng_proxy,
            candidates=lambda sup, coef: union_candidates(stage.peeled, (sup, coef)),
        )
        # the refitted selection keeps parity-type terms exactly; the sparse Möbius fit over
        # its supports (blended with the proxy) is better on hierarchical games such as texts:
        # ProxySPEX's rule chooses (the selection's validation R² is optimistic)
        surrogate = choose_surrogate(
            self, train, y_train, validation, proxy, refined, rng_cv, fit_details["linear_terms"]
        )
        spectrum = surrogate.pop("spectrum")
        empty = np.flatnonzero(~train.any(axis=1))
        empty_value = float(y_train[empty[0]]) if empty.size else None
        details = {
            "structured_queries": int(structured.shape[0]),
            "random_queries": int(n_rand),
            "n_validation": int(n_val),
            "peeled_terms": len(stage.peeled),
            "spex": stage.details,
            **fit_details,
            **surrogate,
            "sample_time_s": t1 - t0,
        }
        reported = holdout_r2(spectrum, hold, y_hold)
        spectrum, reported = self._completed(
            spectrum,
            np.concatenate([train, hold]),
            np.concatenate([y_train, y_hold]),
            reported,
            details,
        )
        if not details["completed"]:
            self._warn_if_few_scoring(int(n_hold), "held-out coalitions", budget)
        return self._result(
            spectrum,
            caller=caller,
            budget=budget,
            start=start,
            empty_value=empty_value,
            details=details,
            n_holdout=n_hold,
            faithfulness_r2=reported,
        )
