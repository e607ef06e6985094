"""A self-contained HTML report of one text explanation, with a PNG of the same figures beside it.

The HTML holds everything inline (no external files or fonts): a metadata table (model,
method, queries, held-out R², timing, ...), the interactive text view of
:func:`~shapiq_spex.plot.text_html`, the bar chart of :func:`~shapiq_spex.plot.interaction_bar`
as a base64 PNG, and a table of the top interactions. The PNG next to it (same name, ``.png``)
stacks :func:`~shapiq_spex.plot.text_plot` over the bar chart, for places where HTML does not
render.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.plot.bars import interaction_bar
from shapiq_spex.plot.text import (
    _norm_and_cmap,
    check_interaction_values,
    check_top_k,
    first_order_values,
    interaction_label,
    layout_text,
    player_names,
    text_html,
    text_plot,
    top_interactions,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from shapiq import InteractionValues

__all__ = ["report_figure", "report_rows", "write_report"]

_REPORT_FIELDS = (
    ("method", "method"),
    ("budget", "budget"),
    ("queries", "queries"),
    ("faithfulness_r2", "held-out R²"),
    ("n_holdout", "held-out coalitions"),
    ("support_size", "spectrum terms"),
    ("game_time_s", "model time (s)"),
    ("overhead_time_s", "overhead time (s)"),
    ("total_time_s", "explainer time (s)"),
    ("random_state", "seed"),
)

_PAGE_CSS = """
body { font-family: system-ui, -apple-system, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; }
"""


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return "n/a"
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return str(value)


def report_rows(report: Any = None, meta: dict | None = None) -> list[tuple[str, str]]:
    """``(label, formatted value)`` rows of the metadata table.

    Args:
        report: an :class:`~shapiq_spex.approximators._base.ApproximationReport` (or a dict with
            the same fields); ``None`` = none.
        meta: further ``{label: value}`` entries (model, text length, index, timing, ...), shown
            first. Nested dicts are flattened into ``key=value`` lists.

    Returns:
        The rows, in display order.
    """
    if meta is not None and not isinstance(meta, dict):
        msg = f"The 'meta' parameter must be a dict of label -> value or None. Got {meta!r}."
        raise InvalidParameterError(msg)
    rows = [(str(k), _fmt(v)) for k, v in (meta or {}).items()]
    if report is None:
        return rows
    if is_dataclass(report) and not isinstance(report, type):
        data = asdict(report)
        overhead = getattr(report, "overhead_time_s", None)
        if overhead is not None:
            data["overhead_time_s"] = overhead
    elif isinstance(report, dict):
        data = dict(report)
    else:
        msg = (
            "The 'report' parameter must be an ApproximationReport (e.g. approximator.report_), a "
            f"dict or None. Got {type(report).__name__}."
        )
        raise InvalidParameterError(msg)
    seen = {label for label, _ in rows}
    for key, label in _REPORT_FIELDS:
        if key in data and label not in seen and key not in seen:
            rows.append((label, _fmt(data[key])))
    return rows


def report_figure(
    interaction_values: InteractionValues,
    players: Any,
    *,
    k: int = 10,
    bar_k: int = 20,
    line_width: int = 100,
    title: str | None = None,
    cmap: Any = "RdBu_r",
) -> Figure:
    """One figure: the text view (:func:`text_plot`) above the bar chart (:func:`interaction_bar`).

    Returns:
        The matplotlib ``Figure`` (close it when done).
    """
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable

    n = int(interaction_values.n_players)
    names = player_names(players, n)
    lines = max(layout_text(players, n, line_width=line_width).n_lines, 1)
    n_bars = max(len(top_interactions(interaction_values, bar_k, min_order=1)), 1)
    # heights in inches, top to bottom: title, text, colour bar, gap, bars, x label
    fig_w = 11.0
    fontsize = min(12.0, fig_w * 0.94 * 72 / ((line_width + 1) * 0.62))
    parts = [0.45, min(lines * 2.1 * fontsize * 1.5 / 72 + 0.3, 200.0), 0.55, 0.35]
    parts += [0.3 * n_bars + 0.2, 0.6]
    fig_h = sum(parts)
    fig = plt.figure(figsize=(fig_w, fig_h))

    def box(i: int, left: float, width: float, pad: float = 0.0) -> list[float]:
        top = sum(parts[:i])
        return [left, 1 - (top + parts[i] - pad) / fig_h, width, (parts[i] - 2 * pad) / fig_h]

    ax_text = fig.add_axes(box(1, 0.03, 0.94))
    text_plot(interaction_values, players, k=k, line_width=line_width, ax=ax_text, colorbar=False)
    fig.suptitle(title or "", y=1 - 0.1 / fig_h, fontsize=12)
    norm, cm = _norm_and_cmap(first_order_values(interaction_values), cmap)
    cax = fig.add_axes(box(2, 0.35, 0.3, pad=0.15))
    cbar = fig.colorbar(ScalarMappable(norm=norm, cmap=cm), cax=cax, orientation="horizontal")
    cbar.set_label("first-order value", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    ax_bar = fig.add_axes(box(4, 0.3, 0.66))
    interaction_bar(interaction_values, names, bar_k, ax=ax_bar)
    return fig


def _png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def write_report(
    path_html: str | Path,
    interaction_values: InteractionValues,
    players: Any,
    report: Any = None,
    meta: dict | None = None,
    *,
    k: int = 10,
    bar_k: int = 20,
    table_k: int = 30,
    line_width: int = 100,
    title: str | None = None,
) -> tuple[Path, Path]:
    """Write the HTML report and a PNG beside it.

    Args:
        path_html: where to write the HTML (its folder must exist); the PNG goes to the same path
            with the suffix ``.png``.
        interaction_values: shapiq ``InteractionValues`` over the players.
        players: a :class:`~shapiq_spex.text.TextPlayers` or a list of names.
        report: the approximator's ``report_`` (or a dict, or ``None``).
        meta: further metadata rows (model, method, text length, timing, ...).
        k: interactions drawn as arcs. Defaults to ``10``.
        bar_k: bars in the bar chart. Defaults to ``20``.
        table_k: rows in the interaction table. Defaults to ``30``.
        line_width: characters per line of the text views. Defaults to ``100``.
        title: page and figure title; default ``"shapiq-spex explanation"``.

    Returns:
        ``(html_path, png_path)``.

    Raises:
        InvalidParameterError: bad arguments, or a folder for ``path_html`` that does not exist.
    """
    import matplotlib.pyplot as plt

    check_interaction_values(interaction_values)
    table_k = check_top_k(table_k, "table_k")
    path_html = Path(path_html)
    if not path_html.parent.is_dir():
        msg = (
            f"The 'path_html' parameter points into {str(path_html.parent)!r}, which is not an "
            "existing folder; create it first or choose another path."
        )
        raise InvalidParameterError(msg)
    if path_html.suffix.lower() == ".png":
        msg = (
            f"The 'path_html' parameter must not end in .png (the PNG goes beside it): {path_html}"
        )
        raise InvalidParameterError(msg)
    png_path = path_html.with_suffix(".png")
    title = title or "shapiq-spex explanation"
    n = int(interaction_values.n_players)
    names = player_names(players, n)
    rows = report_rows(report, meta)

    fig = report_figure(
        interaction_values, players, k=k, bar_k=bar_k, line_width=line_width, title=title
    )
    try:
        fig.savefig(png_path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    bar_ax = interaction_bar(interaction_values, names, bar_k)
    try:
        bar_png = base64.b64encode(_png_bytes(bar_ax.figure)).decode("ascii")
    finally:
        plt.close(bar_ax.figure)

    meta_html = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    top = top_interactions(interaction_values, table_k, min_order=1)
    inter_html = "".join(
        f"<tr><td class='num'>{rank}</td><td>{html.escape(interaction_label(names, key, 60))}</td>"
        f"<td class='num'>{len(key)}</td><td class='num'>{value:+.5g}</td>"
        f"<td>{' '.join(str(p) for p in key)}</td></tr>"
        for rank, (key, value) in enumerate(top, start=1)
    )
    text_view = text_html(
        interaction_values, players, k=k, line_width=line_width, full_document=False
    )
    index = html.escape(str(getattr(interaction_values, "index", "")))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_PAGE_CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<table class="meta">{meta_html}</table>
<h2>Text ({n} players; shading: first-order {index}; arcs: top {k} interactions)</h2>
{text_view}
<h2>Top interactions by |value|</h2>
<img alt="bar chart of the top interactions" src="data:image/png;base64,{bar_png}">
<h2>Table</h2>
<table class="inter"><tr><th>#</th><th>words</th><th>order</th><th>value</th><th>players</th></tr>
{inter_html}</table>
</body></html>
"""
    path_html.write_text(page, encoding="utf-8")
    return path_html, png_path
