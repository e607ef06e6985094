"""Text classification game: players are the words (tokens, sentences) of one text.

``v(S)`` is a score of the target class (logit, log-probability, probability or logit margin)
when only the players in ``S`` are present and the others are masked (see
:mod:`shapiq_spex.text.masking`). Coalitions are evaluated in batches of padded token-id matrices
under ``torch.inference_mode``; rows are sorted by length first so that padding stays small.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from shapiq import Game

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games._identity import text_game_identity
from shapiq_spex.games._torch import (
    OUTPUTS,
    as_float64,
    as_tensor,
    check_batch_size,
    check_choice,
    import_torch,
    load_model_and_tokenizer,
    max_sequence_length,
    model_device,
    output_logits,
    resolve_class,
    run_length_sorted,
    score_logits,
)
from shapiq_spex.spectra.spectrum import check_coalitions
from shapiq_spex.text.masking import MaskedBatch, MaskStrategy, TextMasker
from shapiq_spex.text.players import TextPlayers, as_text_players

__all__ = ["TextClassificationGame"]

Output = Literal["logit", "log_prob", "prob", "logit_margin"]


def check_input_length(players: TextPlayers, masker: TextMasker, model) -> None:
    """Raise if the longest masked input exceeds the model's positions or the shortest is empty."""
    limit = max_sequence_length(model)
    longest = max(
        int(masker(np.ones((1, players.n_players), dtype=bool)).lengths[0]),
        int(masker(np.zeros((1, players.n_players), dtype=bool)).lengths[0]),
    )
    if limit is not None and longest > limit:
        msg = (
            f"The text has {longest} tokens after masking, more than the {limit} positions of the "
            "model; shorten the text (this game does not truncate)."
        )
        raise InvalidParameterError(msg)
    if masker.min_length() == 0:
        msg = (
            "With mask_strategy='remove' the empty coalition leaves no tokens (the tokenizer adds "
            "no special tokens); use mask_strategy='mask_token' or a replacement string."
        )
        raise InvalidParameterError(msg)


class TextClassificationGame(Game):
    """Explain a text classifier's score of one class on one text.

    Attributes:
        players: the :class:`~shapiq_spex.text.TextPlayers` (names, spans, token alignment).
        masker: the :class:`~shapiq_spex.text.TextMasker` building masked inputs.
        model: the classifier (eval mode).
        tokenizer: its fast tokenizer.
        target_class: the explained class index.
        output: the score (``"logit"``, ``"log_prob"``, ``"prob"``, ``"logit_margin"``).
        original_logits: ``(n_classes,)`` float64 logits of the full text.
        original_model_output: the score of the full text (grand coalition), before centering.
        empty_value: the score of the fully masked text (empty coalition), before centering.

    Example:
        >>> text = "a gripping, funny film"
        >>> game = TextClassificationGame(text, "minilm-sentiment")  # doctest: +SKIP
        >>> game.players.names, game(game.grand_coalition)  # doctest: +SKIP
    """

    def __init__(
        self,
        text: str,
        model,
        tokenizer=None,
        *,
        target_class: int | str | None = None,
        output: Output = "logit",
        players="word",
        mask_strategy: MaskStrategy = "mask_token",
        batch_size: int = 32,
        device=None,
        dtype=None,
        normalize: bool = False,
        verbose: bool = False,
    ) -> None:
        """Set up the game and evaluate the full and the fully masked text.

        Args:
            text: the text to explain.
            model: a sequence classifier: ``"minilm-sentiment"`` (offline default), a Hugging
                Face name or folder, or a loaded module returning logits ``(b, n_classes)``.
            tokenizer: its fast tokenizer (or a name); ``None`` with a model name.
            target_class: class index or label name; ``None`` = the class predicted for the
                full text.
            output: ``"logit"`` (default), ``"log_prob"``, ``"prob"`` or ``"logit_margin"``
                (target logit minus the largest other logit).
            players: ``"word"`` (default), ``"token"``, ``"sentence"``, ``(start, end)`` spans or
                a :class:`TextPlayers` for this text and tokenizer.
            mask_strategy: ``"mask_token"`` (default), ``"remove"`` or a replacement string.
            batch_size: masked texts per forward pass.
            device: device for a model loaded by name, or to move a given model to.
            dtype: floating dtype to run the model in (e.g. ``"bf16"``); default unchanged.
            normalize: center the game on the empty coalition (``v(∅) = 0``).
            verbose: shapiq's one-by-one progress bar (slow; leave ``False``).

        Raises:
            InvalidParameterError: bad arguments, a text longer than the model's positions, or a
                model that does not return 2-D logits.
        """
        self.output = check_choice(output, OUTPUTS, name="output")
        self.batch_size = check_batch_size(batch_size)
        self.model, self.tokenizer = load_model_and_tokenizer(
            model, tokenizer, task="sequence-classification", device=device, dtype=dtype
        )
        self.device = model_device(self.model)
        self.players = as_text_players(players, text, self.tokenizer)
        self.masker = TextMasker(self.players, mask_strategy)
        self.mask_strategy = mask_strategy
        self.text = text
        check_input_length(self.players, self.masker, self.model)

        torch = import_torch()
        with torch.inference_mode():
            ids = as_tensor(self.players.input_ids[None, :], self.device)
            logits = self._logits(ids, torch.ones_like(ids))
        n_classes = logits.shape[1]
        if n_classes < 2 and self.output != "logit":
            msg = f"output={self.output!r} needs at least 2 classes; the model has 1. Use 'logit'."
            raise InvalidParameterError(msg)
        self.original_logits = as_float64(logits[0]).cpu().numpy()
        if target_class is None:
            target_class = int(np.argmax(self.original_logits))
        self.target_class = resolve_class(
            target_class, n_classes, getattr(self.model, "config", None)
        )
        self.original_model_output = float(score_logits(logits, self.target_class, self.output)[0])
        n = self.players.n_players
        self.empty_value = float(self._values(np.zeros((1, n), dtype=bool))[0])
        super().__init__(
            n,
            normalize=normalize,
            normalization_value=self.empty_value if normalize else None,
            verbose=verbose,
        )

    def _logits(self, input_ids, attention_mask):
        logits = output_logits(self.model(input_ids=input_ids, attention_mask=attention_mask))
        if logits.ndim != 2:
            msg = (
                "The classifier must return logits of shape (batch, n_classes). Got shape "
                f"{tuple(logits.shape)}; is it a sequence-classification model?"
            )
            raise InvalidParameterError(msg)
        return logits

    def _forward(self, batch: MaskedBatch) -> np.ndarray:
        ids = as_tensor(batch.input_ids, self.device)
        mask = as_tensor(batch.attention_mask, self.device)
        return score_logits(self._logits(ids, mask), self.target_class, self.output)

    def _values(self, x: np.ndarray) -> np.ndarray:
        return run_length_sorted(
            lambda block: self._forward(self.masker(block)), x, self.players, self.batch_size
        )

    def cache_identity(self) -> dict:
        """What determines this game's values, for the cache of a :class:`~shapiq_spex.QueryEngine`.

        Returns:
            A JSON-serialisable dict: ``game``, ``value_semantics``, ``model`` (class, weights and
            config SHA-256, dtype), ``tokenizer`` (class, pipeline SHA-256), ``players``
            (granularity, region, spans, token ids), ``masking`` (strategy, mask and replacement
            ids), ``normalized``, ``text``, ``output`` and ``target_class``.
        """
        return text_game_identity(
            self, text=self.text, output=self.output, target_class=int(self.target_class)
        )

    def value_function(self, coalitions) -> np.ndarray:
        """Scores of the target class for a batch of coalitions.

        Args:
            coalitions: ``(m, n_players)`` bool (``True`` = player present).

        Returns:
            ``(m,)`` float64 scores, not centered (``__call__`` subtracts the normalization).
        """
        return self._values(check_coalitions(coalitions, self.n_players))
