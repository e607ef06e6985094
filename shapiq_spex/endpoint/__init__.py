"""Serving-engine support: a client for OpenAI-compatible endpoints and local test servers.

* :class:`EndpointClient`: concurrency, retries with backoff and jitter, rate limits, token and
  cost accounting (:mod:`shapiq_spex.endpoint.client`); the errors it raises.
* :mod:`shapiq_spex.endpoint.logprobs`: reading answer and label log-probabilities from responses.
* :mod:`shapiq_spex.endpoint.textmask`: masked prompt strings with or without a tokenizer.
* :class:`LlamaCppServer`: llama.cpp's OpenAI-compatible server on localhost (tests, benchmarks,
  examples); :class:`FaultInjectingProxy`: a balancing proxy that injects 429 overloads.

The game that uses them is :class:`shapiq_spex.games.EndpointGame`. Names are imported lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "EndpointClient": "client",
    "EndpointUsage": "client",
    "RetryPolicy": "client",
    "RateLimiter": "client",
    "EndpointError": "client",
    "EndpointUnavailableError": "client",
    "EndpointRequestError": "client",
    "EndpointQuotaError": "client",
    "EndpointCapabilityError": "client",
    "LlamaCppServer": "llama_server",
    "FaultInjectingProxy": "fault_proxy",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
