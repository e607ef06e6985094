"""Batched BCH decoding against exhaustive coset-leader tables, galois, and brute force."""

from __future__ import annotations

import importlib
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shapiq_spex.codes.bch import BCHCode
from shapiq_spex.codes.decode import (
    DecodeResult,
    chase_candidates,
    chase_patterns,
    decode,
    syndromes,
)
from shapiq_spex.codes.gf2m import GF2m
from shapiq_spex.exceptions import InvalidParameterError

decode_module = importlib.import_module("shapiq_spex.codes.decode")


# ------------------------------------------------------------------------------------ oracles
def parity_matrix_by_division(code: BCHCode) -> np.ndarray:
    """``(p, n)``: column i = x^(p+i) mod g(x), by plain GF(2) long division on Python ints."""
    g = sum(1 << j for j, c in enumerate(code.generator_poly.tolist()) if c)
    p = code.p
    cols = []
    for i in range(code.n):
        v = 1 << (p + i)
        while v.bit_length() - 1 >= p:
            v ^= g << (v.bit_length() - 1 - p)
        cols.append([(v >> r) & 1 for r in range(p)])
    return np.array(cols, dtype=bool).T


def position_columns(code: BCHCode) -> np.ndarray:
    """``(p + n, p)``: the parity word produced by a single error at each codeword position."""
    return np.concatenate([np.eye(code.p, dtype=bool), parity_matrix_by_division(code).T])


def to_int(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.int64) << np.arange(bits.shape[-1])).sum(axis=-1)


def decoded_positions(code: BCHCode, res: DecodeResult, w: int) -> list[int]:
    par = res.parity_errors[w]
    msg = res.message_errors[w]
    return sorted([*par[par >= 0].tolist(), *(msg[msg >= 0] + code.p).tolist()])


def random_patterns(rng, code: BCHCode, n_words: int, weight=None):
    """Random error patterns: ``(sup (W, t+1) message players padded -1, flips (W, p) bool)``."""
    n, p, t = code.n, code.p, code.t
    sup = np.full((n_words, t + 1), -1)
    flips = np.zeros((n_words, p), dtype=bool)
    for w in range(n_words):
        total = rng.integers(0, t + 1) if weight is None else weight
        pos = rng.choice(n + p, size=total, replace=False)
        msg = np.sort(pos[pos >= p] - p)
        sup[w, : msg.size] = msg
        flips[w, pos[pos < p]] = True
    return sup, flips


def assert_consistent(code: BCHCode, bits: np.ndarray, res: DecodeResult):
    """Successes: weight <= t and [bits + parity errors | message errors] is a codeword.

    Failures: no positions at all and n_errors == -1.
    """
    ok = res.success
    assert np.all(res.n_errors[~ok] == -1)
    assert np.all(res.message_errors[~ok] == -1)
    assert np.all(res.parity_errors[~ok] == -1)
    counts = (res.message_errors >= 0).sum(axis=1) + (res.parity_errors >= 0).sum(axis=1)
    assert np.array_equal(counts[ok], res.n_errors[ok])
    assert np.all(res.n_errors[ok] <= code.t)
    corrected = bits[ok].copy()
    r, c = np.nonzero(res.parity_errors[ok] >= 0)
    corrected[r, res.parity_errors[ok][r, c]] ^= True
    P = parity_matrix_by_division(code)
    msgs = np.zeros((int(ok.sum()), code.n), dtype=bool)
    r, c = np.nonzero(res.message_errors[ok] >= 0)
    msgs[r, res.message_errors[ok][r, c]] = True
    assert np.array_equal(corrected, (msgs.astype(int) @ P.T.astype(int)) % 2 == 1)


# ------------------------------------------------------------------------------------ exhaustive
@pytest.mark.parametrize(
    ("n", "t"),
    [(10, 2), (20, 3), (600, 1), (300, 2), (8, 4)],
)
def test_every_received_word_is_decoded_exactly_as_the_coset_leader(n, t):
    code = BCHCode.for_messages(n, t)
    p, N = code.p, code.length
    assert p <= 20  # m = 5, 6, 10, 9, 5: exact Chien tables for m <= 8, folded for m = 9, 10
    # all error patterns of weight <= t over the n + p valid positions, keyed by parity word
    col_keys = to_int(position_columns(code))
    leader = np.full(1 << p, -1, dtype=np.int64)
    patterns: list[tuple[int, ...]] = []
    leader[0] = 0  # weight 0: the all-zero parity word
    patterns.append(())
    for w in range(1, t + 1):
        combos = np.array(list(combinations(range(N), w)), dtype=np.int64).reshape(-1, w)
        keys = np.bitwise_xor.reduce(col_keys[combos], axis=1)
        assert np.all(leader[keys] == -1)  # distinct syndromes: min distance >= 2t + 1
        assert np.unique(keys).size == keys.size
        leader[keys] = np.arange(len(patterns), len(patterns) + keys.size)
        patterns.extend(map(tuple, combos.tolist()))
    words = ((np.arange(1 << p)[:, None] >> np.arange(p)) & 1).astype(bool)
    res = decode(code, words)
    assert np.array_equal(res.success, leader >= 0)
    assert_consistent(code, words, res)
    for w in np.nonzero(res.success)[0][:: max(1, res.success.sum() // 3000)]:
        assert decoded_positions(code, res, w) == list(patterns[leader[w]])
    # all successes, vectorised: the decoded pattern re-encodes to the received word
    ok = np.nonzero(res.success)[0]
    both = np.concatenate(
        [
            res.parity_errors[ok],
            np.where(res.message_errors[ok] >= 0, res.message_errors[ok] + p, -1),
        ],
        1,
    )
    keys = np.bitwise_xor.reduce(np.where(both >= 0, col_keys[np.maximum(both, 0)], 0), axis=1)
    assert np.array_equal(keys, ok)


# ------------------------------------------------------------------------------------ random
@pytest.mark.parametrize(("n", "t"), [(1000, 5), (128, 5), (4000, 8), (1992, 6)])
def test_random_patterns_up_to_t_decode_exactly(n, t):
    rng = np.random.default_rng(n + t)
    code = BCHCode.for_messages(n, t)
    sup, flips = random_patterns(rng, code, 1500)
    bits = code.parity_of_supports(sup) ^ flips
    res = decode(code, bits)
    assert res.success.all()
    assert np.array_equal(res.message_errors, sup[:, :t])
    expected_par = np.full((bits.shape[0], t), -1)
    r, c = np.nonzero(flips)
    rank = np.arange(r.size) - np.searchsorted(r, r)
    expected_par[r, rank] = c
    assert np.array_equal(res.parity_errors, expected_par)
    assert np.array_equal(res.n_errors, (sup >= 0).sum(1) + flips.sum(1))


@pytest.mark.parametrize(("n", "t"), [(1000, 5), (128, 3), (40, 2), (3000, 4)])
def test_beyond_t_never_claims_an_inconsistent_success(n, t):
    rng = np.random.default_rng(7 * n + t)
    code = BCHCode.for_messages(n, t)
    sup, flips = random_patterns(rng, code, 2000, weight=t + 1)
    bits = code.parity_of_supports(sup) ^ flips
    noise = rng.random((2000, code.p)) < 0.5
    for words in (bits, noise):
        res = decode(code, words)
        assert_consistent(code, words, res)
        assert res.success.mean() < 0.5  # most words at distance > t are detected


def test_zero_word_is_the_empty_frequency():
    code = BCHCode.for_messages(50, 3)
    res = decode(code, np.zeros((2, code.p), dtype=bool))
    assert res.success.all()
    assert np.all(res.n_errors == 0)
    assert np.all(res.message_errors == -1)
    assert np.all(res.parity_errors == -1)


def test_chunking_does_not_change_results(monkeypatch):
    rng = np.random.default_rng(3)
    code = BCHCode.for_messages(500, 4)
    sup, flips = random_patterns(rng, code, 700)
    bits = code.parity_of_supports(sup) ^ flips
    bits[::3] = rng.random((len(bits[::3]), code.p)) < 0.5
    whole = decode(code, bits)
    monkeypatch.setattr(decode_module, "_CHUNK_BYTES", 1)  # 64 words per chunk
    chunked = decode(code, bits)
    for name in ("message_errors", "parity_errors", "n_errors", "success"):
        assert np.array_equal(getattr(whole, name), getattr(chunked, name))
    assert len(whole) == 700


def test_result_shapes_and_empty_batch():
    code = BCHCode.for_messages(30, 3)
    res = decode(code, np.zeros((0, code.p), dtype=bool))
    assert res.message_errors.shape == (0, 3)
    assert res.success.shape == (0,)
    res = decode(code, np.zeros((4, code.p), dtype=np.uint8))
    assert res.message_errors.dtype == np.int64
    assert res.n_errors.dtype == np.int64
    assert res.success.dtype == bool


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_property_random_messages_with_noise_are_recovered(data):
    n = data.draw(st.integers(1, 700), label="n")
    t = data.draw(st.integers(1, 6), label="t")
    code = BCHCode.for_messages(n, t)
    w = data.draw(st.integers(0, min(t, n)), label="weight")
    players = data.draw(st.lists(st.integers(0, n - 1), min_size=w, max_size=w, unique=True))
    f = data.draw(st.integers(0, t - w), label="flips")
    flips = data.draw(st.lists(st.integers(0, code.p - 1), min_size=f, max_size=f, unique=True))
    k = np.zeros((1, n), dtype=bool)
    k[0, players] = True
    bits = code.encode_parity(k)
    bits[0, flips] ^= True
    res = decode(code, bits)
    assert res.success[0]
    msg = res.message_errors[0]
    par = res.parity_errors[0]
    assert msg[msg >= 0].tolist() == sorted(players)
    assert par[par >= 0].tolist() == sorted(flips)
    assert res.n_errors[0] == w + f


@pytest.mark.slow
def test_agrees_with_galois_decoder():
    galois = pytest.importorskip("galois")
    rng = np.random.default_rng(11)
    code = BCHCode.for_messages(200, 5)  # m = 8, shared with the other galois tests
    ref = galois.BCH(code.n_c, d=2 * code.t + 1)
    sup_ok, fl_ok = random_patterns(rng, code, 15)
    sup_bad, fl_bad = random_patterns(rng, code, 15, weight=code.t + 1)
    bits = np.concatenate(
        [code.parity_of_supports(sup_ok) ^ fl_ok, code.parity_of_supports(sup_bad) ^ fl_bad]
    )
    res = decode(code, bits)
    # galois: shortened systematic vector [message | parity], descending degree
    vec = np.concatenate([np.zeros((len(bits), code.n), dtype=int), bits[:, ::-1]], axis=1)
    msg, n_err = ref.decode(galois.GF2(vec), errors=True)
    ref_k = np.asarray(msg)[:, ::-1].astype(bool)
    ref_ok = np.asarray(n_err) >= 0
    assert res.success[:15].all()
    assert ref_ok[:15].all()
    ours_k = np.zeros_like(ref_k)
    r, c = np.nonzero(res.message_errors >= 0)
    ours_k[r, res.message_errors[r, c]] = True
    assert np.array_equal(ours_k[res.success], ref_k[res.success])
    assert np.all(ref_ok[res.success])  # our successes are unique <= t patterns: galois finds them
    assert np.array_equal(res.n_errors[res.success], np.asarray(n_err)[res.success])


# ------------------------------------------------------------------------------------ syndromes
def test_syndromes_are_power_sums_of_the_error_locators():
    rng = np.random.default_rng(5)
    code = BCHCode.for_messages(150, 4)
    F = GF2m(code.m)
    sup, flips = random_patterns(rng, code, 30)
    bits = code.parity_of_supports(sup) ^ flips
    S = syndromes(code, bits)
    assert S.shape == (30, 2 * code.t)
    j = np.arange(1, 2 * code.t + 1)
    for w in range(30):
        # r = c + e with c a codeword, so S_j = e(alpha^j) = sum over error positions of alpha^(ij)
        positions = [*np.nonzero(flips[w])[0], *(sup[w][sup[w] >= 0] + code.p)]
        expected = np.zeros(j.size, dtype=np.int64)
        for i in positions:
            expected ^= F.alpha_pow(i * j)
        assert np.array_equal(S[w], expected)
        assert np.array_equal(S[w, 1::2], F.mul(S[w, : code.t], S[w, : code.t]))  # S_2j = S_j^2


# ------------------------------------------------------------------------------------ Chase
def chase_oracle(bits, rel, depth, max_flips):
    out, idx = [], []
    limit = depth if max_flips is None else min(max_flips, depth)
    for w in range(bits.shape[0]):
        weakest = sorted(range(bits.shape[1]), key=lambda i: (rel[w, i], i))[:depth]
        for r in range(limit + 1):
            for combo in combinations(range(depth), r):
                cand = bits[w].copy()
                cand[[weakest[c] for c in combo]] ^= True
                out.append(cand)
                idx.append(w)
    return np.array(out).reshape(-1, bits.shape[1]), np.array(idx)


@pytest.mark.parametrize(
    ("depth", "max_flips"), [(0, None), (1, None), (3, None), (5, 2), (4, 0), (6, 9), (4, 4)]
)
def test_chase_candidates_match_itertools_enumeration(depth, max_flips):
    rng = np.random.default_rng(depth * 10 + (max_flips or 0))
    bits = rng.random((7, 12)) < 0.5
    rel = np.round(rng.random((7, 12)), 1)  # ties included
    cand, idx = chase_candidates(bits, rel, depth, max_flips)
    exp_cand, exp_idx = chase_oracle(bits, rel, depth, max_flips)
    assert np.array_equal(cand, exp_cand)
    assert np.array_equal(idx, exp_idx)
    K = cand.shape[0] // 7
    assert np.array_equal(cand[::K], bits)  # pattern 0 = no flips


def test_chase_patterns_counts_and_order():
    pats = chase_patterns(4, 2)
    assert pats.shape == (1 + 4 + 6, 4)
    assert not pats[0].any()
    assert [tuple(np.nonzero(r)[0]) for r in pats[5:]] == list(combinations(range(4), 2))
    assert chase_patterns(5).shape == (32, 5)
    assert len({tuple(r) for r in chase_patterns(5)}) == 32


def test_chase_then_decode_recovers_beyond_t():
    # t + 1 errors where the extra one is the least reliable parity bit: hard decoding cannot
    # recover k, one Chase candidate can.
    rng = np.random.default_rng(2)
    code = BCHCode.for_messages(300, 3)
    k = np.array([[10, 20, 30]])
    bits = code.parity_of_supports(k)
    rel = rng.random((1, code.p)) + 1.0
    bits[0, 7] ^= True
    rel[0, 7] = 0.01
    hard = decode(code, bits)
    assert not (hard.success[0] and hard.message_errors[0].tolist() == [10, 20, 30])
    cand, idx = chase_candidates(bits, rel, depth=3, max_flips=1)
    res = decode(code, cand)
    hits = [
        w
        for w in range(len(idx))
        if res.success[w] and res.message_errors[w].tolist() == [10, 20, 30]
    ]
    assert hits
    assert np.all(idx[hits] == 0)


# ------------------------------------------------------------------------------------ errors
def test_bad_decode_inputs_raise():
    code = BCHCode.for_messages(64, 3)
    p = code.p
    with pytest.raises(InvalidParameterError, match=rf"\(n_words, {p}\)"):
        decode(code, np.zeros((3, p + 1), dtype=bool))
    with pytest.raises(InvalidParameterError, match=rf"\(n_words, {p}\)"):
        decode(code, np.zeros(p, dtype=bool))
    with pytest.raises(InvalidParameterError, match="0/1"):
        decode(code, np.full((1, p), 2))
    with pytest.raises(InvalidParameterError, match="0/1"):
        decode(code, np.full((1, p), 0.5))
    with pytest.raises(InvalidParameterError, match="BCHCode"):
        decode("code", np.zeros((1, p), dtype=bool))


def test_bad_chase_inputs_raise():
    bits = np.zeros((2, 10), dtype=bool)
    rel = np.ones((2, 10))
    with pytest.raises(InvalidParameterError, match="same shape"):
        chase_candidates(bits, rel[:, :9], 2)
    with pytest.raises(InvalidParameterError, match="'depth'"):
        chase_candidates(bits, rel, 11)
    with pytest.raises(InvalidParameterError, match="'depth'"):
        chase_candidates(bits, rel, -1)
    with pytest.raises(InvalidParameterError, match="'max_flips'"):
        chase_candidates(bits, rel, 3, -2)
    with pytest.raises(InvalidParameterError, match="NaN"):
        chase_candidates(bits, np.full((2, 10), np.nan), 2)
    with pytest.raises(InvalidParameterError, match="Lower 'depth'"):
        chase_patterns(40)
