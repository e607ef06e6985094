"""Resume after ``kill -9``: nothing committed is evaluated again, at most one batch is redone."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from engine_games import LinearGame, linear_values
from resume_script import BATCH_SIZE, N_PLAYERS, resume_coalitions

from shapiq_spex.engine import CacheFileError, QueryEngine, SQLiteStore, probe_coalitions

SCRIPT = Path(__file__).resolve().parent / "resume_script.py"
KILL_AFTER_BATCHES = 10  # log lines (the probe batch included) seen before SIGKILL


def _read_log(path: Path) -> list[tuple[int, list[str]]]:
    if not path.exists():
        return []
    batches = []
    for line in path.read_text().splitlines():
        pid, keys = line.split(" ")
        batches.append((int(pid), keys.split(",")))
    return batches


def _committed_keys(cache: Path) -> set[str]:
    # Read-only: a writable connection closing last would fold the -wal into the main file and
    # delete it, as any SQLite program does.
    with contextlib.closing(sqlite3.connect(f"file:{cache}?mode=ro", uri=True)) as conn:
        return {row[0].hex() for row in conn.execute("SELECT coalition FROM game_values")}


def _check_copies_after_kill(cache: Path, committed: set[str], tmp_path: Path) -> None:
    """Issue 11, row 8: a copy of the main file alone is refused; with its -wal it is complete."""
    alone, both = tmp_path / "alone", tmp_path / "both"
    alone.mkdir()
    both.mkdir()
    shutil.copy(cache, alone / cache.name)
    shutil.copy(cache, both / cache.name)
    shutil.copy(f"{cache}-wal", both / f"{cache.name}-wal")
    with pytest.raises(CacheFileError, match=r"was not closed by its writer \(process \d+"):
        QueryEngine(LinearGame(N_PLAYERS, seed=5), cache=alone / cache.name)
    store = SQLiteStore(both / cache.name, read_only=True)
    store.bind(LinearGame(N_PLAYERS, seed=5).cache_identity(), N_PLAYERS)
    assert {key.hex() for key in store.keys()}  # noqa: SIM118 == committed
    store.close()


def _key(row: np.ndarray) -> str:
    return np.packbits(row).tobytes().hex()


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path):
    cache, log, out = tmp_path / "cache.sqlite", tmp_path / "calls.log", tmp_path / "values.npy"
    cmd = [sys.executable, str(SCRIPT), str(cache), str(log), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    # Run 1: kill -9 in the middle of the evaluation.
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(_read_log(log)) < KILL_AFTER_BATCHES:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the script never reached the kill point"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "the script finished before it was killed; slow the game down"

    run1 = _read_log(log)
    committed = _committed_keys(cache)
    probe_keys = [_key(row) for row in probe_coalitions(N_PLAYERS)]
    assert run1[0][1] == probe_keys  # the probe batch of the cache check comes first
    run1_keys = [key for _, keys in run1[1:] for key in keys]
    assert len(run1_keys) == len(set(run1_keys)), "a coalition was evaluated twice in one run"
    assert set(probe_keys) <= committed
    lost = set(run1_keys) - committed
    assert set(run1_keys) >= committed - set(probe_keys)
    assert len(lost) <= BATCH_SIZE, "more than the batch in flight was lost"
    assert len(committed) > 4 * BATCH_SIZE
    _check_copies_after_kill(cache, committed, tmp_path)

    # Run 2: resume to the end.
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    run2 = [keys for pid, keys in _read_log(log) if pid != proc.pid]
    assert run2[0] == probe_keys  # the probe is the only re-evaluation of committed values
    run2_keys = [key for keys in run2[1:] for key in keys]
    assert all(len(keys) <= BATCH_SIZE for keys in run2)
    assert len(run2_keys) == len(set(run2_keys))
    assert not set(run2_keys) & committed, "a committed coalition was evaluated again"
    redone = set(run2_keys) & set(run1_keys)
    assert redone == lost  # only the batch in flight at the kill is redone
    all_keys = {_key(row) for row in resume_coalitions()}
    assert set(run2_keys) | committed == all_keys | set(probe_keys)

    # The finished run closed its cache into one complete file: no -wal, a copy needs nothing else.
    assert not Path(f"{cache}-wal").exists()
    copy = tmp_path / "finished.sqlite"
    shutil.copy(cache, copy)
    with QueryEngine(LinearGame(N_PLAYERS, seed=5), cache=copy, progress=False) as engine:
        assert {key.hex() for key in engine._store.keys()}  # noqa: SIM118 == all_keys | set(probe_keys)

    # The resumed values equal a fresh, uncached evaluation.
    expected = linear_values(resume_coalitions(), LinearGame(N_PLAYERS, seed=5).weights)
    np.testing.assert_array_equal(np.load(out), expected)
