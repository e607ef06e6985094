"""SPEX: sparse Fourier interactions by BCH-coded aliasing and peeling (Kang et al., 2025)."""

from __future__ import annotations

import copy
import numbers
import time
import warnings

import numpy as np
from shapiq.interaction_values import InteractionValues

from shapiq_spex._random import random_bits, spawn
from shapiq_spex.approximators._base import (
    DEFAULT_MAX_MEMORY,
    SPEX_ALIASES,
    DecoderAliases,
    GameCaller,
    SparseApproximator,
    accepts_shapiq_keywords,
    check_budget,
    holdout_r2,
    lower_choice,
)
from shapiq_spex.codes import BCHCode
from shapiq_spex.decoding import bin_measurements, peel
from shapiq_spex.exceptions import DecodingWarning, InvalidParameterError
from shapiq_spex.sampling.design import MIN_DEGREE_CAP, QueryDesign, plan_design_with_reserve
from shapiq_spex.spectra._subsets import PAD, canonicalize, row_keys, widen
from shapiq_spex.spectra.regression import (
    NormalEquations,
    constant_and_linear,
    normal_equations,
    solve_normal_equations,
)
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = ["SPEX", "SpexFit", "fit_spex"]

# Planned bytes per query of SPEX's arrays: per player and fixed (see SPEX._bytes_per_query).
SPEX_BYTES_PER_PLAYER = 3
SPEX_BYTES_PER_QUERY = 160

# The game counts as resolved when peeling leaves at most this share of the bins' non-constant
# energy unexplained (noise included: SPEX cannot tell a dense tail of small terms from noise).
RESOLVED_SHARE = 0.05
# Bins per term SPEX's peeling needs with margin (3 groups decode reliably below ~0.8 terms/bin).
TERMS_PER_BIN = 0.5
# Held-out coalitions SPEX's design leaves room for (the degree cap is lowered first, see
# plan_design_with_reserve), at most a fifth of the budget: with a handful, the held-out R² and
# the choice between the peeled spectrum and the other fits are noise (4 coalitions at n = 166
# and 1,000 queries reported R² 0.90 where the truth was 0.79).
HOLDOUT_TARGET = 50
# Fewer held-out coalitions than this get a DecodingWarning saying the estimate is unreliable.
HOLDOUT_WARN = 20
# Most columns (singletons and pairs) of the pairwise fit offered when peeling does not resolve
# the game (see pairwise_fit).
PAIRS_COLUMNS = 1500
# Fewest pair columns that make the pairwise fit worth offering (memory may allow fewer).
MIN_PAIR_COLUMNS = 32
# Most work of the pairwise fit, in rows x (players² + columns²) (its pair screening and Gram
# matrices), a few seconds on 2 cores; larger fits get fewer columns (n = 250 and 4,000 queries:
# 1,089), and none once fewer than n + MIN_PAIR_COLUMNS fit (n = 1,000 from ~2,400 queries on).
PAIRS_MAX_WORK = 5e9


def _check_int(value, name: str, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
        or (high is not None and value > high)
    ):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        msg = f"The '{name}' parameter must be an int {rng}. Got {value!r}."
        raise InvalidParameterError(msg)
    return int(value)


class SpexFit:
    """Everything one SPEX run produced (used by SPEX itself and by HybridSPEX).

    Attributes:
        spectrum: refitted Fourier spectrum.
        peeled: the spectrum as peeled, before the refit.
        train_masks: ``(m, n)`` every coalition used for fitting (design + extra random).
        train_values: ``(m,)`` their values.
        holdout_masks: ``(h, n)`` random coalitions kept out of the fit.
        holdout_values: ``(h,)`` their values.
        empty_value: game value of the empty coalition.
        details: design sizes and decoder statistics.
        refit_support: ``(s, w)`` the support ``spectrum`` was refitted on (its row order).
        refit_equations: :class:`~shapiq_spex.spectra.regression.NormalEquations` of that
            support over the training coalitions.
    """

    def __init__(self, **kw) -> None:
        self.__dict__.update(kw)


def fit_spex(
    game_caller: GameCaller,
    n: int,
    budget: int,
    rng: np.random.Generator,
    *,
    degree_cap: int = 5,
    n_groups: int = 3,
    decoder: str = "soft",
    chase_depth: int | None = None,
    singleton_cutoff: float = 0.9,
    log2_bins: int | None = None,
    holdout_max: int = 2000,
    refit_alpha: float | str = "gcv",
    extra_fraction: float = 0.0,
    holdout_target: int = 0,
) -> SpexFit:
    """Run the SPEX pipeline: design, query, bins, peel, extra samples, refit.

    The design uses the largest power-of-two number of bins that fits ``budget * (1 -
    extra_fraction)``; whatever it leaves over is drawn as uniform random coalitions, half of them
    (at most ``holdout_max``) held out to estimate faithfulness and the rest added to the refit.
    With ``holdout_target > 0`` the design leaves room for that many held-out coalitions (twice
    that left over, at most a fifth of the budget), lowering the degree cap before the bins.
    """
    rng_design, rng_extra = spawn(rng, 2)
    design_budget = int(budget * (1.0 - extra_fraction))
    reserve = min(2 * min(holdout_target, holdout_max), budget // 5)
    reserve = max(reserve - (budget - design_budget), 0)
    plan = plan_design_with_reserve(n, design_budget, degree_cap, n_groups, log2_bins, reserve)
    code = BCHCode.for_messages(n, plan.t)
    design = QueryDesign.random(code, plan.b, n_groups, rng_design)
    masks = design.masks()
    values = game_caller(masks)
    U = bin_measurements(values, n_groups, design.n_delays, design.b)
    t0 = time.perf_counter()
    peeled = peel(
        U,
        design,
        soft=decoder == "soft",
        chase_depth=chase_depth,
        singleton_cutoff=singleton_cutoff,
    )
    decode_s = time.perf_counter() - t0

    leftover = budget - masks.shape[0]
    n_holdout = min(leftover // 2, holdout_max) if leftover >= 2 else 0
    n_extra = leftover - n_holdout
    extra = random_bits(rng_extra, n_extra + n_holdout, n)
    extra_values = game_caller(extra)
    train_masks = np.concatenate([masks, extra[:n_extra]])
    train_values = np.concatenate([values, extra_values[:n_extra]])

    # Support for the refit: peeled frequencies plus the constant and every singleton, so that a
    # poorly decoded run still yields at least the best linear model of the queries.
    base = constant_and_linear(n)
    width = max(base.shape[1], peeled.supports.shape[1])
    sup = np.concatenate(
        [
            np.pad(base, ((0, 0), (0, width - base.shape[1])), constant_values=PAD),
            np.pad(
                peeled.supports,
                ((0, 0), (0, width - peeled.supports.shape[1])),
                constant_values=PAD,
            ),
        ]
    )
    sup, _ = canonicalize(sup, np.zeros(sup.shape[0]))
    t1 = time.perf_counter()
    equations = normal_equations(train_masks, train_values, sup)
    fit = solve_normal_equations(equations, alpha=refit_alpha)
    refit_s = time.perf_counter() - t1
    spectrum = SparseSpectrum(n, sup, fit.coefs, "fourier")
    peeled_spec = SparseSpectrum(n, peeled.supports, peeled.coefs, "fourier")
    details = {
        "degree_cap": plan.t,
        "parity_bits": plan.p,
        "log2_bins": plan.b,
        "n_groups": n_groups,
        "design_queries": int(masks.shape[0]),
        "extra_queries": int(n_extra),
        "peeled_terms": len(peeled_spec),
        "peeling_rounds": peeled.stats["rounds"],
        "hard_decodes": peeled.stats["hard_decodes"],
        "soft_decodes": peeled.stats["soft_decodes"],
        "noise_var": peeled.noise_var,
        "decode_time_s": decode_s,
        "refit_time_s": refit_s,
        "refit_alpha": fit.alpha,
        "refit_gcv_r2": fit.gcv_r2,
    }
    return SpexFit(
        spectrum=spectrum,
        peeled=peeled_spec,
        train_masks=train_masks,
        train_values=train_values,
        holdout_masks=extra[n_extra:],
        holdout_values=extra_values[n_extra:],
        empty_value=float(values[0]),
        details=details,
        refit_support=sup,
        refit_equations=equations,
    )


def linear_fit(
    fit: SpexFit, refit_alpha: float | str = "gcv"
) -> tuple[SparseSpectrum, NormalEquations]:
    """First-order least-squares fit (constant + every singleton) on SPEX's training coalitions.

    Returns:
        The fit and its normal equations (support ``constant_and_linear(n)``).
    """
    base = constant_and_linear(fit.spectrum.n)
    # the refit's support holds the constant and every singleton (fit_spex puts them there), so
    # their Gram is a block of the one already computed: no second pass over the coalitions
    width = fit.refit_support.shape[1]
    keys = row_keys(fit.refit_support)
    wanted = row_keys(widen(base, width))
    order = np.argsort(keys)
    index = order[np.minimum(np.searchsorted(keys, wanted, sorter=order), keys.shape[0] - 1)]
    if not np.array_equal(keys[index], wanted):
        msg = "SpexFit.refit_support must hold the constant and every singleton (fit_spex's)."
        raise ValueError(msg)
    equations = fit.refit_equations.restrict(index)
    coefs = solve_normal_equations(equations, alpha=refit_alpha).coefs
    return SparseSpectrum(fit.spectrum.n, base, coefs, "fourier"), equations


def pairwise_columns(approx: SPEX, queries: int) -> tuple[int, str | None]:
    """Columns of the pairwise fit for ``queries`` rows, or ``(0, why not)``.

    Bounded by :data:`PAIRS_COLUMNS`, by :data:`PAIRS_MAX_WORK` and by ``approx.max_memory``:
    the fit's arrays are those of ProxySPEX's sparse fit (``SPARSE_BYTES_PER_ENTRY`` per row and
    column, ``SPARSE_BYTES_PER_GRAM_ENTRY`` per column²), on top of SPEX's own plan. The fit is
    not made when fewer than ``n + MIN_PAIR_COLUMNS`` columns remain.
    """
    from shapiq_spex.approximators.proxyspex import (
        SPARSE_BYTES_PER_ENTRY,
        SPARSE_BYTES_PER_GRAM_ENTRY,
    )

    n, need = approx.n, approx.n + MIN_PAIR_COLUMNS
    spare = max(approx.max_memory - approx.planned_bytes(queries), 0)
    a, b = SPARSE_BYTES_PER_GRAM_ENTRY, SPARSE_BYTES_PER_ENTRY * queries
    by_memory = int((-b + np.sqrt(b * b + 4.0 * a * spare)) / (2 * a))
    room = PAIRS_MAX_WORK / max(queries, 1) - n * n
    by_work = int(np.sqrt(room)) if room > 0 else 0
    if by_memory < need:
        return 0, "max_memory leaves too little room for the pairwise fit"
    if by_work < need:
        return 0, (
            f"the pairwise fit over {n} players and {queries} queries would exceed its work "
            "cap (spex.PAIRS_MAX_WORK)"
        )
    return min(PAIRS_COLUMNS, by_memory, by_work), None


def pairwise_fit(masks: np.ndarray, values: np.ndarray, rng: np.random.Generator, columns: int):
    """Cross-validated L1 fit over the constant, every singleton and (screened) pairs.

    SPEX's third candidate where peeling does not resolve the game: the Möbius fit ProxySPEX
    uses (:func:`~shapiq_spex.proxy.sparse_regression.fit_sparse_moebius`), over singletons and
    the pairs (all of them when they fit ``columns``, else those most correlated with a linear
    fit's residual). The singletons are kept unconditionally when the rows allow it (as
    ProxySPEX's ``linear_terms="auto"``), so its path nests the first-order fit.

    Returns:
        The :class:`~shapiq_spex.proxy.sparse_regression.SparseFit`.
    """
    from shapiq_spex._parallel import resolve_n_jobs
    from shapiq_spex.approximators.proxyspex import resolve_linear_terms
    from shapiq_spex.proxy.sparse_regression import fit_sparse_moebius

    n = masks.shape[1]
    return fit_sparse_moebius(
        masks,
        values,
        rng,
        max_columns=columns,
        force_singletons=resolve_linear_terms("auto", n, masks.shape[0]) == "all",
        n_jobs=resolve_n_jobs(-1),
    )


def bin_diagnostics(fit: SpexFit) -> dict:
    """What SPEX's own bins say about how well peeling resolved the game.

    The design's bins are recomputed from the design values (the first ``design_queries``
    training coalitions) and from the peeled spectrum on the same coalitions; their difference is
    what peeling left unexplained. Bin 0 of every group (which holds the constant) is left out.

    Returns:
        ``{"unexplained_share", "occupied_bins", "estimated_terms", "saturated"}``:
        residual energy after peeling over the bins' energy; share of bins holding energy above
        the noise level; terms estimated from that share (``-B ln(1 - share)`` per group of ``B``
        bins, a lower bound when ``saturated``, i.e. every bin is occupied).
    """
    from scipy.stats import chi2

    d = fit.details
    n_groups, p, b = d["n_groups"], d["parity_bits"], d["log2_bins"]
    m = d["design_queries"]
    masks = fit.train_masks[:m]
    U = bin_measurements(fit.train_values[:m], n_groups, p + 1, b)
    R = U - bin_measurements(fit.peeled.evaluate(masks), n_groups, p + 1, b)
    energy = np.einsum("crj,crj->cj", U, U)[:, 1:]
    resid = np.einsum("crj,crj->cj", R, R)[:, 1:]
    total = float(energy.sum())
    share = min(float(resid.sum()) / total, 1.0) if total > 0 else 0.0
    threshold = 1e-12 * float(energy.mean()) if energy.size else 0.0
    if np.isfinite(d["noise_var"]):
        threshold = max(threshold, d["noise_var"] * float(chi2.ppf(0.99, p + 1)))
    n_bins = 1 << b
    occupied = float((energy > threshold).mean()) if energy.size else 0.0
    # the smallest share an occupancy estimate can resolve is one bin in all groups
    saturated = occupied >= 1.0 - 1.0 / (n_groups * n_bins)
    free = max(1.0 - occupied, 1.0 / (n_groups * n_bins))
    return {
        "unexplained_share": share,
        "occupied_bins": occupied,
        "estimated_terms": float(-n_bins * np.log(free)),
        "saturated": bool(saturated),
    }


def suggested_budget(fit: SpexFit, estimated_terms: float) -> int:
    """Budget whose design has about ``estimated_terms / TERMS_PER_BIN`` bins (plus 20% extra)."""
    d = fit.details
    bins = max(
        1 << (d["log2_bins"] + 1), 1 << int(np.ceil(np.log2(estimated_terms / TERMS_PER_BIN)))
    )
    design = d["n_groups"] * (d["parity_bits"] + 1) * bins
    return int(np.ceil(1.2 * design / 100.0) * 100)


def resolution(fit: SpexFit, budget: int, held_out: dict, returned: str, diag: dict) -> dict:
    """``details`` entries saying whether SPEX resolved the game at this budget, and if not why.

    Resolved means: peeling explained all but :data:`RESOLVED_SHARE` of the energy in SPEX's
    bins, and the peeled + refitted spectrum predicts the held-out coalitions at least as well as
    the other candidates fitted on the same training coalitions (``held_out``: their held-out
    R², ``"pairs"`` None where that fit was not made; ``returned``: the one returned).
    """
    d = fit.details
    share = diag["unexplained_share"]
    resolved = share <= RESOLVED_SHARE and returned == "spex"
    out = {
        "resolved": bool(resolved),
        "unresolved_reason": None,
        "returned": returned,
        "holdout_r2_spex": held_out["spex"],
        "holdout_r2_linear": held_out["linear"],
        "holdout_r2_pairs": held_out["pairs"],
        **diag,
    }
    if resolved:
        return out
    n_bins = 1 << d["log2_bins"]
    target = suggested_budget(fit, diag["estimated_terms"])
    if diag["saturated"]:
        terms = f"every bin occupied: >= {diag['estimated_terms']:.0f} terms"
    else:
        occupied, estimated = diag["occupied_bins"], diag["estimated_terms"]
        terms = f"{occupied:.0%} of the bins occupied: ~{estimated:.0f} terms"
    reason = (
        f"SPEX did not resolve this game at budget {budget}: peeling left {share:.0%} of the "
        f"energy in its {n_bins} bins per group unexplained ({terms}, or noise)."
    )
    if returned != "spex":
        what = {
            "linear": "first-order least squares",
            "pairs": "a cross-validated L1 fit over singletons and pairs",
        }[returned]
        reason += (
            f" Its spectrum predicted the held-out coalitions worse (R² "
            f"{held_out['spex']:.3f}) than {what} on the same coalitions (R² "
            f"{held_out[returned]:.3f}), so that fit is returned "
            f"(report_.details['returned'] == {returned!r})."
        )
    lower = (
        f" lower degree_cap (now {d['degree_cap']}: {d['parity_bits'] + 1} queries per bin) if "
        "interactions of that degree are not expected,"
        if d["degree_cap"] > MIN_DEGREE_CAP
        else ""
    )
    out["unresolved_reason"] = (
        f"{reason} Raise the budget to {'at least' if diag['saturated'] else 'about'} {target},"
        f"{lower} or use ProxySPEX."
    )
    return out


class SPEX(DecoderAliases, SparseApproximator):
    """SPEX: sparse Fourier interactions for many players, with a fast exact BCH decoder.

    The game is queried on ``C`` groups of structured coalitions whose Walsh–Hadamard transforms
    alias the Fourier spectrum into ``2^b`` bins per group; BCH-coded delays make every bin that
    holds one coefficient reveal that coefficient's players by syndrome decoding. Recovered
    coefficients are peeled from all bins until nothing more decodes; the recovered support (plus
    the constant and all first-order terms) is then refitted on every queried coalition. Whatever
    budget the power-of-two design leaves over buys uniform random coalitions, half for the refit
    and half (up to ``holdout_max``) for a held-out faithfulness estimate in ``report_``. The
    design leaves room for at least ``HOLDOUT_TARGET`` (50) held-out coalitions, or a tenth of the
    budget if that is fewer: the degree cap is lowered for the call first (bins decide how many
    terms peeling separates), the bins halved only if that is not enough. Fewer than
    ``HOLDOUT_WARN`` (20) held-out coalitions, when even the smallest design leaves no more, get
    a :class:`~shapiq_spex.exceptions.DecodingWarning`.

    SPEX says when its design cannot resolve the game at the budget: ``report_.details
    ["resolved"]`` is ``False`` when peeling leaves more than 5% of the bins' non-constant energy
    unexplained (more, or higher-degree, interactions than ``2^b`` bins separate, or noise) or
    when another candidate below is returned; ``details["unresolved_reason"]`` then says so with
    a budget to try (estimated from the share of occupied bins) and the alternatives, and a
    :class:`~shapiq_spex.exceptions.DecodingWarning` repeats it. SPEX never returns a surrogate
    that predicts the held-out coalitions worse than first-order least squares on its own
    training coalitions, and where peeling leaves more than 5% of the bins' energy (or loses to
    that linear fit) it also fits a cross-validated L1 model over singletons and pairs on them
    (:func:`pairwise_fit`, ProxySPEX's sparse fit without the proxy's terms; up to
    ``PAIRS_COLUMNS`` columns, fewer if ``max_memory`` or the work cap ``PAIRS_MAX_WORK`` ask,
    none if they leave no room: ``details["pairs_skipped"]`` says why, None otherwise). The
    candidate with the highest held-out R² is what ``spectrum_`` and the returned values hold
    (``details["returned"]``: ``"spex"``, ``"linear"`` or ``"pairs"``; their R² in
    ``details["holdout_r2_spex"]``, ``["holdout_r2_linear"]`` and ``["holdout_r2_pairs"]``, None
    where not fitted), and
    ``faithfulness_r2`` is always the held-out R² of what is returned. Once chosen, the returned
    surrogate's support is refitted on every queried coalition, held-out ones included, so no
    paid query is wasted; ``faithfulness_r2`` stays the held-out R² of the fit without them
    (slightly pessimistic). When the queried
    coalitions are at least ``COMPLETION_FRACTION`` of all ``2^n`` (``n`` at most
    ``COMPLETION_MAX_N``; both in ``approximators._base``), the returned spectrum is the exact
    transform of the table completed with that surrogate's predictions
    (``report_.details["completed"]``), and ``faithfulness_r2`` is the held-out R² scaled to the
    share not queried (as for ProxySPEX).

    Code written for ``shapiq.SPEX`` runs unchanged: shapiq's keywords ``decoder_type`` and
    ``degree_parameter`` are accepted as aliases of ``decoder`` and ``degree_cap`` (passing both
    names of one option is an error), decoder names are case-insensitive, and
    ``max_order=None`` means ``n``.

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
        degree_cap: BCH correction capability ``t``: frequencies of degree up to ``t`` are
            decodable, fewer when noise flips parity bits. Lowered for a call (never below 2;
            the value used is ``report_.details["degree_cap"]``) only if the budget cannot pay
            for 8 bins per group or the design would leave too few held-out coalitions (above).
            shapiq's name: ``degree_parameter``.
        n_groups: number of hash groups ``C``.
        decoder: ``"soft"`` (Chase decoding ranked by residual energy) or ``"hard"``, any case.
            shapiq's name: ``decoder_type``.
        chase_depth: least reliable parity bits flipped by the soft decoder (default ``t``).
        singleton_cutoff: largest residual/energy ratio that still counts as a singleton.
        log2_bins: force ``b`` instead of choosing the largest that fits the budget.
        holdout_max: most random coalitions held out for the faithfulness estimate.
        refit: ``"gcv"`` (ridge penalty chosen by generalized cross-validation, 0 allowed) or
            ``"ls"`` (plain least squares).

    Attributes:
        spectrum_: recovered :class:`~shapiq_spex.SparseSpectrum` (Fourier), with ``predict``.
        report_: :class:`~shapiq_spex.approximators.ApproximationReport` of the last call.
    """

    method_name = "SPEX"

    @accepts_shapiq_keywords(*SPEX_ALIASES)
    def __init__(
        self,
        n: int,
        max_order: int | str | None = 2,
        index: str = "k-SII",
        *,
        top_order: bool = False,
        random_state: int | np.random.Generator | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY,
        degree_cap: int = 5,
        n_groups: int = 3,
        decoder: str = "soft",
        chase_depth: int | None = None,
        singleton_cutoff: float = 0.9,
        log2_bins: int | None = None,
        holdout_max: int = 2000,
        refit: str = "gcv",
    ) -> None:
        super().__init__(
            n,
            max_order,
            index,
            top_order=top_order,
            random_state=random_state,
            max_memory=max_memory,
        )
        self.degree_cap = _check_int(degree_cap, "degree_cap", 1, 16)
        self.n_groups = _check_int(n_groups, "n_groups", 1, 64)
        self.decoder = lower_choice(decoder, "decoder", ("soft", "hard"))
        self.chase_depth = (
            None if chase_depth is None else _check_int(chase_depth, "chase_depth", 0, 16)
        )
        if not isinstance(singleton_cutoff, numbers.Real) or not 0.0 < singleton_cutoff < 1.0:
            msg = (
                "The 'singleton_cutoff' parameter must be a float in (0, 1). "
                f"Got {singleton_cutoff!r}."
            )
            raise InvalidParameterError(msg)
        self.singleton_cutoff = float(singleton_cutoff)
        self.log2_bins = None if log2_bins is None else _check_int(log2_bins, "log2_bins", 1, 24)
        self.holdout_max = _check_int(holdout_max, "holdout_max", 0)
        self.refit = lower_choice(refit, "refit", ("gcv", "ls"))

    def _bytes_per_query(self) -> int:
        # design and random coalitions (bool, and their concatenation for the refit), values and
        # the complex bin measurements with their transform workspace; measured by tracemalloc
        return SPEX_BYTES_PER_PLAYER * self.n + SPEX_BYTES_PER_QUERY

    def min_budget(self) -> int:
        """Smallest budget SPEX accepts for this ``n``: its smallest design, or ``2**n`` if less.

        A budget of ``2**n`` takes the exact path (when it fits ``max_memory``), which at small
        ``n`` is cheaper than the smallest design (16 queries at ``n = 4`` instead of 216).
        """
        return self._or_exact(self._design_min_budget())

    def _design_min_budget(self) -> int:
        """Queries of SPEX's smallest design for this ``n`` (``plan_design``'s minimum)."""
        from shapiq_spex.codes import parity_length
        from shapiq_spex.sampling.design import MIN_DEGREE_CAP, MIN_LOG2_BINS

        t = min(self.degree_cap, MIN_DEGREE_CAP)
        b = MIN_LOG2_BINS if self.log2_bins is None else self.log2_bins
        return self.n_groups * (parity_length(self.n, t) + 1) * (1 << b)

    def approximate(self, budget: int, game, *args, **kwargs) -> InteractionValues:
        """Estimate the interactions of ``game`` with at most ``budget`` evaluations.

        Args:
            budget: most coalitions the game may be evaluated on.
            game: a ``shapiq.Game`` or a callable ``(m, n) bool -> (m,)``.
            *args: ignored (shapiq's ``Approximator.__call__`` signature).
            **kwargs: ignored (shapiq's ``Approximator.__call__`` signature).

        Returns:
            ``InteractionValues`` of ``self.index`` up to ``self.max_order`` (with ``()``),
            ``estimation_budget`` = queries used.

        Raises:
            BudgetTooSmallError: the smallest design does not fit (the message gives the minimum).
            InvalidGameError: wrong ``n_players``, wrongly shaped or non-finite game values.
        """
        start = time.perf_counter()
        exact = self._exact_if_affordable(budget, game, start)
        if exact is not None:
            # every coalition was queried: the transform is the game, nothing is left unresolved
            self.report_.details.update(resolved=True, unresolved_reason=None, returned="exact")
            return exact
        budget = check_budget(budget, 1, what="SPEX")
        design_min = self._design_min_budget()
        budget = self._capped_budget(budget, design_min)
        self._refuse_below_exact(budget, design_min, "SPEX's smallest design")
        caller = GameCaller(game, self.n, budget)
        rng = self._make_rng()
        fit = fit_spex(
            caller,
            self.n,
            budget,
            rng,
            degree_cap=self.degree_cap,
            n_groups=self.n_groups,
            decoder=self.decoder,
            chase_depth=self.chase_depth,
            singleton_cutoff=self.singleton_cutoff,
            log2_bins=self.log2_bins,
            holdout_max=self.holdout_max,
            refit_alpha="gcv" if self.refit == "gcv" else 0.0,
            holdout_target=HOLDOUT_TARGET,
        )
        alpha = "gcv" if self.refit == "gcv" else 0.0
        r2_spex = holdout_r2(fit.spectrum, fit.holdout_masks, fit.holdout_values)
        linear, linear_equations = linear_fit(fit, alpha)
        r2_linear = holdout_r2(linear, fit.holdout_masks, fit.holdout_values)
        n_holdout = int(fit.holdout_masks.shape[0])
        diag = bin_diagnostics(fit)
        # Documented choices, named in the report and the warning: never return a surrogate
        # that predicts the held-out coalitions worse than first-order least squares does, and
        # where peeling leaves the bins unexplained, offer a pairwise L1 fit on the same
        # queries too (on MiniLM reviews it was returned in 27 of 30 runs and lifted SPEX above
        # linear least squares in every cell, benchmarks/results/llm_faithfulness.md). A
        # resolved game never pays for that fit.
        held_out = {"spex": r2_spex, "linear": r2_linear, "pairs": None}
        pairs, columns, skipped = None, 0, None
        unresolved = diag["unexplained_share"] > RESOLVED_SHARE or r2_linear > r2_spex
        if unresolved and n_holdout >= 2:
            columns, skipped = pairwise_columns(self, budget)
        if columns:
            rng_pairs = spawn(rng, 1)[0]
            pairs = pairwise_fit(
                fit.train_masks, fit.train_values, copy.deepcopy(rng_pairs), columns
            )
            held_out["pairs"] = holdout_r2(pairs.spectrum, fit.holdout_masks, fit.holdout_values)
        returned = "linear" if r2_linear > r2_spex else "spex"
        if pairs is not None and held_out["pairs"] > held_out[returned]:
            returned = "pairs"
        r2 = held_out[returned]
        spectrum = {"spex": fit.spectrum, "linear": linear}.get(returned)
        support, equations = (
            (constant_and_linear(self.n), linear_equations)
            if returned == "linear"
            else (fit.refit_support, fit.refit_equations)
        )
        details = {**fit.details, **resolution(fit, budget, held_out, returned, diag)}
        details["pairs_skipped"] = skipped
        if n_holdout < 2 <= self.holdout_max:  # holdout_max < 2: the user asked for none
            warnings.warn(
                "SPEX's design used the whole budget, so no held-out coalitions were left to "
                "estimate faithfulness (report_.faithfulness_r2 is NaN). Raise the budget a "
                "little to get one.",
                DecodingWarning,
                stacklevel=2,
            )
        elif n_holdout < min(HOLDOUT_WARN, self.holdout_max):
            warnings.warn(
                f"SPEX's design left only {n_holdout} held-out coalitions, so "
                "report_.faithfulness_r2 and the choice between the peeled spectrum and the "
                f"other fits rest on {n_holdout} values and are unreliable. Raise the budget by "
                f"at least {2 * HOLDOUT_WARN - 2 * n_holdout} or lower degree_cap.",
                DecodingWarning,
                stacklevel=2,
            )
        if not details["resolved"]:
            warnings.warn(details["unresolved_reason"], DecodingWarning, stacklevel=2)
        queried_masks = np.concatenate([fit.train_masks, fit.holdout_masks])
        queried_values = np.concatenate([fit.train_values, fit.holdout_values])
        if returned == "pairs":
            # refitted on every paid query, as the others below (same columns cap and folds)
            pairs = pairwise_fit(queried_masks, queried_values, rng_pairs, columns)
            spectrum = pairs.spectrum.to_fourier()
        elif n_holdout:
            # the held-out coalitions chose the surrogate and estimated its faithfulness; its
            # support is then refitted on every paid query (the estimate stays the held-out one,
            # of a fit on fewer coalitions, so it errs on the pessimistic side)
            equations = equations + normal_equations(fit.holdout_masks, fit.holdout_values, support)
            coefs = solve_normal_equations(equations, alpha=alpha).coefs
            spectrum = SparseSpectrum(self.n, support, coefs, "fourier")
        # most of the table queried (small n): interpolate it, as ProxySPEX does
        spectrum, r2 = self._completed(spectrum, queried_masks, queried_values, r2, details)
        return self._result(
            spectrum,
            caller=caller,
            budget=budget,
            start=start,
            empty_value=fit.empty_value,
            details=details,
            n_holdout=n_holdout,
            faithfulness_r2=r2,
        )
