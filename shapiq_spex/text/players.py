"""Players of a text: tokens, words or sentences, with character spans and token alignment.

A player is a contiguous piece of the original text, given by its character span
``(start, end)`` (``text[start:end]`` is the player's name). The text is tokenized once by a fast
Hugging Face tokenizer; its offset mapping assigns every token to exactly one player (or to none:
special tokens and tokens outside the explained region are never masked). Masking then works on
token ids (see :mod:`shapiq_spex.text.masking`), and results map back to the exact characters, also
with sub-word tokenizers (WordPiece ``##`` pieces, byte-level BPE ``Ġ`` pieces, SentencePiece).

Segmentation rules (regular expressions, no nltk):

* ``"token"``: every non-special token of the tokenizer is a player (span = its offsets).
* ``"word"``: runs of word characters, with inner apostrophes or hyphens (``don't``,
  ``co-writer``), and runs of other non-space characters (punctuation) as their own players;
  see :data:`WORD_PATTERN`.
* ``"sentence"``: text up to a run of ``.``, ``!``, ``?`` or ``…`` (plus closing quotes or
  brackets) followed by white space, or up to a blank line; surrounding white space is not part of
  the span. Abbreviations such as "Dr." end a sentence too (pass spans to segment differently).
* a sequence of ``(start, end)`` spans: custom players (sorted, non-overlapping, non-empty).

Alignment rules: a token belongs to the player whose span it overlaps. A token that overlaps no
player (white space only, e.g. a SentencePiece ``▁``) belongs to the next player (the last one
when none follows). If one token overlaps several players (a tokenizer merging a word with the
following punctuation), those players are merged into one, since they cannot be masked apart;
the merged player's span covers them all. A player whose characters the tokenizer drops entirely
(a zero-width character, say) owns no tokens and cannot change the model's input; it stays a player
with no effect. Players are numbered in text order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError

__all__ = [
    "SENTENCE_END_PATTERN",
    "WORD_PATTERN",
    "Granularity",
    "TextPlayers",
    "as_text_players",
    "check_fast_tokenizer",
    "sentence_spans",
    "word_spans",
]

Granularity = Literal["token", "word", "sentence"]
_GRANULARITIES = ("token", "word", "sentence")

#: A word (word characters joined by apostrophes or hyphens) or a run of punctuation.
WORD_PATTERN = re.compile(r"\w+(?:['\u2019\-]\w+)*|[^\w\s]+")

#: The end of a sentence: terminal punctuation (+ closing quotes/brackets) before white space,
#: or a blank line.
SENTENCE_END_PATTERN = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n[ \t\r\f\v]*\n")


def check_fast_tokenizer(tokenizer, *, name: str = "tokenizer") -> None:
    """Raise unless ``tokenizer`` is a fast (Rust) Hugging Face tokenizer with offset mappings."""
    if not callable(tokenizer) or not getattr(tokenizer, "is_fast", False):
        msg = (
            f"The '{name}' parameter must be a fast Hugging Face tokenizer (is_fast=True), which "
            "gives the character offsets that map players to tokens. Got "
            f"{type(tokenizer).__name__}; load it with AutoTokenizer.from_pretrained(name, "
            "use_fast=True)."
        )
        raise InvalidParameterError(msg)


def word_spans(text: str, start: int = 0, end: int | None = None) -> np.ndarray:
    """Character spans of the words (and punctuation runs) of ``text[start:end]``.

    Returns:
        ``(n_words, 2)`` int64 array of ``(start, end)`` offsets into ``text``.
    """
    end = len(text) if end is None else end
    spans = [(m.start(), m.end()) for m in WORD_PATTERN.finditer(text, start, end)]
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> np.ndarray:
    """Character spans of the sentences of ``text[start:end]`` (white space trimmed).

    Returns:
        ``(n_sentences, 2)`` int64 array of ``(start, end)`` offsets into ``text``.
    """
    end = len(text) if end is None else end
    cuts = [m.end() for m in SENTENCE_END_PATTERN.finditer(text, start, end)]
    spans = []
    prev = start
    for cut in [*cuts, end]:
        piece = text[prev:cut]
        stripped_left = len(piece) - len(piece.lstrip())
        stripped_right = len(piece) - len(piece.rstrip())
        s, e = prev + stripped_left, cut - stripped_right
        if e > s:
            spans.append((s, e))
        prev = cut
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def _check_spans(spans, text: str, region: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(spans)
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
        msg = (
            "The 'players' parameter, given as spans, must be a sequence of (start, end) int "
            f"pairs. Got an array of shape {arr.shape} and dtype {arr.dtype}."
        )
        raise InvalidParameterError(msg)
    arr = arr.astype(np.int64)
    bad = (arr[:, 0] < region[0]) | (arr[:, 1] > region[1]) | (arr[:, 1] <= arr[:, 0])
    if np.any(bad) or np.any(arr[1:, 0] < arr[:-1, 1]):
        msg = (
            "The 'players' spans must be non-empty, sorted, non-overlapping and inside the "
            f"explained region [{region[0]}, {region[1]}) of the text (length {len(text)})."
        )
        raise InvalidParameterError(msg)
    return arr


class TextPlayers:
    """The players of one text for one tokenizer, with their spans and token alignment.

    Attributes:
        text: the original text.
        granularity: ``"token"``, ``"word"``, ``"sentence"`` or ``"custom"``.
        region: ``(start, end)`` of the explained part of ``text``; players lie inside it.
        spans: ``(n_players, 2)`` int64 character spans; ``text[s:e]`` is a player's name.
        names: the ``n_players`` player strings.
        input_ids: ``(n_tokens,)`` int64 token ids of the whole text (special tokens included).
        offsets: ``(n_tokens, 2)`` int64 character offsets of the tokens.
        special_tokens_mask: ``(n_tokens,)`` bool, ``True`` for special tokens.
        token_player: ``(n_tokens,)`` int64, the player of each token or ``-1`` (never masked).
        tokens: the ``n_tokens`` token strings.
        tokenizer: the fast tokenizer used.

    Example:
        >>> players = TextPlayers("I don't like it.", tokenizer, "word")  # doctest: +SKIP
        >>> players.names  # doctest: +SKIP
        ['I', "don't", 'like', 'it', '.']
    """

    def __init__(
        self,
        text: str,
        tokenizer,
        granularity: Granularity | Sequence[tuple[int, int]] = "word",
        *,
        region: tuple[int, int] | None = None,
        add_special_tokens: bool = True,
    ) -> None:
        """Segment ``text`` into players and align them with the tokens of ``tokenizer``.

        Args:
            text: the text to explain (a non-empty string).
            tokenizer: a fast Hugging Face tokenizer (offset mappings are needed).
            granularity: ``"token"``, ``"word"``, ``"sentence"`` or a sequence of
                ``(start, end)`` character spans (custom players).
            region: ``(start, end)``: only this part of ``text`` holds players (e.g. the context
                inside a prompt template); the rest is kept in every coalition. Default: all.
            add_special_tokens: whether the tokenizer adds its special tokens (``[CLS]``...).
                Use ``False`` for text that already contains them (a rendered chat template).

        Raises:
            InvalidParameterError: an empty text, a slow tokenizer, an unknown granularity, bad
                spans or region, or a region without any player.
        """
        if not isinstance(text, str) or not text.strip():
            msg = f"The 'text' parameter must be a non-empty string. Got {text!r:.80}."
            raise InvalidParameterError(msg)
        check_fast_tokenizer(tokenizer)
        if region is None:
            region = (0, len(text))
        region = (int(region[0]), int(region[1]))
        if not 0 <= region[0] < region[1] <= len(text):
            msg = (
                f"The 'region' parameter must satisfy 0 <= start < end <= len(text) = {len(text)}. "
                f"Got {region}."
            )
            raise InvalidParameterError(msg)
        self.text = text
        self.region = region
        self.tokenizer = tokenizer

        enc = tokenizer(
            text,
            add_special_tokens=add_special_tokens,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            truncation=False,
        )
        self.input_ids = np.asarray(enc["input_ids"], dtype=np.int64)
        self.offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
        special = np.asarray(enc["special_tokens_mask"], dtype=bool)
        # special tokens written in the text (e.g. a rendered chat template) count as special;
        # the unknown token stands for real text and does not
        specials = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
        special |= np.isin(self.input_ids, np.asarray(sorted(specials), dtype=np.int64))
        self.special_tokens_mask = special
        self.tokens = tokenizer.convert_ids_to_tokens(self.input_ids.tolist())

        tok_s, tok_e = self.offsets[:, 0], self.offsets[:, 1]
        in_region = ~special & (tok_s < region[1]) & (tok_e > region[0])
        # zero-length non-special tokens inside the region (rare) belong to the region too
        in_region |= ~special & (tok_s == tok_e) & (tok_s >= region[0]) & (tok_s < region[1])

        if isinstance(granularity, str):
            if granularity not in _GRANULARITIES:
                msg = (
                    f"The 'players' (granularity) parameter must be one of {_GRANULARITIES} or a "
                    f"sequence of (start, end) spans. Got {granularity!r}."
                )
                raise InvalidParameterError(msg)
            self.granularity = granularity
            if granularity == "token":
                spans = self.offsets[in_region]
            elif granularity == "word":
                spans = word_spans(text, *region)
            else:
                spans = sentence_spans(text, *region)
        else:
            self.granularity = "custom"
            spans = _check_spans(granularity, text, region)

        if spans.shape[0] == 0 or not np.any(in_region):
            msg = (
                f"The text region {region} has no players at granularity {self.granularity!r} "
                "(or no tokens); explain a text with words in it."
            )
            raise InvalidParameterError(msg)

        if self.granularity == "token":
            token_player = np.full(self.input_ids.shape[0], -1, dtype=np.int64)
            token_player[in_region] = np.arange(int(in_region.sum()))
        else:
            spans, token_player = _align(spans, self.offsets, in_region)
        self.spans = spans
        self.token_player = token_player
        self.names = [text[s:e] for s, e in spans.tolist()]

    # ------------------------------------------------------------------ views
    @property
    def n_players(self) -> int:
        """Number of players."""
        return int(self.spans.shape[0])

    @property
    def n_tokens(self) -> int:
        """Number of tokens of the whole text (special tokens included)."""
        return int(self.input_ids.shape[0])

    def __len__(self) -> int:
        return self.n_players

    def __repr__(self) -> str:
        return (
            f"TextPlayers(n_players={self.n_players}, granularity={self.granularity!r}, "
            f"n_tokens={self.n_tokens})"
        )

    def player_tokens(self, player: int) -> np.ndarray:
        """Indices (into ``input_ids``) of the tokens of ``player``, ascending."""
        if not 0 <= player < self.n_players:
            msg = f"The 'player' parameter must be in [0, {self.n_players}). Got {player}."
            raise InvalidParameterError(msg)
        return np.flatnonzero(self.token_player == player)

    def token_mask(self, coalitions) -> np.ndarray:
        """Which tokens each coalition keeps.

        Args:
            coalitions: ``(b, n_players)`` bool (``True`` = player kept).

        Returns:
            ``(b, n_tokens)`` bool; special and non-player tokens are always kept.
        """
        from shapiq_spex.spectra.spectrum import check_coalitions

        x = check_coalitions(coalitions, self.n_players)
        keep = np.ones((x.shape[0], self.n_tokens), dtype=bool)
        owned = self.token_player >= 0
        keep[:, owned] = x[:, self.token_player[owned]]
        return keep


def _align(spans: np.ndarray, offsets: np.ndarray, in_region: np.ndarray):
    """Assign region tokens to players by overlap; merge players that share a token.

    Args:
        spans: ``(n, 2)`` sorted, non-overlapping player spans.
        offsets: ``(L, 2)`` token offsets.
        in_region: ``(L,)`` bool, tokens that belong to some player.

    Returns:
        ``(spans, token_player)``: merged ``(n', 2)`` spans and ``(L,)`` int64 player per token
        (``-1`` outside the region).
    """
    n = spans.shape[0]
    starts, ends = spans[:, 0], spans[:, 1]
    idx = np.flatnonzero(in_region)
    tok_s, tok_e = offsets[idx, 0], offsets[idx, 1]
    first = np.searchsorted(ends, tok_s, side="right")  # first player ending after token start
    last = np.searchsorted(starts, tok_e, side="left") - 1  # last player starting before its end
    overlaps = (first < n) & (first <= last) & (tok_e > tok_s)
    # players first..last share a token: merge the boundaries between them
    merge = np.zeros(n, dtype=np.int64)  # merge[j] = 1 joins player j to player j - 1
    multi = overlaps & (last > first)
    if np.any(multi):
        delta = np.zeros(n + 1, dtype=np.int64)
        np.add.at(delta, first[multi] + 1, 1)
        np.add.at(delta, last[multi] + 1, -1)
        merge = (np.cumsum(delta)[:n] > 0).astype(np.int64)
    group = np.cumsum(1 - merge) - 1  # new player id of each old player
    n_new = int(group[-1]) + 1
    new_starts = np.full(n_new, np.iinfo(np.int64).max, dtype=np.int64)
    new_ends = np.zeros(n_new, dtype=np.int64)
    np.minimum.at(new_starts, group, starts)
    np.maximum.at(new_ends, group, ends)
    # a token without overlap goes to the next player (the last one if none follows)
    owner = np.where(overlaps, first, np.minimum(first, n - 1))
    token_player = np.full(offsets.shape[0], -1, dtype=np.int64)
    token_player[idx] = group[owner]
    return np.stack([new_starts, new_ends], axis=1), token_player


def as_text_players(
    players, text: str, tokenizer, *, region: tuple[int, int] | None = None, **kwargs
) -> TextPlayers:
    """Build :class:`TextPlayers` from a granularity or spans, or check a given instance.

    Args:
        players: ``"token"``, ``"word"``, ``"sentence"``, a sequence of ``(start, end)`` spans, or
            a :class:`TextPlayers` built for the same text and tokenizer.
        text: the text the players must cover.
        tokenizer: the tokenizer the players must use.
        region: the explained region of ``text`` (see :class:`TextPlayers`).
        **kwargs: passed on to :class:`TextPlayers`.

    Raises:
        InvalidParameterError: a :class:`TextPlayers` for another text, region or tokenizer.
    """
    if isinstance(players, TextPlayers):
        expected_region = region if region is not None else (0, len(text))
        if (
            players.text != text
            or players.tokenizer is not tokenizer
            or players.region != tuple(expected_region)
        ):
            msg = (
                "The 'players' parameter is a TextPlayers built for another text, region or "
                "tokenizer; pass a granularity ('token', 'word', 'sentence') or spans instead."
            )
            raise InvalidParameterError(msg)
        return players
    return TextPlayers(text, tokenizer, players, region=region, **kwargs)
