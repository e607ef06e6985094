"""Cross-validated sparse regression over nested candidate terms: the pairwise-sparse candidate.

On real language-model games the tree proxy's own terms are not always the best surrogate at a
small budget: a LASSO over first-order plus pairwise AND terms (``x_i x_j``, the Möbius basis)
is as good or better at 500-1,000 queries, while the proxy's deeper terms win at larger budgets
(``benchmarks/results/llm_faithfulness.md``). This module builds the candidate that nests both:

1. columns: every singleton, the pairs (all of them when they fit ``max_columns``, otherwise the
   pairs most correlated with the residual of a first-order least-squares fit, scored by
   ``|X^T diag(r) X|`` in row blocks so memory stays ``O(block * n)``), and extra supports
   (the proxy's higher-order terms) as Möbius monomials ``prod_{i in T} x_i``;
2. an L1 path over those columns (scikit-learn's coordinate descent), its penalty chosen by
   K-fold cross-validation (shuffled folds from the caller's generator, so reproducible);
3. at every penalty, least squares refitted on the L1 fit's support too (the relaxed fit):
   cross-validation picks the penalty *and* whether to relax, so a noiseless sparse game is
   recovered exactly while a noisy language-model game keeps the shrinkage that helps it;
4. the fit at that choice on all rows, returned as a Möbius :class:`SparseSpectrum` with its
   cross-validated R² (the mean over folds of ``1 - mse / var``), an honest estimate of the
   surrogate's held-out R² except for the small optimism of choosing one of the penalties.

The columns are not standardised: a monomial of order ``k`` is on for a ``2^-k`` share of
uniform coalitions, so the same L1 penalty asks more evidence of higher orders, the prior that
made the Möbius basis beat the Fourier basis on real texts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import scipy.linalg as sla
from sklearn.exceptions import ConvergenceWarning

from shapiq_spex._parallel import thread_map
from shapiq_spex.spectra._subsets import PAD, degrees, incidence, row_keys
from shapiq_spex.spectra.spectrum import SparseSpectrum

__all__ = [
    "SparseFit",
    "fit_sparse_moebius",
    "monomials",
    "proxy_supports",
    "screen_pairs",
    "sequence_supports",
]

# Rows of X^T diag(r) X scored at a time while screening pairs.
_SCREEN_BLOCK = 256
# Penalties on the L1 path and the path's coordinate-descent settings.
_N_ALPHAS = 25
_TOL = 1e-3
_MAX_ITER = 500
# Penalties computed at a time, and how many in a row past the best end the path early.
_PATH_CHUNK = 5
_PATH_PATIENCE = 5
# Column scale of forced singletons (their penalty is divided by it).
_FREE = 1e3
# Players spanned by the sets sequence_supports offers (3 and 4 players within 4 in a row).
SEQUENCE_WINDOW = 4


@dataclass(frozen=True)
class SparseFit:
    """Result of :func:`fit_sparse_moebius`.

    Attributes:
        spectrum: the fitted Möbius spectrum (intercept at ``()``).
        cv_r2: K-fold cross-validated R² at the chosen penalty.
        alpha: the chosen L1 penalty.
        relaxed: whether least squares on the L1 fit's support won the cross-validation
            (exact recovery on noiseless sparse games) over the L1 fit itself.
        folds: K of the cross-validation actually used.
        n_columns: candidate columns (singletons, pairs, extra supports).
        n_pairs: pair columns among them.
        n_extra: extra (higher-order) columns among them.
        cv_path: ``[(alpha, cv R² of the L1 fit, cv R² relaxed), ...]`` along the path (it
            stops ``_PATH_PATIENCE`` penalties past the best).
        oof: ``(m,)`` out-of-fold predictions at the chosen penalty: each row predicted by the
            fold's fit that did not see it (columns screened without it too).
    """

    spectrum: SparseSpectrum
    cv_r2: float
    alpha: float
    relaxed: bool
    folds: int
    n_columns: int
    n_pairs: int
    n_extra: int
    cv_path: list = field(default_factory=list)
    oof: np.ndarray = field(default_factory=lambda: np.zeros(0))


def screen_pairs(X: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` pairs ``(i < j)`` with the largest ``|sum_s x_si x_sj r_s|``.

    Args:
        X: ``(m, n)`` bool coalitions.
        r: ``(m,)`` residuals of a first-order fit.
        k: pairs wanted.

    Returns:
        ``(min(k, n(n-1)/2), 2)`` int64 pairs, strongest first (ties by index).
    """
    n = X.shape[1]
    total = n * (n - 1) // 2
    k = min(int(k), total)
    if k <= 0:
        return np.zeros((0, 2), dtype=np.int64)
    Xf = X.astype(np.float64)
    Xr = Xf * r[:, None]
    best_score = np.zeros(0)
    best_pairs = np.zeros((0, 2), dtype=np.int64)
    for start in range(0, n, _SCREEN_BLOCK):
        stop = min(start + _SCREEN_BLOCK, n)
        block = np.abs(Xr[:, start:stop].T @ Xf)  # (b, n): row i, column j
        ii, jj = np.nonzero(np.arange(start, stop)[:, None] < np.arange(n)[None, :])
        score = block[ii, jj]
        pairs = np.stack([ii + start, jj], axis=1)
        score = np.concatenate([best_score, score])
        pairs = np.concatenate([best_pairs, pairs])
        if score.shape[0] > k:
            keep = np.argpartition(-score, k - 1)[:k]
            score, pairs = score[keep], pairs[keep]
        best_score, best_pairs = score, pairs
    order = np.lexsort((best_pairs[:, 1], best_pairs[:, 0], -best_score))
    return best_pairs[order]


def monomials(X: np.ndarray, supports: np.ndarray) -> np.ndarray:
    """``(m, p)`` float64 columns ``prod_{i in T} x_i`` for padded ``(p, w)`` supports.

    A monomial is on where the coalition holds all of ``T``: ``|T ∩ x| = |T|``, with the
    counts from one sparse product (exact small integers in float32).
    """
    X = np.asarray(X)
    supports = np.asarray(supports, dtype=np.int64)
    counts = X.astype(np.float32) @ incidence(supports, X.shape[1]).T  # (m, p)
    return np.array(counts == degrees(supports)[None, :], dtype=np.float64, order="C")


def fit_sparse_moebius(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    extra: np.ndarray | None = None,
    max_columns: int = 1500,
    folds: int = 5,
    force_singletons: bool = False,
    n_jobs: int = 1,
) -> SparseFit:
    """L1-regularised Möbius fit over singletons, (screened) pairs and extra supports.

    Args:
        X: ``(m, n)`` bool training coalitions.
        y: ``(m,)`` their values.
        rng: generator of the fold assignment.
        extra: ``(e, w)`` padded supports of order >= 2 to offer as columns, most important
            first (for example :func:`sequence_supports`, then :func:`proxy_supports`);
            singletons in it are ignored (they are always columns), a support given twice or
            a pair already screened is not repeated.
        max_columns: most columns in all (and never more than ``max(n + 32, m)``); ``extra``
            gets at most a quarter, the screened pairs what the singletons and ``extra`` leave.
        folds: K of the K-fold cross-validation (``>= 2``; fewer when ``m`` is small).
        force_singletons: keep every first-order term (their L1 penalty is divided by
            ``_FREE``, so they are practically unpenalised and always in the support).
        n_jobs: threads; the folds are fitted side by side (the same values). Defaults to 1.

    Returns:
        A :class:`SparseFit`.
    """
    # One filter for the whole fit, set here in the calling thread: warnings.catch_warnings
    # in the fold threads would race on the global filter list (and could leave it changed).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the smallest penalties
        return _fit_sparse_moebius(X, y, rng, extra, max_columns, folds, force_singletons, n_jobs)


def _fit_sparse_moebius(X, y, rng, extra, max_columns, folds, force_singletons, n_jobs):
    from sklearn.linear_model import lasso_path

    X = np.asarray(X, dtype=bool)
    y = np.asarray(y, dtype=np.float64)
    m, n = X.shape
    if extra is None or extra.shape[0] == 0:
        extra = np.zeros((0, 2), dtype=np.int64)
    extra = np.asarray(extra, dtype=np.int64)
    # more columns than rows buy noise, not fit, and slow the path down
    max_columns = max(1, min(int(max_columns), max(n + 32, m)))
    extra = extra[degrees(extra) >= 2]
    if extra.shape[0]:  # a support offered twice would split its coefficient: keep the first
        _, first = np.unique(row_keys(np.sort(extra, axis=1)), return_index=True)
        extra = extra[np.sort(first)]
    extra = extra[: max(0, max_columns // 4)]
    n_pair_slots = max(0, max_columns - n - extra.shape[0])
    every_pair = n * (n - 1) // 2 <= n_pair_slots
    folds = int(max(2, min(folds, m // 10)))
    fold_of = rng.permutation(np.arange(m) % folds)

    def all_rows():
        supports, n_pairs = _columns(X, y, extra, n_pair_slots)
        D = monomials(X, supports)
        return supports, n_pairs, D, _RawGram(D, y)

    def singleton_scale(columns: int) -> np.ndarray:
        # a column scaled by w has its L1 penalty divided by w: forced singletons get _FREE
        w = np.ones(columns)
        if force_singletons:
            w[:n] = _FREE
        return w

    def problem_of(f):
        """(scaled centred training problem, scaled test design, test rows) of fold ``f``."""
        test = fold_of == f
        if every_pair:  # the columns do not depend on the values: one Gram matrix for all folds
            problem, D_test, w = raw.without(test), D[test], scale
        else:
            # screening pairs on all rows would pick pairs that fit the test fold's noise and
            # make the cross-validation optimistic: each fold screens its own training rows
            sup_f, _ = _columns(X[~test], y[~test], extra, n_pair_slots)
            problem = _RawGram(monomials(X[~test], sup_f), y[~test]).without(None)
            D_test = monomials(X[test], sup_f)
            w = singleton_scale(sup_f.shape[0])
        return _scaled(problem, w), D_test * w, test

    if every_pair:
        supports, n_pairs, D, raw = all_rows()
        scale = singleton_scale(supports.shape[0])
        problems = thread_map(problem_of, range(folds), n_jobs)
    else:  # the folds do not need the columns of all rows (the final fit does): built beside
        tasks = range(-1, folds)  # -1: all rows
        built = thread_map(lambda f: problem_of(f) if f >= 0 else all_rows(), tasks, n_jobs)
        (supports, n_pairs, D, raw), problems = built[0], built[1:]
        scale = singleton_scale(supports.shape[0])
    alphas = _alpha_grid(D, y)  # from the unscaled columns: forcing must not move the grid
    sst = 0.0
    for _, _, test in problems:
        sst += float(((y[test] - y[~test].mean()) ** 2).sum())
    sse = np.zeros((2, alphas.shape[0]))  # [L1 fit, least squares on its support]
    oof = np.zeros((2, m, alphas.shape[0]))
    warm = [None] * folds
    done = 0
    # the path runs from the largest penalty down in chunks, warm-started where the last chunk
    # ended (the same iterates as one call): past the cross-validated optimum the small
    # penalties only cost time (coordinate descent converges slowest there), so it stops once
    # _PATH_PATIENCE penalties in a row have not beaten the best
    while done < alphas.shape[0]:
        chunk = alphas[done : done + _PATH_CHUNK]
        cols = slice(done, done + chunk.shape[0])

        def path_of(f, chunk=chunk):
            problem, D_test, _ = problems[f]
            return _path_predictions(problem, D_test, chunk, lasso_path, warm[f])

        for f, (pred, warm[f]) in enumerate(thread_map(path_of, range(folds), n_jobs)):
            oof[:, problems[f][2], cols] = pred
        sse[:, cols] = ((y[None, :, None] - oof[:, :, cols]) ** 2).sum(axis=1)
        done += chunk.shape[0]
        best = int(np.argmin(np.min(sse[:, :done], axis=0)))  # ties: the larger penalty
        if done - 1 - best >= _PATH_PATIENCE:
            break
    sse = sse[:, :done]
    alphas = alphas[:done]
    cv_r2 = 1.0 - sse / sst if sst > 0 else np.zeros_like(sse)
    relaxed, best = np.unravel_index(int(np.argmax(cv_r2)), cv_r2.shape)
    intercept, beta = _fit_at(
        _scaled(raw.without(None), scale), alphas[best], bool(relaxed), lasso_path
    )
    beta *= scale
    keep = beta != 0
    if force_singletons:
        keep[:n] = True
    width = supports.shape[1]
    sup = np.concatenate([np.full((1, width), PAD, dtype=np.int64), supports[keep]])
    coefs = np.concatenate([[intercept], beta[keep]])
    spectrum = SparseSpectrum(n, sup, coefs, "moebius")
    return SparseFit(
        spectrum=spectrum,
        cv_r2=float(cv_r2[relaxed, best]),
        alpha=float(alphas[best]),
        relaxed=bool(relaxed),
        folds=folds,
        n_columns=int(supports.shape[0]),
        n_pairs=int(n_pairs),
        n_extra=int(supports.shape[0] - n - n_pairs),
        cv_path=[(float(a), float(s), float(t)) for a, s, t in zip(alphas, *cv_r2, strict=True)],
        oof=oof[relaxed, :, best].copy(),
    )


def _columns(X: np.ndarray, y: np.ndarray, extra: np.ndarray, slots: int):
    """``(supports, n_pairs)``: singletons, then all or the screened pairs, then ``extra``.

    Pairs are all of them when they fit ``slots``, else the ``slots`` pairs most correlated with
    the residual of a first-order least-squares fit on ``(X, y)``.
    """
    m, n = X.shape
    i, j = np.triu_indices(n, 1)
    if i.shape[0] <= slots:
        pairs = np.stack([i, j], axis=1).astype(np.int64)
    else:
        A = np.hstack([np.ones((m, 1)), X.astype(np.float64)])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        pairs = screen_pairs(X, y - A @ coef, slots)
    width = max(2, extra.shape[1])
    pair_rows = np.full((pairs.shape[0], width), PAD, dtype=np.int64)
    pair_rows[:, :2] = pairs
    extra_rows = np.full((extra.shape[0], width), PAD, dtype=np.int64)
    extra_rows[:, : extra.shape[1]] = extra
    if extra_rows.shape[0] and pair_rows.shape[0]:  # a pair offered twice splits its coefficient
        extra_rows = extra_rows[~np.isin(row_keys(extra_rows), row_keys(pair_rows))]
    singles = np.full((n, width), PAD, dtype=np.int64)
    singles[:, 0] = np.arange(n)
    return np.concatenate([singles, pair_rows, extra_rows]), int(pairs.shape[0])


def _scaled(problem, w: np.ndarray):
    """The centred problem with column ``j`` multiplied by ``w[j]``."""
    mu, ym, G, Dy, m, yy = problem
    return mu * w, ym, G * np.outer(w, w), Dy * w, m, yy


def proxy_supports(spectrum: SparseSpectrum, limit: int) -> np.ndarray:
    """The ``limit`` Möbius supports of order >= 2 of ``spectrum`` with the largest ``|coef|``.

    A Fourier term on ``T`` is a sum of Möbius terms on the subsets of ``T``; offering those as
    columns lets the L1 fit keep the AND terms the proxy found without its parity structure.
    """
    moebius = spectrum.to_moebius()
    keep = degrees(moebius.supports) >= 2
    sup, coefs = moebius.supports[keep], moebius.coefs[keep]
    order = np.argsort(-np.abs(coefs), kind="stable")[:limit]
    return sup[order]


def sequence_supports(n: int, window: int = SEQUENCE_WINDOW) -> np.ndarray:
    """Every set of 3 to ``window`` players within ``window`` consecutive ones, tightest first.

    For players in reading order (words, tokens, sentences), where what matters together is
    mostly near: ``(i, i+1, i+2)`` for every ``i``, then the sets spanning 4 players (the run
    ``(i, .., i+3)`` before the gapped triples), and so on, each span in order of ``i``. Pairs
    are not included (the sparse fit has them as columns already). Offered before the proxy's
    supports, a column cap cuts the widest spans first, at every position alike.

    Returns:
        ``(p, max(window, 3))`` int64 supports padded with ``PAD`` (no rows when ``n < 3``).
    """
    window = int(window)
    rows = []
    for span in range(3, min(window, n) + 1):
        inner = span - 2  # players strictly between the two ends
        for size in range(span, 2, -1):  # the full run first, then sets with gaps
            for middle in combinations(range(1, inner + 1), size - 2):
                for i in range(n - span + 1):
                    rows.append((i, *(i + k for k in middle), i + span - 1))
    out = np.full((len(rows), max(window, 3)), PAD, dtype=np.int64)
    for r, support in enumerate(rows):
        out[r, : len(support)] = support
    return out


def _alpha_grid(D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Geometric penalties from the one that zeroes every column down to 1e-3 of it."""
    top = float(np.max(np.abs((D - D.mean(axis=0)).T @ (y - y.mean())))) / D.shape[0]
    top = top if top > 0 else 1.0
    return np.geomspace(top, top * 1e-3, _N_ALPHAS)


def _gram(D: np.ndarray) -> np.ndarray:
    """``D^T D`` of 0/1 columns: integer counts, exact in float32 below 2^24 rows (2x faster)."""
    if D.shape[0] < 2**24:
        D32 = D.astype(np.float32)
        return (D32.T @ D32).astype(np.float64)
    return D.T @ D


class _RawGram:
    """``D^T D``, ``D^T y`` and sums once; each fold's centred Gram by subtracting its rows.

    Computing the Gram matrix once and removing a fold's ``D_f^T D_f`` costs ``1/K`` of a
    fresh product per fold (the products dominate the whole fit at 4,000 rows).
    """

    def __init__(self, D: np.ndarray, y: np.ndarray) -> None:
        self.D, self.y = D, y
        self.G = _gram(D)
        self.Dy = D.T @ y
        self.s = D.sum(axis=0)
        self.sy = float(y.sum())
        self.yy = float(y @ y)

    def without(self, rows: np.ndarray | None):
        """``(mu, ym, G_c, Dy_c, m, yy_c)`` of the centred problem without ``rows`` (None: all)."""
        G, Dy, s, sy, yy, m = self.G, self.Dy, self.s, self.sy, self.yy, self.D.shape[0]
        if rows is not None:
            Df, yf = self.D[rows], self.y[rows]
            G = G - _gram(Df)
            Dy = Dy - Df.T @ yf
            s = s - Df.sum(axis=0)
            sy = sy - float(yf.sum())
            yy = yy - float(yf @ yf)
            m = m - int(rows.sum())
        mu, ym = s / m, sy / m
        Gc = G - m * np.outer(mu, mu)
        Dyc = Dy - m * mu * ym
        return mu, ym, Gc, Dyc, m, max(yy - m * ym * ym, 0.0)


def _lasso(G, Dy, m: int, yy: float, alphas, lasso_path, coef_init=None) -> np.ndarray:
    """``(p, a)`` L1 path from the centred Gram matrix alone (scikit-learn's Gram solver).

    With ``precompute`` and ``Xy`` given, ``lasso_path`` reads ``X`` only for its shape and
    ``y`` only for ``y @ y`` (the duality-gap scale): a zero-strided ``X`` and a ``y`` holding
    the centred norm cost no memory.
    """
    shape_only = np.lib.stride_tricks.as_strided(np.zeros(1), (m, G.shape[0]), (0, 0))
    norm_only = np.zeros(m)
    norm_only[0] = np.sqrt(yy)
    _, coefs, _ = lasso_path(
        shape_only,
        norm_only,
        alphas=alphas,
        precompute=G,
        Xy=Dy,
        coef_init=coef_init,
        tol=_TOL,
        max_iter=_MAX_ITER,
        check_input=False,
    )
    return coefs


def _least_squares_on(G, Dy, active: np.ndarray) -> np.ndarray:
    """Least squares on the ``active`` columns from the Gram matrix (a tiny jitter for ties)."""
    beta = np.zeros(G.shape[0])
    if not active.any():
        return beta
    sub = G[np.ix_(active, active)]
    jitter = 1e-12 * np.maximum(np.diag(sub), 1e-300)  # relative per column: scale-free
    try:
        factor = sla.cho_factor(sub + np.diag(jitter), check_finite=False)
        beta[active] = sla.cho_solve(factor, Dy[active], check_finite=False)
    except np.linalg.LinAlgError:
        beta[active] = np.linalg.lstsq(sub, Dy[active], rcond=None)[0]
    return beta


def _path_predictions(problem, D_test, alphas, lasso_path, coef_init=None):
    """``(2, t, a)`` predictions on ``D_test`` along the path of a centred ``problem``.

    ``[0]``: the L1 fits; ``[1]``: least squares refitted on each fit's support (the relaxed
    fits, exact on a noiseless sparse game; shrinkage wins on noisy ones: CV decides).

    Returns:
        ``(predictions, coefficients at the last penalty)``: the latter warm-starts a path
        continued at smaller penalties (``coef_init``).
    """
    mu, ym, G, Dy, rows, yy = problem
    coefs = _lasso(G, Dy, rows, yy, alphas, lasso_path, coef_init)
    relaxed = np.empty_like(coefs)
    previous, last = None, None
    for a in range(coefs.shape[1]):
        active = coefs[:, a] != 0
        if active.sum() >= rows - 1:  # not determined: keep the L1 fit
            relaxed[:, a] = coefs[:, a]
            continue
        if previous is not None and np.array_equal(active, previous):
            relaxed[:, a] = last  # same support, same least-squares fit
            continue
        last = _least_squares_on(G, Dy, active)
        previous = active
        relaxed[:, a] = last
    Tc = D_test - mu
    return ym + np.stack([Tc @ coefs, Tc @ relaxed]), coefs[:, -1].copy()


def _fit_at(problem, alpha, relaxed: bool, lasso_path) -> tuple[float, np.ndarray]:
    mu, ym, G, Dy, rows, yy = problem
    beta = _lasso(G, Dy, rows, yy, np.array([alpha]), lasso_path)[:, 0]
    if relaxed and (beta != 0).sum() < rows - 1:
        beta = _least_squares_on(G, Dy, beta != 0)
    return float(ym - mu @ beta), beta
