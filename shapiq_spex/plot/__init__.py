"""Plots for interactions in long texts: an HTML report a newcomer can read, and matplotlib views.

* :class:`TextExplanation`: one text's explanation; shows itself inline in Jupyter
  (``_repr_html_``) and saves a self-contained HTML report with a PNG beside it (``save``).
  :func:`write_report` does the same in one call; :func:`text_html` returns the HTML.
* :class:`Prediction` / :func:`prediction_from_game`: what the model predicted and which output
  the values explain (label, probability, unit, value with everything removed, masking).
* :func:`text_plot`: the text shaded by first-order values, groups as arcs (matplotlib).
* :func:`interaction_bar`: ranked horizontal bars of the strongest values (matplotlib).

All matplotlib functions accept ``ax=`` and return the ``Axes`` they drew on (``ax.figure`` is the
figure). matplotlib is imported only when a plot is drawn; the HTML needs no matplotlib.
"""

from __future__ import annotations

from shapiq_spex.plot.bars import interaction_bar
from shapiq_spex.plot.page import text_html
from shapiq_spex.plot.prediction import Prediction, prediction_from_game
from shapiq_spex.plot.report import TextExplanation, report_figure, write_report
from shapiq_spex.plot.text import layout_text, text_plot, top_interactions

__all__ = [
    "Prediction",
    "TextExplanation",
    "interaction_bar",
    "layout_text",
    "prediction_from_game",
    "report_figure",
    "text_html",
    "text_plot",
    "top_interactions",
    "write_report",
]
