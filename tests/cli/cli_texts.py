"""Texts shared by the CLI tests (and the vocabularies of their tiny models)."""

from __future__ import annotations

REVIEW = "the plot is not bad , but the acting is not good and the ending is a mess ."
CONTEXT = "Paris is the capital of France . The Seine runs through the city . It is big ."
