"""Batched hard-decision BCH decoding of parity words, and Chase-II candidate generation.

SPEX observes, per bin, the ``p`` parity bits of the codeword of an unknown frequency ``k``
(possibly with some bits flipped by noise). The decoder treats the received word as
``r = [parity bits | 0 ... 0]`` (message part all zero), so the error pattern it finds is
``e = [flipped parity bits | k]`` and the message-position errors *are* the frequency ``k``.
Bounded-distance decoding succeeds whenever ``weight(k) + #flips <= t``.

Recipe (Lin & Costello, *Error Control Coding*, §6.2-6.4), each step applied to a whole chunk of
words at once with table look-ups; the only Python loops run over chunks, over the ``t``
Berlekamp-Massey iterations and over the few byte-tables of a linear map, never over words:

1. **Syndromes** ``S_j = r(alpha^j)``, ``j = 1..2t``. They are GF(2)-linear in the parity bits,
   so each byte of the packed word indexes a precomputed ``(256, 2t)`` table of partial
   syndromes and the partial results are XOR-ed.
2. **Berlekamp-Massey** for the error-locator ``Lambda(x) = prod_k (1 - X_k x)``, with the binary
   simplification: because ``S_2j = S_j^2`` for any binary word, every odd-step discrepancy is
   zero, so only the ``t`` even steps are computed.
3. **Chien search** over the ``p + n`` valid positions of the shortened code only: position ``i``
   is an error iff ``Lambda(alpha^{-i}) = 0``. ``Lambda(alpha^{-i}) - 1`` is GF(2)-linear in the
   bits of ``Lambda_1..Lambda_t``, so it is again an XOR of byte-table rows of length ``p + n``.
   For ``m > 8`` the tables store the value folded to 8 bits (``v_low XOR v_high``, also linear),
   which halves the memory traffic; the few positions whose folded value matches are then
   confirmed with an exact log-table evaluation.
4. **Decision**: success iff the LFSR length ``L <= t``, ``deg Lambda = L`` and exactly ``L``
   valid positions are roots. Then ``r + e`` is a codeword (for binary BCH the implied error
   values are forced to 1 by ``S_2j = S_j^2``), so a success is never inconsistent; anything
   else is a failure and returns no positions.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from math import comb

import numpy as np

from shapiq_spex.codes.bch import BCHCode, as_bits
from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["DecodeResult", "chase_candidates", "chase_patterns", "decode", "syndromes"]

PAD = -1
# Words per chunk are chosen so that the Chien work arrays stay near this many bytes.
_CHUNK_BYTES = 1 << 24
_MAX_PATTERNS = 1 << 20


@dataclass(frozen=True)
class DecodeResult:
    """Outcome of :func:`decode` for ``W`` received parity words of a code with capability ``t``.

    Attributes:
        message_errors: ``(W, t)`` int64 player indices of the decoded frequency ``k``, ascending,
            padded with ``-1``. All ``-1`` for failures (and for the decoded ``k = 0``).
        parity_errors: ``(W, t)`` int64 flipped parity positions in ``[0, p)``, ascending, padded
            with ``-1``. All ``-1`` for failures.
        n_errors: ``(W,)`` int64 total number of corrected bits; ``-1`` marks a failure.
        success: ``(W,)`` bool, ``True`` where a codeword within distance ``t`` was found.
    """

    message_errors: np.ndarray
    parity_errors: np.ndarray
    n_errors: np.ndarray
    success: np.ndarray

    def __len__(self) -> int:
        return int(self.success.shape[0])


# ---------------------------------------------------------------------------------------------
# Precomputed tables (once per code, cached)
# ---------------------------------------------------------------------------------------------


def _byte_tables(basis: np.ndarray, dtype) -> np.ndarray:
    """Tables of a GF(2)-linear map, one per input byte.

    Args:
        basis: ``(n_bits, out)`` images of the unit input vectors (field elements, XOR-linear).
        dtype: integer dtype of the tables.

    Returns:
        ``(ceil(n_bits / 8), 256, out)`` array ``T`` with ``T[c, v]`` the image of the input
        whose byte ``c`` is ``v`` (bit ``b`` of ``v`` = input bit ``8c + b``) and other bytes 0.
    """
    n_bits, out = basis.shape
    n_bytes = -(-n_bits // 8)
    padded = np.zeros((n_bytes * 8, out), dtype=dtype)
    padded[:n_bits] = basis
    tables = np.zeros((n_bytes, 256, out), dtype=dtype)
    for k in range(8):  # doubling: T[v | 2^k] = T[v] ^ image(bit k)
        tables[:, 1 << k : 2 << k] = tables[:, : 1 << k] ^ padded[k::8][:, None, :]
    return tables


def _apply_tables(tables: np.ndarray, packed: np.ndarray) -> np.ndarray:
    """XOR of ``tables[c, packed[:, c]]`` over ``c``: shape ``(W, out)``."""
    acc = tables[0][packed[:, 0]]
    for c in range(1, tables.shape[0]):  # a handful of bytes, each a whole-chunk row gather
        acc ^= tables[c][packed[:, c]]  # (plain fancy indexing: np.take(out=) is far slower)
    return acc


@dataclass(frozen=True)
class _Tables:
    syndrome: np.ndarray  # (ceil(p/8), 256, 2t): partial syndromes S_1..S_2t per parity byte
    chien: np.ndarray  # (ceil(t m/8), 256, p + n) uint8: Lambda(alpha^-i) - 1, folded if m > 8
    exact: bool  # False: chien hits are candidates that must be confirmed
    exp: np.ndarray
    log: np.ndarray
    q1: int  # 2^m - 1


@lru_cache(maxsize=8)
def _tables(code: BCHCode) -> _Tables:
    F = code.field
    t, m, p, N = code.t, code.m, code.p, code.length
    dtype = np.uint8 if m <= 8 else np.uint16  # syndrome tables: full field elements
    # 1. parity bit i contributes alpha^(i j) to S_j
    i = np.arange(p)[:, None]
    j = np.arange(1, 2 * t + 1)[None, :]
    syn_basis = F.alpha_pow(i * j)
    # 3. bit b of Lambda_j contributes x^b * alpha^(-i j) = alpha^(log(2^b) - i j) at position i
    jj = np.arange(1, t + 1)[:, None, None]
    bb = np.arange(m)[None, :, None]
    pos = np.arange(N)[None, None, :]
    chien_basis = F.alpha_pow(F.log[1 << bb] - pos * jj).reshape(t * m, N)
    chien_basis = (chien_basis & 0xFF) ^ (chien_basis >> 8)  # fold: identity for m <= 8
    return _Tables(
        syndrome=_byte_tables(syn_basis, dtype),
        chien=_byte_tables(chien_basis, np.uint8),
        exact=m <= 8,
        exp=F.exp,
        log=F.log,
        q1=F.group_order,
    )


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def _check_words(code: BCHCode, parity_bits) -> np.ndarray:
    if not isinstance(code, BCHCode):
        msg = f"The 'code' parameter must be a BCHCode. Got {type(code).__name__}."
        raise InvalidParameterError(msg)
    bits = np.asarray(parity_bits)
    if bits.ndim != 2 or bits.shape[1] != code.p:
        msg = (
            f"The 'parity_bits' parameter must have shape (n_words, {code.p}) for this code "
            f"(p = {code.p} parity bits). Got shape {bits.shape}."
        )
        raise InvalidParameterError(msg)
    bits = as_bits(bits, "parity_bits")
    return bits


def _syndromes(tab: _Tables, bits: np.ndarray) -> np.ndarray:
    """``(W, p)`` bool -> ``(W, 2t)`` int64 syndromes ``S_1..S_2t`` of ``[bits | 0]``."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    return _apply_tables(tab.syndrome, packed).astype(np.int64)


def syndromes(code: BCHCode, parity_bits) -> np.ndarray:
    """Syndromes ``S_j = r(alpha^j)``, ``j = 1..2t``, of the words ``r = [parity_bits | 0]``.

    Args:
        code: the BCH code.
        parity_bits: ``(W, p)`` bool received parity bits.

    Returns:
        ``(W, 2t)`` int64 field elements; all zero iff the parity bits are those of ``k = 0``.
    """
    bits = _check_words(code, parity_bits)
    return _syndromes(_tables(code), bits)


def _berlekamp_massey(tab: _Tables, S: np.ndarray, t: int):
    """Binary Berlekamp-Massey on ``(W, 2t)`` syndromes.

    Returns:
        ``(Lambda, L)``: ``(W, t + 1)`` int64 locator coefficients (``Lambda_0 = 1``) and the
        ``(W,)`` LFSR lengths. Coefficients of degree ``> t`` are dropped; that only happens
        for words whose final ``L > t`` (``deg Lambda <= L`` and ``L`` never decreases), which
        are failures anyway.
    """
    exp, log, q1 = tab.exp, tab.log, tab.q1
    W = S.shape[0]
    T = t + 1
    C = np.zeros((W, T), dtype=np.int64)
    C[:, 0] = 1
    B = C.copy()
    L = np.zeros(W, dtype=np.int64)
    b = np.ones(W, dtype=np.int64)  # last nonzero discrepancy
    shift = np.ones(W, dtype=np.int64)  # power of x in the correction term x^shift B(x)
    cols = np.arange(T)[None, :]
    logS = log[S]
    for step in range(0, 2 * t, 2):  # even steps only; odd discrepancies are zero (binary)
        k = min(step, T - 1)
        # d = S_{step+1} + sum_{i=1..k} C_i S_{step+1-i}
        terms = exp[log[C[:, 1 : k + 1]] + logS[:, step - 1 :: -1][:, :k]]
        d = S[:, step] ^ np.bitwise_xor.reduce(terms, axis=1) if k else S[:, step].copy()
        # C <- C - (d / b) x^shift B
        coef = exp[log[d] - log[b] + q1]  # d / b; the zero sink gives 0 when d == 0
        src = cols - shift[:, None]
        Bs = np.take_along_axis(B, np.maximum(src, 0), axis=1)
        Bs[src < 0] = 0
        C_new = C ^ exp[log[Bs] + log[coef][:, None]]
        grow = (d != 0) & (step >= 2 * L)
        B = np.where(grow[:, None], C, B)
        b = np.where(grow, d, b)
        L = np.where(grow, step + 1 - L, L)
        shift = np.where(grow, 2, shift + 2)  # +1 for this step, +1 for the skipped odd step
        C = C_new
    return C, L


def _decode_chunk(code: BCHCode, tab: _Tables, bits: np.ndarray):
    t, p = code.t, code.p
    W = bits.shape[0]
    S = _syndromes(tab, bits)
    Lam, L = _berlekamp_massey(tab, S, t)
    nz = Lam != 0
    deg = np.where(nz.any(axis=1), (t - np.argmax(nz[:, ::-1], axis=1)), 0)
    ok = (t >= L) & (deg == L)  # prefilter: L roots need deg >= L; skips hopeless Chien work
    success = ok & (L == 0)  # no error at all (the word is the parity of k = 0)
    cand = np.nonzero(ok & (L > 0))[0]
    msg_err = np.full((W, t), PAD, dtype=np.int64)
    par_err = np.full((W, t), PAD, dtype=np.int64)
    if cand.size:
        lam_bits = ((Lam[cand, 1:, None] >> np.arange(code.m)) & 1).astype(bool)
        packed = np.packbits(lam_bits.reshape(cand.size, t * code.m), axis=1, bitorder="little")
        # Lambda(alpha^-i) = 0  <=>  (Lambda - 1)(alpha^-i) = 1  (Lambda_0 = 1); fold(1) = 1
        hits = np.flatnonzero(_apply_tables(tab.chien, packed) == 1)  # 1-D: ~10x faster
        rows, pos = np.divmod(hits, code.length)
        if not tab.exact:  # confirm the folded hits: sum_j Lambda_j alpha^(-i j) == 1
            j = np.arange(1, t + 1)
            idx = tab.log[Lam[cand[rows], 1:]] + (-pos[:, None] * j) % tab.q1
            keep = np.bitwise_xor.reduce(tab.exp[idx], axis=1) == 1
            rows, pos = rows[keep], pos[keep]
        found = np.bincount(rows, minlength=cand.size) == L[cand]
        success[cand[found]] = True
        keep = found[rows]
        rows, pos = cand[rows[keep]], pos[keep]
        for sel, out, offset in ((pos < p, par_err, 0), (pos >= p, msg_err, p)):
            r, c = rows[sel], pos[sel] - offset
            rank = np.arange(r.size) - np.searchsorted(r, r)  # rows are sorted ascending
            out[r, rank] = c
    n_err = np.where(success, L, -1)
    return msg_err, par_err, n_err, success


def decode(code: BCHCode, parity_bits) -> DecodeResult:
    """Decode received parity words of ``code`` (message part taken as all zero).

    Args:
        code: the shortened BCH code (from :meth:`BCHCode.for_messages`).
        parity_bits: ``(W, p)`` bool (or 0/1 int) received parity bits, one row per word.

    Returns:
        :class:`DecodeResult` with ``(W, t)`` message/parity error positions, ``(W,)`` error
        counts (``-1`` = failure) and ``(W,)`` success flags. A success means ``[parity_bits |
        0] + e`` is a codeword for the returned pattern ``e`` of weight ``<= t``; it is the
        true frequency whenever ``weight(k) + #flips <= t``.

    Raises:
        InvalidParameterError: if ``code`` is not a :class:`BCHCode` or ``parity_bits`` is not a
            ``(W, p)`` binary array.

    Examples:
        >>> code = BCHCode.for_messages(100, 3)
        >>> bits = code.parity_of_supports(np.array([[4, 57, -1]]))
        >>> bits[0, 3] ^= True  # one noisy parity bit
        >>> res = decode(code, bits)
        >>> res.message_errors.tolist(), res.parity_errors.tolist(), res.n_errors.tolist()
        ([[4, 57, -1]], [[3, -1, -1]], [3])
    """
    bits = _check_words(code, parity_bits)
    W, t = bits.shape[0], code.t
    tab = _tables(code)
    msg_err = np.empty((W, t), dtype=np.int64)
    par_err = np.empty((W, t), dtype=np.int64)
    n_err = np.empty(W, dtype=np.int64)
    success = np.empty(W, dtype=bool)
    chunk = max(64, _CHUNK_BYTES // (5 * code.length))
    for start in range(0, W, chunk):  # bounded memory; everything inside is whole-chunk
        sl = slice(start, start + chunk)
        msg_err[sl], par_err[sl], n_err[sl], success[sl] = _decode_chunk(code, tab, bits[sl])
    return DecodeResult(msg_err, par_err, n_err, success)


# ---------------------------------------------------------------------------------------------
# Chase-II candidates (soft decision)
# ---------------------------------------------------------------------------------------------


def _check_count(value, name: str, low: int, high: int) -> int:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or not (low <= value <= high)
    ):
        msg = f"The '{name}' parameter must be an int in [{low}, {high}]. Got {value!r}."
        raise InvalidParameterError(msg)
    return int(value)


def chase_patterns(depth: int, max_flips: int | None = None) -> np.ndarray:
    """All flip patterns of ``depth`` positions with at most ``max_flips`` flips.

    Args:
        depth: number of (least reliable) positions the patterns act on, ``>= 0``.
        max_flips: largest number of flips per pattern; ``None`` means ``depth`` (all
            ``2^depth`` patterns).

    Returns:
        ``(K, depth)`` bool with ``K = sum_{j <= max_flips} C(depth, j)``. Row 0 flips nothing;
        rows are ordered by number of flips, then lexicographically by the flipped positions
        (``itertools.combinations`` order).

    Raises:
        InvalidParameterError: if ``depth`` or ``max_flips`` is negative or not an int, or
            ``K`` exceeds 2^20 patterns.
    """
    depth = _check_count(depth, "depth", 0, 1 << 16)
    max_flips = depth if max_flips is None else _check_count(max_flips, "max_flips", 0, 1 << 16)
    max_flips = min(max_flips, depth)
    K = sum(comb(depth, j) for j in range(max_flips + 1))
    if K > _MAX_PATTERNS:
        msg = (
            f"depth={depth} with max_flips={max_flips} gives {K} Chase patterns per word, more "
            f"than {_MAX_PATTERNS}. Lower 'depth' or set a smaller 'max_flips'."
        )
        raise InvalidParameterError(msg)
    out = np.zeros((K, depth), dtype=bool)
    row = 1
    for j in range(1, max_flips + 1):  # over flip counts, not over words
        idx = np.array(list(combinations(range(depth), j)), dtype=np.intp).reshape(-1, j)
        out[np.arange(row, row + idx.shape[0])[:, None], idx] = True
        row += idx.shape[0]
    return out


def chase_candidates(parity_bits, reliability, depth: int, max_flips: int | None = None):
    """Chase-II test words: flip subsets of each word's ``depth`` least reliable bits.

    Args:
        parity_bits: ``(W, p)`` bool hard decisions.
        reliability: ``(W, p)`` float reliabilities (e.g. ``|y_r|``); smaller = less reliable.
            Ties are broken by position (stable sort). Must not contain NaN.
        depth: number of least reliable positions per word, ``0 <= depth <= p``.
        max_flips: at most this many flips per pattern; ``None`` = all ``2^depth`` patterns.

    Returns:
        ``(candidate_bits, word_index)``: ``(W * K, p)`` bool candidates, word-major (rows
        ``w*K .. w*K + K - 1`` belong to word ``w``, the first being the unflipped word) with
        patterns in :func:`chase_patterns` order, and ``(W * K,)`` int64 word indices.

    Raises:
        InvalidParameterError: on mismatched shapes, NaN reliabilities, ``depth``/``max_flips``
            out of range, or more than 2^20 patterns per word.
    """
    bits = np.asarray(parity_bits)
    rel = np.asarray(reliability, dtype=np.float64)
    if bits.ndim != 2 or rel.shape != bits.shape:
        msg = (
            "The 'parity_bits' and 'reliability' parameters must be 2-D arrays of the same shape "
            f"(n_words, p). Got {bits.shape} and {rel.shape}."
        )
        raise InvalidParameterError(msg)
    bits = as_bits(bits, "parity_bits")
    if np.isnan(rel).any():
        msg = "The 'reliability' parameter must not contain NaN."
        raise InvalidParameterError(msg)
    W, p = bits.shape
    depth = _check_count(depth, "depth", 0, p)
    patterns = chase_patterns(depth, max_flips)  # (K, depth)
    K = patterns.shape[0]
    weakest = np.argsort(rel, axis=1, kind="stable")[:, :depth]  # (W, depth)
    cand = np.repeat(bits[:, None, :], K, axis=1)  # (W, K, p)
    w_idx = np.arange(W)[:, None, None]
    k_idx = np.arange(K)[None, :, None]
    # positions are distinct within a word, so the fancy-indexed XOR touches each bit once
    cand[w_idx, k_idx, weakest[:, None, :]] ^= patterns[None, :, :]
    return cand.reshape(W * K, p), np.repeat(np.arange(W, dtype=np.int64), K)
