"""Best removal or keep set of at most ``r`` players for a sparse surrogate."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from shapiq_spex.optimize._checks import (
    METHODS,
    MODES,
    OBJECTIVES,
    Method,
    Mode,
    Objective,
    check_beam_width,
    check_bool,
    check_choice,
    check_game,
    check_r,
    check_spectrum,
    check_time_limit,
    query_game,
)
from shapiq_spex.optimize._solvers import beam_search, build_problem, coalition_of, milp_solve
from shapiq_spex.spectra import SparseSpectrum

__all__ = [
    "AUTO_MILP_MAX_DENSITY",
    "AUTO_MILP_MAX_TERMS",
    "SubsetResult",
    "best_subset",
    "least_change_subset",
]

#: ``method="auto"`` solves the MILP only up to this many non-constant Möbius terms ...
AUTO_MILP_MAX_TERMS = 20_000
#: ... and only up to this many terms per player (``Σ_S |S| / n``, by mode); else beam search.
#: Measured in ``benchmarks/optimize_milp.py``: denser overlap makes the LP relaxation weak and
#: HiGHS slow (and its root cut loop can overrun ``time_limit`` by minutes).
AUTO_MILP_MAX_DENSITY = {"remove": 30.0, "keep": 20.0}


@dataclass(frozen=True, eq=False)
class SubsetResult:
    """The chosen players and what the surrogate (and optionally the game) says about them.

    Attributes:
        players: the chosen players ``R``, ascending.
        coalition: ``(n,)`` boolean coalition that was scored (``True`` = kept): all but ``R`` in
            remove mode, only ``R`` in keep mode.
        predicted_value: ``f̂(coalition)``, evaluated on the spectrum as given.
        reference_value: ``f̂`` of the reference coalition (all kept for ``"remove"``, none kept
            for ``"keep"``).
        actual_value: the game's value of ``coalition`` (one query) if a game was given, else
            ``None``.
        optimal: ``True`` only if the MILP proved optimality (within HiGHS's tolerances) for
            every solve involved; always ``False`` for the heuristics.
        method: ``"milp"``, ``"greedy"`` or ``"beam"``: what produced ``players`` (``"beam"``
            also when a MILP stopped by its time limit lost to the beam search it is checked
            against).
        status: a human-readable account of the solve (solver messages, time limits).
        bound: for the MILP, a proven bound on the optimised quantity (an upper bound on
            ``f̂`` for ``"max"``, a lower bound for ``"min"``, an upper bound on
            ``|f̂ − reference|`` for ``"max_change"``); ``None`` for the heuristics.
        mode: ``"remove"`` or ``"keep"``.
        objective: ``"max"``, ``"min"`` or ``"max_change"``.
    """

    players: tuple[int, ...]
    coalition: np.ndarray
    predicted_value: float
    reference_value: float
    actual_value: float | None
    optimal: bool
    method: str
    status: str
    bound: float | None
    mode: str
    objective: str

    @property
    def predicted_change(self) -> float:
        """``predicted_value − reference_value``."""
        return self.predicted_value - self.reference_value


class _Candidate(NamedTuple):
    """One direction's answer inside :func:`best_subset`."""

    players: np.ndarray  # (k,) int64 ascending
    value: float  # f̂ of the resulting coalition
    optimal: bool
    status: str
    bound: float | None
    method: str


def best_subset(
    spectrum: SparseSpectrum,
    r: int,
    *,
    mode: Mode = "remove",
    objective: Objective = "max",
    exact_size: bool = False,
    method: Method = "auto",
    beam_width: int = 8,
    time_limit: float | None = 60.0,
    game: Callable | None = None,
) -> SubsetResult:
    """Find the at most ``r`` players whose removal (or keeping) maximises or minimises ``f̂``.

    Args:
        spectrum: the surrogate ``f̂`` (Möbius, or Fourier: converted with ``to_moebius()``; a
            Fourier term of degree ``d`` becomes ``2**d`` Möbius terms).
        r: largest number of chosen players, in ``[0, n]``.
        mode: ``"remove"`` scores ``x`` = all players kept except ``R``; ``"keep"`` scores ``x`` =
            only ``R`` kept. Defaults to ``"remove"``.
        objective: ``"max"`` or ``"min"`` of ``f̂(x)``, or ``"max_change"``: the largest
            ``|f̂(x) − f̂(reference)|`` (reference: all kept for ``"remove"``, none kept for
            ``"keep"``), found by solving both ``"max"`` and ``"min"`` and taking the larger change.
            Defaults to ``"max"``.
        exact_size: choose exactly ``r`` players instead of at most ``r``. Defaults to ``False``.
        method: ``"milp"`` (exact, HiGHS), ``"greedy"``, ``"beam"`` or ``"auto"``: the MILP if
            the Möbius form has at most :data:`AUTO_MILP_MAX_TERMS` non-constant terms and at most
            ``AUTO_MILP_MAX_DENSITY[mode]`` terms per player (``Σ_S |S| / n``), beam search
            otherwise (``method``, ``optimal`` and ``status`` of the result say which ran).
            Defaults to ``"auto"``.
        beam_width: number of states kept per step by ``"beam"``, and by the beam search that a
            MILP stopped by ``time_limit`` is compared with. Defaults to ``8``.
        time_limit: wall-clock seconds for the MILP solve(s) of this call (``"max_change"`` splits
            it between its two solves); ``None`` = no limit. If a solve stops before proving
            optimality, its incumbent is compared with a beam search, the better of the two is
            returned with ``optimal=False``, ``status`` says which one and why, ``bound`` keeps
            the proven bound, and a ``RuntimeWarning`` is issued. HiGHS checks the limit between
            its work units; on dense instances its root cut loop has been seen to overrun it by
            minutes (see ``benchmarks/results/optimize_milp.md``). Defaults to ``60.0``.
        game: optional callable on ``(m, n)`` boolean coalitions (a shapiq ``Game``); if given,
            it is queried once, on the resulting coalition, to fill ``actual_value``.

    Returns:
        A :class:`SubsetResult`.

    Raises:
        InvalidParameterError: a parameter has the wrong type or value.
        InvalidGameError: ``game`` returned a wrong number of values or non-finite values.
    """
    spectrum = check_spectrum(spectrum)
    n = spectrum.n
    r = check_r(r, n)
    mode = check_choice(mode, "mode", MODES)
    objective = check_choice(objective, "objective", OBJECTIVES)
    method = check_choice(method, "method", METHODS)
    beam_width = check_beam_width(beam_width)
    time_limit = check_time_limit(time_limit)
    exact_size = check_bool(exact_size, "exact_size")
    if game is not None:
        game = check_game(game, n)

    prob = build_problem(spectrum)
    if method == "auto":
        density = float(prob.degrees.sum()) / n
        small = prob.n_terms <= AUTO_MILP_MAX_TERMS and density <= AUTO_MILP_MAX_DENSITY[mode]
        method = "milp" if small else "beam"
    width = 1 if method == "greedy" else beam_width
    reference = coalition_of(np.zeros(0, np.int64), n, mode)
    reference_value = float(spectrum.evaluate(reference)[0])
    senses = {"max": (1,), "min": (-1,), "max_change": (1, -1)}[objective]

    def value_of(players: np.ndarray) -> float:
        return float(spectrum.evaluate(coalition_of(players, n, mode))[0])

    candidates: list[_Candidate] = []
    start = time.perf_counter()
    for k, sense in enumerate(senses):
        label = "max" if sense > 0 else "min"
        if method != "milp":
            players = beam_search(prob, r, mode, sense, exact_size, width)
            status = "heuristic (greedy)" if width == 1 else f"heuristic (beam width {width})"
            candidates.append(_Candidate(players, value_of(players), False, status, None, method))
            continue
        left = None  # max_change: the solves share the limit, each gets an equal part of the rest
        if time_limit is not None:
            left = max((time_limit - (time.perf_counter() - start)) / (len(senses) - k), 1e-3)
        solve = milp_solve(prob, r, mode, sense, exact_size, left)
        cand = _Candidate(
            solve.players, value_of(solve.players), solve.optimal, solve.status, solve.bound, "milp"
        )
        if not solve.optimal:  # compare with beam search, say which one is returned, and warn
            beam = beam_search(prob, r, mode, sense, exact_size, beam_width)
            beam_value = value_of(beam)
            milp_text = f"MILP incumbent {cand.value:.6g}" if solve.feasible else "no MILP solution"
            if not solve.feasible or sense * beam_value > sense * cand.value:
                note = f"{milp_text}; returned beam search (width {beam_width}): {beam_value:.6g}"
                cand = _Candidate(beam, beam_value, False, solve.status, solve.bound, "beam")
            else:
                note = f"returned {milp_text}; beam search (width {beam_width}): {beam_value:.6g}"
            cand = cand._replace(status=f"{solve.status}; {note}")
            msg = (
                f"best_subset: the MILP ({label}) stopped before proving optimality: "
                f"{cand.status}. The result is not guaranteed optimal (proven bound: "
                f"{solve.bound}); raise 'time_limit' (None = no limit) for a proof."
            )
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        candidates.append(cand)
    labelled = [
        c._replace(status=f"{'max' if sense > 0 else 'min'}: {c.status}")
        for c, sense in zip(candidates, senses, strict=True)
    ]
    if objective == "max_change":
        changes = [abs(c.value - reference_value) for c in labelled]
        pick = int(np.argmax(changes))
        bound = None
        if all(c.bound is not None for c in labelled):
            up, down = labelled[0].bound, labelled[1].bound
            bound = max(up - reference_value, reference_value - down, 0.0)
        optimal = all(c.optimal for c in labelled)
        status = "; ".join(c.status for c in labelled) + f"; larger change: {('max', 'min')[pick]}"
        chosen = labelled[pick]
    else:
        chosen = labelled[0]
        optimal, status, bound = chosen.optimal, chosen.status, chosen.bound
    players, value, used = chosen.players, chosen.value, chosen.method

    coalition = coalition_of(players, n, mode)
    actual = None if game is None else float(query_game(game, coalition[None, :])[0])
    return SubsetResult(
        players=tuple(int(p) for p in players),
        coalition=coalition,
        predicted_value=value,
        reference_value=reference_value,
        actual_value=actual,
        optimal=bool(optimal),
        method=used,
        status=status,
        bound=bound,
        mode=mode,
        objective=objective,
    )


def least_change_subset(
    spectrum: SparseSpectrum,
    r: int,
    *,
    mode: Mode = "remove",
    beam_width: int = 32,
    game: Callable | None = None,
) -> SubsetResult:
    """Exactly ``r`` players whose removal (or keeping) changes the surrogate least.

    Minimises ``|f̂(x) − f̂(reference)|`` over sets ``R`` of exactly ``r`` players, with ``x`` =
    all but ``R`` (``mode="remove"``, reference: all kept) or only ``R`` (``"keep"``, reference:
    none kept). For data pruning in remove mode: drop ``r`` examples and keep the prediction.
    (At most ``r`` would be trivial: the empty set changes nothing.)

    Beam search on the Möbius form: each step scores all single-player additions of every beam
    state with one sparse product and keeps the ``beam_width`` distinct sets with the smallest
    ``|change|``. If no level ever had more distinct sets than ``beam_width`` the search was
    exhaustive and ``optimal`` is ``True``; otherwise it is a heuristic (``optimal=False``). The
    objective rewards cancellation of large terms, so the chosen set is only as good as the
    surrogate is accurate on it: check it on the game (``game=``).

    Args:
        spectrum: the surrogate ``f̂`` (Möbius, or Fourier: converted).
        r: number of players, in ``[0, n]``.
        mode: ``"remove"`` or ``"keep"``. Defaults to ``"remove"``.
        beam_width: sets kept per step (``>= 1``; 1 = greedy). Defaults to ``32``.
        game: optional callable; queried once on the resulting coalition for ``actual_value``.

    Returns:
        A :class:`SubsetResult` with ``objective="min_change"`` and
        ``method="beam"``.

    Raises:
        InvalidParameterError: a parameter has the wrong type or value.
        InvalidGameError: ``game`` returned a wrong number of values or non-finite values.
    """
    spectrum = check_spectrum(spectrum)
    n = spectrum.n
    r = check_r(r, n)
    mode = check_choice(mode, "mode", MODES)
    beam_width = check_beam_width(beam_width)
    if game is not None:
        game = check_game(game, n)
    prob = build_problem(spectrum)
    inc = prob.incidence  # (s, n)
    inc_t = inc.T.tocsr()
    a = prob.all_coefs
    deg = prob.degrees
    states = np.zeros((1, n), dtype=bool)
    change = np.zeros(1)  # f̂(x) − f̂(reference) per state
    counts = np.zeros((a.size, 1))  # |S ∩ R| per term and state
    exhaustive = True
    for level in range(r):
        if mode == "remove":  # removing j switches off the still-active terms containing j
            delta = -(inc_t @ (a[:, None] * (counts == 0))).T
        else:  # keeping j switches on the terms that miss only j
            delta = (inc_t @ (a[:, None] * (counts == deg[:, None] - 1))).T
        new = change[:, None] + np.asarray(delta).reshape(states.shape[0], n)
        score = np.abs(new)
        score[states] = np.inf
        flat = score.ravel()
        finite = int(np.isfinite(flat).sum())
        # A set of size level+1 is reached from at most level+1 parents, so this many best
        # candidates always hold beam_width distinct sets (when that many exist).
        pool = min(finite, beam_width * (level + 1))
        top = np.argpartition(flat, pool - 1)[:pool] if pool < flat.size else np.arange(flat.size)
        top = top[np.argsort(flat[top], kind="stable")]
        top = top[np.isfinite(flat[top])]
        cand = states[top // n]
        cand[np.arange(top.size), top % n] = True
        _, first = np.unique(np.packbits(cand, axis=1), axis=0, return_index=True)
        first = np.sort(first)
        # Nothing is pruned at this level iff every candidate was looked at and the distinct
        # sets fit the beam (more than width·(level+1) candidates imply more than width sets).
        exhaustive = exhaustive and pool == finite and first.size <= beam_width
        first = first[:beam_width]
        states, change = cand[first], new.ravel()[top[first]]
        counts = np.rint(inc @ states.T.astype(np.float64))
    players = np.flatnonzero(states[0])
    coalition = coalition_of(players, n, mode)
    reference = coalition_of(np.zeros(0, np.int64), n, mode)
    values = spectrum.evaluate(np.stack([coalition, reference]))
    actual = None if game is None else float(query_game(game, coalition[None, :])[0])
    status = (
        "exhaustive beam search (optimal)"
        if exhaustive
        else f"heuristic (beam width {beam_width}); raise beam_width for a better set"
    )
    return SubsetResult(
        players=tuple(int(p) for p in players),
        coalition=coalition,
        predicted_value=float(values[0]),
        reference_value=float(values[1]),
        actual_value=actual,
        optimal=exhaustive,
        method="beam",
        status=status,
        bound=None,
        mode=mode,
        objective="min_change",
    )
