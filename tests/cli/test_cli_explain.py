"""``shapiq-spex explain`` end to end: tiny saved models, the real MiniLM default, bad options."""

from __future__ import annotations

import contextlib
import html
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_texts import CONTEXT, REVIEW

from shapiq_spex.cli.explain import ExplainConfig, ProgressGame, build_approximator, explain_text
from shapiq_spex.cli.main import main
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.plot.text import JOINER

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


def check_document(doc: dict, text: str, budget: int) -> None:
    """The JSON schema, and values consistent with themselves and the text."""
    for key in ("players", "spans", "interactions", "index", "order", "method", "queries",
                "faithfulness_r2", "model", "text", "seed", "timing"):  # fmt: skip
        assert key in doc, key
    assert doc["text"] == text
    names = doc["players"]
    assert len(doc["spans"]) == len(names) > 0
    for name, (start, end) in zip(names, doc["spans"], strict=True):
        assert text[start:end] == name
    assert 0 < doc["queries"] <= budget
    assert {"model_s", "total_s"} <= set(doc["timing"])
    assert 0 <= doc["timing"]["model_s"] <= doc["timing"]["total_s"]
    assert doc["faithfulness_r2"] is None or doc["faithfulness_r2"] <= 1.0
    seen = set()
    previous = float("inf")
    for item in doc["interactions"]:
        assert set(item) == {"players", "words", "value"}
        players = item["players"]
        assert players == sorted(set(players))
        assert 1 <= len(players) <= doc["order"]
        assert item["words"] == [names[p] for p in players]
        assert abs(item["value"]) <= previous  # strongest first
        previous = abs(item["value"])
        seen.add(tuple(players))
    assert len(seen) == len(doc["interactions"])


def run_cli(args, capsys):
    status = main(["explain", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_explain_tiny_model_end_to_end(tiny_classifier_dir, tmp_path, capsys):
    out_html, out_json = tmp_path / "r.html", tmp_path / "r.json"
    args = [REVIEW, "--model", tiny_classifier_dir, "--method", "proxyspex", "--budget", 150,
            "--out", out_html, "--json", out_json, "--top", 5, "--index", "k-SII"]  # fmt: skip
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    assert "Traceback" not in err
    assert "query" not in err  # stderr is no terminal: no progress bar
    doc = json.loads(out_json.read_text())
    check_document(doc, REVIEW, 150)
    assert doc["method"] == "ProxySPEX"
    assert doc["model"] == str(tiny_classifier_dir)
    assert doc["index"] == "k-SII"
    assert doc["order"] == 2
    # the same configuration in-process gives the same interaction values (seeded)
    config = ExplainConfig(REVIEW, model=str(tiny_classifier_dir), method="proxyspex", budget=150)
    result = explain_text(config)
    iv = result.interaction_values
    assert len(doc["interactions"]) == sum(1 for k in iv.interactions if k)
    for item in doc["interactions"]:
        assert item["value"] == pytest.approx(iv[tuple(item["players"])], abs=1e-12)
    assert doc["queries"] == result.report.queries
    # the printed table lists the strongest interactions with their words
    top = doc["interactions"][0]
    assert JOINER.join(top["words"]) in out
    assert f"{top['value']:+.4f}" in out
    # report: HTML with every word, PNG beside it
    page = out_html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for word in doc["players"]:
        assert html.escape(word) in page
    png = tmp_path / "r.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert png.stat().st_size > 5000


@pytest.mark.parametrize(("method", "budget", "name"), [("spex", 400, "SPEX"),
                                                        ("hybrid", 500, "HybridSPEX")])  # fmt: skip
def test_explain_other_methods(tiny_classifier_dir, tmp_path, capsys, method, budget, name):
    out_json = tmp_path / "r.json"
    args = ["--file", tmp_path / "t.txt", "--model", tiny_classifier_dir, "--method", method,
            "--budget", budget, "--no-report", "--json", out_json, "--index", "FBII",
            "--quiet"]  # fmt: skip
    (tmp_path / "t.txt").write_text(REVIEW, encoding="utf-8")
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    assert out == ""  # --quiet
    doc = json.loads(out_json.read_text())
    check_document(doc, REVIEW, budget)
    assert doc["method"] == name
    assert doc["index"] == "FBII"
    assert not list(tmp_path.glob("*.html"))


def test_explain_generation_with_tiny_lm(tiny_lm_dir, tmp_path, capsys):
    out_json = tmp_path / "g.json"
    args = [CONTEXT, "--task", "generation", "--model", tiny_lm_dir, "--query",
            "What is the capital ?", "--answer", "Paris", "--players", "word", "--method",
            "proxyspex", "--budget", 100, "--no-report", "--json", out_json, "--order", 1,
            "--index", "SV"]  # fmt: skip
    status, _, err = run_cli(args, capsys)
    assert status == 0, err
    doc = json.loads(out_json.read_text())
    check_document(doc, CONTEXT, 100)  # spans are relative to the context, not the prompt
    assert doc["task"] == "generation"
    assert doc["index"] == "SV"
    assert all(len(item["players"]) == 1 for item in doc["interactions"])


def test_progress_game_counts_queries_and_passes_values_through():
    class Game:
        n_players = 4

        def __call__(self, x):
            return x.sum(axis=1) * 1.5

    class Bar:
        def __init__(self):
            self.updates = []

        def update(self, k):
            self.updates.append(k)

    bar = Bar()
    wrapped = ProgressGame(Game(), bar, chunk=3)
    x = np.random.default_rng(0).random((8, 4)) < 0.5
    np.testing.assert_array_equal(wrapped(x), x.sum(axis=1) * 1.5)
    assert bar.updates == [3, 3, 2]
    assert wrapped.queries == 8
    assert wrapped.n_players == 4


BAD = [
    ([], "exactly one"),
    (["a b c", "--file", "x.txt"], "exactly one"),
    (["text", "--budget", "0"], "--budget"),
    (["text", "--method", "foo"], "--method"),
    (["text", "--index", "XYZ"], "--index"),
    (["text", "--index", "SV", "--order", "2"], "--order 1"),
    (["text", "--query", "why?"], "--task generation"),
    (["text", "--task", "generation", "--target", "1"], "--target"),
    (["text", "--output", "banana"], "--output"),
    (["text", "--file", "/nonexistent/file.txt"], "exactly one"),
    (["--file", "/nonexistent/file.txt"], "Could not read"),
    (["text", "--line-width", "5"], "--line-width"),
]


@pytest.mark.parametrize(("args", "needle"), BAD)
def test_bad_options_give_one_line_errors(args, needle, capsys):
    try:
        status = main(["explain", *args])
    except SystemExit as exit_:  # argparse usage errors
        status = exit_.code
    _, err = capsys.readouterr()
    assert status != 0
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "error" in err
    assert needle in err


def test_model_and_budget_errors_need_the_model(tiny_classifier_dir, tmp_path, capsys):
    status, _, err = run_cli([REVIEW, "--model", tmp_path / "missing_model"], capsys)
    assert status != 0
    assert len(err.strip().splitlines()) == 1
    assert "Could not load the model" in err
    status, _, err = run_cli(
        [REVIEW, "--model", tiny_classifier_dir, "--method", "spex", "--budget", 50], capsys
    )
    assert status != 0
    assert len(err.strip().splitlines()) == 1
    assert "--budget" in err
    assert "at least" in err
    status, _, err = run_cli(
        [REVIEW, "--model", tiny_classifier_dir, "--method", "hybrid", "--budget", 60], capsys
    )
    assert status != 0
    assert len(err.strip().splitlines()) == 1
    assert "budget" in err
    status, _, err = run_cli(["a b", "--model", tiny_classifier_dir, "--order", 3], capsys)
    assert status != 0
    assert "--order" in err


@pytest.mark.slow
def test_demo_explains_the_real_review_with_the_offline_default(tmp_path, capsys):
    """``demo`` = ``explain`` on the embedded review with the MiniLM default (small budget)."""
    from shapiq_spex.cli.main import DEMO_MIN_R2, DEMO_REVIEW

    args = ["demo", "--method", "proxyspex", "--budget", "200", "--out-dir", str(tmp_path)]
    status = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    doc = json.loads((tmp_path / "demo-result.json").read_text())
    check_document(doc, DEMO_REVIEW, 200)
    assert doc["model"] == "minilm-sentiment"
    assert doc["method"] == "ProxySPEX"
    assert doc["players"][15:17] == ["not", "always"]
    assert status == (0 if doc["faithfulness_r2"] >= DEMO_MIN_R2 else 1)
    assert (tmp_path / "demo-report.png").stat().st_size > 5000
    page = (tmp_path / "demo-report.html").read_text(encoding="utf-8")
    assert all(html.escape(word) in page for word in doc["players"])
    assert "held-out R²" in out
    assert JOINER.join(doc["interactions"][0]["words"]) in out


@pytest.mark.parametrize("method", ["proxyspex", "hybrid"])
def test_text_players_are_sequential(method):
    """Every player granularity of the command line is text in reading order."""
    approx = build_approximator(ExplainConfig("a b c d e f", method=method), 6)
    assert approx.sequential is True


def test_hybrid_without_hybridspex_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "shapiq_spex.approximators.hybrid", None)
    with pytest.raises(InvalidParameterError, match="--method hybrid"):
        build_approximator(ExplainConfig("a b c", method="hybrid"), 3)


def test_demo_synthetic_is_still_available():
    from shapiq_spex.cli.main import build_parser

    args = build_parser().parse_args(["demo", "--synthetic"])
    assert args.synthetic


def test_process_exit_status_and_one_line_error():
    """``python -m shapiq_spex explain`` as a process: a bad option exits 2 with one line."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "shapiq_spex", "explain", "some text", "--budget", "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "--budget" in proc.stderr


def test_target_r2_spends_only_what_it_needs(tmp_path):
    """--target-r2 stops at the first round whose reported R² reaches it (nested rounds)."""
    import json

    from shapiq_spex.cli.main import main

    out = tmp_path / "run.json"
    code = main(
        [
            "explain",
            "A gripping, beautifully acted film whose slow middle hour almost lost me, though "
            "the final act and its quiet score won me back in the end.",
            "--budget",
            "2000",
            "--target-r2",
            "0.5",
            "--json",
            str(out),
            "--out",
            str(tmp_path / "report.html"),
            "--threads",
            "1",
        ]
    )
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["target_r2"] == 0.5
    rounds = doc["rounds"]
    assert rounds[-1]["validation_r2"] >= 0.5
    assert doc["queries"] == rounds[-1]["queries"] < 2000


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--target-r2", "1.5"], "--target-r2"),
        (["--target-r2", "0.9", "--method", "spex"], "--target-r2"),
    ],
)
def test_target_r2_is_checked_before_the_model_loads(argv, match, capsys):
    from shapiq_spex.cli.main import main

    with contextlib.suppress(SystemExit):
        code = main(["explain", "A fine film.", *argv])
        assert code != 0
    assert match in capsys.readouterr().err
