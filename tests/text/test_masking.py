from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.text import TextMasker, TextPlayers, mask_token_id

pytestmark = pytest.mark.llm

TEXT = "The film's opening is slow, but the ending is wonderful! I don't think it works?"


def reference_row(players, strategy, coalition, repl=None):
    """Loop-based masking of one coalition (the specification)."""
    ids, owner = players.input_ids, players.token_player
    out = []
    for i, tok in enumerate(ids.tolist()):
        p = owner[i]
        if p < 0 or coalition[p]:
            out.append(tok)
        elif strategy == "mask_token":
            out.append(mask_token_id(players.tokenizer))
        elif strategy != "remove" and (i == 0 or owner[i - 1] != p):
            out.extend(repl.tolist())
    return out


@pytest.mark.parametrize("tok_name", ["word_tokenizer", "minilm_tokenizer", "bpe_tokenizer"])
@pytest.mark.parametrize("strategy", ["remove", "mask_token", " ..."])
@pytest.mark.parametrize("granularity", ["token", "word", "sentence"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_vectorized_masking_matches_reference(request, tok_name, strategy, granularity, side):
    tok = request.getfixturevalue(tok_name)
    if strategy == "mask_token" and tok_name == "bpe_tokenizer":
        pytest.skip("no mask or unk token (see test_mask_token_needs_mask_or_unk)")
    players = TextPlayers(TEXT, tok, granularity)
    masker = TextMasker(players, strategy)
    rng = np.random.default_rng(0)
    x = rng.random((12, players.n_players)) < 0.5
    x[0], x[1] = True, False
    suffix = np.array([7, 8, 9])
    batch = masker(x, padding_side=side, suffix_ids=suffix)
    assert batch.input_ids.shape == batch.attention_mask.shape
    assert batch.input_ids.shape[1] == batch.lengths.max()
    for row in range(x.shape[0]):
        expected = [*reference_row(players, strategy, x[row], masker.replacement_ids), 7, 8, 9]
        real = batch.attention_mask[row].astype(bool)
        assert batch.input_ids[row][real].tolist() == expected
        assert batch.lengths[row] == len(expected)
        # padding sits on the requested side only
        n_pad = batch.input_ids.shape[1] - len(expected)
        pad_cols = slice(0, n_pad) if side == "left" else slice(len(expected), None)
        assert not real[pad_cols].any()
        assert np.all(batch.input_ids[row][pad_cols] == masker.pad_token_id)
    # the full coalition reproduces the original tokens
    assert batch.input_ids[0][batch.attention_mask[0] == 1].tolist()[:-3] == (
        players.input_ids.tolist()
    )


def test_remove_equals_tokenizing_the_shorter_text(word_tokenizer):
    players = TextPlayers(TEXT, word_tokenizer, "word")
    masker = TextMasker(players, "remove")
    x = np.random.default_rng(1).random((8, players.n_players)) < 0.6
    batch = masker(x)
    for row in range(x.shape[0]):
        kept = " ".join(n for n, k in zip(players.names, x[row], strict=True) if k)
        expected = word_tokenizer(kept)["input_ids"]
        assert batch.input_ids[row][: batch.lengths[row]].tolist() == expected


def test_mask_token_keeps_length_and_positions(minilm_tokenizer):
    players = TextPlayers(TEXT, minilm_tokenizer, "word")
    masker = TextMasker(players, "mask_token")
    x = np.zeros((2, players.n_players), dtype=bool)
    x[1, 0] = True
    batch = masker(x)
    assert np.all(batch.lengths == players.n_tokens)
    assert np.all(batch.attention_mask == 1)
    masked = batch.input_ids[0][1:-1]
    assert np.all(masked == minilm_tokenizer.mask_token_id)
    assert masker.texts(x[:1]) == [
        "[CLS] " + " ".join(["[MASK]"] * (players.n_tokens - 2)) + " [SEP]"
    ]


def test_position_ids_skip_left_padding(word_tokenizer):
    players = TextPlayers("great acting and story", word_tokenizer, "word")
    batch = TextMasker(players, "remove")(
        np.array([[1, 1, 1, 1], [1, 0, 0, 1]], bool), padding_side="left"
    )
    np.testing.assert_array_equal(batch.position_ids(), [[0, 1, 2, 3, 4, 5], [0, 0, 0, 1, 2, 3]])


def test_unk_is_used_without_mask_token(lm_tokenizer):
    players = TextPlayers("great acting", lm_tokenizer, "word")
    batch = TextMasker(players, "mask_token")(np.zeros((1, 2), bool))
    assert batch.input_ids[0, 1:].tolist() == [lm_tokenizer.unk_token_id] * 2


def test_mask_token_needs_mask_or_unk(bpe_tokenizer):
    players = TextPlayers("the ending", bpe_tokenizer, "word")
    with pytest.raises(InvalidParameterError, match="neither a mask token nor an unknown token"):
        TextMasker(players, "mask_token")


def test_bad_strategies(word_tokenizer):
    players = TextPlayers("great acting", word_tokenizer, "word")
    with pytest.raises(InvalidParameterError, match="mask_strategy"):
        TextMasker(players, "")
    with pytest.raises(InvalidParameterError, match="mask_strategy"):
        TextMasker(players, 3)
    with pytest.raises(InvalidParameterError, match="tokenizes to no tokens"):
        TextMasker(players, "   ")
    masker = TextMasker(players, "remove")
    with pytest.raises(InvalidParameterError, match="padding_side"):
        masker(np.ones((1, 2), bool), padding_side="middle")
    with pytest.raises(InvalidParameterError, match="shape"):
        masker(np.ones((1, 3), bool))


@pytest.mark.parametrize("strategy", ["remov", "Remove", "mask-token", "MASK_TOKEN", "mask_tokn"])
def test_a_misspelt_strategy_warns_and_is_used_as_a_replacement(word_tokenizer, strategy):
    players = TextPlayers("great acting", word_tokenizer, "word")
    with pytest.warns(UserWarning, match="used as a replacement string") as caught:
        masker = TextMasker(players, strategy)
    assert any(m in str(caught[0].message) for m in ("'remove'", "'mask_token'"))
    assert masker.replacement_ids is not None  # the string is still used as given


@pytest.mark.parametrize("strategy", [" ...", "[UNK]", "blank", "removed text"])
def test_a_deliberate_replacement_does_not_warn(word_tokenizer, strategy):
    players = TextPlayers("great acting", word_tokenizer, "word")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # a string this word-level tokenizer cannot tokenize is refused: not what is tested
        with contextlib.suppress(InvalidParameterError):
            TextMasker(players, strategy)
