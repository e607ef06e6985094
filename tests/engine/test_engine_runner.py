"""QueryEngine: dedupe, batching, validation, progress, stats, shapiq integration."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest
from engine_games import FailingGame, LinearGame, linear_values

from shapiq_spex.engine import (
    BatchEvaluationError,
    EngineStats,
    QueryEngine,
    SQLiteStore,
    probe_coalitions,
)
from shapiq_spex.engine.store import pack_coalitions
from shapiq_spex.exceptions import InvalidGameError, InvalidParameterError


def _rows(batches: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(batches) if batches else np.zeros((0, 0), dtype=bool)


def _check_invariant(stats: EngineStats) -> None:
    assert stats.queries == stats.evaluated + stats.cache_hits + stats.duplicates_saved


class TestDedupeAndBatching:
    def test_each_distinct_coalition_is_evaluated_once(self, coalitions):
        game = LinearGame(12)
        engine = QueryEngine(game, batch_size=64, progress=False)
        values = engine(coalitions)
        np.testing.assert_array_equal(values, linear_values(coalitions, game.weights))
        evaluated = _rows(game.batches)
        n_distinct = len(np.unique(coalitions, axis=0))
        assert len(evaluated) == n_distinct
        assert len(np.unique(evaluated, axis=0)) == n_distinct

    def test_batches_are_bool_and_bounded(self, coalitions):
        game = LinearGame(12)
        QueryEngine(game, batch_size=64, progress=False)(coalitions.astype(int))
        n_distinct = len(np.unique(coalitions, axis=0))
        assert [len(b) for b in game.batches] == [64] * (n_distinct // 64) + [n_distinct % 64]
        assert all(b.dtype == bool and b.shape[1] == 12 for b in game.batches)

    def test_first_appearance_order(self, coalitions):
        game = LinearGame(12)
        QueryEngine(game, batch_size=1000, progress=False)(coalitions)
        _, first = np.unique(coalitions, axis=0, return_index=True)
        np.testing.assert_array_equal(game.batches[0], coalitions[np.sort(first)])

    def test_dedupe_across_calls(self, coalitions):
        game = LinearGame(12)
        engine = QueryEngine(game, batch_size=50, progress=False)
        engine(coalitions[:200])
        before = game.n_evaluated
        values = engine(coalitions[100:])
        np.testing.assert_array_equal(values, linear_values(coalitions[100:], game.weights))
        new = len(np.unique(coalitions, axis=0)) - len(np.unique(coalitions[:200], axis=0))
        assert game.n_evaluated - before == new
        stats = engine.stats
        _check_invariant(stats)
        assert stats.evaluated == game.n_evaluated
        assert stats.batches == len(game.batches)
        assert stats.cache_hits == 0
        assert stats.queries == 200 + len(coalitions) - 100

    def test_one_dimensional_and_tuple_inputs(self):
        game = LinearGame(5)
        engine = QueryEngine(game, progress=False)
        row = np.array([1, 0, 1, 0, 0], dtype=bool)
        np.testing.assert_array_equal(engine(row), linear_values(row[None], game.weights))
        np.testing.assert_array_equal(engine([(0, 2), ()]), engine(np.array([row, row & False])))
        assert engine(np.zeros((0, 5), dtype=bool)).shape == (0,)

    def test_stats_and_reset(self, coalitions):
        engine = QueryEngine(LinearGame(12), batch_size=32, progress=False)
        engine(coalitions)
        stats = engine.stats
        assert stats.total_time_s >= stats.model_time_s > 0
        assert stats.as_dict()["batches"] == stats.batches
        engine.reset_stats()
        assert engine.stats == EngineStats()
        engine(coalitions)  # everything is remembered now
        assert engine.stats.duplicates_saved == len(coalitions)
        assert engine.stats.evaluated == 0


class TestValidation:
    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"batch_size": 0}, "'batch_size'"),
            ({"batch_size": 2.5}, "'batch_size'"),
            ({"executor": "gpu"}, "'executor'"),
            ({"executor": "serial", "n_workers": 2}, "'n_workers'"),
            ({"executor": "threads", "n_workers": 0}, "'n_workers'"),
            ({"n_players": 7}, "'n_players'"),
            ({"key": ""}, "'key'"),
            ({"key": 3}, "'key'"),
            ({"read_only": 1}, "'read_only'"),
            ({"progress": "yes"}, "'progress'"),
            ({"cache": 3}, "'cache'"),
        ],
    )
    def test_bad_parameters(self, kwargs, match):
        with pytest.raises(InvalidParameterError, match=match):
            QueryEngine(LinearGame(6), **kwargs)

    def test_closed_engine_refuses_calls(self, tmp_path):
        engine = QueryEngine(LinearGame(4), cache=tmp_path / "c.sqlite", key="g")
        engine.close()
        engine.close()
        with pytest.raises(InvalidParameterError, match="closed"):
            engine(np.eye(4, dtype=bool))

    def test_n_players_required_for_plain_callables(self):
        with pytest.raises(InvalidParameterError, match="'n_players'"):
            QueryEngine(lambda x: x.sum(1))
        assert QueryEngine(lambda x: x.sum(1), n_players=3).n_players == 3

    def test_bad_coalitions(self):
        engine = QueryEngine(LinearGame(6), progress=False)
        with pytest.raises(InvalidParameterError, match="shape"):
            engine(np.ones((3, 5), dtype=bool))
        with pytest.raises(InvalidParameterError, match="boolean"):
            engine(np.full((3, 6), 2))
        with pytest.raises(InvalidParameterError, match="tuple of player"):
            engine([("alice",)])

    @pytest.mark.parametrize(
        "mode", ["nan", "inf", "shape", "dtype", "numeric_str", "complex", "object"]
    )
    def test_bad_values_are_rejected_and_never_cached(self, tmp_path, coalitions, mode):
        # Call 0 of the game is the probe batch, call 1 batch 0, call 2 (bad) batch 1.
        game = FailingGame(12, fail_at=2, mode=mode)
        engine = QueryEngine(game, cache=tmp_path / "c.sqlite", batch_size=40, key="g")
        with pytest.raises(InvalidGameError, match=r"batch 1 of \d+ \(size 40\)") as info:
            engine(coalitions)
        assert "not cached" in str(info.value)
        store = SQLiteStore(tmp_path / "c.sqlite")
        store.bind({"key": "g"}, 12)
        probes = set(pack_coalitions(probe_coalitions(12)).tolist())
        assert set(store.keys()) == probes | set(pack_coalitions(game.batches[1]).tolist())
        assert len(store) == 4 + 40  # the probes and batch 0 only
        stored = store.get_many(store.keys())
        assert all(np.isfinite(v) for v in stored.values())
        store.close()
        # Repeating the call evaluates only what was not committed (the game is fine now).
        before = game.n_evaluated
        values = engine(coalitions)
        np.testing.assert_array_equal(values, linear_values(coalitions, game.weights))
        assert game.n_evaluated - before == len(_distinct(coalitions) - set(stored))

    @pytest.mark.parametrize(
        ("mode", "match"),
        [
            ("complex", r"complex values \(dtype complex128\).*values\.real"),
            ("numeric_str", r"strings \(dtype <U\d+, e\.g\. np\.str_\('-?\d.*never converted"),
            ("object", r"non-numeric values \(dtype object"),
            ("shape", r"shape \(40, 2\) for 40 coalitions"),
        ],
    )
    def test_bad_value_messages_name_the_fix(self, mode, match):
        engine = QueryEngine(FailingGame(12, fail_at=0, mode=mode), batch_size=40, progress=False)
        rows = np.random.default_rng(1).random((40, 12)) < 0.5
        with pytest.raises(InvalidGameError, match=match):
            engine(rows)

    def test_column_values_are_accepted(self):
        game = LinearGame(5)
        engine = QueryEngine(lambda x: game(x)[:, None], n_players=5, progress=False)
        rows = np.eye(5, dtype=bool)
        np.testing.assert_array_equal(engine(rows), linear_values(rows, game.weights))

    def test_raising_game_keeps_earlier_batches(self, tmp_path, coalitions):
        game = FailingGame(12, fail_at=3, mode="raise")  # the probes, batches 0 and 1, then 2
        cache = tmp_path / "c.sqlite"
        engine = QueryEngine(game, cache=cache, batch_size=30, key="g")
        with pytest.raises(BatchEvaluationError, match=r"batch 2 of \d+ \(size 30") as info:
            engine(coalitions)
        assert isinstance(info.value.__cause__, ValueError)
        assert "2 batches that finished before it are committed" in str(info.value)
        assert str(cache) in str(info.value)
        engine.close()
        # A new engine on the same file (a new process, say) resumes after the committed batches.
        fresh = LinearGame(12)
        resumed = QueryEngine(fresh, cache=cache, batch_size=30, key="g")
        values = resumed(coalitions)
        np.testing.assert_array_equal(values, linear_values(coalitions, fresh.weights))
        probes = set(pack_coalitions(probe_coalitions(12)).tolist())
        assert resumed.stats.cache_hits == 60
        assert resumed.stats.probe_evaluated == 4
        assert fresh.n_evaluated == 4 + len(_distinct(coalitions) - probes) - 60
        _check_invariant(resumed.stats)


def _distinct(rows: np.ndarray) -> set[bytes]:
    return set(pack_coalitions(rows).tolist())


class TestProgress:
    def test_silent_when_stderr_is_not_a_terminal(self, capsys, coalitions):
        QueryEngine(LinearGame(12), batch_size=16, progress=True)(coalitions)
        assert capsys.readouterr().err == ""

    def test_bar_on_a_terminal(self, capsys, monkeypatch, coalitions):
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        engine = QueryEngine(LinearGame(12), batch_size=16, progress=True)
        engine(coalitions[:10])
        engine(coalitions)
        err = capsys.readouterr().err
        assert "QueryEngine" in err
        assert "query" in err
        assert "dupes=" in err

    def test_progress_false_is_silent_on_a_terminal(self, capsys, monkeypatch, coalitions):
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        QueryEngine(LinearGame(12), batch_size=16, progress=False)(coalitions)
        assert capsys.readouterr().err == ""


class TestShapiqIntegration:
    def test_is_a_shapiq_game(self):
        import shapiq

        engine = QueryEngine(LinearGame(6), progress=False)
        assert isinstance(engine, shapiq.Game)
        assert engine.n_players == 6
        assert engine.normalization_value == 0
        assert engine.grand_coalition_value == pytest.approx(LinearGame(6).weights.sum() + 0.5)
        with pytest.raises(InvalidParameterError, match="pickle"):
            pickle.dumps(engine)

    @pytest.mark.parametrize("approximator", ["KernelSHAP", "RegressionFSII"])
    def test_approximator_gives_identical_results(self, approximator):
        import shapiq
        from shapiq_games.synthetic import DummyGame

        game = DummyGame(8, interaction=(1, 2))
        cls = getattr(shapiq.approximator, approximator)
        kwargs = {"max_order": 2} if approximator == "RegressionFSII" else {}
        direct = cls(n=8, random_state=3, **kwargs).approximate(budget=120, game=game)
        engine = QueryEngine(game, batch_size=17, progress=False)
        through = cls(n=8, random_state=3, **kwargs).approximate(budget=120, game=engine)
        assert direct.interaction_lookup == through.interaction_lookup
        np.testing.assert_array_equal(direct.values, through.values)
        assert engine.stats.evaluated == 120
        assert engine.stats.batches == -(-120 // 17)
