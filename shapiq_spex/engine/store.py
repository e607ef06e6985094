"""Persistent stores of game values, keyed by game fingerprint and packed coalition bytes.

A coalition ``x`` (boolean, length ``n``) is keyed by ``np.packbits(x).tobytes()``: ``ceil(n / 8)``
bytes, first player in the most significant bit of the first byte. A value is a float64.

The store is modelled on joblib's store backends: :class:`StoreBackend` declares a few primitive
operations (bind to a game, read many keys, write one batch atomically) and :class:`SQLiteStore`
implements them on one SQLite file in WAL mode. Each :meth:`StoreBackend.put_many` is one
transaction, so a process killed with ``SIGKILL`` loses at most the batch it was evaluating: every
batch written before is on disk, and no batch is ever half written.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError, SpexError

__all__ = [
    "CacheMismatchError",
    "SQLiteStore",
    "StoreBackend",
    "open_store",
    "pack_coalitions",
    "unpack_keys",
]

_FORMAT = "shapiq-spex-query-cache"
_SCHEMA_VERSION = "1"
# SQLite's historical limit on bound parameters per statement is 999.
_READ_CHUNK = 900


class CacheMismatchError(SpexError, ValueError):
    """A cache file holds the values of another game (fingerprint or number of players differ)."""


def pack_coalitions(coalitions: np.ndarray) -> np.ndarray:
    """Pack boolean coalitions into fixed-width byte keys.

    Args:
        coalitions: boolean array of shape ``(m, n)``.

    Returns:
        A 1-D ``np.void`` array of shape ``(m,)`` and item size ``ceil(n / 8)``; ``.tolist()`` gives
        the ``bytes`` keys. Equal rows give equal keys, so ``np.unique`` on it dedupes coalitions.
    """
    packed = np.ascontiguousarray(np.packbits(coalitions, axis=1))
    return packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)


def unpack_keys(keys: Sequence[bytes], n_players: int) -> np.ndarray:
    """Invert :func:`pack_coalitions`.

    Args:
        keys: ``m`` byte strings of length ``ceil(n_players / 8)``.
        n_players: number of players ``n``.

    Returns:
        Boolean array of shape ``(m, n_players)``.
    """
    width = (n_players + 7) // 8
    raw = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), width)
    return np.unpackbits(raw, axis=1, count=n_players).astype(bool)


def _encode_values(values: np.ndarray) -> list[bytes]:
    """Float64 values ``(k,)`` -> ``k`` 8-byte little-endian blobs (bit-exact, keeps ``-0.0``)."""
    return np.ascontiguousarray(values, dtype="<f8").view("V8").tolist()


def _decode_values(blobs: Sequence[bytes]) -> np.ndarray:
    """Inverse of :func:`_encode_values`: ``k`` blobs -> float64 array ``(k,)``."""
    return np.frombuffer(b"".join(blobs), dtype="<f8").astype(np.float64)


class StoreBackend(ABC):
    """Primitive operations of a persistent value store for one game.

    A backend is first bound to a game with :meth:`bind`; afterwards :meth:`get_many` and
    :meth:`put_many` read and write that game's values only. :meth:`put_many` must be atomic and
    durable when it returns (all values of the call are stored, or none).
    """

    #: Human-readable location used in error messages (a path for file stores).
    location: str = "<store>"

    @abstractmethod
    def bind(self, fingerprint: str, n_players: int, *, overwrite: bool = False) -> None:
        """Attach the store to the game with this fingerprint.

        Args:
            fingerprint: identity of the game whose values the store holds.
            n_players: number of players of that game.
            overwrite: delete values stored for a different game instead of refusing.

        Raises:
            CacheMismatchError: the store holds another game's values and ``overwrite`` is False.
        """

    @abstractmethod
    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, float]:
        """Look up packed coalitions; returns ``{key: value}`` for the keys that are stored."""

    @abstractmethod
    def put_many(self, keys: Sequence[bytes], values: np.ndarray) -> None:
        """Store ``values`` (float64, shape ``(len(keys),)``) atomically and durably."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of values stored for the bound game."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release the resources of the store (idempotent)."""


class SQLiteStore(StoreBackend):
    """A :class:`StoreBackend` on one SQLite file in write-ahead-log (WAL) mode.

    Layout: table ``meta(key, value)`` holds the file format, schema version, the bound game's
    fingerprint and number of players; table ``game_values(fingerprint, coalition, value)`` with
    primary key ``(fingerprint, coalition)`` holds the values. ``fingerprint`` is the 16-byte
    BLAKE2b digest of the fingerprint string, ``coalition`` the packed coalition bytes and
    ``value`` the 8-byte little-endian float64 (a blob, because SQLite ``REAL`` drops the sign of
    ``-0.0``). One file serves one game at a time: binding a file that holds another game's values
    raises :class:`CacheMismatchError` unless ``overwrite=True``.

    Durability: each :meth:`put_many` is one transaction committed with ``synchronous=NORMAL``,
    which in WAL mode survives the death of the process (``kill -9``) but not necessarily a power
    loss of the machine.

    Args:
        path: file to open or create. Its parent folder must exist.

    Raises:
        InvalidParameterError: the path is a folder, its parent is missing, the file is not a
            SQLite database or not a shapiq-spex cache, or WAL mode cannot be enabled.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        if self.path.is_dir():
            msg = f"The 'cache' parameter must be a file path, but '{self.path}' is a folder."
            raise InvalidParameterError(msg)
        if not self.path.parent.is_dir():
            msg = (
                f"The 'cache' parameter points into '{self.path.parent}', which does not exist. "
                "Create the folder first."
            )
            raise InvalidParameterError(msg)
        self._lock = threading.Lock()
        self._digest: bytes | None = None
        self.fingerprint: str | None = None
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=60.0, isolation_level=None, check_same_thread=False
            )
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.DatabaseError as err:
            msg = (
                f"The 'cache' file '{self.path}' is not a SQLite database ({err}). Pass a new path "
                "for the cache; shapiq-spex never overwrites files it did not create."
            )
            raise InvalidParameterError(msg) from err
        if mode.lower() != "wal":
            self._conn.close()
            msg = (
                f"The 'cache' file '{self.path}' cannot use SQLite WAL mode (got journal mode "
                f"{mode!r}); put the cache on a local file system."
            )
            raise InvalidParameterError(msg)
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._init_schema()

    # ------------------------------------------------------------------ schema
    def _init_schema(self) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                tables = {
                    row[0]
                    for row in self._conn.execute(
                        "SELECT name FROM sqlite_master WHERE type='table'"
                    )
                }
                if not tables:
                    self._conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                    self._conn.execute(
                        "CREATE TABLE game_values (fingerprint BLOB NOT NULL, "
                        "coalition BLOB NOT NULL, value BLOB NOT NULL, "
                        "PRIMARY KEY (fingerprint, coalition)) WITHOUT ROWID"
                    )
                    self._conn.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [("format", _FORMAT), ("schema_version", _SCHEMA_VERSION)],
                    )
                meta = self._read_meta() if "meta" in tables or not tables else {}
                if meta.get("format") != _FORMAT:
                    msg = (
                        f"The 'cache' file '{self.path}' is a SQLite database but not a "
                        "shapiq-spex query cache. Pass a new path for the cache."
                    )
                    raise InvalidParameterError(msg)
                if meta.get("schema_version") != _SCHEMA_VERSION:
                    msg = (
                        f"The 'cache' file '{self.path}' has cache schema version "
                        f"{meta.get('schema_version')!r}; this version of shapiq-spex reads "
                        f"version {_SCHEMA_VERSION!r}. Pass a new path for the cache."
                    )
                    raise InvalidParameterError(msg)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._conn.close()
                raise

    def _read_meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    # ------------------------------------------------------------------ primitives
    def bind(self, fingerprint: str, n_players: int, *, overwrite: bool = False) -> None:
        """Attach the file to one game; see :meth:`StoreBackend.bind`."""
        digest = hashlib.blake2b(fingerprint.encode(), digest_size=16).digest()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                meta = self._read_meta()
                old_fp, old_n = meta.get("fingerprint"), meta.get("n_players")
                same = old_fp is None or (old_fp == fingerprint and old_n == str(n_players))
                if not same and not overwrite:
                    msg = (
                        f"The cache file '{self.path}' holds the values of game fingerprint "
                        f"{old_fp!r} ({old_n} players), but this game's fingerprint is "
                        f"{fingerprint!r} ({n_players} players). Pass a new 'cache' path for this "
                        "game, or pass overwrite=True to delete the stored values and reuse the "
                        "file. If it is the same game and only its automatic fingerprint changed, "
                        f"pass fingerprint={old_fp!r} to keep the stored values."
                    )
                    raise CacheMismatchError(msg)
                if not same:
                    self._conn.execute("DELETE FROM game_values")
                self._conn.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [("fingerprint", fingerprint), ("n_players", str(n_players))],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._digest = digest
            self.fingerprint = fingerprint

    def _require_bound(self) -> bytes:
        if self._digest is None:
            msg = f"The store at '{self.path}' must be bound to a game (call bind) before use."
            raise InvalidParameterError(msg)
        return self._digest

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, float]:
        """Look up packed coalitions; see :meth:`StoreBackend.get_many`."""
        digest = self._require_bound()
        found_keys: list[bytes] = []
        found_blobs: list[bytes] = []
        with self._lock:
            for start in range(0, len(keys), _READ_CHUNK):
                chunk = keys[start : start + _READ_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    "SELECT coalition, value FROM game_values "
                    f"WHERE fingerprint = ? AND coalition IN ({marks})",
                    (digest, *chunk),
                ).fetchall()
                for key, blob in rows:
                    found_keys.append(key)
                    found_blobs.append(blob)
        return dict(zip(found_keys, _decode_values(found_blobs).tolist(), strict=True))

    def put_many(self, keys: Sequence[bytes], values: np.ndarray) -> None:
        """Write one batch in one transaction; see :meth:`StoreBackend.put_many`."""
        digest = self._require_bound()
        blobs = _encode_values(values)
        if len(blobs) != len(keys):
            msg = f"put_many got {len(keys)} keys but {len(blobs)} values."
            raise InvalidParameterError(msg)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO game_values VALUES (?, ?, ?)",
                    [(digest, key, blob) for key, blob in zip(keys, blobs, strict=True)],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        digest = self._require_bound()
        with self._lock:
            query = "SELECT COUNT(*) FROM game_values WHERE fingerprint = ?"
            return int(self._conn.execute(query, (digest,)).fetchone()[0])

    def keys(self) -> list[bytes]:
        """All packed coalitions stored for the bound game (in storage order)."""
        digest = self._require_bound()
        with self._lock:
            rows = self._conn.execute(
                "SELECT coalition FROM game_values WHERE fingerprint = ?", (digest,)
            ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        """Close the SQLite connection (idempotent)."""
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.location!r}, fingerprint={self.fingerprint!r})"


def open_store(cache: str | os.PathLike[str] | StoreBackend | None) -> StoreBackend | None:
    """Turn ``QueryEngine``'s ``cache`` argument into a store (a path opens a :class:`SQLiteStore`).

    Args:
        cache: None, a file path or a :class:`StoreBackend` (returned as is).

    Returns:
        The store, or None.
    """
    if cache is None or isinstance(cache, StoreBackend):
        return cache
    if isinstance(cache, str | os.PathLike):
        return SQLiteStore(cache)
    msg = (
        "The 'cache' parameter of QueryEngine must be None, a file path or a StoreBackend. "
        f"Got {cache!r}."
    )
    raise InvalidParameterError(msg)
