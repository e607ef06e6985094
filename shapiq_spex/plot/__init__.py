"""Plots for interactions in long texts (matplotlib and self-contained HTML).

* :func:`text_plot`: the text shaded by first-order values, top interactions as arcs (matplotlib).
* :func:`text_html`: the same view as inline-SVG HTML with hover tooltips.
* :func:`interaction_bar`: ranked horizontal bars of the strongest interactions.
* :func:`write_report`: an HTML report (metadata, text view, bar chart) and a PNG beside it.

All matplotlib functions accept ``ax=`` and return the ``Axes`` they drew on (``ax.figure`` is the
figure). matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

from shapiq_spex.plot.bars import interaction_bar
from shapiq_spex.plot.report import report_figure, write_report
from shapiq_spex.plot.text import layout_text, text_html, text_plot, top_interactions

__all__ = [
    "interaction_bar",
    "layout_text",
    "report_figure",
    "text_html",
    "text_plot",
    "top_interactions",
    "write_report",
]
