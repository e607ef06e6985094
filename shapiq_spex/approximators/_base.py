"""Shared machinery of the sparse approximators: validation, guarded game calls, results.

Every approximator here follows one contract (the scikit-learn one, adapted to shapiq):
the constructor validates and stores its configuration and never changes it; ``approximate``
does all the work, builds a fresh random generator from ``random_state``, never queries more than
``budget`` coalitions, leaves the recovered spectrum on ``self.spectrum_`` and a
:class:`ApproximationReport` on ``self.report_``, and returns ``InteractionValues`` of the final
index that always contain ``()``.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapiq.approximator.base import Approximator
from shapiq.interaction_values import InteractionValues

from shapiq_spex._random import as_generator
from shapiq_spex.exceptions import (
    BudgetCappedWarning,
    BudgetTooSmallError,
    DecodingWarning,
    InvalidGameError,
    InvalidParameterError,
    PrecisionWarning,
)
from shapiq_spex.spectra.indices import SUPPORTED_INDICES, check_index, to_interaction_values
from shapiq_spex.spectra.spectrum import SparseSpectrum
from shapiq_spex.validation import check_game_values, check_random_state

__all__ = [
    "DEFAULT_MAX_MEMORY",
    "HYBRID_ALIASES",
    "MAX_ABS_VALUE",
    "PROXYSPEX_ALIASES",
    "SPEX_ALIASES",
    "ApproximationReport",
    "DecoderAliases",
    "GameCaller",
    "MemoryPlan",
    "SparseApproximator",
    "accepts_shapiq_keywords",
    "check_budget",
    "check_fraction",
    "check_max_memory",
    "check_positive_int",
    "holdout_r2",
    "lower_choice",
    "prediction_r2",
]

#: Default memory budget of one ``approximate`` call (bytes of the approximator's own arrays).
DEFAULT_MAX_MEMORY = 2 * 2**30
#: When the queried coalitions are at least this share of all ``2^n`` (and ``n`` is at most
#: ``COMPLETION_MAX_N``), ProxySPEX and HybridSPEX return the exact transform of the completed
#: table (queried values, the surrogate's elsewhere; see ``SparseApproximator._completed``).
COMPLETION_FRACTION = 0.5
COMPLETION_MAX_N = 16
#: Largest magnitude accepted from a game: sums and differences of values must stay finite.
MAX_ABS_VALUE = 1e300
#: Relative float64 resolution of the values' spread above which a PrecisionWarning is raised
#: (interactions are then accurate to about this, not to 1e-6) ...
PRECISION_WARN = 1e-8
#: ... and above which the values are refused (fewer than about 10 bits of them vary).
PRECISION_ERROR = 1e-3
#: Exact path: bytes per coalition and player (``all_coalitions``' int64 temporaries and bool
#: table) and per coalition (values, transform, spectrum); measured with tracemalloc.
EXACT_BYTES_PER_PLAYER = 12
EXACT_BYTES_PER_ROW = 32
#: Chunked work arrays (refit designs, decoder tables): about this many bytes per (query,
#: player) entry, and never more than WORKSPACE_BYTES in all (SPEX's measured peaks are
#: 2-3 bytes per query and player plus 120-150 MB at n = 50-1000).
WORKSPACE_BYTES_PER_ENTRY = 36
WORKSPACE_BYTES = 160 * 2**20


#: Fewest coalitions a reported R² may rest on without a warning (with 4, R² 0.99 was reported
#: where every coalition gave -0.07: a 7-word review, ProxySPEX at 20 queries).
FEW_SCORING_COALITIONS = 20


def scored_coalitions(n_holdout: int, queries: int, details: dict) -> tuple[int, str]:
    """``(count, kind)``: the coalitions a report's ``faithfulness_r2`` was scored on.

    ``kind`` is ``"all"`` (the exact path: every coalition), ``"held-out"`` or
    ``"validation"`` (ProxySPEX's validation coalitions, scored by fits that did not see them).
    Shared by :class:`ApproximationReport` and the reports read back from the CLI's JSON.
    """
    if details.get("exact"):
        return int(queries or 0), "all"
    if n_holdout:
        return int(n_holdout), "held-out"
    return int(details.get("n_validation", 0) or 0), "validation"


def too_few_scored(count: int, kind: str) -> bool:
    """Whether an R² scored on ``count`` coalitions of ``kind`` is too noisy to trust."""
    return kind != "all" and count < FEW_SCORING_COALITIONS


@dataclass
class ApproximationReport:
    """What one ``approximate`` call did, for provenance and diagnostics.

    Attributes:
        method: approximator name.
        budget: the budget that was asked for.
        queries: coalitions actually evaluated (never more than ``budget``).
        game_time_s: wall time spent inside the game.
        total_time_s: wall time of the whole call.
        n_holdout: held-out random coalitions used only to estimate faithfulness.
        faithfulness_r2: R² of ``spectrum_`` on the held-out coalitions (NaN if none were left).
        support_size: number of terms in ``spectrum_``.
        random_state: the seed as given.
        empty_value: the game's own value of the empty coalition when it was queried (NaN if
            not). The returned ``InteractionValues`` carry the *surrogate's* value there as
            ``baseline_value``, so that they rebuild ``spectrum_``; the two differ by the
            surrogate's error at the empty coalition.
        value_center: the fit worked on ``(v - value_center) / value_scale`` (see
            :class:`GameCaller`); ``spectrum_`` and the returned values are in the game's units,
            but value-scale numbers in ``details`` (noise variances, penalties) are not.
        value_scale: see ``value_center``.
        value_resolution: float64 spacing of the game's values relative to their spread (about
            the best relative accuracy possible; a ``PrecisionWarning`` is raised above 1e-8).
        details: method-specific numbers (design sizes, decoder statistics, ...);
            ``details["budget_cap"]`` says how and why a budget was lowered.
    """

    method: str
    budget: int
    queries: int = 0
    game_time_s: float = 0.0
    total_time_s: float = 0.0
    n_holdout: int = 0
    faithfulness_r2: float = float("nan")
    support_size: int = 0
    random_state: Any = None
    empty_value: float = float("nan")
    value_center: float = 0.0
    value_scale: float = 1.0
    value_resolution: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def overhead_time_s(self) -> float:
        """Time spent outside the game (sampling, decoding, fitting, conversion)."""
        return self.total_time_s - self.game_time_s

    @property
    def faithfulness_coalitions(self) -> int:
        """Coalitions ``faithfulness_r2`` was scored on (``details["faithfulness_source"]``).

        The held-out coalitions, else ProxySPEX's validation coalitions (scored by fits that did
        not see them), or every coalition on the exact path; below
        :data:`FEW_SCORING_COALITIONS` the R² is too noisy to tell a good fit from a bad one.
        """
        return scored_coalitions(self.n_holdout, self.queries, self.details)[0]


def check_budget(budget: Any, minimum: int, *, what: str) -> int:
    """Validate ``budget`` and make sure it pays for ``minimum`` queries."""
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral):
        msg = f"The 'budget' parameter must be an int (number of game evaluations). Got {budget!r}."
        raise InvalidParameterError(msg)
    if budget < minimum:
        from shapiq_spex.exceptions import BudgetTooSmallError

        msg = (
            f"The 'budget' parameter is too small: {what} needs at least {minimum} game "
            f"evaluations. Got {budget}. Raise the budget to >= {minimum}."
        )
        raise BudgetTooSmallError(msg)
    return int(budget)


def holdout_r2(spectrum: SparseSpectrum, masks: np.ndarray, values: np.ndarray) -> float:
    """R² of ``spectrum`` on held-out coalitions (NaN with fewer than 2 or constant values).

    Args:
        spectrum: the surrogate.
        masks: ``(h, n)`` boolean held-out coalitions.
        values: ``(h,)`` their game values.
    """
    if masks.shape[0] < 2:
        return float("nan")
    return prediction_r2(values, spectrum.evaluate(masks))


def prediction_r2(values: np.ndarray, predictions: np.ndarray) -> float:
    """R² of ``predictions`` of ``values`` (NaN when the values are constant)."""
    resid = values - predictions
    tss = float(((values - values.mean()) ** 2).sum())
    return 1.0 - float(resid @ resid) / tss if tss > 0 else float("nan")


class GameCaller:
    """Calls a game on boolean coalition matrices, validating, accounting and standardising.

    Every batch is checked by :func:`~shapiq_spex.validation.check_game_values` (real, finite,
    one value per coalition) and must stay within ``±MAX_ABS_VALUE``. Fitting code never sees the
    game's own units: the first batch fixes an affine map ``y -> (y - center) / scale`` (``center``
    = the batch's median, ``scale`` = its largest deviation from it), every later batch goes
    through the same map, and :meth:`to_game_units` maps a fitted spectrum back. Trees (LightGBM
    bins in float32), ridge penalties and decoders thus work on values of order one whatever the
    game's offset (``1e9 + v(S)``) or scale (``1e-100``, ``1e150``); R² is affine-invariant.

    Args:
        game: a ``shapiq.Game`` or any callable ``(m, n) bool -> (m,)``.
        n: number of players the approximator was built for.
        budget: hard cap on the number of coalitions evaluated.
        standardize: apply the affine map above (``False`` returns the game's values as given).

    Attributes:
        queries: coalitions evaluated so far.
        time_s: wall time spent inside the game.
        center: the map's offset (0 until the first batch).
        scale: the map's scale (1 until the first batch).
        resolution: float64 spacing of the first batch's values relative to their spread
            (``eps * max|y| / max|y - center|``); about the relative accuracy any fit can reach.
    """

    def __init__(self, game: Any, n: int, budget: int, *, standardize: bool = True) -> None:
        if not callable(game):
            msg = f"The 'game' parameter must be callable on a (m, n) bool matrix. Got {game!r}."
            raise InvalidParameterError(msg)
        n_game = getattr(game, "n_players", None)
        if n_game is not None and int(n_game) != n:
            msg = (
                f"The 'game' has n_players={n_game} but the approximator was built with n={n}. "
                f"Build the approximator with n={n_game}."
            )
            raise InvalidGameError(msg)
        self.game = game
        self.n = n
        self.budget = budget
        self.queries = 0
        self.time_s = 0.0
        self.center = 0.0
        self.scale = 1.0
        self.resolution = 0.0
        self._fixed = not standardize

    @property
    def remaining(self) -> int:
        """Queries still allowed."""
        return self.budget - self.queries

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        """Evaluate ``(m, n)`` coalitions and return checked, standardised float64 ``(m,)``."""
        m = coalitions.shape[0]
        if m == 0:
            return np.zeros(0)
        if self.queries + m > self.budget:  # a bug guard: planners must respect the budget
            msg = f"Internal error: {self.queries + m} queries would exceed budget {self.budget}."
            raise RuntimeError(msg)
        coalitions = np.ascontiguousarray(coalitions, dtype=bool)
        start = time.perf_counter()
        raw = self.game(coalitions)
        self.time_s += time.perf_counter() - start
        self.queries += m
        values = check_game_values(raw, m, source="game", coalitions=coalitions)
        big = np.abs(values) > MAX_ABS_VALUE
        if big.any():
            first = int(np.argmax(big))
            players = np.flatnonzero(coalitions[first]).tolist()
            msg = (
                f"The game returned values beyond ±{MAX_ABS_VALUE:g} (first "
                f"{float(values[first]):.6g}, coalition {players}): sums and differences of such "
                "values overflow float64. Divide the game's output by a constant (the "
                "interactions scale with it)."
            )
            raise InvalidGameError(msg)
        if not self._fixed:
            self._fix_map(values)
        return (values - self.center) / self.scale

    def _fix_map(self, values: np.ndarray) -> None:
        """Choose ``center`` and ``scale`` from the first batch (overflow-free, see class doc)."""
        self._fixed = True
        magnitude = float(np.max(np.abs(values)))
        if magnitude == 0.0:
            return
        unit = values / magnitude  # in [-1, 1]: the median and deviations cannot overflow
        mid = float(np.median(unit))
        spread = float(np.max(np.abs(unit - mid)))
        self.center = mid * magnitude
        if spread == 0.0:  # a constant first batch: map it to ±1
            self.scale = abs(self.center)
            return
        self.scale = spread * magnitude
        self.resolution = float(np.finfo(np.float64).eps) / spread
        if self.resolution > PRECISION_ERROR:
            msg = (
                f"The game's values vary by only {self.scale:.3g} around {self.center:.6g} (a "
                f"relative spread of {spread:.1e}): float64 resolves them to about "
                f"{self.resolution:.0e} of their spread, too coarse for any interaction to be "
                "measured. Subtract the offset inside the game (return v(S) - "
                f"{self.center:.6g}) or compute it in higher precision."
            )
            raise InvalidGameError(msg)
        if self.resolution > PRECISION_WARN:
            warnings.warn(
                f"The game's values vary by only {self.scale:.3g} around {self.center:.6g}: "
                f"float64 resolves them to about {self.resolution:.0e} of their spread, so "
                f"interactions are accurate to about that (relative), not to float precision. "
                "Subtract the offset inside the game to avoid this.",
                PrecisionWarning,
                stacklevel=3,
            )

    def to_game_units(self, spectrum: SparseSpectrum) -> SparseSpectrum:
        """Map a spectrum fitted on standardised values back to the game's values."""
        if self.center == 0.0 and self.scale == 1.0:
            return spectrum
        offset = SparseSpectrum.from_dict(spectrum.n, {(): self.center}, spectrum.basis)
        scaled = SparseSpectrum(
            spectrum.n, spectrum.supports, spectrum.coefs * self.scale, spectrum.basis
        )
        return scaled + offset

    def value_in_game_units(self, value: float | None) -> float | None:
        """Map one standardised value (e.g. ``v(∅)``) back; ``None`` stays ``None``."""
        return None if value is None else float(value) * self.scale + self.center


@dataclass(frozen=True)
class MemoryPlan:
    """How one ``approximate`` call fits the memory budget (see ``SparseApproximator.plan``).

    Attributes:
        budget: the budget that was asked for.
        queries: the most coalitions the call may evaluate (``<= budget``).
        max_memory: the memory budget in bytes.
        bytes_per_query: planned bytes of the approximator's own arrays per evaluated coalition.
        exact: whether the exact path (all ``2**n`` coalitions) is taken.
        exact_bytes: planned bytes of the exact path (``None`` for ``n > 30``).
        reason: why ``queries < budget`` (empty when the budget is used as given).
    """

    budget: int
    queries: int
    max_memory: int
    bytes_per_query: int
    exact: bool
    exact_bytes: int | None
    reason: str = ""

    @property
    def capped(self) -> bool:
        """Whether the budget was lowered (the exact path uses ``2**n``, which is not a cap)."""
        return not self.exact and self.queries < self.budget

    def as_details(self) -> dict[str, Any]:
        """The plan as plain numbers, for ``report_.details["budget_cap"]``."""
        return {
            "requested": self.budget,
            "queries_allowed": self.queries,
            "max_memory": self.max_memory,
            "bytes_per_query": self.bytes_per_query,
            "reason": self.reason,
        }


def shapiq_alias(shapiq: str, ours: str | None, convert, default: Any):
    """One shapiq keyword accepted by a constructor (see :func:`accepts_shapiq_keywords`).

    Args:
        shapiq: shapiq's keyword (``"decoder_type"``).
        ours: the keyword it stands for (``"decoder"``); ``None`` when we have no such option and
            ``convert`` only accepts the values that describe what we do anyway.
        convert: ``(value, arguments) -> our value``; ``arguments`` are the other arguments of
            the call by name. Raises :class:`InvalidParameterError` for values we cannot honour.
        default: shapiq's default, shown in the constructor's signature.
    """
    return (shapiq, ours, convert, default)


def accepts_shapiq_keywords(*aliases):
    """Decorate ``__init__`` to accept shapiq's keyword names as aliases of ours.

    Passing an alias and the keyword it stands for is an error; an alias's value is converted to
    ours (or refused with a message) before ``__init__`` runs, and messages about our keyword
    say which alias it came from. The decorated ``__init__``'s signature lists the aliases as
    keyword-only parameters with shapiq's defaults, so introspection (IDEs, shapiq's benchmark
    runner) sees every keyword shapiq's constructor has.
    """

    def decorate(init):
        signature = inspect.signature(init)

        @functools.wraps(init)
        def wrapper(self, *args, **kwargs):
            used = {}
            # take every alias out first: the others must not reach ``bind_partial`` below
            given = {name: kwargs.pop(name) for name, *_ in aliases if name in kwargs}
            for name, ours, convert, _ in aliases:
                if name not in given:
                    continue
                value = given[name]
                if ours is not None and ours in kwargs:
                    msg = (
                        f"Pass either '{ours}' or shapiq's name for it, '{name}', not both. Got "
                        f"{ours}={kwargs[ours]!r} and {name}={value!r}."
                    )
                    raise InvalidParameterError(msg)
                arguments = signature.bind_partial(self, *args, **kwargs).arguments
                converted = convert(value, arguments)
                if ours is not None:
                    kwargs[ours] = converted
                    used[ours] = name
            try:
                init(self, *args, **kwargs)
            except InvalidParameterError as err:
                alias = next((a for o, a in used.items() if f"'{o}'" in str(err)), None)
                if alias is None:
                    raise
                msg = f"{err} (given as shapiq's '{alias}')"
                raise InvalidParameterError(msg) from None

        params = list(signature.parameters.values())
        tail = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
        head = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
            for name, _, _, default in aliases
        ]
        wrapper.__signature__ = signature.replace(parameters=head + extra + tail)
        wrapper.shapiq_aliases = {name: ours for name, ours, _, _ in aliases}
        return wrapper

    return decorate


def lower_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """``value`` lower-cased if it is one of ``choices`` in any case, else a clear error."""
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    msg = f"The '{name}' parameter must be one of {list(choices)} (any case). Got {value!r}."
    raise InvalidParameterError(msg)


def _bool_alias(name: str):
    def convert(value, _arguments):
        if not isinstance(value, bool | np.bool_):
            msg = f"The '{name}' parameter must be a bool. Got {value!r}."
            raise InvalidParameterError(msg)
        return bool(value)

    return convert


def _same(value, _arguments):
    return value


def _decoder_alias(value, _arguments):
    return lower_choice(value, "decoder_type", ("soft", "hard"))


def _hpo_alias(value, arguments):
    return "fast" if _bool_alias("hpo")(value, arguments) else "none"


def _proxy_model_alias(value, arguments):
    """Convert shapiq's ``proxy_model`` strings or an estimator.

    Case-insensitive, as every string option of ours (``"LightGBM"`` works too), although
    shapiq itself only takes the lower-case names.
    """
    if isinstance(value, str):
        value = value.lower()
    if value == "tree":
        from sklearn.tree import DecisionTreeRegressor

        seed = arguments.get("random_state")
        # shapiq seeds the tree with random_state; a Generator or None gets a fixed seed here so
        # that ties between equally good splits break the same way on every run
        seed = int(seed) if isinstance(seed, numbers.Integral) and seed >= 0 else 0
        return DecisionTreeRegressor(random_state=seed)
    if value == "linear":
        msg = (
            "The 'proxy_model' parameter cannot be 'linear': interactions are read off a tree "
            "proxy's structure (shapiq's ProxySPEX refuses it too). Use 'lightgbm' (default), "
            "'xgboost' or 'tree'."
        )
        raise InvalidParameterError(msg)
    return value


def _uniform_weights_alias(value, arguments):
    """Accept ``sampling_weights`` only when they describe uniform coalitions (what we draw)."""
    if value is None:
        return None
    n = arguments.get("n")
    try:
        arr = None if isinstance(value, str) else np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = None
    ok = arr is not None and isinstance(n, numbers.Integral) and arr.shape == (int(n) + 1,)
    if ok and np.all(np.isfinite(arr)) and np.all(arr > 0):
        log_binom = np.array(
            [
                math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                for k in range(int(n) + 1)
            ]
        )
        ratio = np.log(arr) - log_binom
        if np.ptp(ratio) <= 1e-9:
            return None
    msg = (
        "The 'sampling_weights' parameter is not supported except for shapiq's default (None, or "
        "weights proportional to comb(n, k) for coalition size k, i.e. uniform coalitions): "
        "coalitions are drawn uniformly because the proxy's validation split and the refit "
        f"assume it. Got {value!r}. Drop the argument."
    )
    raise InvalidParameterError(msg)


def _no_pairing_alias(value, arguments):
    if _bool_alias("pairing_trick")(value, arguments):
        msg = (
            "The 'pairing_trick' parameter cannot be True for HybridSPEX: its random coalitions "
            "are not paired (SPEX's structured design has no complements). Use "
            "ProxySPEX(pairing=True) for paired sampling."
        )
        raise InvalidParameterError(msg)
    return None


#: shapiq.SPEX's keywords and ours.
SPEX_ALIASES = (
    shapiq_alias("decoder_type", "decoder", _decoder_alias, "soft"),
    shapiq_alias("degree_parameter", "degree_cap", _same, 5),
)
#: shapiq.ProxySPEX's keywords and ours.
PROXYSPEX_ALIASES = (
    shapiq_alias("proxy_model", "proxy", _proxy_model_alias, "lightgbm"),
    shapiq_alias("hpo", "tuning", _hpo_alias, True),
    shapiq_alias("sampling_weights", None, _uniform_weights_alias, None),
    shapiq_alias("pairing_trick", "pairing", _bool_alias("pairing_trick"), False),
)
#: HybridSPEX takes both; it has no paired sampling.
HYBRID_ALIASES = (
    *SPEX_ALIASES,
    *PROXYSPEX_ALIASES[:3],
    shapiq_alias("pairing_trick", None, _no_pairing_alias, False),
)


def check_max_memory(value: Any) -> int:
    """``max_memory`` as an int number of bytes ``>= 1``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        msg = (
            "The 'max_memory' parameter must be a positive int (bytes, e.g. 4 * 2**30 for 4 "
            f"GiB). Got {value!r}."
        )
        raise InvalidParameterError(msg)
    return int(value)


class DecoderAliases:
    """shapiq's attribute names for SPEX-style decoders (shapiq's ``SPEX`` exposes these).

    For classes with ``decoder`` and ``degree_cap`` (SPEX and HybridSPEX), so that code reading
    shapiq's names keeps working.
    """

    @property
    def decoder_type(self) -> str:
        """The shapiq name of :attr:`decoder`."""
        return self.decoder

    @property
    def degree_parameter(self) -> int:
        """The shapiq name of :attr:`degree_cap`."""
        return self.degree_cap


class SparseApproximator(Approximator):
    """Base class: validated configuration, shapiq contract, memory plan, result assembly.

    Args:
        n: number of players (``>= 1``).
        max_order: largest interaction order reported. ``None`` means ``n`` (as in shapiq:
            ``self.max_order`` and the result's ``max_order`` are ``n``); ``"recovered"`` also
            caps nothing but gives the result the largest order the spectrum holds as
            ``max_order``. First-order indices (SV, BV) always have order 1.
        index: one of ``SUPPORTED_INDICES``.
        top_order: report only interactions of order ``max_order`` (plus ``()``).
        random_state: seed (``None``, a non-negative int or a ``np.random.Generator``); every
            ``approximate`` call starts a fresh generator from it.
        max_memory: bytes the approximator's own arrays (coalitions, values, designs, proxy
            inputs) may take in one call; the game's own memory is not counted. The exact path
            is taken only if it fits, and a budget needing more is lowered (with a
            :class:`~shapiq_spex.exceptions.BudgetCappedWarning` and
            ``report_.details["budget_cap"]``). Defaults to :data:`DEFAULT_MAX_MEMORY` (2 GiB).
    """

    valid_indices: tuple[str, ...] = SUPPORTED_INDICES
    method_name = "sparse"

    def __init__(
        self,
        n: int,
        max_order: int | str | None = 2,
        index: str = "k-SII",
        *,
        top_order: bool = False,
        random_state: int | np.random.Generator | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            msg = f"The 'n' parameter must be a positive int (number of players). Got {n!r}."
            raise InvalidParameterError(msg)
        n = int(n)
        recovered = isinstance(max_order, str) and max_order.lower() == "recovered"
        if isinstance(max_order, str) and not recovered:
            msg = (
                "The 'max_order' parameter must be a positive int, None (= n, as in shapiq) or "
                f"'recovered' (the largest order found). Got {max_order!r}."
            )
            raise InvalidParameterError(msg)
        # shapiq's approximators take SV and BV with any max_order (its default is 2): the
        # values are first-order whatever it says, so only its type and range are checked
        first_order = index in ("SV", "BV") and not recovered
        check_index(index, None if recovered else max_order, n, any_first_order=first_order)
        if not isinstance(top_order, bool):
            msg = f"The 'top_order' parameter must be a bool. Got {top_order!r}."
            raise InvalidParameterError(msg)
        if top_order and recovered:
            msg = "The 'top_order' parameter needs an int 'max_order' (got 'recovered')."
            raise InvalidParameterError(msg)
        random_state = check_random_state(random_state)
        if index in ("SV", "BV"):
            order = 1
        else:
            order = n if max_order is None or recovered else int(max_order)
        super().__init__(
            n=n,
            max_order=order,
            index=index,
            top_order=top_order,
            min_order=0,
            random_state=random_state,
            initialize_dict=False,
            sampling_weights=np.ones(n + 1),
        )
        self.report_orders = "recovered" if recovered and order > 1 else "max_order"
        self.max_memory = check_max_memory(max_memory)

    # ------------------------------------------------------------------ shapiq's contract
    @property
    def random_state(self) -> int | np.random.Generator | None:
        """The seed as given (``set_random_state`` from shapiq's explainers updates it)."""
        return self._random_state

    def set_random_state(self, random_state: int | np.random.Generator | None = None) -> None:
        """Set the seed (shapiq's explainers call this before each explanation)."""
        super().set_random_state(check_random_state(random_state))

    def _config(self) -> tuple:
        """Every constructor argument as stored, for ``==`` and ``hash``."""
        init = type(self).__init__
        aliases = getattr(init, "shapiq_aliases", {})
        names = [
            name
            for name in inspect.signature(init).parameters
            if name != "self" and name not in aliases
        ]
        return tuple((name, self._stored(name)) for name in names)

    def _stored(self, name: str) -> Any:
        if name == "random_state":
            return self._random_state
        if name == "max_order":
            return (self.max_order, self.report_orders)
        value = getattr(self, name, None)
        if hasattr(value, "get_params"):  # an estimator: equal when of one class and parameters
            params = value.get_params(deep=False)
            return (type(value).__name__, tuple(sorted((k, repr(v)) for k, v in params.items())))
        return value

    def __repr__(self) -> str:
        """The layout of shapiq's repr (n, max_order, index, ...) plus every non-default option."""
        max_order = "'recovered'" if self.report_orders == "recovered" else self.max_order
        lines = [
            f"n={self.n}",
            f"max_order={max_order}",
            f"index={self.index}",
            f"top_order={self.top_order}",
            f"random_state={self._random_state}",
        ]
        init = type(self).__init__
        aliases = getattr(init, "shapiq_aliases", {})
        shown = {"self", "n", "max_order", "index", "top_order", "random_state"}
        for name, param in inspect.signature(init).parameters.items():
            if name in shown or name in aliases or param.kind is param.VAR_KEYWORD:
                continue
            value = getattr(self, name, None)
            default = param.default
            same = value is default or (
                type(value) is type(default)
                and not hasattr(value, "get_params")
                and value == default
            )
            if not same:
                lines.append(f"{name}={value!r}")
        body = "".join(f"    {line},\n" for line in lines)
        return f"{type(self).__name__}(\n{body})"

    def __eq__(self, other: object) -> bool:
        """Equal when of the same class with the same configuration (shapiq compares fewer)."""
        if not isinstance(other, Approximator):
            return super().__eq__(other)  # shapiq raises TypeError for other types
        if type(other) is not type(self):
            return False
        return self._config() == other._config()

    def __hash__(self) -> int:
        """Hash of the configuration (consistent with ``==``)."""
        try:
            return hash((type(self).__name__, self._config()))
        except TypeError:  # an unhashable option (e.g. a proxy estimator with a list parameter)
            return hash((type(self).__name__, self.n, self.max_order, self.index))

    def _make_rng(self) -> np.random.Generator:
        """A fresh generator for one ``approximate`` call: identical seeds, identical runs."""
        return as_generator(self._random_state)

    # ------------------------------------------------------------------ memory plan
    def _bytes_per_query(self) -> int:
        """Planned bytes of this method's arrays per evaluated coalition (measured, see tests)."""
        return 4 * self.n + 128

    def _exact_bytes(self) -> int | None:
        """Planned bytes of the exact path (``None`` when ``2**n`` coalitions cannot be listed)."""
        if self.n > 30:
            return None
        return (2**self.n) * (EXACT_BYTES_PER_PLAYER * self.n + EXACT_BYTES_PER_ROW)

    def _exact_minimum(self) -> int | None:
        """``2**n`` when the exact path fits ``max_memory`` (the budget taking it), else None."""
        exact_bytes = self._exact_bytes()
        if exact_bytes is None or exact_bytes > self.max_memory:
            return None
        return 2**self.n

    def _or_exact(self, sampled: int) -> int:
        """``min(sampled, 2**n)`` when the exact path fits ``max_memory``: a ``min_budget``."""
        exact = self._exact_minimum()
        return sampled if exact is None else min(sampled, exact)

    def _refuse_below_exact(self, budget: Any, minimum: int, what: str) -> None:
        """Refuse ``budget < minimum`` when ``2**n`` (the exact path) is the smaller way out.

        Called after the exact path was not taken; the usual error (``check_budget``) would
        ask for ``minimum`` although ``2**n`` queries already give the exact values.
        """
        exact = self._exact_minimum()
        if exact is None or exact >= minimum:
            return
        budget = check_budget(budget, 1, what=self.method_name)
        if budget < minimum:
            msg = (
                f"The 'budget' parameter is too small for {self.method_name} at n={self.n}: "
                f"{what} needs {minimum} game evaluations, but 2**{self.n} = {exact} already "
                f"give the exact values (every coalition queried once). Got {budget}. Raise "
                f"the budget to >= {exact}, or use ProxySPEX, which works with small budgets."
            )
            raise BudgetTooSmallError(msg)

    def _warn_if_few_scoring(self, count: int, what: str, budget: int) -> None:
        """Warn when ``report_.faithfulness_r2`` rests on fewer than ``FEW_SCORING_COALITIONS``."""
        if 2 <= count < FEW_SCORING_COALITIONS:
            need = max(int(budget) * math.ceil(FEW_SCORING_COALITIONS / count), budget + 1)
            warnings.warn(
                f"{self.method_name}'s report_.faithfulness_r2 rests on only {count} {what}: too "
                "few to tell a faithful explanation from a poor one (it can read 0.99 where the "
                f"truth is below 0). Raise the budget (about {need} gives "
                f">= {FEW_SCORING_COALITIONS}).",
                DecodingWarning,
                stacklevel=3,
            )

    def _useful_queries(self) -> int | None:
        """Most queries that can help (``None``: no bound besides memory)."""
        return None

    def _workspace_bytes(self, queries: int) -> int:
        """Work arrays built in bounded chunks (refit designs, decoder tables)."""
        return min(queries * (self.n + 1) * WORKSPACE_BYTES_PER_ENTRY, WORKSPACE_BYTES)

    def planned_bytes(self, queries: int) -> int:
        """Planned peak bytes of a non-exact call that evaluates ``queries`` coalitions.

        ``bytes_per_query * queries`` for the arrays that grow with the budget, plus the work
        arrays that are built in bounded chunks (refit designs, the proxy's candidate pool),
        which never exceed a fixed size (:data:`WORKSPACE_BYTES`).
        """
        return int(self._bytes_per_query()) * queries + int(self._workspace_bytes(queries))

    def _queries_within(self, memory: int, budget: int) -> int:
        """Largest ``q <= budget`` with ``planned_bytes(q) <= memory`` (0 if none)."""
        if self.planned_bytes(budget) <= memory:
            return budget
        low, high = 0, budget  # planned_bytes is increasing: bisect
        while low < high:
            mid = (low + high + 1) // 2
            if self.planned_bytes(mid) <= memory:
                low = mid
            else:
                high = mid - 1
        return low

    def plan(self, budget: int) -> MemoryPlan:
        """How a call with ``budget`` fits ``max_memory``: exact or not, how many queries.

        Nothing is allocated; ``approximate`` follows this plan.
        """
        if isinstance(budget, numbers.Integral) and not isinstance(budget, bool) and budget < 1:
            # name the method's real minimum, not the 1 this first check needs
            check_budget(budget, self.min_budget(), what=f"{self.method_name} at n={self.n}")
        budget = check_budget(budget, 1, what=self.method_name)
        exact_bytes = self._exact_bytes()
        per_query = int(self._bytes_per_query())
        if exact_bytes is not None and budget >= 2**self.n and exact_bytes <= self.max_memory:
            return MemoryPlan(budget, 2**self.n, self.max_memory, per_query, True, exact_bytes)
        queries, reasons = budget, []
        by_memory = self._queries_within(self.max_memory, budget)
        if by_memory < queries:
            queries = by_memory
            reasons.append(
                f"max_memory={self.max_memory} bytes allows {by_memory} queries at about "
                f"{per_query} bytes each plus {self._workspace_bytes(by_memory)} bytes of work "
                f"arrays (n={self.n})"
            )
        useful = self._useful_queries()
        if useful is not None and useful < queries:
            queries = useful
            reasons.append(
                f"{self.method_name} cannot use more than {useful} queries at n={self.n}"
            )
        if exact_bytes is not None and budget >= 2**self.n:
            reasons.append(
                f"the exact path (all 2**{self.n} coalitions) needs about {exact_bytes} bytes, "
                f"more than max_memory={self.max_memory}"
            )
        reason = "; ".join(reasons) if queries < budget else ""
        return MemoryPlan(budget, queries, self.max_memory, per_query, False, exact_bytes, reason)

    def _capped_budget(self, budget: int, minimum: int) -> int:
        """``budget`` lowered to this call's plan; a clear error if that is below ``minimum``."""
        plan = self._plan_
        if not plan.capped:
            return budget
        if plan.queries < minimum:
            msg = (
                f"The 'max_memory' parameter is too small for {self.method_name}: "
                f"{plan.reason}, fewer than the {minimum} it needs at least. Raise max_memory "
                f"(now {self.max_memory} bytes)."
            )
            raise BudgetTooSmallError(msg)
        warnings.warn(
            f"{self.method_name} uses {plan.queries} of the {plan.budget} queries asked for: "
            f"{plan.reason}. Raise max_memory to use more (see report_.details['budget_cap']).",
            BudgetCappedWarning,
            stacklevel=3,
        )
        return min(budget, plan.queries)

    # ------------------------------------------------------------------ one call
    def _exact_if_affordable(
        self, budget: Any, game: Any, start: float, *, defer: bool = False
    ) -> InteractionValues | None:
        """Start a call; exact values when the plan takes the exact path, else ``None``.

        The first step of every ``approximate``: the previous call's ``spectrum_`` and
        ``report_`` are removed (so a failing call leaves none behind) and the memory plan is
        made. Sampling, decoding or fitting a proxy on every coalition can only be less accurate
        than the exact Möbius transform of the full table, so every approximator takes this path
        when it fits ``max_memory``. ``report_.details["exact"]`` says it was taken.
        With ``defer`` the plan is made but the caller takes the exact path itself (it may
        stop earlier: ``target_r2`` rounds), through :meth:`_exact_result`.
        """
        for name in ("spectrum_", "report_", "_plan_"):
            self.__dict__.pop(name, None)
        self._interaction_lookup = {}
        self._plan_ = self.plan(budget)
        budget = self._plan_.budget
        if not self._plan_.exact or defer:
            return None
        caller = GameCaller(game, self.n, 2**self.n)
        return self._exact_result(caller, budget=budget, start=start, details={"exact": True})

    def _exact_result(
        self,
        caller: GameCaller,
        *,
        budget: int,
        start: float,
        details: dict[str, Any],
        known: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> InteractionValues:
        """Exact values from the whole table of ``2^n`` game values.

        ``known`` = ``(masks, values)`` already paid for through ``caller``: only the other
        coalitions are queried, so nothing is paid twice.
        """
        from shapiq_spex.spectra.exact import all_coalitions, exact_moebius_spectrum

        masks = all_coalitions(self.n)
        values = np.empty(masks.shape[0])
        missing = np.ones(masks.shape[0], dtype=bool)
        if known is not None:
            rows = known[0].astype(np.int64) @ (np.int64(1) << np.arange(self.n, dtype=np.int64))
            values[rows] = known[1]
            missing[rows] = False
        values[missing] = caller(masks[missing])
        del masks
        spectrum = exact_moebius_spectrum(values, self.n)
        return self._result(
            spectrum,
            caller=caller,
            budget=budget,
            start=start,
            empty_value=float(values[0]),
            details=details,
            faithfulness_r2=1.0,  # an exact transform of every coalition's value
            estimated=False,
        )

    def _completes(self, n_known: int) -> bool:
        """Whether ``n_known`` distinct queried coalitions make :meth:`_completed` complete."""
        return self.n <= COMPLETION_MAX_N and n_known >= COMPLETION_FRACTION * 2**self.n

    def _table_r2(self, r2: float, n_known: int) -> float:
        """The R² a completed table is reported with (``r2`` itself when it is not completed)."""
        if not self._completes(n_known):
            return r2
        return 1.0 - (1.0 - n_known / 2**self.n) * (1.0 - r2)

    def _completed(
        self,
        spectrum: SparseSpectrum,
        masks: np.ndarray,
        values: np.ndarray,
        reported: float,
        details: dict[str, Any],
    ) -> tuple[SparseSpectrum, float]:
        """``(spectrum, reported R²)``, completed when most of the table was queried.

        With at least ``COMPLETION_FRACTION`` of the ``2^n`` coalitions queried (``masks``,
        ``values``; ``n <= COMPLETION_MAX_N``), interpolating them beats any smooth surrogate
        there: the returned spectrum is the exact transform of the table with the queried values
        and ``spectrum``'s predictions elsewhere. The surrogate's error remains on the share not
        queried, so the R² expected on a uniform coalition is
        ``1 - (1 - share) * (1 - reported)``. ``details`` gets ``"completed"`` (coalitions filled
        in, 0 when not completed) and, when completed, ``"surrogate_r2"``.
        """
        from shapiq_spex.sampling.random_masks import mask_keys
        from shapiq_spex.spectra.exact import complete_spectrum

        details["completed"] = 0
        if not self._completes(masks.shape[0]):
            return spectrum, reported
        rows, first = np.unique(mask_keys(masks), return_index=True)
        if not self._completes(rows.size):
            return spectrum, reported
        spectrum = complete_spectrum(spectrum, masks[first], values[first])
        details["completed"] = int(2**self.n - rows.size)
        details["surrogate_r2"] = reported
        if "faithfulness_source" in details:
            details["faithfulness_source"] += (
                f", scaled to the {2**self.n - rows.size} of {2**self.n} coalitions not queried"
            )
        return spectrum, self._table_r2(reported, int(rows.size))

    def _result(
        self,
        spectrum: SparseSpectrum,
        *,
        caller: GameCaller,
        budget: int,
        start: float,
        empty_value: float | None,
        details: dict[str, Any],
        n_holdout: int = 0,
        faithfulness_r2: float = float("nan"),
        estimated: bool = True,
    ) -> InteractionValues:
        """Store the spectrum and its report, and convert to the requested index.

        ``spectrum`` and ``empty_value`` are on the caller's standardised scale and are mapped
        back to the game's values here (:meth:`GameCaller.to_game_units`). ``start`` is the
        ``time.perf_counter()`` of the ``approximate`` call: the report's total time includes
        the conversion. ``empty_value`` is the game's value of the empty coalition (``None`` if
        it was not queried); it goes into the report only. The returned values are built from
        the spectrum alone, their ``baseline_value`` included (the surrogate's value of the
        empty coalition), so that they reproduce the surrogate: with the game's value there
        instead, every prediction rebuilt from the Möbius values would be shifted by the
        surrogate's error at the empty coalition.
        """
        spectrum = caller.to_game_units(spectrum)
        if not np.all(np.isfinite(spectrum.coefs)):
            msg = (
                "The interactions overflow float64 in the game's units (values near "
                f"{caller.scale:.3g}). Divide the game's output by a constant."
            )
            raise InvalidGameError(msg)
        empty_value = caller.value_in_game_units(empty_value)
        plan = getattr(self, "_plan_", None)
        if plan is not None and plan.capped:
            details = {**details, "budget_cap": plan.as_details()}
        report = ApproximationReport(
            method=self.method_name,
            budget=plan.budget if plan is not None else budget,
            queries=caller.queries,
            game_time_s=caller.time_s,
            n_holdout=n_holdout,
            faithfulness_r2=faithfulness_r2,
            support_size=len(spectrum),
            random_state=self._random_state,
            empty_value=float("nan") if empty_value is None else float(empty_value),
            value_center=caller.center,
            value_scale=caller.scale,
            value_resolution=caller.resolution,
            details=details,
        )
        if self.report_orders == "recovered":
            order = min(max(spectrum.max_degree, 1), self.n)
        else:
            order = self.max_order
        iv = to_interaction_values(
            spectrum,
            self.index,
            order,
            min_order=order if self.top_order else 0,
            baseline_value=None,
            estimated=estimated,  # False on the exact path, as shapiq's ExactComputer
            estimation_budget=report.queries,
        )
        if not np.all(np.isfinite(iv.values)):
            msg = (
                f"The {self.index} values overflow float64 in the game's units (values near "
                f"{caller.scale:.3g}). Divide the game's output by a constant."
            )
            raise InvalidGameError(msg)
        self._interaction_lookup = dict(iv.interaction_lookup)
        self.spectrum_ = spectrum
        self.report_ = report
        report.total_time_s = time.perf_counter() - start
        return iv


def check_fraction(value, name: str, low: float, high: float, *, open_low: bool) -> float:
    """Return ``value`` as a float in ``(low, high]`` (``[low, high]`` if not ``open_low``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        value = float(value)
        ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        left = "(" if open_low else "["
        msg = f"The '{name}' parameter must be a float in {left}{low}, {high}]. Got {value!r}."
        raise InvalidParameterError(msg)
    return float(value)


def check_positive_int(value, name: str, *, allow_none: bool = False) -> int | None:
    """Return ``value`` as an int ``>= 1`` (or ``None`` if allowed), else raise naming it."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        extra = " or None" if allow_none else ""
        msg = f"The '{name}' parameter must be a positive int{extra}. Got {value!r}."
        raise InvalidParameterError(msg)
    return int(value)
