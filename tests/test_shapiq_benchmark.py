"""shapiq-spex in shapiq's benchmark suite: our setups, exact ground truth, our approximators."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import shapiq
from shapiq_benchmark import Benchmark, compare, faithfulness, faithfulness_sample, run
from shapiq_benchmark.runner import build_approximator
from shapiq_benchmark.setups import SETUPS, setup_from_dict

from shapiq_spex.approximators.hybrid import HybridSPEX
from shapiq_spex.approximators.proxyspex import ProxySPEX
from shapiq_spex.approximators.spex import SPEX
from shapiq_spex.benchmark_setups import (
    DEFAULT_REVIEW,
    HierarchicalMoebiusSetup,
    MiniLMSentimentSetup,
    SparseFourierSetup,
    approximators,
)
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games.synthetic import SparseFourierGame, SparseMoebiusGame
from shapiq_spex.spectra.indices import to_interaction_values

NAMES = {
    "spex_sparse_fourier": SparseFourierSetup,
    "spex_hierarchical_moebius": HierarchicalMoebiusSetup,
    "spex_minilm_sentiment": MiniLMSentimentSetup,
}


def test_setups_are_registered_and_round_trip():
    for name, cls in NAMES.items():
        assert SETUPS[name] is cls
    setup = HierarchicalMoebiusSetup(n=64, n_terms=5, random_state=3)
    data = setup.to_dict()
    assert data["setup"] == "spex_hierarchical_moebius"
    assert setup_from_dict(json.loads(json.dumps(data))) == setup
    assert setup.key == HierarchicalMoebiusSetup(n=64, n_terms=5, random_state=3).key
    assert setup.key != HierarchicalMoebiusSetup(n=64, n_terms=5, random_state=4).key
    sentiment = MiniLMSentimentSetup(batch_size=8)
    assert sentiment.key == MiniLMSentimentSetup().key  # runtime fields are not in the key
    assert sentiment.text == DEFAULT_REVIEW


def test_setups_check_their_fields():
    with pytest.raises(TypeError):
        SparseFourierSetup(n="many")
    with pytest.raises(InvalidParameterError, match="n must be >= 1"):
        HierarchicalMoebiusSetup(n=0)
    with pytest.raises(ValueError, match="players"):
        MiniLMSentimentSetup(players="paragraph")


def test_reimporting_the_module_does_not_clash():
    import importlib

    import shapiq_spex.benchmark_setups as module

    saved = {name: SETUPS[name] for name in NAMES}
    try:
        importlib.reload(module)  # e.g. IPython's autoreload: must not raise "already registered"
        assert SETUPS["spex_sparse_fourier"] is module.SparseFourierSetup
        assert SETUPS["spex_sparse_fourier"] is not saved["spex_sparse_fourier"]
    finally:
        for cls in saved.values():  # the classes this file imported are the registered ones
            setattr(module, cls.__name__, cls)
        SETUPS.update(saved)


@pytest.mark.parametrize(
    ("setup", "game_cls"),
    [
        (SparseFourierSetup(n=300, n_terms=12, max_degree=3, random_state=1), SparseFourierGame),
        (
            HierarchicalMoebiusSetup(n=300, n_terms=6, max_degree=3, random_state=1),
            SparseMoebiusGame,
        ),
    ],
)
def test_synthetic_setups_get_exact_ground_truth_at_large_n(setup, game_cls):
    bench = Benchmark.from_setup(setup, cache=False)
    game = bench.game
    assert isinstance(game, game_cls)
    assert game.n_players == 300
    assert bench.computer_for("k-SII", 2).name == "moebius"  # no brute force at n = 300
    truth = bench.exact_values("k-SII", 2)
    ours = to_interaction_values(game.fourier_spectrum, "k-SII", 2)
    keys = (set(truth.interactions) | set(ours.interactions)) - {()}
    assert keys
    assert max(abs(truth[k] - ours[k]) for k in keys) < 1e-10


def test_ground_truth_is_cached_under_the_setup_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SHAPIQ_DATA_DIR", str(tmp_path))
    setup = HierarchicalMoebiusSetup(n=50, n_terms=4, max_degree=3)
    first = Benchmark.from_setup(setup).exact_values("FSII", 2)
    folder = tmp_path / "ground_truth" / "spex_hierarchical_moebius" / setup.key
    assert (folder / "moebius_FSII_2.json").is_file()
    assert json.loads((folder / "setup.json").read_text())["n"] == 50
    again = Benchmark.from_setup(setup).exact_values("FSII", 2)
    assert first.interactions.keys() == again.interactions.keys()


def test_build_approximator_accepts_ours():
    for cls in (SPEX, ProxySPEX, HybridSPEX):
        built = build_approximator(cls, n_players=30, index="FSII", order=2, random_state=4)
        assert type(built) is cls
        assert (built.n, built.max_order, built.index, built.random_state) == (30, 2, "FSII", 4)
        moebius = build_approximator(cls, n_players=30, index="Moebius", order=3, random_state=0)
        assert moebius is not None
        assert build_approximator(cls, n_players=30, index="CHII", order=2, random_state=0) is None


def test_run_scores_ours_next_to_shapiq_builtins():
    bench = Benchmark.from_setup(
        HierarchicalMoebiusSetup(n=60, n_terms=5, max_degree=3, random_state=2), cache=False
    )
    table = run(
        bench,
        {**approximators(suffix=" (ours)"), "KernelSHAPIQ": shapiq.KernelSHAPIQ},
        budgets=[1500],
        index="k-SII",
        order=2,
        seeds=[0],
        with_faithfulness=True,
    )
    rows = {row["approximator"]: row for row in table.to_dict("records")}
    assert set(rows) == {"SPEX (ours)", "ProxySPEX (ours)", "HybridSPEX (ours)", "KernelSHAPIQ"}
    assert all(row["status"] == "ok" for row in rows.values()), table[["approximator", "error"]]
    assert rows["SPEX (ours)"]["mse"] < 1e-12  # 35 noiseless terms: exact recovery
    assert rows["SPEX (ours)"]["precision_at_k"] == 1.0
    assert rows["HybridSPEX (ours)"]["mse"] < 1e-8
    assert rows["SPEX (ours)"]["mse"] < rows["KernelSHAPIQ"]["mse"]
    # faithfulness rebuilds the game from the order-2 k-SII values, which the exact values
    # cannot do perfectly either (the game has terms of order 3): ours must score like them
    truth = bench.exact_values("k-SII", 2)
    exact = faithfulness(bench.game, truth, sample=faithfulness_sample(bench.game, random_state=0))
    assert rows["SPEX (ours)"]["faithfulness"] == pytest.approx(exact, abs=1e-9)


def test_run_marks_an_index_we_do_not_have_unsupported():
    bench = Benchmark(SparseMoebiusGame(20, 3, 2, random_state=0))
    table = run(bench, approximators(), budgets=[400], index="SV", order=1, seeds=[0])
    assert set(table["status"]) == {"ok"}
    table = run(bench, {"SPEX": SPEX}, budgets=[400], index="k-SII", order=1, seeds=[0])
    assert set(table["status"]) == {"ok"}  # k-SII of order 1 is SV: shapiq scores it as such


@pytest.mark.llm
def test_minilm_sentiment_setup_with_brute_force_ground_truth():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    setup = MiniLMSentimentSetup(text="A gripping and funny film.", batch_size=64)
    bench = Benchmark.from_setup(setup, cache=False)
    game = bench.game
    assert game.players.names == ["A", "gripping", "and", "funny", "film", "."]
    assert bench.computer_for("k-SII", 2).name == "brute_force"
    table = run(
        bench,
        {"SPEX": SPEX, "ProxySPEX": ProxySPEX},
        budgets=[400],
        index="k-SII",
        order=2,
        seeds=[0],
    )
    assert set(table["status"]) == {"ok"}, table["error"].tolist()
    assert np.isfinite(table["mse"]).all()
    truth = bench.exact_values("k-SII", 2)
    zero = compare(truth, truth * 0.0, k=10)["mse"]  # the error of estimating nothing
    mse = table.set_index("approximator")["mse"]
    # 400 queries pay for all 2^6 = 64 coalitions: both take the exact path (Möbius transform of
    # the full table), so both match brute force up to round-off
    assert zero > 1e-6
    assert mse["ProxySPEX"] < 1e-20
    assert mse["SPEX"] < 1e-20
