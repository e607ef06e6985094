"""Constructed interaction values over a short review, shared by the plot tests."""

from __future__ import annotations

from shapiq import InteractionValues

WORDS = ["the", "film", "is", "not", "bad", ",", "but", "the", "ending", "is", "a", "mess", "."]
FIRST = [0.0, 0.1, 0.0, -0.8, -0.5, 0.0, 0.3, 0.0, 0.2, 0.0, 0.0, -0.6, 0.0]
PAIRS = {(3, 4): 1.2, (6, 11): -0.7, (1, 8): 0.05, (8, 11): -0.3, (0, 12): 0.01}
TRIPLE = {(3, 4, 6): 0.4}


def make_iv(words=WORDS, first=FIRST, pairs=PAIRS, extra=TRIPLE, index="Moebius"):
    """Möbius-style values: baseline 0.25, the first-order values, pairs and one triple."""
    n = len(words)
    values = {(): 0.25}
    values.update({(i,): v for i, v in enumerate(first)})
    values.update(pairs)
    values.update(extra)
    max_order = max(len(k) for k in values)
    return InteractionValues(
        values, index=index, max_order=max_order, n_players=n, min_order=0, baseline_value=0.25
    )
