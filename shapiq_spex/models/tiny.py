"""Tiny random transformers with word-level tokenizers, for tests and quick demos.

The models are built from small configs (random weights, seeded, built in milliseconds); the
tokenizers are real ``tokenizers`` word-level tokenizers wrapped in ``PreTrainedTokenizerFast``,
so offset mappings, special tokens, padding and ``save_pretrained``/``from_pretrained`` behave like
those of real checkpoints. Their outputs carry no meaning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games._torch import import_torch, import_transformers

__all__ = ["tiny_bert_classifier", "tiny_causal_lm", "word_level_tokenizer"]

_WORDS = re.compile(r"\w+|[^\w\s]+")
_BERT_SPECIALS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
_LM_SPECIALS = {"pad": "<pad>", "unk": "<unk>", "bos": "<s>", "eos": "</s>"}


def word_level_tokenizer(
    texts: Iterable[str], *, style: Literal["bert", "lm"] = "bert", lowercase: bool = True
):
    """A word-level fast tokenizer whose vocabulary is the words of ``texts``.

    Words are runs of word characters or of punctuation (the ``Whitespace`` pre-tokenizer).

    Args:
        texts: texts whose words form the vocabulary (unknown words map to the unknown token).
        style: ``"bert"`` (``[CLS] text [SEP]``, with ``[MASK]``) or ``"lm"`` (``<s> text``, with
            ``</s>`` as end of sequence and no mask token).
        lowercase: lowercase the input before splitting (as uncased BERT does).

    Returns:
        A ``transformers.PreTrainedTokenizerFast``.
    """
    transformers = import_transformers()
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    if style not in ("bert", "lm"):
        msg = f"The 'style' parameter must be 'bert' or 'lm'. Got {style!r}."
        raise InvalidParameterError(msg)
    specials = _BERT_SPECIALS if style == "bert" else _LM_SPECIALS
    vocab = {tok: i for i, tok in enumerate(specials.values())}
    for text in texts:
        for word in _WORDS.findall(text.lower() if lowercase else text):
            vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=specials["unk"]))
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if style == "bert":
        cls, sep = specials["cls"], specials["sep"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}",
            pair=f"{cls} $A {sep} $B {sep}",
            special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])],
        )
        kwargs = {f"{k}_token": v for k, v in specials.items()}
    else:
        bos = specials["bos"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, vocab[bos])]
        )
        kwargs = {f"{k}_token": v for k, v in specials.items()}
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def tiny_bert_classifier(
    tokenizer, *, num_labels: int = 2, layers: int = 2, heads: int = 4, hidden: int = 32, seed=0
):
    """A tiny random ``BertForSequenceClassification`` for ``tokenizer`` (eval mode)."""
    torch = import_torch()
    transformers = import_transformers()
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        num_labels=num_labels,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.BertForSequenceClassification(config)
    return model.eval()


def tiny_causal_lm(
    tokenizer,
    *,
    architecture: Literal["gpt2", "llama"] = "gpt2",
    layers: int = 2,
    heads: int = 4,
    hidden: int = 32,
    seed=0,
):
    """A tiny random GPT-2 or Llama causal LM for ``tokenizer`` (eval mode)."""
    torch = import_torch()
    transformers = import_transformers()
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if architecture == "gpt2":
        config = transformers.GPT2Config(
            vocab_size=len(tokenizer), n_embd=hidden, n_layer=layers, n_head=heads,
            n_positions=128, **ids,
        )  # fmt: skip
        cls = transformers.GPT2LMHeadModel
    elif architecture == "llama":
        config = transformers.LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
            intermediate_size=2 * hidden, max_position_embeddings=128, **ids,
        )  # fmt: skip
        cls = transformers.LlamaForCausalLM
    else:
        msg = f"The 'architecture' parameter must be 'gpt2' or 'llama'. Got {architecture!r}."
        raise InvalidParameterError(msg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    return model.eval()
