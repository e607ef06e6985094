"""Evaluate batches on Ray actors (optional extra: ``pip install 'shapiq-spex[distributed]'``).

Each actor builds (or unpickles) the game once and then evaluates one batch at a time, so a
loaded language model stays in GPU memory across batches and calls. Ray is imported only when
the executor is opened.
"""

from __future__ import annotations

import contextlib
import numbers
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from shapiq_spex.engine.executors import (
    BatchResult,
    Executor,
    GameFactory,
    WorkerError,
    check_n_workers,
)
from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["RayExecutor"]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        msg = (
            "The 'ray' executor of QueryEngine needs Ray, which is not installed: "
            "pip install 'shapiq-spex[distributed]'"
        )
        raise ImportError(msg) from err
    return ray


def _actor_class() -> type:
    """The body of a Ray actor: holds one game and evaluates batches on it.

    The class is defined inside a function so that Ray ships it by value: an actor imports only
    numpy and what the game itself needs, never shapiq-spex or shapiq (importing shapiq costs
    seconds per actor). For the same reason a GameFactory travels as ``(factory, args, kwargs)``.
    """

    class GameActor:
        def __init__(self, factory: Any, args: tuple, kwargs: dict) -> None:
            self._game = args[0] if factory is None else factory(*args, **kwargs)

        def ready(self) -> int:
            import os

            return os.getpid()

        def evaluate(self, batch: Any) -> tuple[Any, float]:
            import time

            import numpy

            start = time.perf_counter()
            values = self._game(batch)
            return numpy.asarray(values), time.perf_counter() - start

    return GameActor


class RayExecutor(Executor):
    """Evaluate batches on ``num_workers`` Ray actors, retrying batches whose actor died.

    Every actor receives the game (or :class:`~shapiq_spex.engine.GameFactory`) once, through the
    Ray object store, and builds it in its constructor. Batches are dealt to the actors as they
    free up, ``tasks_per_actor`` at a time per actor. When an actor dies (its process crashed or
    was killed, its node was lost) the executor kills and replaces it and puts its batches back at
    the head of the queue, so they run on the next free actor; a batch may lose its actor at most
    ``max_retries`` times. An exception
    raised by the game itself is not retried: it is a property of the game, not of the worker.

    If Ray is not initialised, :meth:`open` calls ``ray.init(**init_kwargs)`` (which starts a
    local cluster, or joins the one named by ``RAY_ADDRESS``); the cluster is left running by
    :meth:`close`, which only kills the actors.

    Args:
        num_workers: number of actors. Defaults to 1.
        num_cpus: CPUs reserved per actor. Defaults to 1.
        num_gpus: GPUs reserved per actor (fractions share a GPU). Defaults to 0.
        max_retries: times a batch may lose its actor before the call fails. Defaults to 3.
        tasks_per_actor: batches queued on each actor at a time. With 2 (the default) an actor
            starts its next batch without waiting for the driver; a dying actor then loses up to
            this many batches, which are retried. Defaults to 2.
        startup_timeout_s: seconds to wait for all actors to build the game; fails with
            :class:`WorkerError` (listing the cluster's resources) when the cluster cannot place
            them. Defaults to 600.
        actor_options: extra ``ActorClass.options(...)`` keywords (for example
            ``{"runtime_env": {...}}``). Defaults to None.
        init_kwargs: keywords for ``ray.init`` when Ray is not yet initialised. Defaults to None.
    """

    def __init__(
        self,
        num_workers: int = 1,
        *,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        max_retries: int = 3,
        tasks_per_actor: int = 2,
        startup_timeout_s: float = 600.0,
        actor_options: dict[str, Any] | None = None,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.n_workers = self.num_workers = check_n_workers(num_workers, "num_workers")
        for name, value in (
            ("num_cpus", num_cpus),
            ("num_gpus", num_gpus),
            ("startup_timeout_s", startup_timeout_s),
        ):
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
                msg = f"The '{name}' parameter of RayExecutor must be a number >= 0. Got {value!r}."
                raise InvalidParameterError(msg)
        if not isinstance(max_retries, numbers.Integral) or max_retries < 0:
            msg = (
                "The 'max_retries' parameter of RayExecutor must be an int >= 0. "
                f"Got {max_retries!r}."
            )
            raise InvalidParameterError(msg)
        for name, value in (("actor_options", actor_options), ("init_kwargs", init_kwargs)):
            if value is not None and not isinstance(value, dict):
                msg = (
                    f"The '{name}' parameter of RayExecutor must be None or a dict. Got {value!r}."
                )
                raise InvalidParameterError(msg)
        self.num_cpus = float(num_cpus)
        self.num_gpus = float(num_gpus)
        self.max_retries = int(max_retries)
        self.tasks_per_actor = check_n_workers(tasks_per_actor, "tasks_per_actor")
        self.startup_timeout_s = float(startup_timeout_s)
        self.actor_options = dict(actor_options or {})
        self.init_kwargs = dict(init_kwargs or {})
        #: Number of actors replaced after dying (over the executor's lifetime).
        self.restarts = 0
        self._actors: list[Any] = []

    # ------------------------------------------------------------------ lifecycle
    def _start(self, game_spec: Any) -> None:
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(**self.init_kwargs)
        self._actor_cls = ray.remote(_actor_class())
        if isinstance(game_spec, GameFactory):
            spec = (game_spec.factory, game_spec.args, game_spec.kwargs)
        else:
            spec = (None, (game_spec,), {})
        self._spec_refs = [ray.put(part) for part in spec]
        self._actors = [self._new_actor() for _ in range(self.num_workers)]
        try:
            ray.get(
                [actor.ready.remote() for actor in self._actors], timeout=self.startup_timeout_s
            )
        except ray.exceptions.GetTimeoutError as err:
            self._kill_all()
            msg = (
                f"Could not start {self.num_workers} Ray actors with num_cpus={self.num_cpus} and "
                f"num_gpus={self.num_gpus} each within {self.startup_timeout_s} s; the cluster "
                f"has {ray.cluster_resources()}. Lower num_workers, num_cpus or num_gpus."
            )
            raise WorkerError(msg) from err
        except ray.exceptions.RayError as err:
            self._kill_all()
            msg = f"A Ray actor failed to build the game: {err}"
            raise WorkerError(msg) from err

    def _new_actor(self) -> Any:
        options = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, **self.actor_options}
        return self._actor_cls.options(**options).remote(*self._spec_refs)

    def _replace(self, actor: Any) -> Any:
        ray = _import_ray()
        position = next(i for i, live in enumerate(self._actors) if live is actor)
        with contextlib.suppress(ray.exceptions.RayError):  # it may be gone already
            ray.kill(actor, no_restart=True)
        self._actors[position] = self._new_actor()
        self.restarts += 1
        return self._actors[position]

    def _kill_all(self) -> None:
        ray = _import_ray()
        for actor in self._actors:
            with contextlib.suppress(ray.exceptions.RayError):  # it may be gone already
                ray.kill(actor, no_restart=True)
        self._actors = []

    def close(self) -> None:
        """Kill the actors (the Ray cluster keeps running)."""
        if self._actors:
            self._kill_all()
        self._spec_refs = []
        super().close()

    # ------------------------------------------------------------------ evaluation
    def run(self, batches: Sequence[np.ndarray]) -> Iterator[BatchResult]:
        """Deal batches to idle actors, retry lost ones; see :meth:`Executor.run`."""
        ray = _import_ray()
        lost_actor = (
            ray.exceptions.RayActorError,
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.ObjectLostError,
        )
        queue = deque(range(len(batches)))
        losses = [0] * len(batches)
        # One entry per free task slot; each actor has ``tasks_per_actor`` slots, so that the next
        # batch is already waiting on the actor when the current one finishes.
        slots = deque(actor for actor in self._actors for _ in range(self.tasks_per_actor))
        in_flight: dict[Any, tuple[int, Any]] = {}
        while queue or in_flight:
            while queue and slots:
                index, actor = queue.popleft(), slots.popleft()
                in_flight[actor.evaluate.remote(batches[index])] = (index, actor)
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            index, actor = in_flight.pop(ref)
            try:
                values, seconds = ray.get(ref)
            except lost_actor as err:
                losses[index] += 1
                if any(live is actor for live in self._actors):  # first news of this death
                    slots = deque(slot for slot in slots if slot is not actor)
                    slots.extend([self._replace(actor)] * self.tasks_per_actor)
                if losses[index] > self.max_retries:
                    msg = (
                        f"Batch {index} lost its Ray actor {losses[index]} times "
                        f"(max_retries={self.max_retries}); last error: {err}"
                    )
                    error = WorkerError(msg)
                    error.__cause__ = err
                    yield BatchResult(index, None, error, 0.0)
                    return
                queue.appendleft(index)
                continue
            except ray.exceptions.RayTaskError as err:
                # The game raised: ``err`` is also an instance of the original exception type.
                yield BatchResult(index, None, err, 0.0)
                return
            slots.append(actor)
            yield BatchResult(index, values, None, seconds)

    def __repr__(self) -> str:
        return (
            f"RayExecutor(num_workers={self.num_workers}, num_cpus={self.num_cpus}, "
            f"num_gpus={self.num_gpus}, max_retries={self.max_retries})"
        )
