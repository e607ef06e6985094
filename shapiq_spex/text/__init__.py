"""Text players (token, word, sentence) with character spans, and masking strategies."""

from __future__ import annotations

from shapiq_spex.text.masking import MaskedBatch, MaskStrategy, TextMasker, mask_token_id
from shapiq_spex.text.players import (
    Granularity,
    TextPlayers,
    sentence_spans,
    word_spans,
)

__all__ = [
    "Granularity",
    "MaskStrategy",
    "MaskedBatch",
    "TextMasker",
    "TextPlayers",
    "mask_token_id",
    "sentence_spans",
    "word_spans",
]
