"""CLI tests: offline, one torch thread, a tiny classifier and a tiny causal LM saved to folders."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

try:
    import torch
    import transformers  # noqa: F401
except ImportError:  # the llm extra is not installed: skip this folder
    collect_ignore_glob = ["test_*.py"]
else:
    torch.set_num_threads(1)

from cli_texts import CONTEXT, REVIEW


@pytest.fixture(autouse=True)
def _one_thread():
    """Keep torch on one thread even if a command changed it (``--threads``)."""
    yield
    torch.set_num_threads(1)


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if the command loads the model (it must refuse before)."""
    import shapiq_spex.cli.explain

    def refuse(config):
        msg = "the model was loaded before the options and the input were checked"
        raise AssertionError(msg)

    monkeypatch.setattr(shapiq_spex.cli.explain, "build_game", refuse)


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory):
    """A tiny random BERT classifier + word-level tokenizer, saved with save_pretrained."""
    from shapiq_spex.models.tiny import tiny_bert_classifier, word_level_tokenizer

    folder = tmp_path_factory.mktemp("tiny_bert")
    tok = word_level_tokenizer([REVIEW, CONTEXT], style="bert")
    model = tiny_bert_classifier(tok, seed=3)
    model.config.id2label = {0: "negative", 1: "positive"}
    model.config.label2id = {"negative": 0, "positive": 1}
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    """A tiny random GPT-2 causal LM + word-level tokenizer, saved with save_pretrained."""
    from shapiq_spex.models.tiny import tiny_causal_lm, word_level_tokenizer

    folder = tmp_path_factory.mktemp("tiny_gpt2")
    tok = word_level_tokenizer([REVIEW, CONTEXT, "What is the capital ?"], style="lm")
    model = tiny_causal_lm(tok, seed=1)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
