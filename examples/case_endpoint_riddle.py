"""Case study through a served model: the words behind a wrong riddle answer, over HTTP.

The seed's headline case in shape, on what runs here: a model behind an OpenAI-compatible
endpoint answers a riddle wrongly, and :class:`~shapiq_spex.games.EndpointGame` explains the
log-probability of that answer by the words of the prompt (absent words removed), through the
:class:`~shapiq_spex.engine.QueryEngine` and its cache (a crash or a Ctrl-C resumes with nothing
paid twice). As in ``examples/case_riddle.py`` (whose helpers this script reuses): ProxySPEX's
sparse surrogate and its MILP give the group of ``r`` words whose joint removal lowers the answer
most (the interaction group), Shapley values (shapiq's KernelSHAP at the same budget) and
Banzhaf values (least squares on ProxySPEX's own queries) give the top ``r`` single words. Each
choice is then removed, and replaced by neutral synonyms, and the endpoint answers again: does
replacing the interaction group change the answer where the top Shapley words do not?

By default the script starts llama.cpp's server locally (4 slots, the offline SmolLM2-135M
Q4_1 file) and stops it at the end. The same command runs against any served model:

* vLLM: ``vllm serve HuggingFaceTB/SmolLM2-135M-Instruct`` on a GPU box, then
  ``python examples/case_endpoint_riddle.py --endpoint http://HOST:8000/v1 --model
  HuggingFaceTB/SmolLM2-135M-Instruct --tokenizer HuggingFaceTB/SmolLM2-135M-Instruct``
  (the tokenizer renders the chat template locally and masks tokens exactly as in process).
* an API model without prompt log-probabilities (OpenAI): ``export OPENAI_API_KEY=...``, then
  ``... --endpoint https://api.openai.com/v1 --model gpt-4o-mini --api-key-env OPENAI_API_KEY
  --scoring label_logprob --labels 3 2 --requests-per-minute 500`` (the log-odds of the first
  answer token "3" against "2"; the price flag ``--price 0.15 0.6`` counts the cost).

Run: ``python examples/case_endpoint_riddle.py [--fast] [--budget 500] [--write-results]``
(``--write-results`` writes ``benchmarks/results/case_endpoint_riddle.md``; ``--fast`` explains a
short prompt with a small budget, to exercise the code in a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # case_riddle's helpers

from case_riddle import PROMPTS, SYNONYMS, attributions, choose, replace_words

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
READING = RESULTS / "case_endpoint_riddle.reading.md"
FAST_PROMPT = ("Is a tomato a fruit? Answer yes or no.", ())
LOCAL_EXTRA = {"repeat_penalty": 1.0}  # llama.cpp's greedy answers use 1.1 otherwise


def build_game(context, endpoint, args, tokenizer, *, answer=None, players="word"):
    from shapiq_spex.games import EndpointGame

    common = {
        "scoring": args.scoring,
        "players": players,
        "tokenizer": tokenizer,
        "extra_body": args.extra_body,
        "max_new_tokens": args.max_new_tokens,
    }
    if args.scoring == "answer_logprob":
        common.update(answer=answer, use_chat_template=tokenizer is not None)
    else:
        common.update(labels=args.labels, label_output="log_odds", missing_label=-30.0)
    return EndpointGame(context, endpoint, args.model, **common)


def generate(game, endpoint, args) -> str:
    """The endpoint's greedy answer to the game's full prompt."""
    base = {"model": args.model, "temperature": 0.0, "seed": 0, **args.extra_body}
    if args.scoring == "answer_logprob":
        body = endpoint.post(
            "/completions", {**base, "prompt": game.prompt, "max_tokens": args.max_new_tokens}
        )
        return body["choices"][0]["text"]
    body = endpoint.post(
        "/chat/completions",
        {
            **base,
            "messages": [{"role": "user", "content": game.prompt}],
            "max_tokens": args.max_new_tokens,
        },
    )
    return body["choices"][0]["message"]["content"]


def top_pairs(approx, names, k=5):
    from shapiq_spex.spectra.indices import to_interaction_values

    iv = to_interaction_values(approx.spectrum_, "k-SII", max_order=2)
    pairs = [(t, float(iv[t])) for t in iv.interaction_lookup if len(t) == 2]
    pairs.sort(key=lambda p: -abs(p[1]))
    return [{"words": [names[i] for i in t], "players": list(t), "k_sii": v} for t, v in pairs[:k]]


def study(prompt, key, endpoint, args, tokenizer, cache) -> dict:
    import numpy as np

    from shapiq_spex.engine import QueryEngine

    game = build_game(prompt, endpoint, args, tokenizer)
    n, names = game.n_players, game.players.names
    answer = game.answer if args.scoring == "answer_logprob" else generate(game, endpoint, args)
    start = time.perf_counter()
    with QueryEngine(game, cache=cache, batch_size=4 * args.concurrency) as engine:
        approx, marginal = attributions(engine, args.budget)
        explain_s = time.perf_counter() - start
        stats = engine.stats
        replaceable = [p for p in range(n) if names[p] in SYNONYMS]
        removal, swap = {}, {}
        for r in args.r:
            for method, picked in choose(approx, marginal, r, list(range(n)), n).items():
                removal[(method, r)] = picked
            if r <= len(replaceable):
                for method, (players, _) in choose(approx, marginal, r, replaceable, n).items():
                    swap[(method, r)] = players
        keys = list(removal)
        masks = np.ones((len(keys), n), dtype=bool)
        for row, key_ in enumerate(keys):
            masks[row, list(removal[key_][0])] = False
        removed = engine(masks)
    removal_rows = [
        {
            "method": m,
            "r": r,
            "words": [names[p] for p in removal[(m, r)][0]],
            "value_after": float(removed[row]),
            "predicted": None if removal[(m, r)][1] is None else float(removal[(m, r)][1]),
        }
        for row, (m, r) in enumerate(keys)
    ]
    swap_rows = []
    for (m, r), players in swap.items():
        new_prompt, swaps = replace_words(game, players)
        scored = build_game(
            new_prompt, endpoint, args, tokenizer, answer=answer, players="sentence"
        )
        new_answer = generate(scored, endpoint, args)
        swap_rows.append(
            {
                "method": m,
                "r": r,
                "swaps": swaps,
                "value_after": float(scored.original_model_output),
                "new_answer": new_answer,
                "answer_changed": new_answer.strip() != answer.strip(),
                "correct": bool(key) and any(k in new_answer for k in key),
            }
        )
    shapley = marginal["Shapley"]
    return {
        "prompt": prompt,
        "n": n,
        "answer": answer,
        "key": list(key),
        "correct": bool(key) and any(k in answer for k in key),
        "full_value": float(game.original_model_output),
        "empty_value": float(game.empty_value),
        "proxy_r2": float(approx.report_.faithfulness_r2),
        "explain_s": explain_s,
        "queries": stats.evaluated + stats.cache_hits,
        "evaluated": stats.evaluated,
        "top_shapley": [
            {"word": names[i], "value": float(shapley[i])} for i in np.argsort(-shapley)[:6]
        ],
        "top_pairs": top_pairs(approx, names),
        "removal": removal_rows,
        "swap": swap_rows,
        "usage": game.usage.as_dict(),
    }


def markdown(results, args, command, wall_s) -> str:
    what = (
        "log-probability of the model's own greedy answer"
        if args.scoring == "answer_logprob"
        else f"log-odds of the first answer token {args.labels[0]!r} against {args.labels[1:]}"
    )
    lines = [
        "# Case study through a served model: the words behind a wrong riddle answer",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, shared with other jobs; total wall time "
        f"{wall_s / 60:.1f} min.",
        "",
        f"Command: `{command}`",
        "",
        f"Endpoint: {args.where}; model `{args.model}`. Game: `EndpointGame(scoring="
        f"{args.scoring!r})`, word players of the user message (removed when absent), value = "
        f"{what}, every request at temperature 0 with a seed, through `QueryEngine` with a "
        f"SQLite cache. {args.budget} queries per method: ProxySPEX (order-2 k-SII) + the MILP "
        "(`best_subset`) on its surrogate (the interaction group); Shapley = shapiq's "
        "KernelSHAP; Banzhaf = least squares on ProxySPEX's queries. Replacement uses the "
        "synonym table of `examples/case_riddle.py`; the endpoint answers the changed prompt "
        "again (greedy).",
        "",
    ]
    for res in results:
        verdict = ""
        if res["key"]:
            verdict = " (correct)" if res["correct"] else f" (wrong; right would hold {res['key']})"
        u = res["usage"]
        lines += [
            f"## {res['prompt']}",
            "",
            f"n = {res['n']} words; answer {res['answer']!r}{verdict}; value "
            f"{res['full_value']:.2f} with every word, {res['empty_value']:.2f} with none; "
            f"ProxySPEX held-out R² {res['proxy_r2']:.3f}; explanation {res['explain_s']:.0f} s; "
            f"{res['evaluated']} coalitions sent ({u['requests']} requests in all, "
            f"{u['prompt_tokens']} prompt tokens, {u['retries']} retries).",
            "",
            "Top Shapley words: "
            + ", ".join(f"{w['word']} ({w['value']:+.2f})" for w in res["top_shapley"])
            + ". Strongest pairs (k-SII): "
            + ", ".join(f"{' + '.join(p['words'])} ({p['k_sii']:+.2f})" for p in res["top_pairs"])
            + ".",
            "",
            "Remove:",
            "",
            "| r | method | words | value after removal | surrogate |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in res["removal"]:
            pred = "-" if row["predicted"] is None else f"{row['predicted']:.2f}"
            lines.append(
                f"| {row['r']} | {row['method']} | {' '.join(row['words'])} | "
                f"{row['value_after']:.2f} | {pred} |"
            )
        lines += [
            "",
            "Replace with synonyms:",
            "",
            "| r | method | replaced | value after | new answer | changed | correct |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in res["swap"]:
            correct = ("yes" if row["correct"] else "no") if res["key"] else "-"
            answer = row["new_answer"].replace("\n", " ").replace("|", "/")[:60]
            lines.append(
                f"| {row['r']} | {row['method']} | {', '.join(row['swaps'])} | "
                f"{row['value_after']:.2f} | {answer!r} | "
                f"{'yes' if row['answer_changed'] else 'no'} | {correct} |"
            )
        lines.append("")
    if READING.exists():
        lines += ["## Reading", "", READING.read_text().strip(), ""]
    return "\n".join(lines) + "\n"


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="short prompt, small budget")
    parser.add_argument("--endpoint", help="API root URL; default: start llama.cpp locally")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--tokenizer", help="the served model's tokenizer (name or folder)")
    parser.add_argument("--api-key-env", help="environment variable holding the API key")
    parser.add_argument(
        "--scoring", choices=("answer_logprob", "label_logprob"), default="answer_logprob"
    )
    parser.add_argument("--labels", nargs="+", default=["3", "2"])
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument(
        "--prompts", type=int, nargs="+", default=[0], help="indices into case_riddle.PROMPTS"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests-per-minute", type=float)
    parser.add_argument(
        "--price",
        type=float,
        nargs=2,
        metavar=("INPUT", "OUTPUT"),
        help="price per million input and output tokens",
    )
    parser.add_argument(
        "--extra-body", type=json.loads, default=None, help="JSON fields added to every request"
    )
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--cache", help="SQLite cache file (default: a temporary one)")
    parser.add_argument("--write-results", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    args.fast = args.fast or os.environ.get("SHAPIQ_SPEX_EXAMPLES_FAST") == "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from shapiq_spex.endpoint import EndpointClient, LlamaCppServer

    server = None
    if args.endpoint is None:
        from shapiq_spex.models.smollm2 import gguf_path

        slots = 2 if args.fast else 4
        server = LlamaCppServer(gguf_path(), n_workers=slots, n_threads=1).start()
        args.endpoint, args.model = server.base_url, "smollm2"
        args.tokenizer = args.tokenizer or "smollm2"
        args.extra_body = LOCAL_EXTRA if args.extra_body is None else args.extra_body
        args.where = f"llama.cpp server started by the script ({slots} slots, SmolLM2 Q4_1 GGUF)"
    else:
        args.where = f"`{args.endpoint}`"
    args.extra_body = args.extra_body or {}
    if args.fast:
        prompts, args.budget, args.r = [FAST_PROMPT], args.budget or 40, (1, 2)
    else:
        prompts, args.budget, args.r = (
            [PROMPTS[i] for i in args.prompts],
            args.budget or 500,
            (1, 2, 3, 4),
        )
    endpoint = EndpointClient(
        args.endpoint,
        api_key_env=args.api_key_env,
        concurrency=args.concurrency,
        requests_per_minute=args.requests_per_minute,
        price_per_million_tokens=None if args.price is None else tuple(args.price),
    )
    tokenizer = None
    if args.tokenizer == "smollm2":
        from shapiq_spex.models.smollm2 import load_smollm2

        tokenizer = load_smollm2()[1]
    elif args.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    start = time.perf_counter()
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i, (prompt, key) in enumerate(prompts):
                cache = args.cache or str(Path(tmp) / f"prompt{i}.sqlite")
                res = study(prompt, key, endpoint, args, tokenizer, cache)
                results.append(res)
                print(f"\n{prompt}\n  answer {res['answer']!r}, value {res['full_value']:.2f}")
                print("  top Shapley:", ", ".join(w["word"] for w in res["top_shapley"]))
                for row in res["removal"]:
                    print(
                        f"  r={row['r']} {row['method']:>12}: remove {' '.join(row['words'])!r:36}"
                        f" -> {row['value_after']:7.2f}"
                    )
                for row in res["swap"]:
                    print(
                        f"  r={row['r']} {row['method']:>12}: replace "
                        f"{', '.join(row['swaps'])!r:44} -> {row['value_after']:7.2f} "
                        f"{row['new_answer'][:40]!r}"
                    )
    finally:
        endpoint.close()
        if server is not None:
            server.stop()
    wall = time.perf_counter() - start
    if args.write_results and not args.fast:
        command = "python examples/case_endpoint_riddle.py --write-results"
        if args.budget != 500:
            command += f" --budget {args.budget}"
        if args.prompts != [0]:
            command += " --prompts " + " ".join(map(str, args.prompts))
        (RESULTS / "case_endpoint_riddle.md").write_text(markdown(results, args, command, wall))
        with (RESULTS / "case_endpoint_riddle.jsonl").open("w") as fh:
            for res in results:
                fh.write(json.dumps(res) + "\n")
        print(f"wrote {RESULTS / 'case_endpoint_riddle.md'}")
    print("example case_endpoint_riddle: OK")


if __name__ == "__main__":
    main()
