"""Test configuration: one thread per library, a headless matplotlib backend."""

from __future__ import annotations

import itertools
import os
import warnings
from math import comb

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _fsii_by_constrained_least_squares(game, n: int, order: int):
    """Faith-Shapley values by an exact equality-constrained weighted least-squares solve.

    shapiq's ``ExactComputer`` gives FSII through a large-weight penalty for the empty and the
    full coalition, which costs it about 1e-9 of accuracy with numpy 2.5 / scipy 1.18; the KKT
    system below holds those two rows exactly (about 1e-14 here), so tests can keep tight
    tolerances on FSII.
    """
    import numpy as np  # imported here: the thread variables above must be set first
    from shapiq import InteractionValues

    masks = np.array(list(itertools.product([False, True], repeat=n)), dtype=bool)
    values = np.asarray(game(masks), dtype=float)
    terms = [t for s in range(order + 1) for t in itertools.combinations(range(n), s)]
    design = np.stack([masks[:, list(t)].all(axis=1) for t in terms], axis=1).astype(float)
    sizes = masks.sum(axis=1)
    inner = (sizes > 0) & (sizes < n)
    weights = np.zeros(masks.shape[0])
    weights[inner] = [(n - 1) / (comb(n, s) * s * (n - s)) for s in sizes[inner]]
    gram = design[inner].T @ (weights[inner, None] * design[inner])
    rhs = design[inner].T @ (weights[inner] * values[inner])
    cons, cons_values = design[~inner], values[~inner]
    p, q = len(terms), cons.shape[0]
    kkt = np.block([[2 * gram, cons.T], [cons, np.zeros((q, q))]])
    sol = np.linalg.solve(kkt, np.concatenate([2 * rhs, cons_values]))[:p]
    return InteractionValues(
        {t: float(v) for t, v in zip(terms, sol, strict=True)},
        index="FSII",
        max_order=order,
        min_order=0,
        n_players=n,
        baseline_value=float(values[0]),
    )


@pytest.fixture(scope="session")
def exact_values():
    """``exact_values(game, n, index, order)``: brute-force index values as ``InteractionValues``.

    ``shapiq.ExactComputer`` for every index, except FSII, which is solved exactly (see
    :func:`_fsii_by_constrained_least_squares`).
    """

    def compute(game, n: int, index: str, order: int):
        if index == "FSII":
            return _fsii_by_constrained_least_squares(game, n, order)
        import shapiq

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return shapiq.ExactComputer(game, n)(index, order)

    return compute
