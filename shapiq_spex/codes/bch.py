"""Shortened, systematic, primitive narrow-sense binary BCH codes.

SPEX hashes a frequency ``k in {0,1}^n`` (a set of players) to the parity bits of the BCH
codeword whose message is ``k``; decoding the parity bits of a bin gives ``k`` back as an error
pattern (see :mod:`shapiq_spex.codes.decode`).

The code. Let ``alpha`` be the primitive element of GF(2^m) (:class:`~shapiq_spex.codes.gf2m.GF2m`)
and ``n_c = 2^m - 1``. The primitive narrow-sense binary BCH code of designed distance
``delta = 2t + 1`` has the generator polynomial

    ``g(x) = lcm(M_1(x), ..., M_2t(x))``,   ``M_i`` = minimal polynomial of ``alpha^i`` over GF(2),

so its roots are ``alpha^j`` for ``j`` in the union of the cyclotomic cosets
``C_i = {i 2^s mod n_c}`` of ``i = 1..2t`` (even ``i`` add nothing: ``C_2i = C_i``). Its
dimension is ``k_c = n_c - p`` with ``p = deg g``; by the BCH bound its minimum distance is at
least ``2t + 1``, so it corrects every pattern of at most ``t`` bit errors.

Layout (systematic, shortened to ``n`` message bits): message bit ``i`` sits at codeword
position ``p + i`` and the parity bits at positions ``0..p-1``,

    ``c(x) = x^p m(x) + (x^p m(x) mod g(x))``,   ``m(x) = sum_i k_i x^i``,

and positions ``p + n .. n_c - 1`` are always zero (shortening). So parity bit ``r`` of message
``k`` is ``(P k)_r mod 2``, where column ``i`` of the parity matrix ``P`` (``p x n``) holds the
coefficients of ``x^{p+i} mod g(x)``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from shapiq_spex.codes.gf2m import MAX_M, GF2m
from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["BCHCode", "as_bits", "code_parameters", "parity_length"]


def as_bits(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` as bool if it is boolean or an integer array of 0/1, else raise naming ``name``."""
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.integer) or (arr.size and (arr.min() < 0 or arr.max() > 1)):
        msg = f"The '{name}' parameter must be boolean or hold only 0/1. Got {arr.dtype}."
        raise InvalidParameterError(msg)
    return arr.astype(bool)


# Row chunks of encode_parity are sized so that the float32 copy stays near this many entries.
_ENCODE_CHUNK_ENTRIES = 1 << 22


def _check_int(value, name: str, low: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        msg = f"The '{name}' parameter of BCHCode must be an int >= {low}. Got {value!r}."
        raise InvalidParameterError(msg)
    return int(value)


def _min_m(t: int) -> int:
    """Smallest ``m`` with ``2^m - 1 >= 2t + 1`` (``m >= ceil(log2(2t + 2))``)."""
    return max(2, (2 * t + 1).bit_length())


@lru_cache(maxsize=512)
def _root_exponents(m: int, t: int) -> tuple[int, ...]:
    """Sorted exponents ``j`` of the roots ``alpha^j`` of ``g``: union of the cosets of 1..2t."""
    n_c = (1 << m) - 1
    roots: set[int] = set()
    for i in range(1, 2 * t, 2):  # odd i only: the coset of 2i is the coset of i
        j = i % n_c
        while j not in roots:
            roots.add(j)
            j = (2 * j) % n_c
    return tuple(sorted(roots))


def code_parameters(n: int, t: int) -> tuple[int, int, int, int]:
    """Parameters ``(m, n_c, k_c, p)`` of the shortest BCH code that carries ``n`` message bits.

    ``m`` is the smallest integer ``>= ceil(log2(2t + 2))`` for which the BCH code of length
    ``n_c = 2^m - 1`` and designed distance ``2t + 1`` has dimension ``k_c = n_c - p >= n``.
    Costs ``O(t m)`` integer steps per tried ``m`` (no field tables are built).

    Args:
        n: number of message bits (players), ``n >= 1``.
        t: error-correction capability, ``t >= 1``.

    Returns:
        ``(m, n_c, k_c, p)`` with ``p = deg g`` the number of parity bits.

    Raises:
        InvalidParameterError: if ``n`` or ``t`` is not a positive int, or no ``m <= 16`` works.
    """
    return _code_parameters(_check_int(n, "n", 1), _check_int(t, "t", 1))


@lru_cache(maxsize=512)
def _code_parameters(n: int, t: int) -> tuple[int, int, int, int]:
    for m in range(_min_m(t), MAX_M + 1):
        n_c = (1 << m) - 1
        p = len(_root_exponents(m, t))
        if n_c - p >= n:
            return m, n_c, n_c - p, p
    p16 = len(_root_exponents(MAX_M, t)) if _min_m(t) <= MAX_M else None
    most = (1 << MAX_M) - 1 - p16 if p16 is not None else 0
    msg = (
        f"No binary BCH code with m <= {MAX_M} carries n={n} message bits at t={t}: the largest "
        f"possible n at this t is {most}. Reduce 'n' (fewer players) or 't'."
    )
    raise InvalidParameterError(msg)


def parity_length(n: int, t: int) -> int:
    """Number of parity bits ``p = deg g`` of the code :meth:`BCHCode.for_messages` builds.

    Cheap (cached, no tables): meant for budget planners that try several ``t``.

    Examples:
        >>> [parity_length(128, t) for t in (2, 3, 4, 5, 6)]
        [16, 24, 32, 40, 48]
    """
    return code_parameters(n, t)[3]


@dataclass(frozen=True)
class BCHCode:
    """A binary BCH code shortened to ``n`` message bits, in the systematic layout above.

    Build it with :meth:`for_messages` (which picks the smallest field); the constructor checks
    that the given ``m`` is large enough. Instances are hashable values; derived arrays are
    computed on first use, cached and read-only.

    Attributes:
        n: number of message bits (players).
        t: error-correction capability (designed distance ``2t + 1``).
        m: field degree: the code lives in GF(2^m).

    Examples:
        >>> code = BCHCode.for_messages(128, 5)
        >>> code.m, code.n_c, code.k_c, code.p
        (8, 255, 215, 40)
        >>> code.delay_matrix.shape
        (41, 128)
    """

    n: int
    t: int
    m: int

    def __post_init__(self):
        n = _check_int(self.n, "n", 1)
        t = _check_int(self.t, "t", 1)
        m = self.m
        if (
            not isinstance(m, numbers.Integral)
            or isinstance(m, bool)
            or not (_min_m(t) <= m <= MAX_M)
        ):
            msg = (
                f"The 'm' parameter of BCHCode must be an int in [{_min_m(t)}, {MAX_M}] for "
                f"t={t}. Got {m!r}. Use BCHCode.for_messages(n, t) to choose it."
            )
            raise InvalidParameterError(msg)
        k_c = (1 << m) - 1 - len(_root_exponents(int(m), t))
        if k_c < n:
            msg = (
                f"The BCH code with m={m}, t={t} has only k_c={k_c} message bits, fewer than "
                f"n={n}. Increase 'm' or use BCHCode.for_messages(n, t)."
            )
            raise InvalidParameterError(msg)
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "m", int(m))

    @classmethod
    def for_messages(cls, n: int, t: int) -> BCHCode:
        """The code with the smallest ``m`` whose dimension ``k_c`` is at least ``n``.

        Args:
            n: number of message bits (players), ``n >= 1``.
            t: error-correction capability, ``t >= 1``.

        Raises:
            InvalidParameterError: on bad ``n``/``t`` or if ``n`` needs ``m > 16``.
        """
        m, _, _, _ = code_parameters(n, t)
        return cls(n, t, m)

    # ------------------------------------------------------------------ parameters
    @property
    def field(self) -> GF2m:
        """The field GF(2^m) the code is defined over."""
        return GF2m(self.m)

    @property
    def n_c(self) -> int:
        """Length ``2^m - 1`` of the unshortened code."""
        return (1 << self.m) - 1

    @property
    def p(self) -> int:
        """Number of parity bits ``deg g``."""
        return len(_root_exponents(self.m, self.t))

    @property
    def k_c(self) -> int:
        """Dimension ``n_c - p`` of the unshortened code."""
        return self.n_c - self.p

    @property
    def length(self) -> int:
        """Length ``p + n`` of the shortened code (the valid error positions)."""
        return self.p + self.n

    @property
    def root_exponents(self) -> tuple[int, ...]:
        """Sorted ``j`` with ``g(alpha^j) = 0`` (includes ``1..2t``)."""
        return _root_exponents(self.m, self.t)

    # ------------------------------------------------------------------ polynomials and matrices
    @cached_property
    def generator_poly(self) -> np.ndarray:
        """Coefficients of ``g(x)``, shape ``(p + 1,)`` bool, entry ``j`` = coefficient of ``x^j``.

        Computed as ``prod_j (x - alpha^j)`` over the root exponents in GF(2^m); every
        coefficient of the product lies in GF(2), which is checked.
        """
        F = self.field
        g = np.zeros(self.p + 1, dtype=np.int64)
        g[0] = 1
        for deg, j in enumerate(self.root_exponents, start=1):  # p <= m t steps, vectorised
            root = F.alpha_pow(j)
            shifted = np.concatenate([[0], g[:deg]])
            g[: deg + 1] = shifted ^ F.mul(g[: deg + 1], root)
        if g.max() > 1:  # cannot happen for a union of cyclotomic cosets
            msg = "Internal error: BCH generator polynomial has coefficients outside GF(2)."
            raise RuntimeError(msg)
        out = g.astype(bool)
        out.setflags(write=False)
        return out

    @cached_property
    def _generator_int(self) -> int:
        return sum(1 << int(j) for j in np.nonzero(self.generator_poly)[0])

    @cached_property
    def _packed_columns(self) -> np.ndarray:
        """``(n + 1, words)`` uint64: column ``i`` of ``P`` as packed bits; last row is zero.

        Column ``i`` is ``x^{p+i} mod g(x)``, generated by the LFSR step
        ``r <- x r mod g`` on Python ints (``O(n)`` integer operations).
        """
        p, n = self.p, self.n
        g = self._generator_int
        n_bytes = 8 * ((p + 63) // 64)
        r = g ^ (1 << p)  # x^p mod g
        chunks = []
        for _ in range(n):
            chunks.append(r.to_bytes(n_bytes, "little"))
            r <<= 1
            if r >> p:
                r ^= g
        chunks.append(bytes(n_bytes))
        packed = np.frombuffer(b"".join(chunks), dtype="<u8").reshape(n + 1, n_bytes // 8)
        packed = packed.astype(np.uint64)
        packed.setflags(write=False)
        return packed

    def _unpack(self, packed: np.ndarray) -> np.ndarray:
        """``(B, words)`` uint64 -> ``(B, p)`` bool (bit ``r`` of the word = parity bit ``r``)."""
        as_bytes = packed.astype("<u8").view(np.uint8)
        return np.unpackbits(as_bytes, axis=1, bitorder="little", count=self.p).astype(bool)

    @cached_property
    def parity_matrix(self) -> np.ndarray:
        """``P``, shape ``(p, n)`` bool: column ``i`` = coefficients of ``x^{p+i} mod g(x)``."""
        out = np.ascontiguousarray(self._unpack(self._packed_columns[: self.n]).T)
        out.setflags(write=False)
        return out

    @cached_property
    def delay_matrix(self) -> np.ndarray:
        """SPEX delay matrix ``D = [0; P]``, shape ``(p + 1, n)`` bool (row 0 is the reference)."""
        out = np.concatenate([np.zeros((1, self.n), dtype=bool), self.parity_matrix], axis=0)
        out.setflags(write=False)
        return out

    # ------------------------------------------------------------------ encoding
    def _check_bits(self, bits, name: str, width: int, what: str) -> np.ndarray:
        arr = np.asarray(bits)
        if arr.ndim != 2 or arr.shape[1] != width:
            msg = (
                f"The '{name}' parameter must be a 2-D array of shape (batch, {width}) ({what}). "
                f"Got shape {arr.shape}."
            )
            raise InvalidParameterError(msg)
        return as_bits(arr, name)

    def encode_parity(self, messages) -> np.ndarray:
        """Parity bits ``P k mod 2`` of each message.

        Args:
            messages: ``(B, n)`` bool (or 0/1 int) messages ``k``.

        Returns:
            ``(B, p)`` bool parity bits (codeword positions ``0..p-1``).

        Raises:
            InvalidParameterError: if ``messages`` is not ``(B, n)`` binary.
        """
        msgs = self._check_bits(messages, "messages", self.n, "one row per message")
        out = np.empty((msgs.shape[0], self.p), dtype=bool)
        Pt = self.parity_matrix.T.astype(np.float32)  # counts <= n < 2^24 are exact in float32
        chunk = max(1, _ENCODE_CHUNK_ENTRIES // self.n)
        for start in range(0, msgs.shape[0], chunk):  # bounded memory, BLAS inside
            counts = msgs[start : start + chunk].astype(np.float32) @ Pt
            out[start : start + chunk] = counts.astype(np.int64) & 1
        return out

    def parity_of_supports(self, supports) -> np.ndarray:
        """Parity bits of messages given as padded player lists (XOR of columns of ``P``).

        Args:
            supports: ``(B, w)`` int player indices in ``[0, n)``, padded with ``-1`` (any
                position). A player listed twice cancels (XOR).

        Returns:
            ``(B, p)`` bool parity bits.

        Raises:
            InvalidParameterError: if ``supports`` is not 2-D integer or holds indices outside
                ``[-1, n)``.
        """
        sup = np.asarray(supports)
        if sup.ndim != 2 or (sup.size and not np.issubdtype(sup.dtype, np.integer)):
            msg = (
                "The 'supports' parameter must be a 2-D int array (batch, width) padded with -1. "
                f"Got shape {sup.shape} and dtype {sup.dtype}."
            )
            raise InvalidParameterError(msg)
        if sup.size and (sup.min() < -1 or sup.max() >= self.n):
            msg = f"The 'supports' parameter must hold player indices in [0, {self.n}) or -1."
            raise InvalidParameterError(msg)
        cols = self._packed_columns  # row -1 is the all-zero padding row
        if sup.shape[1] == 0:
            acc = np.zeros((sup.shape[0], cols.shape[1]), dtype=np.uint64)
        else:
            acc = np.bitwise_xor.reduce(cols[sup.astype(np.intp)], axis=1)
        return self._unpack(acc)
