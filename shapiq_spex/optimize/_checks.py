"""Argument validation shared by the optimisation functions."""

from __future__ import annotations

import math
import numbers
from typing import Literal

import numpy as np

from shapiq_spex.exceptions import InvalidGameError, InvalidParameterError
from shapiq_spex.spectra import SparseSpectrum

Mode = Literal["remove", "keep"]
Objective = Literal["max", "min", "max_change"]
Method = Literal["auto", "milp", "greedy", "beam"]

MODES = ("remove", "keep")
OBJECTIVES = ("max", "min", "max_change")
METHODS = ("auto", "milp", "greedy", "beam")


def check_spectrum(spectrum) -> SparseSpectrum:
    """Return ``spectrum`` if it is a :class:`SparseSpectrum`, else raise."""
    if not isinstance(spectrum, SparseSpectrum):
        msg = (
            "The 'spectrum' parameter must be a shapiq_spex SparseSpectrum (Möbius or Fourier). "
            f"Got {type(spectrum).__name__}; build one with SparseSpectrum.from_dict."
        )
        raise InvalidParameterError(msg)
    return spectrum


def check_r(r, n: int, name: str = "r") -> int:
    """Return ``r`` as an int in ``[0, n]``, else raise naming ``name``."""
    if not isinstance(r, numbers.Integral) or isinstance(r, bool) or not 0 <= r <= n:
        msg = f"The '{name}' parameter must be an int in [0, n={n}]. Got {r!r}."
        raise InvalidParameterError(msg)
    return int(r)


def check_choice(value, name: str, options: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``options``, else raise naming ``name``."""
    if not isinstance(value, str) or value not in options:
        msg = f"The '{name}' parameter must be one of {options}. Got {value!r}."
        raise InvalidParameterError(msg)
    return value


def check_beam_width(beam_width) -> int:
    """Return ``beam_width`` as an int >= 1, else raise."""
    if not isinstance(beam_width, numbers.Integral) or isinstance(beam_width, bool):
        msg = f"The 'beam_width' parameter must be an int >= 1. Got {beam_width!r}."
        raise InvalidParameterError(msg)
    if beam_width < 1:
        msg = f"The 'beam_width' parameter must be an int >= 1. Got {beam_width}."
        raise InvalidParameterError(msg)
    return int(beam_width)


def check_time_limit(time_limit) -> float | None:
    """Return ``None`` or a finite number of seconds > 0, else raise."""
    if time_limit is None:
        return None
    ok = isinstance(time_limit, numbers.Real) and not isinstance(time_limit, bool)
    if not ok or not math.isfinite(time_limit) or time_limit <= 0:
        msg = (
            "The 'time_limit' parameter must be None or a finite number of seconds > 0. "
            f"Got {time_limit!r}."
        )
        raise InvalidParameterError(msg)
    return float(time_limit)


def check_bool(value, name: str) -> bool:
    """Return ``value`` as a bool if it is one, else raise naming ``name``."""
    if not isinstance(value, bool | np.bool_):
        msg = f"The '{name}' parameter must be True or False. Got {value!r}."
        raise InvalidParameterError(msg)
    return bool(value)


def check_game(game, n: int):
    """Return ``game`` if it is callable and (where it says) has ``n`` players, else raise."""
    if not callable(game):
        msg = (
            "The 'game' parameter must be callable on an (m, n) boolean coalition matrix "
            f"(a shapiq Game, a SparseSpectrum, a function). Got {type(game).__name__}."
        )
        raise InvalidParameterError(msg)
    n_game = getattr(game, "n_players", getattr(game, "n", None))
    if isinstance(n_game, numbers.Integral) and int(n_game) != n:
        msg = f"The 'game' has {n_game} players but the input has {n}; they must match."
        raise InvalidParameterError(msg)
    return game


def query_game(game, coalitions: np.ndarray) -> np.ndarray:
    """The game's values of ``(m, n)`` coalitions as ``(m,)`` finite float64 (one call)."""
    values = np.asarray(game(coalitions), dtype=np.float64).reshape(-1)
    if values.shape[0] != coalitions.shape[0]:
        msg = f"The 'game' returned {values.shape[0]} values for {coalitions.shape[0]} coalitions."
        raise InvalidGameError(msg)
    if not np.all(np.isfinite(values)):
        msg = "The 'game' returned NaN or inf; removal values need finite game values."
        raise InvalidGameError(msg)
    return values
