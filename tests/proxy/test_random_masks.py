from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.sampling.random_masks import mask_keys, uniform_masks, unique_masks


def assert_distinct(x):
    assert len(unique_masks(x)) == x.shape[0]


@pytest.mark.parametrize(("n", "m"), [(3, 8), (10, 700), (21, 5000), (70, 3000), (300, 2000)])
@pytest.mark.parametrize("pairing", [False, True])
def test_distinct_with_extremes_first(n, m, pairing):
    x = uniform_masks(np.random.default_rng(0), n, m, pairing=pairing)
    assert x.shape == (m, n)
    assert x.dtype == bool
    assert_distinct(x)
    assert not x[0].any()
    assert x[1].all()
    if pairing:
        body = x[2 : 2 + 2 * ((m - 2) // 2)].reshape(-1, 2, n)
        assert np.array_equal(body[:, 0], ~body[:, 1])


def test_uniform_marginals_and_sizes():
    x = uniform_masks(np.random.default_rng(1), 64, 20000)[2:]
    assert abs(x.mean() - 0.5) < 0.01
    assert np.abs(x.mean(axis=0) - 0.5).max() < 0.03
    # coalition sizes follow Binomial(64, 1/2): mean 32, variance 16
    sizes = x.sum(axis=1)
    assert abs(sizes.mean() - 32) < 0.2
    assert abs(sizes.var() - 16) < 1.0


def test_small_n_exhausts_every_coalition():
    x = uniform_masks(np.random.default_rng(2), 4, 16)
    assert_distinct(x)
    codes = np.sort(x @ (1 << np.arange(4)))
    assert np.array_equal(codes, np.arange(16))


def test_exclude_is_respected():
    rng = np.random.default_rng(3)
    for n in (9, 40):
        train = uniform_masks(rng, n, 300)
        hold = uniform_masks(rng, n, 200, include_extremes=False, exclude=train)
        assert not np.isin(mask_keys(hold), mask_keys(train)).any()
        assert_distinct(np.concatenate([train, hold]))


def test_exclude_fills_the_rest_exactly():
    rng = np.random.default_rng(4)
    train = uniform_masks(rng, 8, 200)
    rest = uniform_masks(rng, 8, 56, include_extremes=False, exclude=train)
    assert_distinct(np.concatenate([train, rest]))
    with pytest.raises(InvalidParameterError, match="Lower m to at most 56"):
        uniform_masks(rng, 8, 57, include_extremes=False, exclude=train)


def test_reproducible_and_seed_dependent():
    a = uniform_masks(np.random.default_rng(5), 50, 500, pairing=True)
    b = uniform_masks(np.random.default_rng(5), 50, 500, pairing=True)
    c = uniform_masks(np.random.default_rng(6), 50, 500, pairing=True)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_odd_count_with_pairing_and_tiny_m():
    x = uniform_masks(np.random.default_rng(7), 12, 7, pairing=True)
    assert x.shape == (7, 12)
    assert_distinct(x)
    assert uniform_masks(np.random.default_rng(7), 12, 1).shape == (1, 12)
    assert uniform_masks(np.random.default_rng(7), 12, 0).shape == (0, 12)


def test_bad_arguments():
    rng = np.random.default_rng(8)
    with pytest.raises(InvalidParameterError, match="'m' parameter"):
        uniform_masks(rng, 3, 9)
    with pytest.raises(InvalidParameterError, match="'n' parameter"):
        uniform_masks(rng, 0, 2)
    with pytest.raises(InvalidParameterError, match="'m' parameter"):
        uniform_masks(rng, 5, -1)
    with pytest.raises(InvalidParameterError, match="'exclude' parameter"):
        uniform_masks(rng, 5, 3, exclude=np.zeros((2, 4), dtype=bool))
    with pytest.raises(InvalidParameterError, match="include_extremes=False"):
        uniform_masks(rng, 5, 3, exclude=np.zeros((1, 5), dtype=bool))


def test_mask_keys_identify_rows():
    x = np.array([[1, 0, 1], [1, 0, 1], [0, 0, 0]], dtype=bool)
    k = mask_keys(x)
    assert k[0] == k[1] != k[2]
    wide = np.zeros((2, 100), dtype=bool)
    wide[1, 99] = True
    kw = mask_keys(wide)
    assert kw[0] != kw[1]
    assert np.array_equal(unique_masks(np.concatenate([wide, wide])), [0, 1])


@pytest.mark.parametrize("n", [6, 12, 20, 21, 64, 300])
def test_draws_are_prefix_stable(n):
    """The m coalitions of a seed are the first m of any larger draw (budgets nest)."""
    space = 2**n
    sizes = [m for m in (3, 50, 700, 2500) if 2 * m <= space - 2]
    big = uniform_masks(np.random.default_rng(5), n, sizes[-1])
    for m in sizes[:-1]:
        small = uniform_masks(np.random.default_rng(5), n, m)
        np.testing.assert_array_equal(small, big[:m])
    other = uniform_masks(np.random.default_rng(6), n, sizes[-1])
    assert not np.array_equal(other, big)


def test_prefix_stable_with_exclude():
    rng = np.random.default_rng(0)
    train = uniform_masks(rng, 30, 100)
    a = uniform_masks(np.random.default_rng(9), 30, 40, include_extremes=False, exclude=train)
    b = uniform_masks(np.random.default_rng(9), 30, 400, include_extremes=False, exclude=train)
    np.testing.assert_array_equal(a, b[:40])
    assert not np.isin(mask_keys(b), mask_keys(train)).any()


def test_small_n_uniform_over_codes():
    """Rejection over codes keeps every free coalition equally likely (chi-square, n = 4)."""
    counts = np.zeros(16)
    for seed in range(400):
        x = uniform_masks(np.random.default_rng(seed), 4, 6)[2:]  # 4 of the 14 free codes
        codes = x.astype(int) @ (1 << np.arange(4))
        counts[codes] += 1
    assert counts[0] == 0
    assert counts[15] == 0
    expected = 400 * 4 / 14
    chi2 = float(((counts[1:15] - expected) ** 2 / expected).sum())
    assert chi2 < 36.1  # 13 degrees of freedom, p = 0.001


@pytest.mark.parametrize("n", [5, 10, 12])
def test_draws_nest_past_half_of_the_coalitions(n):
    """Counts above half of the free coalitions extend the smaller draws too (target rounds)."""
    space = 2**n
    sizes = sorted({3, space // 4, space // 2 - 1, space // 2, space // 2 + 1, space - 3, space})
    big = uniform_masks(np.random.default_rng(3), n, space)
    assert unique_masks(big).shape[0] == space
    for m in sizes:
        small = uniform_masks(np.random.default_rng(3), n, m)
        np.testing.assert_array_equal(small, big[:m])


@pytest.mark.parametrize("position", [4, 12])
def test_every_position_is_uniform_over_the_free_codes(position):
    """Both the drawn half (position 4) and the permuted rest (position 12) are uniform."""
    counts = np.zeros(16)
    seeds = 1400
    for seed in range(seeds):
        x = uniform_masks(np.random.default_rng(seed), 4, 16)
        counts[x[position].astype(int) @ (1 << np.arange(4))] += 1
    assert counts[0] == counts[15] == 0
    expected = seeds / 14
    chi2 = float(((counts[1:15] - expected) ** 2 / expected).sum())
    assert chi2 < 34.5  # 13 degrees of freedom, p = 0.001
