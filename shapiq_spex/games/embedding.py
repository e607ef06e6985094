"""Embedding similarity game: which words keep a text's meaning?

``v(S)`` is the cosine similarity between the embedding of the text with only the players in
``S`` present (the others masked) and a reference embedding: by default the embedding of the full
text (so ``v(N) = 1``), or of another text (e.g. a query, for retrieval attributions).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from shapiq import Game

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games._identity import text_game_identity
from shapiq_spex.games._torch import (
    as_float64,
    as_tensor,
    check_batch_size,
    check_choice,
    import_torch,
    load_model_and_tokenizer,
    mean_pool,
    model_device,
    run_length_sorted,
)
from shapiq_spex.games.text_classification import check_input_length
from shapiq_spex.spectra.spectrum import check_coalitions
from shapiq_spex.text.masking import MaskedBatch, MaskStrategy, TextMasker
from shapiq_spex.text.players import as_text_players

__all__ = ["EmbeddingSimilarityGame"]

Pooling = Literal["mean", "cls", "last"]
_POOLINGS = ("mean", "cls", "last")


class EmbeddingSimilarityGame(Game):
    """Cosine similarity of a masked text's embedding to a reference embedding.

    Attributes:
        players: the :class:`~shapiq_spex.text.TextPlayers`.
        masker: the :class:`~shapiq_spex.text.TextMasker`.
        pooling: ``"mean"`` (over real tokens, special tokens included, as
            sentence-transformers does), ``"cls"`` (first token) or ``"last"`` (last real
            token, for decoder models).
        reference: the reference text (``None``: the full text).
        reference_embedding: ``(d,)`` float64 unit-norm reference embedding.
        original_model_output: the similarity of the full text (1 without a reference text).
        empty_value: the similarity of the fully masked text.
    """

    def __init__(
        self,
        text: str,
        model,
        tokenizer=None,
        *,
        reference: str | None = None,
        pooling: Pooling = "mean",
        players="word",
        mask_strategy: MaskStrategy = "mask_token",
        batch_size: int = 32,
        device=None,
        dtype=None,
        normalize: bool = False,
        verbose: bool = False,
    ) -> None:
        """Embed the reference and evaluate the full and the fully masked text.

        Args:
            text: the text to explain.
            model: an encoder whose output has ``last_hidden_state``: ``"minilm"`` (offline
                all-MiniLM-L6-v2), a Hugging Face name or folder (loaded with ``AutoModel``), or a
                loaded module.
            tokenizer: its fast tokenizer (or a name); ``None`` with a model name.
            reference: the reference text; ``None`` = the full text.
            pooling: ``"mean"`` (default), ``"cls"`` or ``"last"``.
            players: ``"word"`` (default), ``"token"``, ``"sentence"``, spans or a TextPlayers.
            mask_strategy: ``"mask_token"`` (default), ``"remove"`` or a replacement string.
            batch_size: masked texts per forward pass.
            device: device for a model loaded by name, or to move a given model to.
            dtype: floating dtype to run the model in; default unchanged.
            normalize: center the game on the empty coalition.
            verbose: shapiq's one-by-one progress bar (slow; leave ``False``).
        """
        self.pooling = check_choice(pooling, _POOLINGS, name="pooling")
        self.batch_size = check_batch_size(batch_size)
        self.model, self.tokenizer = load_model_and_tokenizer(
            model, tokenizer, task="encoder", device=device, dtype=dtype
        )
        self.device = model_device(self.model)
        self.text = text
        self.players = as_text_players(players, text, self.tokenizer)
        self.masker = TextMasker(self.players, mask_strategy)
        self.mask_strategy = mask_strategy
        check_input_length(self.players, self.masker, self.model)
        if reference is not None and (not isinstance(reference, str) or not reference.strip()):
            msg = (
                f"The 'reference' parameter must be None or a non-empty string. Got {reference!r}."
            )
            raise InvalidParameterError(msg)
        self.reference = reference

        torch = import_torch()
        with torch.inference_mode():
            full = self._embed_ids(self.players.input_ids)
            if reference is None:
                ref = full
            else:
                ref_ids = self.tokenizer(reference, truncation=False)["input_ids"]
                ref = self._embed_ids(np.asarray(ref_ids, dtype=np.int64))
        self.reference_embedding = as_float64(ref).cpu().numpy()
        self._reference = as_float64(ref)
        self.original_model_output = float(self._similarity(full[None, :])[0])
        n = self.players.n_players
        self.empty_value = float(self.value_function(np.zeros((1, n), dtype=bool))[0])
        super().__init__(
            n,
            normalize=normalize,
            normalization_value=self.empty_value if normalize else None,
            verbose=verbose,
        )

    def _embed_ids(self, ids: np.ndarray):
        batch = MaskedBatch(
            ids[None, :], np.ones((1, ids.size), np.int64), np.array([ids.size]), "right"
        )
        return self._embed(batch)[0]

    def _embed(self, batch: MaskedBatch):
        """``(b, d)`` unit-norm pooled embeddings (float32 or the model's dtype)."""
        torch = import_torch()
        ids = as_tensor(batch.input_ids, self.device)
        mask = as_tensor(batch.attention_mask, self.device)
        out = self.model(input_ids=ids, attention_mask=mask)
        hidden = getattr(out, "last_hidden_state", None)
        if hidden is None:
            msg = (
                "The encoder must return an output with `last_hidden_state` (b, T, d); load it "
                "with AutoModel (not a task head)."
            )
            raise InvalidParameterError(msg)
        if self.pooling == "mean":
            pooled = mean_pool(hidden, mask)
        elif self.pooling == "cls":
            pooled = hidden[:, 0]
        else:  # right padding: the last real token sits at length - 1
            last = as_tensor(batch.lengths - 1, self.device)
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return torch.nn.functional.normalize(as_float64(pooled), dim=-1)

    def _similarity(self, emb) -> np.ndarray:
        return (as_float64(emb) @ self._reference).cpu().numpy()

    def cache_identity(self) -> dict:
        """What determines this game's values, for the cache of a :class:`~shapiq_spex.QueryEngine`.

        Returns:
            A JSON-serialisable dict: the fields of every text game (``game``,
            ``value_semantics``, ``model``, ``tokenizer``, ``players``, ``masking``,
            ``normalized``) plus ``text``, ``pooling`` and ``reference`` (the reference text, or
            ``None`` for the full text).
        """
        return text_game_identity(
            self, text=self.text, pooling=self.pooling, reference=self.reference
        )

    def value_function(self, coalitions) -> np.ndarray:
        """Cosine similarities to the reference for a batch of coalitions.

        Args:
            coalitions: ``(m, n_players)`` bool (``True`` = player present).

        Returns:
            ``(m,)`` float64 similarities, not centered.
        """
        x = check_coalitions(coalitions, self.players.n_players)
        return run_length_sorted(
            lambda block: self._similarity(self._embed(self.masker(block))),
            x,
            self.players,
            self.batch_size,
        )
