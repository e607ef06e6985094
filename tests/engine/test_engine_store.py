"""SQLiteStore and the cache of QueryEngine: identities, refusals, damaged and read-only files.

Issue 11's rows are reproduced on real SQLite files: row 2 (two games sharing a cache), row 3 (a
full disk during a commit), row 6 (a damaged file), row 7 (read-only files and folders) and row 8
(a copy of the main file without its ``-wal``, in-process here; the ``kill -9`` variant is in
``test_engine_resume.py``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from engine_games import DriftingGame, LinearGame, ThresholdGame, linear_values, make_linear_game

from shapiq_spex.engine import (
    PROBE_RTOL,
    CacheFileError,
    CacheMismatchError,
    CacheWriteError,
    GameFactory,
    QueryEngine,
    SQLiteStore,
    probe_coalitions,
)
from shapiq_spex.engine.store import (
    _close_open_writers,
    describe_identity_difference,
    identity_digest,
    pack_coalitions,
    unpack_keys,
)
from shapiq_spex.exceptions import GameIdentityError, InvalidParameterError


def _rows(n: int, m: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((m, n)) < 0.5


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _mounted(kind: str, target: Path, source: Path | None = None):
    """A real tmpfs (``kind="tmpfs:<size>"``) or read-only bind mount (``"ro-bind"``) at target.

    Needs root with CAP_SYS_ADMIN (the test machines have it); the test is skipped otherwise.
    """
    target.mkdir(parents=True, exist_ok=True)
    if kind.startswith("tmpfs:"):
        cmds = [["mount", "-t", "tmpfs", "-o", f"size={kind[6:]}", "tmpfs", str(target)]]
    else:
        cmds = [
            ["mount", "--bind", str(source), str(target)],
            ["mount", "-o", "remount,ro,bind", str(target)],
        ]
    done = 0
    try:
        for cmd in cmds:
            if os.geteuid() != 0 or shutil.which(cmd[0]) is None:
                pytest.skip("needs root to mount a file system")
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                pytest.skip(f"cannot mount here: {result.stderr.strip()}")
            done += 1
        yield target
    finally:
        if done:
            subprocess.run(["umount", str(target)], check=False, capture_output=True)


class TestKeys:
    @pytest.mark.parametrize("n", [1, 7, 8, 9, 64, 1000])
    def test_pack_unpack_round_trip(self, n):
        rows = _rows(n, 50, seed=n)
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
        store.bind({"key": "game"}, 8)
        store.put_many(keys, values)
        store.close()
        reopened = SQLiteStore(tmp_path / "c.sqlite")
        reopened.bind({"key": "game"}, 8)
        got = reopened.get_many([*keys, b"\xff"])
        assert len(reopened) == len(values)
        assert b"\xff" not in got
        for key, value in zip(keys, values, strict=True):
            assert struct.pack("<d", got[key]) == struct.pack("<d", value)
        assert reopened.identity == {"key": "game"}
        reopened.close()

    def test_wal_while_open_and_one_file_after_close(self, tmp_path):
        path = tmp_path / "c.sqlite"
        store = SQLiteStore(path)
        store.bind({"key": "game"}, 16)
        rows = np.unique(_rows(16, 3000), axis=0)
        keys = pack_coalitions(rows).tolist()
        store.put_many(keys, np.arange(len(keys), dtype=float))
        got = store.get_many(keys)  # more keys than one SQL statement may bind
        assert [got[k] for k in keys] == list(range(len(keys)))
        with contextlib.closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.close()
        store.close()  # idempotent
        # Closing folded the WAL into the main file and left no side files.
        assert not Path(f"{path}-wal").exists()
        assert not Path(f"{path}-shm").exists()
        with contextlib.closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    def test_refuses_other_files(self, tmp_path):
        (tmp_path / "notes.txt").write_text("x" * 200)
        with pytest.raises(CacheFileError, match="not a SQLite database"):
            SQLiteStore(tmp_path / "notes.txt")
        assert (tmp_path / "notes.txt").read_text() == "x" * 200
        with sqlite3.connect(tmp_path / "other.db") as conn:
            conn.execute("CREATE TABLE t (a)")
        before = _file_digest(tmp_path / "other.db")
        with pytest.raises(CacheFileError, match="not a shapiq-spex query cache"):
            SQLiteStore(tmp_path / "other.db")
        assert _file_digest(tmp_path / "other.db") == before  # not switched to WAL mode
        with pytest.raises(CacheFileError, match="does not exist"):
            SQLiteStore(tmp_path / "missing" / "c.sqlite")
        with pytest.raises(CacheFileError, match="folder"):
            SQLiteStore(tmp_path)

    def test_refuses_schema_version_1(self, tmp_path):
        path = tmp_path / "old.sqlite"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("format", "shapiq-spex-query-cache"), ("schema_version", "1")],
            )
        with pytest.raises(CacheFileError, match=r"schema version '1'.*new path"):
            SQLiteStore(path)

    def test_unbound_store_refuses_reads(self, tmp_path):
        store = SQLiteStore(tmp_path / "c.sqlite")
        with pytest.raises(InvalidParameterError, match="bound"):
            store.get_many([b"\x00"])
        store.close()


class TestIdentity:
    def test_row2_threshold_games_do_not_share_values(self, tmp_path):
        # Issue 11, row 2: v_k(S) = [|S| >= k] for k = 29 and 31 agree on the four probes, so a
        # cache keyed by probe values served k = 29's values to k = 31 (SV 0.104 instead of 0.071).
        cache = tmp_path / "c.sqlite"
        rows = _rows(64, 500)
        probes = probe_coalitions(64)
        assert (ThresholdGame(64, 29)(probes) == ThresholdGame(64, 31)(probes)).all()
        with QueryEngine(ThresholdGame(64, 29), cache=cache, progress=False) as engine:
            engine(rows)
        with pytest.raises(CacheMismatchError) as info:
            QueryEngine(ThresholdGame(64, 31), cache=cache, progress=False)
        msg = str(info.value)
        assert "k: 29 stored, 31 now" in msg
        assert msg.count("ThresholdGame (64 players") == 2
        # In its own file the second game gets its own values.
        with QueryEngine(ThresholdGame(64, 31), cache=tmp_path / "k31.sqlite") as engine:
            np.testing.assert_array_equal(engine(rows), rows.sum(1) >= 31)
            assert engine.stats.cache_hits == 0

    def test_row2_plain_callables_need_a_key(self, tmp_path):
        cache = tmp_path / "c.sqlite"

        def v29(x):
            return (x.sum(1) >= 29).astype(float)

        def v31(x):
            return (x.sum(1) >= 31).astype(float)

        with pytest.raises(InvalidParameterError, match=r"no cache_identity\(\).*key='") as info:
            QueryEngine(v29, n_players=64, cache=cache)
        assert "v29" in str(info.value)
        assert not cache.exists()  # refused before the file was created
        QueryEngine(v29, n_players=64, cache=cache, key="k29", progress=False)(_rows(64, 50))
        with pytest.raises(CacheMismatchError, match="key: 'k29' stored, 'k31' now"):
            QueryEngine(v31, n_players=64, cache=cache, key="k31")

    def test_game_factory_needs_a_key(self, tmp_path):
        factory = GameFactory(make_linear_game, 6)
        with pytest.raises(InvalidParameterError, match="GameFactory builds its game only inside"):
            QueryEngine(factory, n_players=6, cache=tmp_path / "c.sqlite")
        engine = QueryEngine(factory, n_players=6, cache=tmp_path / "c.sqlite", key="lin6")
        assert engine.identity == {"key": "lin6"}
        engine.close()

    def test_same_identity_evaluates_nothing_twice(self, tmp_path):
        cache = tmp_path / "c.sqlite"
        rows = _rows(12, 360, seed=7)
        first = LinearGame(12)
        with QueryEngine(first, cache=cache, batch_size=50, progress=False) as engine:
            values = engine(rows)
            assert engine.identity == first.cache_identity()
            assert engine.identity_digest == identity_digest(first.cache_identity())
        assert len(first.batches[0]) == 4  # the probe batch comes first
        second = LinearGame(12)
        with QueryEngine(second, cache=cache, batch_size=50, progress=False) as engine:
            again = engine(rows)
            stats = engine.stats
        np.testing.assert_array_equal(again, values)
        np.testing.assert_array_equal(again, linear_values(rows, second.weights))
        assert second.n_evaluated == 4  # only the probe check
        assert stats.evaluated == 0
        assert stats.probe_evaluated == 4
        assert stats.cache_hits + stats.duplicates_saved == len(rows)

    def test_mismatch_names_both_identities_and_the_fields(self, tmp_path):
        cache = tmp_path / "c.sqlite"
        QueryEngine(LinearGame(12, seed=1), cache=cache, progress=False)(_rows(12, 20))
        with pytest.raises(CacheMismatchError) as info:
            QueryEngine(LinearGame(12, seed=2), cache=cache)
        msg = str(info.value)
        old = identity_digest(LinearGame(12, seed=1).cache_identity())[:12]
        new = identity_digest(LinearGame(12, seed=2).cache_identity())[:12]
        assert str(cache) in msg
        assert f"Stored: LinearGame (12 players, identity sha256 {old}" in msg
        assert f"this game: LinearGame (12 players, identity sha256 {new}" in msg
        assert "seed: 1 stored, 2 now" in msg
        assert "overwrite=True" in msg
        assert "new 'cache' path" in msg

    def test_number_of_players_must_match(self, tmp_path):
        cache = tmp_path / "c.sqlite"
        QueryEngine(LinearGame(12), cache=cache, key="same").close()
        with pytest.raises(CacheMismatchError, match=r"12 players.*13 players"):
            QueryEngine(LinearGame(13), cache=cache, key="same")

    def test_overwrite_replaces_the_values(self, tmp_path):
        cache, rows = tmp_path / "c.sqlite", _rows(12, 100)
        QueryEngine(LinearGame(12, seed=1), cache=cache, key="a")(rows)
        game = LinearGame(12, seed=2)
        engine = QueryEngine(game, cache=cache, key="b", overwrite=True)
        np.testing.assert_array_equal(engine(rows), linear_values(rows, game.weights))
        assert engine.stats.cache_hits == 0
        engine.close()
        with pytest.raises(CacheMismatchError):
            QueryEngine(LinearGame(12, seed=1), cache=cache, key="a")

    def test_probe_check_refuses_values_the_identity_does_not_explain(self, tmp_path):
        cache, rows = tmp_path / "c.sqlite", _rows(12, 100)
        with QueryEngine(DriftingGame(12, 0.0), cache=cache, progress=False) as engine:
            engine(rows)
        drifted = QueryEngine(DriftingGame(12, 0.5), cache=cache, progress=False)
        with pytest.raises(CacheMismatchError) as info:
            drifted(rows)
        msg = str(info.value)
        assert "LinearGame (12 players" in msg
        assert "empty: 0.0 stored, 0.5 now" in msg
        assert "not deterministic" in msg
        # Float rounding (another device, another batch shape) stays within the tolerance.
        tiny = DriftingGame(12, 0.1 * PROBE_RTOL)
        with QueryEngine(tiny, cache=cache, progress=False) as engine:
            got = engine(rows)
            assert engine.stats.cache_hits > 0
        np.testing.assert_array_equal(got, linear_values(rows, LinearGame(12).weights))

    def test_fingerprint_is_a_deprecated_alias_of_key(self, tmp_path):
        cache = tmp_path / "c.sqlite"
        with pytest.warns(FutureWarning, match="pass key= instead"):
            engine = QueryEngine(LinearGame(4), cache=cache, fingerprint="g")
        assert engine.identity == {"key": "g"}
        engine.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            QueryEngine(LinearGame(4), cache=cache, key="g").close()  # the same entry
        with pytest.raises(InvalidParameterError, match="only 'key'"):
            QueryEngine(LinearGame(4), cache=cache, key="g", fingerprint="g")

    @pytest.mark.parametrize(
        ("identity", "match"),
        [({"x": float("nan")}, "finite"), ({"x": object()}, "JSON"), (["x"], "must return a dict")],
    )
    def test_bad_identities_are_refused(self, tmp_path, identity, match):
        game = LinearGame(4)
        game.cache_identity = lambda: identity
        with pytest.raises(InvalidParameterError, match=match) as info:
            QueryEngine(game, cache=tmp_path / "c.sqlite")
        assert isinstance(info.value.__cause__, GameIdentityError)
        assert "key=" in str(info.value)

    def test_describe_identity_difference(self):
        old = {"game": "G", "model": {"weights": "a", "dtype": "float32"}, "text": "x"}
        new = {"game": "G", "model": {"weights": "b", "dtype": "float32"}, "target": 1}
        assert describe_identity_difference(old, new) == (
            "model.weights: 'a' stored, 'b' now; target: (absent) stored, 1 now; "
            "text: 'x' stored, (absent) now"
        )


class TestDiskFull:
    def _fill(self, engine: QueryEngine, rows: np.ndarray) -> CacheWriteError:
        with pytest.raises(CacheWriteError) as info:
            engine(rows)
        return info.value

    def test_row3_full_database_names_the_cause(self, tmp_path):
        # Issue 11, row 3: SQLite rolls a transaction back by itself on SQLITE_FULL; the explicit
        # ROLLBACK that followed raised "cannot rollback - no transaction is active" and hid the
        # cause. PRAGMA max_page_count makes SQLite hit its genuine SQLITE_FULL path (the same
        # code path as a full disk) without filling the machine's disk.
        cache = tmp_path / "c.sqlite"
        engine = QueryEngine(LinearGame(64), cache=cache, batch_size=100, progress=False)
        engine(_rows(64, 100, seed=1))  # probes + 1 batch committed
        conn = engine._store._conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages + 3}")
        err = self._fill(engine, _rows(64, 3000, seed=2))
        msg = str(err)
        assert "disk (or the file system holding it) is full" in msg
        assert "Free disk space" in msg
        assert "cannot rollback" not in msg
        assert "was evaluated but not stored" in msg
        assert isinstance(err.__cause__.__cause__, sqlite3.OperationalError)
        assert "database or disk is full" in str(err.__cause__.__cause__)
        engine.close()
        reopened = SQLiteStore(cache)
        reopened.bind(LinearGame(64).cache_identity(), 64)
        committed = len(reopened)
        assert committed >= 4 + 100  # everything before the full batch is kept
        values = reopened.get_many(reopened.keys())
        keys = list(values)
        expected = linear_values(unpack_keys(keys, 64), LinearGame(64).weights)
        np.testing.assert_array_equal([values[k] for k in keys], expected)
        reopened.close()

    def test_row3_full_tmpfs(self, tmp_path):
        # The same on a real, tiny file system that runs out of space.
        with _mounted("tmpfs:160k", tmp_path / "small") as small:
            cache = small / "c.sqlite"
            engine = QueryEngine(LinearGame(64), cache=cache, batch_size=200, progress=False)
            err = self._fill(engine, _rows(64, 20_000, seed=3))
            assert "is full" in str(err)
            assert "cannot rollback" not in str(err)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # cannot fold on a full disk
                engine.close()
            reopened = SQLiteStore(cache, read_only=True)
            reopened.bind(LinearGame(64).cache_identity(), 64)
            assert len(reopened) >= 4
            reopened.close()


class TestDamagedFile:
    def _finished_cache(self, path: Path, m: int = 5000) -> None:
        with QueryEngine(LinearGame(64), cache=path, progress=False) as engine:
            engine(_rows(64, m))

    def test_row6_garbage_in_the_middle(self, tmp_path):
        # Issue 11, row 6: raw "database disk image is malformed" with no hint what to do.
        path = tmp_path / "c.sqlite"
        self._finished_cache(path)
        size = path.stat().st_size
        with path.open("r+b") as f:
            f.seek(size // 2)
            f.write(np.random.default_rng(0).bytes(8192))
        with pytest.raises(CacheFileError) as info:
            QueryEngine(LinearGame(64), cache=path, progress=False)
        msg = str(info.value)
        assert f"'{path}' is damaged" in msg
        assert "Move it away (or delete it) and pass a new 'cache' path" in msg

    def test_row6_garbage_header(self, tmp_path):
        path = tmp_path / "c.sqlite"
        self._finished_cache(path, m=100)
        with path.open("r+b") as f:
            f.write(b"\x00" * 100)
        with pytest.raises(CacheFileError, match=r"not a SQLite database|is damaged"):
            QueryEngine(LinearGame(64), cache=path, progress=False)


class TestReadOnly:
    def _finished_cache(self, path: Path, rows: np.ndarray) -> np.ndarray:
        with QueryEngine(LinearGame(16), cache=path, progress=False) as engine:
            return engine(rows)

    def test_row7_read_only_reuse(self, tmp_path):
        # read_only=True opens the file with SQLite's mode=ro: nothing is written, new values stay
        # in memory. (Real read-only files and folders: the mount test below.)
        path, rows = tmp_path / "c.sqlite", _rows(16, 400)
        values = self._finished_cache(path, rows[:300])
        before = _file_digest(path)
        game = LinearGame(16)
        with QueryEngine(game, cache=path, read_only=True, progress=False) as engine:
            got = engine(rows)
            stats = engine.stats
        np.testing.assert_array_equal(got[:300], values)
        np.testing.assert_array_equal(got, linear_values(rows, game.weights))
        assert stats.cache_hits > 0
        assert stats.evaluated == len(np.unique(rows, axis=0)) - len(np.unique(rows[:300], axis=0))
        assert _file_digest(path) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite"]

    def test_row7_real_read_only_folder(self, tmp_path):
        # A read-only bind mount refuses writes even to root (who ignores chmod).
        path, rows = tmp_path / "rw" / "c.sqlite", _rows(16, 200)
        path.parent.mkdir()
        values = self._finished_cache(path, rows)
        with _mounted("ro-bind", tmp_path / "ro", source=path.parent) as ro:
            with pytest.raises(CacheFileError) as info:
                QueryEngine(LinearGame(16), cache=ro / "c.sqlite")
            msg = str(info.value)
            assert "read-only" in msg
            assert "read_only=True" in msg
            with QueryEngine(LinearGame(16), cache=ro / "c.sqlite", read_only=True) as engine:
                np.testing.assert_array_equal(engine(rows), values)
                assert engine.stats.evaluated == 0
            with pytest.raises(CacheFileError, match=r"read-only folder.*writable folder"):
                QueryEngine(LinearGame(16), cache=ro / "new.sqlite")

    def test_row7_read_only_folder_with_a_wal(self, tmp_path):
        # A cache that was never closed still has values in its -wal, which SQLite cannot read
        # from a read-only place: the message says how to fold it in.
        path, rows = tmp_path / "rw" / "c.sqlite", _rows(16, 200)
        path.parent.mkdir()
        writer = QueryEngine(LinearGame(16), cache=path, progress=False)
        writer(rows)
        shutil.copy(path, tmp_path / "main")
        shutil.copy(f"{path}-wal", tmp_path / "wal")
        writer.close()
        shutil.copy(tmp_path / "main", path)  # as a killed writer leaves them
        shutil.copy(tmp_path / "wal", f"{path}-wal")
        with (
            _mounted("ro-bind", tmp_path / "ro", source=path.parent) as ro,
            pytest.raises(CacheFileError, match=r"-wal.*Open it once writable"),
        ):
            QueryEngine(LinearGame(16), cache=ro / "c.sqlite", read_only=True)

    def test_read_only_without_chmod_rights(self, tmp_path):
        if os.geteuid() == 0:
            pytest.skip("root ignores file permissions (the mount tests cover this)")
        path, rows = tmp_path / "rw" / "c.sqlite", _rows(16, 100)
        path.parent.mkdir()
        self._finished_cache(path, rows)
        path.chmod(0o444)
        with pytest.raises(CacheFileError, match=r"is read-only.*read_only=True"):
            QueryEngine(LinearGame(16), cache=path)
        path.parent.chmod(0o555)
        try:
            with QueryEngine(LinearGame(16), cache=path, read_only=True) as engine:
                engine(rows)
                assert engine.stats.evaluated == 0
        finally:
            path.parent.chmod(0o755)

    @pytest.mark.parametrize(
        ("setup", "kwargs", "match"),
        [
            ("none", {"read_only": True}, "does not exist; read_only=True reuses"),
            ("empty", {"read_only": True}, "holds no game's values yet"),
            ("empty", {"read_only": True, "overwrite": True}, "'overwrite'"),
        ],
    )
    def test_read_only_refusals(self, tmp_path, setup, kwargs, match):
        path = tmp_path / "c.sqlite"
        if setup == "empty":
            SQLiteStore(path).close()
        with pytest.raises(InvalidParameterError, match=match):
            QueryEngine(LinearGame(4), cache=path, **kwargs)


class TestCompleteness:
    def test_row8_copy_of_a_closed_cache_is_complete(self, tmp_path):
        path, rows = tmp_path / "c.sqlite", _rows(16, 2000)
        with QueryEngine(LinearGame(16), cache=path, batch_size=50, progress=False) as engine:
            engine(rows)
            n_stored = len(engine._store)
        (tmp_path / "copy").mkdir()
        shutil.copy(path, tmp_path / "copy" / "c.sqlite")  # the main file only
        game = LinearGame(16)
        with QueryEngine(game, cache=tmp_path / "copy" / "c.sqlite", progress=False) as engine:
            engine(rows)
            assert len(engine._store) == n_stored
        assert game.n_evaluated == 4  # only the probe check

    def test_row8_copy_of_an_open_cache_is_detected(self, tmp_path):
        # Issue 11, row 8: with all values still in the -wal, a copy of the main file alone
        # started empty without a word. (kill -9 variant: test_engine_resume.py.)
        path, rows = tmp_path / "c.sqlite", _rows(16, 2000)
        writer = QueryEngine(LinearGame(16), cache=path, batch_size=50, progress=False)
        writer(rows)
        (tmp_path / "copy").mkdir()
        copy = tmp_path / "copy" / "c.sqlite"
        shutil.copy(path, copy)
        with pytest.raises(CacheFileError) as info:
            QueryEngine(LinearGame(16), cache=copy)
        msg = str(info.value)
        assert f"process {os.getpid()}" in msg
        assert f"'{copy}-wal' is missing" in msg
        assert "copy the '-wal' file with it" in msg
        assert "accept_incomplete=True" in msg
        with pytest.raises(CacheFileError, match="-wal"):
            QueryEngine(LinearGame(16), cache=copy, read_only=True)
        # Knowingly accepting it resumes from what the main file holds.
        store = SQLiteStore(copy, accept_incomplete=True)
        with QueryEngine(LinearGame(16), cache=store, progress=False) as engine:
            engine(rows[:10])
            assert len(store) < len(np.unique(rows, axis=0))
        store.close()
        writer.close()
        QueryEngine(LinearGame(16), cache=copy).close()  # accepted files open normally again

    def test_a_script_that_never_closes_leaves_a_complete_file(self, tmp_path):
        # A script ending without close(): SQLite's own finalizer folds the '-wal' away, so
        # without the exit hook the session row stayed and the next run refused the file.
        path = tmp_path / "c.sqlite"
        script = (
            "import sys, numpy as np\n"
            f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
            "from engine_games import LinearGame\n"
            "from shapiq_spex.engine import QueryEngine\n"
            f"engine = QueryEngine(LinearGame(16), cache={str(path)!r}, progress=False)\n"
            "engine(np.random.default_rng(0).random((300, 16)) < 0.5)\n"
        )
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
        assert not Path(f"{path}-wal").exists()
        game = LinearGame(16)
        with QueryEngine(game, cache=path, progress=False) as engine:
            engine(_rows(16, 300))
        assert game.n_evaluated == 4  # only the probe check: every value was kept

    def test_a_dropped_store_is_closed(self, tmp_path):
        path = tmp_path / "c.sqlite"
        engine = QueryEngine(LinearGame(16), cache=path, progress=False)
        engine(_rows(16, 200))
        del engine
        gc.collect()
        assert not Path(f"{path}-wal").exists()
        QueryEngine(LinearGame(16), cache=path, progress=False).close()  # opens, not refused

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
    @pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
    def test_a_forked_child_does_not_close_the_parents_store(self, tmp_path):
        path = tmp_path / "c.sqlite"
        engine = QueryEngine(LinearGame(16), cache=path, progress=False)
        engine(_rows(16, 100))
        pid = os.fork()
        if pid == 0:  # what the exit hook and the finalizer do in a child
            with contextlib.suppress(BaseException):
                _close_open_writers()
                engine._store.__del__()
            os._exit(0)
        os.waitpid(pid, 0)
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
        engine(_rows(16, 100, seed=1))
        engine.close()
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0

    def test_two_writers_close_cleanly(self, tmp_path):
        path = tmp_path / "c.sqlite"
        a = QueryEngine(LinearGame(16), cache=path, progress=False)
        b = QueryEngine(LinearGame(16), cache=path, progress=False)
        a(_rows(16, 100, seed=1))
        b(_rows(16, 100, seed=2))
        a.close()
        assert Path(f"{path}-wal").stat().st_size > 0  # b still writes
        # A third writer joining the original file is not mistaken for a copy.
        QueryEngine(LinearGame(16), cache=path, progress=False).close()
        b.close()
        assert not Path(f"{path}-wal").exists()
        shutil.copy(path, tmp_path / "copy.sqlite")
        expected = np.concatenate([_rows(16, 100, 1), _rows(16, 100, 2), probe_coalitions(16)])
        with QueryEngine(LinearGame(16), cache=tmp_path / "copy.sqlite") as engine:
            assert set(engine._store.keys()) == set(pack_coalitions(expected).tolist())
