"""Exceptions and warnings raised by shapiq-spex."""

from __future__ import annotations

__all__ = [
    "BudgetCappedWarning",
    "BudgetTooSmallError",
    "DecodingWarning",
    "GameIdentityError",
    "InvalidGameError",
    "InvalidParameterError",
    "MissingDependencyError",
    "PrecisionWarning",
    "SpexError",
]


class SpexError(Exception):
    """Base class of every error raised by shapiq-spex."""


class InvalidParameterError(SpexError, ValueError, TypeError):
    """A parameter has the wrong type, shape or value."""


class BudgetTooSmallError(SpexError, ValueError):
    """The budget cannot pay for even the smallest design of the method."""


class InvalidGameError(SpexError, ValueError):
    """A game returned values of the wrong shape, NaN or inf, or has the wrong number of players."""


class GameIdentityError(SpexError, TypeError):
    """A game cannot describe itself deterministically, so a cache cannot be keyed by it."""


class DecodingWarning(UserWarning):
    """Something in the decoding was suspicious but not fatal (for example no held-out samples)."""


class MissingDependencyError(SpexError, ImportError):
    """An optional back-end an option needs (LightGBM, XGBoost, ...) cannot be imported."""


class PrecisionWarning(UserWarning):
    """The game's values vary too little next to their magnitude for full float64 accuracy."""


class BudgetCappedWarning(UserWarning):
    """The budget was lowered to what the memory budget (``max_memory``) or the game allows."""
