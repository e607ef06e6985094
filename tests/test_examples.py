"""The scripts in examples/ run in their fast mode and print what they promise."""

from __future__ import annotations

import math
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from shapiq_spex import integration

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_in_process(name: str, capsys, monkeypatch) -> str:
    """Run ``examples/<name>.py --fast`` as ``__main__`` here; return its stdout."""
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / f"{name}.py"), "--fast"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert f"example {name}: OK" in out
    return out


def test_every_example_has_a_test():
    tested = {"tabular_lightgbm", "sentiment_text", "llm_answer_attribution"}
    tested |= {"attention_heads", "data_attribution"}
    tested |= {"case_riddle", "case_digits", "case_attention_heads", "case_endpoint_riddle"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def test_tabular_lightgbm_in_a_fresh_process():
    """A fresh interpreter: `import shapiq_spex` comes before shapiq, as in user code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("SHAPIQ_SPEX_NO_REGISTER", None)
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "tabular_lightgbm.py"), "--fast"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert "routed to shapiq-spex: True; approximator: shapiq_spex.approximators.spex.SPEX" in lines
    assert "queries=400 of budget=400" in out.stdout
    assert "example tabular_lightgbm: OK" in lines
    top = lines[lines.index("top k-SII interactions:") + 1 :]
    assert sum(" x " in line for line in top[:8]) >= 1  # pairs are reported next to singles


@pytest.mark.llm
def test_sentiment_text(capsys, monkeypatch):
    pytest.importorskip("transformers")
    out = run_in_process("sentiment_text", capsys, monkeypatch)
    assert "13 word players" in out
    assert "SPEX: 364 model calls" in out  # min_budget 264 + 100: 50 held-out coalitions
    r2 = float(re.search(r"held-out R2 (\S+)", out).group(1))
    assert math.isfinite(r2)
    assert "strongest pair: 'not' x 'bad'" in out  # the negation is found as an interaction


@pytest.mark.llm
def test_llm_answer_attribution(capsys, monkeypatch):
    pytest.importorskip("transformers")
    out = run_in_process("llm_answer_attribution", capsys, monkeypatch)
    assert "10 sentence players" in out
    assert "ProxySPEX: 200 model calls" in out


@pytest.mark.llm
def test_attention_heads(capsys, monkeypatch):
    pytest.importorskip("transformers")
    out = run_in_process("attention_heads", capsys, monkeypatch)
    assert "8 heads (2 layers x 4)" in out
    assert "SPEX: 256 ablations" in out  # 300 >= 2^8: every coalition once, exact values


@pytest.mark.llm
def test_case_riddle(capsys, monkeypatch):
    pytest.importorskip("transformers")
    out = run_in_process("case_riddle", capsys, monkeypatch)
    rows = [line.split("'")[0].split() for line in out.splitlines() if line.startswith("  r=")]
    methods = ("interactions:", "Banzhaf:", "Shapley:")
    expected = [[f"r={r}", m, a] for a in ("remove", "replace") for r in (1, 2) for m in methods]
    assert rows == expected


@pytest.mark.llm
@pytest.mark.server
def test_case_endpoint_riddle(capsys, monkeypatch):
    """The case study through a llama.cpp server the script starts and stops itself."""
    pytest.importorskip("transformers")
    pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] is installed by make install")
    out = run_in_process("case_endpoint_riddle", capsys, monkeypatch)
    rows = [line.split("'")[0].split() for line in out.splitlines() if line.startswith("  r=")]
    methods = ("interactions:", "Banzhaf:", "Shapley:")
    removal = [[f"r={r}", m, "remove"] for r in (1, 2) for m in methods]
    assert rows[:6] == removal
    assert rows[6:] == [["r=1", m, "replace"] for m in methods]  # one word has a synonym
    assert "top Shapley:" in out


@pytest.mark.llm
def test_case_riddle_replaces_only_the_chosen_words():
    pytest.importorskip("transformers")
    from shapiq_spex import GenerationLogProbGame

    module = runpy.run_path(str(EXAMPLES / "case_riddle.py"), run_name="case_riddle")
    prompt = module["PROMPTS"][0][0]
    model, tokenizer = module["tiny_model"]([prompt])
    game = GenerationLogProbGame(
        prompt,
        model,
        tokenizer,
        players="word",
        prompt_template="{context} Answer :",
        max_new_tokens=2,
    )
    names = game.players.names
    mary, dot = names.index("Mary"), names.index(".")
    text, swaps = module["replace_words"](game, (dot, mary))
    assert swaps == ["Mary→Sarah", ".→(kept)"]
    assert text == prompt.replace("Mary", "Sarah", 1)
    last = len(names) - 1 - names[::-1].index("Mary")  # the second "Mary" only
    text, _ = module["replace_words"](game, (last,))
    assert text == "Sarah".join(prompt.rsplit("Mary", 1))


@pytest.mark.llm
def test_case_attention_heads(capsys, monkeypatch):
    pytest.importorskip("transformers")
    out = run_in_process("case_attention_heads", capsys, monkeypatch)
    assert "8 heads (2 layers x 4)" in out
    assert "ProxySPEX: 160 queries" in out
    assert "KernelSHAP: 160 queries" in out


def test_case_digits(capsys, monkeypatch):
    out = run_in_process("case_digits", capsys, monkeypatch)
    assert "ProxySPEX 120 retrainings" in out
    assert "predicted groups confirmed by retraining:" in out


def test_data_attribution(capsys, monkeypatch):
    out = run_in_process("data_attribution", capsys, monkeypatch)
    assert "24 players (24 training digits)" in out
    assert "ProxySPEX: 100 retrainings" in out


@pytest.fixture(autouse=True)
def _shapiq_strings_are_restored():
    yield
    integration.unregister()  # no example may leave the routing on for later tests
