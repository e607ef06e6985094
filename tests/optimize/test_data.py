"""Tests of shapiq_spex.optimize.data: groups, verification, least-change search, choosers.

The pruning experiment itself is tested in tests/optimize/test_pruning.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shapiq_spex.exceptions import InvalidGameError, InvalidParameterError
from shapiq_spex.games import DataAttributionGame, SparseMoebiusGame
from shapiq_spex.optimize.choosers import interaction_chooser, marginal_chooser
from shapiq_spex.optimize.data import (
    DataReport,
    InteractionGroup,
    data_report,
    interaction_groups,
    verify_groups,
)
from shapiq_spex.optimize.subset import least_change_subset
from shapiq_spex.spectra import SparseSpectrum

HAND = {(): 1.0, (0,): 0.5, (1, 2): 2.0, (3, 4): -1.5, (0, 1, 5): 0.7}


class CountingGame:
    """Wraps a game; counts calls and coalitions."""

    def __init__(self, game):
        self.game = game
        self.n_players = game.n_players
        self.calls = 0
        self.rows = 0

    def __call__(self, coalitions):
        self.calls += 1
        self.rows += coalitions.shape[0]
        return self.game(coalitions)


def random_spectrum(seed: int, n: int, n_terms: int, basis: str, max_degree: int = 3):
    rng = np.random.default_rng(seed)
    terms = {(): rng.normal()}
    for _ in range(n_terms):
        d = int(rng.integers(1, max_degree + 1))
        terms[tuple(sorted(int(p) for p in rng.choice(n, d, replace=False)))] = rng.normal()
    return SparseSpectrum.from_dict(n, terms, basis)


def all_coalitions(n: int) -> np.ndarray:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool)


def brute_interaction(spectrum: SparseSpectrum, group: tuple[int, ...], context: str) -> float:
    """Discrete derivative of ``spectrum`` over ``group`` at N∖G, at ∅, or averaged over T."""
    n = spectrum.n
    others = [p for p in range(n) if p not in group]
    if context == "full":
        backgrounds = [others]
    elif context == "empty":
        backgrounds = [[]]
    else:
        backgrounds = [
            list(t) for k in range(len(others) + 1) for t in itertools.combinations(others, k)
        ]
    total = 0.0
    for bg in backgrounds:
        for k in range(len(group) + 1):
            for sub in itertools.combinations(group, k):
                x = np.zeros(n, dtype=bool)
                x[bg + list(sub)] = True
                total += (-1) ** (len(group) - k) * spectrum.evaluate(x[None, :])[0]
    return total / len(backgrounds)


# ------------------------------------------------------------------ interaction_groups
def test_groups_hand_built_spectrum():
    spec = SparseSpectrum.from_dict(6, HAND, "moebius")
    syn = interaction_groups(spec, kind="synergy", k=10)
    # full context: a_T summed over supersets; (0,1), (0,5), (1,5) get 0.7 from (0,1,5)
    assert [g.players for g in syn] == [(1, 2), (0, 1), (0, 5), (1, 5), (0, 1, 5)]
    assert [g.value for g in syn] == pytest.approx([2.0, 0.7, 0.7, 0.7, 0.7])
    assert all(g.kind == "synergy" and g.context == "full" for g in syn)
    red = interaction_groups(spec, kind="redundancy", k=10)
    assert red == [InteractionGroup((3, 4), -1.5, "redundancy", "full")]
    empty = interaction_groups(spec, kind="synergy", k=10, context="empty")
    assert [(g.players, g.value) for g in empty] == [((1, 2), 2.0), ((0, 1, 5), 0.7)]
    average = interaction_groups(spec, kind="synergy", k=2, context="average", max_order=2)
    assert [(g.players, g.value) for g in average] == [((1, 2), 2.0), ((0, 1), 0.35)]
    assert interaction_groups(spec, kind="synergy", k=1, min_order=3)[0].players == (0, 1, 5)
    singles = interaction_groups(spec, kind="synergy", k=2, min_order=1, max_order=1)
    # full-context singles are the drops: 1 carries 2.0 + 0.7, 2 carries 2.0, 0 carries 0.5 + 0.7
    assert [(g.players, g.value) for g in singles] == [((1,), pytest.approx(2.7)), ((2,), 2.0)]


@pytest.mark.parametrize("context", ["full", "empty", "average"])
@pytest.mark.parametrize("basis", ["moebius", "fourier"])
def test_groups_equal_brute_force(context, basis):
    spec = random_spectrum(1, 6, 8, basis)
    for kind in ("synergy", "redundancy"):
        groups = interaction_groups(spec, kind=kind, k=50, max_order=3, context=context)
        assert groups
        for g in groups:
            assert g.value == pytest.approx(brute_interaction(spec, g.players, context), abs=1e-9)
            assert (g.value > 0) == (kind == "synergy")
        # nothing stronger was missed: every pair's brute-force value is no stronger than the last
        sign = 1.0 if kind == "synergy" else -1.0
        pairs = [brute_interaction(spec, p, context) for p in itertools.combinations(range(6), 2)]
        listed = {g.players for g in groups}
        missed = [
            sign * v
            for p, v in zip(itertools.combinations(range(6), 2), pairs, strict=True)
            if p not in listed
        ]
        assert max(missed, default=0.0) <= 1e-9 or len(groups) == 50


# ------------------------------------------------------------------ verify_groups
def test_verify_pure_pair_closed_form():
    a = 1.7
    game = SparseMoebiusGame.from_coefficients(5, {(): 0.3, (1, 3): a})
    (check,) = verify_groups(game, [(1, 3)])
    assert check.joint_drop == pytest.approx(a)
    assert check.single_drops == pytest.approx((a, a))
    assert check.sum_single_drops == pytest.approx(2 * a)
    assert check.interaction == pytest.approx(a)
    assert check.kind is None
    assert check.confirmed is None
    assert check.predicted_interaction is None


def test_verify_equals_direct_calls_in_one_batched_call():
    base = SparseMoebiusGame(9, 12, 3, noise_std=0.1, random_state=3)
    game = CountingGame(base)
    spec = base.moebius_spectrum
    groups = interaction_groups(spec, kind="synergy", k=3) + interaction_groups(
        spec, kind="redundancy", k=3
    )
    groups.append((2,))  # a single player: its joint and single coalition coincide
    checks = verify_groups(game, groups, spectrum=spec)
    assert game.calls == 1
    full = np.ones(9, dtype=bool)
    distinct = {full.tobytes()}
    for g, c in zip(groups, checks, strict=True):
        players = g.players if isinstance(g, InteractionGroup) else g
        x = full.copy()
        x[list(players)] = False
        distinct.add(x.tobytes())
        assert c.full_value == pytest.approx(base(full[None, :])[0])
        assert c.joint_drop == pytest.approx(c.full_value - base(x[None, :])[0])
        assert c.predicted_joint_drop == pytest.approx(spec(full[None])[0] - spec(x[None])[0])
        for p, drop, pred in zip(players, c.single_drops, c.predicted_single_drops, strict=True):
            y = full.copy()
            y[p] = False
            distinct.add(y.tobytes())
            assert drop == pytest.approx(c.full_value - base(y[None, :])[0])
            assert pred == pytest.approx(spec(full[None])[0] - spec(y[None])[0])
        if isinstance(g, InteractionGroup):
            assert c.predicted == g.value
            assert c.kind == g.kind
            if len(players) == 2:  # full-context pair interaction is exactly the measured one
                assert c.predicted_interaction == pytest.approx(g.value)
            assert c.confirmed == (c.interaction > 0 if g.kind == "synergy" else c.interaction < 0)
    assert game.rows == len(distinct)  # every distinct coalition once


def test_verify_accepts_sets_and_arrays_as_groups():
    game = SparseMoebiusGame.from_coefficients(5, {(): 0.3, (1, 3): 1.7, (2,): 0.5})
    checks = verify_groups(game, [{3, 1}, np.array([2, 1]), (1, 3)])
    assert [c.players for c in checks] == [(1, 3), (1, 2), (1, 3)]
    assert checks[0].joint_drop == pytest.approx(1.7)
    assert checks[1].joint_drop == pytest.approx(0.5 + 1.7)
    assert checks[1].single_drops == pytest.approx((1.7, 0.5))


def test_verify_confirms_redundancy_of_an_or():
    # x3 OR x4 = x3 + x4 - x3 x4: substitutes; removing both drops 1, each alone 0
    game = SparseMoebiusGame.from_coefficients(5, {(3,): 1.0, (4,): 1.0, (3, 4): -1.0})
    (group,) = interaction_groups(game.moebius_spectrum, kind="redundancy")
    (check,) = verify_groups(game, [group])
    assert check.joint_drop == pytest.approx(1.0)
    assert check.single_drops == pytest.approx((0.0, 0.0))
    assert check.confirmed is True


# ------------------------------------------------------------------ least_change_subset
def brute_min_change(spec: SparseSpectrum, r: int, mode: str) -> float:
    n = spec.n
    sets = list(itertools.combinations(range(n), r))
    chosen = np.zeros((len(sets), n), dtype=bool)
    for i, c in enumerate(sets):
        chosen[i, list(c)] = True
    x = ~chosen if mode == "remove" else chosen
    ref = np.ones(n, bool) if mode == "remove" else np.zeros(n, bool)
    return float(np.min(np.abs(spec.evaluate(x) - spec.evaluate(ref[None])[0])))


@pytest.mark.parametrize("mode", ["remove", "keep"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_least_change_exhaustive_equals_brute_force(mode, seed):
    spec = random_spectrum(seed, 8, 15, "fourier" if seed == 2 else "moebius", max_degree=4)
    for r in range(5):
        res = least_change_subset(spec, r, mode=mode, beam_width=70)  # C(8, 4) = 70
        assert res.optimal is True
        assert len(res.players) == r
        assert abs(res.predicted_change) == pytest.approx(
            brute_min_change(spec, r, mode), abs=1e-12
        )
        assert res.predicted_value == pytest.approx(spec(res.coalition[None])[0])
        assert (res.objective, res.mode) == ("min_change", mode)


def test_least_change_heuristic_is_flagged_and_never_beats_brute_force():
    spec = random_spectrum(4, 8, 20, "moebius", max_degree=3)
    game = SparseMoebiusGame.from_coefficients(8, spec.to_dict())
    for width in (1, 3):
        res = least_change_subset(spec, 3, beam_width=width, game=game)
        assert res.optimal is False
        assert "heuristic" in res.status
        assert abs(res.predicted_change) >= brute_min_change(spec, 3, "remove") - 1e-12
        assert res.actual_value == pytest.approx(res.predicted_value)


def test_least_change_beats_greedy_where_greedy_is_trapped():
    # greedy first removes 3 (change 0.1), then the best it can add is 2 (1.1); the beam keeps 0
    # and 1 alive and finds that removing both cancels exactly (5 - 5)
    spec = SparseSpectrum(4, np.arange(4)[:, None], np.array([5.0, -5.0, 1.0, 0.1]), "moebius")
    greedy = least_change_subset(spec, 2, beam_width=1)
    assert greedy.players == (2, 3)
    assert greedy.predicted_change == pytest.approx(-1.1)
    res = least_change_subset(spec, 2, beam_width=6)
    assert res.players == (0, 1)
    assert res.predicted_change == pytest.approx(0.0)
    assert res.optimal is True  # 4 sets of size 1, 6 of size 2: nothing was pruned


# ------------------------------------------------------------------ choosers
def test_interaction_chooser_min_equals_brute_force():
    spec = random_spectrum(5, 7, 12, "moebius")
    chooser = interaction_chooser(spec, "min")
    for r in (1, 2, 3):
        sets = list(itertools.combinations(range(7), r))
        x = np.ones((len(sets), 7), dtype=bool)
        for i, c in enumerate(sets):
            x[i, list(c)] = False
        best = spec.evaluate(x).min()
        chosen = chooser(r)
        y = np.ones(7, dtype=bool)
        y[list(chosen)] = False
        assert len(chosen) == r
        assert spec(y[None])[0] == pytest.approx(best, abs=1e-6)


def test_marginal_chooser():
    phi = np.array([0.3, -1.2, 2.0, 0.05, -0.4, 0.9, -0.95, 0.6])
    assert marginal_chooser(phi, "min")(3) == (2, 5, 7)  # the three largest values
    assert marginal_chooser(phi, "max")(2) == (1, 6)
    additive = SparseSpectrum(8, np.arange(8)[:, None], phi, "moebius")
    for r in range(1, 5):
        chosen = marginal_chooser(phi, "min_change", beam_width=70)(r)
        assert len(chosen) == r
        assert abs(phi[list(chosen)].sum()) == pytest.approx(
            brute_min_change(additive, r, "remove")
        )


# ------------------------------------------------------------------ data_report
def test_data_report_on_digits():
    game = DataAttributionGame.from_digits(n_train=14, random_state=0)
    spec = SparseSpectrum(14, np.arange(14)[:, None], np.linspace(-1, 1, 14), "moebius")
    report = data_report(game, spec + SparseSpectrum.from_dict(14, {(2, 5): 0.4}, "moebius"))
    assert isinstance(report, DataReport)
    assert report.labels == tuple((int(v),) for v in game.y_train)
    (check,) = report.synergy
    assert check.players == (2, 5)
    assert report.redundancy == ()
    y = np.ones(14, dtype=bool)
    y[[2, 5]] = False
    assert check.joint_drop == pytest.approx(game.original_model_output - game(y[None])[0])
    assert report.full_value == pytest.approx(game.original_model_output)


def test_data_report_labels_of_grouped_players_and_marginals():
    game = DataAttributionGame.from_digits(n_train=16, group_size=4, random_state=1)
    spec = SparseSpectrum.from_dict(4, {(0, 1): 0.5, (2, 3): -0.25, (1,): 0.2}, "moebius")
    phi = np.array([0.1, 0.4, -0.2, 0.0])
    report = data_report(game, spec, k=3, marginals={"Banzhaf": phi})
    assert report.labels[1] == tuple(game.y_train[4:8].tolist())
    assert [c.players for c in report.synergy] == [(0, 1)]
    assert [c.players for c in report.redundancy] == [(2, 3)]
    assert report.synergy[0].predicted == pytest.approx(0.5)
    assert "Banzhaf +0.400 (rank 1/4)" in report.member_text(1)
    text = report.to_markdown()
    for piece in ("**redundancy**", "#3 (", "rank 4/4"):
        assert piece in text


# ------------------------------------------------------------------ errors
def test_errors():
    game = SparseMoebiusGame.from_coefficients(5, {(0, 1): 1.0, (2,): 0.5})
    spec6 = SparseSpectrum.from_dict(6, HAND, "moebius")
    spec5 = game.moebius_spectrum
    with pytest.raises(InvalidParameterError, match="'kind'"):
        interaction_groups(spec5, kind="synergies")
    with pytest.raises(InvalidParameterError, match="'context'"):
        interaction_groups(spec5, kind="synergy", context="middle")
    with pytest.raises(InvalidParameterError, match="'k'"):
        interaction_groups(spec5, kind="synergy", k=0)
    with pytest.raises(InvalidParameterError, match="'max_order'"):
        interaction_groups(spec5, kind="synergy", min_order=3, max_order=2)
    with pytest.raises(InvalidParameterError, match="'spectrum'"):
        interaction_groups({(0, 1): 1.0}, kind="synergy")
    with pytest.raises(InvalidParameterError, match="n=6 players but the game has 5"):
        verify_groups(game, [(0, 1)], spectrum=spec6)
    with pytest.raises(InvalidParameterError, match="'groups'"):
        verify_groups(game, [(0, 5)])
    with pytest.raises(InvalidParameterError, match="'groups'"):
        verify_groups(game, [(1, 1)])
    with pytest.raises(InvalidParameterError, match="empty group"):
        verify_groups(game, [()])
    with pytest.raises(InvalidParameterError, match="'groups' parameter is empty"):
        verify_groups(game, [])
    with pytest.raises(InvalidParameterError, match="'groups' parameter must hold player"):
        verify_groups(game, [("a", "b")])
    with pytest.raises(InvalidParameterError, match="n_players"):
        verify_groups(lambda x: np.zeros(len(x)), [(0, 1)])
    with pytest.raises(InvalidParameterError, match="'game' parameter must be callable"):
        verify_groups(np.ones(5), [(0, 1)])
    with pytest.raises(InvalidParameterError, match="'r'"):
        least_change_subset(spec5, 6)
    with pytest.raises(InvalidParameterError, match="'objective'"):
        interaction_chooser(spec5, "keep")
    with pytest.raises(InvalidParameterError, match="'mode' keyword"):
        interaction_chooser(spec5, "min", mode="keep")
    with pytest.raises(InvalidParameterError, match="'groups' and 'y_train'"):
        data_report(game, spec5)


def test_nan_game_values_are_refused():
    class NanGame:
        n_players = 4

        def __call__(self, x):
            out = np.ones(x.shape[0])
            out[-1] = np.nan
            return out

    with pytest.raises(InvalidGameError, match="NaN or inf"):
        verify_groups(NanGame(), [(0, 1)])
