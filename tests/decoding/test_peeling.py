from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.codes import BCHCode
from shapiq_spex.decoding import bin_measurements, fwht, peel
from shapiq_spex.sampling.design import QueryDesign, plan_design
from shapiq_spex.spectra import SparseSpectrum


def test_fwht_matches_dense_hadamard():
    rng = np.random.default_rng(0)
    b = 5
    a = rng.normal(size=(3, 1 << b))
    ell = np.arange(1 << b)
    H = (-1.0) ** np.array([[bin(i & j).count("1") for j in ell] for i in ell])
    np.testing.assert_allclose(fwht(a), a @ H.T)


def test_bins_hold_the_aliased_spectrum():
    """U[c, r, j] = sum over k hashed to j of F[k] (-1)^<d_r, k> (checked term by term)."""
    rng = np.random.default_rng(1)
    n, t, b = 20, 3, 4
    spec = SparseSpectrum.from_dict(n, {(): 0.3, (1,): 1.0, (2, 5): -0.7, (3, 9, 11): 0.4})
    code = BCHCode.for_messages(n, t)
    design = QueryDesign.random(code, b, 2, rng)
    U = bin_measurements(spec.evaluate(design.masks()), 2, design.n_delays, b)
    expected = np.zeros_like(U)
    hit = design.bin_index(spec.supports)
    D = code.delay_matrix.astype(int)
    for i, row in enumerate(spec.supports):
        k = np.zeros(n, dtype=int)
        k[row[row >= 0]] = 1
        sig = (-1.0) ** ((D @ k) % 2)
        for c in range(2):
            expected[c, :, hit[c, i]] += spec.coefs[i] * sig
    np.testing.assert_allclose(U, expected, atol=1e-12)


def test_masks_follow_the_design_formula():
    rng = np.random.default_rng(2)
    code = BCHCode.for_messages(12, 2)
    design = QueryDesign.random(code, 3, 2, rng)
    masks = design.masks().reshape(2, design.n_delays, 8, 12)
    for c in range(2):
        for r in range(design.n_delays):
            for ell in range(8):
                bits = np.array([(ell >> q) & 1 for q in range(3)])
                x = (design.hashes[c].astype(int) @ bits + code.delay_matrix[r]) % 2
                np.testing.assert_array_equal(masks[c, r, ell], x.astype(bool))


@pytest.mark.parametrize("soft", [True, False])
def test_peeling_recovers_sparse_spectrum_exactly(soft):
    rng = np.random.default_rng(3)
    n, b = 200, 6
    terms = {(): 0.5}
    while len(terms) < 40:
        deg = int(rng.integers(1, 4))
        terms[tuple(sorted(rng.choice(n, deg, replace=False).tolist()))] = float(
            rng.choice([-1, 1]) * rng.uniform(0.5, 1)
        )
    spec = SparseSpectrum.from_dict(n, terms)
    code = BCHCode.for_messages(n, 4)
    design = QueryDesign.random(code, b, 3, rng)
    U = bin_measurements(spec.evaluate(design.masks()), 3, design.n_delays, b)
    res = peel(U, design, soft=soft)
    got = SparseSpectrum(n, res.supports, res.coefs).to_dict()
    assert set(got) == set(terms)
    for k, v in terms.items():
        assert got[k] == pytest.approx(v, abs=1e-10)
    assert res.residual_energy.max() < 1e-20


def test_undecodable_bins_are_never_read_as_the_constant():
    """Terms far above the degree cap cannot decode; failures must not become F[()]."""
    rng = np.random.default_rng(4)
    n = 60
    terms = {tuple(sorted(rng.choice(n, 12, replace=False).tolist())): 1.0 for _ in range(30)}
    spec = SparseSpectrum.from_dict(n, terms)  # no constant term at all
    code = BCHCode.for_messages(n, 2)
    design = QueryDesign.random(code, 4, 3, rng)
    U = bin_measurements(spec.evaluate(design.masks()), 3, design.n_delays, 4)
    res = peel(U, design, soft=True)
    found = SparseSpectrum(n, res.supports, res.coefs).to_dict() if len(res.coefs) else {}
    assert () not in found
    assert all(len(k) <= 2 for k in found)


def test_noise_level_is_estimated():
    rng = np.random.default_rng(5)
    n, b, sigma = 100, 7, 0.2
    terms = {tuple(sorted(rng.choice(n, 2, replace=False).tolist())): 1.0 for _ in range(30)}
    spec = SparseSpectrum.from_dict(n, terms)
    code = BCHCode.for_messages(n, 4)
    design = QueryDesign.random(code, b, 3, rng)
    masks = design.masks()
    values = spec.evaluate(masks) + sigma * rng.standard_normal(masks.shape[0])
    res = peel(bin_measurements(values, 3, design.n_delays, b), design)
    # one bin measurement averages 2^b noisy queries: variance sigma^2 / 2^b
    assert res.noise_var == pytest.approx(sigma**2 / 2**b, rel=0.3)
    got = SparseSpectrum(n, res.supports, res.coefs).to_dict()
    assert set(terms) <= set(got)


def test_plan_uses_largest_fitting_design_and_explains_minimum():
    from shapiq_spex.codes import parity_length
    from shapiq_spex.exceptions import BudgetTooSmallError

    plan = plan_design(128, 20_000, 5, 3)
    p = parity_length(128, 5)
    assert plan.n_design == 3 * (p + 1) * 2**plan.b
    assert plan.n_design <= 20_000 < 3 * (p + 1) * 2 ** (plan.b + 1)
    small = plan_design(128, 3 * (parity_length(128, 3) + 1) * 8, 5, 3)
    assert small.t < 5
    assert small.b == 3
    with pytest.raises(BudgetTooSmallError, match="needs"):
        plan_design(128, 100, 5, 3)


@pytest.mark.parametrize(
    ("n", "budget", "reserve"),
    [(166, 1000, 200), (21, 500, 100), (96, 2000, 200), (10, 1000, 200), (128, 20_000, 200)],
)
def test_plan_with_reserve_keeps_bins_and_lowers_the_degree_cap_first(n, budget, reserve):
    from shapiq_spex.codes import parity_length
    from shapiq_spex.sampling.design import MIN_DEGREE_CAP, plan_design_with_reserve

    full = plan_design(n, budget, 5, 3)
    plan = plan_design_with_reserve(n, budget, 5, 3, None, reserve)
    if budget - full.n_design >= reserve:
        assert plan == full
        return
    # brute force over the caps at the full plan's bins: the largest that leaves the reserve
    fitting = [
        t
        for t in range(MIN_DEGREE_CAP, full.t)
        if budget - 3 * (parity_length(n, t) + 1) * 2**full.b >= reserve
    ]
    if fitting:
        assert (plan.b, plan.t) == (full.b, max(fitting))
    else:
        assert plan == plan_design(n, budget - reserve, 5, 3)
    assert budget - plan.n_design >= reserve


def test_plan_with_reserve_returns_the_full_plan_when_nothing_frees_the_reserve():
    from shapiq_spex.codes import parity_length
    from shapiq_spex.sampling.design import plan_design_with_reserve

    smallest = 3 * (parity_length(128, 2) + 1) * 8
    plan = plan_design_with_reserve(128, smallest + 10, 2, 3, None, 100)
    assert plan == plan_design(128, smallest + 10, 2, 3)
    assert plan.n_design == smallest
    # a forced number of bins is never changed: only the cap may go down
    forced = plan_design_with_reserve(128, 3000, 5, 3, 4, 2000)
    assert forced.b == 4
    assert forced.t == 2
