"""Binary BCH codes for SPEX: GF(2^m) arithmetic, code construction and batched decoding."""

from __future__ import annotations

from shapiq_spex.codes.bch import BCHCode, code_parameters, parity_length
from shapiq_spex.codes.decode import (
    DecodeResult,
    chase_candidates,
    chase_patterns,
    decode,
    syndromes,
)
from shapiq_spex.codes.gf2m import PRIMITIVE_POLYS, GF2m

__all__ = [
    "PRIMITIVE_POLYS",
    "BCHCode",
    "DecodeResult",
    "GF2m",
    "chase_candidates",
    "chase_patterns",
    "code_parameters",
    "decode",
    "parity_length",
    "syndromes",
]
