"""Plot tests: headless matplotlib, figures closed after every test."""

from __future__ import annotations

import sys

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def pytest_terminal_summary(terminalreporter):
    """Say where the browser tests' screenshots are (they are test artefacts)."""
    browser = sys.modules.get("browser")
    shots = getattr(browser, "SHOTS", [])
    if shots:
        folder = shots[0].parent
        terminalreporter.write_line(
            f"browser screenshots ({len(shots)}, 1400 and 400 px): {folder}/"
            f"{{{','.join(sorted(p.name for p in shots))}}}"
        )
