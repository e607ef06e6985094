"""Tokenizer fixtures for the text-player tests (offline: no hub access)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

try:
    import torch
    import transformers
except ImportError:  # the llm extra is not installed: skip this folder
    collect_ignore_glob = ["test_*.py"]
else:
    torch.set_num_threads(1)

CORPUS = [
    "The film's opening is slow, but the ending is wonderful!",
    "I don't think the co-writer helped. Still, it works?",
    "Great acting... and a moving story.",
    "Paris is the capital of France. It lies on the Seine.",
]


@pytest.fixture(scope="session")
def minilm_tokenizer():
    """The real all-MiniLM-L6-v2 WordPiece tokenizer (uncased, ## sub-words)."""
    from shapiq_spex.models.sentiment import minilm_path

    return transformers.AutoTokenizer.from_pretrained(minilm_path())


@pytest.fixture(scope="session")
def word_tokenizer(tmp_path_factory):
    """A word-level BERT-style tokenizer, saved and reloaded through from_pretrained."""
    from shapiq_spex.models.tiny import word_level_tokenizer

    folder = tmp_path_factory.mktemp("word_tok")
    word_level_tokenizer(CORPUS, style="bert").save_pretrained(folder)
    return transformers.AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="session")
def lm_tokenizer():
    """A word-level LM-style tokenizer (<s> prefix, no mask token)."""
    from shapiq_spex.models.tiny import word_level_tokenizer

    return word_level_tokenizer(CORPUS, style="lm")


@pytest.fixture(scope="session")
def bpe_tokenizer():
    """A byte-level BPE tokenizer (GPT-2 style leading-space pieces, no unk and no mask token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 3, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
