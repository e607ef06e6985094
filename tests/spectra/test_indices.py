from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapiq

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra.indices import SUPPORTED_INDICES, index_weights, to_interaction_values

ORDERS = {"SV": [1], "BV": [1]}


def random_spectrum(n: int, seed: int, basis: str) -> SparseSpectrum:
    rng = np.random.default_rng(seed)
    terms = {(): float(rng.normal())}
    for _ in range(12):
        deg = int(rng.integers(1, n + 1))
        terms[tuple(sorted(rng.choice(n, deg, replace=False).tolist()))] = float(rng.normal())
    return SparseSpectrum.from_dict(n, terms, basis)


def exact(spec: SparseSpectrum, index: str, order: int) -> shapiq.InteractionValues:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return shapiq.ExactComputer(spec.evaluate, spec.n)(index, order)


@pytest.mark.parametrize("index", SUPPORTED_INDICES)
@pytest.mark.parametrize("basis", ["fourier", "moebius"])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_index_matches_exact_computer(index, basis, seed):
    n = 7
    spec = random_spectrum(n, seed, basis)
    for order in ORDERS.get(index, [1, 2, 3, n]):
        if index == "FSII" and order == n:
            # ExactComputer's FSII is a numerical least-squares solve (1e-8 off at order n);
            # by definition the order-n Faith-Shapley index is the Möbius transform itself.
            truth = exact(spec, "Moebius", n)
            got = to_interaction_values(spec, "FSII", n)
            assert max(abs(truth[k] - got[k]) for k in truth.interactions) < 1e-12
            continue
        truth = exact(spec, index, order)
        if index == "Moebius":  # ExactComputer ignores the order for Moebius: compare truncated
            truth_dict = {k: v for k, v in truth.interactions.items() if len(k) <= order}
        else:
            truth_dict = dict(truth.interactions)
        got = to_interaction_values(spec, index, order)
        keys = set(truth_dict) | set(got.interactions)
        err = max(abs(truth_dict.get(k, 0.0) - got[k]) for k in keys)
        # ExactComputer solves FSII by least squares (about 1e-10 accurate); the rest are exact
        assert err < 1e-8, (index, order, err)
        assert got.index == truth.index
        assert got.baseline_value == pytest.approx(truth.baseline_value, abs=1e-9)
        assert () in got.interactions


def test_k_sii_is_not_aggregated_twice():
    """The bug of shapiq 1.8's SPEX: SII converted to k-SII, then aggregated again."""
    spec = random_spectrum(6, 3, "moebius")
    got = to_interaction_values(spec, "k-SII", 2)
    truth = exact(spec, "k-SII", 2)
    sii = exact(spec, "SII", 2)
    twice = shapiq.InteractionValues(
        truth.values,
        index="SII",
        target_index="k-SII",
        max_order=2,
        min_order=0,
        n_players=6,
        interaction_lookup=truth.interaction_lookup,
        baseline_value=truth.baseline_value,
    )
    diff_twice = max(abs(twice[k] - truth[k]) for k in truth.interactions)
    assert diff_twice > 1e-3  # the double aggregation really differs on this game
    assert max(abs(got[k] - truth[k]) for k in truth.interactions) < 1e-10
    assert max(abs(sii[k] - truth[k]) for k in truth.interactions if len(k) == 1) > 1e-3


def test_fourier_path_avoids_subset_explosion():
    """A degree-30 Fourier term converted to order-2 k-SII costs C(30, <=2), not 2^30."""
    n = 40
    spec = SparseSpectrum.from_dict(n, {tuple(range(30)): 1.0, (0,): 0.5})
    iv = to_interaction_values(spec, "k-SII", 2)
    assert sum(len(key) == 2 for key in iv.interactions) == 435  # the pairs inside the term
    assert len(iv.interactions) == 1 + 40 + 435  # every player's singleton is listed


def test_every_singleton_is_listed_in_shapiq_order_for_plots():
    """shapiq's network/SI-graph plots take their nodes from the singletons present."""
    spec = SparseSpectrum.from_dict(6, {(0, 1): 1.0, (2, 3): -0.8, (4, 5): 0.5}, "moebius")
    for index in ("Moebius", "k-SII", "FSII", "FBII", "SII"):
        iv = to_interaction_values(spec, index, 2)
        keys = list(iv.interaction_lookup)
        assert [k for k in keys if len(k) == 1] == [(i,) for i in range(6)], index
        assert keys == sorted(keys, key=lambda k: (len(k), k)), index
        assert [iv.interaction_lookup[k] for k in keys] == list(range(len(keys)))
    top = to_interaction_values(spec, "k-SII", 2, min_order=2)  # top order: no singletons
    assert all(len(k) != 1 for k in top.interaction_lookup)


def test_weights_reduce_to_moebius_below_order():
    for index in ("k-SII", "STII", "FSII", "FBII"):
        w = index_weights(index, 3, 3)
        np.testing.assert_allclose(w[:3, :3], np.eye(3), atol=1e-15)


@pytest.mark.parametrize(
    ("index", "order", "match"),
    [("XYZ", 2, "index"), ("SV", 2, "first-order"), ("k-SII", 0, "max_order"), ("SII", 99, "<= n")],
)
def test_bad_index_or_order(index, order, match):
    spec = random_spectrum(5, 0, "fourier")
    with pytest.raises(InvalidParameterError, match=match):
        to_interaction_values(spec, index, order)
