"""Uniform random coalitions without repeats: the query design of ProxySPEX and HybridSPEX.

Every function here is pure: it takes a ``np.random.Generator`` and returns a boolean
``(m, n)`` matrix (``True`` = player kept). Coalitions are drawn uniformly from the ``2^n``
subsets, *distinct* (a repeated query buys nothing for a deterministic game), with the empty and
the full coalition first, and optionally in complementary pairs (``x`` next to ``~x``).

Draws are *prefix-stable*: the generator is read in chunks of a fixed size, whatever ``m`` is,
and the first ``m`` distinct coalitions of that stream are returned, so the ``m`` coalitions drawn
from a seed are the first ``m`` of the ``m' > m`` drawn from the same seed. Budgets therefore nest:
a run with a larger budget (or the next round of a faithfulness target) re-uses every coalition a
smaller one paid for, and a query cache answers them. Duplicates are rejected in bulk per chunk
(rows packed into one key each, one ``np.unique``). For ``n <= 20`` the stream holds integer codes;
when more than half of the free codes are asked for, rejection would be slow, and the codes are
drawn exactly without replacement instead (still uniform, no longer prefix-stable). Paired draws
(``pairing=True``) are not prefix-stable either (the order within each pair is drawn last).
"""

from __future__ import annotations

import numbers

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError

__all__ = ["mask_keys", "uniform_masks", "unique_masks"]

# Below this many players the whole code space (2^n integers) is small enough to sample from.
_ENUMERATE_MAX_N = 20
# Rows (or codes) read from the generator per chunk: fixed, so that draws are prefix-stable.
_CHUNK = 1024


def mask_keys(masks: np.ndarray) -> np.ndarray:
    """One hashable, sortable key per coalition (its packed bits).

    Args:
        masks: ``(m, n)`` boolean coalitions.

    Returns:
        ``(m,)`` keys: ``uint64`` codes for ``n <= 64`` (bit ``i`` = player ``i``), otherwise
        opaque fixed-width ``void`` records. Equal coalitions have equal keys.
    """
    masks = np.asarray(masks, dtype=bool)
    packed = np.packbits(masks, axis=1, bitorder="little")  # (m, ceil(n / 8)) uint8
    width = packed.shape[1]
    if width <= 8:
        padded = np.zeros((masks.shape[0], 8), dtype=np.uint8)
        padded[:, :width] = packed
        return padded.view("<u8").ravel().astype(np.uint64)
    return np.ascontiguousarray(packed).view(np.dtype((np.void, width))).ravel()


def unique_masks(masks: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of every distinct coalition, in their original order.

    Args:
        masks: ``(m, n)`` boolean coalitions.

    Returns:
        ``(u,)`` int64 ascending row indices, one per distinct row.
    """
    _, first = np.unique(mask_keys(masks), return_index=True)
    return np.sort(first)


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        msg = f"The '{name}' parameter must be a non-negative int. Got {value!r}."
        raise InvalidParameterError(msg)
    return int(value)


def _codes_to_masks(codes: np.ndarray, n: int) -> np.ndarray:
    """``(m,)`` integer codes (bit ``i`` = player ``i``) → ``(m, n)`` boolean masks."""
    return ((codes[:, None] >> np.arange(n, dtype=np.int64)[None, :]) & 1).astype(bool)


def _canonical(masks: np.ndarray) -> np.ndarray:
    """Pair representative: the member of ``{x, ~x}`` that does not contain player 0."""
    return masks ^ masks[:, :1]


def _sample_codes(rng, n: int, count: int, taken: np.ndarray, pairing: bool) -> np.ndarray:
    """``count`` distinct free coalitions (or pair representatives) as ``(count, n)`` masks.

    Codes are read in chunks of :data:`_CHUNK` and the first free distinct ones kept, up to
    half of the free codes; the codes left after that half follow in a random permutation (a
    coupon collector would need ever more draws for them). Both parts depend on ``count`` only
    through where they are cut, so a larger ``count`` extends a smaller one (prefix-stable:
    ``target_r2`` rounds nest), and the whole order is a uniform random permutation.
    """
    free = np.flatnonzero(~taken)
    shift = 1 if pairing else 0  # pair codes: player 0 absent, bits 1..n-1 = code
    half = free.shape[0] // 2
    goal = min(count, half)
    occupied = taken.copy()
    out = [np.zeros(0, dtype=np.int64)]
    found = 0
    while found < goal:
        chunk = rng.integers(0, taken.shape[0], size=_CHUNK, dtype=np.int64)
        _, first = np.unique(chunk, return_index=True)
        first = np.sort(first)  # first occurrences, in draw order
        first = first[~occupied[chunk[first]]][: goal - found]
        occupied[chunk[first]] = True
        out.append(chunk[first])
        found += first.shape[0]
    if count > half:
        out.append(rng.permutation(np.flatnonzero(~occupied))[: count - half])
    return _codes_to_masks(np.concatenate(out).astype(np.int64) << shift, n)


def _sample_rejection(rng, n: int, count: int, taken_keys: np.ndarray, pairing: bool):
    """``count`` distinct coalitions (or pair representatives) whose keys are not in ``taken``.

    Reads i.i.d. Bernoulli(1/2) rows in chunks of :data:`_CHUNK` and keeps the first ``count``
    new ones (one ``np.unique`` per chunk); used for ``n > 20`` where a repeat is rare.
    """
    chosen = []
    chosen_keys = [taken_keys[:0]]
    found = 0
    while found < count:
        batch = rng.integers(0, 2, size=(_CHUNK, n), dtype=np.uint8).view(bool)
        if pairing:
            batch = _canonical(batch)
        keys = mask_keys(batch)
        seen = np.concatenate([taken_keys, *chosen_keys])
        pool = np.concatenate([seen, keys])
        _, first = np.unique(pool, return_index=True)
        fresh = np.sort(first[first >= seen.shape[0]]) - seen.shape[0]  # in draw order
        fresh = fresh[: count - found]
        chosen.append(batch[fresh])
        chosen_keys.append(keys[fresh])
        found += fresh.shape[0]
    return np.concatenate(chosen) if chosen else np.zeros((0, n), dtype=bool)


def uniform_masks(
    rng: np.random.Generator,
    n: int,
    m: int,
    *,
    pairing: bool = False,
    include_extremes: bool = True,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Draw ``m`` distinct uniform random coalitions of ``n`` players.

    Args:
        rng: the generator to draw from (advanced by this call).
        n: number of players (``>= 1``).
        m: number of coalitions (``<= 2^n`` minus the excluded ones).
        pairing: return coalitions in complementary pairs ``x, ~x`` (an odd ``m`` ends with one
            unpaired coalition). Defaults to ``False``.
        include_extremes: put the empty and the full coalition first (they count towards ``m``;
            with ``m = 1`` only the empty one). Defaults to ``True``.
        exclude: ``(e, n)`` boolean coalitions that must not be drawn (for example the training
            masks when drawing held-out ones). With ``pairing``, a pair is excluded when either of
            its members is. Defaults to ``None``.

    Returns:
        ``(m, n)`` boolean matrix with distinct rows; apart from the extremes, every row is
        uniform over the coalitions not excluded.

    Raises:
        InvalidParameterError: ``n`` or ``m`` is not a valid count, ``exclude`` has the wrong
            shape, or fewer than ``m`` coalitions are available.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        msg = f"The 'n' parameter must be a positive int (number of players). Got {n!r}."
        raise InvalidParameterError(msg)
    n = int(n)
    m = _check_count(m, "m")
    excl = np.zeros((0, n), dtype=bool) if exclude is None else np.asarray(exclude, dtype=bool)
    if excl.ndim != 2 or excl.shape[1] != n:
        msg = f"The 'exclude' parameter must have shape (e, {n}). Got {excl.shape}."
        raise InvalidParameterError(msg)
    head = np.zeros((0, n), dtype=bool)
    if include_extremes and m > 0:
        head = np.stack([np.zeros(n, dtype=bool), np.ones(n, dtype=bool)])[: min(m, 2)]
        if excl.shape[0] and np.isin(mask_keys(head), mask_keys(excl)).any():
            msg = (
                "The 'exclude' parameter contains the empty or the full coalition, which "
                "include_extremes=True must return; pass include_extremes=False."
            )
            raise InvalidParameterError(msg)
    taken = np.concatenate([head, excl])
    if pairing:
        taken = _canonical(taken)
    taken_keys = np.unique(mask_keys(taken)) if taken.shape[0] else mask_keys(taken)
    rest = m - head.shape[0]
    units = (rest + 1) // 2 if pairing else rest  # pairs to draw (the last may be cut in half)
    space = 2 ** (n - 1) if pairing else 2**n  # Python ints: exact for every n
    free_units = space - taken_keys.shape[0]
    if units > free_units:
        what = "complementary pairs" if pairing else "coalitions"
        most = head.shape[0] + (2 if pairing else 1) * free_units
        msg = (
            f"The 'm' parameter asks for {m} distinct coalitions of {n} players, but only "
            f"{free_units} free {what} remain after the extremes and 'exclude'. "
            f"Lower m to at most {most}."
        )
        raise InvalidParameterError(msg)
    if units == 0:
        return head
    if n <= _ENUMERATE_MAX_N:
        occupied = np.zeros(space, dtype=bool)
        codes = taken_keys.astype(np.int64) >> (1 if pairing else 0)
        occupied[codes] = True
        body = _sample_codes(rng, n, units, occupied, pairing)
    else:
        body = _sample_rejection(rng, n, units, taken_keys, pairing)
    if pairing:
        flip = rng.integers(0, 2, size=units, dtype=np.uint8).view(bool)  # which member first
        first = body ^ flip[:, None]
        body = np.stack([first, ~first], axis=1).reshape(2 * units, n)[:rest]
    return np.concatenate([head, body])
