"""SPEX's structured query design: random hashes, BCH-coded delays, and the budget planner.

Group ``c`` hashes the ``2^n`` frequencies into ``2^b`` bins with a random matrix
``M_c ∈ {0,1}^{n×b}``; delay row ``d_r`` (row ``r`` of the BCH delay matrix ``D = [0; P]``) shifts
the queries. The query for ``(c, r, ℓ)`` is ``x = M_c ℓ ⊕ d_r`` for every ``ℓ ∈ {0,1}^b``, so the
design costs ``C (p + 1) 2^b`` queries, and a Walsh–Hadamard transform over ``ℓ`` turns group
``c``'s values into bins ``U_c[r, j] = Σ_{k : M_cᵀk = j} F[k] (-1)^{<d_r, k>}``.

Bit conventions: ``ℓ`` and ``j`` are integers whose bit ``q`` (least significant first) is
coordinate ``q`` of the vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shapiq_spex._random import random_bits
from shapiq_spex.codes import BCHCode, parity_length
from shapiq_spex.exceptions import BudgetTooSmallError

__all__ = ["DesignPlan", "QueryDesign", "plan_design", "plan_design_with_reserve"]

MIN_LOG2_BINS = 3
MAX_LOG2_BINS = 20
MIN_DEGREE_CAP = 2


@dataclass(frozen=True)
class DesignPlan:
    """Sizes chosen for a budget.

    Attributes:
        t: BCH correction capability used (a soft cap on the recoverable degree).
        p: number of parity bits, so each bin holds ``p + 1`` measurements.
        b: log2 of the number of bins per group.
        n_groups: number of hash groups ``C``.
        n_design: queries of the structured design, ``C (p + 1) 2^b``.
    """

    t: int
    p: int
    b: int
    n_groups: int

    @property
    def n_design(self) -> int:
        """Number of structured queries."""
        return self.n_groups * (self.p + 1) * (1 << self.b)


def plan_design(
    n: int, budget: int, degree_cap: int, n_groups: int, log2_bins: int | None = None
) -> DesignPlan:
    """Choose ``(t, b)`` for a budget: the largest ``b`` that fits, lowering ``t`` only if needed.

    The degree cap ``t`` is kept unless even ``b = 3`` does not fit; then it is lowered one step at
    a time (never below 2 or below the requested cap if that is smaller). A pure function: the
    approximator's configuration is never changed.

    Raises:
        BudgetTooSmallError: the smallest design does not fit; the message gives the minimum.
    """
    t_floor = min(degree_cap, MIN_DEGREE_CAP)
    for t in range(degree_cap, t_floor - 1, -1):
        p = parity_length(n, t)
        per_bin = n_groups * (p + 1)
        if log2_bins is not None:
            if per_bin * (1 << log2_bins) <= budget:
                return DesignPlan(t, p, log2_bins, n_groups)
            continue
        b = int(np.floor(np.log2(budget / per_bin))) if budget >= per_bin else -1
        if b >= MIN_LOG2_BINS:
            return DesignPlan(t, p, min(b, MAX_LOG2_BINS), n_groups)
    b_min = MIN_LOG2_BINS if log2_bins is None else log2_bins
    minimum = n_groups * (parity_length(n, t_floor) + 1) * (1 << b_min)
    msg = (
        f"The 'budget' parameter is too small for SPEX at n={n}: the smallest design "
        f"({n_groups} groups x {parity_length(n, t_floor) + 1} delays x {1 << b_min} bins, degree "
        f"cap {t_floor}) needs {minimum} game evaluations. Got {budget}. Raise the budget to "
        f">= {minimum}, lower 'n_groups', or use ProxySPEX, which works with small budgets."
    )
    raise BudgetTooSmallError(msg)


def plan_design_with_reserve(
    n: int,
    budget: int,
    degree_cap: int,
    n_groups: int,
    log2_bins: int | None = None,
    reserve: int = 0,
) -> DesignPlan:
    """:func:`plan_design`, but leaving at least ``reserve`` of the budget out of the design.

    The bins are kept and the degree cap lowered first (down to 2): the number of bins decides
    how many terms peeling can separate, while interactions of degree 4-5 are rare in real games.
    Only if no lower cap frees ``reserve`` is the design planned on ``budget - reserve`` (fewer
    bins). If even that does not fit, the plan for the whole budget is returned: the caller sees
    the small leftover and says so.

    Raises:
        BudgetTooSmallError: the smallest design does not fit ``budget``.
    """
    plan = plan_design(n, budget, degree_cap, n_groups, log2_bins)
    if reserve <= 0 or budget - plan.n_design >= reserve:
        return plan
    for t in range(plan.t - 1, MIN_DEGREE_CAP - 1, -1):
        lowered = DesignPlan(t, parity_length(n, t), plan.b, n_groups)
        if budget - lowered.n_design >= reserve:
            return lowered
    if log2_bins is not None:
        return plan
    try:
        return plan_design(n, budget - reserve, degree_cap, n_groups)
    except BudgetTooSmallError:
        return plan


def _bits(b: int) -> np.ndarray:
    """``(2^b, b)`` bool: row ``ℓ`` holds the bits of integer ``ℓ``, least significant first."""
    ell = np.arange(1 << b, dtype=np.int64)
    return ((ell[:, None] >> np.arange(b)) & 1).astype(bool)


@dataclass(frozen=True, eq=False)
class QueryDesign:
    """The hash matrices and delays of one SPEX run.

    Attributes:
        code: the BCH code whose parity rows are the delays.
        hashes: ``(C, n, b)`` bool, the matrices ``M_c``.
    """

    code: BCHCode
    hashes: np.ndarray

    @classmethod
    def random(cls, code: BCHCode, b: int, n_groups: int, rng: np.random.Generator):
        """Draw ``n_groups`` independent uniform hash matrices ``M_c ∈ {0,1}^{n×b}``."""
        return cls(code, random_bits(rng, n_groups * code.n, b).reshape(n_groups, code.n, b))

    @property
    def n_groups(self) -> int:
        """Number of hash groups ``C``."""
        return self.hashes.shape[0]

    @property
    def b(self) -> int:
        """log2 of the bins per group."""
        return self.hashes.shape[2]

    @property
    def n_delays(self) -> int:
        """Delays per group, ``p + 1``."""
        return self.code.p + 1

    @property
    def n_queries(self) -> int:
        """Total structured queries ``C (p + 1) 2^b``."""
        return self.n_groups * self.n_delays * (1 << self.b)

    def masks(self) -> np.ndarray:
        """All queries, shape ``(C * (p + 1) * 2^b, n)``, ordered by ``(c, r, ℓ)``."""
        ell = _bits(self.b).astype(np.uint8)  # (2^b, b)
        delays = self.code.delay_matrix  # (p + 1, n)
        # M_c ℓ mod 2 for all ℓ: (C, 2^b, n); integer matmul keeps it exact
        hashed = (np.einsum("lb,cnb->cln", ell, self.hashes.astype(np.uint8)) & 1).astype(bool)
        out = hashed[:, None, :, :] ^ delays[None, :, None, :]
        return out.reshape(-1, self.code.n)

    @property
    def row_ints(self) -> np.ndarray:
        """``(C, n)``: row ``i`` of ``M_c`` read as an integer (bit ``q`` = column ``q``)."""
        return self.hashes.astype(np.int64) @ (1 << np.arange(self.b, dtype=np.int64))

    def bin_index(self, supports: np.ndarray) -> np.ndarray:
        """Bin of each frequency in each group: ``(C, s)`` ints ``j = M_cᵀ k`` (bits LSB first)."""
        row_ints = self.row_ints
        valid = supports >= 0
        gathered = np.where(valid[None], row_ints[:, np.where(valid, supports, 0)], 0)
        return (
            np.bitwise_xor.reduce(gathered, axis=2)
            if supports.shape[1]
            else np.zeros((self.n_groups, supports.shape[0]), dtype=np.int64)
        )
