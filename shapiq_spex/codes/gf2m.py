"""Array-wide arithmetic in the binary extension field GF(2^m), 2 <= m <= 16.

An element is an integer in ``[0, 2^m)``: bit ``j`` is the coefficient of ``x^j`` in its
polynomial representation modulo the field's primitive polynomial ``f(x)``. The class ``x`` is
the primitive element ``alpha``, so every nonzero element is ``alpha^e`` for exactly one
``e in [0, 2^m - 1)``.

Multiplication, division, inversion and powers go through exponential/logarithm tables
(Lin & Costello, *Error Control Coding*, §2.4):

* ``exp[e] = alpha^e``. The table is stored with a doubled period, ``exp[e] = exp[e mod (q-1)]``
  for ``0 <= e < 2(q-1)`` where ``q = 2^m``, so a product needs no ``mod``; past ``2(q-1)`` it
  is padded with zeros.
* ``log[a] = log_alpha(a)`` for ``a != 0``; ``log[0] = 2(q-1)`` points into the zero padding, so
  ``exp[log[a] + log[b]]`` is ``0`` whenever ``a`` or ``b`` is ``0``, without a branch.

Addition is ``XOR``. The primitive polynomials are MATLAB's defaults (the ones ``galois.BCH``
uses), so the BCH codes built on these fields match those of the reference SPEX implementation.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cache

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["MAX_M", "MIN_M", "PRIMITIVE_POLYS", "GF2m"]

MIN_M = 2
MAX_M = 16

# The default primitive polynomials of MATLAB's ``gfprimdf`` (Lin & Costello, Table 2.7 style;
# also what ``galois.BCH`` uses by default), as integers (bit j = coefficient of x^j). With them,
# ``BCHCode`` reproduces the generator polynomials, hence the codes, of the reference SPEX
# implementation. tests/codes/test_gf2m.py checks that x has order 2^m - 1 for every entry.
PRIMITIVE_POLYS: dict[int, int] = {
    2: 0b111,  # x^2 + x + 1
    3: 0b1011,  # x^3 + x + 1
    4: 0b10011,  # x^4 + x + 1
    5: 0b100101,  # x^5 + x^2 + 1
    6: 0b1000011,  # x^6 + x + 1
    7: 0b10001001,  # x^7 + x^3 + 1
    8: 0b100011101,  # x^8 + x^4 + x^3 + x^2 + 1
    9: 0b1000010001,  # x^9 + x^4 + 1
    10: 0b10000001001,  # x^10 + x^3 + 1
    11: 0b100000000101,  # x^11 + x^2 + 1
    12: 0b1000001010011,  # x^12 + x^6 + x^4 + x + 1
    13: 0b10000000011011,  # x^13 + x^4 + x^3 + x + 1
    14: 0b100010001000011,  # x^14 + x^10 + x^6 + x + 1
    15: 0b1000000000000011,  # x^15 + x + 1
    16: 0b10001000000001011,  # x^16 + x^12 + x^3 + x + 1
}


@cache
def _tables(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Build the ``(exp, log)`` tables of GF(2^m); see the module docstring for the layout."""
    q1 = (1 << m) - 1  # order of the multiplicative group
    poly = PRIMITIVE_POLYS[m]
    # alpha^e for e = 0..q-2 by repeated multiplication by x: O(q) integer steps, once per m.
    powers = np.empty(q1, dtype=np.int64)
    a = 1
    for e in range(q1):
        powers[e] = a
        a <<= 1
        if a >> m:
            a ^= poly
    if a != 1 or np.unique(powers).size != q1:  # guards the hard-coded table
        msg = f"PRIMITIVE_POLYS[{m}] = {poly:#b} is not primitive."
        raise RuntimeError(msg)
    exp = np.zeros(4 * q1 + 1, dtype=np.int64)
    exp[:q1] = powers
    exp[q1 : 2 * q1] = powers
    log = np.empty(q1 + 1, dtype=np.int64)
    log[powers] = np.arange(q1)
    log[0] = 2 * q1
    exp.setflags(write=False)
    log.setflags(write=False)
    return exp, log


def _check_m(m) -> int:
    if not isinstance(m, numbers.Integral) or isinstance(m, bool) or not MIN_M <= m <= MAX_M:
        msg = f"The 'm' parameter of GF2m must be an int in [{MIN_M}, {MAX_M}]. Got {m!r}."
        raise InvalidParameterError(msg)
    return int(m)


@dataclass(frozen=True)
class GF2m:
    """The field GF(2^m) with vectorised table arithmetic.

    All operations accept scalars or integer arrays (broadcast like numpy) holding elements in
    ``[0, 2^m)`` and return ``int64`` arrays. Inputs are not range-checked on the hot paths; use
    :meth:`check` at public boundaries.

    Attributes:
        m: extension degree, ``2 <= m <= 16``.

    Examples:
        >>> F = GF2m(4)
        >>> int(F.mul(F.alpha_pow(3), F.alpha_pow(14)))  # alpha^17 = alpha^2
        4
        >>> int(F.mul(7, F.inv(7)))
        1
    """

    m: int

    def __post_init__(self):
        object.__setattr__(self, "m", _check_m(self.m))

    # ------------------------------------------------------------------ constants and tables
    @property
    def order(self) -> int:
        """Number of field elements ``q = 2^m``."""
        return 1 << self.m

    @property
    def group_order(self) -> int:
        """Order ``q - 1 = 2^m - 1`` of the multiplicative group (the BCH length ``n_c``)."""
        return (1 << self.m) - 1

    @property
    def primitive_poly(self) -> int:
        """The primitive polynomial ``f(x)`` as an integer (bit ``j`` = coefficient of ``x^j``)."""
        return PRIMITIVE_POLYS[self.m]

    @property
    def exp(self) -> np.ndarray:
        """Read-only ``(4(q-1)+1,)`` table: ``alpha^e`` for ``e < 2(q-1)``, zeros after."""
        return _tables(self.m)[0]

    @property
    def log(self) -> np.ndarray:
        """Read-only ``(q,)`` table: discrete log of ``a != 0``; ``log[0] = 2(q-1)`` (zero sink)."""
        return _tables(self.m)[1]

    def check(self, a, name: str = "a") -> np.ndarray:
        """Return ``a`` as an ``int64`` array after checking it holds field elements.

        Raises:
            InvalidParameterError: if ``a`` is not integer or has values outside ``[0, 2^m)``.
        """
        arr = np.asarray(a)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            msg = (
                f"The '{name}' parameter must hold integers in [0, {self.order}). Got {arr.dtype}."
            )
            raise InvalidParameterError(msg)
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self.order):
            msg = (
                f"The '{name}' parameter must hold integers in [0, {self.order}) "
                f"for GF(2^{self.m})."
            )
            raise InvalidParameterError(msg)
        return arr

    # ------------------------------------------------------------------ arithmetic
    @staticmethod
    def add(a, b) -> np.ndarray:
        """Sum (and difference) ``a + b``: bitwise XOR."""
        return np.bitwise_xor(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))

    def mul(self, a, b) -> np.ndarray:
        """Product ``a * b``, elementwise with broadcasting; zero absorbs via the log sink."""
        exp, log = _tables(self.m)
        return exp[log[np.asarray(a)] + log[np.asarray(b)]]

    def inv(self, a) -> np.ndarray:
        """Multiplicative inverse ``a^{-1}``.

        Raises:
            InvalidParameterError: if any element of ``a`` is ``0``.
        """
        a = np.asarray(a)
        if np.any(a == 0):
            msg = "The 'a' parameter of GF2m.inv must be nonzero: 0 has no inverse."
            raise InvalidParameterError(msg)
        exp, log = _tables(self.m)
        return exp[self.group_order - log[a]]

    def div(self, a, b) -> np.ndarray:
        """Quotient ``a / b`` (``0 / b = 0``).

        Raises:
            InvalidParameterError: if any element of ``b`` is ``0``.
        """
        b = np.asarray(b)
        if np.any(b == 0):
            msg = "The 'b' parameter of GF2m.div must be nonzero: division by 0."
            raise InvalidParameterError(msg)
        exp, log = _tables(self.m)
        # log[a] - log[b] + (q-1) lies in [1, 2(q-1)) for a != 0 and in the zero sink for a == 0.
        return exp[log[np.asarray(a)] - log[b] + self.group_order]

    def pow(self, a, e) -> np.ndarray:
        """Power ``a^e`` for integer exponents ``e`` (any sign); ``0^0 = 1``, ``0^e = 0`` for e > 0.

        Raises:
            InvalidParameterError: if ``0`` is raised to a negative power.
        """
        a = np.asarray(a, dtype=np.int64)
        e = np.asarray(e, dtype=np.int64)
        a, e = np.broadcast_arrays(a, e)
        zero = a == 0
        if np.any(zero & (e < 0)):
            msg = "The 'e' parameter of GF2m.pow must be >= 0 where the base is 0."
            raise InvalidParameterError(msg)
        exp, log = _tables(self.m)
        out = exp[(log[np.where(zero, 1, a)] * e) % self.group_order]
        return np.where(zero, (e == 0).astype(np.int64), out)

    def alpha_pow(self, e) -> np.ndarray:
        """``alpha^e`` for integer exponents ``e`` (any sign)."""
        return _tables(self.m)[0][np.asarray(e, dtype=np.int64) % self.group_order]

    def bits(self, a) -> np.ndarray:
        """Polynomial coefficients of ``a``: shape ``a.shape + (m,)`` bool, bit ``j`` = ``x^j``."""
        a = np.asarray(a, dtype=np.int64)
        return ((a[..., None] >> np.arange(self.m)) & 1).astype(bool)
