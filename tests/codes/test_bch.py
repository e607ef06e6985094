"""BCH construction: parameters, generator polynomial, parity/delay matrices and encoders."""

from __future__ import annotations

import time

import numpy as np
import pytest

from shapiq_spex.codes.bch import BCHCode, code_parameters, parity_length
from shapiq_spex.codes.gf2m import GF2m
from shapiq_spex.exceptions import InvalidParameterError

# (n range, (n_c, k_c), p) for t = 5, from the reference implementation (spex-algorithms.md §1.3)
T5_TABLE = [
    ((1, 11), (31, 11), 20),
    ((12, 36), (63, 36), 27),
    ((37, 92), (127, 92), 35),
    ((93, 215), (255, 215), 40),
    ((216, 466), (511, 466), 45),
    ((467, 973), (1023, 973), 50),
    ((974, 1992), (2047, 1992), 55),
]


def gf2_mod(value: int, g: int) -> int:
    """Remainder of GF(2) polynomials stored as ints (bit j = coefficient of x^j)."""
    dg = g.bit_length() - 1
    while value.bit_length() - 1 >= dg:
        value ^= g << (value.bit_length() - 1 - dg)
    return value


def poly_int(coefs) -> int:
    return sum(1 << j for j, c in enumerate(np.asarray(coefs).tolist()) if c)


def bits_of(value: int, width: int) -> list[bool]:
    return [bool((value >> j) & 1) for j in range(width)]


@pytest.mark.parametrize(("n_range", "nk", "p"), T5_TABLE)
def test_parity_length_matches_reference_table_for_t5(n_range, nk, p):
    for n in (max(n_range[0], 2), (n_range[0] + n_range[1]) // 2, n_range[1]):
        _m, n_c, k_c, pp = code_parameters(n, 5)
        assert (n_c, k_c, pp) == (*nk, p)
        assert parity_length(n, 5) == p
    # the next n needs the next field
    assert parity_length(n_range[1] + 1, 5) > p


def test_single_player_fits_the_smallest_field():
    # BCH(15, d=11) has k_c = 1 (it is the repetition code), enough for n = 1
    assert code_parameters(1, 5) == (4, 15, 1, 14)


def test_parity_length_for_n128_and_several_t():
    assert [parity_length(128, t) for t in (2, 3, 4, 5, 6)] == [16, 24, 32, 40, 48]
    # n = 1000: k_c(1023, d=5) = 1003 >= 1000, so t = 2 fits in m = 10 (p = 20)
    assert [parity_length(1000, t) for t in (2, 3, 4, 5, 6)] == [20, 33, 44, 55, 66]


@pytest.mark.parametrize(("n", "t"), [(1, 1), (1, 5), (7, 2), (100, 3), (1000, 5), (4000, 8)])
def test_for_messages_picks_the_smallest_field(n, t):
    code = BCHCode.for_messages(n, t)
    assert code.k_c >= n
    assert code.n_c == 2**code.m - 1
    assert code.k_c == code.n_c - code.p
    assert 2**code.m - 1 >= 2 * t + 1
    if 2 ** (code.m - 1) - 1 >= 2 * t + 1:  # the smaller field is allowed but too small
        with pytest.raises(InvalidParameterError, match="message bits"):
            BCHCode(n, t, code.m - 1)


@pytest.mark.parametrize(("m", "t"), [(3, 1), (4, 2), (5, 3), (6, 5), (8, 4), (10, 6), (13, 8)])
def test_generator_degree_is_the_size_of_the_conjugate_set(m, t):
    n_c = 2**m - 1
    roots = {(j * 2**s) % n_c for j in range(1, 2 * t + 1) for s in range(m)}
    code = BCHCode(1, t, m)
    assert code.p == len(roots)
    assert set(code.root_exponents) == roots
    assert code.generator_poly.shape == (code.p + 1,)
    assert code.generator_poly[0]
    assert code.generator_poly[-1]


@pytest.mark.parametrize(("m", "t"), [(4, 2), (5, 3), (7, 3), (8, 5), (10, 5), (11, 5), (13, 8)])
def test_generator_divides_x_nc_plus_1_and_has_the_designed_roots(m, t):
    code = BCHCode(1, t, m)
    g = poly_int(code.generator_poly)
    assert gf2_mod((1 << code.n_c) | 1, g) == 0
    F = GF2m(m)
    # Horner at alpha^j for j = 1..2t (all must vanish) and at a few non-roots
    for j in [
        *range(1, 2 * t + 1),
        *(e for e in range(1, code.n_c) if e not in code.root_exponents),
    ]:
        x = int(F.alpha_pow(j))
        acc = 0
        for c in code.generator_poly[::-1]:
            acc = int(F.mul(acc, x)) ^ int(c)
        assert (acc == 0) == (j in code.root_exponents)
        if j > 4 * t + 2:
            break


# galois JIT-compiles each new field (seconds each): the galois tests share m in {5, 6, 8}.
@pytest.mark.slow
@pytest.mark.parametrize(("m", "t"), [(5, 1), (5, 2), (5, 3), (6, 3), (6, 5), (8, 4), (8, 5)])
def test_generator_and_dimension_match_galois(m, t):
    galois = pytest.importorskip("galois")
    n_c = 2**m - 1
    ref = galois.BCH(n_c, d=2 * t + 1)
    code = BCHCode(1, t, m)
    assert ref.k == code.k_c
    ref_coefs = np.asarray(ref.generator_poly.coeffs)[::-1].astype(bool)  # ascending degree
    assert np.array_equal(ref_coefs, code.generator_poly)


@pytest.mark.slow
@pytest.mark.parametrize(("n", "t"), [(11, 5), (20, 2), (30, 3), (200, 5)])
def test_delay_matrix_is_the_reference_one_up_to_ordering(n, t):
    # reference: systematic G = [I | P] of galois.BCH, last n rows, D = [0; P_last^T]; galois
    # lists coefficients by descending degree, so players and parity rows come reversed.
    galois = pytest.importorskip("galois")
    code = BCHCode.for_messages(n, t)
    ref = galois.BCH(code.n_c, d=2 * t + 1)
    p_last = np.asarray(ref.G)[-n:, ref.k :].astype(bool)
    assert np.array_equal(p_last.T, code.parity_matrix[::-1, ::-1])
    codewords = np.concatenate([code.encode_parity(np.eye(n, dtype=bool)), np.eye(n)], axis=1)
    full = np.zeros((n, code.n_c), dtype=int)
    full[:, : code.length] = codewords
    assert not np.any(ref.detect(galois.GF2(full[:, ::-1])))


@pytest.mark.parametrize(("n", "t"), [(1, 1), (10, 2), (57, 3), (500, 5), (2100, 6)])
def test_parity_matrix_encode_and_polynomial_division_agree(n, t):
    rng = np.random.default_rng(n * 10 + t)
    code = BCHCode.for_messages(n, t)
    p = code.p
    g = poly_int(code.generator_poly)
    P = code.parity_matrix
    assert P.shape == (p, n)
    assert P.dtype == bool
    for i in sorted({0, 1, n // 2, n - 1} & set(range(n))):  # columns: x^(p+i) mod g
        assert P[:, i].tolist() == bits_of(gf2_mod(1 << (p + i), g), p)
    msgs = rng.random((25, n)) < rng.random((25, 1))
    msgs[0] = False
    enc = code.encode_parity(msgs)
    for k, par in zip(msgs, enc, strict=True):
        mpoly = poly_int(k)
        expected = gf2_mod(mpoly << p, g)  # systematic: parity = x^p m(x) mod g(x)
        assert par.tolist() == bits_of(expected, p)
        assert gf2_mod((mpoly << p) ^ expected, g) == 0  # a codeword
    assert np.array_equal(enc, (msgs.astype(int) @ P.T.astype(int)) % 2 == 1)
    # the same through padded supports (padding at arbitrary places)
    width = int(msgs.sum(axis=1).max()) + 2
    sup = np.full((msgs.shape[0], width), -1)
    for r, k in enumerate(msgs):
        idx = np.nonzero(k)[0]
        slots = np.sort(rng.choice(width, idx.size, replace=False))
        sup[r, slots] = rng.permutation(idx)
    assert np.array_equal(code.parity_of_supports(sup), enc)
    assert np.array_equal(code.encode_parity(msgs.astype(np.int8)), enc)


def test_parity_of_supports_edge_cases():
    code = BCHCode.for_messages(40, 3)
    P = code.parity_matrix
    assert code.parity_of_supports(np.zeros((3, 0), dtype=int)).shape == (3, code.p)
    assert not code.parity_of_supports(np.full((2, 4), -1)).any()
    dup = code.parity_of_supports(np.array([[5, 5, 7]]))  # 5 cancels
    assert np.array_equal(dup[0], P[:, 7])
    assert code.parity_of_supports(np.zeros((0, 2), dtype=int)).shape == (0, code.p)


def test_delay_matrix_layout_and_read_only():
    code = BCHCode.for_messages(64, 4)
    D = code.delay_matrix
    assert D.shape == (code.p + 1, 64)
    assert not D[0].any()
    assert np.array_equal(D[1:], code.parity_matrix)
    with pytest.raises(ValueError, match="read-only"):
        D[0, 0] = True
    with pytest.raises(ValueError, match="read-only"):
        code.generator_poly[0] = False


def test_value_semantics():
    a, b = BCHCode.for_messages(200, 4), BCHCode.for_messages(200, 4)
    assert a == b
    assert hash(a) == hash(b)
    assert a != BCHCode.for_messages(201, 4)
    assert "n=200" in repr(a)
    assert "t=4" in repr(a)
    assert a.length == a.n + a.p
    assert a.field.m == a.m


def test_construction_is_fast_for_thousands_of_players():
    _ = BCHCode.for_messages(4000, 5).parity_matrix  # warm the GF tables
    start = time.perf_counter()
    code = BCHCode.for_messages(3999, 5)
    _ = code.delay_matrix
    assert time.perf_counter() - start < 0.5  # typically a few ms


@pytest.mark.parametrize(
    ("n", "t", "match"),
    [
        (0, 3, "'n'"),
        (-5, 3, "'n'"),
        (10, 0, "'t'"),
        (2.5, 3, "'n'"),
        (10, True, "'t'"),
        ([3], 2, "'n'"),
        (65520, 1, "Reduce 'n'"),
        (65420, 8, "Reduce 'n'"),
    ],
)
def test_bad_parameters_raise(n, t, match):
    with pytest.raises(InvalidParameterError, match=match):
        BCHCode.for_messages(n, t)
    with pytest.raises(InvalidParameterError, match=match):
        parity_length(n, t)


def test_bad_m_and_bad_arrays_raise():
    with pytest.raises(InvalidParameterError, match="'m'"):
        BCHCode(10, 3, 2)  # 2^2 - 1 < 2t + 1
    with pytest.raises(InvalidParameterError, match="'m'"):
        BCHCode(10, 3, 17)
    code = BCHCode.for_messages(30, 2)
    with pytest.raises(InvalidParameterError, match=r"\(batch, 30\)"):
        code.encode_parity(np.zeros((2, 29), dtype=bool))
    with pytest.raises(InvalidParameterError, match="0/1"):
        code.encode_parity(np.full((1, 30), 2))
    with pytest.raises(InvalidParameterError, match=r"\[0, 30\)"):
        code.parity_of_supports(np.array([[0, 30]]))
    with pytest.raises(InvalidParameterError, match="2-D"):
        code.parity_of_supports(np.array([1, 2]))
