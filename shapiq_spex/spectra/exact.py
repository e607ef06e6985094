"""The exact Möbius spectrum of a game from its values on all ``2**n`` coalitions.

Used by the approximators when a budget pays for every coalition: then there is nothing to
approximate, and an exact transform beats any sampled fit. Rows are ordered by the integer whose
bit ``i`` is player ``i`` (row ``0`` = the empty coalition, row ``2**n - 1`` = all players).
"""

from __future__ import annotations

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = ["all_coalitions", "complete_spectrum", "exact_moebius_spectrum", "moebius_transform"]

#: Terms with ``|a_S| <= ROUNDOFF_RTOL * max|f|`` are float round-off of exact zeros.
ROUNDOFF_RTOL = 1e-12


def all_coalitions(n: int) -> np.ndarray:
    """All ``2**n`` coalitions as a ``(2**n, n)`` bool matrix, row ``j`` = the bits of ``j``."""
    if not isinstance(n, int | np.integer) or not 1 <= n <= 30:
        msg = f"The 'n' parameter must be an int in [1, 30] for an exhaustive table. Got {n!r}."
        raise InvalidParameterError(msg)
    rows = np.arange(2**n, dtype=np.int64)
    return ((rows[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(bool)


def moebius_transform(values: np.ndarray) -> np.ndarray:
    """Möbius coefficients ``a_S = Σ_{T ⊆ S} (-1)^{|S|-|T|} f(T)`` in the row order above.

    Args:
        values: ``(2**n,)`` game values, row ``j`` = the coalition of the bits of ``j``.

    Returns:
        ``(2**n,)`` float64 coefficients in the same order. ``O(n 2**n)`` time.
    """
    a = np.array(values, dtype=np.float64)
    size = a.size
    n = size.bit_length() - 1
    if a.ndim != 1 or size != 1 << n:
        msg = f"The 'values' parameter must be a 1-D array of length 2**n. Got shape {a.shape}."
        raise InvalidParameterError(msg)
    for i in range(n):  # one vectorised pass per player, never per coalition
        view = a.reshape(-1, 2, 1 << i)
        view[:, 1, :] -= view[:, 0, :]
    return a


def exact_moebius_spectrum(values: np.ndarray, n: int) -> SparseSpectrum:
    """The Möbius spectrum of a game given its values on :func:`all_coalitions` ``(n)``.

    Coefficients that are round-off of an exact zero (see :data:`ROUNDOFF_RTOL`) are left out, so
    a game with few interactions gets a spectrum with few terms.
    """
    a = moebius_transform(values)
    if a.size != 2**n:
        msg = f"The 'values' parameter must hold 2**{n} = {2**n} values. Got {a.size}."
        raise InvalidParameterError(msg)
    scale = float(np.max(np.abs(values))) if a.size else 0.0
    keep = np.abs(a) > ROUNDOFF_RTOL * scale
    keep[0] = True  # the constant term is always reported
    masks = all_coalitions(n)[keep]
    return SparseSpectrum.from_masks(n, masks, a[keep], basis="moebius")


def complete_spectrum(
    spectrum: SparseSpectrum, masks: np.ndarray, values: np.ndarray
) -> SparseSpectrum:
    """The exact Möbius spectrum of the table: known ``values``, ``spectrum``'s elsewhere.

    The result reproduces ``values`` on ``masks`` exactly and ``spectrum`` on every other
    coalition, so on the game it is never worse than ``spectrum`` at a queried coalition and
    equal to it everywhere else. ``O(n 2**n)`` time and ``2**n`` floats of memory.

    Args:
        spectrum: a surrogate on ``n = masks.shape[1]`` players (any basis).
        masks: ``(m, n)`` bool distinct coalitions whose values are known.
        values: ``(m,)`` their values.

    Returns:
        A Möbius :class:`SparseSpectrum` (round-off zeros left out).
    """
    masks = np.asarray(masks, dtype=bool)
    values = np.asarray(values, dtype=np.float64)
    if masks.ndim != 2 or masks.shape[1] != spectrum.n or values.shape != (masks.shape[0],):
        msg = (
            f"The 'masks' and 'values' parameters must be (m, {spectrum.n}) and (m,). Got "
            f"{masks.shape} and {values.shape}."
        )
        raise InvalidParameterError(msg)
    n = spectrum.n
    table = spectrum.evaluate(all_coalitions(n))
    table[masks.astype(np.int64) @ (np.int64(1) << np.arange(n, dtype=np.int64))] = values
    return exact_moebius_spectrum(table, n)
