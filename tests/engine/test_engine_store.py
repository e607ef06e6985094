"""SQLiteStore and the cache behaviour of QueryEngine: round trip, fingerprints, refusals."""

from __future__ import annotations

import sqlite3
import struct

import numpy as np
import pytest
from engine_games import LinearGame, linear_values

from shapiq_spex.engine import CacheMismatchError, QueryEngine, SQLiteStore, probe_coalitions
from shapiq_spex.engine.store import pack_coalitions, unpack_keys
from shapiq_spex.exceptions import InvalidParameterError


class TestKeys:
    @pytest.mark.parametrize("n", [1, 7, 8, 9, 64, 1000])
    def test_pack_unpack_round_trip(self, n):
        rows = np.random.default_rng(n).random((50, n)) < 0.5
        keys = pack_coalitions(rows).tolist()
        assert all(isinstance(k, bytes) and len(k) == (n + 7) // 8 for k in keys)
        np.testing.assert_array_equal(unpack_keys(keys, n), rows)

    def test_equal_rows_equal_keys(self):
        rows = np.array([[1, 0, 1], [1, 0, 1], [0, 0, 1]], dtype=bool)
        keys = pack_coalitions(rows).tolist()
        assert keys[0] == keys[1] != keys[2]


class TestSQLiteStore:
    def test_round_trip_is_bit_exact(self, tmp_path):
        values = np.array([-0.0, 0.0, 5e-324, 1e308, -1.5, 1 / 3, 2.0**60])
        keys = [bytes([i]) for i in range(len(values))]
        store = SQLiteStore(tmp_path / "c.sqlite")
        store.bind("game", 8)
        store.put_many(keys, values)
        store.close()
        reopened = SQLiteStore(tmp_path / "c.sqlite")
        reopened.bind("game", 8)
        got = reopened.get_many([*keys, b"\xff"])
        assert len(reopened) == len(values)
        assert b"\xff" not in got
        for key, value in zip(keys, values, strict=True):
            assert struct.pack("<d", got[key]) == struct.pack("<d", value)

    def test_wal_mode_and_many_keys(self, tmp_path):
        store = SQLiteStore(tmp_path / "c.sqlite")
        store.bind("game", 16)
        rows = np.unique(np.random.default_rng(0).random((3000, 16)) < 0.5, axis=0)
        keys = pack_coalitions(rows).tolist()
        store.put_many(keys, np.arange(len(keys), dtype=float))
        got = store.get_many(keys)  # more keys than one SQL statement may bind
        assert [got[k] for k in keys] == list(range(len(keys)))
        with sqlite3.connect(tmp_path / "c.sqlite") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_refuses_other_files(self, tmp_path):
        (tmp_path / "notes.txt").write_text("x" * 200)
        with pytest.raises(InvalidParameterError, match="not a SQLite database"):
            SQLiteStore(tmp_path / "notes.txt")
        with sqlite3.connect(tmp_path / "other.db") as conn:
            conn.execute("CREATE TABLE t (a)")
        with pytest.raises(InvalidParameterError, match="not a shapiq-spex query cache"):
            SQLiteStore(tmp_path / "other.db")
        with pytest.raises(InvalidParameterError, match="does not exist"):
            SQLiteStore(tmp_path / "missing" / "c.sqlite")
        with pytest.raises(InvalidParameterError, match="folder"):
            SQLiteStore(tmp_path)

    def test_unbound_store_refuses_reads(self, tmp_path):
        with pytest.raises(InvalidParameterError, match="bound"):
            SQLiteStore(tmp_path / "c.sqlite").get_many([b"\x00"])


class TestEngineCache:
    def test_round_trip_evaluates_nothing_twice(self, tmp_path, coalitions):
        cache = tmp_path / "c.sqlite"
        first = LinearGame(12)
        with QueryEngine(first, cache=cache, batch_size=50, progress=False) as engine:
            values = engine(coalitions)
        # Each distinct coalition once, plus the 4 fingerprint probes (that are not among them).
        with_probes = np.concatenate([coalitions, probe_coalitions(12)])
        assert first.n_evaluated == len(np.unique(with_probes, axis=0))
        assert len(first.batches[0]) == 4

        second = LinearGame(12)
        with QueryEngine(second, cache=cache, batch_size=50, progress=False) as engine:
            again = engine(coalitions)
            stats = engine.stats
        np.testing.assert_array_equal(again, values)
        np.testing.assert_array_equal(again, linear_values(coalitions, second.weights))
        assert second.n_evaluated == 4  # only the probe batch
        assert stats.evaluated == 0
        assert stats.probe_evaluated == 4
        assert stats.cache_hits + stats.duplicates_saved == len(coalitions)

    def test_explicit_fingerprint_skips_the_probe(self, tmp_path, coalitions):
        game = LinearGame(12)
        engine = QueryEngine(game, cache=tmp_path / "c.sqlite", fingerprint="review-17")
        engine(coalitions)
        assert game.n_evaluated == len(np.unique(coalitions, axis=0))
        assert engine.stats.probe_evaluated == 0
        assert engine.game_fingerprint == "review-17"

    def test_automatic_fingerprint(self):
        a = QueryEngine(LinearGame(12, seed=1), progress=False).game_fingerprint
        b = QueryEngine(LinearGame(12, seed=1), progress=False).game_fingerprint
        c = QueryEngine(LinearGame(12, seed=2), progress=False).game_fingerprint
        assert a == b != c
        assert a.startswith("engine_games.LinearGame|n=12|probe=")
        probes = probe_coalitions(12)
        assert probes.shape == (4, 12)
        assert not probes[0].any()
        assert probes[1].all()

    def test_other_game_is_refused(self, tmp_path, coalitions):
        cache = tmp_path / "c.sqlite"
        QueryEngine(LinearGame(12, seed=1), cache=cache, progress=False)(coalitions)
        other = QueryEngine(LinearGame(12, seed=2), cache=cache, progress=False)
        with pytest.raises(CacheMismatchError) as info:
            other(coalitions)
        msg = str(info.value)
        old = QueryEngine(LinearGame(12, seed=1), progress=False).game_fingerprint
        assert str(cache) in msg
        assert old in msg
        assert other.game_fingerprint in msg
        assert "overwrite=True" in msg
        assert "new 'cache' path" in msg

    def test_overwrite_replaces_the_values(self, tmp_path, coalitions):
        cache = tmp_path / "c.sqlite"
        QueryEngine(LinearGame(12, seed=1), cache=cache, fingerprint="a")(coalitions)
        game = LinearGame(12, seed=2)
        engine = QueryEngine(game, cache=cache, fingerprint="b", overwrite=True)
        np.testing.assert_array_equal(engine(coalitions), linear_values(coalitions, game.weights))
        assert engine.stats.cache_hits == 0
        with pytest.raises(CacheMismatchError):
            QueryEngine(LinearGame(12, seed=1), cache=cache, fingerprint="a")

    def test_number_of_players_must_match(self, tmp_path):
        cache = tmp_path / "c.sqlite"
        QueryEngine(LinearGame(12), cache=cache, fingerprint="same")
        with pytest.raises(CacheMismatchError, match="12 players"):
            QueryEngine(LinearGame(13), cache=cache, fingerprint="same")
