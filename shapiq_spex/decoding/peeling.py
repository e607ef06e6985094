"""Vectorized singleton detection and peeling over all bins of all groups.

Each round examines every bin that changed since it was last looked at, all at once:

1. read the parity bits of the bin (sign of ``U[r] / U[0]``) and BCH-decode them in one batch;
2. (soft mode) for bins the hard decision did not explain, decode every Chase candidate
   (flips of the least reliable bits) in one batch and keep, per bin, the candidate that leaves the
   smallest residual energy after projecting the bin onto its signature;
3. accept a singleton only if the decode succeeded, the frequency hashes to this very bin, and the
   projection explains the bin (residual below ``singleton_cutoff`` of its energy, or within the
   noise level estimated from earlier singletons);
4. subtract every accepted frequency (its coefficient averaged over the bins that found it) from
   its bin in every group, and re-examine the bins that changed.

A failed decode is never read as the constant term: it simply leaves the bin unexplained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import chi2

from shapiq_spex.codes import chase_candidates, decode
from shapiq_spex.sampling.design import QueryDesign
from shapiq_spex.spectra._subsets import canonicalize

__all__ = ["PeelingResult", "peel"]

_NOISE_QUANTILE = 0.99
_RESID_QUANTILE = 0.25
_LEVELS = (0.05, 0.5)  # stages below the user's cutoff
_ENERGY_FLOOR = 1e-22  # relative to the mean bin energy: exact zeros up to rounding


@dataclass
class PeelingResult:
    """Frequencies recovered by peeling.

    Attributes:
        supports: ``(s, t)`` padded supports of the recovered frequencies.
        coefs: ``(s,)`` their peeled coefficients.
        noise_var: estimated noise variance of one bin measurement (NaN when unknown).
        residual_energy: energy left in the bins after peeling, per group ``(C,)``.
        stats: per-round counters (bins examined, hard/soft decodes, singletons).
    """

    supports: np.ndarray
    coefs: np.ndarray
    noise_var: float
    residual_energy: np.ndarray
    stats: dict = field(default_factory=dict)


def _signatures(design: QueryDesign, supports: np.ndarray) -> np.ndarray:
    """``(s, p + 1)`` ±1 signatures ``(-1)^{D k}`` (row 0 is the all-zero delay: +1)."""
    parity = design.code.parity_of_supports(supports)  # (s, p) bool
    sig = np.ones((supports.shape[0], design.n_delays))
    sig[:, 1:] = 1.0 - 2.0 * parity
    return sig


def _hash_in_group(design: QueryDesign, supports: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Bin ``M_cᵀ k`` of each frequency in its own group ``c = groups[i]``."""
    row_ints = design.row_ints
    valid = supports >= 0
    gathered = np.where(valid, row_ints[groups[:, None], np.where(valid, supports, 0)], 0)
    return (
        np.bitwise_xor.reduce(gathered, axis=1)
        if supports.shape[1]
        else np.zeros(supports.shape[0], dtype=np.int64)
    )


def _score(design, cols, groups, bins, supports, success):
    """Projection coefficient and residual energy of each candidate; invalid ones get inf."""
    sig = _signatures(design, supports)
    proj = np.einsum("wr,wr->w", sig, cols)
    energy = np.einsum("wr,wr->w", cols, cols)
    rho = proj / design.n_delays
    resid = np.maximum(energy - proj * rho, 0.0)
    valid = success & (_hash_in_group(design, supports, groups) == bins)
    return rho, np.where(valid, resid, np.inf)


def _detect(design, cols, groups, bins, *, soft, chase_depth, chase_max_flips, accept):
    """Best singleton hypothesis per bin: ``(supports, rho, resid, accepted, n_soft_words)``."""
    code = design.code
    bits = (cols[:, 1:] * cols[:, :1]) < 0
    dec = decode(code, bits)
    sup = dec.message_errors
    rho, resid = _score(design, cols, groups, bins, sup, dec.success)
    ok = accept(resid, cols)
    n_soft = 0
    if soft and not ok.all():
        redo = np.flatnonzero(~ok)
        cand_bits, word = chase_candidates(
            bits[redo], np.abs(cols[redo, 1:]), chase_depth, chase_max_flips
        )
        dec2 = decode(code, cand_bits)
        n_soft = cand_bits.shape[0]
        w_idx = redo[word]
        rho2, resid2 = _score(
            design, cols[w_idx], groups[w_idx], bins[w_idx], dec2.message_errors, dec2.success
        )
        k = cand_bits.shape[0] // max(redo.size, 1)
        best = np.argmin(resid2.reshape(redo.size, k), axis=1)
        pick = np.arange(redo.size) * k + best
        better = resid2[pick] < resid[redo]
        upd = redo[better]
        sup = sup.copy()
        width = max(sup.shape[1], dec2.message_errors.shape[1])
        if dec2.message_errors.shape[1] > sup.shape[1]:
            sup = np.pad(sup, ((0, 0), (0, width - sup.shape[1])), constant_values=-1)
        sup[upd, : dec2.message_errors.shape[1]] = dec2.message_errors[pick[better]]
        rho[upd] = rho2[pick[better]]
        resid[upd] = resid2[pick[better]]
        ok = accept(resid, cols)
    return sup, rho, resid, ok, n_soft


def peel(
    U: np.ndarray,
    design: QueryDesign,
    *,
    soft: bool = True,
    chase_depth: int | None = None,
    chase_max_flips: int | None = None,
    singleton_cutoff: float = 0.9,
    max_rounds: int = 256,
) -> PeelingResult:
    """Recover the frequencies in the bins ``U`` by repeated singleton detection and peeling.

    Args:
        U: ``(C, p + 1, 2^b)`` bin measurements (from ``bin_measurements``).
        design: the query design that produced them.
        soft: use Chase soft decoding for bins the hard decision does not explain.
        chase_depth: number of least reliable parity bits to flip (default ``min(t, p)``).
        chase_max_flips: most bits flipped at once (default: all ``2^depth`` patterns).
        singleton_cutoff: largest residual-to-energy ratio accepted for a singleton.
        max_rounds: cap on peeling rounds.

    Returns:
        A :class:`PeelingResult`.
    """
    U = np.array(U, dtype=np.float64, copy=True)
    n_groups, n_delays, n_bins = U.shape
    p = n_delays - 1
    depth = min(design.code.t, p) if chase_depth is None else min(chase_depth, p)
    energy = np.einsum("crj,crj->cj", U, U)
    floor = _ENERGY_FLOOR * max(float(energy.mean()), np.finfo(float).tiny)
    active = np.ones((n_groups, n_bins), dtype=bool)
    noise_var = np.nan
    accepted_resid: list[np.ndarray] = []
    found_sup: list[np.ndarray] = []
    found_coef: list[np.ndarray] = []
    stats = {"rounds": 0, "examined": [], "singletons": [], "hard_decodes": 0, "soft_decodes": 0}

    # Acceptance is staged: bins that look like clean singletons are peeled first; looser
    # hypotheses (a dominant term in a bin that still holds small ones) only when no clean one is
    # left. Peeling the clean ones first keeps coefficients exact and turns multitons into
    # singletons; the noise level is learned from the clean ones only.
    levels = sorted({min(level, singleton_cutoff) for level in _LEVELS} | {singleton_cutoff})

    def within_noise(resid: np.ndarray) -> np.ndarray:
        if not np.isfinite(noise_var):
            return np.zeros(resid.shape, dtype=bool)
        return resid <= noise_var * chi2.ppf(_NOISE_QUANTILE, p)

    def accept_at(level: float):
        def accept(resid: np.ndarray, cols: np.ndarray) -> np.ndarray:
            e = np.einsum("wr,wr->w", cols, cols)
            return ((resid <= level * e) | within_noise(resid)) & np.isfinite(resid)

        return accept

    for _ in range(max_rounds):
        energy = np.einsum("crj,crj->cj", U, U)
        threshold = floor
        if np.isfinite(noise_var):
            threshold = max(floor, noise_var * chi2.ppf(_NOISE_QUANTILE, n_delays))
        active &= energy > threshold
        if not active.any():
            break
        groups, bins = np.nonzero(active)
        cols = U[groups, :, bins]  # (W, p + 1)
        sup, rho, resid, _, n_soft = _detect(
            design,
            cols,
            groups,
            bins,
            soft=soft,
            chase_depth=depth,
            chase_max_flips=chase_max_flips,
            accept=accept_at(levels[0]),
        )
        stats["rounds"] += 1
        stats["examined"].append(int(groups.size))
        stats["hard_decodes"] += int(groups.size)
        stats["soft_decodes"] += int(n_soft)
        loosest = accept_at(levels[-1])(resid, cols)
        ok = loosest
        level_used = levels[-1]
        for level in levels:
            ok = accept_at(level)(resid, cols)
            if ok.any():
                level_used = level
                break
        # bins that no hypothesis explains wait until a peel touches them; bins that passed only
        # a looser level than the one used stay active for the next round
        active[groups[~loosest], bins[~loosest]] = False
        active[groups[ok], bins[ok]] = False
        if not ok.any():
            stats["singletons"].append(0)
            break
        if level_used == levels[0] and p > 0:
            # noise of one measurement: a low quantile of the clean singletons' residuals
            # (chi-square, p degrees of freedom), pooled over rounds
            accepted_resid.append(resid[ok])
            pooled = np.concatenate(accepted_resid)
            noise_var = float(np.quantile(pooled, _RESID_QUANTILE)) / chi2.ppf(_RESID_QUANTILE, p)
        uniq, inverse = np.unique(sup[ok], axis=0, return_inverse=True)
        inverse = inverse.ravel()
        counts = np.bincount(inverse, minlength=uniq.shape[0])
        coef = np.bincount(inverse, weights=rho[ok], minlength=uniq.shape[0]) / counts
        stats["singletons"].append(int(uniq.shape[0]))
        sig = _signatures(design, uniq)  # (s, p + 1)
        hit = design.bin_index(uniq)  # (C, s)
        delta = -(coef[:, None] * sig)  # (s, p + 1)
        for c in range(n_groups):  # C is small (about 3); the work inside is vectorized
            np.add.at(U[c].T, hit[c], delta)
            active[c, hit[c]] = True
        found_sup.append(uniq)
        found_coef.append(coef)

    width = max((s.shape[1] for s in found_sup), default=0)
    if found_sup:
        padded = [
            np.pad(s, ((0, 0), (0, width - s.shape[1])), constant_values=-1) for s in found_sup
        ]
        supports, coefs = canonicalize(np.concatenate(padded), np.concatenate(found_coef))
    else:
        supports, coefs = np.zeros((0, 0), dtype=np.int64), np.zeros(0)
    residual = np.einsum("crj->c", U * U)
    return PeelingResult(supports, coefs, float(noise_var), residual, stats)
