"""Accuracy metrics of the benchmark protocol (``design/benchmark-protocol.md``), as pure functions.

* :func:`faithfulness_r2` / :func:`r2_score`: R² of a surrogate on held-out Bernoulli(1/2) masks.
* :func:`coefficient_error`: relative L2 error of recovered coefficients over the union of supports.
* :func:`support_precision_recall`: precision and recall of the recovered support.
* :func:`index_errors` / :func:`precision_at_k`: accuracy of interaction indices (shapiq
  ``InteractionValues``) against exact values.
* :func:`banzhaf_regression`: first-order values by least squares on queried coalitions (Banzhaf
  values when the coalitions are uniform random), the marginal baseline at equal queries.
* :func:`removal_curve` / :func:`removal_curve_marginal`: the papers' ``Rem(r)`` for sets chosen
  from an interaction surrogate (exact MILP) or by a first-order attribution; they live in
  :mod:`shapiq_spex.optimize` and are re-exported here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable

import numpy as np
from shapiq import InteractionValues

from shapiq_spex._random import as_generator
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.optimize.removal import RemovalCurve, removal_curve, removal_curve_marginal
from shapiq_spex.spectra import SparseSpectrum, check_coalitions
from shapiq_spex.spectra._subsets import PAD

__all__ = [
    "RemovalCurve",
    "banzhaf_regression",
    "coefficient_error",
    "faithfulness_r2",
    "holdout_masks",
    "index_errors",
    "precision_at_k",
    "r2_score",
    "removal_curve",
    "removal_curve_marginal",
    "support_precision_recall",
    "surrogate_function",
]

Surrogate = SparseSpectrum | InteractionValues | Callable[[np.ndarray], np.ndarray]


# ---------------------------------------------------------------------------------- faithfulness
def r2_score(y, y_hat) -> float:
    """Coefficient of determination ``1 - ||y - y_hat||² / ||y - mean(y)||²`` (not clipped).

    Args:
        y: ``(m,)`` true values.
        y_hat: ``(m,)`` predictions.

    Returns:
        The R² (can be negative); ``nan`` if ``y`` is constant (R² is undefined then).
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    y_hat = np.asarray(y_hat, dtype=np.float64).reshape(-1)
    if y.shape != y_hat.shape or y.size == 0:
        msg = (
            "The 'y' and 'y_hat' parameters must be non-empty and of the same length. "
            f"Got {y.shape} and {y_hat.shape}."
        )
        raise InvalidParameterError(msg)
    residual = float(np.sum((y - y_hat) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - residual / total if total > 0.0 else float("nan")


def holdout_masks(n: int, n_masks: int = 1000, random_state=0) -> np.ndarray:
    """Held-out coalitions: every player kept independently with probability 1/2.

    Args:
        n: number of players (>= 1).
        n_masks: number of masks (>= 2). Defaults to ``1000``.
        random_state: seed (fixed by the protocol so every method is scored on the same masks).
            Defaults to ``0``.

    Returns:
        ``(n_masks, n)`` boolean matrix.
    """
    n = _check_count(n, "n", 1)
    n_masks = _check_count(n_masks, "n_masks", 2)
    return as_generator(random_state).random((n_masks, n)) < 0.5


def surrogate_function(surrogate: Surrogate) -> Callable[[np.ndarray], np.ndarray]:
    """Turn a surrogate into a function ``(m, n) bool -> (m,)``.

    Args:
        surrogate: a :class:`SparseSpectrum` (evaluated in its basis); an ``InteractionValues``
            with index ``"Fourier"`` (``f(x) = sum_K F[K] (-1)^|K ∩ x|`` over all stored terms,
            ``()`` included, as shapiq defines it); any other ``InteractionValues`` (read as
            ``baseline_value + sum_{T ⊆ x, |T| >= 1} phi(T)``, as ``shapiq_benchmark`` does, so
            marginal methods are scored from their first-order values and Möbius values exactly);
            or a callable mapping coalitions to values.

    Returns:
        The prediction function.
    """
    if isinstance(surrogate, SparseSpectrum):
        return surrogate.evaluate
    if isinstance(surrogate, InteractionValues):
        return _interaction_values_spectrum(surrogate).evaluate
    if callable(surrogate):
        return surrogate
    msg = (
        "The 'surrogate' parameter must be a SparseSpectrum, shapiq InteractionValues or a "
        f"callable (masks -> values). Got {type(surrogate).__name__}."
    )
    raise InvalidParameterError(msg)


def faithfulness_r2(
    surrogate: Surrogate,
    game,
    n: int | None = None,
    *,
    n_masks: int = 1000,
    random_state=0,
    masks: np.ndarray | None = None,
) -> float:
    """Faithfulness R² of a surrogate on held-out masks (benchmark protocol definition).

    ``R² = 1 - ||f - f̂||² / ||f - mean(f)||²`` over ``n_masks`` masks drawn i.i.d.
    Bernoulli(1/2) from ``random_state`` (or over the given ``masks``).

    Args:
        surrogate: the fitted surrogate ``f̂``: a :class:`SparseSpectrum`, ``InteractionValues``
            or callable (see :func:`surrogate_function`).
        game: the true ``f``: a callable ``(m, n) bool -> (m,)`` (e.g. a ``shapiq.Game``), a
            :class:`SparseSpectrum`, or an ``(m,)`` array of precomputed values of ``f`` at
            ``masks`` (then ``masks`` is required; evaluate an expensive game once on
            :func:`holdout_masks` and score many surrogates).
        n: number of players; inferred from ``masks``, a ``SparseSpectrum``, a game's
            ``n_players`` or an ``InteractionValues`` surrogate when not given.
        n_masks: number of held-out masks when ``masks`` is not given. Defaults to ``1000``.
        random_state: seed of the held-out masks. Defaults to ``0``.
        masks: ``(m, n)`` boolean held-out masks to use instead of sampling.

    Returns:
        The R² (not clipped; ``nan`` if ``f`` is constant on the masks).
    """
    is_values = not (isinstance(game, SparseSpectrum) or callable(game))
    if masks is None:
        if is_values:
            msg = "The 'masks' parameter is required when 'game' is an array of values."
            raise InvalidParameterError(msg)
        n = n if n is not None else _infer_n(game, surrogate)
        masks = holdout_masks(n, n_masks, random_state)
    else:
        masks = np.asarray(masks)
        if masks.ndim != 2:
            msg = f"The 'masks' parameter must be a (m, n) boolean matrix. Got {masks.shape}."
            raise InvalidParameterError(msg)
        masks = check_coalitions(masks, masks.shape[1] if n is None else n, name="masks")
    if isinstance(game, SparseSpectrum):
        values = game.evaluate(masks)
    elif callable(game):
        values = np.asarray(game(masks), dtype=np.float64).reshape(-1)
    else:
        values = np.asarray(game, dtype=np.float64).reshape(-1)
    if values.shape[0] != masks.shape[0]:
        msg = (
            f"The 'game' gave {values.shape[0]} values for {masks.shape[0]} masks; pass a "
            "callable, a SparseSpectrum, or exactly one value per row of 'masks'."
        )
        raise InvalidParameterError(msg)
    predictions = np.asarray(surrogate_function(surrogate)(masks), dtype=np.float64)
    return r2_score(values, predictions.reshape(-1))


def _infer_n(game, surrogate) -> int:
    """Number of players from the first object that knows it."""
    for obj in (game, surrogate):
        if isinstance(obj, SparseSpectrum):
            return obj.n
        n = getattr(obj, "n_players", None)
        if isinstance(n, numbers.Integral):
            return int(n)
    msg = "Cannot infer the number of players: pass 'n' (or 'masks')."
    raise InvalidParameterError(msg)


def _interaction_values_spectrum(iv: InteractionValues) -> SparseSpectrum:
    """A shapiq ``InteractionValues`` as the spectrum of its reconstruction (see above)."""
    terms = {tuple(int(p) for p in k): float(v) for k, v in iv.dict_values.items()}
    if iv.index == "Fourier":
        return SparseSpectrum.from_dict(iv.n_players, terms, "fourier")
    terms = {k: v for k, v in terms.items() if len(k) >= 1}
    terms[()] = float(iv.baseline_value)
    return SparseSpectrum.from_dict(iv.n_players, terms, "moebius")


# ---------------------------------------------------------------------------------- coefficients
def _check_spectra(true, est) -> None:
    for name, obj in (("true", true), ("est", est)):
        if not isinstance(obj, SparseSpectrum):
            msg = f"The '{name}' parameter must be a SparseSpectrum. Got {type(obj).__name__}."
            raise InvalidParameterError(msg)
    if true.n != est.n:
        msg = f"The 'true' and 'est' spectra have {true.n} and {est.n} players; they must match."
        raise InvalidParameterError(msg)


def _aligned(true: SparseSpectrum, est: SparseSpectrum, include_constant: bool):
    """Coefficients of both spectra over the union of supports, in ``true``'s basis.

    Returns:
        ``(a, b)`` each ``(u,)`` float64: the coefficient of union term ``j`` in ``true`` and in
        ``est`` (0 where a spectrum lacks the term).
    """
    est = est.to_basis(true.basis)
    w = max(true.supports.shape[1], est.supports.shape[1], 1)
    rows = np.full((len(true) + len(est), w), PAD, dtype=np.int64)
    rows[: len(true), : true.supports.shape[1]] = true.supports
    rows[len(true) :, : est.supports.shape[1]] = est.supports
    coefs = np.concatenate([true.coefs, est.coefs])
    owner = np.repeat([0, 1], [len(true), len(est)])
    if not include_constant:
        keep = (rows >= 0).any(axis=1)
        rows, coefs, owner = rows[keep], coefs[keep], owner[keep]
    if rows.shape[0] == 0:
        return np.zeros(0), np.zeros(0)
    _, inv = np.unique(rows, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    u = int(inv.max()) + 1
    a = np.bincount(inv[owner == 0], weights=coefs[owner == 0], minlength=u)
    b = np.bincount(inv[owner == 1], weights=coefs[owner == 1], minlength=u)
    return a, b


def coefficient_error(
    true: SparseSpectrum, est: SparseSpectrum, *, include_constant: bool = True
) -> float:
    """Relative L2 error ``||c_true - c_est|| / ||c_true||`` over the union of supports.

    ``est`` is converted to ``true``'s basis first; a term missing from one spectrum counts as 0.

    Args:
        true: the true spectrum.
        est: the recovered spectrum.
        include_constant: include the empty-set term. Defaults to ``True``.

    Returns:
        The relative error; if ``true`` is all zero, ``0.0`` when ``est`` is too and ``inf``
        otherwise.
    """
    _check_spectra(true, est)
    a, b = _aligned(true, est, include_constant)
    num = float(np.linalg.norm(a - b))
    den = float(np.linalg.norm(a))
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den


def support_precision_recall(
    true: SparseSpectrum,
    est: SparseSpectrum,
    tol: float = 0.0,
    *,
    include_constant: bool = False,
) -> tuple[float, float]:
    """Precision and recall of the recovered support.

    The support of a spectrum is its set of terms with ``|coef| > tol`` (``tol`` is absolute),
    ``est`` taken in ``true``'s basis. The constant term is left out by default (every method
    fits it, so it would only inflate both numbers).

    Args:
        true: the true spectrum.
        est: the recovered spectrum.
        tol: absolute threshold (>= 0) on ``|coef|``. Defaults to ``0.0``.
        include_constant: count the empty-set term. Defaults to ``False``.

    Returns:
        ``(precision, recall)`` = ``(|T ∩ E| / |E|, |T ∩ E| / |T|)``. An empty ``E`` has
        precision 1.0 if ``T`` is empty too, else 0.0; an empty ``T`` has recall 1.0.
    """
    _check_spectra(true, est)
    if not isinstance(tol, numbers.Real) or isinstance(tol, bool) or not tol >= 0.0:
        msg = f"The 'tol' parameter must be a real number >= 0. Got {tol!r}."
        raise InvalidParameterError(msg)
    a, b = _aligned(true, est, include_constant)
    in_true, in_est = np.abs(a) > tol, np.abs(b) > tol
    hits = int(np.sum(in_true & in_est))
    n_true, n_est = int(in_true.sum()), int(in_est.sum())
    precision = hits / n_est if n_est else (1.0 if n_true == 0 else 0.0)
    recall = hits / n_true if n_true else 1.0
    return precision, recall


# ---------------------------------------------------------------------------------- indices
def _check_iv(obj, name: str) -> InteractionValues:
    if not isinstance(obj, InteractionValues):
        msg = f"The '{name}' parameter must be shapiq InteractionValues. Got {type(obj).__name__}."
        raise InvalidParameterError(msg)
    return obj


def _order_filter(orders: Iterable[int] | None):
    """Predicate on interactions: orders ``>= 1`` by default, else those listed."""
    if orders is None:
        return lambda key: len(key) >= 1
    if isinstance(orders, numbers.Integral):
        orders = [orders]
    try:
        wanted = {int(o) for o in orders}
    except (TypeError, ValueError):
        msg = f"The 'orders' parameter must be None or an iterable of ints. Got {orders!r}."
        raise InvalidParameterError(msg) from None
    if any(o < 0 for o in wanted):
        msg = f"The 'orders' parameter must hold orders >= 0. Got {sorted(wanted)}."
        raise InvalidParameterError(msg)
    return lambda key: len(key) in wanted


def _selected(iv: InteractionValues, keep) -> dict[tuple[int, ...], float]:
    return {tuple(int(p) for p in k): float(v) for k, v in iv.dict_values.items() if keep(k)}


def index_errors(
    ground_truth: InteractionValues,
    estimate: InteractionValues,
    orders: Iterable[int] | None = None,
    *,
    check_index: bool = True,
) -> dict[str, float]:
    """Absolute errors of estimated interaction values over the union of interactions.

    An interaction missing from one side counts as 0 there.

    Args:
        ground_truth: the exact values.
        estimate: the estimated values.
        orders: interaction orders to compare. Defaults to ``None``: every order ``>= 1`` (the
            empty set is left out because shapiq's algorithms disagree on its convention; pass
            ``orders`` containing 0 to include it).
        check_index: raise if the two ``index`` fields differ (e.g. ``"SII"`` vs ``"k-SII"``).
            Defaults to ``True``.

    Returns:
        ``{"max_abs": float, "mean_abs": float, "n_interactions": int}`` (errors 0.0 when the
        union is empty).
    """
    _check_iv(ground_truth, "ground_truth")
    _check_iv(estimate, "estimate")
    if check_index and ground_truth.index != estimate.index:
        msg = (
            f"The 'ground_truth' index {ground_truth.index!r} differs from the 'estimate' index "
            f"{estimate.index!r}; compare like with like or pass check_index=False."
        )
        raise InvalidParameterError(msg)
    keep = _order_filter(orders)
    gt, est = _selected(ground_truth, keep), _selected(estimate, keep)
    keys = list(gt.keys() | est.keys())
    if not keys:
        return {"max_abs": 0.0, "mean_abs": 0.0, "n_interactions": 0}
    err = np.abs(
        np.array([gt.get(k, 0.0) for k in keys]) - np.array([est.get(k, 0.0) for k in keys])
    )
    return {"max_abs": float(err.max()), "mean_abs": float(err.mean()), "n_interactions": len(keys)}


def _top_k(values: dict[tuple[int, ...], float], k: int) -> set[tuple[int, ...]]:
    """The ``k`` nonzero interactions of largest ``|value|`` (ties: by order, then players)."""
    ranked = sorted(
        (key for key, v in values.items() if v != 0.0),
        key=lambda key: (-abs(values[key]), len(key), key),
    )
    return set(ranked[:k])


def precision_at_k(
    ground_truth: InteractionValues,
    estimate: InteractionValues,
    k: int,
    orders: Iterable[int] | None = None,
) -> float:
    """Share of the true top-``k`` interactions (by ``|value|``) also in the estimated top-``k``.

    The empty set is excluded (default ``orders=None`` means every order ``>= 1``), as are
    interactions whose value is exactly 0; ties are broken by order, then player indices.

    Args:
        ground_truth: the exact values.
        estimate: the estimated values.
        k: number of top interactions (>= 1).
        orders: restrict to these orders (0 is ignored). Defaults to ``None``.

    Returns:
        ``|top_k(gt) ∩ top_k(est)| / min(k, |top_k(gt)|)``; 1.0 if the ground truth has no
        nonzero interaction.
    """
    _check_iv(ground_truth, "ground_truth")
    _check_iv(estimate, "estimate")
    k = _check_count(k, "k", 1)
    order_ok = _order_filter(orders)

    def keep(key):
        return len(key) >= 1 and order_ok(key)

    top_gt = _top_k(_selected(ground_truth, keep), k)
    if not top_gt:
        return 1.0
    top_est = _top_k(_selected(estimate, keep), k)
    return len(top_gt & top_est) / len(top_gt)


def _check_count(value, name: str, low: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        msg = f"The '{name}' parameter must be an int >= {low}. Got {value!r}."
        raise InvalidParameterError(msg)
    return int(value)


# ---------------------------------------------------------------------------------- baselines
def banzhaf_regression(masks, values) -> tuple[float, np.ndarray]:
    """First-order values by least squares (with intercept) on queried coalitions.

    With i.i.d. uniform random coalitions the slope of player ``i`` estimates its Banzhaf value
    (the best additive approximation under the uniform distribution), so this is the marginal
    method that costs no extra queries next to ProxySPEX: fit it on the coalitions ProxySPEX
    queried (:class:`~shapiq_spex.games.RecordingGame`).

    Args:
        masks: ``(m, n)`` boolean coalitions.
        values: ``(m,)`` finite game values.

    Returns:
        ``(intercept, slopes)``: a float and ``(n,)`` float64, one slope per player.

    Raises:
        InvalidParameterError: wrong shapes, non-finite values, or fewer than ``n + 1``
            coalitions (the fit would be underdetermined).
    """
    x = check_coalitions(masks, np.asarray(masks).shape[-1], name="masks")
    y = np.asarray(values, dtype=np.float64)
    m, n = x.shape
    if y.shape != (m,):
        msg = f"The 'values' parameter must have shape ({m},) like 'masks'. Got {y.shape}."
        raise InvalidParameterError(msg)
    if not np.all(np.isfinite(y)):
        msg = "The 'values' parameter holds NaN or inf; pass finite game values."
        raise InvalidParameterError(msg)
    if m < n + 1:
        msg = (
            f"The 'masks' parameter has {m} coalitions, fewer than the {n + 1} a fit with an "
            "intercept and one slope per player needs; query more coalitions."
        )
        raise InvalidParameterError(msg)
    design = np.column_stack([np.ones(m), x.astype(np.float64)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(coef[0]), coef[1:]
