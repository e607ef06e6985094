"""Synthetic shapiq games with a known sparse spectrum (exact ground truth at any ``n``).

* :class:`SpectrumGame`: any :class:`~shapiq_spex.spectra.SparseSpectrum` as a ``shapiq.Game``.
* :class:`SparseFourierGame`: random parity-type terms ``F[K] * (-1) ** |K ∩ x|``.
* :class:`SparseMoebiusGame`: random AND-type terms ``a[S] * [S ⊆ x]``, optionally hierarchical
  (every term also brings all of its nonempty subsets with smaller coefficients).

Every game exposes ``fourier_spectrum``, ``moebius_spectrum`` and ``moebius_coefficients`` (a
shapiq ``InteractionValues`` with index ``"Moebius"``, which is what
``shapiq_benchmark.MoebiusComputer`` reads to compute exact indices at any ``n``).

Noise: with ``noise_std > 0`` each value gets additive Gaussian noise that is a deterministic
function of ``(game seed, coalition)``: the coalition's bits are packed into 64-bit words, chained
through a splitmix64 mixer keyed by a 64-bit key drawn once from ``random_state``, and the two
resulting 53-bit uniforms are turned into one standard normal by Box–Muller. Querying the same
coalition twice therefore returns the same value (so caches and side-by-side comparisons of
different algorithms on the same game are fair), games built from the same ``random_state`` agree
everywhere, and games from different seeds have different, independent-looking noise.
"""

from __future__ import annotations

import math
import numbers
from functools import cached_property
from itertools import combinations
from typing import Literal

import numpy as np
from shapiq import Game, InteractionValues

from shapiq_spex._random import as_generator, spawn
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games._identity import array_digest, game_identity
from shapiq_spex.spectra import Basis, SparseSpectrum, check_coalitions
from shapiq_spex.spectra._subsets import PAD, canonicalize

__all__ = ["SparseFourierGame", "SparseMoebiusGame", "SpectrumGame", "coalition_noise"]

CoefDistribution = Literal["uniform", "normal"]

# splitmix64 constants (Steele, Lea & Flood 2014).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
# Domain separators for the two uniforms of Box–Muller (arbitrary odd 64-bit constants).
_STREAM_U1 = np.uint64(0xD1B54A32D192ED03)
_STREAM_U2 = np.uint64(0x8CB92BA72F3D8DD7)


# ---------------------------------------------------------------------------------- validation
def _check_int(value, name: str, *, low: int, high: int | None = None) -> int:
    """Return ``value`` as int after checking ``low <= value <= high``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        msg = f"The '{name}' parameter must be an int. Got {value!r}."
        raise InvalidParameterError(msg)
    value = int(value)
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        msg = f"The '{name}' parameter must be >= {low}{upper}. Got {value}."
        raise InvalidParameterError(msg)
    return value


def _check_float(value, name: str, *, positive: bool = False) -> float:
    """Return ``value`` as a finite float, non-negative (or strictly positive if asked)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        msg = f"The '{name}' parameter must be a real number. Got {value!r}."
        raise InvalidParameterError(msg)
    value = float(value)
    bad = not math.isfinite(value) or value < 0.0 or (positive and value == 0.0)
    if bad:
        kind = "a finite number > 0" if positive else "a finite number >= 0"
        msg = f"The '{name}' parameter must be {kind}. Got {value}."
        raise InvalidParameterError(msg)
    return value


def _check_real(value, name: str) -> float:
    """Return ``value`` as a finite float of any sign."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        msg = f"The '{name}' parameter must be a finite real number. Got {value!r}."
        raise InvalidParameterError(msg)
    return float(value)


def _spectrum_from_coefficients(n: int, coefficients, basis: Basis) -> SparseSpectrum:
    """Validate ``{players_tuple: coefficient}`` and build a spectrum in ``basis``."""
    if not isinstance(coefficients, dict):
        msg = (
            "The 'coefficients' parameter must be a dict {tuple_of_players: coefficient}. "
            f"Got {type(coefficients).__name__}."
        )
        raise InvalidParameterError(msg)
    seen: dict[tuple[int, ...], tuple] = {}
    terms: dict[tuple[int, ...], float] = {}
    for key, coef in coefficients.items():
        players = (key,) if isinstance(key, numbers.Integral) else key
        try:
            players = tuple(players)
        except TypeError:
            msg = f"The 'coefficients' keys must be tuples of player indices. Got {key!r}."
            raise InvalidParameterError(msg) from None
        for p in players:
            if not isinstance(p, numbers.Integral) or isinstance(p, bool) or not 0 <= p < n:
                msg = (
                    f"The 'coefficients' key {key!r} holds {p!r}; players must be ints in [0, {n})."
                )
                raise InvalidParameterError(msg)
        canon = tuple(sorted(int(p) for p in players))
        if len(set(canon)) != len(canon):
            msg = f"The 'coefficients' key {key!r} lists a player twice; list each player once."
            raise InvalidParameterError(msg)
        if canon in seen:
            msg = (
                f"The 'coefficients' keys {seen[canon]!r} and {key!r} are the same interaction; "
                "give each interaction once."
            )
            raise InvalidParameterError(msg)
        if (
            not isinstance(coef, numbers.Real)
            or isinstance(coef, bool)
            or not math.isfinite(float(coef))
        ):
            msg = f"The 'coefficients' value of {key!r} must be a finite real number. Got {coef!r}."
            raise InvalidParameterError(msg)
        seen[canon] = key
        terms[canon] = float(coef)
    return SparseSpectrum.from_dict(n, terms, basis)


# ---------------------------------------------------------------------------------- sampling
def _capacity(n: int, min_degree: int, max_degree: int) -> int:
    """Number of distinct supports with degree in ``[min_degree, max_degree]`` (a Python int)."""
    return sum(math.comb(n, d) for d in range(min_degree, max_degree + 1))


def _allocate_degrees(rng, n: int, n_terms: int, min_degree: int, max_degree: int) -> np.ndarray:
    """Number of terms per degree: uniform over the degrees, as far as each degree has room.

    Returns:
        ``(max_degree - min_degree + 1,)`` int64 counts summing to ``n_terms``; count ``j`` never
        exceeds ``C(n, min_degree + j)``.
    """
    n_deg = max_degree - min_degree + 1
    cap = np.array(
        [min(math.comb(n, d), n_terms) for d in range(min_degree, max_degree + 1)], dtype=np.int64
    )
    counts = np.minimum(rng.multinomial(n_terms, np.full(n_deg, 1.0 / n_deg)), cap)
    overflow = n_terms - int(counts.sum())
    if overflow:  # move the overflow to random free slots of degrees that still have room
        room = cap - counts  # each entry <= n_terms, so this never enumerates C(n, d)
        slots = rng.choice(int(room.sum()), size=overflow, replace=False)
        counts += np.bincount(
            np.searchsorted(np.cumsum(room), slots, side="right"), minlength=n_deg
        )
    return counts


def _floyd_subsets(rng, n: int, d: int, m: int) -> np.ndarray:
    """``m`` independent uniform ``d``-subsets of ``range(n)`` (Floyd's algorithm, vectorized).

    Returns:
        ``(m, d)`` int64, each row ascending.
    """
    out = np.empty((m, d), dtype=np.int64)
    for k in range(d):
        j = n - d + k
        t = rng.integers(0, j + 1, size=m)
        if k:
            t = np.where((out[:, :k] == t[:, None]).any(axis=1), j, t)
        out[:, k] = t
    out.sort(axis=1)
    return out


def _distinct_subsets(rng, n: int, d: int, count: int) -> np.ndarray:
    """``count`` distinct uniform random ``d``-subsets of ``range(n)``.

    Small families (``C(n, d) <= 4 * count``) are enumerated and subsampled; otherwise subsets are
    drawn i.i.d. and duplicates rejected (each draw is new with probability >= 3/4), so memory is
    ``O(count * d)`` and ``C(n, d)`` is never enumerated when it is large.

    Returns:
        ``(count, d)`` int64, each row ascending, rows distinct.
    """
    if count == 0 or d == 0:
        return np.zeros((count, d), dtype=np.int64)
    total = math.comb(n, d)
    if total <= 4 * count:
        family = np.fromiter(
            (p for combo in combinations(range(n), d) for p in combo),
            dtype=np.int64,
            count=total * d,
        ).reshape(total, d)
        return family[rng.choice(total, size=count, replace=False)]
    chosen = np.zeros((0, d), dtype=np.int64)
    while chosen.shape[0] < count:
        need = count - chosen.shape[0]
        cand = np.concatenate([chosen, _floyd_subsets(rng, n, d, need + need // 3 + 8)])
        _, first = np.unique(cand, axis=0, return_index=True)
        # First occurrences in draw order = sampling without replacement; earlier picks stay.
        chosen = cand[np.sort(first)[:count]]
    return chosen


def _random_supports(rng, n: int, n_terms: int, min_degree: int, max_degree: int) -> np.ndarray:
    """``n_terms`` distinct random supports with degrees spread uniformly over the range.

    Returns:
        ``(n_terms, max_degree)`` int64 padded supports (rows ascending, ``-1`` at the end).
    """
    counts = _allocate_degrees(rng, n, n_terms, min_degree, max_degree)
    out = np.full((n_terms, max_degree), PAD, dtype=np.int64)
    row = 0
    for d, c in zip(range(min_degree, max_degree + 1), counts, strict=True):
        out[row : row + c, :d] = _distinct_subsets(rng, n, d, int(c))
        row += int(c)
    return out[rng.permutation(n_terms)]


def _random_coefs(rng, size: int, distribution: CoefDistribution, scale: float) -> np.ndarray:
    """Coefficients: ``"uniform"`` = random sign times ``U[0.5, 1]``, ``"normal"`` = ``N(0, 1)``.

    Returns:
        ``(size,)`` float64, multiplied by ``scale``.
    """
    if distribution == "uniform":
        return scale * rng.choice([-1.0, 1.0], size=size) * rng.uniform(0.5, 1.0, size=size)
    return scale * rng.standard_normal(size)


def _check_sampling_args(
    n, n_terms, max_degree, min_degree, coef_scale, coef_distribution, constant
) -> tuple[int, int, int, int, float, float]:
    """Validate the shared arguments of the random games."""
    n = _check_int(n, "n", low=1)
    n_terms = _check_int(n_terms, "n_terms", low=0)
    max_degree = _check_int(max_degree, "max_degree", low=0, high=n)
    if not isinstance(min_degree, numbers.Integral) or isinstance(min_degree, bool):
        msg = f"The 'min_degree' parameter must be an int. Got {min_degree!r}."
        raise InvalidParameterError(msg)
    if not 0 <= min_degree <= max_degree:
        msg = (
            f"The 'min_degree' parameter must satisfy 0 <= min_degree <= max_degree={max_degree}. "
            f"Got {min_degree}; lower min_degree or raise max_degree."
        )
        raise InvalidParameterError(msg)
    min_degree = int(min_degree)
    coef_scale = _check_float(coef_scale, "coef_scale", positive=True)
    if coef_distribution not in ("uniform", "normal"):
        msg = (
            "The 'coef_distribution' parameter must be 'uniform' or 'normal'. "
            f"Got {coef_distribution!r}."
        )
        raise InvalidParameterError(msg)
    constant = _check_real(constant, "constant")
    capacity = _capacity(n, min_degree, max_degree)
    if n_terms > capacity:
        msg = (
            f"The 'n_terms' parameter ({n_terms}) exceeds the number of distinct supports of "
            f"degree {min_degree}..{max_degree} on {n} players ({capacity}); lower n_terms or "
            "widen the degree range."
        )
        raise InvalidParameterError(msg)
    return n, n_terms, max_degree, min_degree, coef_scale, constant


# ---------------------------------------------------------------------------------- noise
def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 output function applied elementwise to a ``uint64`` array (wraps mod 2^64)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def coalition_noise(coalitions: np.ndarray, key: int) -> np.ndarray:
    """Standard normal noise that is a deterministic function of ``(key, coalition)``.

    Args:
        coalitions: ``(m, n)`` boolean coalitions.
        key: 64-bit key (an int in ``[0, 2**64)``); different keys give independent-looking noise.

    Returns:
        ``(m,)`` float64, approximately i.i.d. ``N(0, 1)`` across distinct coalitions and equal for
        equal coalitions.
    """
    x = np.asarray(coalitions, dtype=bool)
    m, n = x.shape
    packed = np.packbits(x, axis=1, bitorder="little")  # (m, ceil(n / 8)) uint8
    n_words = max(1, -(-packed.shape[1] // 8))
    padded = np.zeros((m, 8 * n_words), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    words = padded.view("<u8").astype(np.uint64)  # (m, n_words), platform-independent
    h = _splitmix64(np.full(m, np.uint64(key) ^ np.uint64(n), dtype=np.uint64))
    for j in range(n_words):  # chain the words: position-dependent, O(m * n / 64)
        h = _splitmix64(h ^ words[:, j])
    scale = 2.0**-53
    u1 = (_splitmix64(h ^ _STREAM_U1) >> np.uint64(11)).astype(np.float64) * scale  # [0, 1)
    u2 = (_splitmix64(h ^ _STREAM_U2) >> np.uint64(11)).astype(np.float64) * scale
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


# ---------------------------------------------------------------------------------- games
class SpectrumGame(Game):
    """A ``shapiq.Game`` whose (noise-free) value function is a known sparse spectrum.

    Values are raw (``normalize=False``): ``game(x) = spectrum(x) + noise_std * z(x)`` where
    ``z(x)`` is the deterministic per-coalition standard normal of :func:`coalition_noise`.

    Attributes:
        spectrum: the spectrum in its native basis (what :meth:`value_function` evaluates).
        noise_std: standard deviation of the additive Gaussian noise (0.0 = noiseless).
        fourier_spectrum: the same function as a Fourier spectrum.
        moebius_spectrum: the same function as a Möbius spectrum.
        moebius_coefficients: ``InteractionValues`` (index ``"Moebius"``) of the noiseless game.
    """

    def __init__(
        self,
        spectrum: SparseSpectrum,
        *,
        noise_std: float = 0.0,
        random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
    ) -> None:
        """Wrap a spectrum as a game.

        Args:
            spectrum: the noiseless value function.
            noise_std: standard deviation of the additive Gaussian noise. Defaults to ``0.0``.
            random_state: seed of the noise key (only the noise depends on it). Defaults to
                ``None`` (fresh entropy).
        """
        if not isinstance(spectrum, SparseSpectrum):
            msg = f"The 'spectrum' parameter must be a SparseSpectrum. Got {type(spectrum)!r}."
            raise InvalidParameterError(msg)
        noise_std = _check_float(noise_std, "noise_std")
        self._setup(spectrum, noise_std, as_generator(random_state))

    def _setup(self, spectrum: SparseSpectrum, noise_std: float, rng: np.random.Generator) -> None:
        self.spectrum = spectrum
        self.noise_std = noise_std
        self._noise_key = int(rng.integers(0, 2**64, dtype=np.uint64))
        super().__init__(spectrum.n, normalize=False)

    # ------------------------------------------------------------------ spectra
    @cached_property
    def fourier_spectrum(self) -> SparseSpectrum:
        """The noiseless game as a Fourier spectrum ``f(x) = sum_K F[K] (-1)^|K ∩ x|``."""
        return self.spectrum.to_fourier()

    @cached_property
    def moebius_spectrum(self) -> SparseSpectrum:
        """The noiseless game as a Möbius spectrum ``f(x) = sum_S a[S] [S ⊆ x]``."""
        return self.spectrum.to_moebius()

    @property
    def moebius_coefficients(self) -> InteractionValues:
        """Möbius transform of the noiseless game, as ``shapiq_benchmark.MoebiusComputer`` reads it.

        Index ``"Moebius"``, every term of :attr:`moebius_spectrum` plus ``()`` (the value of the
        empty coalition, also the ``baseline_value``), ``min_order=0``, ``max_order`` = the
        largest degree, ``n_players = n``. A new object is built on every access.
        """
        terms = self.moebius_spectrum.to_dict()
        empty_value = terms.setdefault((), 0.0)
        keys = sorted(terms, key=lambda t: (len(t), t))
        return InteractionValues(
            values=np.array([terms[k] for k in keys], dtype=float),
            index="Moebius",
            max_order=self.moebius_spectrum.max_degree,
            min_order=0,
            n_players=self.n_players,
            interaction_lookup={k: i for i, k in enumerate(keys)},
            estimated=False,
            estimation_budget=None,
            baseline_value=float(empty_value),
        )

    # ------------------------------------------------------------------ values
    def noiseless_values(self, coalitions) -> np.ndarray:
        """Noise-free values of ``(m, n)`` boolean coalitions; returns ``(m,)`` float64."""
        return self.spectrum.evaluate(check_coalitions(coalitions, self.n_players))

    def noise(self, coalitions) -> np.ndarray:
        """The noise ``noise_std * z(x)`` added to each of ``(m, n)`` coalitions; ``(m,)``."""
        x = check_coalitions(coalitions, self.n_players)
        if self.noise_std == 0.0:
            return np.zeros(x.shape[0])
        return self.noise_std * coalition_noise(x, self._noise_key)

    def value_function(self, coalitions: np.ndarray) -> np.ndarray:
        """Values of ``(m, n)`` boolean coalitions, noise included; returns ``(m,)`` float64."""
        x = check_coalitions(coalitions, self.n_players)
        values = self.spectrum.evaluate(x)
        if self.noise_std > 0.0:
            values = values + self.noise_std * coalition_noise(x, self._noise_key)
        return values

    def cache_identity(self) -> dict:
        """What determines this game's values, for the cache of a :class:`~shapiq_spex.QueryEngine`.

        The spectrum itself (SHA-256 of its supports and coefficients) rather than the
        constructor's arguments, so that a game drawn with ``random_state=None`` or a
        ``Generator`` is identified as exactly as a seeded one.

        Returns:
            A JSON-serialisable dict: ``game``, ``value_semantics``, ``n_players``, ``basis``,
            ``n_terms``, ``supports`` and ``coefs`` (SHA-256), ``noise_std`` and ``noise_key``
            (``None`` when noiseless: the key then changes nothing).
        """
        return game_identity(
            self,
            n_players=int(self.n_players),
            basis=self.spectrum.basis,
            n_terms=len(self.spectrum),
            supports=array_digest(self.spectrum.supports.astype(np.int64)),
            coefs=array_digest(self.spectrum.coefs.astype(np.float64)),
            noise_std=float(self.noise_std),
            noise_key=int(self._noise_key) if self.noise_std > 0.0 else None,
        )

    # ------------------------------------------------------------------ construction
    _basis: Basis = "fourier"

    @classmethod
    def from_coefficients(
        cls,
        n: int,
        coefficients: dict[tuple[int, ...], float],
        noise_std: float = 0.0,
        random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
    ):
        """Build the game from ``{players_tuple: coefficient}`` in the class's basis.

        Args:
            n: number of players (>= 1).
            coefficients: one entry per interaction (players in ``[0, n)``, each once; ``()`` is
                the constant term); coefficients must be finite.
            noise_std: standard deviation of the additive noise. Defaults to ``0.0``.
            random_state: seed of the noise key. Defaults to ``None``.

        Returns:
            An instance of ``cls`` (Fourier basis for :class:`SparseFourierGame` and
            :class:`SpectrumGame`, Möbius basis for :class:`SparseMoebiusGame`).
        """
        n = _check_int(n, "n", low=1)
        spectrum = _spectrum_from_coefficients(n, coefficients, cls._basis)
        noise_std = _check_float(noise_std, "noise_std")
        game = cls.__new__(cls)
        game._init_given(spectrum)
        SpectrumGame._setup(game, spectrum, noise_std, as_generator(random_state))
        return game

    def _init_given(self, spectrum: SparseSpectrum) -> None:
        """Hook of :meth:`from_coefficients`: set subclass attributes for a given spectrum."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n={self.n_players}, terms={len(self.spectrum)}, "
            f"max_degree={self.spectrum.max_degree}, noise_std={self.noise_std})"
        )


class SparseFourierGame(SpectrumGame):
    """A random Fourier-sparse game: ``f(x) = c + sum_k F_k (-1)^|K_k ∩ x|`` (+ noise).

    ``n_terms`` distinct random supports ``K_k``; the number of terms of each degree in
    ``[min_degree, max_degree]`` is multinomial with equal probabilities (a degree with fewer
    distinct supports than drawn is filled up and its surplus moved to other degrees); the
    supports of one degree are uniform among all ``C(n, d)`` without replacement. Coefficients are
    ``coef_scale * (random sign) * U[0.5, 1]`` (``coef_distribution="uniform"``, bounded away from 0
    so every term is recoverable) or ``coef_scale * N(0, 1)`` (``"normal"``). The constant ``c`` is
    ``F[()]`` (a sampled empty support, possible with ``min_degree=0``, adds to it).

    Attributes:
        n_terms: number of sampled (non-constant unless ``min_degree=0``) terms.
        min_degree: smallest sampled degree.
        max_degree: largest sampled degree.
        spectrum: the Fourier spectrum (also :attr:`fourier_spectrum`).
    """

    _basis: Basis = "fourier"

    def __init__(
        self,
        n: int,
        n_terms: int,
        max_degree: int,
        *,
        min_degree: int = 1,
        constant: float = 0.0,
        coef_scale: float = 1.0,
        coef_distribution: CoefDistribution = "uniform",
        noise_std: float = 0.0,
        random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
    ) -> None:
        """Sample the game.

        Args:
            n: number of players (>= 1).
            n_terms: number of distinct random terms (>= 0, at most the number of supports with
                degree in ``[min_degree, max_degree]``).
            max_degree: largest degree, in ``[0, n]``.
            min_degree: smallest degree, in ``[0, max_degree]``. Defaults to ``1``.
            constant: the constant Fourier coefficient ``F[()]`` (the mean of ``f``). Defaults to
                ``0.0``.
            coef_scale: scale of the coefficients (> 0). Defaults to ``1.0``.
            coef_distribution: ``"uniform"`` (random sign times ``U[0.5, 1]``) or ``"normal"``.
                Defaults to ``"uniform"``.
            noise_std: standard deviation of the additive, per-coalition deterministic Gaussian
                noise. Defaults to ``0.0``.
            random_state: seed of the supports, coefficients and noise. Defaults to ``None``.
        """
        n, n_terms, max_degree, min_degree, coef_scale, constant = _check_sampling_args(
            n, n_terms, max_degree, min_degree, coef_scale, coef_distribution, constant
        )
        noise_std = _check_float(noise_std, "noise_std")
        spec_rng, noise_rng = spawn(as_generator(random_state), 2)
        supports = _random_supports(spec_rng, n, n_terms, min_degree, max_degree)
        coefs = _random_coefs(spec_rng, n_terms, coef_distribution, coef_scale)
        supports = np.concatenate([np.full((1, max_degree), PAD, dtype=np.int64), supports])
        spectrum = SparseSpectrum(n, supports, np.concatenate([[constant], coefs]), "fourier")
        self.n_terms = n_terms
        self.min_degree = min_degree
        self.max_degree = max_degree
        self._setup(spectrum, noise_std, noise_rng)

    def _init_given(self, spectrum: SparseSpectrum) -> None:
        deg = spectrum.degrees
        nonconst = deg[deg > 0]
        self.n_terms = int(nonconst.size)
        self.min_degree = int(nonconst.min()) if nonconst.size else 0
        self.max_degree = spectrum.max_degree


class SparseMoebiusGame(SpectrumGame):
    """A random Möbius-sparse game: ``f(x) = c + sum_S a_S [S ⊆ x]`` (+ noise).

    ``n_terms`` distinct random top-level supports, with degrees and coefficients drawn as in
    :class:`SparseFourierGame`. With ``hierarchical=True`` every top-level term ``T`` also brings
    **all** of its nonempty proper subsets ``S`` with coefficient
    ``|a_T| * decay ** (|T| - |S|) * U[0.5, 1]`` and an independent random sign (a subset shared by
    several top terms gets the sum), like LLM interactions where a large interaction comes with
    its lower-order parts. The spectrum then has up to ``n_terms * (2 ** max_degree - 1)`` terms.

    Attributes:
        n_terms: number of top-level terms.
        min_degree: smallest top-level degree.
        max_degree: largest top-level degree.
        hierarchical: whether subsets were added.
        decay: per-level shrink factor of the subset coefficients.
        top_supports: ``(n_terms, max_degree)`` int64 padded supports of the top-level terms (for
            :meth:`from_coefficients`: every non-constant given term).
        spectrum: the Möbius spectrum (also :attr:`moebius_spectrum`).
    """

    _basis: Basis = "moebius"

    def __init__(
        self,
        n: int,
        n_terms: int,
        max_degree: int,
        *,
        min_degree: int = 1,
        hierarchical: bool = False,
        decay: float = 0.5,
        constant: float = 0.0,
        coef_scale: float = 1.0,
        coef_distribution: CoefDistribution = "uniform",
        noise_std: float = 0.0,
        random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
    ) -> None:
        """Sample the game.

        Args:
            n: number of players (>= 1).
            n_terms: number of distinct top-level terms (>= 0, at most the number of supports
                with degree in ``[min_degree, max_degree]``).
            max_degree: largest degree, in ``[0, n]``.
            min_degree: smallest top-level degree, in ``[0, max_degree]``. Defaults to ``1``.
            hierarchical: add all nonempty proper subsets of every top-level term. Defaults to
                ``False``.
            decay: factor (> 0) by which subset coefficients shrink per dropped player. Defaults
                to ``0.5``.
            constant: the constant Möbius coefficient ``a[()] = f(∅)``. Defaults to ``0.0``.
            coef_scale: scale of the coefficients (> 0). Defaults to ``1.0``.
            coef_distribution: ``"uniform"`` (random sign times ``U[0.5, 1]``) or ``"normal"``.
                Defaults to ``"uniform"``.
            noise_std: standard deviation of the additive, per-coalition deterministic Gaussian
                noise. Defaults to ``0.0``.
            random_state: seed of the supports, coefficients and noise. Defaults to ``None``.
        """
        n, n_terms, max_degree, min_degree, coef_scale, constant = _check_sampling_args(
            n, n_terms, max_degree, min_degree, coef_scale, coef_distribution, constant
        )
        if not isinstance(hierarchical, bool | np.bool_):
            msg = f"The 'hierarchical' parameter must be a bool. Got {hierarchical!r}."
            raise InvalidParameterError(msg)
        decay = _check_float(decay, "decay", positive=True)
        noise_std = _check_float(noise_std, "noise_std")
        spec_rng, noise_rng = spawn(as_generator(random_state), 2)
        top = _random_supports(spec_rng, n, n_terms, min_degree, max_degree)
        coefs = _random_coefs(spec_rng, n_terms, coef_distribution, coef_scale)
        rows = [np.full((1, max_degree), PAD, dtype=np.int64), top]
        vals = [np.array([constant]), coefs]
        if hierarchical:
            sub_rows, sub_vals = _subset_terms(spec_rng, top, coefs, decay)
            rows.append(sub_rows)
            vals.append(sub_vals)
        supports, c = canonicalize(np.concatenate(rows), np.concatenate(vals))
        self.n_terms = n_terms
        self.min_degree = min_degree
        self.max_degree = max_degree
        self.hierarchical = bool(hierarchical)
        self.decay = decay
        self.top_supports = top
        self._setup(SparseSpectrum(n, supports, c, "moebius"), noise_std, noise_rng)

    def _init_given(self, spectrum: SparseSpectrum) -> None:
        deg = spectrum.degrees
        self.top_supports = spectrum.supports[deg > 0]
        self.n_terms = int(self.top_supports.shape[0])
        self.min_degree = int(deg[deg > 0].min()) if self.n_terms else 0
        self.max_degree = spectrum.max_degree
        self.hierarchical = False
        self.decay = None


def _subset_terms(rng, top: np.ndarray, coefs: np.ndarray, decay: float):
    """All nonempty proper subsets of each top-level term, with random shrunken coefficients.

    Args:
        rng: generator of the subset coefficients.
        top: ``(s, w)`` padded top-level supports.
        coefs: ``(s,)`` top-level coefficients.
        decay: per-level shrink factor.

    Returns:
        ``(supports (r, w), coefs (r,))`` (duplicates not yet summed).
    """
    w = top.shape[1]
    deg = (top >= 0).sum(axis=1)
    out_rows, out_vals = [], []
    for d in np.unique(deg):
        d = int(d)
        sel = deg == d
        rows, mag = top[sel, :d], np.abs(coefs[sel])
        for j in range(1, d):
            combos = np.array(list(combinations(range(d), j)), dtype=np.int64)  # (C(d, j), j)
            sub = rows[:, combos].reshape(-1, j)  # (count * C(d, j), j)
            padded = np.full((sub.shape[0], w), PAD, dtype=np.int64)
            padded[:, :j] = sub
            base = np.repeat(mag, combos.shape[0]) * decay ** (d - j)
            out_rows.append(padded)
            out_vals.append(_random_coefs(rng, sub.shape[0], "uniform", 1.0) * base)
    if not out_rows:
        return np.zeros((0, w), dtype=np.int64), np.zeros(0)
    return np.concatenate(out_rows), np.concatenate(out_vals)
