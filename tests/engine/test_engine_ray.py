"""RayExecutor on a local 2-CPU cluster: same results as serial, dead actors are replaced."""

from __future__ import annotations

import numpy as np
import pytest
from engine_games import ExitOnceGame, LinearGame, linear_values

from shapiq_spex.engine import BatchEvaluationError, QueryEngine, RayExecutor, WorkerError

pytestmark = pytest.mark.ray

N_PLAYERS = 12


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    import engine_games

    # Ray workers do not share the test's sys.path: ship the test games by value.
    ray.cloudpickle.register_pickle_by_value(engine_games)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 1024**2,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(engine_games)


@pytest.fixture(scope="module")
def flag_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("flags")


@pytest.fixture(scope="module")
def ray_engine(ray_cluster, flag_dir):
    """A 2-actor engine shared by the tests (each actor start costs seconds)."""
    executor = RayExecutor(num_workers=2, max_retries=1)
    engine = QueryEngine(
        ExitOnceGame(N_PLAYERS, str(flag_dir), seed=8),
        batch_size=8,
        executor=executor,
        progress=False,
    )
    yield engine
    engine.close()


def _fresh_rows(seed: int, m: int = 120) -> np.ndarray:
    return np.random.default_rng(seed).random((m, N_PLAYERS)) < 0.5


def _serial(rows: np.ndarray) -> np.ndarray:
    return QueryEngine(LinearGame(N_PLAYERS, seed=8), batch_size=8, progress=False)(rows)


def test_ray_equals_serial(ray_engine, tmp_path):
    rows = _fresh_rows(1)
    values = ray_engine(rows)
    np.testing.assert_array_equal(values, _serial(rows))
    np.testing.assert_array_equal(values, linear_values(rows, LinearGame(N_PLAYERS, 8).weights))
    stats = ray_engine.stats
    assert stats.evaluated == len(np.unique(rows, axis=0))
    assert stats.batches == -(-stats.evaluated // 8)


def test_killed_actor_is_replaced_and_its_batch_retried(ray_engine, flag_dir):
    executor = ray_engine._executor
    restarts = executor.restarts
    (flag_dir / "exit").touch()
    rows = _fresh_rows(2)
    values = ray_engine(rows)
    assert not (flag_dir / "exit").exists()  # an actor really died
    assert executor.restarts == restarts + 1
    np.testing.assert_array_equal(values, _serial(rows))
    assert len(executor._actors) == 2


def test_game_error_is_not_retried(ray_engine, flag_dir):
    restarts = ray_engine._executor.restarts
    (flag_dir / "raise").touch()
    try:
        with pytest.raises(BatchEvaluationError, match=r"batch \d+ of \d+") as info:
            ray_engine(_fresh_rows(3))
    finally:
        (flag_dir / "raise").unlink()
    assert isinstance(info.value.__cause__, ValueError)
    assert "model exploded" in str(info.value)
    assert ray_engine._executor.restarts == restarts


def test_retries_are_bounded(ray_engine, flag_dir):
    executor = ray_engine._executor
    executor.max_retries = 0
    (flag_dir / "exit").touch()
    try:
        with pytest.raises(BatchEvaluationError, match="WorkerError") as info:
            ray_engine(_fresh_rows(4))
    finally:
        executor.max_retries = 1
    assert isinstance(info.value.__cause__, WorkerError)
    assert "max_retries=0" in str(info.value.__cause__)
    # The engine is still usable: the dead actor was replaced.
    rows = _fresh_rows(5)
    np.testing.assert_array_equal(ray_engine(rows), _serial(rows))


def test_unplaceable_actors_fail_clearly(ray_cluster):
    engine = QueryEngine(
        LinearGame(N_PLAYERS),
        executor=RayExecutor(num_workers=1, num_gpus=1, startup_timeout_s=1.5),
        progress=False,
    )
    with pytest.raises(WorkerError, match=r"num_gpus=1\.0"):
        engine(_fresh_rows(6))
