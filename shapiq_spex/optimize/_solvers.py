"""The two optimisers behind :func:`~shapiq_spex.optimize.best_subset`: MILP and beam search.

Both read a :class:`Problem`: the non-constant Möbius terms of the surrogate, split into
singletons (linear in the choice) and higher-order terms (one MILP variable each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from shapiq_spex.exceptions import SpexError
from shapiq_spex.spectra import SparseSpectrum

# HiGHS stops at relative gap 0 (its absolute gap, 1e-6, still applies; the objective is scaled so
# that its largest weight is 1, so "optimal" means within 1e-6 · max |a_S|).
_MIP_REL_GAP = 0.0


@dataclass(frozen=True)
class Problem:
    """The non-constant Möbius terms of a spectrum, as the optimisers read them.

    Attributes:
        n: number of players.
        constant: the Möbius coefficient of the empty set.
        single_players: ``(s1,)`` int64, the player of each singleton term.
        single_coefs: ``(s1,)`` float64 singleton coefficients.
        supports: ``(s2, w)`` int64 padded supports of the terms with ``|S| >= 2``.
        coefs: ``(s2,)`` float64 their coefficients.
        incidence: ``(s, n)`` float64 CSR incidence of all non-constant terms (singletons first).
        degrees: ``(s,)`` int64 degrees of all non-constant terms (same order).
        all_coefs: ``(s,)`` float64 coefficients of all non-constant terms (same order).
    """

    n: int
    constant: float
    single_players: np.ndarray
    single_coefs: np.ndarray
    supports: np.ndarray
    coefs: np.ndarray
    incidence: sp.csr_array
    degrees: np.ndarray
    all_coefs: np.ndarray

    @property
    def n_terms(self) -> int:
        """Number of non-constant terms."""
        return int(self.all_coefs.shape[0])


def build_problem(spectrum: SparseSpectrum) -> Problem:
    """Split a spectrum's Möbius form into constant, singleton and higher-order nonzero terms."""
    moebius = spectrum.to_moebius()
    deg = moebius.degrees
    coefs = moebius.coefs
    constant = float(coefs[deg == 0].sum())
    keep = (deg > 0) & (coefs != 0.0)
    sup = np.pad(moebius.supports, ((0, 0), (0, 1)), constant_values=-1)[keep]  # width >= 1
    c, d = coefs[keep], deg[keep]
    order = np.argsort(d, kind="stable")  # singletons first (canonical order already, kept safe)
    sup, c, d = sup[order], c[order], d[order]
    single = d == 1
    rows, cols = np.nonzero(sup >= 0)
    incidence = sp.csr_array(
        (np.ones(rows.size), (rows, sup[rows, cols])), shape=(c.size, moebius.n)
    )
    return Problem(
        n=moebius.n,
        constant=constant,
        single_players=sup[single, 0].copy(),
        single_coefs=c[single],
        supports=sup[~single],
        coefs=c[~single],
        incidence=incidence,
        degrees=d,
        all_coefs=c,
    )


def coalition_of(players: np.ndarray, n: int, mode: str) -> np.ndarray:
    """``(n,)`` boolean coalition for chosen players: all but them (remove) or only them (keep)."""
    chosen = np.zeros(n, dtype=bool)
    chosen[players] = True
    return ~chosen if mode == "remove" else chosen


# ---------------------------------------------------------------------------------- MILP
class Solve(NamedTuple):
    """One MILP solve: the chosen players and what the solver says about them."""

    players: np.ndarray  # (k,) int64 ascending
    optimal: bool
    status: str
    bound: float | None  # bound on f̂ in the solve's direction (upper for max, lower for min)
    feasible: bool


def milp_solve(
    prob: Problem, r: int, mode: str, sense: int, exact_size: bool, time_limit: float | None
) -> Solve:
    """Solve ``max (sense=+1)`` or ``min (sense=-1)`` of ``f̂`` over sets of ``<= r`` (``= r``)."""
    n = prob.n
    s2 = prob.coefs.shape[0]
    n_var = n + s2
    # f̂(y, z) = const + c · (y, z) at the optimum of the linearised program.
    c = np.zeros(n_var)
    const = prob.constant
    if mode == "keep":
        c[prob.single_players] = prob.single_coefs
    else:  # a_i [i kept] = a_i (1 - y_i)
        c[prob.single_players] = -prob.single_coefs
        const += float(prob.single_coefs.sum())
    c[n:] = prob.coefs
    scale = float(np.abs(c).max()) if n_var and np.any(c) else 1.0

    wants_one = sense * prob.coefs > 0  # objective pushes z_S up: needs z_S <= each literal
    sup = prob.supports
    deg = (sup >= 0).sum(axis=1)
    blocks_rows, blocks_cols, blocks_vals, lbs, ubs = [], [], [], [], []
    n_rows = 0
    # upper bounds: one row per (term, player): keep z - y_i <= 0, remove z + y_i <= 1
    up = np.nonzero(wants_one)[0]
    if up.size:
        t_idx, pos = np.nonzero(sup[up] >= 0)
        k = t_idx.size
        rows = np.arange(k)
        blocks_rows += [rows, rows]
        blocks_cols += [n + up[t_idx], sup[up][t_idx, pos]]
        blocks_vals += [np.ones(k), np.full(k, -1.0 if mode == "keep" else 1.0)]
        lbs.append(np.full(k, -np.inf))
        ubs.append(np.zeros(k) if mode == "keep" else np.ones(k))
        n_rows += k
    # lower bounds: one row per term: keep z - Σ y >= 1 - |S|, remove z + Σ y >= 1
    down = np.nonzero(~wants_one)[0]
    if down.size:
        t_idx, pos = np.nonzero(sup[down] >= 0)
        m = down.size
        blocks_rows += [n_rows + np.arange(m), n_rows + t_idx]
        blocks_cols += [n + down, sup[down][t_idx, pos]]
        blocks_vals += [np.ones(m), np.full(t_idx.size, -1.0 if mode == "keep" else 1.0)]
        lbs.append(1.0 - deg[down] if mode == "keep" else np.ones(m))
        ubs.append(np.full(m, np.inf))
        n_rows += m
    # cardinality: Σ y <= r (or = r)
    blocks_rows.append(np.full(n, n_rows))
    blocks_cols.append(np.arange(n))
    blocks_vals.append(np.ones(n))
    lbs.append(np.array([float(r) if exact_size else -np.inf]))
    ubs.append(np.array([float(r)]))
    n_rows += 1
    A = sp.csr_array(
        (
            np.concatenate(blocks_vals),
            (np.concatenate(blocks_rows), np.concatenate(blocks_cols)),
        ),
        shape=(n_rows, n_var),
    )
    integrality = np.zeros(n_var, dtype=np.uint8)
    integrality[:n] = 1
    options = {"mip_rel_gap": _MIP_REL_GAP, "disp": False}
    if time_limit is not None:
        options["time_limit"] = time_limit
    res = milp(
        -sense * c / scale,  # milp minimises
        integrality=integrality,
        bounds=Bounds(np.zeros(n_var), np.ones(n_var)),
        constraints=LinearConstraint(A, np.concatenate(lbs), np.concatenate(ubs)),
        options=options,
    )
    bound = getattr(res, "mip_dual_bound", None)
    bound = None if bound is None or not np.isfinite(bound) else const - sense * bound * scale
    if res.status == 0:
        players = np.nonzero(res.x[:n] > 0.5)[0]
        return Solve(players, True, f"optimal ({res.message})", bound, True)
    if res.status == 1:
        if res.x is not None:
            players = np.nonzero(res.x[:n] > 0.5)[0]
            return Solve(players, False, f"time/iteration limit: {res.message}", bound, True)
        return Solve(np.zeros(0, np.int64), False, f"no solution: {res.message}", bound, False)
    msg = f"The MILP solver failed with status {res.status}: {res.message}"
    raise SpexError(msg)


# ---------------------------------------------------------------------------------- beam search
def beam_search(
    prob: Problem, r: int, mode: str, sense: int, exact_size: bool, width: int
) -> np.ndarray:
    """Best set of ``<= r`` (``= r``) players for ``sense * f̂`` found by beam search.

    Returns:
        ``(k,)`` int64 ascending players.
    """
    n = prob.n
    inc = prob.incidence  # (s, n)
    inc_t = inc.T.tocsr()  # (n, s)
    g = sense * prob.all_coefs  # (s,) maximise Σ g_S [S active]
    deg = prob.degrees
    states = np.zeros((1, n), dtype=bool)
    values = np.zeros(1)  # sense * (f̂(state) - f̂(empty choice))
    counts = np.zeros((g.size, 1))  # |S ∩ R| per term and state
    best_value, best_state = 0.0, states[0]  # the empty choice (feasible unless exact_size)
    for _ in range(r):
        if mode == "remove":  # removing j switches off the active terms that contain j
            weights = g[:, None] * (counts == 0)
            delta = -(inc_t @ weights).T
        else:  # keeping j switches on the terms that miss only j
            weights = g[:, None] * (counts == deg[:, None] - 1)
            delta = (inc_t @ weights).T
        scores = values[:, None] + delta  # (B, n)
        scores[states] = -np.inf
        flat = scores.ravel()
        k = min(width * states.shape[0], int(np.isfinite(flat).sum()))
        top = np.argpartition(-flat, k - 1)[:k] if k < flat.size else np.arange(flat.size)
        top = top[np.argsort(-flat[top], kind="stable")]
        cand = states[top // n]
        cand[np.arange(top.size), top % n] = True
        _, first = np.unique(np.packbits(cand, axis=1), axis=0, return_index=True)
        first = np.sort(first)[:width]  # first occurrence = best score of that set
        states, values = cand[first], flat[top[first]]
        counts = np.rint(inc @ states.T.astype(np.float64))
        if exact_size or values[0] > best_value:  # exact_size: only the last level counts
            best_value, best_state = values[0], states[0]
    return np.nonzero(best_state)[0]
