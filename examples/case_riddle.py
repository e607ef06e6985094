"""Case study: which words make SmolLM2 answer a riddle as it does, together vs one by one?

SmolLM2-135M-Instruct answers short riddles and reasoning prompts (the offline ``"smollm2"``
model, chat template). :class:`GenerationLogProbGame` scores the log-probability of its own
greedy answer with the words of the prompt as players (absent words are removed). ProxySPEX
recovers a sparse interaction surrogate; the MILP of :func:`shapiq_spex.optimize.best_subset`
picks the group of ``r`` words whose joint removal lowers the answer's log-probability most.
Marginal methods at the same number of queries pick the ``r`` words with the largest values:
Banzhaf (least squares on the very coalitions ProxySPEX queried) and Shapley (shapiq's
KernelSHAP at the same budget).

Two actions on each method's choice: **remove** the ``r`` words (chosen among all words; the
game's own value), and **replace** ``r`` words by neutral synonyms (chosen among the words that
have one in a hand-written table; the interaction choice optimises the surrogate conditioned on
every other word kept) and let the model answer again. The question is the papers': does the
interacting group explain (and change) the answer better than the top marginal words?

Run: ``python examples/case_riddle.py [--fast] [--budget 500] [--write-results]``
(``--write-results`` writes ``benchmarks/results/case_riddle.md``; ``--fast`` uses a tiny random
GPT-2 whose answers mean nothing, only to exercise the code quickly).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

#: (prompt, substrings one of which a correct answer contains, or () where there is no key).
PROMPTS = (
    (
        "Mary has three apples and gives one to John. How many apples does Mary have now? "
        "Answer with a number.",
        ("2", "two"),
    ),
    (
        "Tom is taller than Anna. Anna is taller than Ben. Who is the shortest? Answer with one "
        "name.",
        ("Ben",),
    ),
    (
        "A trolley is heading towards five people. You can pull a lever to divert it to another "
        "track, where it will hit one person. Should you pull the lever? Answer yes or no.",
        (),
    ),
)
#: Neutral replacements: same meaning (or a same-role name), no hint of the answer.
SYNONYMS = {
    "Mary": "Sarah",
    "has": "holds",
    "three": "3",
    "apples": "fruits",
    "gives": "hands",
    "one": "1",
    "John": "Peter",
    "many": "much",
    "now": "currently",
    "Answer": "Reply",
    "number": "numeral",
    "Tom": "Sam",
    "taller": "higher",
    "Anna": "Emma",
    "Ben": "Max",
    "shortest": "smallest",
    "name": "word",
    "trolley": "tram",
    "heading": "moving",
    "towards": "toward",
    "five": "5",
    "people": "persons",
    "pull": "yank",
    "lever": "switch",
    "divert": "redirect",
    "another": "a second",
    "track": "rail",
    "hit": "strike",
    "person": "individual",
    "Should": "Ought",
}
METHODS = ("interactions", "Banzhaf", "Shapley")
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
#: A hand-written reading of the committed run, copied into the results file when present.
READING = RESULTS / "case_riddle.reading.md"


def tiny_model(texts):
    """A tiny random GPT-2 and a word-level tokenizer built on the prompts' words."""
    from shapiq_spex.models.tiny import tiny_causal_lm, word_level_tokenizer

    tokenizer = word_level_tokenizer([*texts, " ".join(SYNONYMS.values())], style="lm")
    return tiny_causal_lm(tokenizer, architecture="gpt2", seed=0), tokenizer


def replace_words(game, players: tuple[int, ...]) -> tuple[str, list[str]]:
    """The prompt with the given word players swapped for :data:`SYNONYMS`; also the swaps."""
    text = game.players.text
    start, end = game.players.region
    context = text[start:end]
    swaps = []
    # right to left, so earlier spans stay valid
    for p in sorted(players, key=lambda q: -game.players.spans[q][0]):
        s, e = (int(v) - start for v in game.players.spans[p])
        word = context[s:e]
        new = SYNONYMS.get(word)
        if new is None:
            swaps.append(f"{word}→(kept)")
            continue
        swaps.append(f"{word}→{new}")
        context = context[:s] + new + context[e:]
    return context, swaps[::-1]


def attributions(game, budget: int):
    """ProxySPEX surrogate, Banzhaf (same queries) and Shapley (KernelSHAP, same budget)."""
    import numpy as np
    from shapiq.approximator import KernelSHAP

    from shapiq_spex import ProxySPEX, RecordingGame
    from shapiq_spex.metrics import banzhaf_regression

    n = game.n_players
    rec = RecordingGame(game)
    approx = ProxySPEX(n, 2, "k-SII", random_state=0)
    approx.approximate(budget, rec)
    _, banzhaf = banzhaf_regression(rec.masks, rec.values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = KernelSHAP(n=n, random_state=0).approximate(budget, game)
    shapley = np.array([iv[(i,)] for i in range(n)])
    return approx, {"Banzhaf": banzhaf, "Shapley": shapley}


def choose(approx, marginal, r: int, candidates: list[int], n: int) -> dict:
    """Each method's ``r`` players among ``candidates`` whose removal lowers the answer most.

    The interaction choice is the MILP optimum of the surrogate conditioned on every other
    player kept (:meth:`SparseSpectrum.condition`); marginal choices are the top-``r`` values
    among the candidates.
    """
    import numpy as np

    from shapiq_spex.optimize import best_subset, marginal_choice

    cand = np.asarray(candidates, dtype=np.int64)
    others = np.setdiff1d(np.arange(n), cand)
    spectrum = approx.spectrum_ if others.size == 0 else approx.spectrum_.condition(present=others)
    res = best_subset(spectrum, r, mode="remove", objective="min", exact_size=True)
    out = {"interactions": (tuple(int(cand[p]) for p in res.players), res.predicted_value)}
    for name, phi in marginal.items():
        picked = marginal_choice(phi[cand], r, mode="remove", objective="min")
        out[name] = (tuple(int(cand[p]) for p in picked), None)
    return out


def study(prompt: str, key, model, tokenizer, budget: int, rs, game_kwargs) -> dict:
    """Explain one prompt and act on every method's chosen words: remove them, replace them."""
    import numpy as np

    from shapiq_spex import GenerationLogProbGame

    game = GenerationLogProbGame(prompt, model, tokenizer, players="word", **game_kwargs)
    n = game.n_players
    start = time.perf_counter()
    approx, marginal = attributions(game, budget)
    explain_s = time.perf_counter() - start
    names = game.players.names
    replaceable = [p for p in range(n) if names[p] in SYNONYMS]

    removal, swap = {}, {}
    for r in rs:
        for method, (players, predicted) in choose(approx, marginal, r, list(range(n)), n).items():
            removal[(method, r)] = (players, predicted)
        if r <= len(replaceable):
            for method, (players, _) in choose(approx, marginal, r, replaceable, n).items():
                swap[(method, r)] = players
    keys = list(removal)
    masks = np.ones((len(keys), n), dtype=bool)
    for row, key_ in enumerate(keys):
        masks[row, list(removal[key_][0])] = False
    removed = game(masks)

    kwargs = {k: v for k, v in game_kwargs.items() if k != "batch_size"}
    removal_rows = [
        {
            "method": method,
            "r": r,
            "words": [names[p] for p in removal[(method, r)][0]],
            "removed_log_prob": float(removed[row]),
            "predicted_log_prob": (
                None if removal[(method, r)][1] is None else float(removal[(method, r)][1])
            ),
        }
        for row, (method, r) in enumerate(keys)
    ]
    swap_rows = []
    for (method, r), players in swap.items():
        new_prompt, swaps = replace_words(game, players)
        scored = GenerationLogProbGame(
            new_prompt, model, tokenizer, answer=game.answer, players="sentence", **kwargs
        )
        answered = GenerationLogProbGame(new_prompt, model, tokenizer, players="sentence", **kwargs)
        swap_rows.append(
            {
                "method": method,
                "r": r,
                "swaps": swaps,
                "swapped_log_prob": float(scored.original_model_output),
                "new_answer": answered.answer,
                "answer_changed": answered.answer.strip() != game.answer.strip(),
                "correct": bool(key) and any(k in answered.answer for k in key),
            }
        )
    return {
        "prompt": prompt,
        "n": n,
        "n_replaceable": len(replaceable),
        "answer": game.answer,
        "correct": bool(key) and any(k in game.answer for k in key),
        "key": list(key),
        "full_log_prob": float(game.original_model_output),
        "empty_log_prob": float(game.empty_value),
        "proxy_r2": float(approx.report_.faithfulness_r2),
        "explain_s": explain_s,
        "removal": removal_rows,
        "swap": swap_rows,
    }


def markdown(results: list[dict], command: str, wall_s: float, budget: int) -> str:
    lines = [
        "# Case study: SmolLM2 riddles, the interacting word group vs the top marginal words",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, torch on 1 thread, shared with other jobs; total wall time "
        f"{wall_s / 60:.1f} min.",
        "",
        f"Command: `{command}`",
        "",
        "Game: `GenerationLogProbGame`, SmolLM2-135M-Instruct (offline GGUF, fp32, chat "
        "template), word players of the user message (removed when absent), value = "
        "log-probability of the model's own greedy answer. Per prompt every method gets "
        f"{budget} queries: ProxySPEX (order-2 k-SII) + the exact MILP (`best_subset`, "
        "mode remove, objective min, exactly r words) on its surrogate; Banzhaf = least squares "
        "on the same coalitions ProxySPEX queried; Shapley = shapiq's KernelSHAP. Marginal "
        "choices are the r words with the largest values (`marginal_choice`, objective min).",
        "",
        "Two actions. **Remove**: the r words chosen among all words are deleted; the table "
        "gives the answer's log-prob measured on the model (and the surrogate's prediction for "
        "the interaction choice). **Replace**: the r words are chosen among the words that have "
        "a neutral synonym in the script's table (the interaction choice on the surrogate "
        "conditioned on every other word kept, `SparseSpectrum.condition`), replaced, and the "
        "model is asked again: the original answer's log-prob and the new greedy answer.",
        "",
    ]
    for res in results:
        verdict = ""
        if res["key"]:
            verdict = (
                " (correct)" if res["correct"] else f" (wrong; a correct one has {res['key']})"
            )
        lines += [
            f"## {res['prompt']}",
            "",
            f"n = {res['n']} words ({res['n_replaceable']} with a synonym); answer "
            f"{res['answer']!r}{verdict}; log-prob {res['full_log_prob']:.2f} with every word, "
            f"{res['empty_log_prob']:.2f} with none; ProxySPEX held-out R² {res['proxy_r2']:.3f}; "
            f"explanation {res['explain_s']:.0f} s.",
            "",
            "Remove:",
            "",
            "| r | method | words | log-prob after removal | surrogate |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in res["removal"]:
            pred = "-" if row["predicted_log_prob"] is None else f"{row['predicted_log_prob']:.2f}"
            lines.append(
                f"| {row['r']} | {row['method']} | {' '.join(row['words'])} | "
                f"{row['removed_log_prob']:.2f} | {pred} |"
            )
        lines += [
            "",
            "Replace with synonyms:",
            "",
            "| r | method | replaced | answer log-prob after | new answer | changed | correct |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in res["swap"]:
            correct = ("yes" if row["correct"] else "no") if res["key"] else "-"
            answer = row["new_answer"].replace("\n", " ").replace("|", "/")[:60]
            lines.append(
                f"| {row['r']} | {row['method']} | {', '.join(row['swaps'])} | "
                f"{row['swapped_log_prob']:.2f} | {answer!r} | "
                f"{'yes' if row['answer_changed'] else 'no'} | {correct} |"
            )
        lines.append("")
    lines += summary_lines(results)
    if READING.exists():
        lines += ["## Reading", "", READING.read_text().strip(), ""]
    return "\n".join(lines) + "\n"


def summary_lines(results: list[dict]) -> list[str]:
    """Per r, how far each method's removal and replacement moved the answer (all prompts)."""
    import numpy as np

    def drops(part: str, field: str, m: str, r: int) -> list[float]:
        return [
            res["full_log_prob"] - row[field]
            for res in results
            for row in res[part]
            if row["method"] == m and row["r"] == r
        ]

    rs = sorted({row["r"] for res in results for row in res["removal"]})
    lines = [
        "## Summary over prompts",
        "",
        "Mean drop of the answer's log-probability (full minus after the action; larger = the "
        "words mattered more), and in how many prompts the greedy answer changed after the "
        "replacement.",
        "",
        "| r | "
        + " | ".join(f"{m} remove drop" for m in METHODS)
        + " | "
        + " | ".join(f"{m} replace drop" for m in METHODS)
        + " | "
        + " | ".join(f"{m} answers changed" for m in METHODS)
        + " |",
        "| --- |" + " --- |" * (3 * len(METHODS)),
    ]
    for r in rs:
        cells = [f"{np.mean(drops('removal', 'removed_log_prob', m, r)):.2f}" for m in METHODS]
        for m in METHODS:
            d = drops("swap", "swapped_log_prob", m, r)
            cells.append(f"{np.mean(d):.2f}" if d else "-")
        for m in METHODS:
            rows = [
                row
                for res in results
                for row in res["swap"]
                if row["method"] == m and row["r"] == r
            ]
            cells.append(f"{sum(row['answer_changed'] for row in rows)}/{len(rows)}")
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny random model, small budget")
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("SHAPIQ_SPEX_EXAMPLES_FAST") == "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    torch.set_num_threads(1)
    if fast:
        prompts = PROMPTS[:1]
        model, tokenizer = tiny_model([p for p, _ in prompts])
        game_kwargs = {"prompt_template": "{context} Answer :", "max_new_tokens": 3}
        budget, rs = args.budget or 80, (1, 2)
    else:
        from shapiq_spex.models.smollm2 import load_smollm2

        prompts = PROMPTS
        model, tokenizer = load_smollm2()
        game_kwargs = {"use_chat_template": True, "max_new_tokens": 16, "batch_size": 32}
        budget, rs = args.budget or 500, (1, 2, 3, 4)

    start = time.perf_counter()
    results = []
    for prompt, key in prompts:
        res = study(prompt, key, model, tokenizer, budget, rs, game_kwargs)
        results.append(res)
        print(f"\n{prompt}\n  answer {res['answer']!r}, log-prob {res['full_log_prob']:.2f}")
        for row in res["removal"]:
            print(
                f"  r={row['r']} {row['method']:>12}: remove {' '.join(row['words'])!r:36} "
                f"-> log-prob {row['removed_log_prob']:7.2f}"
            )
        for row in res["swap"]:
            print(
                f"  r={row['r']} {row['method']:>12}: replace {', '.join(row['swaps'])!r:44} "
                f"-> {row['swapped_log_prob']:7.2f} {row['new_answer'][:40]!r}"
            )
    wall = time.perf_counter() - start
    if args.write_results and not fast:
        command = "python examples/case_riddle.py --write-results"
        if args.budget:
            command += f" --budget {args.budget}"
        (RESULTS / "case_riddle.md").write_text(markdown(results, command, wall, budget))
        print(f"wrote {RESULTS / 'case_riddle.md'}")
    print("example case_riddle: OK")


if __name__ == "__main__":
    main()
