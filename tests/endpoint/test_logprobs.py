"""Reading answer and label log-probabilities out of OpenAI-format responses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shapiq_spex.endpoint.client import EndpointCapabilityError, EndpointError
from shapiq_spex.endpoint.logprobs import (
    chat_top_logprobs,
    echo_tail,
    label_log_probs,
    label_value,
)


def completion(tokens, values, n_generated=1):
    return {
        "choices": [
            {"text": "".join(tokens), "logprobs": {"tokens": tokens, "token_logprobs": values}}
        ],
        "usage": {"prompt_tokens": len(tokens) - n_generated, "completion_tokens": n_generated},
    }


@pytest.mark.parametrize(
    ("listed", "n_generated", "expected"),
    [(True, 1, [-0.5, -0.25]), (False, 1, [-0.25, -3.0]), (True, 0, [-0.25, -3.0])],
)
def test_echo_tail_reads_the_last_prompt_tokens(listed, n_generated, expected):
    body = completion(["A", " capital", " Paris", ".", "\n"], [None, -2.0, -0.5, -0.25, -3.0])
    body["usage"]["completion_tokens"] = n_generated
    tokens, values = echo_tail(body, 2, generated_listed=listed)
    assert values.tolist() == expected
    assert len(tokens) == 2


def test_echo_tail_errors():
    with pytest.raises(EndpointCapabilityError, match="no prompt log-probabilities"):
        echo_tail({"choices": [{"text": "x", "logprobs": None}], "usage": {}}, 1)
    body = completion(["A", " b", " c"], [None, None, -1.0], n_generated=0)
    with pytest.raises(EndpointCapabilityError, match="no prompt log-probabilities"):
        echo_tail(body, 2)  # a value is missing in the tail
    with pytest.raises(EndpointError, match="too few"):
        echo_tail(body, 3)  # no prompt token would be left before the answer
    with pytest.raises(EndpointError, match="no 'choices'"):
        echo_tail({"object": "error"}, 1)
    no_usage = completion(["A", " b"], [None, -1.0])
    del no_usage["usage"]
    with pytest.raises(EndpointCapabilityError, match="completion_tokens"):
        echo_tail(no_usage, 1)


def chat(top, token="Yes"):
    entries = [{"token": t, "logprob": v, "bytes": None} for t, v in top]
    return {"choices": [{"logprobs": {"content": [{"token": token, "top_logprobs": entries}]}}]}


def test_chat_top_logprobs_merges_equal_strings():
    top, token = chat_top_logprobs(chat([("Yes", math.log(0.3)), ("Yes", math.log(0.2))]))
    assert token == "Yes"
    assert top["Yes"] == pytest.approx(math.log(0.5))


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        ({"choices": [{"message": {}, "logprobs": None}]}, EndpointCapabilityError, "logprobs"),
        ({"choices": [{"logprobs": {"content": []}}]}, EndpointError, "no token"),
        (
            {"choices": [{"logprobs": {"content": [{"token": "a"}]}}]},
            EndpointCapabilityError,
            "top",
        ),
    ],
)
def test_chat_top_logprobs_errors(body, error, match):
    with pytest.raises(error, match=match):
        chat_top_logprobs(body)


TOP = {"Yes": math.log(0.5), " yes": math.log(0.1), "No": math.log(0.2), "Maybe": math.log(0.05)}


@pytest.mark.parametrize(
    ("match", "expected_yes"), [("exact", math.log(0.5)), ("normalized", math.log(0.6))]
)
def test_label_matching(match, expected_yes):
    lp, missing = label_log_probs(TOP, ["Yes", "No"], match=match)
    assert lp.tolist() == pytest.approx([expected_yes, math.log(0.2)])
    assert not missing.any()


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("bound", math.log(0.05)),  # min(smallest listed 0.05, 1 - 0.85 = 0.15)
        (-30.0, -30.0),
    ],
)
def test_missing_label_rules(rule, expected):
    lp, missing = label_log_probs(TOP, ["Yes", "unsure"], missing=rule)
    assert missing.tolist() == [False, True]
    assert lp[1] == pytest.approx(expected)


def test_missing_label_bound_uses_the_remaining_mass():
    top = {"a": math.log(0.5), "b": math.log(0.45)}
    lp, _ = label_log_probs(top, ["c"], missing="bound")
    assert lp[0] == pytest.approx(math.log(0.05))  # 1 - 0.95 < the smallest listed 0.45


def test_missing_label_error_and_zero_mass():
    with pytest.raises(EndpointError, match="missing_label='bound'"):
        label_log_probs(TOP, ["unsure"], missing="error")
    with pytest.raises(EndpointError, match="float floor"):
        label_log_probs({"a": 0.0}, ["b"], missing="bound")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("log_prob", math.log(0.6)),
        ("log_odds", math.log(0.6) - math.log(0.3)),
        ("prob_margin", 0.6 - 0.2),
    ],
)
def test_label_value(output, expected):
    lp = np.log([0.6, 0.2, 0.1])
    assert label_value(lp, output) == pytest.approx(expected)
