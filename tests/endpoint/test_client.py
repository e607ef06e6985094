"""EndpointClient against a real local HTTP server that answers from a script.

The server is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1: each request takes the next
scripted answer (status, JSON body, headers, delay) and is recorded (headers, body), so retries,
backoff, rate limits, concurrency and the API-key handling are tested on real HTTP.
"""

from __future__ import annotations

import json
import pickle
import threading
import time

import pytest

from shapiq_spex.endpoint.client import (
    ConcurrencyWindow,
    EndpointClient,
    EndpointQuotaError,
    EndpointRequestError,
    EndpointUnavailableError,
    RateLimiter,
    RetryPolicy,
    retryable_status,
)
from shapiq_spex.endpoint.fault_proxy import FaultInjectingProxy
from shapiq_spex.endpoint.llama_server import free_port
from shapiq_spex.exceptions import InvalidParameterError

FAST = RetryPolicy(max_retries=4, backoff_base_s=0.01, backoff_max_s=0.02)


def error(message: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": "error", "code": code}}


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retries_429_and_5xx_then_succeeds(server, status):
    server.script = [(status, error("busy"), {}, 0.0)] * 2
    with EndpointClient(server.url, retry=FAST) as client:
        assert client.post("/completions", {"i": 0}) == server.ok
        usage = client.usage
    assert len(server.requests) == 3
    assert (usage.requests, usage.attempts, usage.retries) == (1, 3, 2)
    assert usage.retries_by_cause == {str(status): 2}
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, 2)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 501])
def test_request_errors_are_never_retried(server, status):
    server.script = [(status, error("bad field 'foo'"), {}, 0.0)]
    with EndpointClient(server.url, retry=FAST) as client:
        with pytest.raises(EndpointRequestError, match="bad field 'foo'") as info:
            client.post("/completions", {})
        assert client.usage.failed == 1
    assert info.value.status == status
    assert len(server.requests) == 1


def test_quota_429_is_not_retried(server):
    server.script = [(429, error("You exceeded your quota", "insufficient_quota"), {}, 0.0)]
    with (
        EndpointClient(server.url, retry=FAST) as client,
        pytest.raises(EndpointQuotaError, match=r"quota is used up.*run the same command again"),
    ):
        client.post("/completions", {})
    assert len(server.requests) == 1


def test_retry_after_is_honoured(server):
    server.script = [(429, error("slow down"), {"Retry-After": "0.3"}, 0.0)]
    with EndpointClient(server.url, retry=FAST) as client:
        start = time.perf_counter()
        client.post("/completions", {})
        took = time.perf_counter() - start
        usage = client.usage
    assert usage.retry_wait_s == pytest.approx(0.3)
    assert took >= 0.3


def test_retries_exhausted_raise_unavailable(server):
    server.script = [(503, error("down"), {}, 0.0)] * 10
    with (
        EndpointClient(server.url, retry=FAST) as client,
        pytest.raises(EndpointUnavailableError, match=r"failed 5 times.*HTTP 503: down"),
    ):
        client.post("/completions", {})
    assert len(server.requests) == 5


def test_connection_refused_is_a_quick_clear_error():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with EndpointClient(url, retry=FAST) as client:
        start = time.perf_counter()
        with pytest.raises(EndpointUnavailableError, match="is the server running"):
            client.post("/completions", {})
        assert time.perf_counter() - start < 5
        assert client.usage.retries_by_cause == {"connection": 4}


def test_timeout_is_retried_as_timeout(server):
    server.script = [(200, server.ok, {}, 1.0)]
    with EndpointClient(server.url, retry=FAST, timeout_s=0.3) as client:
        assert client.post("/completions", {}) == server.ok
        assert client.usage.retries_by_cause == {"timeout": 1}


def test_exhausted_timeouts_point_to_the_timeout(server):
    server.script = [(200, server.ok, {}, 1.0)] * 5
    with (
        EndpointClient(server.url, retry=FAST, timeout_s=0.2) as client,
        pytest.raises(EndpointUnavailableError, match=r"raise timeout_s .*\(now 0.2 s\)") as info,
    ):
        client.post("/completions", {})
    assert "overloaded" not in str(info.value)
    assert not str(info.value).endswith(("?.", ".."))


def test_a_404_suggests_the_api_root(server):
    server.script = [(404, error("Not Found"), {}, 0.0)]
    with (
        EndpointClient(server.url, retry=FAST) as client,
        pytest.raises(EndpointRequestError, match=r"API root \(…/v1\)"),
    ):
        client.post("/completions", {})


def test_non_json_answer_is_a_request_error(server):
    server.script = [(200, b"<html>hello</html>", {}, 0.0)]
    with (
        EndpointClient(server.url, retry=FAST) as client,
        pytest.raises(EndpointRequestError, match="not JSON"),
    ):
        client.post("/completions", {})


def test_api_key_from_env_is_sent_and_never_stored(server, monkeypatch):
    monkeypatch.setenv("SHAPIQ_SPEX_TEST_KEY", "sk-secret-123")
    client = EndpointClient(server.url, api_key_env="SHAPIQ_SPEX_TEST_KEY", retry=FAST)
    client.post("/completions", {})
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-secret-123"
    blob = pickle.dumps(client)
    assert b"sk-secret-123" not in blob
    assert "sk-secret-123" not in repr(client)
    assert "sk-secret-123" not in json.dumps(client.usage.as_dict())
    client.close()
    monkeypatch.setenv("SHAPIQ_SPEX_TEST_KEY", "sk-rotated")
    clone = pickle.loads(blob)  # re-reads the variable
    clone.post("/completions", {})
    assert server.requests[1]["headers"]["Authorization"] == "Bearer sk-rotated"
    clone.close()


def test_unset_key_variable_is_refused(monkeypatch):
    monkeypatch.delenv("SHAPIQ_SPEX_NO_SUCH_KEY", raising=False)
    with pytest.raises(InvalidParameterError, match="SHAPIQ_SPEX_NO_SUCH_KEY"):
        EndpointClient("http://127.0.0.1:1/v1", api_key_env="SHAPIQ_SPEX_NO_SUCH_KEY")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "127.0.0.1:8000"}, "http"),
        ({"base_url": "http://user:pw@127.0.0.1/v1"}, "credentials"),
        ({"concurrency": 0}, "concurrency"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"requests_per_minute": 0}, "requests_per_minute"),
        ({"price_per_million_tokens": (1.0,)}, "price_per_million_tokens"),
        ({"headers": {"Authorization": "Bearer x"}}, "api_key_env"),
    ],
)
def test_bad_arguments(kwargs, match):
    kwargs = {"base_url": "http://127.0.0.1:1/v1", **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        EndpointClient(**kwargs)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_map_keeps_order_and_bounds_concurrency(server, concurrency):
    server.script = [(200, {"echo_index": True}, {}, 0.15)] * 9
    with EndpointClient(server.url, retry=FAST, concurrency=concurrency) as client:
        out = client.map("/completions", [{"i": i} for i in range(9)])
    assert [o["index"] for o in out] == list(range(9))
    assert server.max_in_flight == concurrency


def test_map_keeps_answers_that_arrived_before_an_error(server):
    # the first request fails (400) while two are in flight: they still reach on_result
    server.script = [
        (400, error("bad"), {}, 0.2),
        (200, server.ok, {}, 0.3),
        (200, server.ok, {}, 0.3),
    ]
    seen = []
    with (
        EndpointClient(server.url, retry=FAST, concurrency=3) as client,
        pytest.raises(EndpointRequestError),
    ):
        client.map(
            "/completions", [{"i": i} for i in range(6)], on_result=lambda i, _: seen.append(i)
        )
    # every request the server answered with 200 reached on_result; the rest was cancelled
    assert len(seen) == len(server.requests) - 1
    assert 2 <= len(seen) <= 4


def test_map_error_stops_requests_waiting_to_retry(server):
    """A request backing off (Retry-After 3 s) stops when another one fails for good."""
    server.script = [(503, error("busy"), {"Retry-After": "3"}, 0.0), (400, error("bad"), {}, 0.3)]
    retry = RetryPolicy(max_retries=4, backoff_base_s=0.01, backoff_max_s=0.02)
    with EndpointClient(server.url, retry=retry, concurrency=2) as client:
        start = time.perf_counter()
        with pytest.raises(EndpointRequestError, match="bad"):
            client.map("/completions", [{"i": 0}, {"i": 1}])
        took = time.perf_counter() - start
        usage = client.usage
    assert took < 2.0  # not the 3 s of the backoff: the retry was never sent
    assert len(server.requests) == 2
    assert usage.retries == 1  # counted when the backoff began
    assert usage.failed == 1  # the 400; the stopped request is not counted as given up


@pytest.mark.timeout(60)
def test_overload_lowers_concurrency_instead_of_starving_a_request(server):
    """A server that takes 1 request at a time behind a 429 proxy; the client sends up to 4.

    Without the adaptive window the 4 threads keep racing for the one slot, and with 8 retries a
    request loses every race before the 10 are answered (all of 5 seeds failed that way, after
    29-35 retries). With it the client backs down to about one request in flight.
    """
    n = 10
    server.script = [(200, {"echo_index": True}, {}, 0.2)] * n
    with FaultInjectingProxy([server.url.removesuffix("/v1")], capacity=1) as proxy:
        retry = RetryPolicy(max_retries=8, backoff_base_s=0.05, backoff_max_s=0.5)
        with EndpointClient(proxy.base_url, concurrency=4, retry=retry) as client:
            out = client.map("/completions", [{"i": i} for i in range(n)])
            usage = client.usage
            window = client.window
    assert [o["index"] for o in out] == list(range(n))
    assert (usage.requests, usage.failed) == (n, 0)
    assert usage.retries_by_cause == {"429": proxy.counts["rejected_overload"]}
    assert usage.slowdowns == window.reductions >= 1
    assert usage.retries <= 2 * n
    assert server.max_in_flight == 1
    assert window.in_flight == 0


@pytest.mark.timeout(10)
def test_window_halves_once_per_window_and_grows_back():
    window = ConcurrencyWindow(4)
    epochs = [window.acquire() for _ in range(4)]
    assert window.in_flight == 4
    # three overload answers to attempts sent under the same limit: one halving
    assert window.release(epochs[0], "overload")
    assert not window.release(epochs[1], "overload")
    assert not window.release(epochs[2], "overload")
    assert (window.limit, window.reductions, window.in_flight) == (2.0, 1, 1)
    # an attempt sent after the halving and refused again halves again
    e = window.acquire()
    assert window.release(e, "overload")
    assert (window.limit, window.reductions) == (1.0, 2)
    window.release(epochs[3], "other")  # neither grows nor shrinks it
    assert (window.limit, window.in_flight) == (1.0, 0)
    e = window.acquire()
    assert not window.release(e, "overload")  # never below 1
    assert (window.limit, window.reductions) == (1.0, 2)
    # each answer adds 1 / limit: 1 -> 2 -> 2.5 -> 2.9 -> ..., capped at 4
    grown = []
    for _ in range(20):
        window.release(window.acquire(), "ok")
        grown.append(window.limit)
    assert grown[:3] == pytest.approx([2.0, 2.5, 2.9])
    assert grown[-1] == 4.0
    assert window.in_flight == 0


@pytest.mark.timeout(10)
def test_window_serves_waiting_attempts_in_order():
    window = ConcurrencyWindow(1)
    first = window.acquire()
    order = []

    def wait(tag):
        e = window.acquire()
        order.append(tag)
        time.sleep(0.02)
        window.release(e, "ok")

    threads = []
    for tag in range(4):
        threads.append(threading.Thread(target=wait, args=(tag,)))
        threads[-1].start()
        time.sleep(0.05)  # each joins the queue before the next
    window.release(first, "ok")
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3]


def test_cost_accounting(server):
    with EndpointClient(server.url, price_per_million_tokens=(1.0, 4.0)) as client:
        client.map("/completions", [{"i": i} for i in range(3)])
        usage = client.usage
    assert usage.prompt_tokens == 21
    assert usage.completion_tokens == 6
    assert usage.cost == pytest.approx((21 * 1.0 + 6 * 4.0) / 1e6)
    assert "tok=27" in usage.summary()


@pytest.mark.parametrize(
    ("attempt", "u", "after", "expected"),
    [
        (0, 0.5, None, 0.25),
        (3, 1.0, None, 4.0),
        (10, 1.0, None, 30.0),  # capped
        (10, 0.0, None, 0.0),  # full jitter reaches 0
        (0, 0.5, 2.0, 2.0),  # Retry-After wins when longer
    ],
)
def test_backoff_delay(attempt, u, after, expected):
    assert RetryPolicy().delay(attempt, u, after) == pytest.approx(expected)


@pytest.mark.parametrize("status", [200, 400, 404, 408, 501, 505])
def test_not_retryable(status):
    assert not retryable_status(status)


def test_rate_limiter_spaces_requests_and_tokens():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    limiter = RateLimiter(120, 6000, clock=lambda: now[0], sleep=sleep)
    starts = []
    for tokens in (100, 100, 1000, 10):
        limiter.acquire(tokens)
        starts.append(now[0])
    # 120 rpm: 0.5 s apart; 6000 tpm: 100 tokens take 1 s, 1000 tokens 10 s of budget
    assert starts == pytest.approx([0.0, 1.0, 2.0, 12.0])
    assert RateLimiter().acquire(10**6) == 0.0
