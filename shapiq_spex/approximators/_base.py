"""Shared machinery of the sparse approximators: validation, guarded game calls, results.

Every approximator here follows one contract (the scikit-learn one, adapted to shapiq):
the constructor validates and stores its configuration and never changes it; ``approximate``
does all the work, builds a fresh random generator from ``random_state``, never queries more than
``budget`` coalitions, leaves the recovered spectrum on ``self.spectrum_`` and a
:class:`ApproximationReport` on ``self.report_``, and returns ``InteractionValues`` of the final
index that always contain ``()``.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapiq.approximator.base import Approximator
from shapiq.interaction_values import InteractionValues

from shapiq_spex._random import as_generator
from shapiq_spex.exceptions import InvalidGameError, InvalidParameterError
from shapiq_spex.spectra.indices import SUPPORTED_INDICES, check_index, to_interaction_values
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = [
    "ApproximationReport",
    "GameCaller",
    "SparseApproximator",
    "check_budget",
    "check_fraction",
    "check_positive_int",
    "holdout_r2",
]


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
        details: method-specific numbers (design sizes, decoder statistics, ...).
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
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def overhead_time_s(self) -> float:
        """Time spent outside the game (sampling, decoding, fitting, conversion)."""
        return self.total_time_s - self.game_time_s


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
    resid = values - spectrum.evaluate(masks)
    tss = float(((values - values.mean()) ** 2).sum())
    return 1.0 - float(resid @ resid) / tss if tss > 0 else float("nan")


class GameCaller:
    """Calls a game on boolean coalition matrices, validating and accounting every call.

    Args:
        game: a ``shapiq.Game`` or any callable ``(m, n) bool -> (m,)``.
        n: number of players the approximator was built for.
        budget: hard cap on the number of coalitions evaluated.
    """

    def __init__(self, game: Any, n: int, budget: int) -> None:
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

    @property
    def remaining(self) -> int:
        """Queries still allowed."""
        return self.budget - self.queries

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        """Evaluate ``(m, n)`` coalitions and return checked float64 values ``(m,)``."""
        m = coalitions.shape[0]
        if m == 0:
            return np.zeros(0)
        if self.queries + m > self.budget:  # a bug guard: planners must respect the budget
            msg = f"Internal error: {self.queries + m} queries would exceed budget {self.budget}."
            raise RuntimeError(msg)
        start = time.perf_counter()
        values = self.game(np.ascontiguousarray(coalitions, dtype=bool))
        self.time_s += time.perf_counter() - start
        self.queries += m
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (m,):
            if values.shape in ((m, 1), (1, m)):
                values = values.reshape(m)
            else:
                msg = (
                    f"The game returned values of shape {values.shape} for {m} coalitions; "
                    f"expected ({m},). Make the game return one float per coalition."
                )
                raise InvalidGameError(msg)
        bad = ~np.isfinite(values)
        if bad.any():
            first = int(np.argmax(bad))
            msg = (
                f"The game returned {int(bad.sum())} non-finite values (NaN or inf), first for "
                f"coalition {np.flatnonzero(coalitions[first]).tolist()} -> {values[first]}. "
                "Fix the game so that every coalition has a finite value."
            )
            raise InvalidGameError(msg)
        return values


class SparseApproximator(Approximator):
    """Base class: validated configuration, shapiq contract, result assembly.

    Args:
        n: number of players (``>= 1``).
        max_order: largest interaction order reported; ``None`` = no cap.
        index: one of ``SUPPORTED_INDICES``.
        top_order: report only interactions of order ``max_order`` (plus ``()``).
        random_state: seed; every ``approximate`` call starts a fresh generator from it.
    """

    valid_indices: tuple[str, ...] = SUPPORTED_INDICES
    method_name = "sparse"

    def __init__(
        self,
        n: int,
        max_order: int | None = 2,
        index: str = "k-SII",
        *,
        top_order: bool = False,
        random_state: int | None = None,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            msg = f"The 'n' parameter must be a positive int (number of players). Got {n!r}."
            raise InvalidParameterError(msg)
        check_index(index, max_order, int(n))
        if index in ("SV", "BV") and max_order is None:
            max_order = 1
        if not isinstance(top_order, bool):
            msg = f"The 'top_order' parameter must be a bool. Got {top_order!r}."
            raise InvalidParameterError(msg)
        if top_order and max_order is None:
            msg = "The 'top_order' parameter needs an int 'max_order' (got max_order=None)."
            raise InvalidParameterError(msg)
        super().__init__(
            n=int(n),
            max_order=max_order if max_order is not None else int(n),
            index=index,
            top_order=top_order,
            min_order=0,
            random_state=random_state,
            initialize_dict=False,
            sampling_weights=np.ones(int(n) + 1),
        )
        self.max_order = max_order  # None is kept as given: no cap
        self.min_order = max_order if top_order else 0

    @property
    def random_state(self) -> int | None:
        """The seed as given (``set_random_state`` from shapiq's explainers updates it)."""
        return self._random_state

    def _make_rng(self) -> np.random.Generator:
        """A fresh generator for one ``approximate`` call: identical seeds, identical runs."""
        return as_generator(self._random_state)

    def _exact_if_affordable(
        self, budget: Any, game: Any, start: float
    ) -> InteractionValues | None:
        """Exact values when ``budget`` pays for all ``2**n`` coalitions, else ``None``.

        Sampling, decoding or fitting a proxy on every coalition can only be less accurate than
        the exact Möbius transform of the full table, so every approximator takes this path
        first. ``report_.details["exact"]`` says it was taken.
        """
        budget = check_budget(budget, 1, what=self.method_name)
        if self.n > 30 or budget < 2**self.n:
            return None
        from shapiq_spex.spectra.exact import all_coalitions, exact_moebius_spectrum

        caller = GameCaller(game, self.n, 2**self.n)
        masks = all_coalitions(self.n)
        values = caller(masks)
        spectrum = exact_moebius_spectrum(values, self.n)
        return self._result(
            spectrum,
            caller=caller,
            budget=budget,
            start=start,
            empty_value=float(values[0]),
            details={"exact": True},
            faithfulness_r2=1.0,  # an exact transform of every coalition's value
        )

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
    ) -> InteractionValues:
        """Store the spectrum and its report, and convert to the requested index.

        ``start`` is the ``time.perf_counter()`` of the ``approximate`` call: the report's total
        time includes the conversion. ``empty_value`` is the game's value of the empty coalition
        (``None`` if it was not queried); it goes into the report only. The returned values are
        built from ``spectrum`` alone, their ``baseline_value`` included (the surrogate's value
        of the empty coalition), so that they reproduce the surrogate: with the game's value
        there instead, every prediction rebuilt from the Möbius values would be shifted by the
        surrogate's error at the empty coalition.
        """
        report = ApproximationReport(
            method=self.method_name,
            budget=budget,
            queries=caller.queries,
            game_time_s=caller.time_s,
            n_holdout=n_holdout,
            faithfulness_r2=faithfulness_r2,
            support_size=len(spectrum),
            random_state=self._random_state,
            empty_value=float("nan") if empty_value is None else float(empty_value),
            details=details,
        )
        self.spectrum_ = spectrum
        self.report_ = report
        order = self.max_order if self.max_order is not None else max(spectrum.max_degree, 1)
        order = min(order, self.n)
        iv = to_interaction_values(
            spectrum,
            self.index,
            order,
            min_order=order if self.top_order else 0,
            baseline_value=None,
            estimated=True,
            estimation_budget=report.queries,
        )
        self._interaction_lookup = dict(iv.interaction_lookup)
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
