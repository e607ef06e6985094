"""shapiq-spex: fast, exact SPEX and ProxySPEX sparse interaction explainers for shapiq.

The public API at a glance:

* approximators (``shapiq.approximator.Approximator`` subclasses): :class:`SPEX`,
  :class:`ProxySPEX`, :class:`HybridSPEX`;
* spectra: :class:`SparseSpectrum` (Fourier or Möbius), :func:`to_interaction_values`;
* games with known spectra: :class:`SparseFourierGame`, :class:`SparseMoebiusGame`;
* metrics: :mod:`shapiq_spex.metrics`.
"""

from __future__ import annotations

from shapiq_spex import metrics, models
from shapiq_spex.approximators.spex import SPEX
from shapiq_spex.exceptions import (
    BudgetTooSmallError,
    DecodingWarning,
    InvalidGameError,
    InvalidParameterError,
    SpexError,
)
from shapiq_spex.games import (
    AttentionHeadGame,
    DataAttributionGame,
    EmbeddingSimilarityGame,
    GenerationLogProbGame,
    SparseFourierGame,
    SparseMoebiusGame,
    SpectrumGame,
    TextClassificationGame,
)
from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra.indices import SUPPORTED_INDICES, to_interaction_values
from shapiq_spex.text import TextMasker, TextPlayers

__version__ = "0.1.0"

__all__ = [
    "SPEX",
    "AttentionHeadGame",
    "DataAttributionGame",
    "EmbeddingSimilarityGame",
    "GenerationLogProbGame",
    "TextClassificationGame",
    "TextMasker",
    "TextPlayers",
    "models",
    "SUPPORTED_INDICES",
    "BudgetTooSmallError",
    "DecodingWarning",
    "InvalidGameError",
    "InvalidParameterError",
    "SparseFourierGame",
    "SparseMoebiusGame",
    "SparseSpectrum",
    "SpectrumGame",
    "SpexError",
    "__version__",
    "metrics",
    "to_interaction_values",
]
