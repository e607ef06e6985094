"""Tests of shapiq_spex.optimize: exact MILP against brute force, heuristics, removal curves."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shapiq_spex.exceptions import InvalidGameError, InvalidParameterError
from shapiq_spex.games import SparseMoebiusGame
from shapiq_spex.optimize import (
    RemovalCurve,
    SubsetResult,
    best_subset,
    marginal_choice,
    removal_curve,
    removal_curve_marginal,
)
from shapiq_spex.spectra import SparseSpectrum

MODES = ("remove", "keep")
OBJECTIVES = ("max", "min", "max_change")


# ------------------------------------------------------------------ helpers
def random_spectrum(rng, n: int, n_terms: int, basis: str, max_degree: int = 4) -> SparseSpectrum:
    terms = {}
    for _ in range(n_terms):
        d = int(rng.integers(0, min(max_degree, n) + 1))
        terms[tuple(sorted(int(p) for p in rng.choice(n, d, replace=False)))] = rng.normal()
    return SparseSpectrum.from_dict(n, terms, basis)


def brute_force(spectrum: SparseSpectrum, r: int, mode: str, exact_size: bool):
    """Every feasible chosen set and the surrogate value of its coalition."""
    n = spectrum.n
    sizes = [r] if exact_size else range(r + 1)
    sets = [c for k in sizes for c in itertools.combinations(range(n), k)]
    chosen = np.zeros((len(sets), n), dtype=bool)
    for i, c in enumerate(sets):
        chosen[i, list(c)] = True
    x = ~chosen if mode == "remove" else chosen
    return sets, spectrum.evaluate(x)


def reference(spectrum: SparseSpectrum, mode: str) -> float:
    return float(spectrum.evaluate(np.full(spectrum.n, mode == "remove"))[0])


def score(values: np.ndarray, objective: str, ref: float) -> np.ndarray:
    """The quantity each objective maximises (min: the negated value)."""
    if objective == "max":
        return values
    if objective == "min":
        return -values
    return np.abs(values - ref)


def result_score(res: SubsetResult, objective: str) -> float:
    return float(score(np.array([res.predicted_value]), objective, res.reference_value)[0])


def check_feasible(res: SubsetResult, spectrum: SparseSpectrum, r: int, exact_size: bool) -> None:
    n = spectrum.n
    players = np.array(res.players, dtype=np.int64)
    assert list(res.players) == sorted(set(res.players))
    assert np.all((players >= 0) & (players < n))
    assert len(players) == r if exact_size else len(players) <= r
    chosen = np.zeros(n, dtype=bool)
    chosen[players] = True
    expected = ~chosen if res.mode == "remove" else chosen
    np.testing.assert_array_equal(res.coalition, expected)
    assert res.predicted_value == spectrum.evaluate(res.coalition)[0]
    assert res.reference_value == reference(spectrum, res.mode)


def check_against_brute_force(spectrum, r, mode, objective, exact_size) -> None:
    _, values = brute_force(spectrum, r, mode, exact_size)
    best = score(values, objective, reference(spectrum, mode)).max()
    scale = max(1.0, float(np.abs(spectrum.to_moebius().coefs).sum()))
    res = best_subset(
        spectrum, r, mode=mode, objective=objective, exact_size=exact_size, method="milp"
    )
    check_feasible(res, spectrum, r, exact_size)
    assert res.optimal
    assert res.method == "milp"
    assert result_score(res, objective) == pytest.approx(best, abs=1e-6 * scale)
    # the proven bound is a valid bound and tight at the optimum
    assert res.bound is not None
    assert res.bound == pytest.approx(-best if objective == "min" else best, abs=1e-5 * scale)
    for method in ("greedy", "beam"):
        heur = best_subset(
            spectrum, r, mode=mode, objective=objective, exact_size=exact_size, method=method
        )
        check_feasible(heur, spectrum, r, exact_size)
        assert not heur.optimal
        assert heur.bound is None
        assert result_score(heur, objective) <= best + 1e-9 * scale


# ------------------------------------------------------------------ exactness
@pytest.mark.parametrize("basis", ["moebius", "fourier"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("exact_size", [False, True])
def test_milp_matches_brute_force(basis, mode, objective, exact_size):
    rng = np.random.default_rng(hash((basis, mode, objective, exact_size)) % 2**32)
    for _ in range(4):
        n = int(rng.integers(4, 11))
        spectrum = random_spectrum(rng, n, int(rng.integers(5, 30)), basis)
        r = int(rng.integers(0, min(n, 5) + 1))
        check_against_brute_force(spectrum, r, mode, objective, exact_size)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 9),
    n_terms=st.integers(0, 25),
    basis=st.sampled_from(["moebius", "fourier"]),
    mode=st.sampled_from(MODES),
    objective=st.sampled_from(OBJECTIVES),
    exact_size=st.booleans(),
    r_frac=st.floats(0.0, 1.0),
)
def test_milp_matches_brute_force_hypothesis(
    seed, n, n_terms, basis, mode, objective, exact_size, r_frac
):
    rng = np.random.default_rng(seed)
    spectrum = random_spectrum(rng, n, n_terms, basis)
    r = round(r_frac * n)
    check_against_brute_force(spectrum, r, mode, objective, exact_size)


def test_interaction_beats_greedy_where_greedy_is_myopic():
    # Keeping 0 or 1 alone loses 1; keeping both wins 3 (a pure interaction). Keeping 2 wins 0.5.
    spectrum = SparseSpectrum.from_dict(
        4, {(0,): -1.0, (1,): -1.0, (0, 1): 5.0, (2,): 0.5}, "moebius"
    )
    exact = best_subset(spectrum, 2, mode="keep", objective="max", method="milp")
    assert exact.players == (0, 1)
    assert exact.predicted_value == pytest.approx(3.0)
    greedy = best_subset(spectrum, 2, mode="keep", objective="max", method="greedy")
    assert greedy.players == (2,)
    assert greedy.predicted_value == pytest.approx(0.5)
    beam = best_subset(spectrum, 2, mode="keep", objective="max", method="beam", beam_width=4)
    assert beam.players == (0, 1)


def test_remove_mode_hand_example():
    # f(x) = 1 + 2 x0 x1 - 3 x2 + x3 x4 x5: removing player 2 gains 3, removing 0 or 1 loses 2.
    terms = {(): 1.0, (0, 1): 2.0, (2,): -3.0, (3, 4, 5): 1.0}
    spectrum = SparseSpectrum.from_dict(6, terms, "moebius")
    res = best_subset(spectrum, 1, mode="remove", objective="max")
    assert res.players == (2,)
    assert res.reference_value == pytest.approx(1.0)
    assert res.predicted_value == pytest.approx(4.0)
    res = best_subset(spectrum, 2, mode="remove", objective="min")
    assert res.predicted_value == pytest.approx(-2.0)  # remove 0 (or 1) and 3 (or 4, 5)
    assert len(res.players) == 2
    res = best_subset(spectrum, 3, mode="remove", objective="max_change")
    assert abs(res.predicted_change) == pytest.approx(3.0)  # +3 (remove 2) ties -3 (0 and 3)
    # at most r: removing nothing beats removing anyone when every removal hurts
    calm = SparseSpectrum.from_dict(3, {(0,): 1.0, (1, 2): 1.0}, "moebius")
    res = best_subset(calm, 2, mode="remove", objective="max")
    assert res.players == ()
    res = best_subset(calm, 2, mode="remove", objective="max", exact_size=True)
    assert res.players == (1, 2)  # keeps x0 = 1; removing 0 and one of 1, 2 gives 0
    assert res.predicted_value == pytest.approx(1.0)


def test_fourier_input_is_scored_on_the_fourier_spectrum():
    rng = np.random.default_rng(5)
    spectrum = random_spectrum(rng, 8, 12, "fourier")
    res = best_subset(spectrum, 3, mode="keep", objective="min")
    assert res.predicted_value == spectrum.evaluate(res.coalition)[0]
    moebius = spectrum.to_moebius()
    same = best_subset(moebius, 3, mode="keep", objective="min")
    assert same.predicted_value == pytest.approx(res.predicted_value, abs=1e-9)


def test_trivial_spectra():
    const = SparseSpectrum.from_dict(5, {(): 2.5}, "moebius")
    for method in ("milp", "greedy", "beam"):
        res = best_subset(const, 3, method=method, objective="max_change")
        assert res.predicted_value == 2.5
        assert res.players == ()
        res = best_subset(const, 3, method=method, exact_size=True)
        assert len(res.players) == 3
    empty = SparseSpectrum(4, np.zeros((0, 0), dtype=np.int64), np.zeros(0), "moebius")
    assert best_subset(empty, 0).players == ()
    full = best_subset(empty, 4, exact_size=True, mode="keep")
    assert full.players == (0, 1, 2, 3)


def test_auto_uses_milp_for_moderate_supports():
    game = SparseMoebiusGame(200, 300, 3, random_state=0)
    res = best_subset(game.moebius_spectrum, 5, objective="max_change")
    assert res.method == "milp"
    assert res.optimal


def test_auto_uses_beam_for_dense_overlap():
    # every pair and triple of 12 players: 66 + 220 terms, 3 * 220 / 12 + 2 * 66 / 12 = 66 / player
    rng = np.random.default_rng(2)
    terms = {c: float(rng.normal()) for d in (2, 3) for c in itertools.combinations(range(12), d)}
    spectrum = SparseSpectrum.from_dict(12, terms, "moebius")
    res = best_subset(spectrum, 4, mode="keep")
    assert res.method == "beam"
    assert not res.optimal
    assert "heuristic" in res.status
    exact = best_subset(spectrum, 4, mode="keep", method="milp")
    assert exact.optimal
    assert exact.predicted_value >= res.predicted_value - 1e-12


def test_actual_value_queries_the_game_once():
    game = SparseMoebiusGame(30, 40, 3, noise_std=0.1, random_state=1)
    calls = []

    def counted(x):
        calls.append(np.asarray(x).shape)
        return game(x)

    res = best_subset(game.moebius_spectrum, 4, game=counted)
    assert calls == [(1, 30)]
    assert res.actual_value == pytest.approx(game(res.coalition[None, :])[0])
    assert best_subset(game.moebius_spectrum, 4).actual_value is None


def test_time_limit_is_reported_not_hidden():
    # A dense pairwise spectrum on many players: HiGHS cannot prove optimality in 1 ms.
    rng = np.random.default_rng(0)
    n = 120
    pairs = {(int(i), int(j)): float(rng.normal()) for i, j in itertools.combinations(range(n), 2)}
    spectrum = SparseSpectrum.from_dict(n, pairs, "moebius")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = best_subset(spectrum, 15, mode="keep", method="milp", time_limit=1e-3)
    if res.optimal:  # pragma: no cover - only if HiGHS were impossibly fast
        pytest.skip("solver proved optimality within the time limit")
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    assert "limit" in res.status
    assert "beam search" in res.status
    beam = best_subset(spectrum, 15, mode="keep", method="beam")
    assert res.predicted_value >= beam.predicted_value  # never worse than the check it ran
    assert len(res.players) <= 15
    assert res.predicted_value == spectrum.evaluate(res.coalition)[0]


# ------------------------------------------------------------------ removal curves
def small_game():
    # f(x) = 10 + 4 x0 + 3 x1 x2 - 2 x3 (n = 4), f(all) = 15
    terms = {(): 10.0, (0,): 4.0, (1, 2): 3.0, (3,): -2.0}
    return SparseSpectrum.from_dict(4, terms, "moebius")


def test_removal_curve_by_hand():
    spectrum = small_game()
    curve = removal_curve(spectrum, spectrum, rs=[1, 2, 3], objective="min")
    assert isinstance(curve, RemovalCurve)
    assert curve.full_value == 15.0
    # r=1: remove 0 -> 11; r=2: remove 0 and 1 (or 2) -> 8; r=3: remove {0, 1, 2} -> 8
    # (removing 3 would raise f by 2)
    np.testing.assert_allclose(curve.removed_values, [11.0, 8.0, 8.0])
    np.testing.assert_allclose(curve.rem, [4 / 15, 7 / 15, 7 / 15])
    assert curve.players[0] == (0,)
    assert all(len(p) == r for p, r in zip(curve.players, [1, 2, 3], strict=True))
    assert curve.optimal.all()
    assert curve.chooser == "interaction:milp"
    # max_change picks the larger of the two directions at each r
    change = removal_curve(spectrum, spectrum, rs=[1, 4])
    np.testing.assert_allclose(change.removed_values, [11.0, 10.0])
    np.testing.assert_allclose(change.rem, [4 / 15, 5 / 15])


def test_removal_curve_marginal_by_hand():
    spectrum = small_game()
    # Banzhaf-like first-order values: phi = (4, 1.5, 1.5, -2)
    phi = np.array([4.0, 1.5, 1.5, -2.0])
    assert marginal_choice(phi, 2, objective="min") == (0, 1)
    assert marginal_choice(phi, 1, objective="max") == (3,)
    assert marginal_choice(phi, 2, objective="max") == (1, 3)  # tie 1 vs 2: lower index
    assert marginal_choice(phi, 2, objective="max", exact_size=False) == (3,)
    assert marginal_choice(phi, 2) == (0, 1)  # |-5.5| > |0.5|
    assert marginal_choice(phi, 1, mode="keep", objective="max") == (0,)
    assert marginal_choice(phi, 0) == ()
    curve = removal_curve_marginal(phi, spectrum, rs=[1, 2, 3])
    assert curve.chooser == "marginal"
    # r=3: removes 0, 1, 2 -> f = 8 (the interaction term is gone either way)
    np.testing.assert_allclose(curve.removed_values, [11.0, 8.0, 8.0])
    np.testing.assert_allclose(curve.rem, [4 / 15, 7 / 15, 7 / 15])
    # an interaction that first-order values split in halves: marginal removes the wrong pair
    inter = SparseSpectrum.from_dict(3, {(): 1.0, (0, 1): 6.0, (2,): 3.5}, "moebius")
    phi = np.array([3.0, 3.0, 3.5])
    by_marginal = removal_curve_marginal(phi, inter, rs=[1], objective="min")
    by_interaction = removal_curve(inter, inter, rs=[1], objective="min")
    assert by_marginal.players == ((2,),)
    assert by_interaction.players in (((0,),), ((1,),))
    assert by_interaction.rem[0] > by_marginal.rem[0]


def test_removal_curve_queries_once_and_accepts_shapiq_values():
    from shapiq import InteractionValues

    game = SparseMoebiusGame(12, 15, 3, random_state=3)
    calls = []

    def counted(x):
        calls.append(np.asarray(x).shape)
        return game(x)

    removal_curve(game.moebius_spectrum, counted, rs=range(1, 6))
    assert calls == [(6, 12)]
    iv = InteractionValues(
        values=np.arange(12, dtype=float),
        index="SV",
        max_order=1,
        min_order=1,
        n_players=12,
        interaction_lookup={(i,): i for i in range(12)},
        baseline_value=0.0,
    )
    curve = removal_curve_marginal(iv, game, rs=[3], objective="min")
    assert curve.players == ((9, 10, 11),)


def test_removal_curve_zero_full_value_warns():
    spectrum = SparseSpectrum.from_dict(3, {(0,): 1.0, (1,): -1.0}, "moebius")
    with pytest.warns(RuntimeWarning, match="f\\(all\\) == 0"):
        curve = removal_curve(spectrum, spectrum, rs=[1])
    assert np.isinf(curve.rem[0])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"r": -1}, "'r'"),
        ({"r": 6}, "'r'"),
        ({"r": 1.5}, "'r'"),
        ({"r": True}, "'r'"),
        ({"r": 1, "mode": "drop"}, "'mode'"),
        ({"r": 1, "objective": "maximum"}, "'objective'"),
        ({"r": 1, "method": "cplex"}, "'method'"),
        ({"r": 1, "beam_width": 0}, "'beam_width'"),
        ({"r": 1, "time_limit": 0}, "'time_limit'"),
        ({"r": 1, "time_limit": float("nan")}, "'time_limit'"),
        ({"r": 1, "exact_size": 1}, "'exact_size'"),
        ({"r": 1, "game": 3}, "'game'"),
        ({"r": 1, "game": SparseMoebiusGame(4, 2, 2, random_state=0)}, "'game'"),
    ],
)
def test_bad_input(kwargs, match):
    spectrum = small_game()
    spectrum = SparseSpectrum(5, spectrum.supports, spectrum.coefs, "moebius")
    with pytest.raises(InvalidParameterError, match=match):
        best_subset(spectrum, **kwargs)


def test_bad_spectrum_and_values():
    with pytest.raises(InvalidParameterError, match="'spectrum'"):
        best_subset({(0,): 1.0}, 1)
    with pytest.raises(InvalidParameterError, match="'spectrum'"):
        removal_curve(np.ones(3), small_game(), rs=[1])
    with pytest.raises(InvalidParameterError, match="'values_by_player'"):
        marginal_choice(np.ones((2, 2)), 1)
    with pytest.raises(InvalidParameterError, match="'values_by_player'"):
        marginal_choice([1.0, np.nan], 1)
    with pytest.raises(InvalidParameterError, match="'r'"):
        marginal_choice([1.0, 2.0], 3)
    with pytest.raises(InvalidParameterError, match="'objective'"):
        marginal_choice([1.0, 2.0], 1, objective="mean")
    with pytest.raises(InvalidParameterError, match="'rs'"):
        removal_curve(small_game(), small_game(), rs=[])
    with pytest.raises(InvalidParameterError, match="'rs'"):
        removal_curve_marginal([1.0, 2.0, 3.0, 4.0], small_game(), rs=[5])
    with pytest.raises(InvalidParameterError, match="'game'"):
        removal_curve(small_game(), "not a game", rs=[1])
    with pytest.raises(InvalidGameError):
        removal_curve(small_game(), lambda x: np.zeros(1), rs=[1])
    with pytest.raises(InvalidGameError):
        removal_curve(small_game(), lambda x: np.full(len(x), np.inf), rs=[1])
