"""Data helpers: synergistic and redundant training groups, and choosers for pruning them.

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

Pruning: :func:`interaction_chooser` and :func:`marginal_chooser` build choosers ``r -> players``
that remove exactly ``r`` players; objective ``"min_change"`` (keep the prediction while pruning)
is served by :func:`least_change_subset`, a beam search on the surrogate. The experiment that
compares choosers with a seeded random baseline in one batched game query is the generic
:func:`~shapiq_spex.optimize.pruning.pruning_experiment` in :mod:`shapiq_spex.optimize.pruning`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.optimize._checks import (
    MODES,
    Mode,
    check_beam_width,
    check_choice,
    check_game,
    check_r,
    check_spectrum,
    query_game,
)
from shapiq_spex.optimize._solvers import build_problem, coalition_of
from shapiq_spex.optimize.pruning import (
    Chooser,
    _check_int,
    _check_players,
    _game_players,
    _query_unique,
)
from shapiq_spex.optimize.removal import _player_values, marginal_choice
from shapiq_spex.optimize.subset import SubsetResult, best_subset
from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra._subsets import distribute

__all__ = [
    "DataReport",
    "GroupCheck",
    "InteractionGroup",
    "data_report",
    "interaction_chooser",
    "interaction_groups",
    "least_change_subset",
    "marginal_chooser",
    "verify_groups",
]

Kind = Literal["synergy", "redundancy"]
Context = Literal["full", "empty", "average"]
PruneObjective = Literal["min", "max", "max_change", "min_change"]

KINDS = ("synergy", "redundancy")
CONTEXTS = ("full", "empty", "average")
PRUNE_OBJECTIVES = ("min", "max", "max_change", "min_change")


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
    k = _check_int(k, "k", 1)
    min_order = _check_int(min_order, "min_order", 1, spectrum.n)
    if max_order is not None:
        max_order = _check_int(max_order, "max_order", min_order, spectrum.n)
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
    n = _game_players(game)
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
        players = _check_players(raw, n, "The 'groups' parameter")
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
    values, _ = _query_unique(game, masks)
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
    n = _game_players(game)
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
        phi = _player_values(values)
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


# ---------------------------------------------------------------------------------- search
def least_change_subset(
    spectrum: SparseSpectrum,
    r: int,
    *,
    mode: Mode = "remove",
    beam_width: int = 32,
    game: Callable | None = None,
) -> SubsetResult:
    """Exactly ``r`` players whose removal (or keeping) changes the surrogate least.

    Minimises ``|f̂(x) − f̂(reference)|`` over sets ``R`` of exactly ``r`` players, with ``x`` =
    all but ``R`` (``mode="remove"``, reference: all kept) or only ``R`` (``"keep"``, reference:
    none kept). For data pruning in remove mode: drop ``r`` examples and keep the prediction.
    (At most ``r`` would be trivial: the empty set changes nothing.)

    Beam search on the Möbius form: each step scores all single-player additions of every beam
    state with one sparse product and keeps the ``beam_width`` distinct sets with the smallest
    ``|change|``. If no level ever had more distinct sets than ``beam_width`` the search was
    exhaustive and ``optimal`` is ``True``; otherwise it is a heuristic (``optimal=False``). The
    objective rewards cancellation of large terms, so the chosen set is only as good as the
    surrogate is accurate on it: check it on the game (``game=``).

    Args:
        spectrum: the surrogate ``f̂`` (Möbius, or Fourier: converted).
        r: number of players, in ``[0, n]``.
        mode: ``"remove"`` or ``"keep"``. Defaults to ``"remove"``.
        beam_width: sets kept per step (``>= 1``; 1 = greedy). Defaults to ``32``.
        game: optional callable; queried once on the resulting coalition for ``actual_value``.

    Returns:
        A :class:`~shapiq_spex.optimize.SubsetResult` with ``objective="min_change"`` and
        ``method="beam"``.

    Raises:
        InvalidParameterError: a parameter has the wrong type or value.
        InvalidGameError: ``game`` returned a wrong number of values or non-finite values.
    """
    spectrum = check_spectrum(spectrum)
    n = spectrum.n
    r = check_r(r, n)
    mode = check_choice(mode, "mode", MODES)
    beam_width = check_beam_width(beam_width)
    if game is not None:
        game = check_game(game, n)
    prob = build_problem(spectrum)
    inc = prob.incidence  # (s, n)
    inc_t = inc.T.tocsr()
    a = prob.all_coefs
    deg = prob.degrees
    states = np.zeros((1, n), dtype=bool)
    change = np.zeros(1)  # f̂(x) − f̂(reference) per state
    counts = np.zeros((a.size, 1))  # |S ∩ R| per term and state
    exhaustive = True
    for level in range(r):
        if mode == "remove":  # removing j switches off the still-active terms containing j
            delta = -(inc_t @ (a[:, None] * (counts == 0))).T
        else:  # keeping j switches on the terms that miss only j
            delta = (inc_t @ (a[:, None] * (counts == deg[:, None] - 1))).T
        new = change[:, None] + np.asarray(delta).reshape(states.shape[0], n)
        score = np.abs(new)
        score[states] = np.inf
        flat = score.ravel()
        finite = int(np.isfinite(flat).sum())
        # A set of size level+1 is reached from at most level+1 parents, so this many best
        # candidates always hold beam_width distinct sets (when that many exist).
        pool = min(finite, beam_width * (level + 1))
        top = np.argpartition(flat, pool - 1)[:pool] if pool < flat.size else np.arange(flat.size)
        top = top[np.argsort(flat[top], kind="stable")]
        top = top[np.isfinite(flat[top])]
        cand = states[top // n]
        cand[np.arange(top.size), top % n] = True
        _, first = np.unique(np.packbits(cand, axis=1), axis=0, return_index=True)
        first = np.sort(first)
        # Nothing is pruned at this level iff every candidate was looked at and the distinct
        # sets fit the beam (more than width·(level+1) candidates imply more than width sets).
        exhaustive = exhaustive and pool == finite and first.size <= beam_width
        first = first[:beam_width]
        states, change = cand[first], new.ravel()[top[first]]
        counts = np.rint(inc @ states.T.astype(np.float64))
    players = np.flatnonzero(states[0])
    coalition = coalition_of(players, n, mode)
    reference = coalition_of(np.zeros(0, np.int64), n, mode)
    values = spectrum.evaluate(np.stack([coalition, reference]))
    actual = None if game is None else float(query_game(game, coalition[None, :])[0])
    status = (
        "exhaustive beam search (optimal)"
        if exhaustive
        else f"heuristic (beam width {beam_width}); raise beam_width for a better set"
    )
    return SubsetResult(
        players=tuple(int(p) for p in players),
        coalition=coalition,
        predicted_value=float(values[0]),
        reference_value=float(values[1]),
        actual_value=actual,
        optimal=exhaustive,
        method="beam",
        status=status,
        bound=None,
        mode=mode,
        objective="min_change",
    )


# ---------------------------------------------------------------------------------- choosers
def _additive_spectrum(phi: np.ndarray) -> SparseSpectrum:
    n = phi.size
    return SparseSpectrum(n, np.arange(n)[:, None], phi, "moebius")


def interaction_chooser(
    spectrum: SparseSpectrum,
    objective: PruneObjective,
    *,
    beam_width: int = 32,
    **best_subset_kwargs,
) -> Chooser:
    """A chooser ``r ↦ players`` that removes exactly ``r`` players picked on the surrogate.

    Args:
        spectrum: the interaction surrogate ``f̂``.
        objective: ``"min"`` (lower the score most: the examples the prediction depends on),
            ``"max"`` (raise it most), ``"max_change"`` (either way, whichever moves more), all
            through :func:`~shapiq_spex.optimize.best_subset` (MILP by default); or
            ``"min_change"`` (change it least: prune while keeping the prediction) through
            :func:`least_change_subset`.
        beam_width: passed to both searches. Defaults to ``32``.
        **best_subset_kwargs: more keywords for :func:`~shapiq_spex.optimize.best_subset`
            (``method``, ``time_limit``).

    Returns:
        A callable ``chooser(r) -> tuple[int, ...]`` (exactly ``r`` players, ascending).
    """
    spectrum = check_spectrum(spectrum)
    objective = check_choice(objective, "objective", PRUNE_OBJECTIVES)
    beam_width = check_beam_width(beam_width)
    for key in ("mode", "objective", "exact_size", "game"):
        if key in best_subset_kwargs:
            msg = f"The '{key}' keyword is fixed by interaction_chooser; do not pass it."
            raise InvalidParameterError(msg)

    def chooser(r: int) -> tuple[int, ...]:
        if objective == "min_change":
            return least_change_subset(spectrum, r, beam_width=beam_width).players
        return best_subset(
            spectrum,
            r,
            mode="remove",
            objective=objective,
            exact_size=True,
            beam_width=beam_width,
            **best_subset_kwargs,
        ).players

    return chooser


def marginal_chooser(
    values_by_player, objective: PruneObjective, *, beam_width: int = 32
) -> Chooser:
    """A chooser ``r ↦ players`` that removes exactly ``r`` players picked by first-order values.

    The choice optimises the additive surrogate ``f(x) = Σ_i φ_i x_i`` with the same objectives
    as :func:`interaction_chooser`: ``"min"`` removes the ``r`` largest ``φ``, ``"max"`` the
    ``r`` smallest, ``"max_change"`` whichever moves the sum more (all
    :func:`~shapiq_spex.optimize.marginal_choice`), and ``"min_change"`` the ``r`` players with
    the smallest ``|Σ_{i∈R} φ_i|`` (:func:`least_change_subset` on the additive surrogate, so the
    same search as for interactions and only the surrogate differs).

    Args:
        values_by_player: ``(n,)`` first-order values or shapiq ``InteractionValues``.
        objective: ``"min"``, ``"max"``, ``"max_change"`` or ``"min_change"``.
        beam_width: beam width for ``"min_change"``. Defaults to ``32``.

    Returns:
        A callable ``chooser(r) -> tuple[int, ...]`` (exactly ``r`` players, ascending).
    """
    phi = _player_values(values_by_player)
    objective = check_choice(objective, "objective", PRUNE_OBJECTIVES)
    beam_width = check_beam_width(beam_width)
    additive = _additive_spectrum(phi)

    def chooser(r: int) -> tuple[int, ...]:
        if objective == "min_change":
            return least_change_subset(additive, r, beam_width=beam_width).players
        return marginal_choice(phi, r, mode="remove", objective=objective, exact_size=True)

    return chooser
