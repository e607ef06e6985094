"""shapiq-spex: fast, exact SPEX and ProxySPEX sparse interaction explainers for shapiq.

The public API at a glance:

* approximators (``shapiq.approximator.Approximator`` subclasses): :class:`SPEX`,
  :class:`ProxySPEX`, :class:`HybridSPEX`;
* spectra: :class:`SparseSpectrum` (Fourier or Möbius), :func:`to_interaction_values`;
* games with known spectra: :class:`SparseFourierGame`, :class:`SparseMoebiusGame`;
* language-model games: :class:`TextClassificationGame`, :class:`GenerationLogProbGame`, ...;
* the query engine: :class:`QueryEngine`; metrics: :mod:`shapiq_spex.metrics`.

Attributes are imported lazily (PEP 562), so ``import shapiq_spex`` stays cheap: importing shapiq
itself can cost seconds (it pulls in torch and numba when installed), and worker processes of the
query engine need none of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "SPEX": "shapiq_spex.approximators.spex",
    "ProxySPEX": "shapiq_spex.approximators.proxyspex",
    "HybridSPEX": "shapiq_spex.approximators.hybrid",
    "ApproximationReport": "shapiq_spex.approximators._base",
    "SparseSpectrum": "shapiq_spex.spectra.spectrum",
    "SUPPORTED_INDICES": "shapiq_spex.spectra.indices",
    "to_interaction_values": "shapiq_spex.spectra.indices",
    "SparseFourierGame": "shapiq_spex.games.synthetic",
    "SparseMoebiusGame": "shapiq_spex.games.synthetic",
    "SpectrumGame": "shapiq_spex.games.synthetic",
    "TextClassificationGame": "shapiq_spex.games.text_classification",
    "GenerationLogProbGame": "shapiq_spex.games.generation",
    "EmbeddingSimilarityGame": "shapiq_spex.games.embedding",
    "EndpointGame": "shapiq_spex.games.endpoint",
    "AttentionHeadGame": "shapiq_spex.games.attention",
    "DataAttributionGame": "shapiq_spex.games.data_attribution",
    "RecordingGame": "shapiq_spex.games.recording",
    "TextPlayers": "shapiq_spex.text.players",
    "TextMasker": "shapiq_spex.text.masking",
    "QueryEngine": "shapiq_spex.engine.runner",
    "GameFactory": "shapiq_spex.engine.executors",
    "SpexError": "shapiq_spex.exceptions",
    "InvalidParameterError": "shapiq_spex.exceptions",
    "InvalidGameError": "shapiq_spex.exceptions",
    "BudgetTooSmallError": "shapiq_spex.exceptions",
    "GameIdentityError": "shapiq_spex.exceptions",
    "MissingDependencyError": "shapiq_spex.exceptions",
    "DecodingWarning": "shapiq_spex.exceptions",
    "PrecisionWarning": "shapiq_spex.exceptions",
    "BudgetCappedWarning": "shapiq_spex.exceptions",
    "best_subset": "shapiq_spex.optimize",
    "removal_curve": "shapiq_spex.optimize",
}
_SUBMODULES = {
    "metrics",
    "models",
    "games",
    "spectra",
    "codes",
    "engine",
    "endpoint",
    "text",
    "optimize",
    "plot",
    "integration",
    "proxy",
    "sampling",
}

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])

# Route shapiq's explainer strings "spex"/"proxyspex" to ours and add "hybridspex" as soon as
# shapiq's explainer configuration is imported (now, or later through an import hook), without
# importing shapiq here. Opt out with SHAPIQ_SPEX_NO_REGISTER=1; undo with
# shapiq_spex.integration.unregister().
from shapiq_spex.integration import install_import_hook as _install_import_hook  # noqa: E402

_install_import_hook()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"shapiq_spex.{name}")
    msg = f"module 'shapiq_spex' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from shapiq_spex.approximators.spex import SPEX  # noqa: F401
    from shapiq_spex.spectra.spectrum import SparseSpectrum  # noqa: F401
