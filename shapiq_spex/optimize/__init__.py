"""From interactions to actions: the players whose removal (or keeping) moves a surrogate most.

Given a recovered sparse spectrum ``f̂`` (Möbius, or Fourier converted with
:meth:`~shapiq_spex.spectra.SparseSpectrum.to_moebius`), :func:`best_subset` finds a set ``R`` of
at most ``r`` players (exactly ``r`` if asked) that maximises or minimises

* ``mode="remove"``: ``f̂(x)`` with ``x`` = every player kept except ``R``;
* ``mode="keep"``: ``f̂(x)`` with ``x`` = only ``R`` kept;

or, with ``objective="max_change"``, the distance ``|f̂(x) − f̂(reference)|`` to the reference
coalition (all players kept for ``"remove"``, none kept for ``"keep"``).

Exact method (``method="milp"``): a mixed-integer linear program on the Möbius form
``f̂(x) = Σ_S a_S [S ⊆ x]``, solved by HiGHS through ``scipy.optimize.milp``. A binary ``y_i``
marks player ``i`` as chosen; a continuous ``z_S ∈ [0, 1]`` stands for "term ``S`` active" for
every term with ``|S| ≥ 2`` (``[S ⊆ x]`` is ``AND_{i∈S} y_i`` in keep mode and
``AND_{i∈S} (1 − y_i)`` in remove mode; singletons are linear in ``y`` and need no variable). Only
the half of the standard linearisation that the objective can push against is written: a term
whose objective weight wants ``z_S = 1`` gets the upper bounds ``z_S ≤ y_i`` (remove mode:
``z_S ≤ 1 − y_i``) and a term that wants ``z_S = 0`` gets the single lower bound
``z_S ≥ Σ_{i∈S} y_i − |S| + 1`` (remove mode: ``z_S ≥ 1 − Σ_{i∈S} y_i``). At any integer ``y`` the
objective drives each ``z_S`` to the bound it pushes against, which equals the AND, so ``z`` may be
continuous and the optimum is the true surrogate optimum. Variables and constraints grow with the
support (at most ``n + s`` and ``Σ_S |S| + 1``), never with ``2**n`` or ``n**r``. A solve
stopped by ``time_limit`` is never passed off as optimal: its incumbent is compared with a beam
search, the better set is returned with ``optimal=False``, ``status`` says what happened and a
``RuntimeWarning`` is issued. ``method="auto"`` runs the MILP when the support is small and sparse
enough (:data:`AUTO_MILP_MAX_TERMS`, :data:`AUTO_MILP_MAX_DENSITY`), else beam search.

Heuristics (``method="greedy"`` / ``"beam"``): beam search over sets of chosen players; every step
scores all single-player additions of every beam state at once with one sparse product of the
Möbius incidence matrix (``O(nnz · beam_width)`` time and ``O(s · beam_width + beam_width² · n)``
memory per step). Greedy is beam search of width 1.

Acting on the choice: :func:`pruning_experiment` removes each chooser's ``r`` players (heads,
training examples, words) next to a seeded random baseline and evaluates a (held-out) game in one
batched call; :mod:`~shapiq_spex.optimize.heads` profiles attention layers and picks heads to
prune; :mod:`~shapiq_spex.optimize.data` finds synergistic and redundant groups of training
examples and verifies them on the game; :mod:`~shapiq_spex.optimize.choosers` builds choosers
from a surrogate or from marginal values, including ``"min_change"`` (keep a prediction while
pruning, :func:`least_change_subset`).

Removal curves (the ``Rem(r)`` metric of the SPEX and ProxySPEX papers):
``Rem(r) = |f(all) − f(all minus R_r)| / |f(all)|``, with ``R_r`` picked from the interaction
surrogate (:func:`removal_curve`) or by a first-order attribution (:func:`marginal_choice`,
:func:`removal_curve_marginal`), so that both choices can be compared at the same ``r``. Unlike the
papers' code (which optimised the surrogate value of the kept set ``R`` alone and then removed
``R``), the MILP here scores the coalition that is actually evaluated.
"""

from __future__ import annotations

from shapiq_spex.optimize.choosers import interaction_chooser, marginal_chooser
from shapiq_spex.optimize.data import (
    DataReport,
    GroupCheck,
    InteractionGroup,
    data_report,
    interaction_groups,
    verify_groups,
)
from shapiq_spex.optimize.heads import LayerProfile, heads_to_prune, layer_profile
from shapiq_spex.optimize.pruning import PruningResult, pruning_experiment
from shapiq_spex.optimize.removal import (
    RemovalCurve,
    marginal_choice,
    removal_curve,
    removal_curve_marginal,
)
from shapiq_spex.optimize.subset import (
    AUTO_MILP_MAX_DENSITY,
    AUTO_MILP_MAX_TERMS,
    SubsetResult,
    best_subset,
    least_change_subset,
)

__all__ = [
    "AUTO_MILP_MAX_DENSITY",
    "AUTO_MILP_MAX_TERMS",
    "DataReport",
    "GroupCheck",
    "InteractionGroup",
    "LayerProfile",
    "PruningResult",
    "RemovalCurve",
    "SubsetResult",
    "best_subset",
    "data_report",
    "heads_to_prune",
    "interaction_chooser",
    "interaction_groups",
    "layer_profile",
    "least_change_subset",
    "marginal_choice",
    "marginal_chooser",
    "pruning_experiment",
    "removal_curve",
    "removal_curve_marginal",
    "verify_groups",
]
