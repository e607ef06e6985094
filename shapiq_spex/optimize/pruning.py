"""Pruning experiments: a game's value after removing each chooser's players, next to random.

One experiment for any kind of player (attention heads, training examples, words, ...): named
choosers each pick exactly ``r`` players to remove for every ``r`` in ``rs``; a seeded random
baseline removes ``r`` players too; the game is then asked for the value of every resulting
coalition in one call (each distinct coalition once). Choosers come from
:func:`~shapiq_spex.optimize.heads.heads_to_prune`,
:func:`~shapiq_spex.optimize.choosers.interaction_chooser`,
:func:`~shapiq_spex.optimize.choosers.marginal_chooser`, or any callable ``r -> players``;
fixed sets can be given as a list with one set per ``r``.

Random baseline. ``n_random`` seeded random orders of the players are drawn (one permutation per
draw); for each ``r`` the draw removes the first ``r`` players of its order. Each random set is
a uniform random ``r``-subset, and the sets of one draw are nested in ``r``, so a draw's values
form a removal curve and two experiments with the same seed, ``n`` and ``n_random`` remove the
same random players.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shapiq_spex._random import as_generator
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.optimize._checks import (
    check_choice,
    check_int,
    check_players,
    check_rs,
    game_players,
    query_unique,
)

__all__ = ["PruningResult", "pruning_experiment"]

Metric = Literal["value", "change", "abs_change"]
METRICS = ("value", "change", "abs_change")
#: Name of the random-removal baseline in tables (not allowed as a chooser name).
RANDOM = "random"

Chooser = Callable[[int], Iterable[int]]


# ---------------------------------------------------------------------------------- validation
def _check_choices(choices, rs: np.ndarray, n: int) -> dict[str, tuple[tuple[int, ...], ...]]:
    """Resolve ``{name: chooser}`` into ``{name: one ascending r-set per r}``, else raise."""
    if not isinstance(choices, Mapping):
        msg = (
            "The 'choices' parameter must be a dict {name: chooser}, a chooser being a callable "
            f"r -> players or a list of player sets (one per r). Got {type(choices).__name__}."
        )
        raise InvalidParameterError(msg)
    out = {}
    for name, chooser in choices.items():
        if not isinstance(name, str) or not name or name == RANDOM:
            msg = (
                f"The 'choices' names must be non-empty strings other than {RANDOM!r} (the "
                f"random baseline). Got {name!r}."
            )
            raise InvalidParameterError(msg)
        if callable(chooser):
            sets = [chooser(int(r)) for r in rs]
        elif isinstance(chooser, Sequence) and not isinstance(chooser, str):
            if len(chooser) != rs.size:
                msg = (
                    f"The choice {name!r} lists {len(chooser)} player sets but 'rs' has "
                    f"{rs.size} entries; give one set per r, in the order of 'rs'."
                )
                raise InvalidParameterError(msg)
            sets = list(chooser)
        else:
            msg = (
                f"The choice {name!r} must be a callable r -> players or a list of player sets "
                f"(one per r). Got {type(chooser).__name__}."
            )
            raise InvalidParameterError(msg)
        out[name] = tuple(
            check_players(s, n, f"The choice {name!r} for r={r}", size=int(r))
            for s, r in zip(sets, rs.tolist(), strict=True)
        )
    return out


def _apply_metric(values: np.ndarray, full: float, metric: str) -> np.ndarray:
    """``values`` (copied), ``values − full`` or ``|values − full|``."""
    if metric == "value":
        return np.array(values, dtype=np.float64)
    change = np.asarray(values, dtype=np.float64) - full
    return change if metric == "change" else np.abs(change)


# ---------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class PruningResult:
    """The game's value after removing each chooser's ``r`` players, and ``r`` random players.

    Metrics (``metric=`` of the methods): ``"value"`` is ``v(N∖R)``; ``"change"`` is
    ``v(N∖R) − v(N)``; ``"abs_change"`` is ``|v(N∖R) − v(N)|``.

    Attributes:
        rs: ``(K,)`` int64, the numbers of removed players.
        full_value: ``v(N)``, the game's value with every player kept.
        names: the choosers' names, in the order given.
        values: ``(C, K)`` float64, ``values[c, j]`` = the value after removing chooser
            ``names[c]``'s set for ``rs[j]``.
        removed: ``removed[name][j]`` = the players chooser ``name`` removed for ``rs[j]``,
            ascending.
        random_values: ``(n_random, K)`` float64, the value after removing the first ``rs[j]``
            players of random order ``i``.
        random_orders: ``(n_random, n)`` int64, the random removal orders (one permutation per
            draw, so a draw's random sets are nested in ``r``).
        n_queries: distinct coalitions the game was asked for (duplicates are queried once).
    """

    rs: np.ndarray
    full_value: float
    names: tuple[str, ...]
    values: np.ndarray
    removed: dict[str, tuple[tuple[int, ...], ...]]
    random_values: np.ndarray
    random_orders: np.ndarray
    n_queries: int

    @property
    def n_random(self) -> int:
        """Number of random draws."""
        return int(self.random_values.shape[0])

    def metric(self, name: str, metric: Metric = "value") -> np.ndarray:
        """``(K,)`` metric of chooser ``name`` for each ``r``.

        Args:
            name: a chooser name (one of ``names``).
            metric: ``"value"``, ``"change"`` or ``"abs_change"``. Defaults to ``"value"``.

        Returns:
            A new float64 array.

        Raises:
            InvalidParameterError: an unknown ``name`` or ``metric``.
        """
        metric = check_choice(metric, "metric", METRICS)
        if name not in self.names:
            hint = " (for the random baseline use random_stats)" if name == RANDOM else ""
            msg = f"The 'name' parameter must be one of {self.names}{hint}. Got {name!r}."
            raise InvalidParameterError(msg)
        return _apply_metric(self.values[self.names.index(name)], self.full_value, metric)

    def random_stats(self, metric: Metric = "value") -> tuple[np.ndarray, np.ndarray]:
        """Mean and sample standard deviation of the random baseline's metric for each ``r``.

        Args:
            metric: ``"value"``, ``"change"`` or ``"abs_change"``. Defaults to ``"value"``.

        Returns:
            ``(mean, std)``, each ``(K,)``: the mean over the draws (NaN without draws) and the
            standard deviation with ``ddof=1`` (NaN with fewer than 2 draws).

        Raises:
            InvalidParameterError: an unknown ``metric``.
        """
        metric = check_choice(metric, "metric", METRICS)
        vals = _apply_metric(self.random_values, self.full_value, metric)
        nan = np.full(self.rs.shape, np.nan)
        mean = vals.mean(axis=0) if self.n_random >= 1 else nan
        std = vals.std(axis=0, ddof=1) if self.n_random >= 2 else nan
        return mean, std

    def rows(self, metric: Metric = "value") -> list[dict]:
        """One JSON-ready dict per ``r``.

        Args:
            metric: ``"value"``, ``"change"`` or ``"abs_change"``. Defaults to ``"value"``.

        Returns:
            ``{"r", "full_value", <name>: metric, ..., "random_mean", "random_std"}`` per ``r``;
            the two random keys only if there are random draws (``random_std`` is NaN with a
            single draw).
        """
        cols = [self.metric(name, metric) for name in self.names]
        mean, std = self.random_stats(metric)
        out = []
        for j, r in enumerate(self.rs.tolist()):
            row: dict = {"r": r, "full_value": self.full_value}
            for c, name in enumerate(self.names):
                row[name] = float(cols[c][j])
            if self.n_random:
                row[f"{RANDOM}_mean"] = float(mean[j])
                row[f"{RANDOM}_std"] = float(std[j])
            out.append(row)
        return out

    def to_markdown(self, metric: Metric = "value", digits: int = 3, *, label: str = "r") -> str:
        """A Markdown table: one row per ``r``, one column per chooser, then the random baseline.

        Args:
            metric: ``"value"``, ``"change"`` or ``"abs_change"``. Defaults to ``"value"``.
            digits: decimals of the numbers. Defaults to ``3``.
            label: header of the first column. Defaults to ``"r"``.

        Returns:
            The table, ending with a newline. With ``metric="value"`` and ``0`` not in ``rs`` a
            first row ``0`` shows ``full_value`` in every column. The random column (only with
            random draws) is ``mean ± std``.
        """
        metric = check_choice(metric, "metric", METRICS)
        digits = check_int(digits, "digits", 0)
        header = [label, *self.names]
        if self.n_random:
            header.append(f"{RANDOM} (mean ± std of {self.n_random})")
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        if metric == "value" and 0 not in self.rs:
            full = f"{self.full_value:.{digits}f}"
            lines.append("| 0 | " + " | ".join([full] * (len(header) - 1)) + " |")
        cols = [self.metric(name, metric) for name in self.names]
        mean, std = self.random_stats(metric)
        for j, r in enumerate(self.rs.tolist()):
            cells = [f"{col[j]:.{digits}f}" for col in cols]
            if self.n_random:
                cells.append(f"{mean[j]:.{digits}f} ± {std[j]:.{digits}f}")
            lines.append(f"| {r} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def removed_markdown(self, names: Sequence[str] | None = None, *, label: str = "r") -> str:
        """A Markdown table of the removed players: one row per ``r``, one column per chooser.

        Args:
            names: one name per player (e.g. ``AttentionHeadGame.names``); default the indices.
            label: header of the first column. Defaults to ``"r"``.

        Returns:
            The table, ending with a newline; a cell lists the players separated by spaces.

        Raises:
            InvalidParameterError: ``names`` does not have one name per player.
        """
        n = self.random_orders.shape[1]
        if names is not None and len(names) != n:
            msg = (
                f"The 'names' parameter must have one name per player ({n}). Got {len(names)}; "
                "pass e.g. game.names, or None for the indices."
            )
            raise InvalidParameterError(msg)
        label_of = str if names is None else names.__getitem__
        lines = [
            f"| {label} | " + " | ".join(self.names) + " |",
            "|" + " --- |" * (len(self.names) + 1),
        ]
        for j, r in enumerate(self.rs.tolist()):
            cells = [
                " ".join(str(label_of(p)) for p in self.removed[name][j]) for name in self.names
            ]
            lines.append(f"| {r} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- experiment
def pruning_experiment(
    game: Callable,
    choices: Mapping[str, Chooser | Sequence[Iterable[int]]],
    rs: Iterable[int] = range(1, 11),
    *,
    n_random: int = 20,
    random_state: int | np.random.Generator | None = None,
    n: int | None = None,
) -> PruningResult:
    """Evaluate a game with each chooser's ``r`` players removed, next to random removal.

    Every coalition (all kept; for each ``r`` every chooser's set and every random set removed)
    goes to ``game`` in one call, each distinct coalition once. To see whether a choice
    generalises, use a game on held-out inputs (for attention heads, an
    :class:`~shapiq_spex.games.attention.AttentionHeadGame` on other sentences with
    ``metric="accuracy"``); for training data, the retraining game itself
    (:class:`~shapiq_spex.games.DataAttributionGame`).

    Random baseline: ``n_random`` random orders of the players are drawn from ``random_state``
    (``np.argsort`` of an ``(n_random, n)`` uniform matrix); for each ``r`` draw ``i`` removes the
    first ``r`` players of order ``i``. Each set is a uniform random ``r``-subset; the sets of one
    draw are nested in ``r`` (so the draws are removal curves, not independent across ``r``), and
    they depend only on the seed, ``n`` and ``n_random``, not on the choosers.

    Args:
        game: callable on ``(m, n)`` boolean coalitions (``True`` = player kept) returning ``(m,)``
            finite values (a shapiq ``Game``, an ``AttentionHeadGame``, a spectrum, a function).
        choices: ``{name: chooser}``; a chooser is a callable ``r -> players`` (e.g.
            ``lambda r: heads_to_prune(spectrum, r, by="interactions")`` or
            :func:`~shapiq_spex.optimize.choosers.interaction_chooser`) called once per ``r``, or a
            list of player sets, one per entry of ``rs``. Every set must hold exactly ``r``
            distinct players in ``[0, n)``; names must be non-empty and other than ``"random"``.
        rs: numbers of players to remove, each in ``[0, n]``. Defaults to ``range(1, 11)``.
        n_random: random removal orders (``0`` = no random baseline). Defaults to ``20``.
        random_state: seed of the random orders. Defaults to ``None``.
        n: number of players, needed only if ``game`` has no ``n_players`` (or ``n``); must
            match it otherwise. Defaults to ``None``.

    Returns:
        A :class:`PruningResult`.

    Raises:
        InvalidParameterError: a bad argument (``rs`` out of range, a chooser set of the wrong
            size or with repeated or out-of-range players, a ``"random"`` name, a player count
            mismatch, a negative ``n_random``, ...).
        InvalidGameError: ``game`` returned a wrong number of values, NaN or inf.
    """
    n = game_players(game, n, takes_n=True)
    rs = check_rs(rs, n)
    n_random = check_int(n_random, "n_random", 0)
    rng = as_generator(random_state)
    removed = _check_choices(choices, rs, n)
    orders = np.argsort(rng.random((n_random, n)), axis=1).astype(np.int64)

    names = tuple(removed)
    n_r = rs.size
    # row 0: all kept; then chooser-major (C, K) blocks; then random (n_random, K)
    masks = np.ones((1 + (len(names) + n_random) * n_r, n), dtype=bool)
    row = 1
    for name in names:
        for players in removed[name]:
            masks[row, list(players)] = False
            row += 1
    if n_random:
        ranks = np.argsort(orders, axis=1)  # position of each player in its order
        masks[row:] = (ranks[:, None, :] >= rs[None, :, None]).reshape(-1, n)  # removed iff < r
    values, n_queries = query_unique(game, masks)
    return PruningResult(
        rs=rs,
        full_value=float(values[0]),
        names=names,
        values=values[1 : 1 + len(names) * n_r].reshape(len(names), n_r),
        removed=removed,
        random_values=values[1 + len(names) * n_r :].reshape(n_random, n_r),
        random_orders=orders,
        n_queries=n_queries,
    )
