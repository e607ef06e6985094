"""Small deterministic games for the engine tests (numpy only, picklable by reference)."""

from __future__ import annotations

import os
import time

import numpy as np


def linear_values(coalitions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Reference values ``x @ w + 0.5 * x0 * x1`` for boolean coalitions ``(m, n)``."""
    x = np.asarray(coalitions, dtype=np.float64)
    return x @ weights + 0.5 * x[:, 0] * x[:, 1]


class LinearGame:
    """A deterministic game with ``n_players``; records the batches it was called with."""

    def __init__(self, n_players: int, seed: int = 0) -> None:
        self.n_players = n_players
        self.seed = seed
        # Multiples of 1/8: every sum is exact, whatever the batch composition or BLAS blocking.
        self.weights = np.round(np.random.default_rng(seed).normal(size=n_players) * 8) / 8
        self.batches: list[np.ndarray] = []

    def cache_identity(self) -> dict:
        # The subclasses compute the same values (or fail), so they share the identity.
        return {"game": "LinearGame", "n_players": self.n_players, "seed": self.seed}

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        self.batches.append(np.array(coalitions, copy=True))
        return linear_values(coalitions, self.weights)

    @property
    def n_evaluated(self) -> int:
        return sum(len(b) for b in self.batches)


def make_linear_game(n_players: int, seed: int = 0) -> LinearGame:
    """Factory used through ``GameFactory``."""
    return LinearGame(n_players, seed)


class LoggingGame(LinearGame):
    """A slow LinearGame that appends one line per batch to a log file before returning.

    Line format: ``<pid> <hex key>,<hex key>,...`` with keys ``np.packbits(row).hex()``.
    """

    def __init__(self, n_players: int, log_path: str, delay_s: float, seed: int = 0) -> None:
        super().__init__(n_players, seed)
        self.log_path = log_path
        self.delay_s = delay_s

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        time.sleep(self.delay_s)
        keys = ",".join(np.packbits(row).tobytes().hex() for row in coalitions)
        with open(self.log_path, "a") as log:
            log.write(f"{os.getpid()} {keys}\n")
            log.flush()
            os.fsync(log.fileno())
        return super().__call__(coalitions)


class FailingGame(LinearGame):
    """A LinearGame whose call number ``fail_at`` (0-based) misbehaves once.

    ``mode``: ``"raise"`` (ValueError), ``"nan"``, ``"inf"``, ``"shape"`` ((b, 2) output),
    ``"dtype"`` (strings), ``"numeric_str"`` (strings of numbers such as ``"1.5"``), ``"complex"``
    (complex values with a zero imaginary part) or ``"object"`` (an object array of floats).
    """

    def __init__(self, n_players: int, fail_at: int, mode: str, seed: int = 0) -> None:
        super().__init__(n_players, seed)
        self.fail_at = fail_at
        self.mode = mode
        self.n_calls = 0

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        call, self.n_calls = self.n_calls, self.n_calls + 1
        values = super().__call__(coalitions)
        if call != self.fail_at:
            return values
        if self.mode == "raise":
            msg = "model exploded"
            raise ValueError(msg)
        if self.mode == "nan":
            values[1] = np.nan
        elif self.mode == "inf":
            values[0] = -np.inf
        elif self.mode == "shape":
            values = np.stack([values, values], axis=1)
        elif self.mode in ("dtype", "numeric_str"):
            values = values.astype(str) if self.mode == "numeric_str" else np.full(len(values), "x")
        elif self.mode == "complex":
            values = values.astype(complex)
        elif self.mode == "object":
            values = values.astype(object)
        return values


class ExitOnceGame(LinearGame):
    """A LinearGame steered by flag files in ``flag_dir`` (for worker-failure tests).

    * ``exit``: the first call that sees it removes it and kills its own process (``os._exit``),
      so exactly one worker dies, once.
    * ``raise``: every call raises ValueError while it exists.
    """

    def __init__(self, n_players: int, flag_dir: str, seed: int = 0) -> None:
        super().__init__(n_players, seed)
        self.flag_dir = flag_dir

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        try:
            os.remove(os.path.join(self.flag_dir, "exit"))
        except FileNotFoundError:
            pass
        else:
            os._exit(3)
        if os.path.exists(os.path.join(self.flag_dir, "raise")):
            msg = "model exploded"
            raise ValueError(msg)
        return super().__call__(coalitions)


class RaisingGame(LinearGame):
    """A LinearGame that always raises (for worker error propagation)."""

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        msg = "model exploded"
        raise ValueError(msg)


def broken_factory(n_players: int) -> LinearGame:
    """A GameFactory target that fails (for worker start-up errors)."""
    msg = f"cannot load the model for {n_players} players"
    raise RuntimeError(msg)


class ThresholdGame:
    """``v_k(S) = [|S| >= k]`` (issue 11, row 2: k = 29 and 31 agree on the probes at n = 64)."""

    def __init__(self, n_players: int, k: int) -> None:
        self.n_players = n_players
        self.k = k

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        return (np.asarray(coalitions).sum(axis=1) >= self.k).astype(np.float64)

    def cache_identity(self) -> dict:
        return {"game": "ThresholdGame", "k": self.k}


class DriftingGame(LinearGame):
    """A LinearGame whose identity ignores ``offset``: a change the identity does not see."""

    def __init__(self, n_players: int, offset: float) -> None:
        super().__init__(n_players)
        self.offset = offset

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        return super().__call__(coalitions) + self.offset
