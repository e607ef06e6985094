"""Endpoint game: explain a model served over an OpenAI-compatible HTTP API.

The model does not run in this process: every coalition becomes a masked prompt string sent to
an endpoint (vLLM, llama.cpp's server, TGI, the OpenAI API, ...) through
:class:`~shapiq_spex.endpoint.EndpointClient` (concurrent requests, retries with backoff and
jitter, rate limits, token and cost accounting). Two scorings, chosen explicitly:

* ``"answer_logprob"``: the log-probability of a fixed answer given the masked prompt, the value of
  :class:`~shapiq_spex.games.GenerationLogProbGame` (sum or mean over the answer's tokens of
  ``log p(answer_t | masked prompt, answer_<t)``). One ``/v1/completions`` request per coalition
  with the prompt followed by the answer, ``echo=True``, ``logprobs=1`` and ``max_tokens=1``; the
  answer's log-probabilities are read from the end of the echoed prompt. vLLM and llama.cpp's
  server support this; most API models do not (a clear error says so).
* ``"label_logprob"``: the log-probability of given label strings as the first generated token
  of a chat answer, from ``/v1/chat/completions`` with ``logprobs=True`` and ``top_logprobs``
  (the OpenAI API included). Label 0 is explained: its log-probability, its log-odds against the
  other labels, or its probability margin. A label missing from the top list gets what
  ``missing_label`` says (see :func:`~shapiq_spex.endpoint.logprobs.label_log_probs`).

Prompts are built as in :class:`~shapiq_spex.games.GenerationLogProbGame` (the same template and
chat-template code). With ``tokenizer=`` (the served model's Hugging Face tokenizer) players and
masking are the in-process games' token-level ones, decoded to text, so the same model served and
in process give the same values; without a tokenizer, word and sentence players are masked on the
text (see :mod:`shapiq_spex.endpoint.textmask`).

**Checks made once, at construction** (a few requests): the model is served; for
``answer_logprob``, the echoed log-probabilities are aligned with their tokens (the echoed value
of a token equals the value the endpoint reports when it generates that token; llama-cpp-python
0.3.x shifts them by one position when the prompt does not start with the BOS token, and is then
refused), and the answer starts at a token boundary. Each later answer is checked to end with the
same answer tokens.

Requests are deterministic: ``temperature=0`` and a ``seed``. Run the game under a
:class:`~shapiq_spex.engine.QueryEngine` with ``cache=`` so that nothing answered is paid twice
across crashes; :meth:`EndpointGame.cache_identity` names everything the values depend on (never
the API key).
"""

from __future__ import annotations

import json
import threading
import unicodedata
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from shapiq import Game

from shapiq_spex.endpoint.client import (
    EndpointCapabilityError,
    EndpointClient,
    EndpointError,
    EndpointRequestError,
    EndpointUsage,
    RetryPolicy,
)
from shapiq_spex.endpoint.logprobs import (
    chat_top_logprobs,
    completion_logprobs,
    echo_tail,
    label_log_probs,
    label_value,
)
from shapiq_spex.endpoint.textmask import SpanTextMasker, TokenTextMasker
from shapiq_spex.engine.store import pack_coalitions
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games._torch import check_batch_size, check_choice
from shapiq_spex.games.generation import build_prompt
from shapiq_spex.spectra.spectrum import check_coalitions

__all__ = ["ALIGNMENT_TOLERANCE", "EndpointGame", "Scoring"]

Scoring = Literal["answer_logprob", "label_logprob"]
_SCORINGS = ("answer_logprob", "label_logprob")
#: Largest difference (nats) between a token's echoed and generated log-probability that still
#: counts as aligned (the two come from differently sized batches of the same kernels).
ALIGNMENT_TOLERANCE = 0.02


def _resolve_tokenizer(tokenizer):
    """``None``, a loaded fast tokenizer, ``"smollm2"`` or a Hugging Face name / folder."""
    if tokenizer is None or not isinstance(tokenizer, str):
        return tokenizer
    if tokenizer == "smollm2":
        from shapiq_spex.models.smollm2 import load_smollm2

        return load_smollm2(device="cpu")[1]
    from shapiq_spex.games._torch import import_transformers

    return import_transformers().AutoTokenizer.from_pretrained(tokenizer)


def _prompt_tokens(body: Any) -> int:
    """``usage.prompt_tokens`` of a ``/completions`` answer.

    ``answer_logprob`` counts the answer's tokens as the prompt tokens with the answer minus
    those without it, so an endpoint that does not report them cannot be scored that way.

    Raises:
        EndpointCapabilityError: no ``usage.prompt_tokens`` int >= 0 in the answer.
    """
    usage = body.get("usage") if isinstance(body, dict) else None
    value = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = (
            "The endpoint's /completions answer has no usage.prompt_tokens (got "
            f"{value!r}), which scoring='answer_logprob' needs to count the answer's tokens; "
            "vLLM and llama.cpp's server report it. Use a server that does, or "
            "scoring='label_logprob'."
        )
        raise EndpointCapabilityError(msg)
    return value


def _boundary_message(prompt: str, answer: str, n_answer: int, spelled: str | None) -> str:
    r"""Why the echoed answer tokens do not spell the answer, and the fix that applies here.

    A prompt that ends with white space (a chat template's ``assistant\n``) followed by an
    answer that starts with white space merges the two into one token: the fix is then to drop
    the answer's leading white space, not to add more.
    """
    got = "" if spelled is None else f" (they spell {spelled!r})"
    msg = (
        f"The last {n_answer} echoed tokens do not spell the answer {answer!r}{got}: the answer "
        "does not start at a token boundary of the endpoint's tokenizer (the prompt's last "
        "characters merge with it)."
    )
    if prompt[-1:].isspace() and answer[:1].isspace():
        return (
            f"{msg} The prompt already ends with {prompt[-1]!r} and the answer starts with white "
            f"space, which the tokenizer joins: pass the answer without it "
            f"(answer={answer.lstrip()!r})."
        )
    return f"{msg} End the prompt with white space or a newline, or start the answer with a space."


def _spells(tokens: Sequence[str], text: str) -> bool:
    """Whether token strings spell ``text``.

    Some servers drop characters split across tokens when they decode each token alone
    (llama-cpp-python decodes with ``errors="ignore"``); for text with non-ASCII characters the
    tokens may then spell ``text`` with those characters left out.
    """
    joined = "".join(tokens)
    if joined == text:
        return True
    if text.isascii() or not joined:
        return False
    it = iter(text)
    return all(ch in it for ch in joined) and all(
        ch in joined for ch in text if ch.isascii() and not unicodedata.combining(ch)
    )


class EndpointGame(Game):
    """Explain a served model's answer log-probability or label log-probability by its context.

    Attributes:
        client: the :class:`~shapiq_spex.endpoint.EndpointClient`.
        model: the model name sent with every request.
        scoring: ``"answer_logprob"`` or ``"label_logprob"``.
        prompt: the full prompt text (``/completions``) or user message (chat).
        players: the players (``.spans``, ``.names``, ``.text``, ``.region``).
        masker: builds the masked prompt strings.
        answer: the explained answer (``answer_logprob``); ``answer_tokens`` its tokens as the
            endpoint splits them.
        labels: the label strings (``label_logprob``); label 0 is explained.
        original_model_output: the value with the full context, before centering.
        empty_value: the value with the whole context masked, before centering.
        alignment: what the alignment check measured (``answer_logprob``).
        counters: ``{"missing_labels", "token_count_mismatches", "requests_reused"}``.

    Example:
        >>> game = EndpointGame(  # doctest: +SKIP
        ...     "Paris is the capital of France. Berlin is in Germany.",
        ...     "http://127.0.0.1:8000/v1", "smollm2", scoring="answer_logprob",
        ...     query="What is the capital of France?", tokenizer="smollm2",
        ...     use_chat_template=True)
        >>> with QueryEngine(game, cache="run.sqlite") as engine:  # doctest: +SKIP
        ...     values = engine(coalitions)
    """

    def __init__(
        self,
        context: str,
        endpoint: str | EndpointClient,
        model: str,
        *,
        scoring: Scoring,
        query: str | None = None,
        answer: str | None = None,
        labels: Sequence[str] | None = None,
        label_output: Literal["log_prob", "log_odds", "prob_margin"] = "log_prob",
        label_match: Literal["exact", "normalized"] = "normalized",
        missing_label: Literal["error", "bound"] | float = "error",
        top_logprobs: int = 20,
        prompt_template: str | None = None,
        use_chat_template: bool = False,
        system_prompt: str | None = None,
        tokenizer=None,
        players="sentence",
        mask_strategy: str = "remove",
        output: Literal["log_prob", "mean_log_prob"] = "log_prob",
        max_new_tokens: int = 32,
        seed: int = 0,
        extra_body: dict[str, Any] | None = None,
        api_key_env: str | None = None,
        concurrency: int = 4,
        timeout_s: float = 120.0,
        max_retries: int = 8,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        price_per_million_tokens: tuple[float, float] | None = None,
        normalize: bool = False,
        verbose: bool = False,
    ) -> None:
        """Build the prompt and the players, check the endpoint and evaluate the two edges.

        Args:
            context: the text whose parts are the players.
            endpoint: the API root URL (``"http://127.0.0.1:8000/v1"``) or an
                :class:`~shapiq_spex.endpoint.EndpointClient`.
            model: the served model's name (``"model"`` in each request).
            scoring: ``"answer_logprob"`` or ``"label_logprob"`` (no default: choose).
            query: an optional question, inserted at ``{query}`` in the template.
            answer: ``answer_logprob`` only: the explained answer text (write the leading space
                the tokenizer expects), or ``None`` for the endpoint's greedy answer to the
                full prompt (up to ``max_new_tokens``).
            labels: ``label_logprob`` only: the label strings, label 0 explained.
            label_output: ``"log_prob"`` (of label 0), ``"log_odds"`` (label 0 against the
                others) or ``"prob_margin"`` (its probability minus the largest other one).
            label_match: ``"normalized"`` (default: white space and case ignored) or
                ``"exact"`` matching of top tokens to labels.
            missing_label: rule for a label missing from the top list: ``"error"`` (default),
                ``"bound"`` (its largest possible log-probability) or a float log-probability.
            top_logprobs: size of the top list (the OpenAI API allows at most 20).
            prompt_template: a string with ``{context}`` (and ``{query}``), as for
                :class:`~shapiq_spex.games.GenerationLogProbGame`.
            use_chat_template: ``answer_logprob`` only: render the prompt with the tokenizer's
                chat template (needs ``tokenizer``); ``label_logprob`` always uses the
                endpoint's own chat template.
            system_prompt: optional system message.
            tokenizer: the served model's fast Hugging Face tokenizer (an object, a name or
                folder, or ``"smollm2"``): token-level players and masking exactly as in process.
                ``None`` masks words or sentences on the text.
            players: ``"sentence"`` (default), ``"word"``, ``"token"`` (with a tokenizer) or
                ``(start, end)`` spans relative to ``context``.
            mask_strategy: ``"remove"`` (default), ``"mask_token"`` (with a tokenizer) or a
                replacement string.
            output: ``answer_logprob`` only: ``"log_prob"`` (sum over answer tokens) or
                ``"mean_log_prob"``.
            max_new_tokens: length limit of the greedy answer when ``answer`` is ``None``.
            seed: sent with every request (with ``temperature=0``).
            extra_body: extra JSON fields for every request, for server options (for example
                ``{"repeat_penalty": 1.0}`` on llama.cpp, whose greedy answers otherwise use
                1.1).
            api_key_env: name of the environment variable holding the API key; ``None`` sends
                none.
            concurrency: requests in flight at once. Defaults to 4.
            timeout_s: seconds to wait for an answer. Defaults to 120.
            max_retries: retries on 429, 5xx, connection errors and timeouts. Defaults to 8.
            requests_per_minute: optional request rate limit.
            tokens_per_minute: optional token rate limit.
            price_per_million_tokens: optional ``(input, output)`` prices for the cost count.
            normalize: center the game on the empty coalition.
            verbose: shapiq's one-by-one progress bar (leave ``False``).

        Raises:
            InvalidParameterError: bad arguments.
            EndpointUnavailableError: the endpoint cannot be reached (after the retries).
            EndpointCapabilityError: the endpoint lacks what the scoring needs, or returns
                misaligned log-probabilities.
            EndpointRequestError: the endpoint refused a request (unknown model, ...).
        """
        self.scoring = check_choice(scoring, _SCORINGS, name="scoring")
        self.output = check_choice(output, ("log_prob", "mean_log_prob"), name="output")
        self.label_output = check_choice(
            label_output, ("log_prob", "log_odds", "prob_margin"), name="label_output"
        )
        self.label_match = check_choice(label_match, ("exact", "normalized"), name="label_match")
        check_batch_size(max_new_tokens, name="max_new_tokens")
        self.top_logprobs = check_batch_size(top_logprobs, name="top_logprobs")
        if not isinstance(model, str) or not model:
            msg = f"The 'model' parameter must be the served model's name. Got {model!r}."
            raise InvalidParameterError(msg)
        if isinstance(seed, bool) or not isinstance(seed, int):
            msg = f"The 'seed' parameter must be an int. Got {seed!r}."
            raise InvalidParameterError(msg)
        self.missing_label = self._check_missing(missing_label)
        extra = {} if extra_body is None else dict(extra_body)
        try:
            json.dumps(extra, sort_keys=True)
        except (TypeError, ValueError) as err:
            msg = f"The 'extra_body' parameter must be a JSON-serializable dict ({err})."
            raise InvalidParameterError(msg) from err
        reserved = {"model", "prompt", "messages", "echo", "logprobs", "top_logprobs", "stream"}
        if reserved & set(extra):
            msg = (
                f"The 'extra_body' parameter must not set {sorted(reserved & set(extra))}; the "
                "game sets these itself."
            )
            raise InvalidParameterError(msg)
        self.model = model
        self.seed = seed
        self.extra_body = extra
        self.max_new_tokens = int(max_new_tokens)
        self.system_prompt = system_prompt
        self.mask_strategy = mask_strategy
        self.context, self.query = context, query

        if self.scoring == "answer_logprob":
            if labels is not None:
                msg = "The 'labels' parameter belongs to scoring='label_logprob'; leave it out."
                raise InvalidParameterError(msg)
        else:
            if answer is not None:
                msg = "The 'answer' parameter belongs to scoring='answer_logprob'; leave it out."
                raise InvalidParameterError(msg)
            if use_chat_template:
                msg = (
                    "scoring='label_logprob' sends chat messages, which the endpoint renders "
                    "with its own chat template; leave use_chat_template=False."
                )
                raise InvalidParameterError(msg)
            self.labels = self._check_labels(labels)
        if answer is not None and (not isinstance(answer, str) or not answer):
            msg = f"The 'answer' parameter must be a non-empty string or None. Got {answer!r}."
            raise InvalidParameterError(msg)

        self.tokenizer = _resolve_tokenizer(tokenizer)
        if use_chat_template and self.tokenizer is None:
            msg = (
                "The 'use_chat_template' parameter needs the served model's tokenizer (pass "
                "tokenizer=) to render the chat template locally; or write the chat markup into "
                "prompt_template, or use scoring='label_logprob' (the endpoint's chat template)."
            )
            raise InvalidParameterError(msg)
        self.use_chat_template = bool(use_chat_template)
        system_in_prompt = system_prompt if self.use_chat_template else None
        if system_prompt is not None and self.scoring == "answer_logprob" and not use_chat_template:
            msg = (
                "The 'system_prompt' parameter needs a chat template: use_chat_template=True "
                "with a tokenizer, or scoring='label_logprob'."
            )
            raise InvalidParameterError(msg)
        self.prompt, region = build_prompt(
            context,
            query,
            prompt_template,
            self.tokenizer,
            use_chat_template=self.use_chat_template,
            system_prompt=system_in_prompt,
        )
        self.region = region
        if not isinstance(players, str):  # spans are given relative to the context
            players = [(int(s) + region[0], int(e) + region[0]) for s, e in players]
        if self.tokenizer is not None:
            self.masker = TokenTextMasker(
                self.prompt, region, players, mask_strategy, self.tokenizer
            )
            self.players = self.masker.players
        else:
            self.masker = SpanTextMasker(self.prompt, region, players, mask_strategy)
            self.players = self.masker
        n = self.masker.n_players
        empty_text = self.masker.texts(np.zeros((1, n), dtype=bool))[0]
        if self.scoring == "answer_logprob" and not empty_text.strip():
            msg = (
                "With this mask strategy the empty coalition leaves an empty prompt, so the "
                "answer's first token cannot be scored; add a prompt_template around the "
                "context, use the chat template, or a replacement string as mask_strategy."
            )
            raise InvalidParameterError(msg)

        self.client = self._make_client(
            endpoint,
            api_key_env=api_key_env,
            concurrency=concurrency,
            timeout_s=timeout_s,
            max_retries=max_retries,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            price_per_million_tokens=price_per_million_tokens,
        )
        self._lock = threading.Lock()
        self._answered: dict[bytes, float] = {}
        self._warned_mismatch = False
        self.counters = {"missing_labels": 0, "token_count_mismatches": 0, "requests_reused": 0}
        self._token_offset: int | None = None
        self.alignment: dict[str, Any] = {}

        self._check_model()
        full = np.ones((1, n), dtype=bool)
        if self.scoring == "answer_logprob":
            self._setup_answer(answer)
        else:
            self.answer = None
            self.answer_tokens = None
            self.original_model_output = float(self.value_function(full)[0])
        self.empty_value = float(self.value_function(np.zeros((1, n), dtype=bool))[0])
        super().__init__(
            n,
            normalize=normalize,
            normalization_value=self.empty_value if normalize else None,
            verbose=verbose,
        )

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _check_missing(missing):
        if isinstance(missing, str):
            return check_choice(missing, ("error", "bound"), name="missing_label")
        if isinstance(missing, bool) or not isinstance(missing, (int, float)):
            msg = (
                "The 'missing_label' parameter must be 'error', 'bound' or a float log-probability"
                f" (<= 0). Got {missing!r}."
            )
            raise InvalidParameterError(msg)
        if not np.isfinite(missing) or missing > 0:
            msg = (
                f"The 'missing_label' floor must be a finite log-probability <= 0. Got {missing!r}."
            )
            raise InvalidParameterError(msg)
        return float(missing)

    def _check_labels(self, labels) -> list[str]:
        if isinstance(labels, str) or labels is None:
            msg = (
                "scoring='label_logprob' needs 'labels': a sequence of label strings such as "
                f"('yes', 'no'), label 0 explained. Got {labels!r}."
            )
            raise InvalidParameterError(msg)
        labels = list(labels)
        if not labels or not all(isinstance(x, str) and x.strip() for x in labels):
            msg = f"The 'labels' parameter must hold non-empty strings. Got {labels!r}."
            raise InvalidParameterError(msg)
        norm = [x if self.label_match == "exact" else x.strip().casefold() for x in labels]
        if len(set(norm)) != len(norm):
            msg = (
                f"The 'labels' {labels!r} repeat a label (after label_match="
                f"{self.label_match!r}); give distinct labels."
            )
            raise InvalidParameterError(msg)
        if self.label_output != "log_prob" and len(labels) < 2:
            msg = (
                f"label_output={self.label_output!r} compares label 0 with the others; give at "
                "least two labels."
            )
            raise InvalidParameterError(msg)
        return labels

    def _make_client(self, endpoint, **options) -> EndpointClient:
        if isinstance(endpoint, EndpointClient):
            defaults = {
                "api_key_env": None,
                "concurrency": 4,
                "timeout_s": 120.0,
                "max_retries": 8,
                "requests_per_minute": None,
                "tokens_per_minute": None,
                "price_per_million_tokens": None,
            }
            changed = [k for k, v in options.items() if v != defaults[k]]
            if changed:
                msg = (
                    f"The endpoint is an EndpointClient; set {changed} on the client, not on the "
                    "game."
                )
                raise InvalidParameterError(msg)
            return endpoint
        max_retries = options.pop("max_retries")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            msg = f"The 'max_retries' parameter must be an int >= 0. Got {max_retries!r}."
            raise InvalidParameterError(msg)
        return EndpointClient(endpoint, retry=RetryPolicy(max_retries=max_retries), **options)

    def _check_model(self) -> None:
        """Fail fast (few retries) when the endpoint is down or does not serve the model."""
        quick = RetryPolicy(max_retries=2, backoff_base_s=0.5, backoff_max_s=2.0)
        try:
            listing = self.client.get("/models", retry=quick)
        except EndpointRequestError as err:
            if err.status in (404, 405):  # no model listing here: the first request will tell
                return
            raise
        data = listing.get("data") if isinstance(listing, dict) else None
        if isinstance(data, list) and data:
            names = [str(m.get("id")) for m in data if isinstance(m, dict)]
            if self.model not in names:
                msg = (
                    f"The endpoint {self.client.base_url} does not serve the model {self.model!r}; "
                    f"it lists {names[:10]}. Pass one of these as model."
                )
                raise EndpointRequestError(msg, status=404, detail="model not listed")

    # ------------------------------------------------------------------ requests
    def _base_payload(self) -> dict[str, Any]:
        return {"model": self.model, "temperature": 0.0, "seed": self.seed, **self.extra_body}

    def _answer_payload(self, text: str) -> dict[str, Any]:
        return {
            **self._base_payload(),
            "prompt": text + self.answer,
            "max_tokens": 1,
            "echo": True,
            "logprobs": 1,
        }

    def _chat_payload(self, text: str) -> dict[str, Any]:
        messages = (
            []
            if self.system_prompt is None
            else [{"role": "system", "content": self.system_prompt}]
        )
        messages.append({"role": "user", "content": text})
        return {
            **self._base_payload(),
            "messages": messages,
            "max_tokens": 1,
            "logprobs": True,
            "top_logprobs": self.top_logprobs,
        }

    def request_settings(self) -> dict[str, Any]:
        """The fixed fields of every scoring request (for logs and the cache identity)."""
        if self.scoring == "answer_logprob":
            fields = {"path": "/completions", "max_tokens": 1, "echo": True, "logprobs": 1}
        else:
            fields = {
                "path": "/chat/completions",
                "max_tokens": 1,
                "logprobs": True,
                "top_logprobs": self.top_logprobs,
            }
        return {**fields, "temperature": 0.0, "seed": self.seed, "extra_body": self.extra_body}

    # ------------------------------------------------------------------ answer set-up
    def _setup_answer(self, answer: str | None) -> None:
        n = self.masker.n_players
        full_text = self.masker.texts(np.ones((1, n), dtype=bool))[0]
        base = self._base_payload()
        if answer is None:
            body = self.client.post(
                "/completions",
                {**base, "prompt": full_text, "max_tokens": self.max_new_tokens},
            )
            choice = (body.get("choices") or [{}])[0] if isinstance(body, dict) else {}
            answer = choice.get("text") if isinstance(choice, dict) else None
            if not isinstance(answer, str) or not answer.strip():
                msg = (
                    "The endpoint's greedy answer to the full prompt is empty; pass the answer "
                    f"to explain as answer=. Got {answer!r}."
                )
                raise EndpointError(msg)
        self.answer = answer
        # A: the next token after the prompt, generated (its value is computed like any answer)
        gen = self.client.post(
            "/completions", {**base, "prompt": full_text, "max_tokens": 1, "logprobs": 1}
        )
        g_tokens, g_values, g_count, g_text = completion_logprobs(gen)
        n_prompt = _prompt_tokens(gen)
        # B: the prompt and the answer, echoed
        echo = self.client.post("/completions", self._answer_payload(full_text))
        n_with = _prompt_tokens(echo)
        n_answer = n_with - n_prompt
        if n_answer < 1:
            msg = (
                f"The endpoint counts {n_prompt} prompt tokens without the answer and {n_with} "
                "with it; the answer adds no token."
            )
            raise EndpointError(msg)
        listed, spelled = None, None
        for generated_listed in (True, False):
            try:
                tokens, values = echo_tail(echo, n_answer, generated_listed=generated_listed)
            except EndpointCapabilityError:
                raise
            except EndpointError:
                continue
            if _spells(tokens, answer):
                listed = generated_listed
                break
            spelled = spelled if spelled is not None else "".join(tokens)
        if listed is None:
            raise EndpointError(_boundary_message(full_text, answer, n_answer, spelled))
        self._generated_listed = listed
        self.answer_tokens = tokens
        # alignment: the echoed value of a token must equal its value when generated
        generated = g_tokens[0] if g_count >= 1 and g_tokens and g_values[0] is not None else None
        self.alignment = {"checked": False}
        if generated is not None:
            if tokens[0] == generated:
                echoed = float(values[0])
            else:
                probe = self.client.post(
                    "/completions",
                    {
                        **base,
                        "prompt": full_text + g_text,
                        "max_tokens": 1,
                        "echo": True,
                        "logprobs": 1,
                    },
                )
                p_tokens, p_values = echo_tail(probe, 1, generated_listed=listed)
                if p_tokens[0] != generated:
                    p_tokens = None
                echoed = float(p_values[0]) if p_tokens else None
            if echoed is not None:
                expected = float(g_values[0])
                self.alignment = {
                    "checked": True,
                    "token": generated,
                    "generated_log_prob": expected,
                    "echoed_log_prob": echoed,
                }
                if abs(echoed - expected) > ALIGNMENT_TOLERANCE:
                    msg = (
                        f"The endpoint's echoed log-probabilities are not aligned with their "
                        f"tokens: after the full prompt it generates {generated!r} with log-prob "
                        f"{expected:.4f}, but echoes the same token with {echoed:.4f}. "
                        "llama-cpp-python 0.3.x shifts echoed values by one position when the "
                        "prompt does not start with the BOS token: use a prompt that starts "
                        "with it (e.g. the chat template: use_chat_template=True), or a server "
                        "that aligns them (vLLM). No value would be right, so none is computed."
                    )
                    raise EndpointCapabilityError(msg)
        if not self.alignment["checked"]:
            warnings.warn(
                "The alignment of the endpoint's echoed log-probabilities could not be checked "
                "(the model ends its answer right after the prompt).",
                UserWarning,
                stacklevel=3,
            )
        if isinstance(self.masker, TokenTextMasker):
            # server count minus local prompt count: the answer (and any BOS the server adds)
            local = int(self.masker.token_counts(np.ones((1, n), dtype=bool))[0])
            self._token_offset = n_with - local
        self.original_model_output = float(self._reduce(values))

    # ------------------------------------------------------------------ scoring
    def _reduce(self, values: np.ndarray) -> float:
        return float(values.sum() if self.output == "log_prob" else values.mean())

    def _parse(self, body: Any) -> tuple[float, int | None]:
        """The value of one answer, and the endpoint's prompt token count."""
        if self.scoring == "answer_logprob":
            tokens, values = echo_tail(
                body, len(self.answer_tokens), generated_listed=self._generated_listed
            )
            if tokens != self.answer_tokens:
                msg = (
                    f"Under this coalition the endpoint tokenized the answer as {tokens!r}, not "
                    f"{self.answer_tokens!r} as with the full prompt; start the answer with a "
                    "space or a newline so that masking cannot merge it with the prompt."
                )
                raise EndpointError(msg)
            value = self._reduce(values)
        else:
            top, _ = chat_top_logprobs(body)
            log_probs, missing = label_log_probs(
                top, self.labels, match=self.label_match, missing=self.missing_label
            )
            if missing.any():
                with self._lock:
                    self.counters["missing_labels"] += int(missing.sum())
            value = label_value(log_probs, self.label_output)
        usage = body.get("usage") if isinstance(body, dict) else None
        return value, (usage or {}).get("prompt_tokens")

    def value_function(self, coalitions) -> np.ndarray:
        """Score a batch of coalitions through the endpoint (``concurrency`` requests at once).

        Answers of a batch that failed part-way are kept in memory and not requested again when
        the batch is repeated.

        Args:
            coalitions: ``(m, n_players)`` bool (``True`` = player present).

        Returns:
            ``(m,)`` float64 values, not centered (``__call__`` subtracts the normalization).

        Raises:
            EndpointUnavailableError, EndpointRequestError, EndpointCapabilityError,
            EndpointError: see :class:`~shapiq_spex.endpoint.EndpointClient` and the checks
            above; answers received before the error are kept.
        """
        x = check_coalitions(coalitions, self.masker.n_players)
        keys = pack_coalitions(x).tolist()
        out = np.empty(x.shape[0], dtype=np.float64)
        with self._lock:
            known = [self._answered.get(k) for k in keys]
        todo = [i for i, v in enumerate(known) if v is None]
        for i, v in enumerate(known):
            if v is not None:
                out[i] = v
        if len(todo) < x.shape[0]:
            with self._lock:
                self.counters["requests_reused"] += x.shape[0] - len(todo)
        if todo:
            texts = self.masker.texts(x[todo])
            counts = (
                self.masker.token_counts(x[todo])
                if isinstance(self.masker, TokenTextMasker)
                else None
            )
            if self.scoring == "answer_logprob":
                path, payloads = "/completions", [self._answer_payload(t) for t in texts]
            else:
                path, payloads = "/chat/completions", [self._chat_payload(t) for t in texts]
            estimate = [len(t) // 3 + 8 for t in texts] if counts is None else (counts + 8)

            def keep(j: int, body: Any) -> None:
                value, n_tokens = self._parse(body)
                row = todo[j]
                out[row] = value
                if counts is not None and n_tokens is not None:
                    self._check_count(int(n_tokens), int(counts[j]), row)
                with self._lock:
                    self._answered[keys[row]] = value

            self.client.map(path, payloads, estimated_tokens=list(estimate), on_result=keep)
        with self._lock:  # the engine keeps them from here on
            for k in keys:
                self._answered.pop(k, None)
        return out

    def _check_count(self, server: int, local: int, row: int) -> None:
        """Count masked prompts whose token number on the server differs from the local one."""
        if self._token_offset is None:
            # first call (label scoring's full coalition): calibrate the template's tokens
            self._token_offset = server - local
            return
        if server - local == self._token_offset:
            return
        with self._lock:
            self.counters["token_count_mismatches"] += 1
            warn = not self._warned_mismatch
            self._warned_mismatch = True
        if warn:
            msg = (
                f"The endpoint tokenized a masked prompt into {server - self._token_offset} "
                f"tokens where the local tokenizer has {local}: its tokenizer differs from the "
                "given one, or re-tokenizing the masked text merged tokens across a removed "
                "player; such values differ from the in-process game's (counted in "
                "game.counters['token_count_mismatches'])."
            )
            warnings.warn(msg, UserWarning, stacklevel=4)

    # ------------------------------------------------------------------ bookkeeping
    @property
    def usage(self) -> EndpointUsage:
        """The client's token, request, retry and cost counters."""
        return self.client.usage

    def usage_summary(self) -> str:
        """One short line for a progress bar (tokens, retries, cost)."""
        return self.client.usage.summary()

    def cache_identity(self) -> dict[str, Any]:
        """Everything the game's values depend on, as a JSON-able dict (never the API key).

        Endpoint URL, model, scoring, the full prompt and its explained region, the players
        (kind and spans, and token ids with a tokenizer), the masking, the answer or the labels
        with their rules, the fixed request fields (temperature 0, seed, ``extra_body``) and the
        normalization.
        """
        ident: dict[str, Any] = {
            "game": f"{type(self).__module__}.{type(self).__qualname__}",
            "version": 1,
            "endpoint": self.client.base_url,
            "model": self.model,
            "scoring": self.scoring,
            "prompt": self.prompt,
            "region": [int(v) for v in self.region],
            "system_prompt": self.system_prompt,
            "players": self.masker.identity(),
            "request": self.request_settings(),
            "normalization_value": float(self.normalization_value),
        }
        if self.scoring == "answer_logprob":
            ident.update(answer=self.answer, answer_tokens=self.answer_tokens, output=self.output)
        else:
            ident.update(
                labels=list(self.labels),
                label_output=self.label_output,
                label_match=self.label_match,
                missing_label=self.missing_label,
            )
        return ident

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock", None)
        state["_answered"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"EndpointGame(model={self.model!r}, endpoint={self.client.base_url!r}, "
            f"scoring={self.scoring!r}, n_players={self.n_players})"
        )
