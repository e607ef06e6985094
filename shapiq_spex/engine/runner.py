"""QueryEngine: dedupe, cache, batch and distribute the queries of an expensive game."""

from __future__ import annotations

import dataclasses
import numbers
import os
import sys
import threading
import time
import warnings
from typing import Any

import numpy as np
from shapiq.game import Game
from tqdm import tqdm

from shapiq_spex.engine.executors import (
    BatchEvaluationError,
    Executor,
    GameFactory,
    make_executor,
    qualname_of,
)
from shapiq_spex.engine.store import (
    CacheMismatchError,
    CacheWriteError,
    StoreBackend,
    identity_digest,
    identity_label,
    open_store,
    pack_coalitions,
)
from shapiq_spex.exceptions import GameIdentityError, InvalidParameterError
from shapiq_spex.spectra.spectrum import check_coalitions
from shapiq_spex.validation import check_game_values

__all__ = ["PROBE_RTOL", "EngineStats", "QueryEngine", "probe_coalitions"]

_PROBE_SEED = 0x5EC7
_N_RANDOM_PROBES = 2
#: Relative tolerance of the probe check: float32 models agree to about 7 digits across devices
#: and batch shapes, a changed model or a nondeterministic game differs far more.
PROBE_RTOL = 1e-5


def probe_coalitions(n_players: int) -> np.ndarray:
    """The fixed coalitions whose values are re-checked each time an engine binds a cache.

    Args:
        n_players: number of players ``n``.

    Returns:
        Boolean array of shape ``(4, n)``: the empty coalition, the grand coalition and two
        coalitions drawn i.i.d. Bernoulli(1/2) from a fixed seed (the same in every process).
    """
    rng = np.random.default_rng(_PROBE_SEED)
    random_rows = rng.random((_N_RANDOM_PROBES, n_players)) < 0.5
    edges = np.array([[False], [True]]).repeat(n_players, axis=1)
    return np.concatenate([edges, random_rows])


@dataclasses.dataclass
class EngineStats:
    """Counters of a :class:`QueryEngine`, accumulated over all its calls.

    Every requested coalition (row) is counted once in exactly one of ``duplicates_saved``,
    ``cache_hits`` and ``evaluated``, so these three add up to ``queries``.

    Attributes:
        queries: rows requested by callers.
        evaluated: distinct coalitions sent to the game.
        cache_hits: distinct coalitions read from the persistent cache instead of the game.
        duplicates_saved: rows answered from memory: repeats within a call, and coalitions
            already evaluated, read or probed earlier by this engine.
        batches: batches sent to the game for callers (probe batches not included).
        probe_evaluated: coalitions evaluated for the probe check of a cache.
        model_time_s: seconds spent inside the game, summed over workers (so it can exceed the
            wall time with parallel executors).
        total_time_s: wall seconds spent in calls of the engine.
    """

    queries: int = 0
    evaluated: int = 0
    cache_hits: int = 0
    duplicates_saved: int = 0
    batches: int = 0
    probe_evaluated: int = 0
    model_time_s: float = 0.0
    total_time_s: float = 0.0

    @property
    def overhead_time_s(self) -> float:
        """Wall seconds not spent in the game (meaningful for the serial executor)."""
        return max(self.total_time_s - self.model_time_s, 0.0)

    def as_dict(self) -> dict[str, float]:
        """The counters as a plain dict (for logs and JSON)."""
        return dataclasses.asdict(self)


class QueryEngine(Game):
    """Evaluate an expensive game once per distinct coalition: dedupe, cache, batch, distribute.

    The engine is itself a ``shapiq.Game`` (``normalize=False``) and a plain callable: pass it
    wherever a game is expected (shapiq approximators, the SPEX approximators). A call with a
    boolean coalition matrix ``(m, n)`` returns the values ``(m,)`` and does, in order:

    1. **Dedupe**: rows are keyed by their packed bits (``np.packbits``); each distinct coalition
       is looked up once, and coalitions seen earlier by this engine are answered from memory.
    2. **Cache**: with ``cache=PATH`` the remaining coalitions are looked up in a SQLite file
       (see :class:`~shapiq_spex.engine.SQLiteStore`).
    3. **Batch and evaluate**: the rest is split into batches of at most ``batch_size`` rows, in
       order of first appearance; the game is called with boolean ``(b, n)`` arrays, serially or
       on a thread pool, a process pool or Ray actors.
    4. **Validate and commit**: each finished batch is checked (shape ``(b,)``, real, finite) and
       committed to the cache in its own transaction before the next result is handled, so a
       crash or ``kill -9`` loses at most the batches being evaluated (one per worker). Running
       the same code again resumes: nothing committed is evaluated again. :meth:`close` (or
       leaving a ``with`` block) checkpoints the cache into one complete file.

    **Which game a cache belongs to.** A cache file holds the values of one game, identified by
    ``sha256(json.dumps(identity, sort_keys=True))`` and the number of players. Every game of this
    package has a ``cache_identity()`` method returning that identity (for a model game: the
    SHA-256 of the weights and config, the tokenizer, the text, the players, the masking, the
    output and the target; for a synthetic game: its spectrum and noise key), so
    ``QueryEngine(game, cache=path)`` needs nothing else. Any other game (a plain callable, a
    ``shapiq.Game`` from elsewhere, a :class:`~shapiq_spex.engine.GameFactory`) must be given an
    explicit ``key=`` with a cache: a string that changes whenever the game's values change
    (``key="sst2-review-17-minilm-v2"``); without one the engine refuses rather than guess. A
    file holding another identity raises :class:`~shapiq_spex.engine.CacheMismatchError` naming
    both and the fields that differ; pass a new path (one file per game) or ``overwrite=True``.

    **Probe check.** Each time an engine binds a cache it evaluates four fixed coalitions
    (:func:`probe_coalitions`: empty, grand and two fixed random ones, one batch) and compares
    them with the values stored for them, to a relative tolerance of :data:`PROBE_RTOL`. A
    difference means that the same identity gives other values: a nondeterministic game (dropout
    left on, sampling), or a change the identity does not see (a custom model attribute, another
    library version); the file is refused with the identity and the values that differ.

    **Read-only reuse.** ``read_only=True`` serves a finished cache from a read-only file or
    folder: stored values are read, new coalitions are evaluated and kept in memory only.

    Args:
        game: a callable mapping a boolean ``(b, n)`` array to values ``(b,)`` (for example a
            ``shapiq.Game``), or a :class:`~shapiq_spex.engine.GameFactory` that builds it in
            each worker.
        cache: ``None`` (memory only), a path to a SQLite cache file (created if missing; its
            folder must exist) or a :class:`~shapiq_spex.engine.StoreBackend`.
        batch_size: largest number of coalitions per game call. Defaults to 256.
        executor: ``"serial"`` (default), ``"threads"``, ``"processes"``, ``"ray"`` or an
            :class:`~shapiq_spex.engine.Executor` instance (for example
            ``RayExecutor(num_workers=4, num_gpus=1)``).
        n_workers: number of workers of a named parallel executor (default 2); must be left
            ``None`` with ``"serial"`` or an executor instance.
        progress: show a tqdm bar (coalitions evaluated, cache hits, duplicates, rate, ETA) while
            evaluating; a game with a ``usage_summary()`` method (an endpoint game: tokens,
            retries, cost) shows that line too. It is silent anyway when stderr is not a
            terminal. Defaults to True.
        n_players: number of players; required when ``game`` has no ``n_players`` attribute,
            and must match it otherwise.
        key: explicit identity of the game for the cache, replacing its ``cache_identity()``
            (required with a cache for games without one). Defaults to None.
        read_only: open the cache read-only (see above). Defaults to False.
        overwrite: when the cache file holds another game's values, delete them instead of
            raising. Defaults to False.
        fingerprint: deprecated alias of ``key`` (emits a ``FutureWarning``).

    Attributes:
        stats: an :class:`EngineStats` snapshot of the counters.

    Raises:
        InvalidParameterError: invalid argument (see each message), including a cache without a
            way to identify the game (pass ``key=``).
        CacheFileError: the cache file is damaged, an incomplete copy, read-only without
            ``read_only=True``, or not a shapiq-spex cache.
        CacheMismatchError: the cache file belongs to another game.

    Examples:
        >>> engine = QueryEngine(game, cache="sst2-review-17.sqlite", batch_size=64)
        >>> values = engine(coalitions)  # (m, n) bool -> (m,)
        >>> engine.stats.evaluated, engine.stats.cache_hits
    """

    def __init__(
        self,
        game: Any,
        *,
        cache: str | os.PathLike[str] | StoreBackend | None = None,
        batch_size: int = 256,
        executor: str | Executor = "serial",
        n_workers: int | None = None,
        progress: bool = True,
        n_players: int | None = None,
        key: str | None = None,
        read_only: bool = False,
        overwrite: bool = False,
        fingerprint: str | None = None,
    ) -> None:
        if not callable(game) and not isinstance(game, GameFactory):
            msg = (
                "The 'game' parameter of QueryEngine must be a callable mapping a boolean (b, n) "
                f"array to values (b,), or a GameFactory. Got {game!r}."
            )
            raise InvalidParameterError(msg)
        n = _resolve_n_players(game, n_players)
        valid = isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool)
        if not valid or batch_size < 1:
            msg = (
                "The 'batch_size' parameter of QueryEngine must be a positive int. "
                f"Got {batch_size!r}."
            )
            raise InvalidParameterError(msg)
        for name, flag in (
            ("progress", progress),
            ("overwrite", overwrite),
            ("read_only", read_only),
        ):
            if not isinstance(flag, bool):
                msg = f"The '{name}' parameter of QueryEngine must be a bool. Got {flag!r}."
                raise InvalidParameterError(msg)
        if fingerprint is not None:
            if key is not None:
                msg = "Pass only 'key' to QueryEngine; 'fingerprint' is its deprecated old name."
                raise InvalidParameterError(msg)
            warnings.warn(
                "The 'fingerprint' parameter of QueryEngine is deprecated; pass key= instead.",
                FutureWarning,
                stacklevel=2,
            )
            key, key_name = fingerprint, "fingerprint"
        else:
            key_name = "key"
        if key is not None and (not isinstance(key, str) or not key):
            msg = (
                f"The '{key_name}' parameter of QueryEngine must be None (use the game's "
                f"cache_identity()) or a non-empty str. Got {key!r}."
            )
            raise InvalidParameterError(msg)
        if read_only and overwrite:
            msg = "The 'overwrite' parameter of QueryEngine must be False with read_only=True."
            raise InvalidParameterError(msg)
        if isinstance(cache, StoreBackend) and read_only and not cache.read_only:
            msg = (
                "The 'read_only' parameter of QueryEngine is True but the given store is "
                "writable; open it read-only (SQLiteStore(path, read_only=True))."
            )
            raise InvalidParameterError(msg)
        super().__init__(n, normalize=False, verbose=False)
        if isinstance(game, Game):
            self.player_name_lookup = dict(game.player_name_lookup)

        self.game = game
        self.cache = cache
        self.batch_size = int(batch_size)
        self.executor = executor
        self.n_workers = n_workers
        self.progress = progress
        self.key = key
        self.read_only = read_only
        self.overwrite = overwrite

        # The identity comes first: a game that cannot be identified is refused before the
        # cache file is touched or any worker starts.
        self._identity = None if cache is None else self._resolve_identity()
        self._executor = make_executor(executor, n_workers)
        self._store = open_store(cache, read_only=read_only)
        self._memo: dict[bytes, float] = {}
        self._stats = EngineStats()
        self._lock = threading.RLock()
        self._probes_checked = False
        self._closed = False
        if self._store is not None:
            try:
                self._store.bind(self._identity, self.n_players, overwrite=overwrite)
            except BaseException:
                if not isinstance(cache, StoreBackend):  # we opened it, we close it
                    self._store.close()
                raise

    # ------------------------------------------------------------------ public API
    def __call__(self, coalitions: Any, *, verbose: bool = False) -> np.ndarray:
        """Evaluate the game on ``coalitions``.

        Args:
            coalitions: boolean (or 0/1) array of shape ``(m, n)`` or ``(n,)``, or shapiq's tuple
                formats (a tuple of player indices or names, or a list of such tuples).
            verbose: accepted for ``shapiq.Game`` compatibility and ignored (use ``progress``).

        Returns:
            float64 array of shape ``(m,)``, in the order of the rows.

        Raises:
            BatchEvaluationError: the game raised on a batch (the cause is chained); all batches
                finished before it are committed.
            InvalidGameError: the game returned a wrong shape, complex values, strings, NaN or
                inf on a batch (see :func:`shapiq_spex.validation.check_game_values`); that
                batch is not cached.
            CacheWriteError: a batch could not be committed (disk full, I/O error); the batches
                before it are committed.
            CacheMismatchError: the probe check failed (see the class docstring).
        """
        with self._lock:
            if self._closed:
                msg = "This QueryEngine was closed; create a new one (the cache file is kept)."
                raise InvalidParameterError(msg)
            start = time.perf_counter()
            try:
                return self._call(self._as_matrix(coalitions))
            finally:
                self._stats.total_time_s += time.perf_counter() - start

    def value_function(self, coalitions: np.ndarray) -> np.ndarray:
        """``shapiq.Game`` hook: same as calling the engine on a boolean ``(m, n)`` array."""
        return self(coalitions)

    @property
    def stats(self) -> EngineStats:
        """A snapshot of the counters accumulated over all calls (see :class:`EngineStats`)."""
        return dataclasses.replace(self._stats)

    def reset_stats(self) -> None:
        """Set all counters to zero (the memory of seen coalitions and the cache are kept)."""
        self._stats = EngineStats()

    @property
    def identity(self) -> dict[str, Any] | None:
        """The identity the cache is keyed by (``None`` without a cache)."""
        return None if self._identity is None else dict(self._identity)

    @property
    def identity_digest(self) -> str | None:
        """``sha256(json.dumps(identity, sort_keys=True))`` (``None`` without a cache)."""
        return None if self._identity is None else identity_digest(self._identity)

    def close(self) -> None:
        """Stop the workers and close the cache file (idempotent)."""
        with self._lock:
            self._closed = True
            self._executor.close()
            if self._store is not None:
                self._store.close()

    def __enter__(self) -> QueryEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self) -> Any:
        msg = (
            "A QueryEngine holds workers and an open cache file and cannot be pickled; pickle the "
            "game (or a GameFactory) and build one engine per process."
        )
        raise InvalidParameterError(msg)

    def __repr__(self) -> str:
        return (
            f"QueryEngine({self.game!r}, n_players={self.n_players}, batch_size={self.batch_size}"
            f", executor={self._executor!r}, cache={self._store!r})"
        )

    __str__ = __repr__

    # ------------------------------------------------------------------ pipeline
    def _as_matrix(self, coalitions: Any) -> np.ndarray:
        tuple_format = isinstance(coalitions, tuple) or (
            isinstance(coalitions, list)
            and len(coalitions) > 0
            and all(isinstance(c, tuple) for c in coalitions)
        )
        if tuple_format:
            try:
                return np.asarray(super()._check_coalitions(coalitions), dtype=bool)
            except (TypeError, ValueError, KeyError) as err:
                msg = (
                    "The 'coalitions' parameter must be a boolean (m, n) array, a tuple of player "
                    f"indices or names, or a list of such tuples ({err})."
                )
                raise InvalidParameterError(msg) from err
        return check_coalitions(coalitions, self.n_players, name="coalitions")

    def _call(self, coalitions: np.ndarray) -> np.ndarray:
        m = coalitions.shape[0]
        self._stats.queries += m
        if m == 0:
            return np.empty(0, dtype=np.float64)
        if self._store is not None and not self._probes_checked:
            self._check_probes()

        # Distinct coalitions in order of first appearance; ``inverse`` maps rows back.
        uniq, first, inverse = np.unique(
            pack_coalitions(coalitions), return_index=True, return_inverse=True
        )
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        first, inverse = first[order], rank[inverse.reshape(-1)]
        keys: list[bytes] = uniq[order].tolist()

        values = np.empty(len(keys), dtype=np.float64)
        remembered = [self._memo.get(key) for key in keys]
        todo = np.array([v is None for v in remembered], dtype=bool)
        values[~todo] = [v for v in remembered if v is not None]
        self._stats.duplicates_saved += m - int(todo.sum())

        if self._store is not None and todo.any():
            todo_idx = np.flatnonzero(todo)
            hits = self._store.get_many([keys[i] for i in todo_idx])
            if hits:
                hit_mask = np.array([keys[i] in hits for i in todo_idx], dtype=bool)
                hit_idx = todo_idx[hit_mask]
                values[hit_idx] = [hits[keys[i]] for i in hit_idx]
                self._memo.update(hits)
                todo[hit_idx] = False
                self._stats.cache_hits += len(hits)

        todo_idx = np.flatnonzero(todo)
        if todo_idx.size:
            values[todo_idx] = self._evaluate(
                coalitions[first[todo_idx]], [keys[i] for i in todo_idx], probe=False
            )
        return values[inverse]

    def _evaluate(self, coalitions: np.ndarray, keys: list[bytes], *, probe: bool) -> np.ndarray:
        """Evaluate distinct, unseen coalitions ``(k, n)`` batch by batch; returns ``(k,)``."""
        size = self.batch_size
        k = coalitions.shape[0]
        batches = [coalitions[s : s + size] for s in range(0, k, size)]
        out = np.empty(k, dtype=np.float64)
        commit = self._store is not None and not probe and not self._store.read_only
        bar = tqdm(
            total=k,
            desc="QueryEngine",
            unit="query",
            disable=probe or not (self.progress and sys.stderr.isatty()),
            dynamic_ncols=True,
            leave=False,
        )
        bar.set_postfix(cached=self._stats.cache_hits, dupes=self._stats.duplicates_saved)
        self._executor.open(self.game)
        results = self._executor.run(batches)
        done = 0
        try:
            for res in results:
                start = res.index * size
                n_rows = batches[res.index].shape[0]
                if res.error is not None:
                    msg = (
                        f"The game failed on batch {res.index} of {len(batches)} (size {n_rows}:"
                        f" new coalitions {start} to {start + n_rows - 1} of the {k} in this "
                        f"call) with {type(res.error).__name__}: {res.error}. "
                        + self._kept_message(done, probe)
                    )
                    raise BatchEvaluationError(msg) from res.error
                vals = self._check_values(res.values, n_rows, res.index, len(batches), done, probe)
                batch_keys = keys[start : start + n_rows]
                if commit:
                    try:
                        self._store.put_many(batch_keys, vals)
                    except CacheWriteError as err:
                        msg = (
                            f"{err} Batch {res.index} of {len(batches)} was evaluated but not "
                            f"stored. {self._kept_message(done, probe)}"
                        )
                        raise CacheWriteError(msg) from err
                self._memo.update(zip(batch_keys, vals.tolist(), strict=True))
                out[start : start + n_rows] = vals
                done += 1
                self._stats.model_time_s += res.model_time_s
                if probe:
                    self._stats.probe_evaluated += n_rows
                else:
                    self._stats.batches += 1
                    self._stats.evaluated += n_rows
                usage = getattr(self.game, "usage_summary", None)  # a served model's tokens, cost
                if callable(usage) and not bar.disable:
                    bar.set_postfix(
                        cached=self._stats.cache_hits,
                        dupes=self._stats.duplicates_saved,
                        usage=usage(),
                        refresh=False,
                    )
                bar.update(n_rows)
        finally:
            results.close()
            bar.close()
        return out

    def _kept_message(self, done: int, probe: bool) -> str:
        if probe:
            return "This was the probe batch of the cache check; nothing was cached."
        if self._store is None:
            where = "kept in this engine's memory"
        elif self._store.read_only:
            where = (
                f"kept in this engine's memory (the cache '{self._store.location}' is read-only)"
            )
        else:
            where = f"committed to the cache '{self._store.location}'"
        batches = (
            "1 batch that finished before it is"
            if done == 1
            else f"{done} batches that finished before it are"
        )
        return f"The {batches} {where} and will not be evaluated again when the call is repeated."

    def _check_values(
        self, raw: Any, n_rows: int, index: int, n_batches: int, done: int, probe: bool
    ) -> np.ndarray:
        source = f"game on batch {index} of {n_batches} (size {n_rows})"
        note = f"The batch was not cached. {self._kept_message(done, probe)}"
        return check_game_values(raw, n_rows, source=source, note=note)

    # ------------------------------------------------------------------ identity
    def _resolve_identity(self) -> dict[str, Any]:
        if self.key is not None:
            return {"key": self.key}
        fix = (
            "Pass key='...' to QueryEngine: a name that changes whenever the game's values "
            "change (for example key='sst2-review-17-minilm-v2'), or leave out cache=."
        )
        if isinstance(self.game, GameFactory):
            msg = (
                "QueryEngine(cache=...) must know which game the stored values belong to, and a "
                "GameFactory builds its game only inside the workers. " + fix
            )
            raise InvalidParameterError(msg)
        method = getattr(self.game, "cache_identity", None)
        if method is None:
            msg = (
                "QueryEngine(cache=...) must know which game the stored values belong to, and "
                f"the game {qualname_of(self.game)} has no cache_identity() method (only the "
                "games of shapiq_spex.games have one). " + fix
            )
            raise InvalidParameterError(msg)
        try:
            identity = method()
            identity_digest(identity)  # JSON-serialisable, finite
        except GameIdentityError as err:
            msg = f"The game cannot be identified for the cache: {err} {fix}"
            raise InvalidParameterError(msg) from err
        return identity

    def _check_probes(self) -> None:
        """Evaluate the probe coalitions and compare them with the values stored for them."""
        probes = probe_coalitions(self.n_players)
        keys = pack_coalitions(probes).tolist()
        fresh = self._evaluate(probes, keys, probe=True)
        stored = self._store.get_many(keys)
        known = np.array([key in stored for key in keys], dtype=bool)
        if known.any():
            old = np.array([stored[key] for key in keys if key in stored])
            new = fresh[known]
            scale = max(float(np.abs(old).max()), float(np.abs(new).max()), 1e-300)
            close = np.isclose(new, old, rtol=PROBE_RTOL, atol=PROBE_RTOL * scale)
            if not close.all():
                names = np.array(["empty", "grand", "random 1", "random 2"])[known]
                diffs = ", ".join(
                    f"{name}: {float(a)!r} stored, {float(b)!r} now"
                    for name, a, b, ok in zip(names, old, new, close, strict=True)
                    if not ok
                )
                msg = (
                    f"The cache file '{self._store.location}' belongs to this game's identity "
                    f"({identity_label(self._identity, self.n_players)}), but the game now gives "
                    f"other values on the probe coalitions ({diffs}; relative tolerance "
                    f"{PROBE_RTOL:g}). Either the game is not deterministic (dropout left on, "
                    "sampling, a random seed per call: fix it), or something its identity does "
                    "not cover changed (a custom model attribute, a library version). The stored "
                    "values are not used: pass a new 'cache' path, or overwrite=True to replace "
                    "them."
                )
                raise CacheMismatchError(msg)
            # Serve the stored values, so every value of this cache comes from one run.
            self._memo.update(stored)
        if not known.all() and not self._store.read_only:
            self._store.put_many(
                [k for k, ok in zip(keys, known, strict=True) if not ok], fresh[~known]
            )
        self._probes_checked = True


def _resolve_n_players(game: Any, n_players: Any) -> int:
    game_n = None if isinstance(game, GameFactory) else getattr(game, "n_players", None)
    if n_players is None and game_n is None:
        msg = (
            "The 'n_players' parameter of QueryEngine is required when the game has no "
            "'n_players' attribute (plain callables and GameFactory)."
        )
        raise InvalidParameterError(msg)
    n = n_players if n_players is not None else game_n
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        msg = f"The 'n_players' parameter of QueryEngine must be a positive int. Got {n!r}."
        raise InvalidParameterError(msg)
    if game_n is not None and n_players is not None and int(game_n) != int(n_players):
        msg = (
            f"The 'n_players' parameter of QueryEngine ({n_players}) differs from the game's "
            f"n_players ({game_n}); leave it out or make them agree."
        )
        raise InvalidParameterError(msg)
    return int(n)
