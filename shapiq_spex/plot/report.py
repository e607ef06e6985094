"""The report of one text explanation: an object that shows itself in Jupyter and saves HTML + PNG.

:class:`TextExplanation` bundles what a reader needs (the values, the players, what was predicted
and explained, how faithful the values are) and renders the view of
:mod:`shapiq_spex.plot.page`: inline in a notebook through ``_repr_html_``, or as a
self-contained HTML file with a PNG beside it (:meth:`TextExplanation.save`, or
:func:`write_report`). shapiq's ``InteractionValues`` stay as they are: the wrapper holds them.
The CLI's :class:`~shapiq_spex.cli.explain.ExplainResult` displays the same view.

The PNG stacks :func:`~shapiq_spex.plot.text_plot` over :func:`~shapiq_spex.plot.interaction_bar`
with the same top-k as the HTML list, for places where HTML does not render.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.plot.bars import interaction_bar
from shapiq_spex.plot.page import View, check_prediction, explanation_html, report_rows
from shapiq_spex.plot.prediction import Prediction
from shapiq_spex.plot.text import (
    check_interaction_values,
    check_top_k,
    distinct_names,
    first_order_values,
    layout_text,
    norm_and_cmap,
    player_names,
    player_unit,
    text_plot,
    top_interactions,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from shapiq import InteractionValues

__all__ = ["TextExplanation", "report_figure", "report_rows", "write_report"]


class TextExplanation:
    """An explanation of one text, shown as the report in Jupyter and saved as HTML + PNG.

    Args:
        interaction_values: shapiq ``InteractionValues`` over the players.
        players: a :class:`~shapiq_spex.text.TextPlayers` or a list of player names.
        prediction: what is explained (:class:`~shapiq_spex.plot.Prediction`, e.g.
            :func:`~shapiq_spex.plot.prediction_from_game`); ``None`` leaves the answer section
            out and names colours only by sign.
        report: the approximator's ``report_`` (held-out R², queries, timing) or ``None``.
        meta: further ``{label: value}`` rows for "How this was computed".
        title: the heading; default ``"shapiq-spex explanation"``.
        k: players and groups in the ranked list, the bar chart and the PNG's arcs (one top-k
            everywhere). Defaults to ``10``.
        others: explanations of the same text for other classes (``TextExplanation`` objects):
            the report gets a switch between them.
        switch_hint: a sentence shown when only one class of several is explained (how to get
            the others).

    Example:
        >>> game = TextClassificationGame(text, "minilm-sentiment")  # doctest: +SKIP
        >>> approx = ProxySPEX(game.n_players, 2, "k-SII", random_state=0)  # doctest: +SKIP
        >>> iv = approx.approximate(800, game)  # doctest: +SKIP
        >>> TextExplanation.from_game(iv, game, report=approx.report_)  # doctest: +SKIP
    """

    def __init__(
        self,
        interaction_values: InteractionValues,
        players: Any,
        *,
        prediction: Prediction | None = None,
        report: Any = None,
        meta: dict | None = None,
        title: str | None = None,
        k: int = 10,
        others: Sequence[TextExplanation] = (),
        switch_hint: str | None = None,
    ) -> None:
        check_interaction_values(interaction_values)
        check_prediction(prediction)
        self.k = check_top_k(k)
        self.interaction_values = interaction_values
        self.players = players
        self.n_players = int(interaction_values.n_players)
        player_names(players, self.n_players)
        self.prediction = prediction
        self.report = report
        self.meta_rows = report_rows(None, meta)
        report_rows(report)  # checks the report's type now, not when displayed
        self.title = title
        self.switch_hint = switch_hint
        others = list(others)
        for other in others:
            if not isinstance(other, TextExplanation):
                msg = (
                    "The 'others' parameter must hold TextExplanation objects (one per other "
                    f"class). Got {type(other).__name__}."
                )
                raise InvalidParameterError(msg)
            if other.n_players != self.n_players:
                msg = (
                    f"The 'others' parameter holds an explanation of {other.n_players} players; "
                    f"this one has {self.n_players}: give explanations of the same text."
                )
                raise InvalidParameterError(msg)
        self.others = others

    @classmethod
    def from_game(cls, interaction_values: InteractionValues, game: Any, **kwargs: Any):
        """The explanation of a text game's values: players and prediction read off ``game``.

        Args:
            interaction_values: the values the game was explained with.
            game: a :class:`~shapiq_spex.TextClassificationGame` or
                :class:`~shapiq_spex.GenerationLogProbGame`.
            **kwargs: the other arguments of :class:`TextExplanation` (``report``, ``k``, ...).
        """
        from shapiq_spex.plot.prediction import prediction_from_game

        kwargs.setdefault("prediction", prediction_from_game(game))
        return cls(interaction_values, game.players, **kwargs)

    # ------------------------------------------------------------------------------ display
    def views(self) -> list[View]:
        """This explanation and the others, as the page's views (the switch's order)."""
        out = []
        for item in [self, *self.others]:
            p = item.prediction
            label = p.target_label if p is not None and p.is_classification else ""
            out.append(View(item.interaction_values, p, item.report, label or ""))
        return out

    def to_html(self, *, full_document: bool = True, extra_html: str = "") -> str:
        """The report as HTML: a whole page (``full_document``) or a fragment for embedding."""
        return explanation_html(
            self.views(),
            self.players,
            k=self.k,
            title=self.title,
            meta_rows=self.meta_rows,
            full_document=full_document,
            extra_html=extra_html,
            switch_hint=self.switch_hint,
        )

    def _repr_html_(self) -> str:
        """Jupyter's inline display: the report's view as a fragment (scoped style and script)."""
        return self.to_html(full_document=False)

    def __repr__(self) -> str:
        what = self.prediction.output_phrase() if self.prediction is not None else "values"
        return (
            f"TextExplanation({self.n_players} players, {what}, "
            f"{len(self.others) + 1} view(s), k={self.k})"
        )

    def figure(self, *, line_width: int = 100) -> Figure:
        """The PNG's figure (:func:`report_figure`) of the first view; close it when done."""
        return report_figure(
            self.interaction_values,
            self.players,
            k=self.k,
            line_width=line_width,
            title=self.title,
            prediction=self.prediction,
        )

    def save(
        self, path_html: str | Path, *, png: bool = True, line_width: int = 100
    ) -> tuple[Path, Path | None]:
        """Write the HTML report, and (``png=True``) a PNG of the same figures beside it.

        Args:
            path_html: where the HTML goes (its folder must exist); the PNG gets the same name
                with ``.png``.
            png: also write the PNG. Defaults to ``True``.
            line_width: characters per line of the PNG's text. Defaults to ``100``.

        Returns:
            ``(html_path, png_path or None)``.

        Raises:
            InvalidParameterError: a folder that does not exist, or a path ending in ``.png``.
        """
        path_html = Path(path_html)
        if not path_html.parent.is_dir():
            msg = (
                f"The 'path_html' parameter points into {str(path_html.parent)!r}, which is not "
                "an existing folder; create it first or choose another path."
            )
            raise InvalidParameterError(msg)
        if path_html.suffix.lower() == ".png":
            msg = (
                "The 'path_html' parameter must not end in .png (the PNG goes beside it): "
                f"{path_html}"
            )
            raise InvalidParameterError(msg)
        png_path = None
        if png:
            import matplotlib.pyplot as plt

            png_path = path_html.with_suffix(".png")
            fig = self.figure(line_width=line_width)
            try:
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
            finally:
                plt.close(fig)
            png_path.write_bytes(buf.getvalue())
        note = (
            f"<p>A still image of the text and the top {self.k} values is saved beside this "
            f"file as <code>{png_path.name}</code>.</p>"
            if png_path is not None
            else ""
        )
        path_html.write_text(self.to_html(extra_html=note), encoding="utf-8")
        return path_html, png_path


def report_figure(
    interaction_values: InteractionValues,
    players: Any,
    *,
    k: int = 10,
    line_width: int = 100,
    title: str | None = None,
    cmap: Any = "RdBu_r",
    prediction: Prediction | None = None,
) -> Figure:
    """One figure: the text (:func:`text_plot`) above the bars (:func:`interaction_bar`).

    Both show the same top ``k`` (all orders, strongest ``|value|`` first): the bars are those
    ``k``, the arcs the groups of two or more among them.

    Returns:
        The matplotlib ``Figure`` (close it when done).
    """
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable

    check_prediction(prediction)
    n = int(interaction_values.n_players)
    unit = player_unit(players, prediction.player_kind if prediction is not None else None)
    names = distinct_names(player_names(players, n), unit, limit=60)
    top = top_interactions(interaction_values, k, min_order=1)
    groups = [key for key, _ in top if len(key) >= 2]
    lines = max(layout_text(players, n, line_width=line_width).n_lines, 1)
    n_bars = max(len(top), 1)
    # heights in inches, top to bottom: title, text, colour bar, gap, bars, x label
    fig_w = 11.0
    fontsize = min(12.0, fig_w * 0.94 * 72 / ((line_width + 1) * 0.62))
    parts = [0.45, min(lines * 2.1 * fontsize * 1.5 / 72 + 0.3, 200.0), 0.6, 0.35]
    parts += [0.3 * n_bars + 0.2, 0.6]
    fig_h = sum(parts)
    fig = plt.figure(figsize=(fig_w, fig_h))

    def box(i: int, left: float, width: float, pad: float = 0.0) -> list[float]:
        top_ = sum(parts[:i])
        return [left, 1 - (top_ + parts[i] - pad) / fig_h, width, (parts[i] - 2 * pad) / fig_h]

    what = prediction.output_phrase() if prediction is not None else "the explained value"
    ax_text = fig.add_axes(box(1, 0.03, 0.94))
    text_plot(
        interaction_values, players, line_width=line_width, ax=ax_text, colorbar=False,
        interactions=groups,
    )  # fmt: skip
    fig.suptitle(title or "", y=1 - 0.1 / fig_h, fontsize=12)
    norm, cm = norm_and_cmap(first_order_values(interaction_values), cmap)
    cax = fig.add_axes(box(2, 0.3, 0.4, pad=0.15))
    cbar = fig.colorbar(ScalarMappable(norm=norm, cmap=cm), cax=cax, orientation="horizontal")
    cbar.set_label(f"own effect on {what} (red raises it, blue lowers it)", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    ax_bar = fig.add_axes(box(4, 0.3, 0.66))
    interaction_bar(
        interaction_values, names, k, ax=ax_bar, label_chars=60, show_order=False, unit=unit
    )
    ax_bar.set_xlabel(f"{interaction_values.index} value on {what}")
    return fig


def write_report(
    path_html: str | Path,
    interaction_values: InteractionValues,
    players: Any,
    report: Any = None,
    meta: dict | None = None,
    *,
    prediction: Prediction | None = None,
    k: int = 10,
    line_width: int = 100,
    title: str | None = None,
    others: Sequence[TextExplanation] = (),
) -> tuple[Path, Path]:
    """Write the HTML report and a PNG beside it (:meth:`TextExplanation.save`).

    Args:
        path_html: where to write the HTML (its folder must exist); the PNG goes to the same path
            with the suffix ``.png``.
        interaction_values: shapiq ``InteractionValues`` over the players.
        players: a :class:`~shapiq_spex.text.TextPlayers` or a list of names.
        report: the approximator's ``report_`` (or a dict, or ``None``).
        meta: further rows for "How this was computed" (model, text length, timing, ...).
        prediction: what is explained (:class:`~shapiq_spex.plot.Prediction`). Defaults to
            ``None``.
        k: players and groups in the list, the bars and the PNG (one top-k). Defaults to ``10``.
        line_width: characters per line of the PNG's text. Defaults to ``100``.
        title: page and figure title; default ``"shapiq-spex explanation"``.
        others: explanations of other classes of the same text, for the class switch.

    Returns:
        ``(html_path, png_path)``.

    Raises:
        InvalidParameterError: bad arguments, or a folder for ``path_html`` that does not exist.
    """
    explanation = TextExplanation(
        interaction_values, players, prediction=prediction, report=report, meta=meta,
        title=title, k=k, others=others,
    )  # fmt: skip
    html_path, png_path = explanation.save(path_html, line_width=line_width)
    return html_path, png_path
