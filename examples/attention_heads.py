"""Which attention heads, and which pairs of heads, does a sentiment classifier rely on?

``AttentionHeadGame`` ablates attention heads (zeroing their output before the projection) and
scores the log-probability of each review's predicted label, averaged over a few reviews. The
players are the heads: 72 for MiniLM (6 layers x 12 heads), too many for exhaustive methods, a
natural case for sparse interactions. ``--fast`` uses a tiny random BERT (2 x 4 heads).

Run: ``python examples/attention_heads.py [--fast] [--method spex] [--budget 1500]``
"""

from __future__ import annotations

import argparse
import os
import time

REVIEWS = [
    "A gripping, funny and wholly original film.",
    "The plot is a boring mess and the acting is wooden.",
    "Not bad at all, the cast is wonderful.",
    "Slow, predictable and far too long.",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny random model, small budget")
    parser.add_argument("--method", choices=["spex", "proxyspex", "hybridspex"], default="spex")
    parser.add_argument("--budget", type=int, default=None)
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("SHAPIQ_SPEX_EXAMPLES_FAST") == "1"

    import torch

    from shapiq_spex import SPEX, AttentionHeadGame, HybridSPEX, ProxySPEX

    torch.set_num_threads(1 if fast else max(1, torch.get_num_threads()))
    if fast:
        from shapiq_spex.models.tiny import tiny_bert_classifier, word_level_tokenizer

        tokenizer = word_level_tokenizer(REVIEWS, style="bert")
        model = tiny_bert_classifier(tokenizer, num_labels=2, layers=2, heads=4, seed=0)
    else:
        model, tokenizer = "minilm-sentiment", None
    game = AttentionHeadGame(model, tokenizer, REVIEWS, metric="log_prob", device="cpu")
    print(
        f"{game.n_players} heads ({game.n_layers} layers x {game.n_heads}); mean log-prob of "
        f"the predicted labels {game.original_model_output:.3f}, all heads ablated "
        f"{game.empty_value:.3f}"
    )

    cls = {"spex": SPEX, "proxyspex": ProxySPEX, "hybridspex": HybridSPEX}[args.method]
    budget = args.budget or (300 if fast else 1500)
    approx = cls(game.n_players, max_order=2, index="k-SII", random_state=0)
    start = time.perf_counter()
    iv = approx.approximate(budget, game)
    report = approx.report_
    print(
        f"{cls.__name__}: {report.queries} ablations in {time.perf_counter() - start:.1f}s, "
        f"held-out R2 {report.faithfulness_r2:.3f}"
    )
    print("heads and head pairs with the largest k-SII:")
    top = sorted(((k, v) for k, v in iv.interactions.items() if k), key=lambda kv: -abs(kv[1]))
    for players, value in top[:10]:
        print(f"  {value:+.3g}  " + " x ".join(game.names[p] for p in players))
    print("example attention_heads: OK")


if __name__ == "__main__":
    main()
