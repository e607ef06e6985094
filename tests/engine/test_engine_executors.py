"""Thread and process executors give the serial results; worker failures are reported."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from engine_games import (
    LinearGame,
    RaisingGame,
    broken_factory,
    linear_values,
    make_linear_game,
)

from shapiq_spex.engine import (
    BatchEvaluationError,
    GameFactory,
    ProcessExecutor,
    QueryEngine,
    ThreadExecutor,
    WorkerError,
    probe_coalitions,
)
from shapiq_spex.exceptions import InvalidParameterError


@pytest.fixture(scope="module")
def process_engine():
    """One 2-process engine shared by the tests (spawning workers is the slow part)."""
    engine = QueryEngine(
        GameFactory(make_linear_game, 12, seed=4),
        n_players=12,
        batch_size=16,
        executor="processes",
        n_workers=2,
        progress=False,
    )
    yield engine
    engine.close()


def test_threads_equal_serial(tmp_path, coalitions):
    serial = QueryEngine(LinearGame(12, seed=4), batch_size=16, progress=False)(coalitions)
    game = LinearGame(12, seed=4)
    engine = QueryEngine(
        game, batch_size=16, executor="threads", n_workers=3, cache=tmp_path / "c.sqlite"
    )
    np.testing.assert_array_equal(engine(coalitions), serial)
    with_probes = np.concatenate([coalitions, probe_coalitions(12)])
    assert game.n_evaluated == len(np.unique(with_probes, axis=0))
    stats = engine.stats
    assert stats.evaluated + stats.probe_evaluated == game.n_evaluated
    assert stats.batches == -(-stats.evaluated // 16)
    engine.close()


def test_processes_equal_serial(process_engine, coalitions):
    serial = QueryEngine(LinearGame(12, seed=4), batch_size=16, progress=False)(coalitions)
    np.testing.assert_array_equal(process_engine(coalitions), serial)
    stats = process_engine.stats
    assert stats.evaluated == len(np.unique(coalitions, axis=0))
    assert stats.model_time_s > 0


def test_all_process_workers_are_ready_after_open(process_engine):
    process_engine(np.ones((1, 12), dtype=bool))
    pids = {process.pid for process in process_engine._executor._pool._processes.values()}
    assert len(pids) == 2


def test_process_worker_that_cannot_build_the_game():
    engine = QueryEngine(
        GameFactory(broken_factory, 5), n_players=5, executor="processes", n_workers=1
    )
    with pytest.raises(WorkerError, match="could not all build the game"):
        engine(np.eye(5, dtype=bool))


def test_processes_reuse_workers_across_calls(process_engine):
    rows = np.random.default_rng(99).random((100, 12)) < 0.5
    pool = process_engine._executor._pool
    values = process_engine(rows)
    assert process_engine._executor._pool is pool
    np.testing.assert_array_equal(values, linear_values(rows, LinearGame(12, seed=4).weights))


def test_game_error_in_a_thread(coalitions):
    engine = QueryEngine(RaisingGame(12), batch_size=16, executor="threads", progress=False)
    with pytest.raises(BatchEvaluationError, match=r"batch \d+ of 19") as info:
        engine(coalitions)
    assert isinstance(info.value.__cause__, ValueError)


def test_executor_instances_and_their_checks():
    with pytest.raises(InvalidParameterError, match="'n_workers'"):
        QueryEngine(LinearGame(3), executor=ThreadExecutor(2), n_workers=2)
    with pytest.raises(InvalidParameterError, match="'mp_context'"):
        ProcessExecutor(2, mp_context="thread")
    with pytest.raises(InvalidParameterError, match="'factory'"):
        GameFactory(3)
    shared = ThreadExecutor(2)
    QueryEngine(LinearGame(3), executor=shared, progress=False)(np.eye(3, dtype=bool))
    with pytest.raises(InvalidParameterError, match="one executor per QueryEngine"):
        QueryEngine(LinearGame(3), executor=shared, progress=False)(np.eye(3, dtype=bool))
    shared.close()


def _local_game():
    def game(coalitions):
        return coalitions.sum(axis=1).astype(float)

    return game


@pytest.mark.parametrize(
    ("game", "what"),
    [
        (lambda coalitions: coalitions.sum(axis=1).astype(float), "lambda"),
        (_local_game(), "local"),
        (GameFactory(lambda: LinearGame(3)), "factory"),
    ],
)
def test_row12_unpicklable_game_gets_the_engine_error(game, what):
    # Issue 11, row 12: a raw PicklingError from inside multiprocessing before; now the engine
    # refuses before starting any worker and names the fixes.
    engine = QueryEngine(game, n_players=3, executor="processes", n_workers=1, progress=False)
    with pytest.raises(WorkerError) as info:
        engine(np.eye(3, dtype=bool))
    msg = str(info.value)
    assert "cannot be pickled" in msg
    assert "module level" in msg
    assert "GameFactory(module_level_function" in msg
    assert "executor='threads'" in msg
    engine.close()


@pytest.mark.slow
def test_row12_script_without_main_guard(tmp_path):
    # Issue 11, row 12: with the 'spawn' start method every worker re-imports the script; without
    # `if __name__ == "__main__":` each starts the engine again, and multiprocessing raised its
    # bootstrapping RuntimeError in every worker. The engine now refuses in the parent at once.
    # (Slow only because the script imports shapiq, which imports torch.)
    script = tmp_path / "no_guard.py"
    script.write_text(
        "import numpy as np\n"
        "from shapiq_spex.engine import QueryEngine\n\n"
        "def game(coalitions):\n"
        "    return coalitions.sum(axis=1).astype(float)\n\n"
        "engine = QueryEngine(game, n_players=4, executor='processes', n_workers=1)\n"
        "print(engine(np.eye(4, dtype=bool)))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("shapiq_spex.engine.executors.WorkerError: The script")
    assert "no main guard" in last
    assert 'if __name__ == "__main__":' in last
    assert "bootstrapping" not in result.stderr


@pytest.mark.slow
def test_workers_end_when_their_parent_is_killed(tmp_path):
    # kill -9 of a run with executor='processes' left its workers (the game loaded in each)
    # and multiprocessing's resource tracker running, re-parented to init
    psutil = pytest.importorskip("psutil")
    script = tmp_path / "killed.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "import numpy as np\n"
        "from engine_games import make_linear_game\n"
        "from shapiq_spex.engine import GameFactory, QueryEngine\n\n"
        "if __name__ == '__main__':\n"
        "    engine = QueryEngine(GameFactory(make_linear_game, 6, seed=1), n_players=6,\n"
        "                         executor='processes', n_workers=2, progress=False)\n"
        "    engine(np.eye(6, dtype=bool))\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(120)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2
        proc.kill()
        proc.wait(timeout=30)
        _, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        proc.kill()
        for child in locals().get("children", []):
            with contextlib.suppress(psutil.Error):
                child.kill()
