# ruff: noqa: RUF001  (texts in many scripts are what these tests are about)
from __future__ import annotations

import unicodedata
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.text import TextPlayers, sentence_spans, word_spans

pytestmark = pytest.mark.llm

TEXT = (
    "The film's opening is slow, but the ending is wonderful!  I don't think the co-writer helped."
)
#: White space and the invisible characters of the tests' texts (belong to no player's span).
BLANK = " \t\n\u200b\u200e\u200f\u200d\ufeff"
TOKENIZERS = ["minilm_tokenizer", "word_tokenizer", "lm_tokenizer", "bpe_tokenizer"]


def check_alignment(players: TextPlayers) -> None:
    """Spans are exact, every region token has one player, players own contiguous tokens."""
    text = players.text
    assert players.names == [text[s:e] for s, e in players.spans.tolist()]
    assert np.all(players.spans[:, 1] > players.spans[:, 0])
    assert np.all(players.spans[1:, 0] >= players.spans[:-1, 1])
    owned = players.token_player >= 0
    assert not np.any(owned & players.special_tokens_mask)
    # players in text order own contiguous, non-decreasing runs of tokens
    assert np.all(np.diff(players.token_player[owned]) >= 0)
    for p in range(players.n_players):
        toks = players.player_tokens(p)
        assert toks.size > 0
        assert np.all(np.diff(toks) == 1)
        # the tokens' non-space characters lie inside the player's span
        s, e = players.spans[p]
        for t in toks:
            ts, te = players.offsets[t]
            piece = text[ts:te]
            lead = len(piece) - len(piece.lstrip(BLANK))
            trail = len(piece) - len(piece.rstrip(BLANK))
            if piece.strip(BLANK):
                assert s <= ts + lead, (players.tokens[t], players.names[p])
                assert te - trail <= e, (players.tokens[t], players.names[p])


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("granularity", ["token", "word", "sentence"])
def test_spans_and_token_alignment(request, tok_name, granularity):
    tok = request.getfixturevalue(tok_name)
    players = TextPlayers(TEXT, tok, granularity)
    check_alignment(players)
    visible = [
        bool(TEXT[s:e].strip()) for s, e in players.offsets[~players.special_tokens_mask].tolist()
    ]
    if granularity == "token":  # white-space-only tokens (BPE) belong to the next player
        assert players.n_players == sum(visible)
    elif granularity == "sentence":
        assert players.names == [
            "The film's opening is slow, but the ending is wonderful!",
            "I don't think the co-writer helped.",
        ]
    else:
        assert players.names == [
            "The", "film's", "opening", "is", "slow", ",", "but", "the", "ending", "is",
            "wonderful", "!", "I", "don't", "think", "the", "co-writer", "helped", ".",
        ]  # fmt: skip
    # every non-special token belongs to a player
    assert np.all(players.token_player[~players.special_tokens_mask] >= 0)
    assert len(players) == players.n_players == len(players.names)


def test_subword_tokens_map_to_their_word(minilm_tokenizer):
    players = TextPlayers("an unbelievably tedious film", minilm_tokenizer, "word")
    assert players.names == ["an", "unbelievably", "tedious", "film"]
    pieces = [players.tokens[t] for t in players.player_tokens(1)]
    assert len(pieces) > 1
    assert all(p.startswith("##") for p in pieces[1:])
    assert "".join(p.removeprefix("##") for p in pieces) == "unbelievably"


def test_bpe_leading_space_tokens(bpe_tokenizer):
    players = TextPlayers("the ending is wonderful", bpe_tokenizer, "word")
    assert players.names == ["the", "ending", "is", "wonderful"]
    # byte-level BPE pieces carry the preceding space; they still belong to the next word
    first_of_ending = players.player_tokens(1)[0]
    assert players.offsets[first_of_ending, 0] == 3  # the space before "ending"


def test_region_limits_players(word_tokenizer):
    text = "Context: the ending is wonderful. Query: is it?"
    start = text.index("the")
    end = text.index(" Query")
    players = TextPlayers(text, word_tokenizer, "word", region=(start, end))
    assert players.names == ["the", "ending", "is", "wonderful", "."]
    outside = np.flatnonzero(players.token_player < 0)
    assert [text[s:e] for s, e in players.offsets[outside].tolist()] == [
        "", "Context", ":", "Query", ":", "is", "it", "?", "",
    ]  # fmt: skip
    assert players.special_tokens_mask[outside].tolist() == [True] + [False] * 7 + [True]


def test_custom_spans_and_merge_of_players_sharing_a_token(word_tokenizer):
    text = "wonderful ending"
    # "wonder" and "ful" are one token: they cannot be masked apart and are merged
    players = TextPlayers(text, word_tokenizer, [(0, 6), (6, 9), (10, 16)])
    assert players.granularity == "custom"
    assert players.names == ["wonderful", "ending"]
    check_alignment(players)


def test_word_and_sentence_segmentation_rules():
    text = 'He said "stop!" Then left.\n\nNew para? Yes… done'
    sents = [text[s:e] for s, e in sentence_spans(text).tolist()]
    assert sents == ['He said "stop!"', "Then left.", "New para?", "Yes…", "done"]
    other = "It's a state-of-the-art film, isn\u2019t it?"
    words = [other[s:e] for s, e in word_spans(other).tolist()]
    assert words == ["It's", "a", "state-of-the-art", "film", ",", "isn\u2019t", "it", "?"]
    assert word_spans("   ").shape == (0, 2)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Dr. Smith paid $3.50 in the U.S. last year. Was it worth it?",
         ["Dr. Smith paid $3.50 in the U.S. last year.", "Was it worth it?"]),
        ('"Yes!" he said. Mr. Lee disagreed... He left at 5 p.m. on Friday.',
         ['"Yes!" he said.', "Mr. Lee disagreed...", "He left at 5 p.m. on Friday."]),
        ("I met J. R. R. Tolkien, e.g. at home. He was kind.",
         ["I met J. R. R. Tolkien, e.g. at home.", "He was kind."]),
        ("It was green.. in Cube. Then it ended.",  # ".." is an ellipsis: it ends one
         ["It was green..", "in Cube.", "Then it ended."]),
    ],
)  # fmt: skip
def test_titles_initials_and_lower_case_continuations_do_not_end_a_sentence(text, sentences):
    assert [text[s:e] for s, e in sentence_spans(text).tolist()] == sentences


def test_token_mask(word_tokenizer):
    players = TextPlayers("great acting and story", word_tokenizer, "word")
    x = np.array([[True, False, True, False], [False, False, False, False]])
    keep = players.token_mask(x)
    assert keep.shape == (2, players.n_tokens)
    np.testing.assert_array_equal(keep[0], [True, True, False, True, False, True])
    np.testing.assert_array_equal(keep[1], [True, False, False, False, False, True])


def test_errors(word_tokenizer):
    with pytest.raises(InvalidParameterError, match="non-empty string"):
        TextPlayers("   ", word_tokenizer)
    with pytest.raises(InvalidParameterError, match="granularity"):
        TextPlayers("great film", word_tokenizer, "paragraph")
    with pytest.raises(InvalidParameterError, match="sorted, non-overlapping"):
        TextPlayers("great film", word_tokenizer, [(0, 5), (3, 8)])
    with pytest.raises(InvalidParameterError, match="region"):
        TextPlayers("great film", word_tokenizer, region=(5, 50))
    with pytest.raises(InvalidParameterError, match="no players"):
        TextPlayers("great film ...", word_tokenizer, "word", region=(10, 11))
    with pytest.raises(InvalidParameterError, match="fast Hugging Face tokenizer"):
        TextPlayers("great film", lambda s: s.split())
    players = TextPlayers("great film", word_tokenizer)
    with pytest.raises(InvalidParameterError, match="player"):
        players.player_tokens(5)


# ------------------------------------------------------------------ Unicode
NFD_CAFE = unicodedata.normalize("NFD", "café")
assert len(NFD_CAFE) == 5  # "cafe" + U+0301 COMBINING ACUTE ACCENT

UNICODE_WORDS = [
    (f"un {NFD_CAFE} noir", ["un", NFD_CAFE, "noir"]),
    ("good\u200b movie\u200bgreat", ["good", "movie", "great"]),  # zero-width spaces
    ("\u200fשלום עולם\u200f!", ["שלום", "עולם", "!"]),  # right-to-left marks
    ("\u202bمرحبا\u202c بالعالم", ["مرحبا", "بالعالم"]),  # bidi embedding and pop
    ("\ufeffByte order mark", ["Byte", "order", "mark"]),
    ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),  # Devanagari vowel signs and virama (Mn, Mc)
    ("می\u200cخواهم بروم", ["می\u200cخواهم", "بروم"]),  # Persian zero-width non-joiner
    ("co\u00adoperate now", ["co\u00adoperate", "now"]),  # soft hyphen
    ("\u0301orphan mark", ["orphan", "mark"]),  # a mark with no base is no player
    ("a\u3164b \u3164 c", ["a", "b", "c"]),  # Hangul filler (a letter to \w, but invisible)
    ("family 👨\u200d👩\u200d👧 ok 👍🏽", ["family", "👨\u200d👩\u200d👧", "ok", "👍🏽"]),
    ("我喜欢这部电影，但是结局很糟糕。",
     ["我", "喜", "欢", "这", "部", "电", "影", "，",
      "但", "是", "结", "局", "很", "糟", "糕", "。"]),
    ("人々は言う", ["人々", "は", "言", "う"]),  # the iteration mark repeats its ideograph
    ("It's a state-of-the-art film, isn\u2019t it?",
     ["It's", "a", "state-of-the-art", "film", ",", "isn\u2019t", "it", "?"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "words"), UNICODE_WORDS)
def test_unicode_word_rules(text, words):
    """Marks stay with their base, invisible characters separate words, Han is per character."""
    spans = word_spans(text)
    assert [text[s:e] for s, e in spans.tolist()] == words


SENTENCES = [
    ("Hello.\u200b \u200fNext one.\u200e", ["Hello.", "Next one."]),
    ("Fin du film, cafe\u0301", ["Fin du film, cafe\u0301"]),  # the trailing mark stays
    ("One. \u200b\u200b", ["One."]),  # a piece with only invisible characters is no sentence
]


@pytest.mark.parametrize(("text", "sentences"), SENTENCES)
def test_unicode_sentence_rules(text, sentences):
    assert [text[s:e] for s, e in sentence_spans(text).tolist()] == sentences


def visible(piece: str) -> bool:
    """Some character that is not white space, a combining mark or a format character."""
    return any(
        not c.isspace() and unicodedata.category(c)[0] != "M" and unicodedata.category(c) != "Cf"
        for c in piece
    )


ALPHABET = [*"aeoknst ,.!?", "\u0301", "\u0308", "\u200b", "\u200f", "\u200d", "\u00ad",
            "é", "ñ", "我", "影", "क", "ि", "्", "ש", "\n", "ö", "≠", "ự"]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=40).map("".join))
def test_no_player_is_a_mark_or_an_invisible_character(text):
    """Words and sentences always hold a visible character; NFC and NFD give the same players."""
    for fn in (word_spans, sentence_spans):
        spans = fn(text)
        names = [text[s:e] for s, e in spans.tolist()]
        assert all(visible(name) for name in names), names
        assert np.all(spans[:, 1] > spans[:, 0])
        assert np.all(spans[1:, 0] >= spans[:-1, 1])
        for form in ("NFC", "NFD"):
            other = unicodedata.normalize(form, text)
            names_other = [other[s:e] for s, e in fn(other).tolist()]
            assert [unicodedata.normalize("NFC", w) for w in names_other] == [
                unicodedata.normalize("NFC", w) for w in names
            ]


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("granularity", ["token", "word", "sentence"])
@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_unicode_players_with_real_tokenizers(request, tok_name, granularity, form):
    """Exact spans of the original text, no invisible or mark-only player, NFC = NFD players."""
    tok = request.getfixturevalue(tok_name)
    base = "Un café\u200b très noir. \u200fשלום\u200f ! नमस्ते, 我喜欢 ok\u200d"
    text = unicodedata.normalize(form, base)
    players = TextPlayers(text, tok, granularity)
    check_alignment(players)
    assert all(visible(name) for name in players.names), players.names
    # every non-special token belongs to some player (invisible ones to a neighbour)
    assert np.all(players.token_player[~players.special_tokens_mask] >= 0)
    other = TextPlayers(unicodedata.normalize("NFC", base), tok, granularity)
    if granularity != "token":  # token players follow the tokenizer, which may differ
        assert [unicodedata.normalize("NFC", w) for w in players.names] == other.names


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_token_players_keep_their_accents(request, tok_name):
    """A tokenizer that strips or splits off an accent still gives the player 'café'."""
    tok = request.getfixturevalue(tok_name)
    text = f"{NFD_CAFE} noir"
    players = TextPlayers(text, tok, "token")
    assert NFD_CAFE in players.names or any(name.endswith("e\u0301") for name in players.names), (
        players.names
    )
    assert not any(name == "\u0301" for name in players.names)


def test_invisible_tokens_belong_to_the_next_player(bpe_tokenizer):
    """Byte-level BPE keeps a zero-width space as tokens of its own; they are no player."""
    text = "the\u200b ending"
    players = TextPlayers(text, bpe_tokenizer, "token")
    zwsp = [t for t, (s, e) in enumerate(players.offsets.tolist()) if text[s:e].strip() == "\u200b"]
    assert zwsp  # the tokenizer does give the zero-width space tokens of its own
    assert all(visible(name) for name in players.names)
    assert "".join(players.names) == "theending"  # no white space or ZWSP in any player
    ending = players.token_player[zwsp[0]]
    assert text[slice(*players.spans[ending])].startswith("e")


@pytest.mark.parametrize(
    ("text", "script"),
    [("สวัสดีครับ ผมชอบหนัง", "Thai"), ("私は映画が好きです。", "Japanese kana")],
)
def test_unspaced_scripts_warn_and_suggest_token_players(minilm_tokenizer, text, script):
    with pytest.warns(UserWarning, match=f"{script}.*'token' players"):
        TextPlayers(text, minilm_tokenizer, "word")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextPlayers(text, minilm_tokenizer, "token")
        TextPlayers("我喜欢这部电影。", minilm_tokenizer, "word")  # Han: one player per character


@pytest.mark.parametrize("granularity", ["token", "word", "sentence"])
def test_white_space_joined_with_the_template_is_nobodys(granularity):
    """A text ending in a newline before the template's "\\n\\nQuery:": SmolLM2's tokenizer makes
    one "\\n\\n\\n" token of them. It belonged to the last player, so removing the last sentence
    deleted the template's newlines too (the prompt read "...turn.\\nQuery:")."""
    from shapiq_spex.models.smollm2 import load_smollm2

    tok = load_smollm2()[1]
    context = "Tom built the mill.\nIt is old.\n"  # as read from a file
    text = f"Context: {context}\n\nQuery: Who built it?"
    start = text.index("Tom")
    players = TextPlayers(text, tok, granularity, region=(start, start + len(context)))
    joined = [
        t for t, (s, e) in enumerate(players.offsets.tolist()) if s < start + len(context) < e
    ]
    assert joined, "the tokenizer no longer joins the newlines: the test needs another text"
    assert (players.token_player[joined] == -1).all()
    without_last = np.ones((1, players.n_players), dtype=bool)
    without_last[0, -1] = False
    kept = players.token_mask(without_last)[0]
    kept_text = "".join(
        text[s:e] for (s, e), k in zip(players.offsets.tolist(), kept, strict=True) if k
    )
    assert kept_text.endswith("\n\n\nQuery: Who built it?"), repr(kept_text)
