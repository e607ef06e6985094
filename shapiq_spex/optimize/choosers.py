"""Choosers for pruning experiments: ``r -> players`` from an interaction surrogate or marginals.

A chooser removes exactly ``r`` players for every ``r`` it is asked for; pass choosers to
:func:`~shapiq_spex.optimize.pruning.pruning_experiment`. :func:`interaction_chooser` optimises
the interaction surrogate (:func:`~shapiq_spex.optimize.best_subset`, or
:func:`~shapiq_spex.optimize.subset.least_change_subset` for ``"min_change"``);
:func:`marginal_chooser` optimises the additive model of first-order values with the same
objectives, so only the surrogate differs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.optimize._checks import (
    check_beam_width,
    check_choice,
    check_spectrum,
    player_values,
)
from shapiq_spex.optimize.pruning import Chooser
from shapiq_spex.optimize.removal import marginal_choice
from shapiq_spex.optimize.subset import best_subset, least_change_subset
from shapiq_spex.spectra import SparseSpectrum

__all__ = ["PRUNE_OBJECTIVES", "interaction_chooser", "marginal_chooser"]

PruneObjective = Literal["min", "max", "max_change", "min_change"]
PRUNE_OBJECTIVES = ("min", "max", "max_change", "min_change")


def _additive_spectrum(phi: np.ndarray) -> SparseSpectrum:
    n = phi.size
    return SparseSpectrum(n, np.arange(n)[:, None], phi, "moebius")


def interaction_chooser(
    spectrum: SparseSpectrum,
    objective: PruneObjective,
    *,
    beam_width: int = 32,
    **best_subset_kwargs,
) -> Chooser:
    """A chooser ``r ↦ players`` that removes exactly ``r`` players picked on the surrogate.

    Args:
        spectrum: the interaction surrogate ``f̂``.
        objective: ``"min"`` (lower the score most: the examples the prediction depends on),
            ``"max"`` (raise it most), ``"max_change"`` (either way, whichever moves more), all
            through :func:`~shapiq_spex.optimize.best_subset` (MILP by default); or
            ``"min_change"`` (change it least: prune while keeping the prediction) through
            :func:`least_change_subset`.
        beam_width: passed to both searches. Defaults to ``32``.
        **best_subset_kwargs: more keywords for :func:`~shapiq_spex.optimize.best_subset`
            (``method``, ``time_limit``).

    Returns:
        A callable ``chooser(r) -> tuple[int, ...]`` (exactly ``r`` players, ascending).
    """
    spectrum = check_spectrum(spectrum)
    objective = check_choice(objective, "objective", PRUNE_OBJECTIVES)
    beam_width = check_beam_width(beam_width)
    for key in ("mode", "objective", "exact_size", "game"):
        if key in best_subset_kwargs:
            msg = f"The '{key}' keyword is fixed by interaction_chooser; do not pass it."
            raise InvalidParameterError(msg)

    def chooser(r: int) -> tuple[int, ...]:
        if objective == "min_change":
            return least_change_subset(spectrum, r, beam_width=beam_width).players
        return best_subset(
            spectrum,
            r,
            mode="remove",
            objective=objective,
            exact_size=True,
            beam_width=beam_width,
            **best_subset_kwargs,
        ).players

    return chooser


def marginal_chooser(
    values_by_player, objective: PruneObjective, *, beam_width: int = 32
) -> Chooser:
    """A chooser ``r ↦ players`` that removes exactly ``r`` players picked by first-order values.

    The choice optimises the additive surrogate ``f(x) = Σ_i φ_i x_i`` with the same objectives
    as :func:`interaction_chooser`: ``"min"`` removes the ``r`` largest ``φ``, ``"max"`` the
    ``r`` smallest, ``"max_change"`` whichever moves the sum more (all
    :func:`~shapiq_spex.optimize.marginal_choice`), and ``"min_change"`` the ``r`` players with
    the smallest ``|Σ_{i∈R} φ_i|`` (:func:`least_change_subset` on the additive surrogate, so the
    same search as for interactions and only the surrogate differs).

    Args:
        values_by_player: ``(n,)`` first-order values or shapiq ``InteractionValues``.
        objective: ``"min"``, ``"max"``, ``"max_change"`` or ``"min_change"``.
        beam_width: beam width for ``"min_change"``. Defaults to ``32``.

    Returns:
        A callable ``chooser(r) -> tuple[int, ...]`` (exactly ``r`` players, ascending).
    """
    phi = player_values(values_by_player)
    objective = check_choice(objective, "objective", PRUNE_OBJECTIVES)
    beam_width = check_beam_width(beam_width)
    additive = _additive_spectrum(phi)

    def chooser(r: int) -> tuple[int, ...]:
        if objective == "min_change":
            return least_change_subset(additive, r, beam_width=beam_width).players
        return marginal_choice(phi, r, mode="remove", objective=objective, exact_size=True)

    return chooser
