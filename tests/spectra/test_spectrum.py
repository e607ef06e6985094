from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra._subsets import canonicalize, pad_supports


def all_coalitions(n: int) -> np.ndarray:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool)


def brute_fourier(terms: dict, X: np.ndarray) -> np.ndarray:
    return np.array([sum(c * (-1) ** int(x[list(k)].sum()) for k, c in terms.items()) for x in X])


def brute_moebius(terms: dict, X: np.ndarray) -> np.ndarray:
    return np.array([sum(c for k, c in terms.items() if x[list(k)].all()) for x in X])


def brute_fourier_transform(values: np.ndarray, n: int) -> dict:
    """F[K] = 2^-n sum_x f(x) (-1)^{|K ∩ x|} over all 2^n coalitions."""
    X = all_coalitions(n)
    out = {}
    for r in range(n + 1):
        for K in itertools.combinations(range(n), r):
            out[K] = float(np.mean(values * (-1.0) ** X[:, list(K)].sum(axis=1)))
    return out


def brute_moebius_transform(values: np.ndarray, n: int) -> dict:
    """a(S) = sum_{T ⊆ S} (-1)^{|S|-|T|} f(T)."""
    X = all_coalitions(n)
    index = {tuple(np.flatnonzero(x)): i for i, x in enumerate(X)}
    out = {}
    for r in range(n + 1):
        for S in itertools.combinations(range(n), r):
            out[S] = sum(
                (-1) ** (len(S) - j) * values[index[T]]
                for j in range(len(S) + 1)
                for T in itertools.combinations(S, j)
            )
    return out


terms_strategy = st.dictionaries(
    keys=st.lists(st.integers(0, 5), min_size=0, max_size=4, unique=True).map(
        lambda xs: tuple(sorted(xs))
    ),
    values=st.floats(-3, 3, allow_nan=False, allow_infinity=False),
    min_size=0,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(terms=terms_strategy, basis=st.sampled_from(["fourier", "moebius"]))
def test_evaluate_matches_brute_force(terms, basis):
    n = 6
    spec = SparseSpectrum.from_dict(n, terms, basis)
    X = all_coalitions(n)
    expected = brute_fourier(terms, X) if basis == "fourier" else brute_moebius(terms, X)
    np.testing.assert_allclose(spec.evaluate(X), expected, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(terms=terms_strategy)
def test_fourier_to_moebius_matches_brute_force_transform(terms):
    n = 6
    spec = SparseSpectrum.from_dict(n, terms, "fourier")
    values = spec.evaluate(all_coalitions(n))
    expected = brute_moebius_transform(values, n)
    got = spec.to_moebius().to_dict()
    for key, val in expected.items():
        assert got.get(key, 0.0) == pytest.approx(val, abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(terms=terms_strategy)
def test_moebius_to_fourier_matches_brute_force_transform(terms):
    n = 6
    spec = SparseSpectrum.from_dict(n, terms, "moebius")
    values = spec.evaluate(all_coalitions(n))
    expected = brute_fourier_transform(values, n)
    got = spec.to_fourier().to_dict()
    for key, val in expected.items():
        assert got.get(key, 0.0) == pytest.approx(val, abs=1e-10)


@settings(max_examples=30, deadline=None)
@given(terms=terms_strategy, basis=st.sampled_from(["fourier", "moebius"]))
def test_round_trip(terms, basis):
    n = 6
    spec = SparseSpectrum.from_dict(n, terms, basis)
    other = "moebius" if basis == "fourier" else "fourier"
    got = spec.to_basis(other).to_basis(basis).to_dict()
    for k in set(got) | set(terms):
        assert got.get(k, 0.0) == pytest.approx(terms.get(k, 0.0), abs=1e-10)


def test_truncated_moebius_keeps_low_orders_exactly():
    spec = SparseSpectrum.from_dict(8, {(0, 1, 2, 3): 1.0, (1, 2): 0.5, (): 0.1}, "fourier")
    full = spec.to_moebius().to_dict()
    low = spec.to_moebius(max_order=2).to_dict()
    assert set(low) == {k for k in full if len(k) <= 2}
    for k, v in low.items():
        assert v == pytest.approx(full[k], abs=1e-14)


def test_large_n_evaluate_uses_support_only():
    rng = np.random.default_rng(0)
    n = 5000
    terms = {tuple(sorted(rng.choice(n, 3, replace=False).tolist())): 1.0 for _ in range(50)}
    spec = SparseSpectrum.from_dict(n, terms)
    X = rng.random((200, n)) < 0.5
    expected = np.array(
        [sum((-1) ** int(x[list(k)].sum()) for k in spec.to_dict()) for x in X], dtype=float
    )
    np.testing.assert_allclose(spec.evaluate(X), expected)


def test_from_masks_and_to_masks_round_trip():
    rng = np.random.default_rng(1)
    masks = rng.random((20, 12)) < 0.3
    masks = np.unique(masks, axis=0)
    coefs = rng.normal(size=masks.shape[0])
    spec = SparseSpectrum.from_masks(12, masks, coefs)
    X = rng.random((64, 12)) < 0.5
    direct = ((1 - 2 * ((X.astype(int) @ masks.T.astype(int)) % 2)) * coefs).sum(axis=1)
    np.testing.assert_allclose(spec.evaluate(X), direct)
    again = SparseSpectrum.from_masks(12, spec.to_masks(), spec.coefs)
    np.testing.assert_array_equal(again.supports, spec.supports)


def test_canonicalize_sums_duplicates():
    sup = pad_supports([(1, 2), (2, 1), (), (3,)])
    sup, coefs = canonicalize(sup, np.array([1.0, 2.0, 0.5, -1.0]))
    assert {tuple(r[r >= 0]): c for r, c in zip(sup, coefs, strict=True)} == {
        (1, 2): 3.0,
        (): 0.5,
        (3,): -1.0,
    }


def test_top_k_keeps_constant_and_largest():
    spec = SparseSpectrum.from_dict(5, {(): 0.01, (0,): 3.0, (1,): -2.0, (2,): 0.5})
    assert set(spec.top_k(2).to_dict()) == {(), (0,), (1,)}


@pytest.mark.parametrize(
    ("coalitions", "match"),
    [
        (np.zeros((3, 4), dtype=bool), "shape"),
        (np.full((2, 5), 2), "boolean"),
        (np.zeros((2, 2, 5), dtype=bool), "shape"),
    ],
)
def test_bad_coalitions(coalitions, match):
    spec = SparseSpectrum.from_dict(5, {(0,): 1.0})
    with pytest.raises(InvalidParameterError, match=match):
        spec.evaluate(coalitions)


def test_bad_construction():
    with pytest.raises(InvalidParameterError, match="outside"):
        SparseSpectrum.from_dict(3, {(5,): 1.0})
    with pytest.raises(InvalidParameterError, match="basis"):
        SparseSpectrum.from_dict(3, {(0,): 1.0}, "walsh")


def test_unsorted_rows_are_merged_and_repeats_rejected():
    from shapiq_spex.spectra.spectrum import SparseSpectrum as S

    spec = S(3, np.array([[2, 1], [1, 2], [-1, 0]]), np.array([1.0, 2.0, 0.5]))
    assert spec.to_dict() == {(1, 2): 3.0, (0,): 0.5}
    with pytest.raises(InvalidParameterError, match="twice"):
        S(3, np.array([[1, 1]]), np.array([1.0]))


@pytest.mark.parametrize("basis", ["fourier", "moebius"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_condition_equals_the_function_with_players_fixed(basis, seed):
    rng = np.random.default_rng(seed)
    n = 7
    terms = {(): 0.5}
    for _ in range(12):
        key = tuple(sorted(rng.choice(n, int(rng.integers(1, 4)), replace=False).tolist()))
        terms[key] = float(rng.normal())
    f = SparseSpectrum.from_dict(n, terms, basis)
    present, absent = [1, 4], [6]
    g = f.condition(present=present, absent=absent)
    free = [0, 2, 3, 5]
    assert g.n == len(free)
    assert g.basis == basis
    y = np.array(list(itertools.product([False, True], repeat=len(free))))
    x = np.zeros((y.shape[0], n), dtype=bool)
    x[:, free] = y
    x[:, present] = True
    np.testing.assert_allclose(g.evaluate(y), f.evaluate(x), atol=1e-12)
    assert len(g) <= len(f)


def test_condition_bad_input():
    f = SparseSpectrum.from_dict(3, {(0, 1): 1.0})
    with pytest.raises(InvalidParameterError, match="'present'"):
        f.condition(present=[3])
    with pytest.raises(InvalidParameterError, match="disjoint"):
        f.condition(present=[0], absent=[0])
    with pytest.raises(InvalidParameterError, match="at least one"):
        f.condition(present=[0, 1], absent=[2])
