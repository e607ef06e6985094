"""Which sentences of a context make a causal LM give its answer, alone and together?

``GenerationLogProbGame`` scores the log-probability of the model's own greedy answer to a
question about a context; the players are the context's sentences (removed when absent).
ProxySPEX (or SPEX/HybridSPEX) then finds the sentences, and the pairs of sentences, that the
answer depends on. The default model is the offline SmolLM2-135M-Instruct (``"smollm2"``, chat
template); ``--fast`` swaps in a tiny random GPT-2 with a word-level tokenizer (its answers mean
nothing; it only exercises the code path quickly).

Run: ``python examples/llm_answer_attribution.py [--fast] [--method spex] [--budget 600]``
"""

from __future__ import annotations

import argparse
import os
import time

CONTEXT = (
    "Marie Curie was born in Warsaw in 1867. "
    "She moved to Paris to study physics and mathematics. "
    "The weather in Paris was often rainy that year. "
    "In 1903 she shared the Nobel Prize in Physics with Pierre Curie and Henri Becquerel. "
    "Pierre Curie died in a street accident in 1906. "
    "In 1911 she received a second Nobel Prize, this time in Chemistry. "
    "She is the only person to win Nobel Prizes in two different sciences. "
    "Her daughter Irene also became a chemist. "
    "Warsaw has a museum dedicated to her life. "
    "She died in 1934 in France."
)
QUESTION = "In which year did Marie Curie receive her second Nobel Prize?"
# SmolLM2 stops before the year without the instruction; the tiny model (128 positions) gets
# the bare question.
INSTRUCTION = " Answer in one short sentence."


def tiny_model(context: str, query: str):
    """A tiny random GPT-2 and a word-level tokenizer built on the prompt's words."""
    from shapiq_spex.models.tiny import tiny_causal_lm, word_level_tokenizer

    tokenizer = word_level_tokenizer([context, query, "Question : Answer :"], style="lm")
    return tiny_causal_lm(tokenizer, architecture="gpt2", seed=0), tokenizer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny random model, small budget")
    parser.add_argument(
        "--method", choices=["spex", "proxyspex", "hybridspex"], default="proxyspex"
    )
    parser.add_argument("--budget", type=int, default=None)
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("SHAPIQ_SPEX_EXAMPLES_FAST") == "1"

    import torch

    from shapiq_spex import SPEX, GenerationLogProbGame, HybridSPEX, ProxySPEX

    torch.set_num_threads(1 if fast else max(1, torch.get_num_threads()))
    if fast:
        query = QUESTION
        model, tokenizer = tiny_model(CONTEXT, query)
        kwargs = {"prompt_template": "{context} Question : {query} Answer :", "max_new_tokens": 3}
    else:
        query = QUESTION + INSTRUCTION
        model, tokenizer = "smollm2", None
        kwargs = {"use_chat_template": True, "max_new_tokens": 24}
    game = GenerationLogProbGame(
        CONTEXT, model, tokenizer, query=query, players="sentence", device="cpu", **kwargs
    )
    sentences = game.players.names
    print(f"question: {query}")
    print(
        f"answer: {game.answer!r} (log-prob {game.original_model_output:.3f} with the full "
        f"context, {game.empty_value:.3f} without it)"
    )
    print(f"{game.n_players} sentence players")

    cls = {"spex": SPEX, "proxyspex": ProxySPEX, "hybridspex": HybridSPEX}[args.method]
    budget = args.budget or (200 if fast else 600)
    if args.method != "proxyspex":
        # SPEX's smallest design takes its whole minimum: 100 more leave 50 held-out coalitions
        # for the reported R² (none at the minimum itself, where it is NaN)
        budget = max(budget, cls(game.n_players).min_budget() + 100)
    approx = cls(game.n_players, max_order=2, index="FSII", random_state=0)
    start = time.perf_counter()
    iv = approx.approximate(budget, game)
    report = approx.report_
    print(
        f"{cls.__name__}: {report.queries} model calls in {time.perf_counter() - start:.1f}s, "
        f"held-out R2 {report.faithfulness_r2:.3f}"
    )
    print("sentences and pairs that raise or lower the answer's log-probability:")
    top = sorted(((k, v) for k, v in iv.interactions.items() if k), key=lambda kv: -abs(kv[1]))
    for players, value in top[:8]:
        label = " & ".join(f"[{p}] {sentences[p][:60]!r}" for p in players)
        print(f"  {value:+.3f}  {label}")
    print("example llm_answer_attribution: OK")


if __name__ == "__main__":
    main()
