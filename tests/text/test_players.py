from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.text import TextPlayers, sentence_spans, word_spans

pytestmark = pytest.mark.llm

TEXT = (
    "The film's opening is slow, but the ending is wonderful!  I don't think the co-writer helped."
)
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
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            if piece.strip():
                assert s <= ts + lead, (players.tokens[t], players.names[p])
                assert te - trail <= e, (players.tokens[t], players.names[p])


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("granularity", ["token", "word", "sentence"])
def test_spans_and_token_alignment(request, tok_name, granularity):
    tok = request.getfixturevalue(tok_name)
    players = TextPlayers(TEXT, tok, granularity)
    check_alignment(players)
    n_nonspecial = int((~players.special_tokens_mask).sum())
    if granularity == "token":
        assert players.n_players == n_nonspecial
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
