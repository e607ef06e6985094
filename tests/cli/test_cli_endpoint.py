"""``shapiq-spex explain --endpoint URL --model NAME --scoring ...``, on a real llama.cpp server."""

from __future__ import annotations

import json

import pytest

from shapiq_spex.cli.main import main

CONTEXT = "Mary has three apples and gives one to John."
QUERY = "How many apples does Mary have now?"


def run_cli(args, capsys):
    status = main(["explain", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "--scoring", "answer_logprob"],
         "--task generation"),
        (["--task", "generation", "--scoring", "answer_logprob"], "--endpoint"),
        (["--task", "generation", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m"],
         "--scoring"),
        (["--task", "generation", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m",
          "--scoring", "label_logprob"], "--labels"),
        (["--task", "generation", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m",
          "--scoring", "answer_logprob", "--missing-label", "bound"], "--missing-label"),
        (["--task", "generation", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m",
          "--scoring", "label_logprob", "--labels", "yes", "--output", "logit"], "--output"),
    ],
)  # fmt: skip
def test_endpoint_options_are_checked_before_any_request(args, match, capsys):
    status, _, err = run_cli([CONTEXT, "--no-report", *args], capsys)
    assert status == 2
    assert match in err


def test_a_down_endpoint_is_one_clear_line(capsys):
    from shapiq_spex.endpoint.llama_server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    args = ["--task", "generation", "--query", QUERY, "--endpoint", url, "--model", "smollm2"]
    status, _, err = run_cli(
        [CONTEXT, "--no-report", *args, "--scoring", "answer_logprob", "--answer", " 2"], capsys
    )
    assert status == 2
    assert "is the server running" in err
    assert "Traceback" not in err


@pytest.mark.server
@pytest.mark.llm
def test_explain_a_served_model_with_cache_and_json(tmp_path, capsys):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] is installed by make install")
    from shapiq_spex.endpoint import LlamaCppServer
    from shapiq_spex.models.smollm2 import gguf_path

    with LlamaCppServer(gguf_path(), n_threads=1) as server:
        args = [
            CONTEXT,
            "--task", "generation", "--query", QUERY, "--players", "word", "--chat-template",
            "--endpoint", server.base_url, "--model", "smollm2", "--tokenizer", "smollm2",
            "--scoring", "answer_logprob", "--answer", "Mary has two apples.",
            "--budget", "40", "--batch-size", "8", "--no-report",
        ]  # fmt: skip
        first = tmp_path / "first.json"
        status, out, err = run_cli([*args, "--cache", tmp_path / "c.sqlite", "--json", first],
                                   capsys)  # fmt: skip
        assert status == 0, err
        assert "endpoint  " in out
        assert "requests" in out
        doc = json.loads(first.read_text())
        assert doc["endpoint_usage"]["requests"] >= doc["engine"]["evaluated"]
        assert doc["endpoint_usage"]["prompt_tokens"] > 0
        assert doc["target"] == "log_prob of the answer 'Mary has two apples.'"
        # the same command again: every answer comes from the cache, the result is identical
        second = tmp_path / "second.json"
        status, _, err = run_cli([*args, "--cache", tmp_path / "c.sqlite", "--json", second],
                                 capsys)  # fmt: skip
        assert status == 0, err
        again = json.loads(second.read_text())
        assert again["engine"]["evaluated"] == 0
        assert again["interactions"] == doc["interactions"]
