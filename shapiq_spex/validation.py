"""Validation at the package's boundaries: game values and random states, one message each.

Every path that takes values from a user's game (the approximators' game calls, the query
engine's batches) checks them with :func:`check_game_values`, and every ``random_state`` argument
is checked with :func:`check_random_state`, so the same bad input gets the same error wherever it
enters. Messages follow one template: what was given, what is expected, and how to fix it.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from shapiq_spex.exceptions import InvalidGameError, InvalidParameterError

__all__ = ["check_game_values", "check_random_state"]

# How many bad rows a message lists before it stops.
_SHOW = 5


def _refuse(source: str, problem: str, fix: str, note: str) -> InvalidGameError:
    msg = f"The {source} returned {problem}. {fix}"
    return InvalidGameError(f"{msg} {note}" if note else msg)


def check_game_values(
    values: Any,
    m: int,
    *,
    source: str = "game",
    coalitions: np.ndarray | None = None,
    note: str = "",
) -> np.ndarray:
    """Check the values a game returned for ``m`` coalitions and return them as float64.

    Accepted: anything ``np.asarray`` turns into a real (bool, int, unsigned or float) array of
    shape ``(m,)`` or ``(m, 1)`` with finite entries (lists of Python floats, numpy arrays, CPU
    torch tensors). Refused, never converted:

    * complex values, even with a zero imaginary part: which real number is meant (the real
      part, the modulus) is the game's decision, so it must return ``values.real`` explicitly;
    * strings (``"1.5"``) and other objects: a game returning text is a bug, not a number;
    * any other shape (one value per coalition is required);
    * NaN and infinite values.

    Args:
        values: what the game returned.
        m: number of coalitions it was called with.
        source: who returned the values, for the message (``"game"``, or ``"game on batch 3 of
            10 (size 64)"``). Defaults to ``"game"``.
        coalitions: the ``(m, n)`` boolean coalitions; when given, a message about non-finite
            values names the players of the first bad coalition.
        note: appended to every message (for example what was kept of a partial run).

    Returns:
        A new float64 array of shape ``(m,)``.

    Raises:
        InvalidGameError: one of the refusals above; the message names the problem and the fix.
    """
    try:
        arr = np.asarray(values)
    except Exception as err:  # a CUDA tensor, a tensor needing grad, a broken __array__ ...
        problem = f"a {type(values).__name__} that numpy cannot read as an array ({err})"
        fix = f"Return a float numpy array of shape ({m},), e.g. tensor.detach().cpu().numpy()."
        raise _refuse(source, problem, fix, note) from err
    kind = arr.dtype.kind
    if kind == "c":
        problem = f"complex values (dtype {arr.dtype})"
        fix = (
            "Game values must be real numbers. Return values.real (or np.abs(values)) explicitly "
            "if that is what the game means."
        )
        raise _refuse(source, problem, fix, note)
    if kind not in "biuf":
        example = arr.reshape(-1)[0] if arr.size else None
        what = "strings" if kind in "US" else "non-numeric values"
        problem = f"{what} (dtype {arr.dtype}, e.g. {example!r})"
        fix = (
            "Game values must be real numbers, and strings or objects are never converted. Return "
            f"a float array of shape ({m},)."
        )
        raise _refuse(source, problem, fix, note)
    if arr.shape == (m, 1):
        arr = arr.reshape(m)
    if arr.shape != (m,):
        problem = f"values of shape {arr.shape} for {m} coalitions"
        fix = f"Return one value per coalition: an array of shape ({m},)."
        raise _refuse(source, problem, fix, note)
    out = arr.astype(np.float64)  # always a copy: the caller may keep or cache it
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        first = int(bad[0])
        where = f"first at row {first}"
        if coalitions is not None:
            where += f" (coalition {np.flatnonzero(coalitions[first]).tolist()})"
        problem = (
            f"{bad.size} non-finite values (NaN or inf) for {m} coalitions, {where}: "
            f"{out[first]}; bad rows {bad[:_SHOW].tolist()}{' ...' if bad.size > _SHOW else ''}"
        )
        fix = "Make the game return a finite value for every coalition."
        raise _refuse(source, problem, fix, note)
    return out


def check_random_state(random_state: Any, name: str = "random_state") -> Any:
    """Check a seed argument without consuming it.

    Args:
        random_state: ``None`` (fresh entropy), a non-negative int (Python or numpy), a
            ``np.random.SeedSequence`` or a ``np.random.Generator``.
        name: the argument's name, for the message. Defaults to ``"random_state"``.

    Returns:
        ``random_state`` unchanged, except that a numpy integer becomes a Python ``int``.

    Raises:
        InvalidParameterError: a negative int, a bool, a float (even ``1.0``), a string (even
            ``"0"``) or any other type; the message names ``name`` and the accepted values.
    """
    if random_state is None or isinstance(
        random_state, np.random.Generator | np.random.SeedSequence
    ):
        return random_state
    accepted = "None, a non-negative int (a seed) or a np.random.Generator"
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool | np.bool_):
        if random_state < 0:
            msg = (
                f"The '{name}' parameter must be {accepted}. Got {random_state}: seeds cannot be "
                f"negative; pass e.g. {name}=0."
            )
            raise InvalidParameterError(msg)
        return int(random_state)
    hint = ""
    if isinstance(random_state, bool | np.bool_):
        hint = " (a bool is not a seed)"
    elif isinstance(random_state, str):
        hint = f" (a string is not converted; pass {name}={random_state.strip()})"
        if not random_state.strip().isdigit():
            hint = " (a string is not a seed)"
    elif isinstance(random_state, numbers.Real) and not isinstance(random_state, bool | np.bool_):
        hint = " (a float is not a seed; pass an int)"
    msg = f"The '{name}' parameter must be {accepted}. Got {random_state!r}{hint}."
    raise InvalidParameterError(msg)
