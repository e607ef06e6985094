"""Read log-probabilities out of OpenAI-compatible responses (pure functions on decoded JSON).

Two response shapes are read:

* ``/v1/completions`` with ``echo=True`` and ``logprobs``: ``choices[0].logprobs`` holds
  ``tokens`` and ``token_logprobs`` of the prompt (first entry ``None``) followed by the
  generated tokens; ``usage.completion_tokens`` says how many were generated.
  :func:`echo_tail` returns the log-probabilities of the last prompt tokens (the answer).
* ``/v1/chat/completions`` with ``logprobs=True`` and ``top_logprobs=k``:
  ``choices[0].logprobs.content[0].top_logprobs`` lists the ``k`` most likely first tokens.
  :func:`label_log_probs` turns it into one log-probability per label string, with an explicit
  rule for a label that is not in the list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from shapiq_spex.endpoint.client import EndpointCapabilityError, EndpointError

__all__ = [
    "LabelMatch",
    "MissingLabel",
    "chat_top_logprobs",
    "completion_logprobs",
    "echo_tail",
    "label_log_probs",
    "label_value",
]

LabelMatch = Literal["exact", "normalized"]
MissingLabel = Literal["error", "bound"] | float

_NO_PROMPT_LOGPROBS = (
    "The endpoint returned no prompt log-probabilities for /completions with echo=True and "
    "logprobs=1, which scoring='answer_logprob' needs. vLLM and llama.cpp's server "
    "(llama-cpp-python, started with --logits_all true) return them; most API models do not: "
    "use scoring='label_logprob' there."
)


def _first_choice(body: Any, what: str) -> dict:
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        msg = f"The endpoint's answer to {what} has no 'choices'; is it OpenAI-compatible?"
        raise EndpointError(msg)
    return choices[0]


def completion_logprobs(body: Any) -> tuple[list[str], list[float | None], int, str]:
    """Tokens, their log-probabilities, the generated token count and the text of a completion.

    Args:
        body: the decoded JSON answer of ``/v1/completions`` (with ``logprobs``).

    Returns:
        ``(tokens, token_logprobs, n_generated, text)``; ``n_generated`` is
        ``usage.completion_tokens``.

    Raises:
        EndpointCapabilityError: the answer has no token log-probabilities or no usage.
    """
    choice = _first_choice(body, "/completions")
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        raise EndpointCapabilityError(_NO_PROMPT_LOGPROBS)
    tokens, values = lp.get("tokens"), lp.get("token_logprobs")
    if not isinstance(tokens, list) or not isinstance(values, list) or len(tokens) != len(values):
        raise EndpointCapabilityError(_NO_PROMPT_LOGPROBS)
    usage = body.get("usage")
    if not isinstance(usage, dict) or "completion_tokens" not in usage:
        msg = (
            "The endpoint's /completions answer has no usage.completion_tokens, which is needed "
            "to tell the echoed prompt from the generated tokens."
        )
        raise EndpointCapabilityError(msg)
    text = choice.get("text")
    return (
        [str(t) for t in tokens],
        values,
        int(usage["completion_tokens"]),
        text if isinstance(text, str) else "",
    )


def echo_tail(
    body: Any, n_tail: int, *, generated_listed: bool = True
) -> tuple[list[str], np.ndarray]:
    """Token strings and log-probabilities of the last ``n_tail`` echoed prompt tokens.

    Args:
        body: the decoded JSON answer of ``/v1/completions`` with ``echo=True``.
        n_tail: how many prompt tokens to read from the end of the prompt (the answer's).
        generated_listed: whether the endpoint lists the generated tokens after the prompt's
            (``usage.completion_tokens`` of them; calibrated once per endpoint).

    Returns:
        ``(tokens, log_probs)`` with ``log_probs`` of shape ``(n_tail,)``.

    Raises:
        EndpointCapabilityError: no log-probabilities (see :func:`completion_logprobs`).
        EndpointError: fewer echoed tokens than needed, or a missing value among them.
    """
    tokens, values, n_generated, _ = completion_logprobs(body)
    end = len(tokens) - (n_generated if generated_listed else 0)
    if end - n_tail < 1 or n_tail < 1:
        msg = (
            f"The endpoint echoed {end} prompt tokens, too few to hold the {n_tail} answer tokens "
            "after at least one prompt token."
        )
        raise EndpointError(msg)
    tail = values[end - n_tail : end]
    if any(v is None or not isinstance(v, (int, float)) for v in tail):
        raise EndpointCapabilityError(_NO_PROMPT_LOGPROBS)
    return tokens[end - n_tail : end], np.asarray(tail, dtype=np.float64)


def chat_top_logprobs(body: Any) -> tuple[dict[str, float], str | None]:
    """The top log-probabilities of the first generated token of a chat completion.

    Entries with the same token string are merged (their probabilities add).

    Returns:
        ``(top, token)``: token string to log-probability, and the generated token.

    Raises:
        EndpointCapabilityError: the answer has no ``logprobs.content[0].top_logprobs``.
        EndpointError: the model generated no token (it ended its answer at once).
    """
    choice = _first_choice(body, "/chat/completions")
    lp = choice.get("logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    if not isinstance(content, list):
        msg = (
            "The endpoint returned no log-probabilities for /chat/completions with "
            "logprobs=True and top_logprobs, which scoring='label_logprob' needs."
        )
        raise EndpointCapabilityError(msg)
    if not content:
        msg = (
            "The endpoint generated no token for this prompt (the model ended its answer at "
            "once), so there are no first-token log-probabilities to read the labels from; "
            "rephrase the prompt so that it asks for one of the labels."
        )
        raise EndpointError(msg)
    first = content[0]
    top = first.get("top_logprobs") if isinstance(first, dict) else None
    if not isinstance(top, list) or not top:
        msg = (
            "The endpoint returned no top_logprobs for the first token; label_logprob needs "
            "an endpoint that honours top_logprobs (OpenAI, vLLM, llama.cpp)."
        )
        raise EndpointCapabilityError(msg)
    merged: dict[str, float] = {}
    for entry in top:
        token, value = str(entry.get("token", "")), entry.get("logprob")
        if value is None:
            continue
        value = float(value)
        merged[token] = value if token not in merged else float(np.logaddexp(merged[token], value))
    return merged, (str(first.get("token")) if first.get("token") is not None else None)


def _normalize(text: str, match: LabelMatch) -> str:
    return text if match == "exact" else text.strip().casefold()


def label_log_probs(
    top: dict[str, float],
    labels: Sequence[str],
    *,
    match: LabelMatch = "normalized",
    missing: MissingLabel = "error",
) -> tuple[np.ndarray, np.ndarray]:
    """One log-probability per label from a first-token top list.

    A label's log-probability is the log of the summed probabilities of the listed tokens that
    match it: equal strings (``match="exact"``), or equal after stripping white space and case
    folding (``match="normalized"``: ``"Yes"``, ``" yes"`` and ``"YES"`` all count for
    ``"yes"``). A label with no matching token in the list is *missing*, and ``missing`` says
    what it gets:

    * ``"error"``: raise (the default of the games: no value is invented);
    * ``"bound"``: the largest log-probability it could have, given the list:
      ``min(smallest listed log-prob, log(1 - sum of listed probabilities)))``, an upper bound;
    * a float: that log-probability (a floor such as ``-30.0``).

    Args:
        top: token string to log-probability (:func:`chat_top_logprobs`).
        labels: the label strings.
        match: ``"exact"`` or ``"normalized"``.
        missing: the rule above.

    Returns:
        ``(log_probs, is_missing)``, both of shape ``(len(labels),)``.

    Raises:
        EndpointError: a missing label with ``missing="error"``, or a ``"bound"`` of zero
            probability (the listed tokens hold all the probability mass).
    """
    keys = {}
    for token, value in top.items():
        key = _normalize(token, match)
        keys[key] = value if key not in keys else float(np.logaddexp(keys[key], value))
    out = np.empty(len(labels), dtype=np.float64)
    is_missing = np.zeros(len(labels), dtype=bool)
    for i, label in enumerate(labels):
        value = keys.get(_normalize(label, match))
        if value is not None:
            out[i] = value
            continue
        is_missing[i] = True
        if isinstance(missing, (int, float)) and not isinstance(missing, bool):
            out[i] = float(missing)
        elif missing == "bound":
            listed = np.asarray(list(top.values()), dtype=np.float64)
            rest = 1.0 - float(np.exp(listed).sum())
            bound = min(float(listed.min()), math.log(rest) if rest > 0 else -math.inf)
            if not math.isfinite(bound):
                msg = (
                    f"The label {label!r} is not among the {len(top)} top tokens, which hold all "
                    "the probability mass, so its bound is log(0); pass missing_label as a "
                    "float floor (e.g. -30.0) instead of 'bound'."
                )
                raise EndpointError(msg)
            out[i] = bound
        else:
            shown = ", ".join(repr(t) for t in list(top)[:8])
            msg = (
                f"The label {label!r} is not among the {len(top)} top first tokens ({shown}, ...). "
                "Choose a rule for missing labels: missing_label='bound' (its largest possible "
                "log-probability) or a float floor such as -30.0; or raise top_logprobs."
            )
            raise EndpointError(msg)
    return out, is_missing


def label_value(log_probs: np.ndarray, output: str) -> float:
    """The game value from per-label log-probabilities (label 0 is the explained one).

    Args:
        log_probs: ``(n_labels,)`` log-probabilities.
        output: ``"log_prob"`` (of label 0), ``"log_odds"`` (label 0 against the summed
            probability of the others) or ``"prob_margin"`` (probability of label 0 minus the
            largest other probability).
    """
    if output == "log_prob":
        return float(log_probs[0])
    rest = log_probs[1:]
    if output == "log_odds":
        return float(log_probs[0] - np.logaddexp.reduce(rest))
    return float(np.exp(log_probs[0]) - np.exp(rest).max())
