"""Data helpers: synergistic and redundant groups of training examples, verified on the game.

Written for :class:`~shapiq_spex.games.DataAttributionGame` (players are training examples or
groups of them, the value is the test point's score after retraining) but every function takes
any game that is callable on ``(m, n)`` boolean coalitions and has ``n_players``.

Sign convention. The value ``v(S)`` is the test-point score of the model trained on ``S``. The
interaction of a pair ``{i, j}`` with every other example present ("full" context) is

``I(i, j) = v(N) − v(N∖i) − v(N∖j) + v(N∖ij) = drop(i) + drop(j) − drop(ij)``,

where ``drop(G) = v(N) − v(N∖G)`` is how much removing ``G`` lowers the score.

* ``I > 0``, **synergy** (complements): the examples raise the score together by more than the sum
  of what each adds alone; removing either one already loses the joint part, so the single drops
  add up to more than the joint drop.
* ``I < 0``, **redundancy** (substitutes): either example is enough; removing one costs little,
  removing both costs more than the two single drops together. A marginal attribution (Shapley,
  Banzhaf) splits their joint effect between them (leave-one-out gives each almost nothing), so
  it underrates what removing both costs.

For a sparse Möbius surrogate ``f̂(x) = Σ_T a_T [T ⊆ x]`` the full-context interaction of ``S``
is ``Σ_{T ⊇ S} a_T``; :func:`interaction_groups` also offers the Möbius coefficient itself
(``context="empty"``: the interaction when no other example is present) and the Banzhaf
interaction index (``context="average"``: averaged over random subsets of the others, where
ProxySPEX's uniform random queries live). :func:`verify_groups` then measures ``drop`` on the real
game, so a predicted synergy or redundancy is checked, not just reported.

Pruning the data: :mod:`shapiq_spex.optimize.choosers` builds choosers ``r -> players``
(including ``"min_change"``, keep the prediction, through
:func:`~shapiq_spex.optimize.subset.least_change_subset`), and
:func:`~shapiq_spex.optimize.pruning.pruning_experiment` compares them with a seeded random
baseline in one batched game query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.optimize._checks import (
    check_choice,
    check_game,
    check_int,
    check_players,
    check_spectrum,
    game_players,
    player_values,
    query_game,
    query_unique,
)
from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra._subsets import distribute

__all__ = [
    "DataReport",
    "GroupCheck",
    "InteractionGroup",
    "data_report",
    "interaction_groups",
    "verify_groups",
]

Kind = Literal["synergy", "redundancy"]
Context = Literal["full", "empty", "average"]

KINDS = ("synergy", "redundancy")
CONTEXTS = ("full", "empty", "average")


# ---------------------------------------------------------------------------------- groups
@dataclass(frozen=True)
class InteractionGroup:
    """A group of players with its predicted interaction.

    Attributes:
        players: the players, ascending.
        value: the surrogate's interaction of the group in ``context`` (positive = synergy,
            negative = redundancy; see the module docstring).
        kind: ``"synergy"`` or ``"redundancy"``.
        context: ``"full"``, ``"empty"`` or ``"average"`` (see :func:`interaction_groups`).
    """

    players: tuple[int, ...]
    value: float
    kind: str
    context: str


def _context_table(context: str, width: int) -> np.ndarray:
    """``weights[|T|, |S|]`` turning Möbius terms ``T`` into the context's value of ``S ⊆ T``."""
    t = np.arange(width + 1)[:, None]
    s = np.arange(width + 1)[None, :]
    if context == "empty":
        return (t == s).astype(np.float64)
    if context == "full":
        return (t >= s).astype(np.float64)
    return np.where(t >= s, 0.5 ** np.clip(t - s, 0, None), 0.0)


def interaction_groups(
    spectrum: SparseSpectrum,
    *,
    kind: Kind,
    k: int = 5,
    min_order: int = 2,
    max_order: int | None = None,
    context: Context = "full",
) -> list[InteractionGroup]:
    """The ``k`` most synergistic (or most redundant) groups of players of a surrogate.

    With Möbius coefficients ``a_T`` of ``spectrum`` (a Fourier spectrum is converted), the
    interaction of a group ``S`` is

    * ``context="full"`` (default): ``Σ_{T ⊇ S} a_T``, the interaction with every other player
      present; for a pair it is ``v(N) − v(N∖i) − v(N∖j) + v(N∖ij)``, which is what
      :func:`verify_groups` measures when pruning from the full training set;
    * ``context="empty"``: ``a_S``, the interaction with no other player present (the Möbius
      coefficient);
    * ``context="average"``: ``Σ_{T ⊇ S} a_T / 2^{|T|−|S|}``, the Banzhaf interaction index
      (averaged over uniform random subsets of the other players).

    Positive is synergy (the players raise the score together by more than separately), negative
    is redundancy (either one is enough). Only groups that are subsets of a term of the spectrum
    can have a non-zero interaction, so the search is over those.

    Args:
        spectrum: the surrogate (for example ``ProxySPEX(...).spectrum_``).
        kind: ``"synergy"`` (largest positive interactions) or ``"redundancy"`` (most negative).
        k: most groups returned (fewer if fewer have the sign asked for). Defaults to ``5``.
        min_order: smallest group size, ``>= 1``. Defaults to ``2``.
        max_order: largest group size, ``>= min_order``; ``None`` = no cap. Defaults to ``None``.
        context: ``"full"``, ``"empty"`` or ``"average"`` (see above). Defaults to ``"full"``.

    Returns:
        At most ``k`` :class:`InteractionGroup`, strongest first (ties in canonical order:
        smaller groups, then lexicographic).

    Raises:
        InvalidParameterError: a parameter has the wrong type or value.
    """
    spectrum = check_spectrum(spectrum)
    kind = check_choice(kind, "kind", KINDS)
    context = check_choice(context, "context", CONTEXTS)
    k = check_int(k, "k", 1)
    min_order = check_int(min_order, "min_order", 1, spectrum.n)
    if max_order is not None:
        max_order = check_int(max_order, "max_order", min_order, spectrum.n)
    moebius = spectrum.to_moebius()
    table = _context_table(context, moebius.max_degree)
    sup, coefs = distribute(moebius.supports, moebius.coefs, table, max_order, min_size=min_order)
    deg = (sup >= 0).sum(axis=1) if sup.size else np.zeros(coefs.size, dtype=np.int64)
    sign = 1.0 if kind == "synergy" else -1.0
    strength = sign * coefs
    keep = np.flatnonzero((strength > 0) & (deg >= min_order))
    order = keep[np.argsort(-strength[keep], kind="stable")][:k]
    return [
        InteractionGroup(
            players=tuple(int(p) for p in sup[i] if p >= 0),
            value=float(coefs[i]),
            kind=kind,
            context=context,
        )
        for i in order
    ]


@dataclass(frozen=True)
class GroupCheck:
    """A group's removal effects measured on the game (and predicted by a surrogate, if given).

    ``drop(G) = v(N) − v(N∖G)``: how much removing ``G`` lowers the score.

    Attributes:
        players: the group, ascending.
        kind: ``"synergy"``/``"redundancy"`` if the group came from :func:`interaction_groups`,
            else ``None``.
        predicted: the surrogate's interaction that ranked the group, else ``None``.
        full_value: ``v(N)``, the score with every player kept.
        joint_drop: ``drop(G)``, measured.
        single_drops: ``drop({i})`` for each member ``i`` (same order as ``players``), measured.
        predicted_joint_drop: ``drop(G)`` of the surrogate, if one was given.
        predicted_single_drops: ``drop({i})`` of the surrogate, if one was given.
    """

    players: tuple[int, ...]
    kind: str | None
    predicted: float | None
    full_value: float
    joint_drop: float
    single_drops: tuple[float, ...]
    predicted_joint_drop: float | None = None
    predicted_single_drops: tuple[float, ...] | None = None

    @property
    def sum_single_drops(self) -> float:
        """``Σ_{i∈G} drop({i})``."""
        return float(sum(self.single_drops))

    @property
    def interaction(self) -> float:
        """``Σ_i drop({i}) − drop(G)``, measured: > 0 synergy, < 0 redundancy.

        For a pair this is exactly ``v(N) − v(N∖i) − v(N∖j) + v(N∖ij)``; for a larger group it
        is the total non-additivity of removing it.
        """
        return self.sum_single_drops - self.joint_drop

    @property
    def predicted_interaction(self) -> float | None:
        """:attr:`interaction` of the surrogate on the same coalitions, if one was given."""
        if self.predicted_single_drops is None or self.predicted_joint_drop is None:
            return None
        return float(sum(self.predicted_single_drops)) - self.predicted_joint_drop

    @property
    def confirmed(self) -> bool | None:
        """Whether the measured interaction has the sign of ``kind`` (``None`` without a kind)."""
        if self.kind is None:
            return None
        return self.interaction > 0 if self.kind == "synergy" else self.interaction < 0


def verify_groups(
    game: Callable,
    groups: Iterable[InteractionGroup | Sequence[int]],
    *,
    spectrum: SparseSpectrum | None = None,
) -> list[GroupCheck]:
    """Measure each group's joint removal effect against the sum of its single removal effects.

    For every group ``G`` the game is queried on ``N``, ``N∖G`` and ``N∖{i}`` for each ``i ∈ G``:
    one batched call for all groups, each distinct coalition once (a retraining per coalition for
    a :class:`~shapiq_spex.games.DataAttributionGame`).

    Args:
        game: callable on ``(m, n)`` boolean coalitions with ``n_players`` (a shapiq ``Game``).
        groups: :class:`InteractionGroup` objects or plain sequences of player indices.
        spectrum: optional surrogate on the same players; its predictions of the same drops fill
            ``predicted_joint_drop`` and ``predicted_single_drops``.

    Returns:
        One :class:`GroupCheck` per group, in order.

    Raises:
        InvalidParameterError: no ``n_players`` on the game, players out of range, repeated or
            empty groups, or a spectrum on another number of players.
        InvalidGameError: the game returned NaN/inf or a wrong number of values.
    """
    n = game_players(game)
    game = check_game(game, n)
    if spectrum is not None:
        spectrum = check_spectrum(spectrum)
        if spectrum.n != n:
            msg = (
                f"The 'spectrum' has n={spectrum.n} players but the game has {n}; they must match."
            )
            raise InvalidParameterError(msg)
    try:
        items = list(groups)
    except TypeError:
        msg = f"The 'groups' parameter must be an iterable of groups. Got {groups!r}."
        raise InvalidParameterError(msg) from None
    if not items:
        msg = "The 'groups' parameter is empty; pass at least one group (e.g. interaction_groups)."
        raise InvalidParameterError(msg)
    parsed = []
    for item in items:
        raw = item.players if isinstance(item, InteractionGroup) else item
        players = check_players(raw, n, "The 'groups' parameter")
        if not players:
            msg = "The 'groups' parameter holds an empty group; every group needs a player."
            raise InvalidParameterError(msg)
        parsed.append((players, item if isinstance(item, InteractionGroup) else None))

    # Rows: N, then per group N∖G followed by N∖{i} for its members.
    sizes = np.array([1 + len(p) for p, _ in parsed])
    masks = np.ones((1 + int(sizes.sum()), n), dtype=bool)
    row = 1
    for players, _ in parsed:
        masks[row, list(players)] = False
        masks[row + 1 + np.arange(len(players)), list(players)] = False
        row += 1 + len(players)
    values, _ = query_unique(game, masks)
    predicted = None if spectrum is None else spectrum.evaluate(masks)

    out = []
    row = 1
    for players, group in parsed:
        m = len(players)
        drops = values[0] - values[row : row + 1 + m]
        pred = None if predicted is None else predicted[0] - predicted[row : row + 1 + m]
        out.append(
            GroupCheck(
                players=players,
                kind=None if group is None else group.kind,
                predicted=None if group is None else group.value,
                full_value=float(values[0]),
                joint_drop=float(drops[0]),
                single_drops=tuple(float(d) for d in drops[1:]),
                predicted_joint_drop=None if pred is None else float(pred[0]),
                predicted_single_drops=None if pred is None else tuple(float(d) for d in pred[1:]),
            )
        )
        row += 1 + m
    return out


# ---------------------------------------------------------------------------------- report
@dataclass(frozen=True)
class DataReport:
    """Synergistic and redundant training groups for one test prediction, verified.

    Attributes:
        target_class: the explained class (``game.target_class``), or ``None``.
        full_value: ``v(N)``, the test score with all training data.
        synergy: checks of the most synergistic groups, strongest first.
        redundancy: checks of the most redundant groups, strongest first.
        labels: per player, the training labels of its examples (``game.y_train`` by
            ``game.groups``).
        marginals: ``{name: (n,) first-order values}`` shown next to each member, if given.
        context: the context the groups were ranked in.
    """

    target_class: object
    full_value: float
    synergy: tuple[GroupCheck, ...]
    redundancy: tuple[GroupCheck, ...]
    labels: tuple[tuple, ...]
    marginals: Mapping[str, np.ndarray]
    context: str

    def member_text(self, player: int) -> str:
        """``#p (labels)`` plus each marginal's value and rank (1 = largest value)."""
        labels = ",".join(str(lab) for lab in self.labels[player])
        parts = [f"#{player} ({labels})"]
        for name, phi in self.marginals.items():
            rank = 1 + int(np.sum(phi > phi[player]))
            parts.append(f"{name} {phi[player]:+.3f} (rank {rank}/{phi.size})")
        return " ".join(parts)

    def to_markdown(self, digits: int = 3) -> str:
        """Two markdown tables (synergy, redundancy): predicted vs measured interaction."""
        lines = [
            f"Target class {self.target_class}, score with all data {self.full_value:+.{digits}f}; "
            f"groups ranked by the surrogate's {self.context}-context interaction; drop(G) = "
            "v(N) - v(N minus G); measured interaction = sum of single drops - joint drop "
            "(> 0 synergy, < 0 redundancy).",
        ]
        header = (
            "| group (label; marginal value, rank) | predicted | surrogate drop G / sum singles "
            "| measured drop G / sum singles | measured interaction | confirmed |"
        )
        for title, checks in (("synergy", self.synergy), ("redundancy", self.redundancy)):
            lines += ["", f"**{title}**", "", header, "| --- | --- | --- | --- | --- | --- |"]
            if not checks:
                lines.append(f"| (no {title} group in the surrogate) | | | | | |")
            for c in checks:
                members = "<br>".join(self.member_text(p) for p in c.players)
                pred_drop = "-"
                if c.predicted_single_drops is not None:
                    pred_drop = (
                        f"{c.predicted_joint_drop:+.{digits}f} / "
                        f"{sum(c.predicted_single_drops):+.{digits}f}"
                    )
                lines.append(
                    f"| {members} | {c.predicted:+.{digits}f} | {pred_drop} | "
                    f"{c.joint_drop:+.{digits}f} / {c.sum_single_drops:+.{digits}f} | "
                    f"{c.interaction:+.{digits}f} | {'yes' if c.confirmed else 'no'} |"
                )
        return "\n".join(lines)


def data_report(
    game,
    spectrum: SparseSpectrum,
    *,
    k: int = 5,
    min_order: int = 2,
    max_order: int | None = 2,
    context: Context = "full",
    marginals: Mapping[str, object] | None = None,
) -> DataReport:
    """The ``k`` most synergistic and most redundant training groups, labelled and verified.

    Groups come from :func:`interaction_groups` and are measured by one :func:`verify_groups`
    call (both kinds together).

    Args:
        game: a :class:`~shapiq_spex.games.DataAttributionGame` (or any game with ``n_players``,
            ``groups`` and ``y_train``).
        spectrum: the surrogate on the game's players.
        k: groups per kind. Defaults to ``5``.
        min_order: smallest group size. Defaults to ``2``.
        max_order: largest group size (``None`` = no cap). Defaults to ``2`` (pairs).
        context: passed to :func:`interaction_groups`. Defaults to ``"full"``.
        marginals: optional ``{name: first-order values}`` (arrays or shapiq
            ``InteractionValues``) shown next to each member, e.g. Banzhaf and Shapley values, to
            see what a marginal method would do with the group.

    Returns:
        A :class:`DataReport`.

    Raises:
        InvalidParameterError: the game lacks ``groups``/``y_train``, sizes disagree, or a
            parameter is invalid.
        InvalidGameError: the game returned NaN/inf.
    """
    n = game_players(game)
    spectrum = check_spectrum(spectrum)
    if spectrum.n != n:
        msg = f"The 'spectrum' has n={spectrum.n} players but the game has {n}; they must match."
        raise InvalidParameterError(msg)
    groups = getattr(game, "groups", None)
    y_train = getattr(game, "y_train", None)
    if groups is None or y_train is None or np.shape(groups) != np.shape(y_train):
        msg = (
            "The 'game' parameter must have 'groups' and 'y_train' of equal length (a "
            f"DataAttributionGame). Got {type(game).__name__}."
        )
        raise InvalidParameterError(msg)
    groups, y_train = np.asarray(groups), np.asarray(y_train)
    labels = tuple(tuple(y_train[groups == p].tolist()) for p in range(n))
    phis = {}
    for name, values in (marginals or {}).items():
        phi = player_values(values)
        if phi.size != n:
            msg = f"The 'marginals' entry {name!r} has {phi.size} values; the game has {n} players."
            raise InvalidParameterError(msg)
        phis[str(name)] = phi
    found = {
        kind: interaction_groups(
            spectrum, kind=kind, k=k, min_order=min_order, max_order=max_order, context=context
        )
        for kind in KINDS
    }
    both = found["synergy"] + found["redundancy"]
    checks = verify_groups(game, both, spectrum=spectrum) if both else []
    if checks:
        full_value = checks[0].full_value
    else:  # a purely additive surrogate has no group to verify; the score is still reported
        full_value = float(query_game(game, np.ones((1, n), dtype=bool))[0])
    n_syn = len(found["synergy"])
    return DataReport(
        target_class=getattr(game, "target_class", None),
        full_value=full_value,
        synergy=tuple(checks[:n_syn]),
        redundancy=tuple(checks[n_syn:]),
        labels=labels,
        marginals=phis,
        context=context,
    )
