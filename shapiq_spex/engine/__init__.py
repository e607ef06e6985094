"""Query engine for expensive games: dedupe, batching, a persistent cache, parallel executors.

Names are resolved lazily (PEP 562) so that worker processes importing
``shapiq_spex.engine.executors`` or ``shapiq_spex.engine.ray_executor`` do not import shapiq.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shapiq_spex.engine.executors import (
        EXECUTORS,
        BatchEvaluationError,
        BatchResult,
        Executor,
        GameFactory,
        ProcessExecutor,
        SerialExecutor,
        ThreadExecutor,
        WorkerError,
    )
    from shapiq_spex.engine.ray_executor import RayExecutor
    from shapiq_spex.engine.runner import PROBE_RTOL, EngineStats, QueryEngine, probe_coalitions
    from shapiq_spex.engine.store import (
        CacheFileError,
        CacheMismatchError,
        CacheWriteError,
        SQLiteStore,
        StoreBackend,
    )

__all__ = [
    "EXECUTORS",
    "PROBE_RTOL",
    "BatchEvaluationError",
    "BatchResult",
    "CacheFileError",
    "CacheMismatchError",
    "CacheWriteError",
    "EngineStats",
    "Executor",
    "GameFactory",
    "ProcessExecutor",
    "QueryEngine",
    "RayExecutor",
    "SQLiteStore",
    "SerialExecutor",
    "StoreBackend",
    "ThreadExecutor",
    "WorkerError",
    "probe_coalitions",
]

_WHERE = {
    "BatchEvaluationError": "executors",
    "BatchResult": "executors",
    "Executor": "executors",
    "GameFactory": "executors",
    "ProcessExecutor": "executors",
    "SerialExecutor": "executors",
    "ThreadExecutor": "executors",
    "RayExecutor": "ray_executor",
    "WorkerError": "executors",
    "EXECUTORS": "executors",
    "EngineStats": "runner",
    "PROBE_RTOL": "runner",
    "QueryEngine": "runner",
    "probe_coalitions": "runner",
    "CacheFileError": "store",
    "CacheMismatchError": "store",
    "CacheWriteError": "store",
    "SQLiteStore": "store",
    "StoreBackend": "store",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
