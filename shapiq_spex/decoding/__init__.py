"""SPEX decoding: bin measurements and the peeling decoder."""

from __future__ import annotations

from shapiq_spex.decoding.bins import bin_measurements, fwht
from shapiq_spex.decoding.peeling import PeelingResult, peel

__all__ = ["PeelingResult", "bin_measurements", "fwht", "peel"]
