"""Masked prompt strings: character-level masking, and token-level masking decoded to text."""

from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.endpoint.textmask import SpanTextMasker, TokenTextMasker
from shapiq_spex.exceptions import InvalidParameterError

TEXT = "Question: Mary has three apples. She eats one!\nAnswer:"
REGION = (10, 46)  # "Mary has three apples. She eats one!"


@pytest.mark.parametrize(
    ("keep", "strategy", "expected"),
    [
        ("111111111", "remove", TEXT),
        ("101111111", "remove", "Question: Mary three apples. She eats one!\nAnswer:"),
        ("011111111", "remove", "Question: has three apples. She eats one!\nAnswer:"),
        ("111101111", "remove", "Question: Mary has three apples She eats one!\nAnswer:"),
        ("000000000", "remove", "Question:\nAnswer:"),
        ("110111111", " ...", "Question: Mary has ... apples. She eats one!\nAnswer:"),
        ("111111100", " ...", "Question: Mary has three apples. She eats ... ...\nAnswer:"),
    ],
)
def test_span_masker_words(keep, strategy, expected):
    masker = SpanTextMasker(TEXT, REGION, "word", strategy)
    assert masker.names == ["Mary", "has", "three", "apples", ".", "She", "eats", "one", "!"]
    row = np.array([c == "1" for c in keep])
    assert masker.texts(row[None, :]) == [expected]


def test_span_masker_sentences_and_custom_spans():
    masker = SpanTextMasker(TEXT, REGION, "sentence", "remove")
    assert masker.names == ["Mary has three apples.", "She eats one!"]
    assert masker.texts(np.array([[False, True]])) == ["Question: She eats one!\nAnswer:"]
    custom = SpanTextMasker(TEXT, REGION, [(15, 24)], "remove")  # "has three"
    assert custom.names == ["has three"]
    assert custom.texts(np.array([[False]])) == ["Question: Mary apples. She eats one!\nAnswer:"]


@pytest.mark.parametrize(
    ("players", "strategy", "match"),
    [
        ("token", "remove", "tokenizer"),
        ("word", "mask_token", "tokenizer"),
        ("phrase", "remove", "'word', 'sentence'"),
        ("word", "", "non-empty"),
        ([(0, 5)], "remove", "inside the explained region"),
    ],
)
def test_span_masker_refuses(players, strategy, match):
    with pytest.raises(InvalidParameterError, match=match):
        SpanTextMasker(TEXT, REGION, players, strategy)


@pytest.fixture(scope="module")
def word_tokenizer():
    pytest.importorskip("transformers")
    from shapiq_spex.models.tiny import word_level_tokenizer

    return word_level_tokenizer([TEXT, "..."], style="lm")


@pytest.mark.parametrize("strategy", ["remove", "mask_token", " ..."])
def test_token_masker_texts_encode_to_the_in_process_ids(word_tokenizer, strategy):
    masker = TokenTextMasker(TEXT, REGION, "word", strategy, word_tokenizer)
    rng = np.random.default_rng(0)
    x = rng.random((20, masker.n_players)) < 0.5
    batch = masker.masker(x, padding_side="right")
    for row, text in enumerate(masker.texts(x)):
        ids = word_tokenizer(text, add_special_tokens=False)["input_ids"]
        assert ids == batch.input_ids[row, : batch.lengths[row]].tolist()
    assert masker.token_counts(x).tolist() == batch.lengths.tolist()
    ident = masker.identity()
    assert ident["kind"] == "tokens"
    assert ident["mask_strategy"] == strategy


def test_span_masker_keeps_newlines_and_extra_spaces():
    text = "user\nMary  has apples"
    masker = SpanTextMasker(text, (5, len(text)), "word", "remove")
    assert masker.texts(np.array([[False, True, True]])) == ["user\n  has apples"]
    assert masker.texts(np.array([[True, False, True]])) == ["user\nMary  apples"]
    assert masker.texts(np.array([[True, True, False]])) == ["user\nMary  has"]


def test_retokenizes_exactly_flags_merges_across_a_removed_player():
    pytest.importorskip("transformers")
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    # a BPE-like vocabulary where "?" and "." merge into "?." when they meet
    vocab = {"<unk>": 0, "a": 1, "?": 2, ".": 3, "?.": 4, "b": 5, " ": 6}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    split = Regex(r"\?\.|\?|\.|a|b| ")
    backend.pre_tokenizer = pre_tokenizers.Split(split, behavior="isolated")
    backend.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")
    text = "a? b."
    masker = TokenTextMasker(text, (0, len(text)), [(0, 2), (3, 4), (4, 5)], "remove", tok)
    x = np.array([[True, True, True], [True, False, True], [False, True, True]])
    assert masker.texts(x) == ["a? b.", "a?.", " b."]
    assert masker.retokenizes_exactly(x).tolist() == [True, False, True]
