"""A small local HTTP proxy that balances requests over servers and injects 429 overloads.

:class:`FaultInjectingProxy` listens on a loopback port and forwards each request to the least
busy of its upstream servers. It answers ``429 Too Many Requests`` itself (with an OpenAI-style
error body and an optional ``Retry-After``) when

* more than ``capacity`` requests are in flight (an overloaded server), or
* a seeded Bernoulli draw with probability ``reject_rate`` says so (a flaky rate limiter), or
* ``quota`` requests were forwarded (then a 429 ``insufficient_quota``, as when an account's
  quota is used up),

and ``502`` when an upstream cannot be reached. Counters say how many requests were forwarded
and rejected. It is the fault injection behind the endpoint tests and benchmark, and the
balancer that turns several single-slot llama.cpp servers into one server with parallel slots.
"""

from __future__ import annotations

import http.server
import json
import threading

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["FaultInjectingProxy"]

_QUOTA = "quota"  # _admit's answer when the quota is used up
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request log lines."""

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        proxy = self.server.owner
        if proxy.record:
            with proxy._lock:
                proxy.requests.append((self.command, self.path, self._body, status))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        import httpx

        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self._body = body
        proxy = self.server.owner
        upstream = proxy._admit()
        if upstream in (None, _QUOTA):
            code = "rate_limited" if upstream is None else "insufficient_quota"
            error = {
                "error": {
                    "message": f"Too many requests ({code}, injected by FaultInjectingProxy).",
                    "type": "rate_limit_error" if upstream is None else "insufficient_quota",
                    "code": code,
                }
            }
            headers = {"Content-Type": "application/json"}
            if proxy.retry_after_s is not None:
                headers["Retry-After"] = f"{proxy.retry_after_s:g}"
            self._reply(429, json.dumps(error).encode(), headers)
            return
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            http = proxy._http  # None once stop() ran: a request still in flight gets a 502
            try:
                if http is None:
                    msg = "the proxy was stopped"
                    raise httpx.TransportError(msg)
                response = http.request(
                    self.command, upstream + self.path, content=body, headers=headers
                )
            except httpx.HTTPError as err:
                proxy._count("upstream_errors")
                error = {"error": {"message": f"upstream unreachable: {err!r}", "code": "502"}}
                self._reply(502, json.dumps(error).encode(), {"Content-Type": "application/json"})
                return
            out = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS}
            self._reply(response.status_code, response.content, out)
        finally:
            proxy._release(upstream)

    do_GET = _handle  # noqa: N815 (the names http.server calls)
    do_POST = _handle  # noqa: N815


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: FaultInjectingProxy


class FaultInjectingProxy:
    """Forward to the least busy upstream; answer 429 on overload or at a seeded random rate.

    Args:
        upstreams: base URLs of the servers, e.g. ``["http://127.0.0.1:8001"]`` (no path).
        port: the port to listen on; default a free one.
        host: a loopback address. Defaults to ``"127.0.0.1"``.
        capacity: most requests forwarded at once; more get 429. Default no limit.
        reject_rate: probability of a 429 for each request (seeded). Defaults to 0.
        retry_after_s: ``Retry-After`` seconds sent with each 429; ``None`` sends none.
        random_state: seed of the rejections. Defaults to 0.
        record: keep every request as ``(method, path, body bytes, status answered)`` in
            :attr:`requests`.
        quota: after this many forwarded requests, answer every request with a 429
            ``insufficient_quota`` (as the OpenAI API does when the account's quota is used up);
            set :attr:`quota` to ``None`` again to lift it. Default no quota.

    Attributes:
        counts: ``{"forwarded", "rejected_overload", "rejected_random", "rejected_quota",
            "upstream_errors"}``.
        requests: the recorded requests (with ``record=True``), rejected ones included.
        base_url: ``http://host:port/v1``.
    """

    def __init__(
        self,
        upstreams: list[str],
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        capacity: int | None = None,
        reject_rate: float = 0.0,
        retry_after_s: float | None = None,
        random_state: int = 0,
        record: bool = False,
        quota: int | None = None,
    ) -> None:
        if not upstreams:
            msg = "The 'upstreams' parameter must list at least one server URL."
            raise InvalidParameterError(msg)
        if host not in ("127.0.0.1", "localhost", "::1"):
            msg = f"The 'host' parameter must be a loopback address. Got {host!r}."
            raise InvalidParameterError(msg)
        if capacity is not None and (not isinstance(capacity, int) or capacity < 1):
            msg = f"The 'capacity' parameter must be a positive int or None. Got {capacity!r}."
            raise InvalidParameterError(msg)
        if not 0.0 <= float(reject_rate) < 1.0:
            msg = f"The 'reject_rate' parameter must lie in [0, 1). Got {reject_rate!r}."
            raise InvalidParameterError(msg)
        from shapiq_spex.endpoint.llama_server import free_port

        self.upstreams = [u.rstrip("/") for u in upstreams]
        self.host = host
        self.port = free_port(host) if port is None else int(port)
        self.capacity = capacity
        self.reject_rate = float(reject_rate)
        self.retry_after_s = retry_after_s
        self._rng = np.random.default_rng(random_state)
        self.record = bool(record)
        self.quota = quota
        self.requests: list[tuple[str, str, bytes, int]] = []
        self._lock = threading.Lock()
        self._busy = dict.fromkeys(self.upstreams, 0)
        self.counts = dict.fromkeys(
            (
                "forwarded",
                "rejected_overload",
                "rejected_random",
                "rejected_quota",
                "upstream_errors",
            ),
            0,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._http = None

    @property
    def base_url(self) -> str:
        """The API root clients use: ``http://host:port/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def _admit(self) -> str | None:
        """The upstream for a new request, ``None`` to answer 429, ``_QUOTA`` for no quota."""
        with self._lock:
            if self.quota is not None and self.counts["forwarded"] >= self.quota:
                self.counts["rejected_quota"] += 1
                return _QUOTA
            in_flight = sum(self._busy.values())
            if self.capacity is not None and in_flight >= self.capacity:
                self.counts["rejected_overload"] += 1
                return None
            if self.reject_rate and self._rng.random() < self.reject_rate:
                self.counts["rejected_random"] += 1
                return None
            upstream = min(self.upstreams, key=self._busy.__getitem__)
            self._busy[upstream] += 1
            self.counts["forwarded"] += 1
            return upstream

    def _release(self, upstream: str) -> None:
        with self._lock:
            self._busy[upstream] -= 1

    def start(self) -> FaultInjectingProxy:
        """Listen in a background thread."""
        import httpx

        if self._server is not None:
            return self
        n = len(self.upstreams)
        limits = httpx.Limits(max_connections=4 * n + 8, max_keepalive_connections=4 * n + 8)
        self._http = httpx.Client(timeout=httpx.Timeout(600.0), limits=limits)
        self._server = _Server((self.host, self.port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close the upstream connections (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> FaultInjectingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
