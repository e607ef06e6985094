"""Tests of shapiq_spex.optimize.pruning: the generic pruning experiment (heads, data, any)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shapiq_spex.exceptions import InvalidGameError, InvalidParameterError
from shapiq_spex.games import DataAttributionGame
from shapiq_spex.games.synthetic import SparseMoebiusGame, SpectrumGame
from shapiq_spex.optimize.choosers import interaction_chooser, marginal_chooser
from shapiq_spex.optimize.heads import heads_to_prune
from shapiq_spex.optimize.pruning import PruningResult, pruning_experiment
from shapiq_spex.spectra import SparseSpectrum


class CountingGame:
    """A game that records every call (and can spoil its last value)."""

    def __init__(self, game, *, bad: float | None = None) -> None:
        self.game = game
        self.n_players = game.n_players
        self.calls: list[np.ndarray] = []
        self.bad = bad

    def __call__(self, coalitions):
        self.calls.append(np.array(coalitions, dtype=bool))
        out = np.array(self.game(coalitions), dtype=np.float64)
        if self.bad is not None:
            out[-1] = self.bad
        return out


@pytest.fixture
def game():
    return SparseMoebiusGame(8, 10, 3, hierarchical=True, constant=2.0, random_state=5)


def removed_value(game, players) -> float:
    """The game's value with ``players`` removed, by a direct call."""
    x = np.ones(game.n_players, dtype=bool)
    x[list(players)] = False
    return float(game(x[None, :])[0])


def brute_best_removal(spectrum: SparseSpectrum, r: int) -> float:
    """Largest surrogate value after removing exactly r players (all r-sets)."""
    n = spectrum.n
    sets = list(itertools.combinations(range(n), r))
    x = np.ones((len(sets), n), dtype=bool)
    for row, players in enumerate(sets):
        x[row, list(players)] = False
    return float(spectrum.evaluate(x).max())


# ---------------------------------------------------------------------------------- values
def test_values_equal_direct_calls_with_head_choosers_and_a_list(game):
    spectrum = game.spectrum
    phi = np.random.default_rng(0).normal(size=8)
    rs = [1, 2, 4]
    fixed = [(7,), (0, 3), (1, 2, 5, 6)]
    counting = CountingGame(game)
    res = pruning_experiment(
        counting,
        {
            "interactions": lambda r: heads_to_prune(spectrum, r, by="interactions"),
            "marginal": lambda r: heads_to_prune(phi, r, by="marginal"),
            "fixed": fixed,
        },
        rs,
        n_random=5,
        random_state=0,
    )
    assert isinstance(res, PruningResult)
    assert len(counting.calls) == 1  # one batched call
    sent = counting.calls[0]
    assert res.n_queries == sent.shape[0] == len(np.unique(sent, axis=0))  # each coalition once
    assert res.rs.tolist() == rs
    assert res.names == ("interactions", "marginal", "fixed")
    assert res.values.shape == (3, 3)
    assert res.full_value == pytest.approx(removed_value(game, ()))
    for c, name in enumerate(res.names):
        for j, r in enumerate(rs):
            players = res.removed[name][j]
            assert len(players) == r
            assert list(players) == sorted(players)
            assert res.values[c, j] == pytest.approx(removed_value(game, players), abs=1e-12)
    assert res.removed["fixed"] == tuple(fixed)
    assert res.removed["marginal"][1] == tuple(sorted(np.argsort(phi)[:2].tolist()))
    # the interaction choice is the best removal for the game itself (noiseless surrogate)
    for j, r in enumerate(rs):
        assert res.values[0, j] == pytest.approx(brute_best_removal(spectrum, r), abs=1e-9)
        assert res.values[0, j] >= res.values[1, j] - 1e-12
    assert res.random_values.shape == (5, 3)
    for i in range(5):
        for j, r in enumerate(rs):
            players = res.random_orders[i, :r]
            assert res.random_values[i, j] == pytest.approx(removed_value(game, players))
    mean, std = res.random_stats()
    np.testing.assert_allclose(mean, res.random_values.mean(axis=0))
    np.testing.assert_allclose(std, res.random_values.std(axis=0, ddof=1))


def test_values_equal_direct_calls_with_data_choosers():
    base = SparseMoebiusGame(10, 15, 3, noise_std=0.05, random_state=7)
    game = CountingGame(base)
    spec = base.moebius_spectrum
    calls = []

    def fixed(r):
        calls.append(r)
        return np.arange(r)  # an int array is a valid answer

    choices = {
        "interactions": interaction_chooser(spec, "min"),
        "keep": interaction_chooser(spec, "min_change"),
        "fixed": fixed,
    }
    res = pruning_experiment(game, choices, [0, 1, 3], n_random=6, random_state=11)
    assert len(game.calls) == 1
    assert calls == [0, 1, 3]  # a callable chooser is asked once per r, in order
    assert res.n_queries == game.calls[0].shape[0]
    full = np.ones(10, dtype=bool)
    assert res.full_value == pytest.approx(base(full[None])[0])
    for c, name in enumerate(choices):
        for j, players in enumerate(res.removed[name]):
            assert len(players) == res.rs[j]
            assert res.values[c, j] == pytest.approx(removed_value(base, players))
    assert res.removed["fixed"][2] == (0, 1, 2)
    # r = 0 removes nothing, for every chooser and every draw
    np.testing.assert_allclose(res.values[:, 0], res.full_value)
    np.testing.assert_allclose(res.random_values[:, 0], res.full_value)


def test_duplicates_are_queried_once(game):
    counting = CountingGame(game)
    res = pruning_experiment(
        counting, {"a": [(0,), (0, 1)], "b": [{0}, [1, 0]]}, [1, 2], n_random=0
    )
    assert counting.calls[0].shape[0] == res.n_queries == 3  # all kept, {0}, {0, 1} removed
    np.testing.assert_array_equal(res.values[0], res.values[1])
    assert res.removed["b"] == ((0,), (0, 1))  # sets and unsorted lists are normalised
    assert res.random_values.shape == (0, 2)
    assert res.random_orders.shape == (0, 8)
    mean, std = res.random_stats()
    assert np.isnan(mean).all()
    assert np.isnan(std).all()


def test_game_without_n_players_needs_n(game):
    def f(x):
        return game.spectrum.evaluate(x)

    res = pruning_experiment(f, {"a": [(3,)]}, [1], n_random=2, random_state=0, n=8)
    assert res.values[0, 0] == pytest.approx(removed_value(game, (3,)))
    assert res.random_orders.shape == (2, 8)
    with pytest.raises(InvalidParameterError, match="pass n="):
        pruning_experiment(f, {"a": [(3,)]}, [1])


def test_on_a_retraining_game():
    game = DataAttributionGame.from_digits(n_train=14, random_state=0)
    phi = np.linspace(-1, 1, 14)
    res = pruning_experiment(
        game, {"top": marginal_chooser(phi, "min")}, [2], n_random=2, random_state=0
    )
    assert res.removed["top"] == ((12, 13),)  # the two largest values
    assert res.full_value == pytest.approx(game.original_model_output)
    assert res.values[0, 0] == pytest.approx(removed_value(game, (12, 13)))
    for i in range(2):
        players = res.random_orders[i, :2]
        assert res.random_values[i, 0] == pytest.approx(removed_value(game, players))


# ---------------------------------------------------------------------------------- random
def test_random_baseline_is_seeded(game):
    rs = [0, 2, 8]
    one = pruning_experiment(game, {}, rs, n_random=6, random_state=11)
    two = pruning_experiment(game, {}, rs, n_random=6, random_state=11)
    other = pruning_experiment(game, {}, rs, n_random=6, random_state=12)
    np.testing.assert_array_equal(one.random_orders, two.random_orders)
    np.testing.assert_array_equal(one.random_values, two.random_values)
    assert not np.array_equal(one.random_orders, other.random_orders)
    assert not np.array_equal(one.random_values[:, 1], other.random_values[:, 1])
    for order in one.random_orders:
        assert sorted(order.tolist()) == list(range(8))  # permutations
    np.testing.assert_allclose(one.random_values[:, 0], one.full_value)  # r = 0 removes nothing
    np.testing.assert_allclose(one.random_values[:, 2], removed_value(game, range(8)))
    # the orders do not depend on the choosers, so experiments can be compared head to head
    three = pruning_experiment(
        game, {"x": [(), (0, 1), tuple(range(8))]}, rs, n_random=6, random_state=11
    )
    np.testing.assert_array_equal(three.random_orders, one.random_orders)
    # the documented scheme: argsort of one (n_random, n) uniform draw of the generator
    expected = np.argsort(np.random.default_rng(11).random((6, 8)), axis=1)
    np.testing.assert_array_equal(one.random_orders, expected)


def test_random_sets_are_nested_in_r(game):
    counting = CountingGame(game)
    rs = [3, 1, 5, 2]  # any order
    res = pruning_experiment(counting, {}, rs, n_random=7, random_state=3)
    sent = counting.calls[0]
    # every coalition sent is all-kept or one of the random draws' removals
    for i in range(7):
        sets = [set(res.random_orders[i, :r].tolist()) for r in rs]
        for small, big in itertools.pairwise(sorted(sets, key=len)):
            assert small < big
        for j, players in enumerate(sets):
            x = np.ones(8, dtype=bool)
            x[list(players)] = False
            assert (sent == x).all(axis=1).any()
            assert res.random_values[i, j] == pytest.approx(removed_value(game, players))


def test_each_random_set_is_a_uniform_r_subset():
    # 4 players, r = 2: the 6 pairs come up equally often (first 2 of a uniform permutation)
    spectrum = SparseSpectrum.from_dict(4, {(0,): 1.0, (1,): 2.0, (2,): 4.0, (3,): 8.0}, "moebius")
    res = pruning_experiment(SpectrumGame(spectrum), {}, [2], n_random=6000, random_state=0)
    pairs = np.sort(res.random_orders[:, :2], axis=1)
    _, counts = np.unique(pairs, axis=0, return_counts=True)
    assert counts.size == 6
    assert np.all(np.abs(counts - 1000) < 120)  # about 4 standard deviations
    # and the values are those of the pairs: total 15 minus the removed weights
    removed = (2.0 ** res.random_orders[:, :2]).sum(axis=1)
    np.testing.assert_allclose(res.random_values[:, 0], 15.0 - removed)


def test_a_generator_is_used_as_is(game):
    rng = np.random.default_rng(4)
    first = pruning_experiment(game, {}, [2], n_random=3, random_state=rng)
    second = pruning_experiment(game, {}, [2], n_random=3, random_state=rng)
    assert not np.array_equal(first.random_orders, second.random_orders)  # the stream advanced
    again = pruning_experiment(game, {}, [2], n_random=3, random_state=np.random.default_rng(4))
    np.testing.assert_array_equal(again.random_orders, first.random_orders)


# ---------------------------------------------------------------------------------- metrics
@pytest.fixture
def small():
    """v = 1 + 0.5 x0 + 0.25 x1 on 3 players: full value 1.75."""
    spectrum = SparseSpectrum.from_dict(3, {(): 1.0, (0,): 0.5, (1,): 0.25}, "moebius")
    return SpectrumGame(spectrum)


def test_metrics_hand_computed(small):
    res = pruning_experiment(
        small, {"a": [(0,), (0, 1)], "b": [(2,), (1, 2)]}, [1, 2], n_random=4, random_state=1
    )
    assert res.full_value == pytest.approx(1.75)
    np.testing.assert_allclose(res.metric("a"), [1.25, 1.0])
    np.testing.assert_allclose(res.metric("a", "change"), [-0.5, -0.75])
    np.testing.assert_allclose(res.metric("a", "abs_change"), [0.5, 0.75])
    np.testing.assert_allclose(res.metric("b", "change"), [0.0, -0.25])
    res.metric("a")[0] = 99.0  # a copy: the result is not changed
    assert res.values[0, 0] == pytest.approx(1.25)
    weight = np.array([0.5, 0.25, 0.0])
    drops = np.stack([weight[res.random_orders[:, :r]].sum(axis=1) for r in (1, 2)], axis=1)
    for metric, expected in (("value", 1.75 - drops), ("change", -drops), ("abs_change", drops)):
        mean, std = res.random_stats(metric)
        np.testing.assert_allclose(mean, expected.mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(std, expected.std(axis=0, ddof=1), atol=1e-12)
    one = pruning_experiment(small, {}, [1, 2], n_random=1, random_state=1)
    mean, std = one.random_stats()
    np.testing.assert_allclose(mean, one.random_values[0])
    assert np.isnan(std).all()  # a single draw has no sample standard deviation


def test_tables_and_rows(small):
    res = pruning_experiment(small, {"a": [(0,), (0, 1)], "b": [(2,), (1, 2)]}, [1, 2], n_random=0)
    assert res.to_markdown(digits=2).splitlines() == [
        "| r | a | b |",
        "| --- | --- | --- |",
        "| 0 | 1.75 | 1.75 |",
        "| 1 | 1.25 | 1.75 |",
        "| 2 | 1.00 | 1.50 |",
    ]
    assert res.to_markdown("change", digits=2, label="k removed").splitlines() == [
        "| k removed | a | b |",
        "| --- | --- | --- |",
        "| 1 | -0.50 | 0.00 |",
        "| 2 | -0.75 | -0.25 |",
    ]
    assert res.to_markdown().endswith("|\n")
    assert res.removed_markdown(["A", "B", "C"]).splitlines() == [
        "| r | a | b |",
        "| --- | --- | --- |",
        "| 1 | A | C |",
        "| 2 | A B | B C |",
    ]
    assert "| 2 | 0 1 | 1 2 |" in res.removed_markdown(label="k")
    assert res.rows() == [
        {"r": 1, "full_value": 1.75, "a": 1.25, "b": 1.75},
        {"r": 2, "full_value": 1.75, "a": 1.0, "b": 1.5},
    ]
    assert res.rows("abs_change")[1] == {"r": 2, "full_value": 1.75, "a": 0.75, "b": 0.25}
    # with r = 0 in rs there is no extra row
    zero = pruning_experiment(small, {"a": [(), (0,)]}, [0, 1], n_random=0)
    assert [line.split(" | ")[0] for line in zero.to_markdown().splitlines()[2:]] == ["| 0", "| 1"]


def test_tables_with_the_random_baseline(game):
    res = pruning_experiment(game, {"a": [(0,), (0, 1)]}, [1, 2], n_random=3, random_state=0)
    mean, std = res.random_stats()
    lines = res.to_markdown().splitlines()
    assert lines[0] == "| r | a | random (mean ± std of 3) |"
    assert lines[2] == f"| 0 | {res.full_value:.3f} | {res.full_value:.3f} |"
    assert lines[3] == f"| 1 | {res.values[0, 0]:.3f} | {mean[0]:.3f} ± {std[0]:.3f} |"
    amean, astd = res.random_stats("abs_change")
    change = res.to_markdown("abs_change", digits=4).splitlines()
    assert change[2] == (
        f"| 1 | {abs(res.values[0, 0] - res.full_value):.4f} | {amean[0]:.4f} ± {astd[0]:.4f} |"
    )
    assert change[3].endswith(f"| {amean[1]:.4f} ± {astd[1]:.4f} |")
    row = res.rows("change")[1]
    assert row == {
        "r": 2,
        "full_value": res.full_value,
        "a": pytest.approx(res.values[0, 1] - res.full_value),
        "random_mean": pytest.approx(float(np.mean(res.random_values[:, 1] - res.full_value))),
        "random_std": pytest.approx(float(np.std(res.random_values[:, 1], ddof=1))),
    }


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("choices", "rs", "kwargs", "match"),
    [
        ({"a": [(0,)]}, [9], {}, "'rs'"),
        ({"a": [(0,)]}, [-1], {}, "'rs'"),
        ({"a": [(0,)]}, [1.0], {}, "'rs'"),
        ({"a": [(0,)]}, 3, {}, "'rs' parameter must be an iterable"),
        ({"a": []}, [], {}, "'rs' parameter is empty"),
        ({"a": [(0, 1)]}, [1], {}, "exactly r=1"),
        ({"a": lambda r: range(r + 1)}, [2], {}, "exactly r=2"),
        ({"a": lambda r: (0,)}, [2], {}, "exactly r=2"),
        ({"a": [(0, 0)]}, [2], {}, "distinct"),
        ({"a": [(8,)]}, [1], {}, r"in \[0, 8\)"),
        ({"a": [(-1,)]}, [1], {}, r"in \[0, 8\)"),
        ({"a": [("x",)]}, [1], {}, "player indices"),
        ({"a": [(0.0,)]}, [1], {}, "player indices"),
        ({"a": [(True,)]}, [1], {}, "player indices"),
        ({"a": [None]}, [1], {}, "player indices"),
        ({"a": [(0,), (1,)]}, [1], {}, "one set per r"),
        ({"random": [(0,)]}, [1], {}, "other than 'random'"),
        ({"": [(0,)]}, [1], {}, "non-empty strings"),
        ({3: [(0,)]}, [1], {}, "non-empty strings"),
        ({"a": 3}, [1], {}, "callable r -> players"),
        ({"a": "01"}, [1], {}, "callable r -> players"),
        ([(0,)], [1], {}, "'choices'"),
        ({"a": [(0,)]}, [1], {"n_random": -1}, "'n_random'"),
        ({"a": [(0,)]}, [1], {"n_random": 2.0}, "'n_random'"),
        ({"a": [(0,)]}, [1], {"random_state": -3}, "'random_state'"),
        ({"a": [(0,)]}, [1], {"n": 7}, "8 players but n=7"),
        ({"a": [(0,)]}, [1], {"n": 0}, "'n'"),
    ],
)
def test_errors(game, choices, rs, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        pruning_experiment(game, choices, rs, **kwargs)


def test_errors_name_the_chooser_and_r(game):
    with pytest.raises(InvalidParameterError, match=r"The choice 'b' for r=2 .*exactly r=2"):
        pruning_experiment(game, {"a": [(0,), (0, 1)], "b": [(0,), (0,)]}, [1, 2])


def test_result_method_errors(game):
    res = pruning_experiment(game, {"a": [(0,)]}, [1], n_random=1, random_state=0)
    with pytest.raises(InvalidParameterError, match="'metric'"):
        res.metric("a", "delta")
    with pytest.raises(InvalidParameterError, match="'metric'"):
        res.random_stats("delta")
    with pytest.raises(InvalidParameterError, match="'metric'"):
        res.to_markdown("delta")
    with pytest.raises(InvalidParameterError, match="'name'"):
        res.metric("b")
    with pytest.raises(InvalidParameterError, match="random_stats"):
        res.metric("random")
    with pytest.raises(InvalidParameterError, match="'digits'"):
        res.to_markdown(digits=-1)
    with pytest.raises(InvalidParameterError, match="'names'"):
        res.removed_markdown(["A"])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_game_values_are_refused(game, bad):
    with pytest.raises(InvalidGameError, match="NaN or inf"):
        pruning_experiment(CountingGame(game, bad=bad), {"a": [(0,)]}, [1], n_random=2)


def test_a_wrong_number_of_game_values_is_refused(game):
    with pytest.raises(InvalidGameError, match="returned 1 values"):
        pruning_experiment(lambda x: np.zeros(1), {"a": [(0,)]}, [1], n_random=2, n=8)


def test_needs_a_callable_game():
    with pytest.raises(InvalidParameterError, match="'game' parameter must be callable"):
        pruning_experiment(np.ones(3), {"a": [(0,)]}, [1])
