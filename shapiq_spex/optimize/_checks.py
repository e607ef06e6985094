"""Argument validation and game queries shared by the optimisation and pruning functions."""

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


def check_int(value, name: str, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` (no upper bound if ``None``), else raise."""
    bad = not isinstance(value, numbers.Integral) or isinstance(value, bool)
    if bad or value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        msg = f"The '{name}' parameter must be an int >= {low}{upper}. Got {value!r}."
        raise InvalidParameterError(msg)
    return int(value)


def game_players(game, n: int | None = None, *, takes_n: bool = False) -> int:
    """The number of players of a callable ``game``: its ``n_players`` (or ``n``), else ``n``.

    Args:
        game: the game; must be callable.
        n: the caller's ``n`` argument, if the caller has one; must match the game's count.
        takes_n: whether the caller has an ``n`` argument (only then is ``n=`` suggested).

    Returns:
        The number of players, ``>= 1``.

    Raises:
        InvalidParameterError: ``game`` is not callable, has no player count and no ``n`` was
            given, or the counts disagree.
    """
    if not callable(game):
        msg = (
            "The 'game' parameter must be callable on an (m, n) boolean coalition matrix "
            f"(a shapiq Game, an AttentionHeadGame, a function). Got {type(game).__name__}."
        )
        raise InvalidParameterError(msg)
    if n is not None:
        n = check_int(n, "n", 1)
    n_game = getattr(game, "n_players", getattr(game, "n", None))
    if isinstance(n_game, numbers.Integral) and not isinstance(n_game, bool) and n_game >= 1:
        if n is not None and n != int(n_game):
            msg = f"The 'game' has {n_game} players but n={n}; they must match."
            raise InvalidParameterError(msg)
        return int(n_game)
    if n is not None:
        return n
    if takes_n:
        msg = (
            "The 'game' does not say how many players it has (no int 'n_players'); pass n=... "
            "with its number of players."
        )
    else:
        msg = (
            "The 'game' parameter must have an int 'n_players' (a shapiq Game such as "
            f"DataAttributionGame). Got {type(game).__name__} without one."
        )
    raise InvalidParameterError(msg)


def check_players(players, n: int, where: str, size: int | None = None) -> tuple[int, ...]:
    """Return ``players`` as an ascending tuple of distinct ints in ``[0, n)``, else raise.

    Args:
        players: an iterable of player indices (list, tuple, set, 1-d int array).
        n: number of players.
        where: the start of the error message, e.g. ``"The 'groups' parameter"``.
        size: if given, the exact number of players required.

    Returns:
        The players, ascending.

    Raises:
        InvalidParameterError: not an iterable of ints, repeated or out-of-range players, or
            not exactly ``size`` of them.
    """
    try:
        arr = np.asarray(list(players))
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        msg = f"{where} must hold player indices (ints). Got {players!r:.80}."
        raise InvalidParameterError(msg)
    chosen = np.sort(arr.astype(np.int64))
    if np.any(chosen[1:] == chosen[:-1]) or np.any((chosen < 0) | (chosen >= n)):
        msg = f"{where} must hold distinct player indices in [0, {n}). Got {chosen.tolist()}."
        raise InvalidParameterError(msg)
    if size is not None and chosen.size != size:
        msg = (
            f"{where} must remove exactly r={size} players. Got {chosen.size}: "
            f"{chosen.tolist()}; a chooser must return exactly r players (e.g. "
            "interaction_chooser, heads_to_prune or best_subset(..., exact_size=True))."
        )
        raise InvalidParameterError(msg)
    return tuple(int(p) for p in chosen)


def query_unique(game, masks: np.ndarray) -> tuple[np.ndarray, int]:
    """The game on ``masks`` in one call, each distinct coalition once; values and call size.

    The distinct coalitions are sent in lexicographic order (``False < True``).
    """
    packed = np.packbits(masks, axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    return query_game(game, masks[first])[inverse.reshape(-1)], int(first.size)


def check_rs(rs, n: int) -> np.ndarray:
    """The numbers of removed players ``rs`` as an int64 array, each in ``[0, n]``."""
    try:
        values = list(rs)
    except TypeError:
        msg = f"The 'rs' parameter must be an iterable of ints in [0, {n}]. Got {rs!r}."
        raise InvalidParameterError(msg) from None
    if not values:
        msg = "The 'rs' parameter is empty; pass at least one number of players, e.g. range(1, 11)."
        raise InvalidParameterError(msg)
    return np.array([check_r(v, n, "rs") for v in values], dtype=np.int64)


def player_values(values_by_player) -> np.ndarray:
    """First-order values as ``(n,)`` float64 from an array or shapiq ``InteractionValues``."""
    lookup = getattr(values_by_player, "dict_values", None)
    n_players = getattr(values_by_player, "n_players", None)
    if isinstance(lookup, dict) and isinstance(n_players, numbers.Integral):
        out = np.zeros(int(n_players))
        for key, value in lookup.items():
            if len(key) == 1:
                out[int(key[0])] = float(value)
    else:
        try:
            out = np.asarray(values_by_player, dtype=np.float64)
        except (TypeError, ValueError):
            out = None
        if out is None or out.ndim != 1 or out.size == 0:
            msg = (
                "The 'values_by_player' parameter must be a non-empty 1-D array of first-order "
                "values (one per player) or shapiq InteractionValues with order-1 entries. Got "
                f"{type(values_by_player).__name__}."
            )
            raise InvalidParameterError(msg)
    if not np.all(np.isfinite(out)):
        msg = "The 'values_by_player' parameter holds NaN or inf; pass finite attributions."
        raise InvalidParameterError(msg)
    return out
