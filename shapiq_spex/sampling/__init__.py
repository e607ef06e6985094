"""Query designs: uniform random coalitions (ProxySPEX) and SPEX's structured design."""

from __future__ import annotations

from shapiq_spex.sampling.random_masks import mask_keys, uniform_masks, unique_masks

__all__ = ["mask_keys", "uniform_masks", "unique_masks"]
