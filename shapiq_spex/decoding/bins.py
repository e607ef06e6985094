"""Per-bin measurements: a fast Walsh–Hadamard transform of each group's query values."""

from __future__ import annotations

import numpy as np

__all__ = ["bin_measurements", "fwht"]


def fwht(a: np.ndarray) -> np.ndarray:
    """Unnormalized Walsh–Hadamard transform along the last axis (length ``2^b``).

    ``out[..., j] = Σ_ℓ a[..., ℓ] (-1)^{popcount(j & ℓ)}``; ``b`` butterfly passes, each one
    vectorized over every leading axis.
    """
    out = np.array(a, dtype=np.float64, copy=True)
    size = out.shape[-1]
    if size & (size - 1):
        msg = f"fwht needs a power-of-two length along the last axis. Got {size}."
        raise ValueError(msg)
    lead = out.shape[:-1]
    h = 1
    while h < size:
        view = out.reshape(*lead, size // (2 * h), 2, h)
        x = view[..., 0, :].copy()
        y = view[..., 1, :]
        view[..., 0, :] += y
        view[..., 1, :] = x - y
        h *= 2
    return out


def bin_measurements(values: np.ndarray, n_groups: int, n_delays: int, b: int) -> np.ndarray:
    """Turn design query values into bins ``U[c, r, j]``.

    Args:
        values: ``(C * (p + 1) * 2^b,)`` game values ordered by ``(c, r, ℓ)``.
        n_groups: ``C``.
        n_delays: ``p + 1``.
        b: log2 bins.

    Returns:
        ``(C, p + 1, 2^b)`` array, ``U[c, r, j] = Σ_{k in bin j of group c} F[k] (-1)^{<d_r, k>}``.
    """
    u = values.reshape(n_groups, n_delays, 1 << b)
    return fwht(u) / float(1 << b)
