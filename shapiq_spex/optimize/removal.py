"""Removal curves ``Rem(r)`` for interaction-chosen and marginal-chosen sets of players."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from shapiq_spex.optimize._checks import (
    MODES,
    OBJECTIVES,
    Method,
    Mode,
    Objective,
    check_bool,
    check_choice,
    check_game,
    check_r,
    check_rs,
    check_spectrum,
    player_values,
    query_game,
)
from shapiq_spex.optimize.subset import best_subset
from shapiq_spex.spectra import SparseSpectrum

__all__ = ["RemovalCurve", "marginal_choice", "removal_curve", "removal_curve_marginal"]


@dataclass(frozen=True, eq=False)
class RemovalCurve:
    """``Rem(r) = |f(all) − f(all minus R_r)| / |f(all)|`` for a list of ``r``.

    Attributes:
        rs: ``(k,)`` int64, the numbers of players removed.
        rem: ``(k,)`` float64, ``Rem(r)`` (``inf``/``nan`` where ``f(all) == 0``, with a warning).
        full_value: ``f(all)``, the game's value with every player kept.
        removed_values: ``(k,)`` float64, ``f(all minus R_r)``.
        players: the removed sets ``R_r``, one ascending tuple per ``r``.
        optimal: ``(k,)`` bool; for interaction-chosen sets whether the MILP proved the set
            optimal for the surrogate, for marginal-chosen sets always ``True`` (sorting is exact
            for the additive model).
        chooser: ``"interaction:<method>"`` or ``"marginal"``.
    """

    rs: np.ndarray
    rem: np.ndarray
    full_value: float
    removed_values: np.ndarray
    players: tuple[tuple[int, ...], ...]
    optimal: np.ndarray
    chooser: str


def _curve(
    game, n: int, rs: np.ndarray, sets: list[np.ndarray], optimal: list[bool], chooser: str
) -> RemovalCurve:
    """Query ``f(all)`` and every ``f(all minus R_r)`` in one call and form ``Rem(r)``."""
    masks = np.ones((1 + len(sets), n), dtype=bool)
    for i, players in enumerate(sets):
        masks[1 + i, players] = False
    values = query_game(game, masks)
    full, removed = float(values[0]), values[1:]
    if full == 0.0:
        warnings.warn(
            "removal_curve: f(all) == 0, so Rem(r) = |f(all) - f(removed)| / |f(all)| is inf "
            "(or nan where nothing changed); compare removed_values instead.",
            RuntimeWarning,
            stacklevel=3,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        rem = np.abs(full - removed) / abs(full)
    return RemovalCurve(
        rs=rs,
        rem=rem,
        full_value=full,
        removed_values=removed,
        players=tuple(tuple(int(p) for p in s) for s in sets),
        optimal=np.array(optimal, dtype=bool),
        chooser=chooser,
    )


def removal_curve(
    spectrum: SparseSpectrum,
    game: Callable,
    rs: Iterable[int] = range(1, 11),
    *,
    objective: Objective = "max_change",
    exact_size: bool = True,
    method: Method = "auto",
    beam_width: int = 8,
    time_limit: float | None = 60.0,
) -> RemovalCurve:
    """``Rem(r) = |f(all) − f(all minus R_r)| / |f(all)|`` for interaction-chosen sets ``R_r``.

    ``R_r`` = :func:`best_subset` ``(spectrum, r, mode="remove", objective=objective, ...)``. The
    game is queried once, on ``1 + len(rs)`` coalitions, and its values are used as it returns
    them (a shapiq ``Game`` with normalisation subtracts its empty value first).

    Args:
        spectrum: the surrogate ``f̂`` that picks the sets.
        game: callable on ``(m, n)`` boolean coalitions (a shapiq ``Game``, a spectrum, ...).
        rs: numbers of removed players, each in ``[0, n]``. Defaults to ``range(1, 11)``.
        objective: passed to :func:`best_subset`. Defaults to ``"max_change"``.
        exact_size: remove exactly ``r`` players (as the papers do, padding to ``r``) rather than
            at most ``r``. Defaults to ``True``.
        method: passed to :func:`best_subset`. Defaults to ``"auto"``.
        beam_width: passed to :func:`best_subset`. Defaults to ``8``.
        time_limit: per-``r`` limit passed to :func:`best_subset`. Defaults to ``60.0``.

    Returns:
        A :class:`RemovalCurve` with ``chooser = "interaction:<method used>"``.
    """
    spectrum = check_spectrum(spectrum)
    n = spectrum.n
    game = check_game(game, n)
    rs = check_rs(rs, n)
    results = [
        best_subset(
            spectrum,
            int(r),
            mode="remove",
            objective=objective,
            exact_size=exact_size,
            method=method,
            beam_width=beam_width,
            time_limit=time_limit,
        )
        for r in rs
    ]
    used = sorted({res.method for res in results})
    return _curve(
        game,
        n,
        rs,
        [np.array(res.players, dtype=np.int64) for res in results],
        [res.optimal for res in results],
        "interaction:" + "+".join(used),
    )


def marginal_choice(
    values_by_player,
    r: int,
    *,
    mode: Mode = "remove",
    objective: Objective = "max_change",
    exact_size: bool = True,
) -> tuple[int, ...]:
    """The top-``r`` players by a first-order attribution, in the direction of ``objective``.

    The choice is the exact optimum of :func:`best_subset` for the additive surrogate
    ``f(x) = Σ_i φ_i x_i``: removing ``R`` changes it by ``−Σ_{i∈R} φ_i`` and keeping only ``R``
    gives ``Σ_{i∈R} φ_i``. So in remove mode ``"min"`` removes the ``r`` largest ``φ``, ``"max"``
    the ``r`` smallest, and ``"max_change"`` whichever of the two moves the sum more (ties go to
    ``"min"``, i.e. removing the most positive players); keep mode mirrors this. Ties between
    players go to the lower index.

    Args:
        values_by_player: ``(n,)`` first-order values ``φ`` (Shapley, Banzhaf, LIME, ...) or shapiq
            ``InteractionValues`` (their order-1 entries are read; missing players count as 0).
        r: number of players, in ``[0, n]``.
        mode: ``"remove"`` or ``"keep"``. Defaults to ``"remove"``.
        objective: ``"max"``, ``"min"`` or ``"max_change"``. Defaults to ``"max_change"``.
        exact_size: choose exactly ``r`` players (the papers' marginal baseline) rather than only
            those that help, at most ``r``. Defaults to ``True``.

    Returns:
        The chosen players, ascending.
    """
    phi = player_values(values_by_player)
    n = phi.size
    r = check_r(r, n)
    mode = check_choice(mode, "mode", MODES)
    objective = check_choice(objective, "objective", OBJECTIVES)
    exact_size = check_bool(exact_size, "exact_size")
    gain = -phi if mode == "remove" else phi  # additive change of f per chosen player

    def top(weights: np.ndarray) -> tuple[np.ndarray, float]:
        order = np.argsort(-weights, kind="stable")[:r]
        if not exact_size:
            order = order[weights[order] > 0]
        return np.sort(order), float(weights[order].sum())

    up, up_gain = top(gain)
    down, down_gain = top(-gain)
    if objective == "max":
        chosen = up
    elif objective == "min":
        chosen = down
    else:
        chosen = up if up_gain > down_gain else down
    return tuple(int(p) for p in chosen)


def removal_curve_marginal(
    values_by_player,
    game: Callable,
    rs: Iterable[int] = range(1, 11),
    *,
    objective: Objective = "max_change",
    exact_size: bool = True,
) -> RemovalCurve:
    """``Rem(r)`` of the marginal-chosen removal sets (:func:`marginal_choice`, remove mode).

    Args:
        values_by_player: ``(n,)`` first-order values or shapiq ``InteractionValues``.
        game: callable on ``(m, n)`` boolean coalitions; queried once on ``1 + len(rs)``
            coalitions.
        rs: numbers of removed players, each in ``[0, n]``. Defaults to ``range(1, 11)``.
        objective: passed to :func:`marginal_choice`. Defaults to ``"max_change"``.
        exact_size: passed to :func:`marginal_choice`. Defaults to ``True``.

    Returns:
        A :class:`RemovalCurve` with ``chooser = "marginal"``.
    """
    phi = player_values(values_by_player)
    n = phi.size
    game = check_game(game, n)
    rs = check_rs(rs, n)
    sets = [
        np.array(
            marginal_choice(phi, int(r), mode="remove", objective=objective, exact_size=exact_size),
            dtype=np.int64,
        )
        for r in rs
    ]
    return _curve(game, n, rs, sets, [True] * len(sets), "marginal")
