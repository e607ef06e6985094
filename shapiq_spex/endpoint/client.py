"""A polite client for OpenAI-compatible HTTP endpoints (vLLM, llama.cpp, TGI, OpenAI).

:class:`EndpointClient` wraps one ``httpx.Client`` (a connection pool) and sends JSON requests
to ``{base_url}/completions``, ``{base_url}/chat/completions`` and ``{base_url}/models``:

* **Concurrency**: :meth:`EndpointClient.map` sends a list of requests on at most
  ``concurrency`` threads and returns the answers in order.
* **Slowing down on overload**: attempts pass through a :class:`ConcurrencyWindow` (AIMD, as
  TCP's congestion window): an overload answer (429 that is not a quota stop, or 503) halves
  the number of attempts allowed in flight (at least 1, once per window of attempts), each
  answered request raises it by ``1 / limit`` back towards ``concurrency``, and waiting attempts
  go first come, first served. A server that takes fewer requests than ``concurrency`` then
  sees about as many as it takes, and no request is starved of its retries by the others.
* **Retries**: a request that fails with HTTP 429, a 5xx status (except 501 and 505), a connection
  error or a timeout is sent again after an exponential backoff with full jitter
  (``uniform(0, min(backoff_max_s, backoff_base_s * 2**attempt))``), or after the server's
  ``Retry-After`` when that is longer, up to ``max_retries`` times. A 4xx caused by the request
  itself is never retried (:class:`EndpointRequestError`), nor a 429 that says the quota is
  used up (:class:`EndpointQuotaError`).
* **Rate limits**: optional requests-per-minute and tokens-per-minute limits space the requests
  evenly (virtual scheduling: request ``k`` starts no earlier than ``60 k / rpm`` seconds after
  the first), counted before each request from the caller's token estimate.
* **Accounting**: :attr:`EndpointClient.usage` counts requests, retries (by cause), prompt and
  completion tokens (from the responses' ``usage``), seconds waited on backoff and on the rate
  limit, and the cost at user-given prices.
* **Secrets**: the API key is read from the environment variable named by ``api_key_env`` (never
  passed as a value), sent only as the ``Authorization`` header, and never stored in ``repr``,
  pickles, logs or error messages.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import email.utils
import math
import numbers
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError, SpexError

__all__ = [
    "ConcurrencyWindow",
    "EndpointCapabilityError",
    "EndpointClient",
    "EndpointError",
    "EndpointQuotaError",
    "EndpointRequestError",
    "EndpointUnavailableError",
    "EndpointUsage",
    "RateLimiter",
    "RetryPolicy",
    "retryable_status",
]


class EndpointError(SpexError):
    """An OpenAI-compatible endpoint did not answer as needed."""


class EndpointUnavailableError(EndpointError, ConnectionError):
    """The endpoint could not be reached, or kept failing (429, 5xx) through every retry."""


class EndpointRequestError(EndpointError, ValueError):
    """The endpoint refused a request with a 4xx status (not retried: the request is at fault).

    Attributes:
        status: the HTTP status code.
        detail: the server's error message.
    """

    def __init__(self, message: str, *, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class EndpointQuotaError(EndpointRequestError):
    """The endpoint answered 429 because the account's quota is used up (retrying cannot help)."""


class EndpointCapabilityError(EndpointError, ValueError):
    """The endpoint lacks what a scoring needs (prompt log-probabilities, top log-probabilities)."""


class _CancelledError(EndpointError):
    """A request of :meth:`EndpointClient.map` stopped before its next attempt.

    Never raised by ``map`` itself: it raises the error or interrupt that caused the stop.
    """


def retryable_status(status: int) -> bool:
    """Whether a response status is worth retrying: 429 and 5xx, except 501 and 505.

    501 (not implemented) and 505 (HTTP version) describe the request, not a passing overload.
    """
    return status == 429 or (500 <= status < 600 and status not in (501, 505))


def _check_positive(value, name: str, *, integer: bool = False, allow_none: bool = False):
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        what = "a positive int" if integer else "a positive number"
        what += " or None" if allow_none else ""
        msg = f"The '{name}' parameter must be {what}. Got {value!r}."
        raise InvalidParameterError(msg)
    if not integer and not math.isfinite(value):
        msg = f"The '{name}' parameter must be finite. Got {value!r}."
        raise InvalidParameterError(msg)
    return int(value) if integer else float(value)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a failed request again.

    Attributes:
        max_retries: retries after the first attempt (0 = never retry). Defaults to 8.
        backoff_base_s: the first backoff ceiling in seconds. Defaults to 0.5.
        backoff_max_s: the largest backoff ceiling in seconds. Defaults to 30.
    """

    max_retries: int = 8
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        r = self.max_retries
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 0:
            msg = f"The 'max_retries' parameter must be an int >= 0. Got {r!r}."
            raise InvalidParameterError(msg)
        _check_positive(self.backoff_base_s, "backoff_base_s")
        _check_positive(self.backoff_max_s, "backoff_max_s")

    def delay(self, attempt: int, u: float, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

        Args:
            attempt: how many retries were already made.
            u: a uniform draw in ``[0, 1)`` (full jitter).
            retry_after_s: the server's ``Retry-After``, if it sent one.
        """
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0**attempt)
        wait = u * ceiling
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return wait


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits by virtual scheduling (thread-safe).

    Each :meth:`acquire` reserves the earliest start time allowed by both limits: one request
    takes ``60 / rpm`` seconds of the request schedule and ``60 * tokens / tpm`` seconds of the
    token schedule. Requests are spaced evenly, so no 60-second window holds more than the limit
    (plus the request in flight).
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.requests_per_minute = _check_positive(
            requests_per_minute, "requests_per_minute", allow_none=True
        )
        self.tokens_per_minute = _check_positive(
            tokens_per_minute, "tokens_per_minute", allow_none=True
        )
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._request_free = -math.inf
        self._token_free = -math.inf

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether any limit is set."""
        return self.requests_per_minute is not None or self.tokens_per_minute is not None

    def acquire(self, tokens: int = 0) -> float:
        """Wait until a request of ``tokens`` tokens may start; return the seconds waited."""
        if not self.active:
            return 0.0
        with self._lock:
            now = self._clock()
            start = max(now, self._request_free, self._token_free)
            if self.requests_per_minute is not None:
                self._request_free = start + 60.0 / self.requests_per_minute
            if self.tokens_per_minute is not None:
                self._token_free = start + 60.0 * max(int(tokens), 0) / self.tokens_per_minute
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)


class ConcurrencyWindow:
    """How many attempts may be in flight: additive increase, multiplicative decrease (thread-safe).

    :meth:`acquire` waits, first come first served, until fewer than ``floor(limit)`` attempts
    are in flight. :meth:`release` says how the attempt went: ``"overload"`` halves the limit
    (never below 1) unless the limit was already lowered after the attempt was sent (several
    overload answers to one window of attempts are one signal, not several); ``"ok"`` raises it
    by ``1 / limit`` up to ``maximum`` (one more slot per window of answered attempts);
    ``"other"`` leaves it.

    Args:
        maximum: the largest limit (the client's ``concurrency``).

    Attributes:
        limit: the current limit, a float in ``[1, maximum]``.
        in_flight: attempts acquired and not yet released.
        reductions: how many times the limit was halved.
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = _check_positive(maximum, "maximum", integer=True)
        self.limit = float(self.maximum)
        self.in_flight = 0
        self.reductions = 0
        self._epoch = 0  # bumped at each reduction: which attempts saw the current limit
        self._queue: collections.deque[object] = collections.deque()
        self._cond = threading.Condition()

    def acquire(self) -> int:
        """Wait for a slot (first come, first served); return the epoch to pass to release."""
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self.in_flight >= int(self.limit):
                    self._cond.wait()
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()
            self.in_flight += 1
            return self._epoch

    def release(self, epoch: int, outcome: Literal["ok", "overload", "other"]) -> bool:
        """Free the slot of an attempt sent in ``epoch``, adapting the limit to ``outcome``.

        Returns:
            Whether the limit was halved.
        """
        reduced = False
        with self._cond:
            self.in_flight -= 1
            if outcome == "overload":
                if epoch == self._epoch and self.limit > 1.0:
                    self.limit = max(1.0, self.limit / 2.0)
                    self._epoch += 1
                    self.reductions += 1
                    reduced = True
            elif outcome == "ok":
                self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)
            self._cond.notify_all()
        return reduced


@dataclasses.dataclass
class EndpointUsage:
    """Counters of an :class:`EndpointClient` (and of the games that use it).

    Attributes:
        requests: answered requests (each counted once, however many attempts it took).
        attempts: HTTP attempts sent (requests plus retries plus failed attempts).
        retries: attempts that were retries.
        retries_by_cause: retries per cause: ``"429"``, ``"503"``, ..., ``"connection"``,
            ``"timeout"``.
        failed: requests given up (non-retryable error or retries exhausted).
        slowdowns: times an overload answer (429, 503) halved the attempts allowed in flight
            (see :class:`ConcurrencyWindow`).
        prompt_tokens: prompt tokens reported by the endpoint's ``usage``.
        completion_tokens: completion tokens reported by the endpoint's ``usage``.
        request_time_s: seconds spent in HTTP attempts, summed over threads.
        retry_wait_s: seconds slept in backoff before retries, summed over threads.
        rate_limit_wait_s: seconds waited for the rate limiter, summed over threads.
        cost: ``prompt_tokens * input_price + completion_tokens * output_price`` per million
            tokens, or ``None`` without prices.
    """

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    retries_by_cause: dict[str, int] = dataclasses.field(default_factory=dict)
    failed: int = 0
    slowdowns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request_time_s: float = 0.0
    retry_wait_s: float = 0.0
    rate_limit_wait_s: float = 0.0
    cost: float | None = None

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict (for logs and JSON)."""
        out = dataclasses.asdict(self)
        out["total_tokens"] = self.total_tokens
        return out

    def summary(self) -> str:
        """A short line for a progress bar: tokens, retries and cost."""
        parts = [f"tok={self.total_tokens}"]
        if self.retries:
            parts.append(f"retries={self.retries}")
        if self.cost is not None:
            parts.append(f"cost={self.cost:.4g}")
        return " ".join(parts)


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """Parse a ``Retry-After`` header: seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)


def _error_detail(response) -> tuple[str, str | None]:
    """The server's error message and code from an OpenAI- or FastAPI-style error body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase, None
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body))
        if isinstance(err, dict):
            code = err.get("code") or err.get("type")
            message = err.get("message") or err.get("msg") or str(err)
            return str(message)[:500], None if code is None else str(code)
        return str(err)[:500], None
    return str(body)[:500], None


class EndpointClient:
    """Send JSON requests to an OpenAI-compatible endpoint, concurrently and politely.

    Args:
        base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"`` (vLLM, llama.cpp) or
            ``"https://api.openai.com/v1"``; paths such as ``"/completions"`` are appended.
        api_key_env: name of the environment variable holding the API key (sent as
            ``Authorization: Bearer ...``); ``None`` (default) sends no key. The variable is read
            once here (and again after unpickling); its value is never stored elsewhere.
        concurrency: most requests in flight at once in :meth:`map`; fewer while the server
            answers 429 or 503 (see :class:`ConcurrencyWindow`). Defaults to 4.
        timeout_s: seconds to wait for a connection and for an answer. Defaults to 120.
        retry: a :class:`RetryPolicy`. Defaults to ``RetryPolicy()`` (8 retries, 0.5 s to 30 s).
        requests_per_minute: optional request rate limit.
        tokens_per_minute: optional token rate limit (prompt plus completion tokens, estimated
            by the caller before each request).
        price_per_million_tokens: optional ``(input_price, output_price)`` per million tokens,
            to count the cost in :attr:`usage`.
        random_state: seed of the backoff jitter. Defaults to 0.
        headers: extra HTTP headers (never the key: use ``api_key_env``).

    Raises:
        InvalidParameterError: invalid argument, or ``api_key_env`` names an unset variable.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key_env: str | None = None,
        concurrency: int = 4,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        price_per_million_tokens: tuple[float, float] | None = None,
        random_state: int = 0,
        headers: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            msg = (
                "The 'base_url' (endpoint) parameter must be an http(s) URL such as "
                f"'http://127.0.0.1:8000/v1'. Got {base_url!r}."
            )
            raise InvalidParameterError(msg)
        if "@" in base_url.split("//", 1)[1].split("/", 1)[0]:
            msg = (
                "The endpoint URL holds credentials ('user:password@'); put the API key in an "
                "environment variable and pass its name as api_key_env."
            )
            raise InvalidParameterError(msg)
        self.base_url = base_url.rstrip("/")
        if api_key_env is not None and (not isinstance(api_key_env, str) or not api_key_env):
            msg = (
                "The 'api_key_env' parameter must be the name of an environment variable (or "
                f"None). Got {api_key_env!r}."
            )
            raise InvalidParameterError(msg)
        self.api_key_env = api_key_env
        self.concurrency = _check_positive(concurrency, "concurrency", integer=True)
        self.timeout_s = _check_positive(timeout_s, "timeout_s")
        self.retry = RetryPolicy() if retry is None else retry
        if not isinstance(self.retry, RetryPolicy):
            msg = f"The 'retry' parameter must be a RetryPolicy. Got {retry!r}."
            raise InvalidParameterError(msg)
        self.limiter = RateLimiter(requests_per_minute, tokens_per_minute)
        if price_per_million_tokens is not None:
            prices = tuple(price_per_million_tokens)
            ok = len(prices) == 2 and all(
                isinstance(p, numbers.Real)
                and not isinstance(p, bool)
                and p >= 0
                and math.isfinite(p)
                for p in prices
            )
            if not ok:
                msg = (
                    "The 'price_per_million_tokens' parameter must be (input_price, output_price)"
                    f", two finite numbers >= 0. Got {price_per_million_tokens!r}."
                )
                raise InvalidParameterError(msg)
            price_per_million_tokens = (float(prices[0]), float(prices[1]))
        self.price_per_million_tokens = price_per_million_tokens
        self.random_state = random_state
        extra = dict(headers or {})
        if any(k.lower() == "authorization" for k in extra):
            msg = "Pass the API key through api_key_env, not as an 'Authorization' header."
            raise InvalidParameterError(msg)
        self.headers = extra
        self._usage = EndpointUsage(cost=0.0 if price_per_million_tokens else None)
        self._setup()

    # ------------------------------------------------------------------ state
    def _setup(self) -> None:
        import httpx

        headers = {"Content-Type": "application/json", **self.headers}
        if self.api_key_env is not None:
            key = os.environ.get(self.api_key_env)
            if not key:
                msg = (
                    f"The environment variable {self.api_key_env!r} named by 'api_key_env' is "
                    "not set (or empty); export the API key there."
                )
                raise InvalidParameterError(msg)
            headers["Authorization"] = f"Bearer {key}"
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s), limits=limits, headers=headers
        )
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._rng = np.random.default_rng(self.random_state)
        self.window = ConcurrencyWindow(self.concurrency)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("_http", "_pool", "_lock", "_rng", "window"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    def __repr__(self) -> str:
        key = f", api_key_env={self.api_key_env!r}" if self.api_key_env else ""
        return (
            f"EndpointClient({self.base_url!r}{key}, concurrency={self.concurrency}, "
            f"max_retries={self.retry.max_retries})"
        )

    def close(self) -> None:
        """Close the connection pool and the worker threads (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._http.close()

    def __enter__(self) -> EndpointClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def usage(self) -> EndpointUsage:
        """A snapshot of the counters (see :class:`EndpointUsage`)."""
        with self._lock:
            snap = dataclasses.replace(self._usage)
            snap.retries_by_cause = dict(self._usage.retries_by_cause)
            return snap

    def reset_usage(self) -> None:
        """Set every counter to zero."""
        with self._lock:
            self._usage = EndpointUsage(cost=0.0 if self.price_per_million_tokens else None)

    # ------------------------------------------------------------------ requests
    def url(self, path: str) -> str:
        """The full URL of an API path such as ``"/completions"``."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def _count(self, **changes: float) -> None:
        with self._lock:
            for name, delta in changes.items():
                setattr(self._usage, name, getattr(self._usage, name) + delta)

    def _count_tokens(self, body: Any) -> None:
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            return
        p = int(usage.get("prompt_tokens") or 0)
        c = int(usage.get("completion_tokens") or 0)
        with self._lock:
            self._usage.prompt_tokens += p
            self._usage.completion_tokens += c
            if self.price_per_million_tokens is not None:
                pin, pout = self.price_per_million_tokens
                self._usage.cost += (p * pin + c * pout) / 1e6

    def _jitter(self) -> float:
        with self._lock:
            return float(self._rng.random())

    def request(
        self,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        method: str = "POST",
        estimated_tokens: int = 0,
        retry: RetryPolicy | None = None,
        cancel: threading.Event | None = None,
    ) -> Any:
        """Send one request (with rate limit and retries) and return the decoded JSON answer.

        Args:
            path: API path, e.g. ``"/completions"``.
            payload: the JSON body (``None`` for a GET).
            method: ``"POST"`` or ``"GET"``.
            estimated_tokens: tokens this request will use, for the tokens-per-minute limit.
            retry: override the client's :class:`RetryPolicy` for this request.
            cancel: once set, no further attempt is sent and a backoff wait ends at once
                (:meth:`map` sets it after an error or a Ctrl-C, so that requests still
                retrying do not hold the run up); an attempt already sent still finishes.

        Raises:
            EndpointUnavailableError: no connection, timeouts, or 429 / 5xx through every retry.
            EndpointQuotaError: a 429 saying the quota is used up.
            EndpointRequestError: a 4xx status (the request is at fault), or an answer that is
                not JSON.
        """
        policy = self.retry if retry is None else retry
        url = self.url(path)
        first = time.monotonic()
        attempt = 0
        while True:
            if cancel is not None and cancel.is_set():
                raise _CancelledError(url)
            epoch = self.window.acquire()  # fewer in flight while the server is overloaded
            outcome: Literal["ok", "overload", "other"] = "other"
            try:
                waited = self.limiter.acquire(estimated_tokens)
                if waited:
                    self._count(rate_limit_wait_s=waited)
                outcome, answer = self._attempt(method, url, payload)
            finally:
                if self.window.release(epoch, outcome):
                    self._count(slowdowns=1)
            if outcome == "ok":
                return answer
            cause, detail, retry_after = answer
            if attempt >= policy.max_retries:
                self._count(failed=1)
                elapsed = time.monotonic() - first
                if cause == "connection":
                    hint = "is the server running at this address?"
                elif cause == "timeout":
                    hint = (
                        f"raise timeout_s if the server is slow to answer (now {self.timeout_s:g} "
                        "s), or check that it is serving requests at all."
                    )
                else:
                    hint = (
                        "the server is overloaded or failing; lower the concurrency or set a rate "
                        "limit, and run again (answered requests are cached by the QueryEngine)."
                    )
                msg = (
                    f"The endpoint {url} failed {attempt + 1} times over {elapsed:.1f} s "
                    f"(last: {detail}); {hint}"
                )
                raise EndpointUnavailableError(msg)
            wait = policy.delay(attempt, self._jitter(), retry_after)
            with self._lock:
                self._usage.retries += 1
                self._usage.retries_by_cause[cause] = self._usage.retries_by_cause.get(cause, 0) + 1
                self._usage.retry_wait_s += wait
            if cancel is None:
                time.sleep(wait)
            elif cancel.wait(wait):
                raise _CancelledError(url)
            attempt += 1

    def _attempt(
        self, method: str, url: str, payload: dict[str, Any] | None
    ) -> tuple[Literal["ok", "overload", "other"], Any]:
        """One HTTP attempt: ``("ok", body)``, or ``(outcome, (cause, detail, retry_after_s))``.

        ``"overload"`` marks a 429 that is not a quota stop, or a 503: the server asks for fewer
        requests, so the window shrinks (a 500, 502, 504 or a lost connection only backs off).

        Raises:
            EndpointQuotaError, EndpointRequestError: see :meth:`request` (never retried).
        """
        import httpx

        start = time.perf_counter()
        try:
            response = self._http.request(method, url, json=payload)
        except httpx.TimeoutException as err:
            self._count(request_time_s=time.perf_counter() - start, attempts=1)
            return "other", ("timeout", f"no answer within {self.timeout_s:g} s ({err!r})", None)
        except httpx.TransportError as err:
            self._count(request_time_s=time.perf_counter() - start, attempts=1)
            return "other", ("connection", f"{type(err).__name__}: {err}", None)
        status = response.status_code
        if status < 400:
            self._count(request_time_s=time.perf_counter() - start, attempts=1, requests=1)
            try:
                body = response.json()
            except ValueError as err:
                self._count(failed=1)
                msg = (
                    f"The endpoint {url} answered {status} with a body that is not JSON "
                    f"({response.text[:200]!r}); is the URL the API root (…/v1)?"
                )
                raise EndpointRequestError(msg, status=status, detail="") from err
            self._count_tokens(body)
            return "ok", body
        detail, code = _error_detail(response)
        if status == 429 and code is not None and "quota" in code.lower():
            self._count(request_time_s=time.perf_counter() - start, attempts=1, failed=1)
            msg = (
                f"The endpoint {url} refused the request: the quota is used up "
                f"({code}: {detail}). Everything answered so far is cached; top up the "
                "quota and run the same command again to resume."
            )
            raise EndpointQuotaError(msg, status=status, detail=detail)
        if not retryable_status(status):
            self._count(request_time_s=time.perf_counter() - start, attempts=1, failed=1)
            msg = f"The endpoint {url} refused the request with HTTP {status}: {detail}"
            if status == 404:
                msg += (
                    ". No such path: is the URL the API root (…/v1)? Pass the API root as "
                    "endpoint= (e.g. http://127.0.0.1:8000/v1)."
                )
            raise EndpointRequestError(msg, status=status, detail=detail)
        self._count(request_time_s=time.perf_counter() - start, attempts=1)
        retry_after = _retry_after_seconds(response.headers.get("retry-after"), time.time())
        outcome = "overload" if status in (429, 503) else "other"
        return outcome, (str(status), f"HTTP {status}: {detail}", retry_after)

    def post(self, path: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        """POST ``payload`` to ``path`` (see :meth:`request`)."""
        return self.request(path, payload, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` (see :meth:`request`)."""
        return self.request(path, None, method="GET", **kwargs)

    def map(
        self,
        path: str,
        payloads: Sequence[dict[str, Any]],
        *,
        estimated_tokens: Sequence[int] | None = None,
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """POST every payload to ``path`` on up to ``concurrency`` threads; answers in order.

        Args:
            path: API path.
            payloads: the JSON bodies.
            estimated_tokens: per payload, tokens for the tokens-per-minute limit.
            on_result: called as ``on_result(i, answer)`` in the calling thread as each answer
                arrives (used to keep answered requests when a later one fails).

        Raises:
            The first error of any request (see :meth:`request`), after the attempts already in
            flight have finished (their answers reach ``on_result``); requests not started are
            cancelled, and requests waiting to retry stop at once. A Ctrl-C stops them alike.
        """
        m = len(payloads)
        est = [0] * m if estimated_tokens is None else [int(t) for t in estimated_tokens]
        if m == 1 or self.concurrency == 1:
            out = []
            for i, payload in enumerate(payloads):
                out.append(self.post(path, payload, estimated_tokens=est[i]))
                if on_result is not None:
                    on_result(i, out[-1])
            return out
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        self.concurrency, thread_name_prefix="shapiq-spex-endpoint"
                    )
        cancel = threading.Event()
        futures = {
            self._pool.submit(self.post, path, payload, estimated_tokens=est[i], cancel=cancel): i
            for i, payload in enumerate(payloads)
        }
        results: list[Any] = [None] * m
        error: BaseException | None = None
        try:
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                    if on_result is not None:  # also after an error: the answer is paid for
                        on_result(i, results[i])
                except Exception as err:
                    if error is None:
                        error = err
                        cancel.set()
                        for other in futures:
                            other.cancel()
        except BaseException:  # Ctrl-C while waiting: stop sending, let the in-flight ones end
            cancel.set()
            for other in futures:
                other.cancel()
            raise
        if error is not None:
            raise error
        return results
