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


def completion(tokens, values, usage):
    """A /completions answer with token log-probabilities (llama.cpp / vLLM shape)."""
    return {
        "choices": [{"text": tokens[-1], "logprobs": {"tokens": tokens, "token_logprobs": values}}],
        "usage": usage,
    }


@pytest.mark.parametrize(
    ("which", "usage"),
    [
        ("generated", {"completion_tokens": 1}),  # no prompt_tokens at all
        ("generated", {"prompt_tokens": None, "completion_tokens": 1}),
        ("echoed", {"completion_tokens": 1}),
        ("echoed", {"prompt_tokens": "9", "completion_tokens": 1}),
    ],
)
def test_answer_logprob_without_prompt_token_counts(server, which, usage):
    """Prompt log-probs but no usage.prompt_tokens: the answer's tokens cannot be counted."""
    full = {"prompt_tokens": 6, "completion_tokens": 1}
    generated = completion([" Yes"], [-0.1], usage if which == "generated" else full)
    echoed = completion(
        ["Q", ":", " Paris", " Yes", " Yes"],
        [None, -2.0, -3.0, -0.1, -0.2],
        usage if which == "echoed" else {"prompt_tokens": 7, "completion_tokens": 1},
    )
    server.script = [(200, MODELS, {}, 0.0), (200, generated, {}, 0.0), (200, echoed, {}, 0.0)]
    with pytest.raises(EndpointCapabilityError, match=r"no usage\.prompt_tokens.*label_logprob"):
        EndpointGame(
            "Paris",
            server.url,
            "api-model",
            scoring="answer_logprob",
            answer=" Yes",
            prompt_template="Q: {context}",
        )
    sent = [r["body"] for r in server.requests[1:]]
    assert len(sent) == (1 if which == "generated" else 2)  # refused at the first such answer
    assert sent[-1]["echo"] is True if which == "echoed" else "echo" not in sent[-1]


def test_answer_logprob_with_prompt_token_counts_is_accepted(server):
    """The same answers with usage.prompt_tokens: the game is built (the test can fail)."""
    generated = completion([" Yes"], [-0.1], {"prompt_tokens": 6, "completion_tokens": 1})
    echoed = completion(
        ["Q", ":", " Paris", " Yes", " Yes"],
        [None, -2.0, -3.0, -0.1, -0.2],
        {"prompt_tokens": 7, "completion_tokens": 1},
    )
    empty = completion(
        ["Q", ":", " Yes", " Yes"],
        [None, -2.0, -0.7, -0.2],
        {"prompt_tokens": 3, "completion_tokens": 1},
    )
    server.script = [(200, MODELS, {}, 0.0)] + [
        (200, b, {}, 0.0) for b in (generated, echoed, empty)
    ]
    game = EndpointGame(
        "Paris",
        server.url,
        "api-model",
        scoring="answer_logprob",
        answer=" Yes",
        prompt_template="Q: {context}",
    )
    assert game.answer_tokens == [" Yes"]
    assert game.original_model_output == pytest.approx(-0.1)
    assert game.empty_value == pytest.approx(-0.7)
    assert game.alignment["checked"]
    assert len(server.requests) == 4
    assert "Paris" not in server.requests[-1]["body"]["prompt"]  # the empty coalition


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
