"""Interaction indices (SII, k-SII, STII, FSII, FBII, SV, BV, BII, Moebius, Fourier) of a spectrum.

Every index shapiq's ``MoebiusConverter`` supports is linear in the Möbius coefficients and
symmetric, so it has the form ``I(S) = sum_{T ⊇ S} w(|T|, |S|) a(T)`` for a weight table ``w``
that depends only on the index and the order. Composing with ``a(T) = (-2)^|T| sum_{K ⊇ T} F[K]``
gives the same form directly on Fourier coefficients, ``I(S) = sum_{K ⊇ S} v(|K|, |S|) F[K]``
with ``v(κ, s) = sum_{j=s}^{κ} C(κ-s, j-s) (-2)^j w(j, s)``, so a Fourier spectrum never has to
be expanded into its ``2^|K|`` Möbius terms. The cost is ``sum_K sum_{s <= order} C(|K|, s)``.

Weight tables (``t = |T|``, ``s = |S|``, ``k`` = order), each checked against
``shapiq.ExactComputer`` in the tests:

* SII: ``1 / (t - s + 1)``.                    BII: ``2^-(t - s)``.
* k-SII: ``sum_{j=s}^{min(k,t)} C(t-s, j-s) B_{j-s} / (t - j + 1)`` (Bernoulli numbers ``B``).
* STII: ``δ(t, s)`` for ``s < k``; ``1 / C(t, k)`` for ``s = k``.
* FSII: ``δ(t, s)`` for ``t <= k``; else
  ``(-1)^(k-s) s/(k+s) C(k, s) C(t-1, k) / C(t+k-1, k+s)`` (Tsai et al., 2023).
* FBII: ``δ(t, s)`` for ``t <= k``; else ``(-1)^(k-s) 2^-(t-s) C(t-s-1, k-s)``.
* SV (order 1): ``δ(t, 0)`` for ``s = 0``, ``1/t`` for ``s = 1``. BV: ``2^-t``, ``2^-(t-1)``.
* Moebius: ``δ(t, s)``. Fourier: the Fourier coefficients themselves.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Literal, get_args

import numpy as np
from shapiq import InteractionValues

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra._subsets import distribute
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = [
    "SUPPORTED_INDICES",
    "IndexType",
    "index_weights",
    "spectrum_to_index",
    "to_interaction_values",
]

IndexType = Literal["SII", "k-SII", "STII", "FSII", "FBII", "SV", "BV", "BII", "Moebius", "Fourier"]
SUPPORTED_INDICES: tuple[str, ...] = get_args(IndexType)
_FIRST_ORDER = {"SV", "BV"}


def _bernoulli(m: int) -> list[Fraction]:
    """Bernoulli numbers ``B_0..B_m`` with ``B_1 = -1/2``."""
    b = [Fraction(0)] * (m + 1)
    for i in range(m + 1):
        b[i] = Fraction(1) if i == 0 else -sum(comb(i + 1, j) * b[j] for j in range(i)) / (i + 1)
    return b


def check_index(
    index: str, max_order: int | None, n: int | None = None, *, any_first_order: bool = False
) -> None:
    """Raise a clear error for an unknown index or an order it cannot have.

    ``any_first_order`` accepts any valid ``max_order`` for SV and BV (which are first-order
    whatever it says), as shapiq's approximators do; otherwise it must be 1 or None.
    """
    if index not in SUPPORTED_INDICES:
        msg = (
            f"The 'index' parameter must be one of {list(SUPPORTED_INDICES)}. Got {index!r}. "
            "Pick one of these strings (they are shapiq's names)."
        )
        raise InvalidParameterError(msg)
    if max_order is not None and (
        isinstance(max_order, bool) or not isinstance(max_order, (int, np.integer))
    ):
        msg = f"The 'max_order' parameter must be a positive int or None. Got {max_order!r}."
        raise InvalidParameterError(msg)
    if max_order is not None and max_order < 1:
        msg = f"The 'max_order' parameter must be >= 1 (or None for no cap). Got {max_order}."
        raise InvalidParameterError(msg)
    if n is not None and max_order is not None and max_order > n:
        msg = f"The 'max_order' parameter must be <= n = {n}. Got {max_order}."
        raise InvalidParameterError(msg)
    if index in _FIRST_ORDER and max_order not in (None, 1) and not any_first_order:
        msg = f"The index {index!r} is first-order: 'max_order' must be 1. Got {max_order}."
        raise InvalidParameterError(msg)


def index_weights(index: str, order: int, max_degree: int) -> np.ndarray:
    """Weight table ``w[t, s]``: Möbius coefficients of size ``t`` to index values of size ``s``.

    Args:
        index: one of :data:`SUPPORTED_INDICES` except ``"Fourier"``.
        order: the index order ``k`` (1 for SV and BV).
        max_degree: largest ``t`` that occurs.

    Returns:
        ``(max_degree + 1, order + 1)`` float64 array.
    """
    k = order
    T = max(max_degree, k)
    w = np.zeros((T + 1, k + 1))
    bern = _bernoulli(k) if index == "k-SII" else None
    for t in range(T + 1):  # tables are (degree x order), tiny: exact rational arithmetic
        for s in range(min(t, k) + 1):
            if index == "Moebius":
                val = Fraction(int(t == s))
            elif index == "SII":
                val = Fraction(1, t - s + 1)
            elif index == "BII":
                val = Fraction(1, 2 ** (t - s))
            elif index == "k-SII":
                val = sum(
                    (
                        comb(t - s, j - s) * bern[j - s] / (t - j + 1)
                        for j in range(s, min(k, t) + 1)
                    ),
                    Fraction(0),
                )
            elif index == "STII":
                val = Fraction(int(t == s)) if s < k else Fraction(1, comb(t, k))
            elif index == "FSII":
                if t <= k:
                    val = Fraction(int(t == s))
                else:
                    val = (
                        (-1) ** (k - s)
                        * Fraction(s, k + s)
                        * comb(k, s)
                        * Fraction(comb(t - 1, k), comb(t + k - 1, k + s))
                    )
            elif index == "FBII":
                if t <= k:
                    val = Fraction(int(t == s))
                else:
                    val = (-1) ** (k - s) * Fraction(comb(t - s - 1, k - s), 2 ** (t - s))
            elif index == "SV":
                val = Fraction(int(t == 0)) if s == 0 else Fraction(1, t)
            elif index == "BV":
                val = Fraction(1, 2**t) if s == 0 else Fraction(1, 2 ** (t - 1))
            else:
                msg = f"No Möbius weight table for index {index!r}."
                raise InvalidParameterError(msg)
            w[t, s] = float(val)
    return w[: max_degree + 1]


def _fourier_weights(w: np.ndarray, max_degree: int) -> np.ndarray:
    """Compose a Möbius table with Fourier→Möbius: ``v(κ,s) = Σ_j C(κ-s,j-s)(-2)^j w(j,s)``."""
    k = w.shape[1] - 1
    v = np.zeros((max_degree + 1, k + 1))
    for kap in range(max_degree + 1):
        for s in range(min(kap, k) + 1):
            v[kap, s] = sum(comb(kap - s, j - s) * (-2.0) ** j * w[j, s] for j in range(s, kap + 1))
    return v


def spectrum_to_index(spectrum: SparseSpectrum, index: str, max_order: int | None = None):
    """Index values of every interaction up to ``max_order`` as padded ``(supports, values)``.

    Args:
        spectrum: a Fourier or Möbius :class:`SparseSpectrum`.
        index: one of :data:`SUPPORTED_INDICES`.
        max_order: order of the index; ``None`` means the spectrum's largest degree (no cap).
            First-order indices (SV, BV) always use 1.

    Returns:
        ``(supports (r, w) int64, values (r,) float64)`` for the interactions with a nonzero
        contribution (every other interaction of order ``<= max_order`` is exactly 0).
    """
    check_index(index, max_order, spectrum.n)
    order = 1 if index in _FIRST_ORDER else (max_order or max(spectrum.max_degree, 1))
    deg = spectrum.max_degree
    if index == "Fourier":
        table = np.eye(max(deg, order) + 1)[: deg + 1, : order + 1]
        src = spectrum.to_fourier()
    elif index == "Moebius" and spectrum.basis == "moebius":
        table = np.eye(max(deg, order) + 1)[: deg + 1, : order + 1]
        src = spectrum
    else:
        w = index_weights(index, order, deg)
        table = _fourier_weights(w, deg) if spectrum.basis == "fourier" else w
        src = spectrum
    return distribute(src.supports, src.coefs, table, order)


def to_interaction_values(
    spectrum: SparseSpectrum,
    index: str,
    max_order: int | None = None,
    *,
    min_order: int = 0,
    baseline_value: float | None = None,
    estimated: bool = True,
    estimation_budget: int | None = None,
) -> InteractionValues:
    """Convert a spectrum into shapiq ``InteractionValues`` of the requested index.

    The result is built with ``index=index`` (the final index), so shapiq never aggregates it a
    second time, and it always contains the empty interaction ``()``.

    Args:
        spectrum: the recovered spectrum.
        index: target index (see :data:`SUPPORTED_INDICES`).
        max_order: index order; ``None`` = the spectrum's largest degree.
        min_order: smallest order kept besides ``()`` (``max_order`` for top-order results).
        baseline_value: value of the empty coalition; default: evaluated from the spectrum.
        estimated: passed to ``InteractionValues``.
        estimation_budget: passed to ``InteractionValues``.

    Returns:
        ``InteractionValues`` whose entries match ``shapiq.ExactComputer`` on the spectrum's game.
        Interactions of order >= 2 whose value is zero are left out; every player's first-order
        entry is there (``0.0`` where it is zero) when order 1 is within the result's orders.
    """
    check_index(index, max_order, spectrum.n)
    order = 1 if index in _FIRST_ORDER else (max_order or max(spectrum.max_degree, 1))
    sup, vals = spectrum_to_index(spectrum, index, order)
    if baseline_value is None:
        baseline_value = float(spectrum.evaluate(np.zeros((1, spectrum.n), dtype=bool))[0])
    deg = (sup >= 0).sum(axis=1) if sup.size else np.zeros(len(vals), dtype=int)
    keep = (deg >= min_order) | (deg == 0)
    interactions = {
        tuple(int(p) for p in row[row >= 0]): float(v)
        for row, v in zip(sup[keep], vals[keep], strict=True)
    }
    interactions.setdefault((), 0.0)
    if min_order <= 1 <= order:
        # every player gets its first-order entry, zero or not: shapiq's network and SI-graph
        # plots take their nodes from the singletons present (a purely pairwise game had none
        # and crashed them), as ExactComputer's complete results always have them
        for i in range(spectrum.n):
            interactions.setdefault((i,), 0.0)
    if index == "FBII":
        # shapiq reports the Faith-Banzhaf constant term as the baseline (ExactComputer does)
        baseline_value = interactions[()]
    # shapiq's order (ExactComputer's): by size, then lexicographic
    interactions = dict(sorted(interactions.items(), key=lambda kv: (len(kv[0]), kv[0])))
    lookup = {key: i for i, key in enumerate(interactions)}
    return InteractionValues(
        np.fromiter(interactions.values(), dtype=float, count=len(interactions)),
        index=index,
        max_order=order,
        min_order=min_order,
        n_players=spectrum.n,
        interaction_lookup=lookup,
        estimated=estimated,
        estimation_budget=estimation_budget,
        baseline_value=float(baseline_value),
    )
