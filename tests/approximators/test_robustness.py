"""Issue 11, rows 4, 5, 10, 13 and 14, as an adversarial but realistic user would hit them.

* row 4: games with huge offsets (``1e9 + v(S)``: log-likelihoods, prices, counts) or extreme
  scales (``1e-100 * v``, ``1e154 * v``) are recovered to float64's resolution of their spread,
  or refused with a clear error; never silently wrong.
* row 5: a budget far beyond what memory allows (``10**12`` at n = 26 or 100) is capped to a
  memory plan with a ``BudgetCappedWarning``, and the call stays within ``max_memory``.
* row 10: bad ``random_state`` values are refused at construction.
* row 13: complex or string game values are refused (never cast or truncated).
* row 14: a failing second ``approximate()`` leaves no ``report_`` / ``spectrum_`` behind.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shapiq_spex import SPEX, HybridSPEX, ProxySPEX
from shapiq_spex.approximators._base import DEFAULT_MAX_MEMORY, MAX_ABS_VALUE
from shapiq_spex.exceptions import (
    BudgetCappedWarning,
    BudgetTooSmallError,
    InvalidGameError,
    InvalidParameterError,
    PrecisionWarning,
)
from shapiq_spex.games import SparseMoebiusGame

N = 12
# budgets below 2**N = 4096 (nothing exact) at which each method recovers GAME exactly
BUDGETS = {SPEX: 1500, ProxySPEX: 600, HybridSPEX: 700}
METHODS = (SPEX, ProxySPEX, HybridSPEX)
GAME = SparseMoebiusGame(N, 8, 3, random_state=3)
TRUTH = GAME.spectrum.to_moebius().to_dict()
MASKS = np.random.default_rng(0).integers(0, 2, size=(500, N)).astype(bool)


def _affine(offset: float, scale: float):
    """``offset + scale * v(S)``, evaluated in float64 as a user's game would be."""

    def game(coalitions):
        return offset + scale * GAME(coalitions)

    return game


def _fit(cls, offset: float, scale: float, **kwargs):
    """Moebius values of ``offset + scale * v``, with the warnings raised on the way."""
    approx = cls(N, None, "Moebius", random_state=0, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iv = approx.approximate(BUDGETS[cls], _affine(offset, scale))
    return approx, iv, [w.category for w in caught]


def _relative_error(iv, offset: float, scale: float) -> float:
    """Largest error of the offset-free, unscaled interactions relative to the largest one."""
    got = {key: value / scale for key, value in iv.interactions.items() if key != ()}
    got[()] = (iv[()] - offset) / scale
    keys = set(got) | set(TRUTH)
    err = max(abs(got.get(key, 0.0) - TRUTH.get(key, 0.0)) for key in keys)
    return err / max(abs(value) for value in TRUTH.values())


def _offset_free_r2(approx, offset: float, scale: float) -> float:
    y = GAME(MASKS)
    pred = (approx.spectrum_.evaluate(MASKS) - offset) / scale
    return 1.0 - float(((pred - y) ** 2).sum()) / float(((y - y.mean()) ** 2).sum())


# ----------------------------------------------------------------------------- row 4
@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("offset", "scale"),
    [(0.0, 1.0), (1e9, 1.0), (-1e9, 1.0), (1e12, 1.0), (0.0, 1e-100), (0.0, 1e150), (0.0, 1e154)],
)
def test_offsets_and_scales_are_recovered(cls, offset, scale):
    approx, iv, caught = _fit(cls, offset, scale)
    resolution = approx.report_.value_resolution
    # the interactions are right to float64's resolution of the values' spread ...
    assert _relative_error(iv, offset, scale) <= max(1e-6, 1e3 * resolution)
    assert _offset_free_r2(approx, offset, scale) >= 1.0 - max(1e-9, 1e3 * resolution)
    # ... and a user is told when that resolution is coarser than 1e-8
    assert (PrecisionWarning in caught) == (resolution > 1e-8)
    if offset == 0.0:
        assert PrecisionWarning not in caught
        assert _relative_error(iv, offset, scale) <= 1e-6
    if abs(offset) >= 1e9:  # the fit saw (v - center) / scale, not 1e9 + v
        assert abs(approx.report_.value_center) > 0.5 * abs(offset)
    # the result is in the game's units: the empty coalition carries the offset
    expected = offset + scale * TRUTH.get((), 0.0)
    assert iv.baseline_value == pytest.approx(expected, rel=1e-9, abs=1e-9 * scale)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cls=st.sampled_from([SPEX, ProxySPEX]),
    log_scale=st.floats(-100, 150),
    relative_offset=st.one_of(st.just(0.0), st.floats(-1e12, 1e12)),
)
def test_random_offsets_and_scales(cls, log_scale, relative_offset):
    """Any scale in 1e-100..1e150 and offset up to 1e12 times it: right, or a warning says why."""
    scale = 10.0**log_scale
    offset = relative_offset * scale
    approx, iv, caught = _fit(cls, offset, scale)
    resolution = approx.report_.value_resolution
    assert _relative_error(iv, offset, scale) <= max(1e-6, 1e3 * resolution)
    assert (PrecisionWarning in caught) == (resolution > 1e-8)


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
def test_values_beyond_1e300_are_refused(cls):
    with pytest.raises(InvalidGameError, match=r"beyond ±1e\+300.*Divide the game's output"):
        cls(N, random_state=0).approximate(BUDGETS[cls], _affine(0.0, 1e300))
    assert MAX_ABS_VALUE == 1e300


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
def test_an_offset_that_drowns_the_values_is_refused(cls):
    # 1e16 + v(S): float64 keeps v only to a few units, fewer than 10 bits of its spread
    with pytest.raises(InvalidGameError, match=r"resolves them.*Subtract the offset"):
        cls(N, random_state=0).approximate(BUDGETS[cls], _affine(1e16, 1.0))


# ----------------------------------------------------------------------------- row 5
def _capped_run(approx, n: int):
    game = SparseMoebiusGame(n, 8, 2, random_state=3)
    tracemalloc.start()
    try:
        with pytest.warns(BudgetCappedWarning, match="max_memory"):
            iv = approx.approximate(10**12, game)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return iv, peak, game


def test_default_plan_for_a_huge_budget_at_n26_is_not_exact_and_fits():
    """SPEX(26).approximate(10**12) no longer takes the 2**26 exact path (23 GB)."""
    for cls in METHODS:
        approx = cls(26)
        plan = approx.plan(10**12)  # allocates nothing
        assert not plan.exact
        assert plan.exact_bytes > DEFAULT_MAX_MEMORY
        assert plan.capped
        assert plan.queries < 2**26
        assert approx.planned_bytes(plan.queries) <= DEFAULT_MAX_MEMORY
        assert "exact path" in plan.reason


@pytest.mark.parametrize(
    ("cls", "n", "max_memory"),
    [
        (SPEX, 26, 2**28),
        (SPEX, 100, 2**28),
        (ProxySPEX, 26, 2**27 + 2**23),
        (ProxySPEX, 100, 2**27 + 2**23),
        (HybridSPEX, 26, 2**27 + 2**24),
    ],
)
def test_huge_budget_is_capped_and_stays_within_max_memory(cls, n, max_memory):
    approx = cls(n, random_state=0, max_memory=max_memory)
    plan = approx.plan(10**12)
    iv, peak, _ = _capped_run(approx, n)
    # tracemalloc counts every numpy array, the game's included
    assert peak <= max_memory
    report = approx.report_
    assert report.budget == 10**12
    assert report.queries <= plan.queries < 10**12
    assert iv.estimation_budget == report.queries
    cap = report.details["budget_cap"]
    assert cap["requested"] == 10**12
    assert cap["queries_allowed"] == plan.queries
    assert cap["max_memory"] == max_memory
    assert report.faithfulness_r2 > 0.999  # and the capped run is still a good explanation
    assert iv.n_players == n


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
def test_max_memory_too_small_for_the_smallest_design_is_an_error(cls):
    with pytest.raises(BudgetTooSmallError, match=r"'max_memory'.*Raise max_memory"):
        cls(26, max_memory=2**14).approximate(10**6, SparseMoebiusGame(26, 4, 2, random_state=0))


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
def test_exact_path_is_taken_when_it_fits(cls):
    approx = cls(N, None, "Moebius", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BudgetCappedWarning)
        iv = approx.approximate(10**12, GAME)
    assert approx.report_.details.get("exact") is True
    assert approx.report_.queries == 2**N
    assert _relative_error(iv, 0.0, 1.0) <= 1e-12


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2GiB", True, None])
def test_bad_max_memory_is_refused(bad):
    with pytest.raises(InvalidParameterError, match="'max_memory'"):
        SPEX(N, max_memory=bad)


# ----------------------------------------------------------------------------- row 10
@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        (-1, "cannot be negative"),
        (1.5, "a float is not a seed"),
        (1.0, "a float is not a seed"),
        ("0", "a string is not converted"),
        ("seed", "a string is not a seed"),
        (True, "a bool is not a seed"),
        ([1, 2], r"Got \[1, 2\]"),
    ],
)
def test_bad_random_state_is_refused_at_construction(cls, bad, hint):
    with pytest.raises(InvalidParameterError, match=f"'random_state'.*{hint}"):
        cls(N, random_state=bad)
    approx = cls(N, random_state=0)
    with pytest.raises(InvalidParameterError, match="'random_state'"):
        approx.set_random_state(bad)


@pytest.mark.parametrize("cls", [SPEX, ProxySPEX], ids=lambda c: c.__name__)
def test_numpy_int_seed_is_the_int_seed(cls):
    one = cls(N, random_state=np.int64(4)).approximate(BUDGETS[cls], GAME)
    two = cls(N, random_state=4).approximate(BUDGETS[cls], GAME)
    assert one.interactions == two.interactions


# ----------------------------------------------------------------------------- row 13
@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("transform", "match"),
    [
        (lambda y: y + 0j, "complex values.*values.real"),
        (lambda y: y + 1e-3j, "complex values"),
        (lambda y: y.astype(str), "strings.*never converted"),
        (lambda y: [str(v) for v in y], "strings"),
        (lambda y: y.astype(object), "non-numeric"),
    ],
)
def test_complex_and_string_values_are_refused(cls, transform, match):
    def game(coalitions):
        return transform(GAME(coalitions))

    with pytest.raises(InvalidGameError, match=match):
        cls(N, random_state=0).approximate(BUDGETS[cls], game)


# ----------------------------------------------------------------------------- row 14
def _broken(coalitions):
    msg = "the model server went away"
    raise ConnectionError(msg)


FAILURES = [
    (None, _broken, ConnectionError),
    (None, lambda c: GAME(c) + 0j, InvalidGameError),
    (None, lambda c: np.full(c.shape[0], np.nan), InvalidGameError),
    (5, GAME, BudgetTooSmallError),
    ("many", GAME, InvalidParameterError),
    (2**N, _broken, ConnectionError),  # the exact path
]


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
def test_failing_second_call_leaves_no_previous_results(cls):
    approx = cls(N, random_state=0)
    first = approx.approximate(BUDGETS[cls], GAME)
    for budget, game, error in FAILURES:
        approx.approximate(BUDGETS[cls], GAME)  # a good call, then a failing one
        assert approx.report_.queries > 0
        assert len(approx.spectrum_) > 0
        with pytest.raises(error):
            approx.approximate(BUDGETS[cls] if budget is None else budget, game)
        assert not hasattr(approx, "report_"), (budget, error)
        assert not hasattr(approx, "spectrum_"), (budget, error)
    # and the approximator still works afterwards, identically
    assert approx.approximate(BUDGETS[cls], GAME).interactions == first.interactions
