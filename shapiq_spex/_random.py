"""Reproducible random streams: one ``SeedSequence``, independent children per stage."""

from __future__ import annotations

import numbers

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["as_generator", "random_bits", "spawn"]


def as_generator(random_state: int | np.random.Generator | np.random.SeedSequence | None):
    """Turn ``random_state`` into a fresh ``np.random.Generator``.

    Args:
        random_state: ``None`` (fresh OS entropy), a non-negative int, a ``SeedSequence`` or a
            ``Generator``. A ``Generator`` is used as is (and therefore advanced by the caller).

    Returns:
        A ``np.random.Generator``. The global ``np.random`` state is never touched.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, np.random.SeedSequence):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            msg = f"The 'random_state' parameter must be a non-negative int. Got {random_state}."
            raise InvalidParameterError(msg)
        return np.random.default_rng(int(random_state))
    msg = (
        "The 'random_state' parameter must be None, a non-negative int, a np.random.SeedSequence "
        f"or a np.random.Generator. Got {random_state!r}."
    )
    raise InvalidParameterError(msg)


def spawn(rng: np.random.Generator, k: int) -> list[np.random.Generator]:
    """Split ``rng`` into ``k`` independent child generators (one per pipeline stage)."""
    return list(rng.spawn(k))


def random_bits(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """``(m, n)`` i.i.d. Bernoulli(1/2) booleans, one byte per entry (no float64 detour)."""
    return rng.integers(0, 2, size=(m, n), dtype=np.uint8).view(bool)
