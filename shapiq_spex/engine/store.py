"""Persistent stores of game values, keyed by the game's identity and packed coalition bytes.

A coalition ``x`` (boolean, length ``n``) is keyed by ``np.packbits(x).tobytes()``: ``ceil(n / 8)``
bytes, first player in the most significant bit of the first byte. A value is a float64.

The store is modelled on joblib's store backends: :class:`StoreBackend` declares a few primitive
operations (bind to a game identity, read many keys, write one batch atomically) and
:class:`SQLiteStore` implements them on one SQLite file in WAL mode. Each
:meth:`StoreBackend.put_many` is one transaction, so a process killed with ``SIGKILL`` loses at
most the batch it was evaluating: every batch written before is on disk, and no batch is ever
half written.

**What the file knows about its own completeness.** In WAL mode, committed values first go to
the ``-wal`` file next to the cache and reach the main file only at a checkpoint. A copy of the
main file alone after a crash (or while a run is going) would look like a complete, smaller
cache. To detect that, every writable connection registers itself in a ``sessions`` table and
forces a checkpoint at once, so the main file itself records "a writer is active"; closing the
store removes the row, and the last writer to close checkpoints everything into the main file
(truncating the ``-wal``) and switches it back to a plain single-file database. A live writer's
``-wal`` is never empty, so a main file that still lists a session while no non-empty ``-wal``
lies next to it is a copy or a crashed run's file without its ``-wal``: it is refused as
incomplete (:class:`CacheFileError`), unless ``accept_incomplete=True``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
import warnings
import weakref
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from shapiq_spex.exceptions import GameIdentityError, InvalidParameterError, SpexError

__all__ = [
    "CacheFileError",
    "CacheMismatchError",
    "CacheWriteError",
    "SQLiteStore",
    "StoreBackend",
    "describe_identity_difference",
    "identity_digest",
    "identity_json",
    "identity_label",
    "open_store",
    "pack_coalitions",
    "unpack_keys",
]

_FORMAT = "shapiq-spex-query-cache"
_SCHEMA_VERSION = "2"
# SQLite's historical limit on bound parameters per statement is 999.
_READ_CHUNK = 900
# Seconds a connection waits for another one's lock before giving up.
_BUSY_TIMEOUT_S = 60.0
# Seconds the opening checkpoint retries while other connections read old snapshots.
_CHECKPOINT_RETRY_S = 5.0


class CacheMismatchError(SpexError, ValueError):
    """A cache file holds the values of another game (identity or number of players differ)."""


class CacheFileError(InvalidParameterError):
    """The cache file cannot be used as it is: damaged, an incomplete copy, read-only, not ours."""


class CacheWriteError(SpexError, OSError):
    """A batch could not be committed to the cache (disk full, I/O error, read-only file)."""


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


def identity_json(identity: dict[str, Any]) -> str:
    """The canonical text of an identity: ``json.dumps(identity, sort_keys=True)``.

    Raises:
        GameIdentityError: the identity is not a dict, or not JSON-serialisable with finite
            floats.
    """
    if not isinstance(identity, dict):
        msg = f"A game's cache_identity() must return a dict. Got {type(identity).__name__}."
        raise GameIdentityError(msg)
    try:
        return json.dumps(identity, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        msg = (
            "A game's cache_identity() must return a JSON-serialisable dict (str keys; str, "
            f"finite numbers, bools, None, lists and dicts as values): {err}."
        )
        raise GameIdentityError(msg) from err


def identity_digest(identity: dict[str, Any]) -> str:
    """``sha256(json.dumps(identity, sort_keys=True))`` as 64 hex digits: the key of a cache."""
    return hashlib.sha256(identity_json(identity).encode()).hexdigest()


def identity_label(identity: dict[str, Any], n_players: int | str | None) -> str:
    """A short human-readable name of an identity, for messages."""
    digest = identity_digest(identity)[:12]
    if set(identity) == {"key"}:
        what = f"key={identity['key']!r}"
    else:
        what = str(identity.get("game", "a game"))
    return f"{what} ({n_players} players, identity sha256 {digest}...)"


def _flatten(value: Any, prefix: str = "", depth: int = 2) -> dict[str, Any]:
    if isinstance(value, dict) and depth > 0:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}{key}.", depth - 1))
        return out
    return {prefix.rstrip("."): value}


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_identity_difference(
    stored: dict[str, Any], new: dict[str, Any], limit: int = 6
) -> str:
    """Which fields of two identities differ, e.g. ``"target_class: 1 stored, 0 now"``."""
    a, b = _flatten(stored), _flatten(new)
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k, "<missing>") != b.get(k, "<missing>")]
    parts = []
    for key in keys[:limit]:
        old = _short(a[key]) if key in a else "(absent)"
        now = _short(b[key]) if key in b else "(absent)"
        parts.append(f"{key}: {old} stored, {now} now")
    if len(keys) > limit:
        parts.append(f"and {len(keys) - limit} more")
    return "; ".join(parts) if parts else "no field (only the number of players)"


class StoreBackend(ABC):
    """Primitive operations of a persistent value store for one game.

    A backend is first bound to a game with :meth:`bind`; afterwards :meth:`get_many` and
    :meth:`put_many` read and write that game's values only. :meth:`put_many` must be atomic and
    durable when it returns (all values of the call are stored, or none).
    """

    #: Human-readable location used in error messages (a path for file stores).
    location: str = "<store>"
    #: A read-only store serves stored values and refuses :meth:`put_many`.
    read_only: bool = False

    @abstractmethod
    def bind(self, identity: dict[str, Any], n_players: int, *, overwrite: bool = False) -> None:
        """Attach the store to the game with this identity.

        Args:
            identity: JSON-serialisable identity of the game whose values the store holds (the
                game's ``cache_identity()``, or ``{"key": key}``).
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


def _process_start(pid: int) -> str:
    """The start time of a process (Linux ``/proc``), to tell a reused pid from the original."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def _session_alive(pid: int, host: str, started: str) -> bool:
    """Whether a registered writer still runs (only checkable on this host).

    WAL needs shared memory, so every live writer of a file runs on the host that holds it; a
    session of another host belongs to a copy of the file and is over.
    """
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _process_start(pid)
    return not (started and now and now != started)


class SQLiteStore(StoreBackend):
    """A :class:`StoreBackend` on one SQLite file in write-ahead-log (WAL) mode.

    Layout: table ``meta(key, value)`` holds the file format, schema version, the bound game's
    identity (its canonical JSON), identity digest and number of players; table
    ``game_values(game, coalition, value)`` with primary key ``(game, coalition)`` holds the
    values; table ``sessions`` lists the writers that have the file open (see the module
    docstring). ``game`` is a 16-byte digest of the identity and the number of players,
    ``coalition`` the packed coalition bytes and ``value`` the 8-byte little-endian float64 (a
    blob, because SQLite ``REAL`` drops the sign of ``-0.0``). One file serves one game at a time:
    binding a file that holds another game's values raises :class:`CacheMismatchError` unless
    ``overwrite=True``.

    Durability: each :meth:`put_many` is one transaction committed with ``synchronous=NORMAL``,
    which in WAL mode survives the death of the process (``kill -9``) but not necessarily a power
    loss of the machine. :meth:`close` checkpoints, so that a closed cache is one complete file.
    A writable store that is not closed is closed when it is garbage collected or when the
    interpreter exits normally (in the process that opened it), so a script that ends without
    ``close()`` leaves a complete file; only a killed or crashed writer leaves its session behind.

    Args:
        path: file to open or create. Its parent folder must exist.
        read_only: open an existing cache without writing to it (a finished cache on a read-only
            disk, a shared folder, or a file that must not change). Defaults to False.
        accept_incomplete: open a main file whose writer did not close it and whose ``-wal`` file
            is missing, using the values it holds (those committed up to its last checkpoint).
            Defaults to False (refuse, explaining where the rest is).

    Raises:
        CacheFileError: the path is a folder or its parent is missing; the file is not a SQLite
            database, not a shapiq-spex cache, damaged, an incomplete copy, or read-only while
            ``read_only`` is False (the message says what to do).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        accept_incomplete: bool = False,
    ) -> None:
        for name, flag in (("read_only", read_only), ("accept_incomplete", accept_incomplete)):
            if not isinstance(flag, bool):
                msg = f"The '{name}' parameter of SQLiteStore must be a bool. Got {flag!r}."
                raise InvalidParameterError(msg)
        self.path = Path(path)
        self.location = str(self.path)
        self.read_only = read_only
        self.accept_incomplete = accept_incomplete
        if self.path.is_dir():
            msg = f"The 'cache' parameter must be a file path, but '{self.path}' is a folder."
            raise CacheFileError(msg)
        if not self.path.parent.is_dir():
            msg = (
                f"The 'cache' parameter points into '{self.path.parent}', which does not exist. "
                "Create the folder first."
            )
            raise CacheFileError(msg)
        self._lock = threading.Lock()
        self._owner_pid: int | None = None  # set once a writable store is fully open
        self._digest: bytes | None = None
        self._session: str | None = None
        self._closed = False
        self.identity: dict[str, Any] | None = None
        self.n_players: int | None = None
        # An empty '-wal' holds nothing (read-only connections leave one behind).
        wal = Path(f"{self.path}-wal")
        wal_present = wal.is_file() and wal.stat().st_size > 0
        if read_only:
            self._conn = self._connect_read_only(wal_present)
        else:
            self._check_writable()
            self._conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        try:
            self._check_integrity()
            with self._lock:  # both before WAL mode changes the file
                self._check_format(new_ok=not read_only)
                incomplete = self._refuse_incomplete(wal_present)
            if not read_only:
                self._enable_wal()
                self._init_schema(incomplete)
            if not read_only:
                self._checkpoint("FULL")  # the main file now records this writer (docstring)
        except BaseException:
            self._conn.close()
            raise
        if not read_only:
            # A dropped store's connection is closed by SQLite's own finalizer, which folds the
            # '-wal' away but cannot remove the session row: the next opener would then refuse
            # the file as a copy. Forked children inherit the object but must not close it.
            self._owner_pid = os.getpid()
            _OPEN_WRITERS.add(self)
        stored = self._read_meta()
        if "identity" in stored:
            self.identity = json.loads(stored["identity"])
            self.n_players = int(stored["n_players"])

    # ------------------------------------------------------------------ opening
    def _check_writable(self) -> None:
        folder = self.path.parent
        if self.path.exists() and not os.access(self.path, os.W_OK):
            what = f"The cache file '{self.path}' is read-only"
        elif not os.access(folder, os.W_OK):
            what = (
                f"The cache file '{self.path}' lies in the read-only folder '{folder}' (SQLite "
                "needs to create its '-wal' and '-shm' files next to it)"
            )
        else:
            return
        if self.path.exists():
            fix = (
                "To reuse its values without adding new ones, pass read_only=True; to keep "
                "adding values, copy it to a writable folder and pass that path."
            )
        else:
            fix = "Pass a path in a writable folder."
        msg = f"{what}. {fix}"
        raise CacheFileError(msg)

    def _enable_wal(self) -> None:
        with self._errors("open"):
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._conn.execute("PRAGMA synchronous=NORMAL")
        if mode.lower() != "wal":
            msg = (
                f"The 'cache' file '{self.path}' cannot use SQLite WAL mode (got journal mode "
                f"{mode!r}); put the cache on a local file system."
            )
            raise CacheFileError(msg)

    def _connect_read_only(self, wal_present: bool) -> sqlite3.Connection:
        if not self.path.is_file():
            msg = (
                f"The 'cache' file '{self.path}' does not exist; read_only=True reuses an existing "
                "cache. Leave read_only out to create it."
            )
            raise CacheFileError(msg)
        base = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        conn = sqlite3.connect(
            base, uri=True, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as err:
            conn.close()
            if getattr(err, "sqlite_errorname", "") != "SQLITE_CANTOPEN":
                with self._errors("open"):
                    raise
            cant_open = err
        # A WAL-mode file in a read-only place: SQLite cannot create the '-shm' index it reads
        # the '-wal' through. Without a '-wal' there is nothing to index and nobody can be
        # writing (a writer would have created it), so reading the main file as immutable is
        # exact.
        if wal_present:
            msg = (
                f"The cache file '{self.path}' lies in a read-only place and still has values in "
                f"its '-wal' file, which SQLite cannot read from there ({cant_open}). Open it once "
                "writable (read_only=False, in a writable folder) so that closing folds the '-wal' "
                "into the main file; a finished cache closed by shapiq-spex has no '-wal'."
            )
            raise CacheFileError(msg) from cant_open
        conn = sqlite3.connect(
            base + "&immutable=1",
            uri=True,
            timeout=_BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        with self._errors("open"):
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn

    def _check_integrity(self) -> None:
        # quick_check reads every page once (milliseconds per MB): a damaged file is refused
        # before any model runs, instead of failing in the middle of a run.
        with self._errors("open"):
            rows = self._conn.execute("PRAGMA quick_check(5)").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            raise self._damaged("; ".join(str(r[0]) for r in rows))

    def _damaged(self, detail: str) -> CacheFileError:
        msg = (
            f"The cache file '{self.path}' is damaged ({detail}); its values cannot be trusted. "
            "Move it away (or delete it) and pass a new 'cache' path: the run starts over. To "
            "salvage readable values into a new file, the sqlite3 shell's '.recover' command may "
            "help, but a salvaged file is not checked by shapiq-spex."
        )
        return CacheFileError(msg)

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn SQLite errors into errors that say what happened to the cache and what to do."""
        try:
            yield
        except sqlite3.DatabaseError as err:
            name = getattr(err, "sqlite_errorname", "") or ""
            if name.startswith("SQLITE_CORRUPT") or "malformed" in str(err):
                raise self._damaged(str(err)) from err
            if name == "SQLITE_NOTADB":
                msg = (
                    f"The 'cache' file '{self.path}' is not a SQLite database ({err}). Pass a new "
                    "path for the cache; shapiq-spex never overwrites files it did not create."
                )
                raise CacheFileError(msg) from err
            if action == "open":
                if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
                    msg = (
                        f"The cache file '{self.path}' cannot be opened for writing ({err}). To "
                        "reuse its values without adding new ones, pass read_only=True; to keep "
                        "adding values, copy it to a writable folder."
                    )
                    raise CacheFileError(msg) from err
                raise
            if name == "SQLITE_FULL":
                what = "the disk (or the file system holding it) is full"
                fix = "Free disk space or move the cache to a larger disk, then run again."
            elif name.startswith("SQLITE_READONLY"):
                what = "the file or its folder became read-only"
                fix = "Make it writable again, or copy it to a writable folder, then run again."
            elif name.startswith("SQLITE_IOERR"):
                what = f"the operating system reported an I/O error ({name})"
                fix = "Check the disk, then run again."
            elif name.startswith("SQLITE_BUSY"):
                what = f"another process kept it locked for more than {_BUSY_TIMEOUT_S:.0f} s"
                fix = "Run again when the other process is done."
            else:
                raise
            msg = f"Could not {action} the cache file '{self.path}': {what} ({err}). {fix}"
            raise CacheWriteError(msg) from err

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[None]:
        """``BEGIN IMMEDIATE ... COMMIT``; on error roll back only what SQLite did not already.

        After SQLITE_FULL, an I/O error or a failed COMMIT, SQLite may have rolled the
        transaction back itself; an explicit ROLLBACK then fails with "no transaction is active"
        and would hide the real cause.
        """
        with self._errors(action):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise

    def _init_schema(self, incomplete: bool) -> None:
        with self._lock, self._transaction("open"):
            if not self._tables():  # a new file
                self._conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                self._conn.execute(
                    "CREATE TABLE game_values (game BLOB NOT NULL, coalition BLOB NOT NULL, "
                    "value BLOB NOT NULL, PRIMARY KEY (game, coalition)) WITHOUT ROWID"
                )
                self._conn.execute(
                    "CREATE TABLE sessions (token TEXT PRIMARY KEY, pid INTEGER, host TEXT, "
                    "started TEXT, opened REAL)"
                )
                self._conn.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("format", _FORMAT), ("schema_version", _SCHEMA_VERSION)],
                )
            self._check_format()
            self._clean_sessions(incomplete)
            self._session = uuid.uuid4().hex
            pid = os.getpid()
            self._conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (self._session, pid, socket.gethostname(), _process_start(pid), time.time()),
            )

    def _tables(self) -> set[str]:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {row[0] for row in rows}

    def _check_format(self, *, new_ok: bool = False) -> None:
        tables = self._tables()
        if not tables and new_ok:
            return
        meta = self._read_meta() if "meta" in tables else {}
        if meta.get("format") != _FORMAT:
            msg = (
                f"The 'cache' file '{self.path}' is a SQLite database but not a shapiq-spex query "
                "cache. Pass a new path for the cache."
            )
            raise CacheFileError(msg)
        if meta.get("schema_version") != _SCHEMA_VERSION:
            msg = (
                f"The 'cache' file '{self.path}' has cache schema version "
                f"{meta.get('schema_version')!r}; this version of shapiq-spex reads version "
                f"{_SCHEMA_VERSION!r} (version 1 keyed games by four probe values, which let two "
                "different games share values). Pass a new path for the cache."
            )
            raise CacheFileError(msg)

    def _refuse_incomplete(self, wal_present: bool) -> bool:
        """Refuse a main file that lists a writer while its ``-wal`` is missing (docstring).

        Returns:
            Whether the file is such an incomplete one (only when ``accept_incomplete``).
        """
        if "sessions" not in self._tables():
            return False
        with self._errors("read"):
            rows = self._conn.execute("SELECT pid, host, opened FROM sessions").fetchall()
        incomplete = bool(rows) and not wal_present
        if incomplete and not self.accept_incomplete:
            pid, host, opened = rows[0]
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(opened))
            with self._errors("read"):
                n_values = self._conn.execute("SELECT count(*) FROM game_values").fetchone()[0]
            msg = (
                f"The cache file '{self.path}' was not closed by its writer (process {pid} on "
                f"host {host}, opened {when}: killed, crashed or still running), and its "
                f"'-wal' file '{self.path}-wal' is missing. The values committed after the main "
                "file's last checkpoint are in that '-wal' file, so this file alone may be "
                "incomplete. If you copied the cache, copy the '-wal' file with it (both while no "
                "run uses them), or resume where the cache lies. If the '-wal' file is lost, or "
                "another SQLite program opened the file since (closing, it folds the '-wal' into "
                f"the main file and deletes it), this file holds {n_values} values: pass "
                f"cache=SQLiteStore({str(self.path)!r}, accept_incomplete=True) to resume from "
                "those."
            )
            raise CacheFileError(msg)
        return incomplete

    def _clean_sessions(self, incomplete: bool) -> None:
        """Remove the sessions of writers that are gone (inside the opening transaction).

        Their committed values are in the '-wal' that SQLite just recovered, or, for an accepted
        incomplete file, knowingly given up.
        """
        rows = self._conn.execute("SELECT token, pid, host, started FROM sessions").fetchall()
        dead = [r[0] for r in rows if incomplete or not _session_alive(*r[1:])]
        self._conn.executemany("DELETE FROM sessions WHERE token = ?", [(t,) for t in dead])

    def _checkpoint(self, mode: str) -> bool:
        """Copy the ``-wal`` into the main file; True when every frame made it."""
        deadline = time.monotonic() + _CHECKPOINT_RETRY_S
        with self._lock:
            while True:
                with self._errors("checkpoint"):
                    busy, log, done = self._conn.execute(
                        f"PRAGMA wal_checkpoint({mode})"
                    ).fetchone()
                if not busy and log == done:
                    return True
                if time.monotonic() > deadline:
                    # Another connection holds an old snapshot; its own close checkpoints.
                    return False
                time.sleep(0.05)

    def _read_meta(self) -> dict[str, str]:
        with self._errors("read"):
            return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    # ------------------------------------------------------------------ primitives
    def bind(self, identity: dict[str, Any], n_players: int, *, overwrite: bool = False) -> None:
        """Attach the file to one game; see :meth:`StoreBackend.bind`."""
        text = identity_json(identity)
        digest = identity_digest(identity)
        game = hashlib.sha256(f"{digest}|n={n_players}".encode()).digest()[:16]
        if self.read_only and overwrite:
            msg = "The 'overwrite' parameter must be False with a read-only cache."
            raise InvalidParameterError(msg)
        with self._lock:
            meta = self._read_meta()
            old_text, old_n = meta.get("identity"), meta.get("n_players")
            if old_text is None and self.read_only:
                msg = (
                    f"The read-only cache file '{self.path}' holds no game's values yet, so "
                    "there is nothing to reuse; leave read_only out to fill it."
                )
                raise CacheFileError(msg)
            same = old_text is None or (old_text == text and old_n == str(n_players))
            if not same and not overwrite:
                old = json.loads(old_text)
                msg = (
                    f"The cache file '{self.path}' holds the values of another game, so they are "
                    f"not used for this one. Stored: {identity_label(old, old_n)}; this game: "
                    f"{identity_label(identity, n_players)}. They differ in "
                    f"{describe_identity_difference(old, identity)}. Pass a new 'cache' path for "
                    "this game (one file per game), or overwrite=True to delete the stored values "
                    "and reuse the file."
                )
                raise CacheMismatchError(msg)
            if not same or old_text is None:
                with self._transaction("write"):
                    if not same:
                        self._conn.execute("DELETE FROM game_values")
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                        [
                            ("identity", text),
                            ("identity_sha256", digest),
                            ("n_players", str(n_players)),
                        ],
                    )
            self._digest = game
            self.identity = json.loads(text)
            self.n_players = int(n_players)

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
        with self._lock, self._errors("read"):
            for start in range(0, len(keys), _READ_CHUNK):
                chunk = keys[start : start + _READ_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT coalition, value FROM game_values WHERE game = ? AND coalition IN "
                    f"({marks})",
                    (digest, *chunk),
                ).fetchall()
                for key, blob in rows:
                    found_keys.append(key)
                    found_blobs.append(blob)
        return dict(zip(found_keys, _decode_values(found_blobs).tolist(), strict=True))

    def put_many(self, keys: Sequence[bytes], values: np.ndarray) -> None:
        """Write one batch in one transaction; see :meth:`StoreBackend.put_many`.

        Raises:
            CacheWriteError: the batch could not be committed (disk full, I/O error, read-only);
                nothing of it is stored, everything committed before is.
        """
        digest = self._require_bound()
        if self.read_only:
            msg = f"The cache file '{self.path}' was opened read-only; put_many is not allowed."
            raise CacheWriteError(msg)
        blobs = _encode_values(values)
        if len(blobs) != len(keys):
            msg = f"put_many got {len(keys)} keys but {len(blobs)} values."
            raise InvalidParameterError(msg)
        with self._lock, self._transaction("write a batch to"):
            self._conn.executemany(
                "INSERT OR REPLACE INTO game_values VALUES (?, ?, ?)",
                [(digest, key, blob) for key, blob in zip(keys, blobs, strict=True)],
            )

    def __len__(self) -> int:
        digest = self._require_bound()
        with self._lock, self._errors("read"):
            query = "SELECT COUNT(*) FROM game_values WHERE game = ?"
            return int(self._conn.execute(query, (digest,)).fetchone()[0])

    def keys(self) -> list[bytes]:
        """All packed coalitions stored for the bound game (in storage order)."""
        digest = self._require_bound()
        with self._lock, self._errors("read"):
            rows = self._conn.execute(
                "SELECT coalition FROM game_values WHERE game = ?", (digest,)
            ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        """Fold the ``-wal`` into the main file and close the connection (idempotent).

        A writable store removes its session; the last writer to close then checkpoints with
        ``TRUNCATE`` and switches the file out of WAL mode: the closed cache is one
        self-contained file that can be copied alone and read from a read-only place. (While
        other writers go on, their ``-wal`` is left as it is: a live writer's ``-wal`` is never
        empty, which is how an opener tells the original file from a copy.) Failing to fold (a
        full disk, say) is only warned about: the values stay safe in the ``-wal`` file.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _OPEN_WRITERS.discard(self)
        try:
            if self._session is not None:
                with self._lock, self._transaction("close"):
                    self._conn.execute("DELETE FROM sessions WHERE token = ?", (self._session,))
                    rows = self._conn.execute("SELECT pid, host, started FROM sessions")
                    others = [r for r in rows.fetchall() if _session_alive(*r)]
                    if not others:  # only dead writers left: nobody will remove their rows
                        self._conn.execute("DELETE FROM sessions")
                if not others:
                    self._checkpoint("TRUNCATE")
                    with self._lock:
                        self._conn.execute("PRAGMA busy_timeout=100")
                        with contextlib.suppress(sqlite3.OperationalError):  # a reader came in
                            self._conn.execute("PRAGMA journal_mode=DELETE").fetchone()
        except (sqlite3.Error, CacheWriteError, CacheFileError) as err:
            msg = (
                f"Could not fold the cache '{self.path}' into one file on close ({err}); its "
                f"values are safe in '{self.path}-wal', keep that file next to it."
            )
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        finally:
            with self._lock:
                self._conn.close()

    def _close_if_owner(self) -> None:
        """:meth:`close` from the process that opened the store (garbage collection, exit)."""
        if getattr(self, "_owner_pid", None) == os.getpid():
            self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finalizer
            self._close_if_owner()

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        label = None if self.identity is None else identity_label(self.identity, self.n_players)
        return f"SQLiteStore({self.location!r}{mode}, game={label!r})"


#: Writable stores not yet closed: :func:`_close_open_writers` closes them at a normal exit
#: (``__del__`` alone may not run then, and not before SQLite's own finalizer).
_OPEN_WRITERS: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


@atexit.register
def _close_open_writers() -> None:
    for store in list(_OPEN_WRITERS):
        with contextlib.suppress(Exception):
            store._close_if_owner()


def open_store(
    cache: str | os.PathLike[str] | StoreBackend | None, *, read_only: bool = False
) -> StoreBackend | None:
    """Turn ``QueryEngine``'s ``cache`` argument into a store (a path opens a :class:`SQLiteStore`).

    Args:
        cache: None, a file path or a :class:`StoreBackend` (returned as is).
        read_only: open a path read-only.

    Returns:
        The store, or None.
    """
    if cache is None or isinstance(cache, StoreBackend):
        return cache
    if isinstance(cache, str | os.PathLike):
        return SQLiteStore(cache, read_only=read_only)
    msg = (
        "The 'cache' parameter of QueryEngine must be None, a file path or a StoreBackend. "
        f"Got {cache!r}."
    )
    raise InvalidParameterError(msg)
