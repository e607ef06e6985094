"""Generation game: how much do parts of a context support a causal LM's answer?

The prompt is a template around the context (and an optional query), optionally rendered with
the tokenizer's chat template. Players are the words or sentences of the context only; the rest
of the prompt is always present. ``v(S)`` is the teacher-forced log-probability of a fixed answer
(by default the model's own greedy answer to the full prompt) given the prompt in which only the
players in ``S`` are present: the sum (or mean) over answer tokens of
``log p(answer_t | masked prompt, answer_<t)``.

One forward pass scores a whole batch of coalitions: masked prompts are left-padded, the answer
is appended to every row, position ids skip the padding, and only the last ``len(answer) + 1``
positions are turned into logits.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Literal

import numpy as np
from shapiq import Game

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games._identity import text_game_identity
from shapiq_spex.games._torch import (
    as_tensor,
    check_batch_size,
    check_choice,
    import_torch,
    load_model_and_tokenizer,
    max_sequence_length,
    model_device,
    output_logits,
    run_length_sorted,
    target_log_probs,
)
from shapiq_spex.spectra.spectrum import check_coalitions
from shapiq_spex.text.masking import MaskedBatch, MaskStrategy, TextMasker
from shapiq_spex.text.players import as_text_players

__all__ = ["DEFAULT_GENERATION_ARGS", "DEFAULT_PROMPT_TEMPLATE", "GenerationLogProbGame"]

#: Template used when a query is given and no template: ContextCite's layout.
DEFAULT_PROMPT_TEMPLATE = "Context: {context}\n\nQuery: {query}"
#: Greedy decoding for the default answer.
DEFAULT_GENERATION_ARGS = {"max_new_tokens": 32, "do_sample": False}
_SENTINEL = "\x00SHAPIQ_SPEX_CONTEXT\x00"

GenerationOutput = Literal["log_prob", "mean_log_prob"]


def build_prompt(
    context: str,
    query: str | None,
    prompt_template: str | None,
    tokenizer,
    *,
    use_chat_template: bool,
    system_prompt: str | None,
) -> tuple[str, tuple[int, int]]:
    """The full prompt string and the character region of the context inside it.

    ``{context}`` and ``{query}`` in the template are replaced literally (other braces are kept).

    Returns:
        ``(prompt, (start, end))`` with ``prompt[start:end] == context``.
    """
    if not isinstance(context, str) or not context.strip():
        msg = f"The 'context' parameter must be a non-empty string. Got {context!r:.80}."
        raise InvalidParameterError(msg)
    if prompt_template is None:
        prompt_template = "{context}" if query is None else DEFAULT_PROMPT_TEMPLATE
    if not isinstance(prompt_template, str) or prompt_template.count("{context}") != 1:
        msg = (
            "The 'prompt_template' parameter must be a string holding '{context}' exactly once. "
            f"Got {prompt_template!r}."
        )
        raise InvalidParameterError(msg)
    if (query is None) == ("{query}" in prompt_template):
        msg = (
            "The 'prompt_template' parameter must hold '{query}' exactly when a 'query' is given. "
            f"Got template {prompt_template!r} and query {query!r}."
        )
        raise InvalidParameterError(msg)
    before, after = prompt_template.split("{context}")
    if query is not None:
        before, after = before.replace("{query}", query), after.replace("{query}", query)
    if not use_chat_template:
        return before + context + after, (len(before), len(before) + len(context))
    if not getattr(tokenizer, "chat_template", None):
        msg = (
            "The 'use_chat_template' parameter is True but the tokenizer has no chat template; "
            "set use_chat_template=False or set tokenizer.chat_template."
        )
        raise InvalidParameterError(msg)
    messages = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    messages.append({"role": "user", "content": before + _SENTINEL + after})
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not isinstance(rendered, str) or rendered.count(_SENTINEL) != 1:
        msg = "The tokenizer's chat template does not reproduce the user message verbatim."
        raise InvalidParameterError(msg)
    pre, post = rendered.split(_SENTINEL)
    return pre + context + post, (len(pre), len(pre) + len(context))


class GenerationLogProbGame(Game):
    """Explain a causal LM's log-probability of an answer by the words or sentences of a context.

    Attributes:
        players: the :class:`~shapiq_spex.text.TextPlayers` of the context (spans index
            :attr:`prompt`; ``players.region`` is the context).
        masker: the :class:`~shapiq_spex.text.TextMasker`.
        prompt: the full prompt string (template and chat template applied).
        answer: the explained answer text; ``answer_ids`` its ``(n_answer,)`` token ids.
        output: ``"log_prob"`` (sum over answer tokens) or ``"mean_log_prob"``.
        original_model_output: the value with the full context, before centering.
        empty_value: the value with the whole context masked, before centering.

    Example:
        >>> game = GenerationLogProbGame(  # doctest: +SKIP
        ...     "Paris is the capital of France. Berlin is in Germany.", "smollm2",
        ...     query="What is the capital of France?", use_chat_template=True)
        >>> game.answer, game.players.names  # doctest: +SKIP
    """

    def __init__(
        self,
        context: str,
        model,
        tokenizer=None,
        *,
        query: str | None = None,
        answer: str | Sequence[int] | None = None,
        prompt_template: str | None = None,
        use_chat_template: bool = False,
        system_prompt: str | None = None,
        players="sentence",
        mask_strategy: MaskStrategy = "remove",
        output: GenerationOutput = "log_prob",
        max_new_tokens: int = DEFAULT_GENERATION_ARGS["max_new_tokens"],
        batch_size: int = 16,
        device=None,
        dtype=None,
        normalize: bool = False,
        verbose: bool = False,
    ) -> None:
        """Build the prompt, fix the answer and evaluate the full and the empty context.

        Args:
            context: the text whose parts are the players.
            model: a causal LM: ``"smollm2"`` (offline default), a Hugging Face name or folder,
                or a loaded module returning logits ``(b, T, vocab)``.
            tokenizer: its fast tokenizer (or a name); ``None`` with a model name.
            query: an optional question, inserted at ``{query}`` in the template.
            answer: the explained answer: a string (tokenized without special tokens; include a
                leading space where the tokenizer expects one), token ids, or ``None`` for the
                model's greedy answer to the full prompt (up to ``max_new_tokens``, without the
                end-of-sequence token).
            prompt_template: a string with ``{context}`` (and ``{query}`` when a query is
                given); default ``"{context}"`` or :data:`DEFAULT_PROMPT_TEMPLATE`.
            use_chat_template: render the filled template as the user message of the tokenizer's
                chat template (with the assistant generation prompt).
            system_prompt: optional system message for the chat template.
            players: ``"sentence"`` (default), ``"word"``, ``"token"`` or spans into the
                context (``(start, end)`` relative to ``context``).
            mask_strategy: ``"remove"`` (default), ``"mask_token"`` or a replacement string.
            output: ``"log_prob"`` (default, sum over answer tokens) or ``"mean_log_prob"``.
            max_new_tokens: answer length limit for the default answer.
            batch_size: masked prompts per forward pass.
            device: device for a model loaded by name, or to move a given model to.
            dtype: floating dtype to run the model in; default unchanged.
            normalize: center the game on the empty coalition.
            verbose: shapiq's one-by-one progress bar (slow; leave ``False``).

        Raises:
            InvalidParameterError: bad arguments, an empty answer, a prompt longer than the
                model's positions, or a masked prompt left without any token.
        """
        self.output = check_choice(output, ("log_prob", "mean_log_prob"), name="output")
        self.batch_size = check_batch_size(batch_size)
        check_batch_size(max_new_tokens, name="max_new_tokens")
        self.model, self.tokenizer = load_model_and_tokenizer(
            model, tokenizer, task="causal-lm", device=device, dtype=dtype
        )
        self.device = model_device(self.model)
        self.context = context
        self.query = query
        self.use_chat_template = bool(use_chat_template)
        self.prompt, region = build_prompt(
            context,
            query,
            prompt_template,
            self.tokenizer,
            use_chat_template=self.use_chat_template,
            system_prompt=system_prompt,
        )
        if not isinstance(players, str):  # spans are given relative to the context
            from shapiq_spex.text.players import TextPlayers

            if not isinstance(players, TextPlayers):
                players = [(int(s) + region[0], int(e) + region[0]) for s, e in players]
        self.players = as_text_players(
            players,
            self.prompt,
            self.tokenizer,
            region=region,
            add_special_tokens=not self.use_chat_template,
        )
        self.masker = TextMasker(self.players, mask_strategy)
        self.mask_strategy = mask_strategy
        if self.masker.min_length() == 0:
            msg = (
                "With this mask strategy the empty coalition leaves an empty prompt, so the first "
                "answer token cannot be scored; add a prompt_template around the context, use a "
                "tokenizer that adds a BOS token, or use mask_strategy='mask_token'."
            )
            raise InvalidParameterError(msg)

        self._logits_to_keep = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        limit = max_sequence_length(self.model)
        # checked before generating: past the model's positions generate() fails inside torch
        if limit is not None and answer is None and self.players.n_tokens + max_new_tokens > limit:
            room = limit - self.players.n_tokens
            fix = f"lower max_new_tokens to <= {room}" if room > 0 else "shorten the context"
            msg = (
                f"The prompt has {self.players.n_tokens} tokens; with max_new_tokens="
                f"{max_new_tokens} the answer could run past the {limit} positions of the model: "
                f"{fix} (this game does not truncate)."
            )
            raise InvalidParameterError(msg)
        self.answer_ids = self._resolve_answer(answer, max_new_tokens)
        self.answer = self.tokenizer.decode(self.answer_ids.tolist())
        total = self.players.n_tokens + self.answer_ids.size
        if limit is not None and total > limit:
            msg = (
                f"Prompt and answer have {total} tokens, more than the {limit} positions of the "
                "model; shorten the context (this game does not truncate)."
            )
            raise InvalidParameterError(msg)

        torch = import_torch()
        with torch.inference_mode():
            ids = np.concatenate([self.players.input_ids, self.answer_ids])[None, :]
            full = MaskedBatch(ids, np.ones_like(ids), np.array([ids.shape[1]]), "left")
            self.original_token_log_probs = self._token_log_probs(full)[0]
        self.original_model_output = float(self._reduce(self.original_token_log_probs[None])[0])
        n = self.players.n_players
        self.empty_value = float(self.value_function(np.zeros((1, n), dtype=bool))[0])
        super().__init__(
            n,
            normalize=normalize,
            normalization_value=self.empty_value if normalize else None,
            verbose=verbose,
        )

    # ------------------------------------------------------------------ answer
    def _resolve_answer(self, answer, max_new_tokens: int) -> np.ndarray:
        tok = self.tokenizer
        if answer is None:
            ids = self._greedy_answer(max_new_tokens)
            what = "The model's greedy answer to the full prompt"
        elif isinstance(answer, str):
            if answer and not answer.strip():
                msg = (
                    f"The 'answer' parameter {answer!r} is only white space; pass the answer's "
                    "text (a leading space is fine: ' Paris'), or its token ids to score "
                    "white-space tokens."
                )
                raise InvalidParameterError(msg)
            ids = np.asarray(tok(answer, add_special_tokens=False)["input_ids"], dtype=np.int64)
            what = f"The 'answer' parameter {answer!r}"
        else:
            ids = np.asarray(answer)
            if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
                msg = (
                    f"The 'answer' parameter must be a string or 1-D token ids. Got {answer!r:.80}."
                )
                raise InvalidParameterError(msg)
            ids = ids.astype(np.int64)
            if ids.size and (ids.min() < 0 or ids.max() >= len(tok)):
                msg = f"The 'answer' token ids must lie in [0, {len(tok)})."
                raise InvalidParameterError(msg)
            what = "The 'answer' parameter"
        if ids.size == 0:
            msg = f"{what} has no tokens; pass a non-empty answer."
            raise InvalidParameterError(msg)
        return ids

    def _stop_ids(self) -> set[int]:
        stop = set()
        for source in (getattr(self.model, "generation_config", None), self.tokenizer):
            eos = getattr(source, "eos_token_id", None)
            if eos is not None:
                stop.update([eos] if isinstance(eos, int) else list(eos))
        return stop

    def _greedy_answer(self, max_new_tokens: int) -> np.ndarray:
        torch = import_torch()
        ids = as_tensor(self.players.input_ids[None, :], self.device)
        stop = self._stop_ids()
        pad = self.masker.pad_token_id
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=pad,
                eos_token_id=sorted(stop) if stop else None,
            )
        new = out[0, ids.shape[1] :].cpu().numpy().astype(np.int64)
        hits = np.flatnonzero(np.isin(new, list(stop))) if stop else np.array([], dtype=int)
        return new[: hits[0]] if hits.size else new

    # ------------------------------------------------------------------ scoring
    def _token_log_probs(self, batch: MaskedBatch) -> np.ndarray:
        """``(b, n_answer)`` log-probabilities of the answer tokens at the end of each row."""
        torch = import_torch()
        a = self.answer_ids.size
        kwargs = {"logits_to_keep": a + 1} if self._logits_to_keep else {}
        out = self.model(
            input_ids=as_tensor(batch.input_ids, self.device),
            attention_mask=as_tensor(batch.attention_mask, self.device),
            position_ids=as_tensor(batch.position_ids(), self.device),
            use_cache=False,
            **kwargs,
        )
        logits = output_logits(out)
        if logits.ndim != 3:
            msg = f"The causal LM must return logits (b, T, vocab). Got {tuple(logits.shape)}."
            raise InvalidParameterError(msg)
        # float64: a float32 log-softmax over SmolLM2's 49,152 tokens is 1-2e-5 too high per
        # answer token (the sum of exponentials rounds down), which adds up over an answer
        answer = logits[:, -(a + 1) : -1, :]
        targets = torch.as_tensor(self.answer_ids, device=answer.device)
        return target_log_probs(answer, targets.expand(answer.shape[0], a)).cpu().numpy()

    def _reduce(self, token_log_probs: np.ndarray) -> np.ndarray:
        if self.output == "log_prob":
            return token_log_probs.sum(axis=1)
        return token_log_probs.mean(axis=1)

    def token_log_probs(self, coalitions) -> np.ndarray:
        """Per-answer-token log-probabilities for a batch of coalitions.

        Args:
            coalitions: ``(m, n_players)`` bool (``True`` = player present).

        Returns:
            ``(m, n_answer)`` float64: ``log p(answer_t | masked prompt, answer_<t)``.
        """
        x = check_coalitions(coalitions, self.players.n_players)
        return run_length_sorted(
            lambda block: self._token_log_probs(
                self.masker(block, padding_side="left", suffix_ids=self.answer_ids)
            ),
            x,
            self.players,
            self.batch_size,
            width=self.answer_ids.size,
        )

    def cache_identity(self) -> dict:
        """What determines this game's values, for the cache of a :class:`~shapiq_spex.QueryEngine`.

        Returns:
            A JSON-serialisable dict: the fields of every text game (``game``,
            ``value_semantics``, ``model``, ``tokenizer``, ``players`` with the context region,
            ``masking``, ``normalized``) plus ``prompt`` (template, query and chat template
            applied), ``answer_ids`` and ``output``.
        """
        return text_game_identity(
            self,
            prompt=self.prompt,
            answer_ids=self.answer_ids.astype(np.int64).tolist(),
            output=self.output,
        )

    def value_function(self, coalitions) -> np.ndarray:
        """Answer log-probability (sum or mean over its tokens) for a batch of coalitions.

        Args:
            coalitions: ``(m, n_players)`` bool (``True`` = player present).

        Returns:
            ``(m,)`` float64 values, not centered (``__call__`` subtracts the normalization).
        """
        return self._reduce(self.token_log_probs(coalitions))
