from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from shapiq_spex._parallel import check_n_jobs, one_blas_thread, resolve_n_jobs, thread_map
from shapiq_spex.exceptions import InvalidParameterError


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_thread_map_keeps_the_order_of_its_items(workers):
    def slow_square(i):
        time.sleep(0.01 * (5 - i))  # the first items finish last
        return i * i, threading.get_ident()

    out = thread_map(slow_square, range(5), workers)
    assert [v for v, _ in out] == [0, 1, 4, 9, 16]
    threads = {t for _, t in out}
    if workers == 1:
        assert threads == {threading.get_ident()}
    else:
        assert threading.get_ident() not in threads


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2", None])
def test_n_jobs_must_be_positive_or_minus_one(bad):
    with pytest.raises(InvalidParameterError, match=r"'n_jobs' parameter.*-1"):
        check_n_jobs(bad)


def test_minus_one_is_every_usable_core():
    assert check_n_jobs(-1) == -1
    assert resolve_n_jobs(-1) >= 1
    assert resolve_n_jobs(3) == 3


def test_one_blas_thread_limits_only_inside():
    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    outside = blas_threads()
    if not outside:
        pytest.skip("no BLAS library found by threadpoolctl")
    inside = one_blas_thread(blas_threads)()
    assert inside == [1] * len(outside)
    assert blas_threads() == outside


def test_warning_filters_are_not_changed_by_a_threaded_sparse_fit():
    from shapiq_spex.proxy.sparse_regression import fit_sparse_moebius

    rng = np.random.default_rng(0)
    X = rng.random((400, 30)) < 0.5
    y = X[:, 0] * X[:, 1] + X[:, 2] + 0.1 * rng.normal(size=400)
    before = list(warnings.filters)
    fit_sparse_moebius(X, y, np.random.default_rng(1), max_columns=200, n_jobs=2)
    assert list(warnings.filters) == before
