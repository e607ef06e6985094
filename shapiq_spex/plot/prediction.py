"""What a text explanation explains, in words: the prediction, the explained output and its unit.

A :class:`Prediction` holds what a reader needs before any value makes sense: what the model
predicted on the full text (label and probability, or the answer), which output is explained
(``"logit"`` of which class, log-probability of which answer) and in which unit, the value of that
output with the full text and with every player removed, and what "removed" means (the masking).
:func:`prediction_from_game` reads it off a text game (:class:`~shapiq_spex.TextClassificationGame`
or :class:`~shapiq_spex.GenerationLogProbGame`); the phrase helpers turn it into the report's
wording ("raises the logit of *positive*").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["OUTPUT_WORDS", "Prediction", "prediction_from_game"]

#: ``output -> (noun phrase, unit)`` of the outputs the text games explain.
OUTPUT_WORDS = {
    "logit": ("logit", "logit"),
    "log_prob": ("log-probability", "nats"),
    "prob": ("probability", "probability"),
    "logit_margin": ("logit margin", "logit"),
    "mean_log_prob": ("mean log-probability per token", "nats per token"),
    "log_odds": ("log-odds", "nats"),
    "prob_margin": ("probability margin", "probability"),
}


@dataclass(frozen=True)
class Prediction:
    """The model's prediction on the full text and the output one explanation decomposes.

    Attributes:
        output: the explained output: ``"logit"``, ``"log_prob"``, ``"prob"``, ``"logit_margin"``
            (classification), ``"log_prob"`` or ``"mean_log_prob"`` (of a generated answer), or
            any other short name of a value.
        full_value: the explained output with every player present (the full text).
        empty_value: the explained output with every player removed.
        labels: classification: the class labels in index order (``()`` otherwise).
        probabilities: classification: the model's probability of each class on the full text.
        target: classification: the index of the explained class.
        answer: generation: the explained answer (a served model's ``label_logprob``: the
            explained label, with all labels in ``labels`` and ``target`` ``None``).
        query: generation: the question asked about the text.
        masking: ``"mask_token"``, ``"remove"`` or the replacement string.
        mask_text: what a removed player becomes in the model's input (``"[MASK]"``; ``""`` when
            it is removed).
        player_kind: ``"word"``, ``"token"``, ``"sentence"`` or ``"player"``.
        model: the model's name, for display.
    """

    output: str = "value"
    full_value: float | None = None
    empty_value: float | None = None
    labels: tuple[str, ...] = ()
    probabilities: tuple[float, ...] = ()
    target: int | None = None
    answer: str | None = None
    query: str | None = None
    masking: str | None = None
    mask_text: str | None = None
    player_kind: str = "word"
    model: str | None = None

    def __post_init__(self) -> None:
        """Validate the fields that the report computes with."""
        if not isinstance(self.output, str) or not self.output:
            msg = f"The 'output' field must be a non-empty string. Got {self.output!r}."
            raise InvalidParameterError(msg)
        for name in ("full_value", "empty_value"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
                msg = f"The '{name}' field must be a finite number or None. Got {value!r}."
                raise InvalidParameterError(msg)
        if self.probabilities and len(self.probabilities) != len(self.labels):
            msg = (
                f"The 'probabilities' field has {len(self.probabilities)} entries but 'labels' "
                f"has {len(self.labels)}; give one probability per class."
            )
            raise InvalidParameterError(msg)
        if self.target is not None and not 0 <= self.target < max(len(self.labels), 1):
            msg = f"The 'target' field {self.target} is not a class index of {self.labels}."
            raise InvalidParameterError(msg)

    @property
    def is_classification(self) -> bool:
        """Whether a class (rather than an answer or a plain value) is explained."""
        return self.target is not None and bool(self.labels)

    @property
    def predicted(self) -> int | None:
        """The index of the most probable class, or ``None``."""
        return int(np.argmax(self.probabilities)) if self.probabilities else None

    @property
    def target_label(self) -> str | None:
        """The label of the explained class, or ``None``."""
        return self.labels[self.target] if self.is_classification else None

    @property
    def unit(self) -> str:
        """The unit of the explained output (``"logit"``, ``"nats"``, ...)."""
        return OUTPUT_WORDS.get(self.output, (self.output, ""))[1]

    def output_phrase(self) -> str:
        """The explained output as a noun phrase: ``"the logit of positive"``."""
        noun = OUTPUT_WORDS.get(self.output, (self.output.replace("_", " "), ""))[0]
        if self.is_classification:
            return f"the {noun} of {self.target_label}"
        if self.answer is not None and self.labels:
            return f"the {noun} of the label \u201c{self.answer.strip()}\u201d"
        if self.answer is not None:
            return f"the {noun} of the answer \u201c{self.answer.strip()}\u201d"
        return f"the {noun}"

    def push_phrases(self) -> tuple[str, str]:
        """How a positive and a negative value move the output, in words.

        For example ``("raises the logit margin of positive (away from negative)", "lowers it
        (toward negative)")``. "Toward" the other class is said only where it holds for every
        input: two classes and an output that falls when the other class gains (probability,
        log-probability, margin).
        """
        up, down = f"raises {self.output_phrase()}", "lowers it"
        if self.is_classification and len(self.labels) == 2:
            other = self.labels[1 - self.target]
            if self.output in ("prob", "log_prob", "logit_margin"):
                up += f" (away from {other})"
                down += f" (toward {other})"
        return up, down


def _labels(model: Any, n_classes: int) -> tuple[str, ...]:
    """Class labels from the model's ``config.id2label`` (``"class i"`` where missing)."""
    id2label = getattr(getattr(model, "config", None), "id2label", None) or {}
    labels = []
    for i in range(n_classes):
        label = id2label.get(i, id2label.get(str(i)))
        # transformers fills missing labels with "LABEL_i": say "class i" instead
        labels.append(str(label) if label and label != f"LABEL_{i}" else f"class {i}")
    return tuple(labels)


def _mask_text(game: Any) -> str | None:
    """What one removed player becomes in the model's input."""
    strategy = getattr(game, "mask_strategy", None)
    if strategy == "remove":
        return ""
    if strategy == "mask_token":
        from shapiq_spex.text.masking import mask_token_id

        tokenizer = getattr(game, "tokenizer", None)
        try:
            return str(tokenizer.convert_ids_to_tokens(mask_token_id(tokenizer)))
        except (AttributeError, InvalidParameterError):
            return None
    return strategy if isinstance(strategy, str) else None


def prediction_from_game(game: Any, *, model: str | None = None) -> Prediction:
    """Read the :class:`Prediction` off a text game.

    Args:
        game: a :class:`~shapiq_spex.TextClassificationGame` (labels, probabilities, explained
            class) or a :class:`~shapiq_spex.GenerationLogProbGame` (answer, query); anything with
            ``output``, ``original_model_output`` and ``empty_value`` works.
        model: the model's name for display; default the game's model class.

    Returns:
        The prediction: the game's output on the full text (``original_model_output``) and with
        every player removed (``empty_value``), and its masking.

    Raises:
        InvalidParameterError: the game lacks ``output``, ``original_model_output`` or
            ``empty_value``.
    """
    missing = [
        a for a in ("output", "original_model_output", "empty_value") if not hasattr(game, a)
    ]
    if missing:
        msg = (
            f"The 'game' parameter must be a text game (TextClassificationGame or "
            f"GenerationLogProbGame); {type(game).__name__} has no {', '.join(missing)}."
        )
        raise InvalidParameterError(msg)
    from shapiq_spex.plot.text import player_unit

    kwargs: dict[str, Any] = {
        "output": str(game.output),
        "full_value": float(game.original_model_output),
        "empty_value": float(game.empty_value),
        "masking": getattr(game, "mask_strategy", None),
        "mask_text": _mask_text(game),
        "player_kind": player_unit(getattr(game, "players", None)),
        "model": model or type(getattr(game, "model", game)).__name__,
    }
    logits = getattr(game, "original_logits", None)
    if logits is not None and hasattr(game, "target_class"):
        z = np.asarray(logits, dtype=np.float64)
        p = np.exp(z - z.max())
        kwargs["labels"] = _labels(getattr(game, "model", None), z.shape[0])
        kwargs["probabilities"] = tuple(float(v) for v in p / p.sum())
        kwargs["target"] = int(game.target_class)
    elif getattr(game, "scoring", None) == "label_logprob":
        # a served model scored on the first token of its labels: label 0 is explained
        kwargs["output"] = str(game.label_output)
        kwargs["labels"] = tuple(str(label) for label in game.labels)
        kwargs["answer"] = kwargs["labels"][0]
        kwargs["query"] = getattr(game, "query", None)
    elif getattr(game, "answer", None) is not None:
        kwargs["answer"] = str(game.answer)
        kwargs["query"] = getattr(game, "query", None)
    return Prediction(**kwargs)
