"""Offline default models: real pretrained networks that install from PyPI and load from disk.

* :func:`load_sentiment_model` (name ``"minilm-sentiment"``): all-MiniLM-L6-v2 + a trained
  logistic-regression head, a 2-class sentiment classifier.
* :func:`load_minilm` (name ``"minilm"``): the all-MiniLM-L6-v2 sentence encoder.
* :func:`load_smollm2` (name ``"smollm2"``): SmolLM2-135M-Instruct, a Llama-architecture chat LM.
* :mod:`shapiq_spex.models.tiny`: tiny random BERT / GPT-2 / Llama models with word-level
  tokenizers, for tests and quick demos.

Attributes load lazily, so importing this package does not import torch.
"""

from __future__ import annotations

import importlib

__all__ = ["load_minilm", "load_sentiment_model", "load_smollm2"]

_LAZY = {
    "load_minilm": "shapiq_spex.models.sentiment",
    "load_sentiment_model": "shapiq_spex.models.sentiment",
    "load_smollm2": "shapiq_spex.models.smollm2",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
