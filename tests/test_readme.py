"""Numbers the README states about the approximators come from the code that defines them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shapiq_spex import SPEX, HybridSPEX, ProxySPEX

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def number(text: str) -> int:
    return int(text.replace(",", ""))


def min_budget_sentence() -> str:
    """The sentence listing SPEX's smallest budgets ("SPEX needs at least ... queries (...)")."""
    match = re.search(r"SPEX needs at least `SPEX\(n\)\.min_budget\(\)` queries \((.*?)\)", README,
                      flags=re.DOTALL)  # fmt: skip
    assert match, "the README no longer lists SPEX's minimum budgets"
    return " ".join(match.group(1).split())


def stated_spex_budgets() -> list[tuple[int, range]]:
    """``(budget, range of n)`` pairs of the sentence: "264 for 8 ≤ n ≤ 20", "360 at n = 64-100"."""
    pairs = []
    pattern = (
        r"(\d[\d,]*) (?:for (\d[\d,]*) ≤ n ≤ (\d[\d,]*)|at n = (\d[\d,]*)(?:\u2013(\d[\d,]*))?)"
    )
    for m in re.finditer(pattern, min_budget_sentence().split(";")[0]):
        lo, hi = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5) or m.group(4))
        pairs.append((number(m.group(1)), range(number(lo), number(hi) + 1)))
    return pairs


def test_the_sentence_lists_several_budgets():
    assert len(stated_spex_budgets()) >= 4


@pytest.mark.parametrize("index", range(5))
def test_readme_spex_min_budgets_are_min_budget(index):
    pairs = stated_spex_budgets()
    if index >= len(pairs):
        pytest.skip("fewer entries")
    budget, ns = pairs[index]
    assert {SPEX(n).min_budget() for n in ns} == {budget}, (budget, ns)


def test_readme_hybrid_and_proxy_min_budgets():
    sentence = min_budget_sentence()
    percent = re.search(r"HybridSPEX about (\d+)% more", sentence)
    proxy = re.search(r"ProxySPEX (\d+)", sentence)
    assert percent
    assert proxy
    for _, ns in stated_spex_budgets():
        for n in (ns.start, ns.stop - 1):
            ratio = HybridSPEX(n).min_budget() / SPEX(n).min_budget()
            assert abs(ratio - 1 - int(percent.group(1)) / 100) <= 0.05, (n, ratio)
            assert ProxySPEX(n).min_budget() == int(proxy.group(1))


def test_readme_method_table_min_budget_range():
    """The 'Which method when' row: the smallest design over a range of n."""
    match = re.search(r"`SPEX\(n\)\.min_budget\(\)`: (\d[\d,]*)\u2013(\d[\d,]*) queries for "
                      r"n = (\d[\d,]*)\u2013(\d[\d,]*)\)", README)  # fmt: skip
    assert match, "the README's method table no longer gives SPEX's minimum budgets"
    low, high, n_low, n_high = (number(g) for g in match.groups())
    assert SPEX(n_low).min_budget() == low
    assert SPEX(n_high).min_budget() == high
