"""Tests of the synthetic sparse games: brute force over all coalitions at small n."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from shapiq import ExactComputer, InteractionValues
from shapiq_benchmark import Benchmark, MoebiusComputer, default_computer

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games import SparseFourierGame, SparseMoebiusGame, SpectrumGame, coalition_noise
from shapiq_spex.games.synthetic import _distinct_subsets
from shapiq_spex.spectra import SparseSpectrum


# ------------------------------------------------------------------ independent brute force
def all_coalitions(n: int) -> np.ndarray:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool)


def brute_fourier_values(terms: dict, X: np.ndarray) -> np.ndarray:
    """sum_K F[K] (-1)^|K ∩ x| with plain Python loops."""
    out = []
    for x in X:
        present = set(np.flatnonzero(x).tolist())
        out.append(sum(c * (-1) ** len(present & set(K)) for K, c in terms.items()))
    return np.array(out)


def brute_moebius_values(terms: dict, X: np.ndarray) -> np.ndarray:
    """sum_S a[S] [S ⊆ x] with plain Python loops."""
    out = []
    for x in X:
        present = set(np.flatnonzero(x).tolist())
        out.append(sum(c for S, c in terms.items() if set(S) <= present))
    return np.array(out)


def brute_moebius_transform(values: np.ndarray, X: np.ndarray) -> dict:
    """a(S) = sum_{T ⊆ S} (-1)^{|S| - |T|} f(T) for every S."""
    lookup = {tuple(np.flatnonzero(x).tolist()): v for x, v in zip(X, values, strict=True)}
    out = {}
    for S in lookup:
        out[S] = sum(
            (-1) ** (len(S) - r) * lookup[T]
            for r in range(len(S) + 1)
            for T in itertools.combinations(S, r)
        )
    return out


def brute_fourier_transform(values: np.ndarray, X: np.ndarray) -> dict:
    """F[K] = mean_x f(x) (-1)^|K ∩ x| for every K."""
    signs_of = {}
    for x in X:
        K = tuple(np.flatnonzero(x).tolist())
        signs_of[K] = np.array([(-1) ** int(np.sum(row[list(K)])) for row in X])
    return {K: float(np.mean(values * s)) for K, s in signs_of.items()}


def dense(terms: dict, keys) -> np.ndarray:
    return np.array([terms.get(k, 0.0) for k in keys])


GAMES = [
    ("fourier", lambda: SparseFourierGame(8, 12, 4, constant=0.3, random_state=1)),
    (
        "fourier-normal",
        lambda: SparseFourierGame(7, 10, 7, coef_distribution="normal", random_state=2),
    ),
    ("fourier-deg0", lambda: SparseFourierGame(6, 5, 2, min_degree=0, random_state=3)),
    ("moebius", lambda: SparseMoebiusGame(8, 10, 4, constant=-0.2, random_state=4)),
    ("moebius-hier", lambda: SparseMoebiusGame(9, 4, 5, hierarchical=True, random_state=5)),
]


@pytest.mark.parametrize(("name", "make"), GAMES)
def test_values_match_both_spectra_by_brute_force(name, make):
    game = make()
    n = game.n_players
    X = all_coalitions(n)
    values = game(X)
    f_terms = game.fourier_spectrum.to_dict()
    m_terms = game.moebius_spectrum.to_dict()
    np.testing.assert_allclose(values, brute_fourier_values(f_terms, X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(values, brute_moebius_values(m_terms, X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(values, game.noiseless_values(X))
    # the spectra are the transforms of the value table (missing terms are zero)
    a = brute_moebius_transform(values, X)
    F = brute_fourier_transform(values, X)
    keys = list(a)
    np.testing.assert_allclose(dense(m_terms, keys), dense(a, keys), atol=1e-12)
    np.testing.assert_allclose(dense(f_terms, keys), dense(F, keys), atol=1e-12)
    assert set(m_terms) <= set(keys)
    assert set(f_terms) <= set(keys)


def test_native_spectrum_and_basis_labels():
    fg = SparseFourierGame(10, 5, 3, random_state=0)
    mg = SparseMoebiusGame(10, 5, 3, random_state=0)
    assert fg.spectrum.basis == "fourier"
    assert fg.fourier_spectrum is fg.spectrum
    assert mg.spectrum.basis == "moebius"
    assert mg.moebius_spectrum is mg.spectrum
    assert fg.moebius_spectrum.basis == "moebius"
    assert mg.fourier_spectrum.basis == "fourier"
    assert fg.normalization_value == 0.0
    assert mg.empty_coalition_value == pytest.approx(mg.spectrum[()], abs=0)


@pytest.mark.parametrize(("name", "make"), GAMES)
def test_moebius_coefficients_match_exact_computer(name, make):
    game = make()
    n = game.n_players
    iv = game.moebius_coefficients
    assert isinstance(iv, InteractionValues)
    assert iv.index == "Moebius"
    assert iv.min_order == 0
    assert iv.max_order == game.moebius_spectrum.max_degree
    assert iv.n_players == n
    assert () in iv.dict_values
    assert iv.baseline_value == pytest.approx(float(game(np.zeros(n, dtype=bool))[0]), abs=1e-12)
    exact = ExactComputer(game, n_players=n)("Moebius", n)
    keys = set(exact.dict_values) | set(iv.dict_values)
    for key in keys:
        assert iv[key] == pytest.approx(exact[key], abs=1e-10), key


def test_benchmark_moebius_computer_small_n_matches_exact_computer():
    game = SparseMoebiusGame(8, 6, 4, hierarchical=True, random_state=11)
    computer = default_computer(game)
    assert isinstance(computer, MoebiusComputer)
    for index, order in [("k-SII", 2), ("k-SII", 3), ("SII", 2), ("STII", 2), ("FSII", 2)]:
        ours = computer.exact_values(index, order)
        exact = ExactComputer(game, n_players=8)(index, order)
        keys = {k for k in set(ours.dict_values) | set(exact.dict_values) if len(k) >= 1}
        assert keys
        tol = 1e-8 if index == "FSII" else 1e-10  # ExactComputer solves a least-squares problem
        for key in keys:
            assert ours[key] == pytest.approx(exact[key], abs=tol), (index, key)


def test_benchmark_exact_indices_at_n200_match_independent_formulas():
    n = 200
    game = SparseFourierGame(n, 15, 4, constant=0.5, random_state=7)
    bench = Benchmark(game)
    assert isinstance(bench.computer, MoebiusComputer)
    a = game.moebius_spectrum.to_dict()
    # Shapley values: SV_i = sum_{T ∋ i} a(T) / |T|
    sv = bench.exact_values("SV", 1)
    sv_ref = np.zeros(n)
    for T, c in a.items():
        for i in T:
            sv_ref[i] += c / len(T)
    np.testing.assert_allclose([sv[(i,)] for i in range(n)], sv_ref, atol=1e-12)
    # SII: SII(S) = sum_{T ⊇ S} a(T) / (|T| - |S| + 1)
    sii = bench.exact_values("SII", 2)
    sii_ref: dict = {}
    for T, c in a.items():
        for r in (1, 2):
            for S in itertools.combinations(T, r):
                sii_ref[S] = sii_ref.get(S, 0.0) + c / (len(T) - r + 1)
    for S in set(sii_ref) | set(sii.dict_values):
        assert sii[S] == pytest.approx(sii_ref.get(S, 0.0), abs=1e-12), S
    # k-SII of order 3 is efficient: baseline + sum of all values = v(N)
    ksii = bench.exact_values("k-SII", 3)
    total = ksii.baseline_value + sum(v for k, v in ksii.dict_values.items() if len(k) >= 1)
    assert total == pytest.approx(float(game(np.ones(n, dtype=bool))[0]), abs=1e-10)
    assert ksii.baseline_value == pytest.approx(a[()], abs=1e-12)


# ------------------------------------------------------------------ noise
def test_noise_is_deterministic_per_coalition():
    game = SparseMoebiusGame(30, 10, 3, noise_std=0.5, random_state=3)
    X = np.random.default_rng(0).random((400, 30)) < 0.5
    first = game(X)
    perm = np.random.default_rng(1).permutation(400)
    np.testing.assert_array_equal(game(X[perm]), first[perm])  # order and batch independent
    np.testing.assert_array_equal(game(np.concatenate([X, X]))[400:], first)
    np.testing.assert_array_equal(
        np.concatenate([game(X[i : i + 1]) for i in range(10)]), first[:10]
    )
    np.testing.assert_allclose(first - game.noiseless_values(X), game.noise(X), atol=1e-12)
    assert np.all(game.noise(X) != 0.0)
    # same seed -> same game and noise; different seed -> different noise
    twin = SparseMoebiusGame(30, 10, 3, noise_std=0.5, random_state=3)
    np.testing.assert_array_equal(twin(X), first)
    other = SpectrumGame(game.spectrum, noise_std=0.5, random_state=4)
    assert np.corrcoef(other.noise(X), game.noise(X))[0, 1] < 0.3
    assert np.all(other.noise(X) != game.noise(X))


def test_noise_statistics():
    game = SparseFourierGame(50, 5, 2, noise_std=0.3, random_state=0)
    X = np.random.default_rng(5).random((20000, 50)) < 0.5
    eps = game(X) - game.noiseless_values(X)
    assert abs(eps.std() - 0.3) < 0.3 * 0.03
    assert abs(eps.mean()) < 5 * 0.3 / math.sqrt(20000)
    # neighbouring coalitions (one player flipped) get uncorrelated noise
    Y = X.copy()
    Y[:, 17] ^= True
    assert abs(np.corrcoef(eps, game(Y) - game.noiseless_values(Y))[0, 1]) < 0.05
    z = coalition_noise(X, 123)
    assert abs(np.mean(z**4) - 3.0) < 0.2  # Gaussian kurtosis
    assert abs(np.mean(np.abs(z) < 1.0) - 0.6827) < 0.01


def test_noise_std_zero_is_exact_and_noise_std_scales():
    base = SparseFourierGame(20, 6, 3, random_state=9)
    noisy = SparseFourierGame(20, 6, 3, noise_std=2.0, random_state=9)
    X = np.random.default_rng(2).random((50, 20)) < 0.5
    np.testing.assert_array_equal(base(X), base.noiseless_values(X))
    np.testing.assert_array_equal(base.noise(X), 0.0)
    np.testing.assert_array_equal(noisy.noiseless_values(X), base(X))
    half = SparseFourierGame(20, 6, 3, noise_std=1.0, random_state=9)
    np.testing.assert_allclose(noisy.noise(X), 2.0 * half.noise(X), rtol=1e-15)


# ------------------------------------------------------------------ sampling
def test_reproducible_from_random_state():
    a = SparseFourierGame(100, 40, 5, random_state=42)
    b = SparseFourierGame(100, 40, 5, random_state=42)
    c = SparseFourierGame(100, 40, 5, random_state=43)
    assert a.spectrum.to_dict() == b.spectrum.to_dict()
    assert a.spectrum.to_dict() != c.spectrum.to_dict()
    gen = np.random.default_rng(0)
    d = SparseMoebiusGame(100, 40, 5, hierarchical=True, random_state=gen)
    e = SparseMoebiusGame(100, 40, 5, hierarchical=True, random_state=np.random.default_rng(0))
    assert d.spectrum.to_dict() == e.spectrum.to_dict()


def test_large_n_distinct_supports_and_degrees():
    game = SparseFourierGame(2000, 3000, 6, min_degree=2, random_state=0)
    spec = game.spectrum
    assert len(spec) == 3001  # distinct supports plus the constant
    deg = spec.degrees
    assert deg.min() == 0
    assert np.sum(deg == 0) == 1
    counts = np.bincount(deg[deg > 0], minlength=7)[2:]
    assert counts.sum() == 3000
    assert np.all(np.abs(counts - 600) < 5 * math.sqrt(600))  # uniform over 2..6
    assert np.all(np.abs(spec.coefs[deg > 0]) >= 0.5)
    assert np.all(np.abs(spec.coefs[deg > 0]) <= 1.0)
    assert spec.supports.max() < 2000
    # players spread over the whole range
    assert len(np.unique(spec.supports[spec.supports >= 0])) > 1500


def test_near_capacity_and_full_capacity():
    full = SparseFourierGame(10, 55, 2, random_state=0)  # every support of degree 1 and 2
    deg = full.spectrum.degrees
    assert len(full.spectrum) == 56
    assert np.sum(deg == 1) == 10
    assert np.sum(deg == 2) == 45
    small = SparseMoebiusGame(5, 31, 5, min_degree=1, random_state=1)  # all nonempty subsets
    assert len(small.spectrum) == 32
    deg0 = SparseFourierGame(4, 1, 0, min_degree=0, constant=0.25, random_state=0)
    assert deg0.spectrum.to_dict().keys() == {()}
    assert abs(deg0.spectrum[()] - 0.25) >= 0.5 - 1e-12  # sampled empty term adds to constant


@pytest.mark.parametrize(("n", "d", "count"), [(6, 2, 3), (6, 2, 10), (5, 3, 9)])
def test_distinct_subsets_uniform(n, d, count):
    rng = np.random.default_rng(0)
    total = math.comb(n, d)
    index = {c: i for i, c in enumerate(itertools.combinations(range(n), d))}
    hits = np.zeros(total)
    reps = 3000
    for _ in range(reps):
        rows = _distinct_subsets(rng, n, d, count)
        assert rows.shape == (count, d)
        assert np.all(np.diff(rows, axis=1) > 0)
        keys = [index[tuple(r)] for r in rows.tolist()]
        assert len(set(keys)) == count
        hits[keys] += 1
    p = count / total
    expected = reps * p
    sd = math.sqrt(reps * p * (1 - p))
    assert np.all(np.abs(hits - expected) < 5 * sd + 1e-9)


def test_hierarchical_contains_every_subset_of_top_terms():
    game = SparseMoebiusGame(40, 8, 5, min_degree=3, hierarchical=True, decay=0.5, random_state=2)
    terms = game.spectrum.to_dict()
    top = [tuple(int(p) for p in row[row >= 0]) for row in game.top_supports]
    assert len(top) == 8
    for T in top:
        for r in range(1, len(T) + 1):
            for S in itertools.combinations(T, r):
                assert S in terms
                assert terms[S] != 0.0
    # nothing else besides subsets of top terms and the constant
    allowed = {S for T in top for r in range(len(T) + 1) for S in itertools.combinations(T, r)}
    assert set(terms) <= allowed
    # a subset of a single top term has a smaller coefficient than the top term
    owners = {}
    for T in top:
        for r in range(1, len(T)):
            for S in itertools.combinations(T, r):
                owners.setdefault(S, []).append(T)
    for S, Ts in owners.items():
        if len(Ts) == 1 and S not in top:
            bound = abs(terms[Ts[0]]) * 0.5 ** (len(Ts[0]) - len(S))
            assert abs(terms[S]) <= bound + 1e-12


def test_non_hierarchical_support_is_top_terms():
    game = SparseMoebiusGame(30, 12, 4, random_state=3)
    top = {tuple(int(p) for p in row[row >= 0]) for row in game.top_supports}
    assert set(game.spectrum.to_dict()) == top | {()}


def test_empty_game():
    game = SparseFourierGame(3, 0, 2, constant=1.5, random_state=0)
    np.testing.assert_array_equal(game(all_coalitions(3)), 1.5)
    iv = game.moebius_coefficients
    assert iv.dict_values == {(): 1.5}


# ------------------------------------------------------------------ from_coefficients
def test_from_coefficients_both_bases():
    coefs = {(): 0.5, (0,): 1.0, (2, 1): -2.0, (0, 1, 3): 0.25}
    X = all_coalitions(5)
    fg = SparseFourierGame.from_coefficients(5, coefs)
    mg = SparseMoebiusGame.from_coefficients(5, coefs, noise_std=0.0, random_state=0)
    canon = {tuple(sorted(k)): v for k, v in coefs.items()}
    np.testing.assert_allclose(fg(X), brute_fourier_values(canon, X), atol=1e-12)
    np.testing.assert_allclose(mg(X), brute_moebius_values(canon, X), atol=1e-12)
    assert mg.n_terms == 3
    assert mg.max_degree == 3
    assert {tuple(int(p) for p in r[r >= 0]) for r in mg.top_supports} == {(0,), (1, 2), (0, 1, 3)}
    assert fg.n_terms == 3
    assert fg.min_degree == 1
    noisy = SparseMoebiusGame.from_coefficients(5, coefs, noise_std=0.1, random_state=0)
    assert np.all(noisy(X) != mg(X))
    np.testing.assert_array_equal(noisy(X), noisy(X))
    spec_game = SpectrumGame(SparseSpectrum.from_dict(5, coefs, "moebius"))
    np.testing.assert_array_equal(spec_game(X), mg(X))


@pytest.mark.parametrize(
    "coefs",
    [
        {(5,): 1.0},
        {(-1,): 1.0},
        {(0, 0): 1.0},
        {(0, 1): 1.0, (1, 0): 2.0},
        {(0,): float("nan")},
        {(0,): float("inf")},
        {(0,): "1.0"},
        {(0.5,): 1.0},
        {(True,): 1.0},
        [((0,), 1.0)],
    ],
)
def test_from_coefficients_rejects_bad_input(coefs):
    with pytest.raises(InvalidParameterError):
        SparseMoebiusGame.from_coefficients(5, coefs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0, "n_terms": 1, "max_degree": 1},
        {"n": 3.0, "n_terms": 1, "max_degree": 1},
        {"n": True, "n_terms": 1, "max_degree": 1},
        {"n": 5, "n_terms": -1, "max_degree": 1},
        {"n": 5, "n_terms": 1, "max_degree": 6},
        {"n": 5, "n_terms": 1, "max_degree": -1},
        {"n": 5, "n_terms": 1, "max_degree": 0},  # min_degree=1 > max_degree
        {"n": 5, "n_terms": 1, "max_degree": 2, "min_degree": 3},
        {"n": 5, "n_terms": 16, "max_degree": 2},  # only 15 supports of degree 1..2
        {"n": 5, "n_terms": 2, "max_degree": 0, "min_degree": 0},
        {"n": 5, "n_terms": 1, "max_degree": 2, "noise_std": -0.1},
        {"n": 5, "n_terms": 1, "max_degree": 2, "noise_std": float("nan")},
        {"n": 5, "n_terms": 1, "max_degree": 2, "coef_scale": 0.0},
        {"n": 5, "n_terms": 1, "max_degree": 2, "coef_distribution": "cauchy"},
        {"n": 5, "n_terms": 1, "max_degree": 2, "constant": float("inf")},
        {"n": 5, "n_terms": 1, "max_degree": 2, "random_state": -1},
        {"n": 5, "n_terms": 1, "max_degree": 2, "random_state": "seed"},
    ],
)
@pytest.mark.parametrize("cls", [SparseFourierGame, SparseMoebiusGame])
def test_constructor_validation(cls, kwargs):
    with pytest.raises(InvalidParameterError):
        cls(**kwargs)


def test_moebius_specific_validation_and_coalition_checks():
    with pytest.raises(InvalidParameterError):
        SparseMoebiusGame(5, 1, 2, decay=0.0)
    with pytest.raises(InvalidParameterError):
        SparseMoebiusGame(5, 1, 2, hierarchical="yes")
    with pytest.raises(InvalidParameterError):
        SpectrumGame({(0,): 1.0})
    game = SparseMoebiusGame(5, 2, 2, random_state=0)
    with pytest.raises(InvalidParameterError):
        game.noiseless_values(np.ones((2, 4), dtype=bool))
    with pytest.raises(InvalidParameterError):
        game.noise(np.full((2, 5), 2))
