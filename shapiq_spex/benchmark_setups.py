"""shapiq_benchmark setups for shapiq-spex's games, and our approximators for its ``run``.

Importing this module registers three setups in ``shapiq_benchmark.setups.SETUPS`` (so
``setup_from_dict({"setup": "spex_sparse_fourier", ...})`` and
``shapiq_benchmark.Benchmark.from_setup(...)`` know them):

* ``"spex_sparse_fourier"`` (:class:`SparseFourierSetup`): a random Fourier-sparse game
  (parity-type terms) at any ``n``;
* ``"spex_hierarchical_moebius"`` (:class:`HierarchicalMoebiusSetup`): a random hierarchical
  Möbius-sparse game (every AND-type term brings all of its subsets, like LLM interactions);
* ``"spex_minilm_sentiment"`` (:class:`MiniLMSentimentSetup`): the offline MiniLM sentiment
  classifier on one review, players are its words.

The synthetic games expose ``moebius_coefficients``, so ``shapiq_benchmark``'s default computer is
its ``MoebiusComputer``: exact SII, k-SII, STII, FSII, FBII, BII, SV, BV and Möbius values at any
``n`` (``n = 1000`` is fine). The language game has no known spectrum; its ground truth is brute
force over all ``2^n`` coalitions (``BruteForceComputer``, one model call each), so keep its text
short: about 10 words cost 1,024 forward passes of MiniLM, a few seconds on a CPU.

Our approximators need nothing special in ``shapiq_benchmark.run``: they declare
``valid_indices`` and take ``n, max_order, index, random_state`` as keywords, which is what
``shapiq_benchmark.runner.build_approximator`` inspects. :func:`approximators` returns them by
display name.

Example:
    >>> from shapiq_benchmark import Benchmark, run
    >>> from shapiq_spex.benchmark_setups import HierarchicalMoebiusSetup, approximators
    >>> bench = Benchmark.from_setup(HierarchicalMoebiusSetup(n=200), cache=False)
    >>> table = run(bench, approximators(), [3000], index="k-SII", order=2)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shapiq_benchmark.setups import SETUPS, Setup, runtime_field

from shapiq_spex.exceptions import InvalidParameterError

__all__ = [
    "DEFAULT_REVIEW",
    "HierarchicalMoebiusSetup",
    "MiniLMSentimentSetup",
    "SparseFourierSetup",
    "approximators",
]

#: The review explained by :class:`MiniLMSentimentSetup` by default: 10 word players.
DEFAULT_REVIEW = "An uneven film, but the cast is wonderful."

# A reload of this module re-runs the class statements; forget the classes it registered before
# (shapiq_benchmark refuses a name that is already taken).
for _name, _cls in list(SETUPS.items()):
    if _cls.__module__ == __name__:
        del SETUPS[_name]


def _positive(value: int, name: str, setup: str) -> None:
    if value < 1:
        msg = f"{setup}.{name} must be >= 1. Got {value}."
        raise InvalidParameterError(msg)


@dataclass(frozen=True, kw_only=True)
class SparseFourierSetup(Setup, name="spex_sparse_fourier"):
    """A :class:`~shapiq_spex.SparseFourierGame`: random parity-type terms, exact ground truth.

    Attributes:
        n: number of players.
        n_terms: number of random Fourier terms.
        max_degree: largest term degree (the Möbius expansion of a degree-``d`` parity has
            ``2^d`` terms, so keep it small for the ground truth).
        min_degree: smallest term degree.
        coef_scale: scale of the coefficients.
        noise_std: standard deviation of the per-coalition deterministic Gaussian noise (the
            ground truth is that of the noiseless game).
        random_state: seed of the supports, coefficients and noise.
    """

    n: int = 200
    n_terms: int = 30
    max_degree: int = 3
    min_degree: int = 1
    coef_scale: float = 1.0
    noise_std: float = 0.0
    random_state: int = 0

    def __post_init__(self) -> None:
        """Check the fields (the game checks its own arguments when it is built)."""
        super().__post_init__()
        _positive(self.n, "n", type(self).__name__)

    def build(self):
        """Sample the game."""
        from shapiq_spex.games.synthetic import SparseFourierGame

        return SparseFourierGame(
            self.n,
            self.n_terms,
            self.max_degree,
            min_degree=self.min_degree,
            coef_scale=self.coef_scale,
            noise_std=self.noise_std,
            random_state=self.random_state,
        )


@dataclass(frozen=True, kw_only=True)
class HierarchicalMoebiusSetup(Setup, name="spex_hierarchical_moebius"):
    """A hierarchical :class:`~shapiq_spex.SparseMoebiusGame`: LLM-like terms, exact ground truth.

    Every top-level AND-type term also brings all of its nonempty subsets with coefficients that
    shrink by ``decay`` per dropped player, so the game has up to
    ``n_terms * (2^max_degree - 1)`` Möbius terms.

    Attributes:
        n: number of players.
        n_terms: number of top-level terms.
        max_degree: largest top-level degree.
        min_degree: smallest top-level degree.
        decay: per-level shrink factor of the subset coefficients.
        coef_scale: scale of the coefficients.
        noise_std: standard deviation of the per-coalition deterministic Gaussian noise.
        random_state: seed of the supports, coefficients and noise.
    """

    n: int = 200
    n_terms: int = 20
    max_degree: int = 4
    min_degree: int = 1
    decay: float = 0.5
    coef_scale: float = 1.0
    noise_std: float = 0.0
    random_state: int = 0

    def __post_init__(self) -> None:
        """Check the fields."""
        super().__post_init__()
        _positive(self.n, "n", type(self).__name__)

    def build(self):
        """Sample the game."""
        from shapiq_spex.games.synthetic import SparseMoebiusGame

        return SparseMoebiusGame(
            self.n,
            self.n_terms,
            self.max_degree,
            min_degree=self.min_degree,
            hierarchical=True,
            decay=self.decay,
            coef_scale=self.coef_scale,
            noise_std=self.noise_std,
            random_state=self.random_state,
        )


@dataclass(frozen=True, kw_only=True)
class MiniLMSentimentSetup(Setup, name="spex_minilm_sentiment"):
    """A :class:`~shapiq_spex.TextClassificationGame` of the offline MiniLM sentiment model.

    The ground truth is brute force (no known spectrum): ``2^n`` forward passes for ``n`` players,
    so keep the text to about 10-14 words (``shapiq_benchmark`` warns above 25 players).

    Attributes:
        text: the review.
        players: ``"word"``, ``"token"`` or ``"sentence"``.
        output: ``"logit_margin"`` (default), ``"logit"``, ``"log_prob"`` or ``"prob"``.
        mask_strategy: ``"mask_token"``, ``"remove"`` or a replacement string.
        target_class: explained class (0 negative, 1 positive); ``None`` = the predicted one.
        batch_size: masked texts per forward pass (runtime field: not part of the cache key).
        device: torch device (runtime field).
    """

    text: str = DEFAULT_REVIEW
    players: Literal["word", "token", "sentence"] = "word"
    output: Literal["logit_margin", "logit", "log_prob", "prob"] = "logit_margin"
    mask_strategy: str = "mask_token"
    target_class: int | None = None
    batch_size: int = runtime_field(64)
    device: str | None = runtime_field(None)

    def build(self):
        """Load the model (from disk) and build the game."""
        from shapiq_spex.games.text_classification import TextClassificationGame
        from shapiq_spex.models import load_sentiment_model

        model, tokenizer = load_sentiment_model(device=self.device or "cpu")
        return TextClassificationGame(
            self.text,
            model,
            tokenizer,
            target_class=self.target_class,
            output=self.output,
            players=self.players,
            mask_strategy=self.mask_strategy,
            batch_size=self.batch_size,
        )


def approximators(*, suffix: str = "") -> dict[str, type]:
    """shapiq-spex's approximator classes by display name, for ``shapiq_benchmark.run``.

    Args:
        suffix: appended to every name (e.g. ``" (shapiq-spex)"`` next to shapiq's built-ins).

    Returns:
        ``{"SPEX" + suffix: SPEX, "ProxySPEX" + suffix: ProxySPEX, "HybridSPEX" + suffix:
        HybridSPEX}``.
    """
    from shapiq_spex.approximators.hybrid import HybridSPEX
    from shapiq_spex.approximators.proxyspex import ProxySPEX
    from shapiq_spex.approximators.spex import SPEX

    return {
        f"SPEX{suffix}": SPEX,
        f"ProxySPEX{suffix}": ProxySPEX,
        f"HybridSPEX{suffix}": HybridSPEX,
    }
