"""Masking strategies: how a coalition of text players becomes a batch of model inputs.

The strategy decides what "a player is absent" means, and so what the explanation explains:

* ``"remove"``: the player's tokens are dropped; the model sees a shorter text. This is what
  ContextCite and most RAG attributions do; for a classifier it changes the length and the
  positions of the remaining tokens.
* ``"mask_token"``: every token of the player is replaced by the tokenizer's mask token
  (``[MASK]``), or by its unknown token when it has no mask token (an error when it has neither).
  The length and positions stay the same; this is the shap / shapiq-sentiment convention for
  masked-language-model encoders.
* any other string: a replacement text; each absent player is replaced by the tokens of that
  string (one copy per absent player, tokenized once without special tokens). For byte-level BPE
  tokenizers include the leading space you want, e.g. ``" ..."``.

Inputs are built on token ids with numpy (one tokenization of the text, no re-tokenization per
coalition): keep-masks of shape ``(b, n_tokens)`` select or replace tokens, and rows are packed to
the left or right with a stable sort. Dropping a word's tokens gives the same ids as dropping its
text for word-level and WordPiece tokenizers; for BPE tokenizers it is the token-level analogue
(BPE merges across the removed text are not redone).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra.spectrum import check_coalitions
from shapiq_spex.text.players import TextPlayers

__all__ = ["MaskStrategy", "MaskedBatch", "TextMasker", "mask_token_id", "pack_tokens"]

MaskStrategy = Literal["remove", "mask_token"] | str
PaddingSide = Literal["left", "right"]


def mask_token_id(tokenizer) -> int:
    """The id of the tokenizer's mask token, else of its unknown token.

    Raises:
        InvalidParameterError: the tokenizer has neither a mask nor an unknown token.
    """
    for attr in ("mask_token_id", "unk_token_id"):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            return int(value)
    msg = (
        "The 'mask_strategy' parameter is 'mask_token' but the tokenizer has neither a mask token "
        "nor an unknown token; use mask_strategy='remove' or a replacement string such as ' ...'."
    )
    raise InvalidParameterError(msg)


@dataclass(frozen=True)
class MaskedBatch:
    """A padded batch of masked inputs.

    Attributes:
        input_ids: ``(b, T)`` int64 token ids; padding holds ``pad_token_id``.
        attention_mask: ``(b, T)`` int64, 1 for real tokens and 0 for padding.
        lengths: ``(b,)`` int64 number of real tokens per row.
        padding_side: ``"left"`` or ``"right"``.
    """

    input_ids: np.ndarray
    attention_mask: np.ndarray
    lengths: np.ndarray
    padding_side: PaddingSide

    def position_ids(self) -> np.ndarray:
        """``(b, T)`` int64 positions of the real tokens (0, 1, ...), 0 on padding."""
        return np.maximum(np.cumsum(self.attention_mask, axis=1) - 1, 0)


#: The strategy names; any other string is a replacement text.
STRATEGY_NAMES = ("remove", "mask_token")


def _warn_if_near_miss(strategy: str) -> None:
    """Warn when a replacement string looks like a misspelt strategy name ("remov", "Mask_Token").

    Any other string is a replacement on purpose, so it is used as given; the warning only says
    what was meant to be asked for.
    """
    import difflib

    key = strategy.strip().lower().replace("-", "_")
    meant = difflib.get_close_matches(key, STRATEGY_NAMES, n=1, cutoff=0.8)
    if meant:
        warnings.warn(
            f"The 'mask_strategy' {strategy!r} is used as a replacement string (each absent player "
            f"becomes {strategy!r}); if you meant {meant[0]!r}, pass exactly that.",
            UserWarning,
            stacklevel=3,
        )


class TextMasker:
    """Builds model inputs for coalitions of :class:`TextPlayers` under one masking strategy.

    Attributes:
        players: the text players.
        strategy: ``"remove"``, ``"mask_token"`` or a replacement string.
        pad_token_id: the id written on padding positions.
    """

    def __init__(
        self,
        players: TextPlayers,
        strategy: MaskStrategy = "mask_token",
        *,
        pad_token_id: int | None = None,
    ) -> None:
        """Bind a masking strategy to text players.

        Args:
            players: the players (and their tokenization).
            strategy: ``"remove"``, ``"mask_token"`` or a non-empty replacement string.
            pad_token_id: padding id; default the tokenizer's pad, else eos, else 0 token id
                (padding is masked out by the attention mask, so its id does not matter).

        Raises:
            InvalidParameterError: an empty or non-string strategy, a replacement string that
                tokenizes to nothing, or ``"mask_token"`` with a tokenizer that has neither mask
                nor unknown token.
        """
        if not isinstance(players, TextPlayers):
            msg = f"The 'players' parameter must be a TextPlayers. Got {type(players).__name__}."
            raise InvalidParameterError(msg)
        if not isinstance(strategy, str) or strategy == "":
            msg = (
                "The 'mask_strategy' parameter must be 'remove', 'mask_token' or a non-empty "
                f"replacement string. Got {strategy!r}."
            )
            raise InvalidParameterError(msg)
        tok = players.tokenizer
        self.players = players
        self.strategy = strategy
        if pad_token_id is None:
            pad_token_id = next(
                (v for v in (tok.pad_token_id, tok.eos_token_id) if v is not None), 0
            )
        self.pad_token_id = int(pad_token_id)

        owner = players.token_player
        self._mask_id: int | None = None
        self.replacement_ids: np.ndarray | None = None
        if strategy == "mask_token":
            self._mask_id = mask_token_id(tok)
            self._template_ids = players.input_ids
            self._template_owner = owner
            self._template_is_replacement = np.zeros(owner.shape[0], dtype=bool)
        elif strategy == "remove":
            self._template_ids = players.input_ids
            self._template_owner = owner
            self._template_is_replacement = np.zeros(owner.shape[0], dtype=bool)
        else:
            _warn_if_near_miss(strategy)
            repl = np.asarray(
                tok(strategy, add_special_tokens=False)["input_ids"], dtype=np.int64
            ).reshape(-1)
            if repl.size == 0:
                msg = (
                    f"The replacement string {strategy!r} of 'mask_strategy' tokenizes to no "
                    "tokens; use another string or mask_strategy='remove'."
                )
                raise InvalidParameterError(msg)
            self.replacement_ids = repl
            self._build_replacement_template(repl)

    def _build_replacement_template(self, repl: np.ndarray) -> None:
        """Insert the replacement tokens before the first token of every player."""
        owner = self.players.token_player
        is_first = owner >= 0
        is_first[1:] &= owner[1:] != owner[:-1]
        r = repl.shape[0]
        # each token occupies 1 slot, plus r slots in front of a player's first token
        width = 1 + r * is_first.astype(np.int64)
        slot_start = np.cumsum(width) - width
        total = int(width.sum())
        ids = np.empty(total, dtype=np.int64)
        own = np.empty(total, dtype=np.int64)
        is_repl = np.zeros(total, dtype=bool)
        tok_slot = slot_start + (width - 1)  # the original token goes last in its group
        ids[tok_slot] = self.players.input_ids
        own[tok_slot] = owner
        firsts = np.flatnonzero(is_first)
        rep_slots = (slot_start[firsts][:, None] + np.arange(r)[None, :]).reshape(-1)
        ids[rep_slots] = np.tile(repl, firsts.size)
        own[rep_slots] = np.repeat(owner[firsts], r)
        is_repl[rep_slots] = True
        self._template_ids, self._template_owner, self._template_is_replacement = ids, own, is_repl

    # ------------------------------------------------------------------ construction
    def min_length(self) -> int:
        """Number of tokens of the fully masked input (the empty coalition)."""
        return int(self(np.zeros((1, self.players.n_players), dtype=bool)).lengths[0])

    def __call__(
        self,
        coalitions,
        *,
        padding_side: PaddingSide = "right",
        suffix_ids: np.ndarray | None = None,
    ) -> MaskedBatch:
        """Masked inputs for a batch of coalitions.

        Args:
            coalitions: ``(b, n_players)`` bool (``True`` = player kept), or one ``(n_players,)``
                coalition.
            padding_side: ``"right"`` (encoders) or ``"left"`` (causal LMs scored at the end).
            suffix_ids: ``(a,)`` token ids appended to every row before padding (e.g. a
                teacher-forced answer).

        Returns:
            The padded :class:`MaskedBatch` of ``b`` rows.
        """
        if padding_side not in ("left", "right"):
            msg = f"The 'padding_side' parameter must be 'left' or 'right'. Got {padding_side!r}."
            raise InvalidParameterError(msg)
        x = check_coalitions(coalitions, self.players.n_players)
        b = x.shape[0]
        owner = self._template_owner
        owned = owner >= 0
        present = np.ones((b, owner.shape[0]), dtype=bool)
        present[:, owned] = x[:, owner[owned]]
        if self.strategy == "mask_token":
            ids = np.where(present, self._template_ids[None, :], self._mask_id)
            keep = np.ones_like(present)
        else:
            ids = np.broadcast_to(self._template_ids, present.shape)
            keep = np.where(self._template_is_replacement[None, :], ~present, present)
        if suffix_ids is not None:
            suffix = np.asarray(suffix_ids, dtype=np.int64).reshape(-1)
            ids = np.concatenate([ids, np.broadcast_to(suffix, (b, suffix.size))], axis=1)
            keep = np.concatenate([keep, np.ones((b, suffix.size), dtype=bool)], axis=1)
        return pack_tokens(ids, keep, self.pad_token_id, padding_side)

    def texts(self, coalitions) -> list[str]:
        """The masked inputs decoded back to strings (for inspection; special tokens kept)."""
        batch = self(coalitions)
        tok = self.players.tokenizer
        return [
            tok.decode(row[: int(n)].tolist(), skip_special_tokens=False)
            for row, n in zip(batch.input_ids, batch.lengths, strict=True)
        ]


def pack_tokens(ids: np.ndarray, keep: np.ndarray, pad_id: int, side: PaddingSide) -> MaskedBatch:
    """Move the kept tokens of each row together (order preserved) and pad the rest.

    Returns:
        The packed :class:`MaskedBatch` (width = the longest row).

    Args:
        ids: ``(b, L)`` token ids.
        keep: ``(b, L)`` bool, tokens to keep.
        pad_id: the padding id.
        side: ``"right"`` or ``"left"`` padding.
    """
    b, _ = ids.shape
    lengths = keep.sum(axis=1).astype(np.int64)
    width = int(lengths.max()) if b else 0
    if np.all(keep):
        packed = np.ascontiguousarray(ids, dtype=np.int64)
        attn = np.ones_like(packed)
        return MaskedBatch(packed, attn, lengths, side)
    order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
    packed = np.take_along_axis(ids, order, axis=1)
    cols = np.arange(width)[None, :]
    if side == "right":
        real = cols < lengths[:, None]
        packed = np.where(real, packed, pad_id)
    else:
        src = cols - (width - lengths)[:, None]
        real = src >= 0
        packed = np.where(real, np.take_along_axis(packed, np.maximum(src, 0), axis=1), pad_id)
    return MaskedBatch(packed.astype(np.int64), real.astype(np.int64), lengths, side)
