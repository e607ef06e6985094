from __future__ import annotations

import itertools

import numpy as np
import pytest

from shapiq_spex import SPEX, HybridSPEX, ProxySPEX
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra.exact import all_coalitions, exact_moebius_spectrum, moebius_transform
from shapiq_spex.spectra.indices import SUPPORTED_INDICES
from shapiq_spex.spectra.spectrum import SparseSpectrum


def brute_moebius(f, n):
    """a_S = Σ_{T⊆S} (-1)^{|S|-|T|} f(T), straight from the definition."""
    out = {}
    for size in range(n + 1):
        for s in itertools.combinations(range(n), size):
            total = 0.0
            for k in range(size + 1):
                for t in itertools.combinations(s, k):
                    x = np.zeros(n, dtype=bool)
                    x[list(t)] = True
                    total += (-1) ** (size - k) * f(x)
            out[s] = total
    return out


def dense_game(n, seed):
    """A game with every coalition's value drawn at random: all 2^n Möbius terms non-zero."""
    table = np.random.default_rng(seed).normal(size=2**n)
    weights = 1 << np.arange(n)

    def game(x):
        x = np.atleast_2d(x)
        return table[x.astype(np.int64) @ weights]

    return game


def test_all_coalitions_rows_are_the_bits_of_the_row_index():
    x = all_coalitions(3)
    assert x.shape == (8, 3)
    assert x[0].tolist() == [False, False, False]
    assert x[5].tolist() == [True, False, True]
    assert x[7].all()
    assert len({tuple(r) for r in x.tolist()}) == 8


@pytest.mark.parametrize("n", [1, 3, 5])
def test_moebius_transform_matches_the_definition(n):
    game = dense_game(n, seed=n)
    coef = moebius_transform(game(all_coalitions(n)))
    truth = brute_moebius(lambda x: float(game(x)[0]), n)
    for row, x in enumerate(all_coalitions(n)):
        assert coef[row] == pytest.approx(truth[tuple(np.flatnonzero(x))], abs=1e-12)


def test_exact_spectrum_reproduces_every_value_and_drops_only_round_off():
    n = 6
    x = all_coalitions(n)
    terms = {(): 0.3, (1,): 1.0, (0, 4): -2.0, (1, 2, 5): 0.5}
    values = sum(c * x[:, list(s)].all(axis=1) for s, c in terms.items())
    spectrum = exact_moebius_spectrum(values, n)
    assert spectrum.basis == "moebius"
    assert spectrum.to_dict() == pytest.approx(terms, abs=1e-12)
    dense = dense_game(n, seed=0)(x)
    full = exact_moebius_spectrum(dense, n)
    assert len(full) == 2**n
    np.testing.assert_allclose(full.evaluate(x), dense, atol=1e-11)


def test_bad_input():
    with pytest.raises(InvalidParameterError, match="'values'"):
        moebius_transform(np.zeros(6))
    with pytest.raises(InvalidParameterError, match="2\\*\\*4"):
        exact_moebius_spectrum(np.zeros(8), 4)
    with pytest.raises(InvalidParameterError, match="'n'"):
        all_coalitions(0)


class Counting:
    def __init__(self, game, n):
        self.game, self.n_players, self.calls = game, n, 0

    def __call__(self, x):
        self.calls += x.shape[0]
        return self.game(x)


@pytest.mark.parametrize("cls", [SPEX, ProxySPEX, HybridSPEX])
@pytest.mark.parametrize("index", SUPPORTED_INDICES)
def test_a_budget_of_all_coalitions_gives_exact_values(cls, index, exact_values):
    n = 7
    game = Counting(dense_game(n, seed=1), n)
    order = 1 if index in ("SV", "BV") else 3
    approx = cls(n, order, index, random_state=0)
    iv = approx.approximate(1000, game)
    assert game.calls == approx.report_.queries == 2**n == iv.estimation_budget
    expected = {"exact": True}
    if cls is SPEX:
        # SPEX always says whether it resolved the spectrum; an exact transform did.
        expected.update(resolved=True, unresolved_reason=None, returned="exact")
    assert approx.report_.details == expected
    truth = exact_values(game.game, n, index, order)
    want = {k: v for k, v in truth.interactions.items() if len(k) <= order}
    keys = set(want) | set(iv.interactions)
    assert max(abs(want.get(k, 0.0) - iv[k]) for k in keys) < 1e-9


@pytest.mark.parametrize("cls", [SPEX, ProxySPEX])
def test_one_coalition_short_of_the_table_is_approximated(cls):
    n = 9
    game = Counting(dense_game(n, seed=2), n)
    approx = cls(n, 2, random_state=0)
    approx.approximate(2**n - 1, game)
    assert "exact" not in approx.report_.details
    assert game.calls <= 2**n - 1


@pytest.mark.parametrize("n", [3, 6, 9])
def test_complete_spectrum_interpolates_the_known_values_and_keeps_the_surrogate(n):
    from shapiq_spex.spectra.exact import complete_spectrum

    rng = np.random.default_rng(n)
    surrogate = SparseSpectrum.from_dict(n, {(): 0.3, (0,): 1.0, (1, 2): -0.5}, basis="moebius")
    table = all_coalitions(n)
    known = rng.permutation(2**n)[: 2 ** (n - 1) + 1]
    values = rng.normal(size=known.size)
    done = complete_spectrum(surrogate, table[known], values)
    assert done.basis == "moebius"
    np.testing.assert_allclose(done.evaluate(table[known]), values, atol=1e-12)
    other = np.setdiff1d(np.arange(2**n), known)
    np.testing.assert_allclose(
        done.evaluate(table[other]), surrogate.evaluate(table[other]), atol=1e-12
    )
    # it is the brute-force Möbius transform of that completed table
    full = surrogate.evaluate(table)
    full[known] = values
    brute = brute_moebius(lambda x: full[int(x @ (1 << np.arange(n)))], n)
    got = dict(
        zip(map(tuple, (np.flatnonzero(m) for m in done.to_masks())), done.coefs, strict=True)
    )
    for s, c in brute.items():
        assert abs(got.get(s, 0.0) - c) < 1e-10


def test_complete_spectrum_checks_shapes():
    from shapiq_spex.spectra.exact import complete_spectrum

    surrogate = SparseSpectrum.from_dict(4, {(): 1.0}, basis="moebius")
    for masks, values in [((3, 5), 3), ((3, 4), 2), ((4,), 4)]:
        with pytest.raises(InvalidParameterError, match="'masks' and 'values' parameters"):
            complete_spectrum(surrogate, np.zeros(masks, dtype=bool), np.zeros(values))
