"""Sparse spectra: a set function as a few Fourier (parity) or Möbius (AND) terms.

Conventions (the same as SPEX and shapiq): a coalition is a boolean vector ``x`` of length ``n``
with ``x[i] = True`` meaning player ``i`` is kept.

* Fourier: ``f(x) = sum_K F[K] * (-1) ** |K ∩ x|``.
* Möbius:  ``f(x) = sum_S a[S] * [S ⊆ x]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra._subsets import (
    PAD,
    canonicalize,
    count_dtype,
    degrees,
    distribute,
    float32_columns,
    incidence,
    pad_supports,
    widen,
)

__all__ = ["Basis", "SparseSpectrum", "check_coalitions"]

Basis = Literal["fourier", "moebius"]

# Masks are evaluated in chunks so that the (chunk, s) work array stays near this many entries.
_EVAL_CHUNK_ENTRIES = 1 << 23


def check_coalitions(coalitions, n: int, *, name: str = "coalitions") -> np.ndarray:
    """Validate a coalition matrix and return it as a boolean ``(m, n)`` array.

    Accepts boolean arrays, or integer/float arrays holding only 0 and 1. A 1-D input of length
    ``n`` is read as one coalition.

    Raises:
        InvalidParameterError: wrong number of dimensions, wrong width or non-0/1 entries.
    """
    arr = np.asarray(coalitions)
    if arr.ndim == 1 and arr.shape[0] == n:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n:
        msg = f"The '{name}' parameter must have shape (n_coalitions, {n}). Got {arr.shape}."
        raise InvalidParameterError(msg)
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.number) or not np.all((arr == 0) | (arr == 1)):
        msg = (
            f"The '{name}' parameter must be boolean (or hold only 0 and 1). Got dtype "
            f"{arr.dtype} with other values; convert with `coalitions.astype(bool)` if intended."
        )
        raise InvalidParameterError(msg)
    return arr.astype(bool)


@dataclass(frozen=True, eq=False)
class SparseSpectrum:
    """A sparse Fourier or Möbius spectrum of a set function on ``n`` players.

    Attributes:
        n: number of players.
        supports: ``(s, w)`` int64, row ``i`` = players of term ``i`` ascending, padded with -1.
        coefs: ``(s,)`` float64 coefficients.
        basis: ``"fourier"`` or ``"moebius"``.
    """

    n: int
    supports: np.ndarray
    coefs: np.ndarray
    basis: Basis = "fourier"

    def __post_init__(self) -> None:
        if self.basis not in ("fourier", "moebius"):
            msg = f"The 'basis' parameter must be 'fourier' or 'moebius'. Got {self.basis!r}."
            raise InvalidParameterError(msg)
        sup = np.asarray(self.supports, dtype=np.int64)
        if sup.ndim == 1 and sup.size == 0:
            sup = sup.reshape(0, 0)
        coefs = np.asarray(self.coefs, dtype=np.float64).reshape(-1)
        if sup.ndim != 2 or sup.shape[0] != coefs.shape[0]:
            msg = f"supports must be (s, w) and coefs (s,). Got {sup.shape} and {coefs.shape}."
            raise InvalidParameterError(msg)
        if sup.size and (sup.max() >= self.n or sup.min() < PAD):
            msg = f"supports hold player indices outside [0, {self.n})."
            raise InvalidParameterError(msg)
        if sup.size:
            # rows may come unsorted or padded in the middle: sort with padding last
            big = np.iinfo(np.int64).max
            sup = np.sort(np.where(sup < 0, big, sup), axis=1)
            if np.any((sup[:, 1:] == sup[:, :-1]) & (sup[:, 1:] != big)):
                msg = "supports list a player twice in one term; each term is a set of players."
                raise InvalidParameterError(msg)
            sup = np.where(sup == big, PAD, sup)
        sup, coefs = canonicalize(sup, coefs)
        object.__setattr__(self, "supports", sup)
        object.__setattr__(self, "coefs", coefs)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, n: int, terms: dict[tuple[int, ...], float], basis: Basis = "fourier"):
        """Build a spectrum from ``{players_tuple: coefficient}``."""
        keys = list(terms)
        return cls(n, pad_supports(keys), np.array([terms[k] for k in keys], dtype=float), basis)

    @classmethod
    def from_masks(cls, n: int, masks: np.ndarray, coefs: np.ndarray, basis: Basis = "fourier"):
        """Build a spectrum from boolean frequency vectors ``masks`` of shape ``(s, n)``."""
        masks = np.asarray(masks, dtype=bool)
        deg = masks.sum(axis=1)
        width = int(deg.max()) if deg.size else 0
        sup = np.full((masks.shape[0], width), PAD, dtype=np.int64)
        rows, cols = np.nonzero(masks)
        # position of each nonzero within its row
        starts = np.concatenate([[0], np.cumsum(deg)[:-1]]) if deg.size else deg
        pos = np.arange(rows.size) - np.repeat(starts, deg)
        sup[rows, pos] = cols
        return cls(n, sup, coefs, basis)

    # ------------------------------------------------------------------ views
    @property
    def degrees(self) -> np.ndarray:
        """Order of each term, shape ``(s,)``."""
        return degrees(self.supports)

    @property
    def max_degree(self) -> int:
        """Largest order present (0 for an empty or constant spectrum)."""
        return int(self.degrees.max()) if len(self) else 0

    def __len__(self) -> int:
        return int(self.coefs.shape[0])

    def to_dict(self) -> dict[tuple[int, ...], float]:
        """Return ``{players_tuple: coefficient}``."""
        return {
            tuple(int(p) for p in row[row >= 0]): float(c)
            for row, c in zip(self.supports, self.coefs, strict=True)
        }

    def to_masks(self) -> np.ndarray:
        """Boolean frequency matrix ``(s, n)``."""
        out = np.zeros((len(self), self.n), dtype=bool)
        r, c = np.nonzero(self.supports >= 0)
        out[r, self.supports[r, c]] = True
        return out

    def __getitem__(self, players: tuple[int, ...]) -> float:
        key = tuple(sorted(players))
        deg = len(key)
        if deg > self.supports.shape[1]:
            return 0.0
        target = np.full(self.supports.shape[1], PAD, dtype=np.int64)
        target[:deg] = key
        hit = np.nonzero((self.supports == target).all(axis=1))[0]
        return float(self.coefs[hit[0]]) if hit.size else 0.0

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, coalitions) -> np.ndarray:
        """Value of the set function on each coalition.

        Args:
            coalitions: ``(m, n)`` boolean matrix (``True`` = player kept).

        Returns:
            ``(m,)`` float64 values.
        """
        x = check_coalitions(coalitions, self.n)
        m = x.shape[0]
        out = np.zeros(m, dtype=np.float64)
        if len(self) == 0:
            return out
        inc = incidence(self.supports, self.n)
        deg = self.degrees
        chunk = max(1, _EVAL_CHUNK_ENTRIES // max(len(self), 1))
        small = count_dtype(self.supports.shape[1])
        for start in range(0, m, chunk):  # bounded memory, vectorized inside
            # (s, chunk) |K ∩ x|: exact small integers in the float32 product
            counts = (inc @ float32_columns(x[start : start + chunk])).astype(small)
            if self.basis == "fourier":
                counts &= 1
                signs = np.subtract(1.0, 2.0 * counts, dtype=np.float64)
                out[start : start + chunk] = self.coefs @ signs
            else:
                out[start : start + chunk] = self.coefs @ (counts == deg[:, None])
        return out

    predict = evaluate
    __call__ = evaluate

    # ------------------------------------------------------------------ basis changes
    def to_moebius(self, max_order: int | None = None) -> SparseSpectrum:
        """Möbius form ``a(S) = (-2)^|S| sum_{K ⊇ S} F[K]``, optionally for ``|S| <= max_order``."""
        if self.basis == "moebius":
            return self if max_order is None else self.truncate(max_order)
        w = self.max_degree
        sizes = np.arange(w + 1)
        table = np.broadcast_to((-2.0) ** sizes, (w + 1, w + 1)).copy()
        sup, c = distribute(self.supports, self.coefs, table, max_order)
        return SparseSpectrum(self.n, sup, c, "moebius")

    def to_fourier(self, max_order: int | None = None) -> SparseSpectrum:
        """Fourier form: ``F[K] = (-1)^|K| sum_{S ⊇ K} a(S) / 2^|S|``."""
        if self.basis == "fourier":
            return self if max_order is None else self.truncate(max_order)
        w = self.max_degree
        table = ((-1.0) ** np.arange(w + 1))[None, :] * (0.5 ** np.arange(w + 1))[:, None]
        sup, c = distribute(self.supports, self.coefs, table, max_order)
        return SparseSpectrum(self.n, sup, c, "fourier")

    def to_basis(self, basis: Basis) -> SparseSpectrum:
        """Return this spectrum in ``basis``."""
        return self.to_fourier() if basis == "fourier" else self.to_moebius()

    # ------------------------------------------------------------------ selection
    def truncate(self, max_order: int) -> SparseSpectrum:
        """Keep only terms of order ``<= max_order``."""
        keep = self.degrees <= max_order
        return SparseSpectrum(self.n, self.supports[keep], self.coefs[keep], self.basis)

    def prune(self, tol: float = 0.0) -> SparseSpectrum:
        """Drop terms with ``|coef| <= tol``."""
        keep = np.abs(self.coefs) > tol
        return SparseSpectrum(self.n, self.supports[keep], self.coefs[keep], self.basis)

    def top_k(self, k: int, *, keep_constant: bool = True) -> SparseSpectrum:
        """The ``k`` largest terms by ``|coef|`` (the constant term is kept on top if asked)."""
        order = np.argsort(-np.abs(self.coefs), kind="stable")
        sel = order[:k]
        if keep_constant:
            const = np.nonzero(self.degrees == 0)[0]
            sel = np.union1d(sel, const)
        return SparseSpectrum(self.n, self.supports[sel], self.coefs[sel], self.basis)

    def condition(self, *, present=(), absent=()) -> SparseSpectrum:
        """The same function on the other players, with some players fixed kept or removed.

        ``g(y) = f(x)`` where ``x`` keeps the players in ``present``, removes those in ``absent``
        and takes the remaining players, in ascending order, from ``y``. Used to choose among a
        subset of the players (e.g. only the words that have a synonym) with everything else left
        as it is. Fourier: a fixed-present player flips its terms' sign, a fixed-absent one
        drops out; Möbius: a fixed-absent player zeroes its terms, a fixed-present one drops out.
        Terms that become equal are summed.

        Args:
            present: players fixed as kept.
            absent: players fixed as removed.

        Returns:
            A spectrum in the same basis on ``n - len(present) - len(absent)`` players.

        Raises:
            InvalidParameterError: players out of range, listed twice, or none left.
        """
        fixed = []
        for name, players in (("present", present), ("absent", absent)):
            arr = np.asarray(list(players), dtype=np.int64).reshape(-1)
            if np.any((arr < 0) | (arr >= self.n)) or np.unique(arr).size != arr.size:
                msg = f"The '{name}' parameter must list distinct players in [0, {self.n})."
                raise InvalidParameterError(msg)
            fixed.append(arr)
        pres, absn = fixed
        if np.intersect1d(pres, absn).size or pres.size + absn.size >= self.n:
            msg = (
                "The 'present' and 'absent' parameters must be disjoint and leave at least one "
                f"player free (n = {self.n})."
            )
            raise InvalidParameterError(msg)
        new_index = np.full(self.n + 1, PAD, dtype=np.int64)  # slot n stands for the padding
        free = np.setdiff1d(np.arange(self.n), np.concatenate([pres, absn]))
        new_index[free] = np.arange(free.size)
        sup = self.supports
        slot = np.where(sup >= 0, sup, self.n)
        coefs = self.coefs.copy()
        if self.basis == "moebius":
            coefs[np.isin(sup, absn).any(axis=1)] = 0.0
        else:
            coefs *= np.where(np.isin(sup, pres).sum(axis=1) % 2 == 1, -1.0, 1.0)
        mapped = new_index[slot]
        # the map is increasing, so sorting with the padding pushed last keeps rows canonical
        big = np.iinfo(np.int64).max
        mapped = np.sort(np.where(mapped >= 0, mapped, big), axis=1)
        mapped[mapped == big] = PAD
        supports, coefs = canonicalize(mapped, coefs)
        return SparseSpectrum(int(free.size), supports, coefs, self.basis)

    def __add__(self, other: SparseSpectrum) -> SparseSpectrum:
        if not isinstance(other, SparseSpectrum):
            return NotImplemented
        if other.n != self.n:
            msg = f"Cannot add spectra on {self.n} and {other.n} players."
            raise InvalidParameterError(msg)
        other = other.to_basis(self.basis)
        w = max(self.supports.shape[1], other.supports.shape[1])
        return SparseSpectrum(
            self.n,
            np.concatenate([widen(self.supports, w), widen(other.supports, w)]),
            np.concatenate([self.coefs, other.coefs]),
            self.basis,
        )

    def __repr__(self) -> str:
        return (
            f"SparseSpectrum(n={self.n}, basis={self.basis!r}, terms={len(self)}, "
            f"max_degree={self.max_degree})"
        )
