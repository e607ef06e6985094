"""shapiq games for testing and benchmarking: synthetic games with a known sparse spectrum."""

from __future__ import annotations

from shapiq_spex.games.synthetic import (
    SparseFourierGame,
    SparseMoebiusGame,
    SpectrumGame,
    coalition_noise,
)

__all__ = ["SparseFourierGame", "SparseMoebiusGame", "SpectrumGame", "coalition_noise"]
