"""Players of a text: tokens, words or sentences, with character spans and token alignment.

A player is a contiguous piece of the original text, given by its character span
``(start, end)`` (``text[start:end]`` is the player's name). The text is tokenized once by a fast
Hugging Face tokenizer; its offset mapping assigns every token to exactly one player (or to none:
special tokens and tokens outside the explained region are never masked). Masking then works on
token ids (see :mod:`shapiq_spex.text.masking`), and results map back to the exact characters, also
with sub-word tokenizers (WordPiece ``##`` pieces, byte-level BPE ``Ġ`` pieces, SentencePiece).

The text is never normalized: spans index the string as given (NFC or NFD alike).

Segmentation rules (regular expressions, no nltk):

* ``"token"``: every non-special token of the tokenizer with a visible character is a player
  (span = its offsets). Tokens that overlap (byte-level pieces of one character) are one player;
  a token of only white space or invisible characters belongs to the next player, one of only
  combining marks to the previous one, and a player's span reaches over the combining marks
  that follow it (a tokenizer that strips accents still shows ``café``, not ``cafe``).
* ``"word"``: runs of word characters and combining marks, with inner apostrophes, hyphens and
  joiners (``don't``, ``co-writer``, ``café`` in NFD, Devanagari with its vowel signs, a Persian
  word with a zero-width non-joiner), and runs of other visible characters (punctuation, emoji
  sequences with their joiners and modifiers) as their own players; see :data:`WORD_PATTERN`.
  Each Chinese or Japanese ideograph (Han character) is a word of its own, as in BERT's
  tokenizers: there are no spaces to find words by, and one character is the smallest unit that
  reads as a word. Scripts written without spaces between words whose characters are letters
  (Thai, Lao, Khmer, Myanmar, Japanese kana) give runs between spaces, often whole phrases: a
  :class:`UserWarning` suggests ``"token"`` players or spans from a word segmenter.
* ``"sentence"``: text up to a run of ``.``, ``!``, ``?`` or ``…`` (plus closing quotes or
  brackets) followed by white space, or up to a blank line; surrounding white space is not part of
  the span. A full stop after a title or an initial ("Dr. Smith", "J. Smith") and terminal
  punctuation before a lower-case word ("the U.S. last year", '"Yes!" he said') do not end a
  sentence; an ellipsis does (pass spans to segment differently).
* a sequence of ``(start, end)`` spans: custom players (sorted, non-overlapping, non-empty).

Unicode rules: a combining mark (categories Mn, Mc, Me) belongs to the character before it and
never is a player of its own. Invisible characters (format characters, category Cf, such as
zero-width spaces, left-to-right and right-to-left marks, bidirectional controls and the byte
order mark; and the Hangul fillers) separate words like white space and are never players;
only the zero-width joiner and non-joiner, the word joiner, the soft hyphen and emoji tag
characters join the characters on both sides into one word (or one emoji).

Alignment rules: a token belongs to the player whose span it overlaps. A token that overlaps no
player (white space or invisible characters only, e.g. a SentencePiece ``▁``) belongs to the next
player (the last one when none follows). If one token overlaps several players (a tokenizer
merging a word with the following punctuation), those players are merged into one, since they
cannot be masked apart; the merged player's span covers them all. A player whose characters the
tokenizer drops entirely owns no tokens and cannot change the model's input; it stays a player
with no effect. Players are numbered in text order.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
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
    "unspaced_scripts",
    "visible_pieces",
    "word_spans",
]

Granularity = Literal["token", "word", "sentence"]
_GRANULARITIES = ("token", "word", "sentence")


def _ranges(codepoints: Sequence[int]) -> str:
    r"""A regex character-class body (``\Uxxxxxxxx-\Uyyyyyyyy...``) of sorted code points."""
    parts = []
    start = prev = None
    for cp in [*codepoints, None]:
        if cp is not None and prev is not None and cp == prev + 1:
            prev = cp
            continue
        if start is not None:
            parts.append(f"\\U{start:08x}" + (f"-\\U{prev:08x}" if prev > start else ""))
        start = prev = cp
    return "".join(parts)


def _scan_categories() -> tuple[list[int], list[int]]:
    r"""Code points of the combining marks (Mn, Mc, Me) and of the format characters (Cf).

    Planes 0, 1 and 14 hold every mark and format character (planes 2 and 3 are ideographs only),
    so the scan takes milliseconds. Python's own Unicode database is used, as by ``re``'s ``\w``.
    """
    marks, formats = [], []
    for cp in [*range(0x20000), *range(0xE0000, 0xE1000)]:
        cat = unicodedata.category(chr(cp))
        if cat[0] == "M":
            marks.append(cp)
        elif cat == "Cf":
            formats.append(cp)
    return marks, formats


_MARKS, _FORMATS = _scan_categories()
#: Format characters that join their neighbours into one word or emoji: soft hyphen, zero-width
#: non-joiner and joiner, word joiner, and the emoji tag characters (subdivision flags).
_JOINERS = frozenset([0x00AD, 0x200C, 0x200D, 0x2060, *range(0xE0020, 0xE0080)])
#: Hangul fillers: letters to Python's ``\w`` but invisible by design.
_FILLERS = (0x115F, 0x1160, 0x3164, 0xFFA0)
#: Han ideographs (CJK unified and compatibility ideographs, radicals, extensions B-H) and the
#: ideographic iteration marks; each ideograph is a word player of its own.
_HAN = _ranges(
    [
        *range(0x2E80, 0x2FE0),
        0x3007,
        *range(0x3021, 0x302A),
        *range(0x3038, 0x303B),
        *range(0x3400, 0x4DC0),
        *range(0x4E00, 0xA000),
        *range(0xF900, 0xFB00),
        *range(0x20000, 0x323B0),
    ]
)
_ITERATION = "\u3005\u303b"  # 々 〻 repeat the ideograph before them
_MARK = _ranges(_MARKS)
_JOIN = _ranges(sorted(_JOINERS))
_INVISIBLE = _ranges(sorted({*_FORMATS, *_FILLERS} - _JOINERS))
_HIDDEN = _ranges(sorted({*_FORMATS, *_FILLERS}))  # invisible or joining: never visible alone
_WORD_CHAR = f"[^\\W{_HAN}{_HIDDEN}]"

#: A word: word characters with their combining marks, joined by inner apostrophes, hyphens or
#: joiners; a Han ideograph (with its marks and iteration marks); or a run of other visible
#: characters (punctuation, symbols, emoji) with their marks and joiners. Invisible characters
#: end a word, as white space does.
WORD_PATTERN = re.compile(
    f"{_WORD_CHAR}(?:{_WORD_CHAR}|[{_MARK}]|(?:[{_JOIN}]+|['\u2019\\-])(?={_WORD_CHAR}))*"
    f"|[{_HAN}](?:[{_MARK}{_ITERATION}])*"
    f"|[^\\w\\s{_MARK}{_HIDDEN}](?:[^\\w\\s{_INVISIBLE}])*"
)
#: A visible character: not white space, not a combining mark, not invisible.
_VISIBLE = re.compile(f"[^\\s{_MARK}{_HIDDEN}]")
_MARK_SET = frozenset(map(chr, _MARKS))
#: Letters of scripts written without spaces between words (their "words" are phrases).
_UNSPACED_SCRIPTS = {
    "Thai": (0x0E01, 0x0E5B),
    "Lao": (0x0E81, 0x0EDF),
    "Myanmar": (0x1000, 0x109F),
    "Khmer": (0x1780, 0x17F9),
    "Japanese kana": (0x3041, 0x30FF),
}
_UNSPACED = re.compile("|".join(f"[\\U{a:08x}-\\U{b:08x}]" for a, b in _UNSPACED_SCRIPTS.values()))

#: The end of a sentence: terminal punctuation (+ closing quotes/brackets) before white space
#: (invisible characters may come between), or a blank line.
SENTENCE_END_PATTERN = re.compile(
    f"[.!?\u2026]+[\"'\u201d\u2019)\\]]*(?=[{_INVISIBLE}]*(?:\\s|$))|\n[ \t\r\f\v]*\n"
)
#: Titles and abbreviations whose full stop does not end a sentence ("Dr. Smith").
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt rev gen col capt lt sgt vs cf e.g i.e approx ca".split()  # noqa: SIM905
)
#: Characters before a full stop searched for the word it ends.
_WORD_WINDOW = 24
#: The word right before a full stop (letters and inner full stops: "e.g", "U.S").
_WORD_BEFORE = re.compile(r"(?:^|(?<=[\s(\"'\u201c\u2018]))([^\W\d_](?:[^\W\d_]|\.)*)\Z")


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

    See the module docstring for the rules (combining marks, invisible characters, Han).

    Returns:
        ``(n_words, 2)`` int64 array of ``(start, end)`` offsets into ``text``.
    """
    end = len(text) if end is None else end
    spans = [(m.start(), m.end()) for m in WORD_PATTERN.finditer(text, start, end)]
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def _visible_bounds(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``text[start:end]`` without white space and invisible characters at its ends.

    Combining marks after the last visible character stay (they belong to it); ``None`` when the
    piece has no visible character.
    """
    first = _VISIBLE.search(text, start, end)
    if first is None:
        return None
    last = end - 1
    while not _VISIBLE.match(text, last, end):
        last -= 1
    stop = last + 1
    while stop < end and text[stop] in _MARK_SET:
        stop += 1
    return first.start(), stop


def _continues(text: str, match: re.Match, end: int) -> bool:
    """Whether the sentence goes on after a terminal-punctuation ``match`` (no cut there).

    It does after a title or an initial ("Dr. Smith", "J. Smith"), and when the next visible
    character is a lower-case letter ("in the U.S. last year", '"Yes!" he said'); "in the U.S.
    The" ends one (the capital may start a sentence).
    an ellipsis ("Yes… done", "green.. in") and a blank line always end a sentence.
    """
    mark = match.group()
    if "\n" in mark or "\u2026" in mark or ".." in mark:
        return False
    nxt = _VISIBLE.search(text, match.end(), end)
    if nxt is not None and text[nxt.start()].islower():
        return True
    if not mark.startswith("."):
        return False
    # a window, not the whole text before it: no abbreviation is longer (linear in the text)
    word = _WORD_BEFORE.search(text, max(0, match.start() - _WORD_WINDOW), match.start())
    if word is None:
        return False
    token = word.group(1)
    return token.lower() in _ABBREVIATIONS or (len(token) == 1 and token.isupper())


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> np.ndarray:
    """Character spans of the sentences of ``text[start:end]`` (white space trimmed).

    Invisible characters at a sentence's ends are trimmed like white space, and a piece without
    any visible character is no sentence. A full stop after a title or an initial, and terminal
    punctuation followed by a lower-case word, do not end a sentence (:func:`_continues`).

    Returns:
        ``(n_sentences, 2)`` int64 array of ``(start, end)`` offsets into ``text``.
    """
    end = len(text) if end is None else end
    cuts = [
        m.end()
        for m in SENTENCE_END_PATTERN.finditer(text, start, end)
        if not _continues(text, m, end)
    ]
    spans = []
    prev = start
    for cut in [*cuts, end]:
        bounds = _visible_bounds(text, prev, cut)
        if bounds is not None:
            spans.append(bounds)
        prev = cut
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def visible_pieces(text: str) -> int:
    """Number of white-space separated pieces of ``text`` with a visible character.

    A lower bound on the number of tokens of every tokenizer that splits at white space first
    (WordPiece, byte-level BPE, SentencePiece): each such piece gives at least one token. It
    needs no tokenizer, so a text too long for a model can be refused before tokenizing it.
    """
    return sum(1 for piece in text.split() if _VISIBLE.search(piece))


def unspaced_scripts(text: str, start: int = 0, end: int | None = None) -> list[str]:
    """Names of the scripts written without spaces between words used in ``text[start:end]``.

    For these (Thai, Lao, Myanmar, Khmer, Japanese kana) ``"word"`` players are the runs between
    spaces and punctuation, often whole phrases.
    """
    end = len(text) if end is None else end
    found = {m.group() for m in _UNSPACED.finditer(text, start, end)}
    return [
        name
        for name, (lo, hi) in _UNSPACED_SCRIPTS.items()
        if any(lo <= ord(c) <= hi for c in found)
    ]


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
                spans, token_player = _token_players(text, self.offsets, in_region, *region)
            elif granularity == "word":
                spans = word_spans(text, *region)
                scripts = unspaced_scripts(text, *region)
                if scripts:
                    msg = (
                        f"The text is written (partly) in {', '.join(scripts)}, without spaces "
                        "between words: 'word' players are the runs between spaces and "
                        "punctuation, often whole phrases. Use 'token' players (shapiq-spex "
                        "explain --players token) or pass the (start, end) spans of a word "
                        "segmenter as players."
                    )
                    warnings.warn(msg, UserWarning, stacklevel=2)
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

        if self.granularity != "token":
            spans, token_player = _align(spans, self.offsets, in_region, region)
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


def _token_players(text: str, offsets: np.ndarray, in_region: np.ndarray, start: int, stop: int):
    """Token players: one per visible token, with invisible and mark-only tokens attached.

    Args:
        text: the text.
        offsets: ``(L, 2)`` token offsets.
        in_region: ``(L,)`` bool, the non-special tokens of the explained region.
        start: the start of the explained region.
        stop: the end of the explained region (spans reach over marks up to it, not beyond).

    Returns:
        ``(spans, token_player)``: ``(n, 2)`` int64 spans and ``(L,)`` int64 player per token
        (``-1`` outside the region); see the module docstring for the rules.
    """
    token_player = np.full(offsets.shape[0], -1, dtype=np.int64)
    spans: list[list[int]] = []
    pending: list[int] = []  # tokens waiting for the next player

    def inside(tokens: list[int]) -> list[int]:
        # an invisible token that reaches out of the region joins the template's white space:
        # it is nobody's, or removing its player would delete template text too
        return [t for t in tokens if offsets[t, 0] >= start and offsets[t, 1] <= stop]

    for t in np.flatnonzero(in_region).tolist():
        s, e = int(offsets[t, 0]), int(offsets[t, 1])
        if e > s and _VISIBLE.search(text, s, e):
            if spans and s < spans[-1][1]:  # byte-level pieces of the same characters
                spans[-1][1] = max(spans[-1][1], e)
            else:
                spans.append([s, e])
        elif (
            e > s
            and spans
            and not pending
            and s <= spans[-1][1]
            and any(c in _MARK_SET for c in text[s:e])
        ):  # combining marks right after a player: they modify its last character
            spans[-1][1] = max(spans[-1][1], e)
        else:
            pending.append(t)
            continue
        token_player[[*inside(pending), t]] = len(spans) - 1
        pending = []
    if pending and spans:
        token_player[inside(pending)] = len(spans) - 1
    # no white space or invisible characters at the ends (a BPE piece's leading space)
    spans = [_visible_bounds(text, s, e) for s, e in spans]
    arr = np.array(spans, dtype=np.int64).reshape(-1, 2)
    # reach over combining marks no token covers (a tokenizer that strips accents)
    stops = [*arr[1:, 0].tolist(), stop]
    for i in range(arr.shape[0]):
        end = int(arr[i, 1])
        while end < stops[i] and text[end] in _MARK_SET:
            end += 1
        arr[i, 1] = end
    return arr, token_player


def _align(spans: np.ndarray, offsets: np.ndarray, in_region: np.ndarray, region):
    """Assign region tokens to players by overlap; merge players that share a token.

    Args:
        spans: ``(n, 2)`` sorted, non-overlapping player spans.
        offsets: ``(L, 2)`` token offsets.
        in_region: ``(L,)`` bool, tokens that belong to some player.
        region: ``(start, end)`` of the explained text; a token that overlaps no player and
            reaches beyond it is nobody's (it is never masked).

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
    # a token without overlap goes to the next player (the last one if none follows), unless it
    # reaches out of the region: white space the tokenizer joined with the template's (a text
    # ending in a newline before "\n\nQuery:") would take template text with the player
    owner = np.where(overlaps, first, np.minimum(first, n - 1))
    outside = (tok_s < region[0]) | (tok_e > region[1])
    token_player = np.full(offsets.shape[0], -1, dtype=np.int64)
    token_player[idx] = np.where(overlaps | ~outside, group[owner], -1)
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
