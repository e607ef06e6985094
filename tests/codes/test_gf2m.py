"""GF(2^m) table arithmetic against carry-less polynomial arithmetic done by hand."""

from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.codes.gf2m import MAX_M, MIN_M, PRIMITIVE_POLYS, GF2m
from shapiq_spex.exceptions import InvalidParameterError

ALL_M = list(range(MIN_M, MAX_M + 1))


def clmul_mod(a: int, b: int, m: int) -> int:
    """Reference product: shift-and-add polynomial multiplication, then reduction mod f(x)."""
    poly = PRIMITIVE_POLYS[m]
    prod = 0
    for j in range(m):
        if (b >> j) & 1:
            prod ^= a << j
    for d in range(2 * m - 2, m - 1, -1):
        if (prod >> d) & 1:
            prod ^= poly << (d - m)
    return prod


@pytest.mark.parametrize("m", ALL_M)
def test_primitive_poly_has_order_of_x_equal_to_group_order(m):
    poly = PRIMITIVE_POLYS[m]
    assert poly.bit_length() == m + 1  # degree m, monic
    a, order = 2, 1  # x, x^1
    while a != 1:
        a <<= 1
        if a >> m:
            a ^= poly
        order += 1
    assert order == (1 << m) - 1


@pytest.mark.parametrize("m", ALL_M)
def test_exp_log_tables_are_inverse_permutations(m):
    F = GF2m(m)
    q1 = F.group_order
    powers = F.exp[:q1]
    assert np.array_equal(np.sort(powers), np.arange(1, q1 + 1))
    assert np.array_equal(F.exp[q1 : 2 * q1], powers)  # doubled period
    assert not F.exp[2 * q1 :].any()  # zero sink
    assert np.array_equal(F.log[powers], np.arange(q1))
    assert F.exp.flags.writeable is False


@pytest.mark.parametrize("m", [2, 3, 4, 5, 6])
def test_mul_matches_carryless_product_on_all_pairs(m):
    F = GF2m(m)
    a, b = np.meshgrid(np.arange(F.order), np.arange(F.order), indexing="ij")
    expected = np.array(
        [[clmul_mod(int(x), int(y), m) for y in range(F.order)] for x in range(F.order)]
    )
    assert np.array_equal(F.mul(a, b), expected)


@pytest.mark.parametrize("m", [7, 9, 11, 13, 16])
def test_mul_matches_carryless_product_on_random_pairs(m):
    rng = np.random.default_rng(m)
    F = GF2m(m)
    a = rng.integers(0, F.order, 300)
    b = rng.integers(0, F.order, 300)
    a[:3], b[3:6] = 0, 0
    expected = [clmul_mod(int(x), int(y), m) for x, y in zip(a, b, strict=True)]
    assert F.mul(a, b).tolist() == expected


@pytest.mark.parametrize("m", ALL_M)
def test_inverse_times_element_is_one(m):
    F = GF2m(m)
    a = np.arange(1, F.order)
    assert np.all(F.mul(a, F.inv(a)) == 1)
    assert np.array_equal(F.div(a, a), np.ones_like(a))
    # spot check against the reference product
    sample = a[:: max(1, a.size // 50)]
    assert all(clmul_mod(int(x), int(F.inv(x)), m) == 1 for x in sample)


@pytest.mark.parametrize("m", [3, 8, 12])
def test_div_and_zero_handling(m):
    rng = np.random.default_rng(1)
    F = GF2m(m)
    a = rng.integers(0, F.order, 200)
    b = rng.integers(1, F.order, 200)
    assert np.array_equal(F.mul(F.div(a, b), b), a)
    assert np.all(F.mul(0, a) == 0)
    assert np.all(F.mul(a, 0) == 0)
    assert np.all(F.div(0, b) == 0)
    assert np.array_equal(F.add(a, b), a ^ b)


@pytest.mark.parametrize("m", [2, 5, 10, 16])
def test_pow_matches_repeated_multiplication(m):
    rng = np.random.default_rng(m)
    F = GF2m(m)
    a = rng.integers(0, F.order, 40)
    a[0] = 0
    for e in range(0, 9):
        expected = np.ones_like(a)
        for _ in range(e):
            expected = np.array(
                [clmul_mod(int(x), int(y), m) for x, y in zip(expected, a, strict=True)]
            )
        assert np.array_equal(F.pow(a, e), expected), e
    nz = a[a != 0]
    assert np.array_equal(F.pow(nz, -1), F.inv(nz))
    assert np.array_equal(F.pow(nz, -3), F.inv(F.pow(nz, 3)))
    assert F.pow(0, 0) == 1
    # alpha^e, exponents of any sign
    e = np.arange(-5, 3 * F.group_order, 7)
    assert np.array_equal(F.alpha_pow(e), F.pow(2, e))


def test_bits_layout():
    F = GF2m(4)
    assert F.bits(0b1011).tolist() == [True, True, False, True]
    assert F.bits(np.array([[1, 8]])).shape == (1, 2, 4)


@pytest.mark.parametrize("bad", [1, 17, 0, -3, 4.0, "8", True, None])
def test_bad_m_raises(bad):
    with pytest.raises(InvalidParameterError, match="'m'"):
        GF2m(bad)


def test_inverse_of_zero_and_zero_to_negative_power_raise():
    F = GF2m(5)
    with pytest.raises(InvalidParameterError, match="nonzero"):
        F.inv(np.array([3, 0]))
    with pytest.raises(InvalidParameterError, match="nonzero"):
        F.div(3, 0)
    with pytest.raises(InvalidParameterError, match="'e'"):
        F.pow(np.array([0, 2]), -1)


def test_check_validates_elements():
    F = GF2m(4)
    assert F.check([0, 15]).dtype == np.int64
    with pytest.raises(InvalidParameterError, match=r"\[0, 16\)"):
        F.check([16])
    with pytest.raises(InvalidParameterError, match="integers"):
        F.check([0.5])


def test_value_semantics():
    assert GF2m(7) == GF2m(7)
    assert hash(GF2m(7)) == hash(GF2m(7))
    assert GF2m(7).primitive_poly == PRIMITIVE_POLYS[7]


@pytest.mark.slow
def test_matches_galois_field_if_available():
    galois = pytest.importorskip("galois")
    for m in (5, 8):  # fields shared with the other galois tests (each new one JIT-compiles)
        GF = galois.GF(2**m, irreducible_poly=PRIMITIVE_POLYS[m])
        F = GF2m(m)
        rng = np.random.default_rng(m)
        a = rng.integers(0, F.order, 100)
        b = rng.integers(1, F.order, 100)
        assert np.array_equal(F.mul(a, b), np.asarray(GF(a) * GF(b)))
        assert np.array_equal(F.inv(b), np.asarray(GF(b) ** -1))
