"""EndpointGame on endpoints that lack what a scoring needs: a clear error, at construction.

The endpoints are the scripted local HTTP server of ``conftest.py`` answering as such APIs do
(a chat model without prompt log-probabilities, a server without top_logprobs, an unknown model);
llama.cpp's real server is exercised in ``tests/games/test_endpoint.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.endpoint.client import EndpointCapabilityError, EndpointRequestError
from shapiq_spex.games.endpoint import EndpointGame

MODELS = {"object": "list", "data": [{"id": "api-model", "object": "model"}]}


def test_answer_logprob_without_prompt_logprobs(server):
    # an API that ignores echo/logprobs on /completions (as chat-only API models do)
    plain = {"choices": [{"text": " Paris", "logprobs": None}], "usage": {"completion_tokens": 1}}
    server.script = [(200, MODELS, {}, 0.0), (200, plain, {}, 0.0)]
    with pytest.raises(EndpointCapabilityError, match="label_logprob"):
        EndpointGame(
            "Paris is in France.",
            server.url,
            "api-model",
            scoring="answer_logprob",
            answer=" Yes",
            prompt_template="Q: {context}\nA:",
        )


def test_label_logprob_without_top_logprobs(server):
    chat = {"choices": [{"message": {"content": "Yes"}, "logprobs": None}]}
    server.script = [(200, MODELS, {}, 0.0), (200, chat, {}, 0.0)]
    with pytest.raises(EndpointCapabilityError, match="top_logprobs"):
        EndpointGame(
            "Paris is in France.",
            server.url,
            "api-model",
            scoring="label_logprob",
            labels=("Yes", "No"),
        )
    request = server.requests[-1]["body"]
    assert request["logprobs"] is True
    assert request["top_logprobs"] == 20
    assert request["temperature"] == 0.0
    assert request["seed"] == 0
    assert request["messages"][-1] == {"role": "user", "content": "Paris is in France."}


def test_unknown_model_is_named(server):
    server.script = [(200, MODELS, {}, 0.0)]
    with pytest.raises(EndpointRequestError, match=r"does not serve the model 'gpt-x'.*api-model"):
        EndpointGame(
            "Paris is in France.", server.url, "gpt-x", scoring="label_logprob", labels=["Yes"]
        )


def test_label_logprob_on_an_openai_style_answer(server):
    """The values come from the top list as the OpenAI API returns it."""
    top = [
        {"token": "Yes", "logprob": -0.25, "bytes": [89, 101, 115]},
        {"token": "No", "logprob": -1.75, "bytes": [78, 111]},
        {"token": " yes", "logprob": -3.0, "bytes": None},
    ]
    chat = {
        "choices": [
            {
                "message": {"content": "Yes"},
                "logprobs": {"content": [{"token": "Yes", "logprob": -0.25, "top_logprobs": top}]},
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 1},
    }
    server.script = [(200, MODELS, {}, 0.0)] + [(200, chat, {}, 0.0)] * 2
    game = EndpointGame(
        "Paris is in France.",
        server.url,
        "api-model",
        scoring="label_logprob",
        labels=("yes", "no"),
        label_output="log_odds",
        players="word",
        price_per_million_tokens=(0.15, 0.6),
    )
    expected = np.logaddexp(-0.25, -3.0) - (-1.75)  # "Yes" and " yes" both count for "yes"
    assert game.original_model_output == pytest.approx(expected)
    assert game.usage.prompt_tokens == 24
    assert game.usage.cost == pytest.approx((24 * 0.15 + 2 * 0.6) / 1e6)
