"""A game wrapper that keeps every coalition it was asked for, with the values and the time."""

from __future__ import annotations

import time

import numpy as np

from shapiq_spex.exceptions import GameIdentityError, InvalidParameterError
from shapiq_spex.spectra.spectrum import check_coalitions

__all__ = ["RecordingGame"]


class RecordingGame:
    """Wraps a game and records every queried coalition, its value and the time spent.

    Lets a second method reuse the very queries a first one paid for (e.g. a Banzhaf regression
    on the uniform random coalitions ProxySPEX queried) and separates model time from overhead.
    Memory grows with the number of queries (``n / 8 + 8`` bytes each).

    Attributes:
        game: the wrapped callable.
        n_players: its number of players.
        queries: coalitions evaluated so far.
        time_s: wall time spent inside ``game``.

    Example:
        >>> rec = RecordingGame(game)  # doctest: +SKIP
        >>> ProxySPEX(rec.n_players, random_state=0).approximate(1000, rec)  # doctest: +SKIP
        >>> rec.masks.shape, rec.values.shape  # doctest: +SKIP
        ((1000, n), (1000,))
    """

    def __init__(self, game, n_players: int | None = None) -> None:
        """Wrap ``game`` (its ``n_players`` is used unless ``n_players`` is given)."""
        n = getattr(game, "n_players", None) if n_players is None else n_players
        if not callable(game) or not isinstance(n, int | np.integer) or n < 1:
            msg = (
                "The 'game' parameter must be callable on (m, n) boolean coalitions and have an "
                "int 'n_players' (or pass n_players=...)."
            )
            raise InvalidParameterError(msg)
        self.game = game
        self.n_players = int(n)
        self.queries = 0
        self.time_s = 0.0
        self._masks: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def __call__(self, coalitions) -> np.ndarray:
        """Evaluate and record ``(m, n)`` coalitions; returns the game's values as float64."""
        x = check_coalitions(coalitions, self.n_players)
        start = time.perf_counter()
        values = np.asarray(self.game(x), dtype=np.float64).reshape(-1)
        self.time_s += time.perf_counter() - start
        self.queries += x.shape[0]
        self._masks.append(np.packbits(x, axis=1))
        self._values.append(values.copy())
        return values

    def cache_identity(self) -> dict:
        """The wrapped game's identity: recording does not change the values.

        Raises:
            GameIdentityError: the wrapped game has no ``cache_identity`` method.
        """
        method = getattr(self.game, "cache_identity", None)
        if method is None:
            msg = (
                f"RecordingGame wraps {type(self.game).__name__}, which has no cache_identity() "
                "method, so the recorded values cannot be keyed for a cache."
            )
            raise GameIdentityError(msg)
        return method()

    @property
    def masks(self) -> np.ndarray:
        """``(queries, n)`` bool, every coalition in the order it was asked for."""
        if not self._masks:
            return np.zeros((0, self.n_players), dtype=bool)
        packed = np.concatenate(self._masks)
        return np.unpackbits(packed, axis=1, count=self.n_players).astype(bool)

    @property
    def values(self) -> np.ndarray:
        """``(queries,)`` float64, the game's value of each recorded coalition."""
        return np.concatenate(self._values) if self._values else np.zeros(0)
