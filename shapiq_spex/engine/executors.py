"""Executors: where the batches of a :class:`~shapiq_spex.engine.QueryEngine` are evaluated.

An executor receives the game once (:meth:`Executor.open`), then evaluates lists of boolean
batches ``(b, n)`` and yields one :class:`BatchResult` per batch as soon as it finishes (possibly
out of order). It never validates values: the engine does that, in the calling process, before
anything is cached.

* :class:`SerialExecutor`: in the calling thread, one batch at a time.
* :class:`ThreadExecutor`: a thread pool sharing one game object. Only helps games that release
  the GIL (PyTorch, large numpy/BLAS calls, remote APIs); the game must be thread safe.
* :class:`ProcessExecutor`: a process pool, each worker builds its own copy of the game once.
* :class:`~shapiq_spex.engine.ray_executor.RayExecutor`: Ray actors (optional extra).

This module imports only numpy and the standard library, so that worker processes start fast.
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import multiprocessing
import numbers
import os
import pickle
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError, SpexError

__all__ = [
    "EXECUTORS",
    "BatchEvaluationError",
    "BatchResult",
    "Executor",
    "GameFactory",
    "ProcessExecutor",
    "SerialExecutor",
    "ThreadExecutor",
    "WorkerError",
    "build_game",
    "check_n_workers",
    "check_picklable",
    "evaluate_batch",
    "make_executor",
    "qualname_of",
]


#: Executor names accepted by ``QueryEngine(executor=...)``.
EXECUTORS = ("serial", "threads", "processes", "ray")


class BatchEvaluationError(SpexError, RuntimeError):
    """The game (or the worker running it) failed on a batch; the cause is chained."""


class WorkerError(SpexError, RuntimeError):
    """Workers could not be started, or a batch lost its worker more often than allowed."""


class GameFactory:
    """A picklable recipe that builds the game inside each worker, once.

    Use it for games that are expensive to build or cannot be pickled (a loaded language model):
    only ``factory``, ``args`` and ``kwargs`` travel to the workers, and each worker calls
    ``factory(*args, **kwargs)`` once when it starts. With a factory the calling process never
    builds the game unless the executor is ``"serial"`` or ``"threads"``.

    Args:
        factory: a picklable callable (for processes, a module-level function or class) that
            returns the game: a callable mapping a boolean ``(b, n)`` array to values ``(b,)``.
        *args: positional arguments of ``factory``.
        **kwargs: keyword arguments of ``factory``.

    Examples:
        >>> engine = QueryEngine(GameFactory(load_sentiment_game, "review.txt"), n_players=40,
        ...                      executor=RayExecutor(num_workers=2, num_gpus=0.5))
    """

    def __init__(self, factory: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        if not callable(factory):
            msg = f"The 'factory' parameter of GameFactory must be callable. Got {factory!r}."
            raise InvalidParameterError(msg)
        self.factory = factory
        self.args = args
        self.kwargs = kwargs

    def build(self) -> Any:
        """Call the factory and return the game."""
        game = self.factory(*self.args, **self.kwargs)
        if not callable(game):
            msg = f"GameFactory({self.qualname}) must return a callable game. Got {game!r}."
            raise InvalidParameterError(msg)
        return game

    @property
    def qualname(self) -> str:
        """``module.qualname`` of the factory (for messages)."""
        return qualname_of(self.factory)

    def __repr__(self) -> str:
        return f"GameFactory({self.qualname}, args={self.args!r}, kwargs={self.kwargs!r})"


def qualname_of(game: Any) -> str:
    """``module.qualname`` naming a game: its factory, its function, or its class."""
    if isinstance(game, GameFactory):
        game = game.factory
    target = game if hasattr(game, "__qualname__") else type(game)
    return f"{getattr(target, '__module__', '?')}.{target.__qualname__}"


def build_game(spec: Any) -> Any:
    """Return the game described by ``spec`` (a :class:`GameFactory` is built, a game is kept)."""
    return spec.build() if isinstance(spec, GameFactory) else spec


def evaluate_batch(game: Any, batch: np.ndarray) -> tuple[Any, float]:
    """Evaluate ``game`` on a boolean batch ``(b, n)``; returns ``(raw values, seconds)``."""
    start = time.perf_counter()
    values = game(batch)
    return values, time.perf_counter() - start


def check_n_workers(n_workers: Any, name: str = "n_workers") -> int:
    """Validate a positive worker count."""
    if not isinstance(n_workers, numbers.Integral) or isinstance(n_workers, bool) or n_workers < 1:
        msg = f"The '{name}' parameter must be a positive int. Got {n_workers!r}."
        raise InvalidParameterError(msg)
    return int(n_workers)


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one batch.

    Attributes:
        index: position of the batch in the list passed to :meth:`Executor.run`.
        values: raw output of the game (unvalidated) or ``None`` if it failed.
        error: the exception raised by the game or the worker, or ``None``.
        model_time_s: seconds the game spent on the batch (inside the worker).
    """

    index: int
    values: Any
    error: BaseException | None
    model_time_s: float


class Executor(ABC):
    """Evaluates batches of coalitions on a game; see the module docstring.

    Subclasses implement :meth:`_start` (build workers for a game spec), :meth:`run` and
    :meth:`close`. An executor serves one game: it is opened once and reused across calls.
    """

    #: Number of batches evaluated at the same time.
    n_workers: int = 1

    def __init__(self) -> None:
        self._spec: Any = None
        self._opened = False

    def open(self, game_spec: Any) -> None:
        """Prepare the workers for ``game_spec`` (a game or a :class:`GameFactory`); idempotent."""
        if self._opened:
            if game_spec is not self._spec:
                msg = (
                    f"This {type(self).__name__} already serves another game; create one "
                    "executor per QueryEngine."
                )
                raise InvalidParameterError(msg)
            return
        self._spec = game_spec
        self._start(game_spec)
        self._opened = True

    @abstractmethod
    def _start(self, game_spec: Any) -> None:
        """Build the workers."""

    @abstractmethod
    def run(self, batches: Sequence[np.ndarray]) -> Iterator[BatchResult]:
        """Evaluate ``batches`` (each boolean ``(b, n)``), yielding results as they finish.

        The generator stops submitting work when it is closed; batches still running are
        discarded. After yielding a failed result it yields nothing more.
        """

    def close(self) -> None:
        """Release the workers (idempotent); a later :meth:`open` starts new ones."""
        self._opened = False
        self._spec = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_workers={self.n_workers})"


class SerialExecutor(Executor):
    """Evaluate batches one after the other in the calling thread."""

    n_workers = 1

    def _start(self, game_spec: Any) -> None:
        self.game = build_game(game_spec)

    def run(self, batches: Sequence[np.ndarray]) -> Iterator[BatchResult]:
        """Evaluate each batch in order; see :meth:`Executor.run`."""
        for index, batch in enumerate(batches):
            start = time.perf_counter()
            try:
                values, seconds = evaluate_batch(self.game, batch)
            except Exception as err:
                yield BatchResult(index, None, err, time.perf_counter() - start)
                return
            yield BatchResult(index, values, None, seconds)

    def close(self) -> None:
        """Drop the game reference."""
        self.game = None
        super().close()


class _PoolExecutor(Executor):
    """Shared logic of the ``concurrent.futures`` executors: a bounded window of futures."""

    def __init__(self, n_workers: int = 2) -> None:
        super().__init__()
        self.n_workers = check_n_workers(n_workers)
        self._pool: cf.Executor | None = None

    @abstractmethod
    def _submit(self, batch: np.ndarray) -> cf.Future:
        """Submit one batch; the future returns ``(values, seconds)``."""

    def run(self, batches: Sequence[np.ndarray]) -> Iterator[BatchResult]:
        """Keep ``2 * n_workers`` batches submitted; see :meth:`Executor.run`."""
        window = 2 * self.n_workers
        pending: dict[cf.Future, int] = {}
        next_index = 0
        try:
            while next_index < len(batches) or pending:
                while next_index < len(batches) and len(pending) < window:
                    pending[self._submit(batches[next_index])] = next_index
                    next_index += 1
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in sorted(done, key=pending.__getitem__):
                    index = pending.pop(future)
                    try:
                        values, seconds = future.result()
                    except Exception as err:
                        if isinstance(err, cf.BrokenExecutor):
                            self._discard_pool()
                        yield BatchResult(index, None, err, 0.0)
                        return
                    yield BatchResult(index, values, None, seconds)
        finally:
            for future in pending:
                future.cancel()

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        self._opened = False

    def close(self) -> None:
        """Shut the pool down and wait for running batches."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        super().close()


class ThreadExecutor(_PoolExecutor):
    """Evaluate batches in ``n_workers`` threads that share one game (which must be thread safe).

    Args:
        n_workers: number of threads. Defaults to 2.
    """

    def _start(self, game_spec: Any) -> None:
        self.game = build_game(game_spec)
        self._pool = cf.ThreadPoolExecutor(self.n_workers, thread_name_prefix="spex-engine")

    def _submit(self, batch: np.ndarray) -> cf.Future:
        return self._pool.submit(evaluate_batch, self.game, batch)


# Set in each worker process by ``_process_initialize``.
_WORKER_GAME: Any = None
_WORKER_BARRIER: Any = None


def _process_initialize(game_spec: Any, barrier: Any) -> None:
    global _WORKER_GAME, _WORKER_BARRIER
    _exit_with_parent()
    _WORKER_GAME = build_game(game_spec)
    _WORKER_BARRIER = barrier


def _exit_with_parent() -> None:
    """End this worker when the process that started it dies (``kill -9`` included).

    A pool's workers otherwise outlive a killed parent, blocked on their task pipe with the
    game (a model: hundreds of MB each) loaded, and every killed-and-resumed run leaks them.
    The parent's sentinel becomes ready when it exits, however it exits.
    """
    import multiprocessing.connection

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)  # the parent is gone: nobody reads this worker's results

    threading.Thread(target=watch, name="shapiq-spex-parent-watch", daemon=True).start()


def _process_ready(timeout_s: float) -> int:
    # Returns only when all workers run this at the same time, i.e. when all have built the game.
    _WORKER_BARRIER.wait(timeout_s)
    return os.getpid()


def _process_evaluate(batch: np.ndarray) -> tuple[Any, float]:
    values, seconds = evaluate_batch(_WORKER_GAME, batch)
    return np.asarray(values), seconds


_GUARD_FIX = (
    "With executor='processes' every worker process starts by importing the main script again "
    "(the 'spawn' start method, safe with threads and CUDA), so the code that builds and calls the "
    'engine must sit under `if __name__ == "__main__":` in the script; otherwise each worker '
    "starts the engine again instead of serving it."
)


def _main_script_lacks_guard() -> str | None:
    """The main script's path if it has no top-level ``if __name__ == "__main__":``, else None.

    Interactive sessions (no ``__file__``) are not re-imported by workers and need no guard.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or not str(path).endswith(".py"):
        return None
    try:
        tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)  # noqa: SIM115
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.If):
            names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
            consts = {n.value for n in ast.walk(node.test) if isinstance(n, ast.Constant)}
            if "__name__" in names and "__main__" in consts:
                return None
    return str(path)


def check_picklable(game_spec: Any, executor: str = "processes") -> None:
    """Raise a :class:`WorkerError` naming the fix if the workers could not receive ``game_spec``.

    Args:
        game_spec: the game or :class:`GameFactory` sent to every worker process.
        executor: the executor's name, for the message.

    Raises:
        WorkerError: the spec cannot be pickled (a lambda, a local function, an open file or
            lock), or it refers to objects of an interactive ``__main__`` that workers cannot
            import.
    """
    what = "GameFactory" if isinstance(game_spec, GameFactory) else "game"
    fix = (
        "Define the game (and any function it calls) at module level in an importable .py file, "
        "not as a lambda or a function inside another function; or build it inside each worker "
        "with GameFactory(module_level_function, *args); or use executor='threads' (same process) "
        "or 'ray' (which pickles lambdas)."
    )
    try:
        data = pickle.dumps(game_spec)
    except Exception as err:
        msg = (
            f"executor={executor!r} sends the {what} to each worker process by pickling it, and "
            f"{game_spec!r} cannot be pickled ({type(err).__name__}: {err}). {fix}"
        )
        raise WorkerError(msg) from err
    main = sys.modules.get("__main__")
    if b"__main__" in data and not getattr(main, "__file__", None):
        msg = (
            f"executor={executor!r} sends the {what} to each worker process by pickling it, and "
            f"{game_spec!r} refers to objects defined in an interactive session (__main__ without "
            f"a file), which worker processes cannot import. {fix}"
        )
        raise WorkerError(msg)


class ProcessExecutor(_PoolExecutor):
    """Evaluate batches in ``n_workers`` processes, each holding its own copy of the game.

    The game (or :class:`GameFactory`) is pickled once per worker and built when the worker
    starts. A worker that dies breaks the pool: the batch fails with the pool's error and the pool
    is rebuilt on the next call (use :class:`~shapiq_spex.engine.RayExecutor` for automatic
    retries).

    Args:
        n_workers: number of processes. Defaults to 2.
        mp_context: ``"spawn"`` (default: safe with threads, Ray and CUDA in the parent),
            ``"forkserver"`` or ``"fork"`` (fastest start, but unsafe in a multi-threaded parent).
        startup_timeout_s: seconds to wait for all workers to build the game. Defaults to 600.

    Raises:
        WorkerError: (when opened) a worker could not build the game in time.
    """

    def __init__(
        self, n_workers: int = 2, *, mp_context: str = "spawn", startup_timeout_s: float = 600.0
    ) -> None:
        super().__init__(n_workers)
        if not isinstance(startup_timeout_s, int | float) or startup_timeout_s <= 0:
            msg = (
                "The 'startup_timeout_s' parameter of ProcessExecutor must be a positive number. "
                f"Got {startup_timeout_s!r}."
            )
            raise InvalidParameterError(msg)
        self.startup_timeout_s = float(startup_timeout_s)
        if mp_context not in ("spawn", "forkserver", "fork"):
            msg = (
                "The 'mp_context' parameter of ProcessExecutor must be 'spawn', 'forkserver' or "
                f"'fork'. Got {mp_context!r}."
            )
            raise InvalidParameterError(msg)
        self.mp_context = mp_context

    def _start(self, game_spec: Any) -> None:
        if self.mp_context != "fork":
            if getattr(multiprocessing.current_process(), "_inheriting", False):
                # We are a worker importing the main script, which starts an engine again.
                msg = f"A worker process tried to start its own worker processes. {_GUARD_FIX}"
                raise WorkerError(msg)
            script = _main_script_lacks_guard()
            if script is not None:
                msg = f"The script '{script}' has no main guard. {_GUARD_FIX}"
                raise WorkerError(msg)
            check_picklable(game_spec)
        context = multiprocessing.get_context(self.mp_context)
        self._pool = cf.ProcessPoolExecutor(
            self.n_workers,
            mp_context=context,
            initializer=_process_initialize,
            initargs=(game_spec, context.Barrier(self.n_workers)),
        )
        # Workers are spawned on demand: start them all now and wait until each built the game,
        # so that the first call does not run while some workers are still importing.
        futures = [
            self._pool.submit(_process_ready, self.startup_timeout_s) for _ in range(self.n_workers)
        ]
        try:
            pids = {future.result() for future in futures}
        except (cf.BrokenExecutor, threading.BrokenBarrierError) as err:
            self._discard_pool()
            msg = (
                f"The {self.n_workers} worker processes could not all build the game within "
                f"{self.startup_timeout_s} s ({type(err).__name__}: {err}); the worker's own error "
                "is printed on stderr. Check that the game (or GameFactory) can be built in a "
                "fresh process (that it imports everything it needs), and that the code starting "
                'the engine sits under `if __name__ == "__main__":`.'
            )
            raise WorkerError(msg) from err
        if len(pids) != self.n_workers:  # pragma: no cover - guaranteed by the barrier
            msg = f"Expected {self.n_workers} worker processes, found {len(pids)}."
            raise WorkerError(msg)

    def _submit(self, batch: np.ndarray) -> cf.Future:
        return self._pool.submit(_process_evaluate, batch)


def make_executor(executor: str | Executor, n_workers: int | None = None) -> Executor:
    """Turn ``QueryEngine``'s ``executor`` and ``n_workers`` arguments into an :class:`Executor`.

    Args:
        executor: one of :data:`EXECUTORS` or an :class:`Executor` instance (returned as is).
        n_workers: workers of a named parallel executor (default 2); must be None otherwise.

    Returns:
        The executor (not opened yet).
    """
    if isinstance(executor, Executor):
        if n_workers is not None:
            msg = (
                "The 'n_workers' parameter of QueryEngine must be None when 'executor' is an "
                "Executor instance; set the number of workers on the instance."
            )
            raise InvalidParameterError(msg)
        return executor
    if executor not in EXECUTORS:
        msg = (
            f"The 'executor' parameter of QueryEngine must be one of {EXECUTORS} or an Executor "
            f"instance. Got {executor!r}."
        )
        raise InvalidParameterError(msg)
    if executor == "serial":
        if n_workers not in (None, 1):
            msg = (
                "The 'n_workers' parameter of QueryEngine must be None with executor='serial'. "
                f"Got {n_workers!r}; use executor='threads', 'processes' or 'ray' for workers."
            )
            raise InvalidParameterError(msg)
        return SerialExecutor()
    workers = 2 if n_workers is None else check_n_workers(n_workers)
    if executor == "threads":
        return ThreadExecutor(workers)
    if executor == "processes":
        return ProcessExecutor(workers)
    from shapiq_spex.engine.ray_executor import RayExecutor

    return RayExecutor(num_workers=workers)
