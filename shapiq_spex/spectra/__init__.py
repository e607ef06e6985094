"""Sparse Fourier and Möbius spectra, basis changes and shapiq index conversions."""

from __future__ import annotations

from shapiq_spex.spectra.spectrum import Basis, SparseSpectrum, check_coalitions

__all__ = ["Basis", "SparseSpectrum", "check_coalitions"]
