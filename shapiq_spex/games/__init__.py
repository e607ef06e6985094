"""shapiq games for testing and benchmarking: synthetic games with a known sparse spectrum."""

from __future__ import annotations

from shapiq_spex.games.attention import AttentionHeadGame
from shapiq_spex.games.data_attribution import DataAttributionGame
from shapiq_spex.games.embedding import EmbeddingSimilarityGame
from shapiq_spex.games.endpoint import EndpointGame
from shapiq_spex.games.generation import GenerationLogProbGame
from shapiq_spex.games.recording import RecordingGame
from shapiq_spex.games.synthetic import (
    SparseFourierGame,
    SparseMoebiusGame,
    SpectrumGame,
    coalition_noise,
)
from shapiq_spex.games.text_classification import TextClassificationGame

__all__ = [
    "AttentionHeadGame",
    "DataAttributionGame",
    "EmbeddingSimilarityGame",
    "EndpointGame",
    "GenerationLogProbGame",
    "RecordingGame",
    "SparseFourierGame",
    "SparseMoebiusGame",
    "SpectrumGame",
    "TextClassificationGame",
    "coalition_noise",
]
