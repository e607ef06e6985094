"""Tree proxies for ProxySPEX: fitting and tuning, exact Fourier extraction, support refinement."""

from __future__ import annotations

from shapiq_spex.proxy.models import PROXY_NAMES, ProxyFit, check_proxy, fit_proxy
from shapiq_spex.proxy.refine import Refinement, select_and_refit
from shapiq_spex.proxy.tree_arrays import TreeEnsembleArrays, ensemble_arrays, merge_ensembles
from shapiq_spex.proxy.tree_fourier import tree_spectrum, tree_terms

__all__ = [
    "PROXY_NAMES",
    "ProxyFit",
    "Refinement",
    "TreeEnsembleArrays",
    "check_proxy",
    "ensemble_arrays",
    "fit_proxy",
    "merge_ensembles",
    "select_and_refit",
    "tree_spectrum",
    "tree_terms",
]
