from __future__ import annotations

import itertools
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games.synthetic import SparseMoebiusGame
from shapiq_spex.optimize.heads import LayerProfile, heads_to_prune, layer_profile
from shapiq_spex.optimize.pruning import pruning_experiment
from shapiq_spex.spectra import SparseSpectrum
from shapiq_spex.spectra.indices import to_interaction_values

# ---------------------------------------------------------------------------------- layer profile
# 6 players: layer 0 = players 0, 1; layer 1 = players 2, 3; layer 2 = player 4; layer 3 = 5.
HEADS = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [3, 0]])
TERMS = {
    (): 5.0,  # the constant carries no energy
    (0,): 1.0,
    (1,): 2.0,  # layer 0 first-order: 1 + 4 = 5
    (2,): 3.0,  # layer 1 first-order: 9
    (4,): 0.5,  # layer 2 first-order: 0.25
    (0, 1): 1.0,  # layer 0 intra: 1
    (2, 3): 2.0,  # layer 1 intra: 4
    (1, 2): 2.0,  # cross: 4, split 2 / 2 to layers 0 and 1
    (0, 2, 4): 3.0,  # cross: 9, split 3 / 3 / 3 to layers 0, 1 and 2
}
EXPECTED = {
    "first_order": [5.0, 9.0, 0.25, 0.0],
    "intra": [1.0, 4.0, 0.0, 0.0],
    "cross": [5.0, 5.0, 3.0, 0.0],
}


def test_layer_profile_hand_built():
    profile = layer_profile(SparseSpectrum.from_dict(6, TERMS), HEADS)
    assert isinstance(profile, LayerProfile)
    assert profile.layers.tolist() == [0, 1, 2, 3]
    assert profile.n_heads.tolist() == [2, 2, 1, 1]
    for field, expected in EXPECTED.items():
        np.testing.assert_allclose(getattr(profile, field), expected, atol=1e-12)
    assert profile.total == pytest.approx(32.25)
    np.testing.assert_allclose(profile.energy, [11.0, 18.0, 3.25, 0.0])
    np.testing.assert_allclose(profile.linear_share[:3], [5 / 11, 0.5, 0.25 / 3.25])
    assert np.isnan(profile.linear_share[3])  # a layer without energy has no share
    np.testing.assert_allclose(profile.energy_share, [11 / 32.25, 18 / 32.25, 3.25 / 32.25, 0])
    table = profile.to_markdown(digits=3)
    assert "| 1 | 2 | 0.279 | 0.124 | 0.155 | 0.558 | 0.500 |" in table
    assert "| 3 | 1 | 0.000 | 0.000 | 0.000 | 0.000 | nan |" in table


@pytest.mark.parametrize("basis", ["fourier", "moebius"])
@pytest.mark.parametrize("seed", [0, 1])
def test_layer_profile_invariant_to_basis_player_order_and_layer_ids(basis, seed):
    """Relabelling players (with their heads) and layers, or going Möbius, changes nothing."""
    spectrum = SparseSpectrum.from_dict(6, TERMS)
    perm = np.random.default_rng(seed).permutation(6)  # new index of old player i is perm[i]
    terms = {tuple(int(perm[p]) for p in key): c for key, c in TERMS.items()}
    moved = SparseSpectrum.from_dict(6, terms).to_basis(basis)
    heads = np.empty_like(HEADS)
    heads[perm] = HEADS
    heads[:, 0] = heads[:, 0] * 10 + 7  # layer ids need not be 0..L-1
    base, profile = layer_profile(spectrum, HEADS), layer_profile(moved, heads)
    assert profile.layers.tolist() == [7, 17, 27, 37]
    for field in ("first_order", "intra", "cross"):
        np.testing.assert_allclose(getattr(profile, field), getattr(base, field), atol=1e-10)
    assert profile.total == pytest.approx(base.total)


def test_layer_profile_matches_brute_force_on_random_spectrum():
    game = SparseMoebiusGame(9, 12, 3, hierarchical=True, random_state=3)
    heads = np.array([[i // 3, i % 3] for i in range(9)])
    profile = layer_profile(game.spectrum, heads)
    fourier = game.spectrum.to_fourier().to_dict()
    first, intra, cross = np.zeros(3), np.zeros(3), np.zeros(3)
    for key, coef in fourier.items():
        layers = {int(heads[p, 0]) for p in key}
        for layer in layers:
            if len(key) == 1:
                first[layer] += coef**2
            elif len(layers) == 1:
                intra[layer] += coef**2
            elif key:
                cross[layer] += coef**2 / len(layers)
    np.testing.assert_allclose(profile.first_order, first, atol=1e-12)
    np.testing.assert_allclose(profile.intra, intra, atol=1e-12)
    np.testing.assert_allclose(profile.cross, cross, atol=1e-12)
    # Parseval: the total is the variance over uniformly random coalitions
    x = np.array(list(itertools.product([False, True], repeat=9)))
    assert profile.total == pytest.approx(np.var(game.spectrum.evaluate(x)), rel=1e-10)


@pytest.mark.parametrize(
    ("heads", "match"),
    [
        (HEADS[:5], "6 players"),
        (HEADS[:, :1], r"\(n_players, 2\)"),
        (HEADS.astype(float), r"\(n_players, 2\)"),
        (-HEADS, "negative"),
    ],
)
def test_layer_profile_bad_heads(heads, match):
    with pytest.raises(InvalidParameterError, match=match):
        layer_profile(SparseSpectrum.from_dict(6, TERMS), heads)


def test_layer_profile_needs_a_spectrum():
    with pytest.raises(InvalidParameterError, match="'spectrum'"):
        layer_profile({(0,): 1.0}, HEADS)


# ---------------------------------------------------------------------------------- choosing
def brute_best_removal(spectrum: SparseSpectrum, k: int) -> float:
    """Largest surrogate value after removing exactly k players (all k-sets)."""
    n = spectrum.n
    sets = list(itertools.combinations(range(n), k))
    x = np.ones((len(sets), n), dtype=bool)
    for row, players in enumerate(sets):
        x[row, list(players)] = False
    return float(spectrum.evaluate(x).max())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [0, 1, 3, 5, 8])
def test_heads_to_prune_by_interactions_equals_brute_force(seed, k):
    spectrum = SparseMoebiusGame(8, 10, 3, hierarchical=True, random_state=seed).spectrum
    chosen = heads_to_prune(spectrum, k, by="interactions")
    assert len(chosen) == k
    assert list(chosen) == sorted(set(chosen))
    x = np.ones(8, dtype=bool)
    x[list(chosen)] = False
    assert spectrum.evaluate(x)[0] == pytest.approx(brute_best_removal(spectrum, k), abs=1e-9)
    # a Fourier spectrum of the same function gives an equally good set
    fourier = heads_to_prune(spectrum.to_fourier(), k, by="interactions")
    y = np.ones(8, dtype=bool)
    y[list(fourier)] = False
    assert spectrum.evaluate(y)[0] == pytest.approx(brute_best_removal(spectrum, k), abs=1e-9)


@pytest.mark.parametrize("k", [0, 1, 4, 7])
def test_heads_to_prune_by_marginal_equals_sorting(k):
    phi = np.random.default_rng(k).normal(size=7)
    chosen = heads_to_prune(phi, k, by="marginal")
    assert chosen == tuple(sorted(np.argsort(phi)[:k].tolist()))


def test_heads_to_prune_marginal_reads_interaction_values():
    spectrum = SparseMoebiusGame(8, 10, 3, hierarchical=True, random_state=4).spectrum
    banzhaf = to_interaction_values(spectrum, "BV", 1)
    phi = -2.0 * np.array([spectrum.to_fourier()[(i,)] for i in range(8)])  # BV_i = -2 F[{i}]
    for k in range(9):
        assert heads_to_prune(banzhaf, k, by="marginal") == tuple(
            sorted(np.argsort(phi, kind="stable")[:k].tolist())
        )


def test_heads_to_prune_errors():
    spectrum = SparseSpectrum.from_dict(4, {(0,): 1.0, (1, 2): -1.0}, "moebius")
    with pytest.raises(InvalidParameterError, match="'by'"):
        heads_to_prune(spectrum, 1, by="shapley")
    with pytest.raises(InvalidParameterError, match="by='marginal'"):
        heads_to_prune(np.ones(4), 1, by="interactions")
    with pytest.raises(InvalidParameterError, match="by='interactions'"):
        heads_to_prune(spectrum, 1, by="marginal")
    with pytest.raises(InvalidParameterError, match="'k'"):
        heads_to_prune(spectrum, 5, by="interactions")
    with pytest.raises(InvalidParameterError, match="'k'"):
        heads_to_prune(np.ones(4), -1, by="marginal")
    with pytest.raises(InvalidParameterError, match="NaN"):
        heads_to_prune(np.array([1.0, np.nan]), 1, by="marginal")


# ---------------------------------------------------------------------------------- end to end
@pytest.mark.llm
def test_end_to_end_on_tiny_bert_heads():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from shapiq_spex import AttentionHeadGame, ProxySPEX
    from shapiq_spex.games.attention import find_attention_outputs
    from shapiq_spex.models.tiny import tiny_bert_classifier, word_level_tokenizer

    torch.set_num_threads(1)
    explain = ["the acting is great", "a boring mess", "I loved it , really"]
    held_out = ["great acting", "boring , really boring", "I loved the mess", "a great mess"]
    tok = word_level_tokenizer(explain + held_out, style="bert")
    model = tiny_bert_classifier(tok, num_labels=2, layers=2, heads=4, seed=1)
    with torch.no_grad():  # a random tiny model barely uses its heads; make them matter
        for _, module in find_attention_outputs(model):
            module.weight.mul_(20)
    game = AttentionHeadGame(model, tok, explain, labels=[1, 0, 1], metric="log_prob")
    eval_game = AttentionHeadGame(model, tok, held_out, labels=[1, 0, 1, 0], metric="log_prob")
    assert game.n_players == eval_game.n_players == 8

    approx = ProxySPEX(8, max_order=2, index="FBII", random_state=0)
    approx.approximate(120, game)
    spectrum = approx.spectrum_
    banzhaf = to_interaction_values(spectrum, "BV", 1)
    profile = layer_profile(spectrum, game.heads)
    assert profile.layers.tolist() == [0, 1]
    assert profile.energy.sum() == pytest.approx(profile.total)

    ks = [1, 2, 4]
    res = pruning_experiment(
        eval_game,
        {
            "interactions": lambda k: heads_to_prune(spectrum, k, by="interactions"),
            "marginal": lambda k: heads_to_prune(banzhaf, k, by="marginal"),
        },
        ks,
        n_random=3,
        random_state=0,
    )
    assert res.full_value == pytest.approx(eval_game.original_model_output, abs=1e-9)
    for c, name in enumerate(res.names):
        for j in range(len(ks)):
            x = np.ones((1, 8), dtype=bool)
            x[0, list(res.removed[name][j])] = False
            assert res.values[c, j] == pytest.approx(eval_game(x)[0], abs=1e-9)
    for i in range(3):
        for j, k in enumerate(ks):
            x = np.ones((1, 8), dtype=bool)
            x[0, res.random_orders[i, :k]] = False
            assert res.random_values[i, j] == pytest.approx(eval_game(x)[0], abs=1e-9)
    assert np.ptp(res.values) > 1e-6  # pruning changes the held-out metric
