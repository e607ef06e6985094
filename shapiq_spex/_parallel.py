"""Threads for the independent parts of a fit (tuning configurations, orderings, CV folds).

LightGBM, scikit-learn's coordinate descent and numpy's BLAS calls release the GIL, so their
independent fits run side by side in threads without start-up or copying costs. Every result is
computed exactly as in one thread: the number of threads changes the speed, never the values.

Inside such a fit BLAS runs on one thread (:func:`one_blas_thread`): a multi-threaded BLAS sums
in an order that depends on its thread count, so the same seed gave values that differed in the
last bits between machines (or ``OMP_NUM_THREADS`` settings), and its threads, fighting ours over
small matrices, made ProxySPEX 1.4x slower on 2 cores.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import threadpool_limits

from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["check_n_jobs", "one_blas_thread", "resolve_n_jobs", "thread_map"]


def check_n_jobs(value, name: str = "n_jobs") -> int:
    """Return ``value`` if it is a positive int or ``-1`` (every core), else raise naming it."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or (value < 1 and value != -1):
        msg = f"The '{name}' parameter must be a positive int or -1 (every core). Got {value!r}."
        raise InvalidParameterError(msg)
    return int(value)


def resolve_n_jobs(n_jobs: int) -> int:
    """Threads to use for ``n_jobs``: ``-1`` is the cores this process may run on.

    joblib's count honours the CPU affinity and a container's CPU quota (cgroups), where
    ``os.cpu_count()`` would report every core of the host.
    """
    if n_jobs != -1:
        return int(n_jobs)
    from joblib import cpu_count

    return max(1, int(cpu_count()))


def thread_map[T, R](fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """``[fn(item) for item in items]``, on up to ``workers`` threads (in order)."""
    items = list(items)
    workers = min(int(workers), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def one_blas_thread(fn: Callable) -> Callable:
    """Run ``fn`` with BLAS limited to one thread (restored afterwards; see the module doc)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper
