"""Attention-head pruning on top of :class:`~shapiq_spex.games.attention.AttentionHeadGame`.

Two small, composable steps, and the experiment that checks them:

* :func:`layer_profile`: per layer, how much of a recovered spectrum's Fourier energy (its
  variance over uniformly random head coalitions, by Parseval) sits in single heads, in
  interactions among heads of that layer, and in interactions across layers: which layers act
  linearly.
* :func:`heads_to_prune`: the ``k`` heads whose removal keeps the metric highest, chosen from the
  interaction surrogate (:func:`~shapiq_spex.optimize.best_subset`) or from first-order values
  (:func:`~shapiq_spex.optimize.marginal_choice`).
* checking the choice: :func:`~shapiq_spex.optimize.pruning.pruning_experiment` (generic, any
  players; in :mod:`shapiq_spex.optimize.pruning`) evaluates a (held-out) game after removing
  each chooser's ``k`` heads (``rs=ks``, choosers such as
  ``lambda k: heads_to_prune(spectrum, k, by="interactions")``), next to a seeded random-removal
  baseline, in one batched game call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.optimize._checks import (
    METHODS,
    Method,
    check_choice,
    check_r,
    check_spectrum,
    check_time_limit,
    player_values,
)
from shapiq_spex.optimize.removal import marginal_choice
from shapiq_spex.optimize.subset import best_subset
from shapiq_spex.spectra import SparseSpectrum

__all__ = ["LayerProfile", "heads_to_prune", "layer_profile"]

PruneBy = Literal["interactions", "marginal"]
_BY = ("interactions", "marginal")


# ---------------------------------------------------------------------------------- layer profile
@dataclass(frozen=True, eq=False)
class LayerProfile:
    """Where a spectrum's Fourier energy sits, layer by layer.

    The energy of a term is its squared Fourier coefficient; the non-constant energies add up to
    the variance of the surrogate over uniformly random coalitions (Parseval). A cross-layer term
    (heads from two or more layers) is split equally among the layers it touches, so
    ``first_order + intra + cross`` summed over the layers is ``total``.

    Attributes:
        layers: ``(L,)`` int64, the layers that hold at least one player, ascending.
        n_heads: ``(L,)`` int64, the number of players (heads) of each layer.
        first_order: ``(L,)`` float64, energy of the layer's single-head terms.
        intra: ``(L,)`` float64, energy of terms of order >= 2 whose heads all lie in the layer.
        cross: ``(L,)`` float64, the layer's share of the terms whose heads span several layers.
        total: energy of every non-constant term.
    """

    layers: np.ndarray
    n_heads: np.ndarray
    first_order: np.ndarray
    intra: np.ndarray
    cross: np.ndarray
    total: float

    @property
    def energy(self) -> np.ndarray:
        """``(L,)`` ``first_order + intra + cross``: the energy attributed to each layer."""
        return self.first_order + self.intra + self.cross

    @property
    def linear_share(self) -> np.ndarray:
        """``(L,)`` ``first_order / energy``; NaN for a layer without any energy."""
        energy = self.energy
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(energy > 0, self.first_order / energy, np.nan)

    @property
    def energy_share(self) -> np.ndarray:
        """``(L,)`` ``energy / total``; NaN everywhere if the spectrum is constant."""
        if self.total <= 0:
            return np.full(self.layers.shape, np.nan)
        return self.energy / self.total

    def to_markdown(self, *, digits: int = 3) -> str:
        """A Markdown table, one row per layer, energies as shares of ``total``.

        Args:
            digits: decimals of the shares. Defaults to ``3``.

        Returns:
            The table, ending with a newline.
        """
        scale = self.total if self.total > 0 else np.nan
        lines = [
            "| layer | heads | first-order | intra-layer | cross-layer | layer share | "
            "linear share |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for i, layer in enumerate(self.layers.tolist()):
            cells = [
                self.first_order[i] / scale,
                self.intra[i] / scale,
                self.cross[i] / scale,
                self.energy_share[i],
                self.linear_share[i],
            ]
            text = " | ".join(f"{c:.{digits}f}" for c in cells)
            lines.append(f"| {layer} | {self.n_heads[i]} | {text} |")
        return "\n".join(lines) + "\n"


def _check_heads(heads, n: int) -> np.ndarray:
    """Return ``heads`` as an ``(n, 2)`` int64 ``(layer, head)`` array, else raise."""
    arr = np.asarray(heads)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
        msg = (
            "The 'heads' parameter must be an (n_players, 2) int array of (layer, head) pairs, "
            f"e.g. AttentionHeadGame.heads. Got shape {arr.shape} and dtype {arr.dtype}."
        )
        raise InvalidParameterError(msg)
    if arr.shape[0] != n:
        msg = (
            f"The 'heads' parameter has {arr.shape[0]} rows but the spectrum has n={n} players; "
            "pass the heads of the game the spectrum was recovered from (game.heads)."
        )
        raise InvalidParameterError(msg)
    if np.any(arr < 0):
        msg = "The 'heads' parameter holds negative layer or head numbers."
        raise InvalidParameterError(msg)
    return arr.astype(np.int64)


def layer_profile(spectrum: SparseSpectrum, heads) -> LayerProfile:
    """Split a head spectrum's Fourier energy into first-order, intra-layer and cross-layer parts.

    Args:
        spectrum: the surrogate over the heads (``approx.spectrum_``); a Möbius spectrum is
            converted with ``to_fourier()`` first.
        heads: ``(n, 2)`` int ``(layer, head)`` of each player (``AttentionHeadGame.heads``).

    Returns:
        A :class:`LayerProfile`; its ``linear_share`` near 1 marks a layer whose heads act
        additively, near 0 a layer that acts through head interactions.

    Raises:
        InvalidParameterError: ``spectrum`` is not a ``SparseSpectrum``, or ``heads`` has the
            wrong shape, type or number of rows.
    """
    spectrum = check_spectrum(spectrum).to_fourier()
    heads = _check_heads(heads, spectrum.n)
    layers, layer_of = np.unique(heads[:, 0], return_inverse=True)
    n_layers = layers.size
    n_heads = np.bincount(layer_of, minlength=n_layers).astype(np.int64)

    deg = spectrum.degrees
    keep = deg > 0
    sup, deg = spectrum.supports[keep], deg[keep]
    energy = spectrum.coefs[keep] ** 2
    touched = np.zeros((sup.shape[0], n_layers), dtype=bool)
    rows, cols = np.nonzero(sup >= 0)
    touched[rows, layer_of[sup[rows, cols]]] = True
    n_touched = touched.sum(axis=1)
    # the equal split of a cross-layer term keeps every layer's parts adding up to the total
    shares = touched * (energy / np.maximum(n_touched, 1))[:, None]
    first = shares[deg == 1].sum(axis=0)
    intra = shares[(deg >= 2) & (n_touched == 1)].sum(axis=0)
    cross = shares[n_touched >= 2].sum(axis=0)
    return LayerProfile(
        layers=layers.astype(np.int64),
        n_heads=n_heads,
        first_order=first,
        intra=intra,
        cross=cross,
        total=float(energy.sum()),
    )


# ---------------------------------------------------------------------------------- choosing
def heads_to_prune(
    values,
    k: int,
    *,
    by: PruneBy,
    method: Method = "auto",
    time_limit: float | None = 60.0,
) -> tuple[int, ...]:
    """The ``k`` players (heads) whose removal keeps the metric highest.

    * ``by="interactions"``: ``best_subset(values, k, mode="remove", objective="max",
      exact_size=True)`` on the surrogate spectrum, so head interactions count.
    * ``by="marginal"``: the ``k`` players with the smallest first-order value
      (``marginal_choice(values, k, mode="remove", objective="max", exact_size=True)``), the
      exact optimum if the metric were additive in the heads.

    Args:
        values: a :class:`~shapiq_spex.spectra.SparseSpectrum` for ``"interactions"``; an
            ``(n,)`` array of first-order values (Shapley, Banzhaf, ...) or shapiq
            ``InteractionValues`` (order-1 entries are read) for ``"marginal"``.
        k: number of heads to remove, in ``[0, n]``.
        by: ``"interactions"`` or ``"marginal"``.
        method: solver of :func:`~shapiq_spex.optimize.best_subset` (``"interactions"`` only).
            Defaults to ``"auto"``.
        time_limit: MILP time limit in seconds (``"interactions"`` only; a solve stopped by it
            warns). Defaults to ``60.0``.

    Returns:
        The chosen players, ascending.

    Raises:
        InvalidParameterError: a wrong ``by``, ``k`` or type of ``values`` for ``by``.
    """
    by = check_choice(by, "by", _BY)
    method = check_choice(method, "method", METHODS)
    time_limit = check_time_limit(time_limit)
    if by == "interactions":
        if not isinstance(values, SparseSpectrum):
            msg = (
                "The 'values' parameter must be a SparseSpectrum (e.g. approx.spectrum_) with "
                f"by='interactions'. Got {type(values).__name__}; for first-order values use "
                "by='marginal'."
            )
            raise InvalidParameterError(msg)
        k = check_r(k, values.n, "k")
        result = best_subset(
            values,
            k,
            mode="remove",
            objective="max",
            exact_size=True,
            method=method,
            time_limit=time_limit,
        )
        return result.players
    if isinstance(values, SparseSpectrum):
        msg = (
            "The 'values' parameter is a SparseSpectrum but by='marginal' needs first-order "
            "values: pass an (n,) array or InteractionValues (for the surrogate's own Banzhaf "
            "values: to_interaction_values(spectrum, 'BV', 1)), or use by='interactions'."
        )
        raise InvalidParameterError(msg)
    phi = player_values(values)
    k = check_r(k, phi.size, "k")
    return marginal_choice(phi, k, mode="remove", objective="max", exact_size=True)
