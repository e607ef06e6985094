"""Interactions drawn on the text itself (matplotlib), for texts of a few words up to a thousand.

The text is laid out by :func:`layout_text` in a monospace grid of ``line_width`` character
cells and wrapped at word boundaries (long players such as sentences wrap inside themselves), so
positions are known exactly without measuring rendered text.

:func:`text_plot` shades each player by its first-order value (diverging colormap centred at 0)
and draws the ``k`` strongest interactions of order >= 2 (or an explicit list) above the text: a
pair as an arc joining its two players, a higher-order interaction as curves from each member to
one hub marker. Colour = sign (the colormap's positive or negative end), line width and opacity =
magnitude. The interactive HTML view that reflows to any screen is
:func:`~shapiq_spex.plot.text_html` (:mod:`shapiq_spex.plot.page`); this module also holds the
helpers both share (:func:`top_interactions`, :func:`text_pieces`, :func:`player_names`).

Every drawn artist carries a ``gid``: ``"player:<i>"`` for the shading of player ``i`` and
``"interaction:<i>-<j>[-...]"`` for the curves (and hub marker) of one interaction, so the
drawing can be checked programmatically.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from shapiq import InteractionValues

__all__ = [
    "JOINER",
    "NEGATIVE_COLOR",
    "POSITIVE_COLOR",
    "TextLayout",
    "first_order_values",
    "layout_text",
    "norm_and_cmap",
    "player_names",
    "text_pieces",
    "text_plot",
    "top_interactions",
]

#: Colours of positive and negative values (the ends of ``RdBu_r``, as shapiq: red up, blue down).
POSITIVE_COLOR = "#c0273d"
NEGATIVE_COLOR = "#2166ac"
_DEFAULT_CMAP = "RdBu_r"
_CHAR_EM = 0.62  # advance of one monospace character in em (DejaVu Sans Mono: 0.602) + slack
_ARC_ROOM = 1.1  # vertical room above each line for arcs, in line units
_BOX_HALF = 0.36  # half height of a player's shading box, in line units
_SPACE = re.compile(r"\s+")
#: Separator of player names in interaction labels (" × ").
JOINER = " \u00d7 "


# ---------------------------------------------------------------------------------- inputs
def player_names(players: Any, n_players: int | None = None, param: str = "players") -> list[str]:
    """The names of ``players``: a :class:`~shapiq_spex.text.TextPlayers` or a list of strings.

    Args:
        players: a ``TextPlayers`` (its ``names``) or a sequence of strings.
        n_players: if given, the number of names required.
        param: the caller's name for the argument, used in the errors.

    Raises:
        InvalidParameterError: not names, or not ``n_players`` of them.
    """
    names = getattr(players, "names", players)
    if isinstance(names, str) or not isinstance(names, Sequence):
        msg = (
            f"The '{param}' parameter must be a TextPlayers object or a list of player names "
            f"(strings). Got {type(players).__name__}."
        )
        raise InvalidParameterError(msg)
    names = [str(name) for name in names]
    if n_players is not None and len(names) != n_players:
        msg = (
            f"The '{param}' parameter has {len(names)} names but the interaction values have "
            f"{n_players} players; pass the players the values were computed for."
        )
        raise InvalidParameterError(msg)
    return names


def player_unit(players: Any, kind: str | None = None) -> str:
    """What one player is called: ``"word"``, ``"token"``, ``"sentence"`` or ``"player"``.

    ``kind`` when given, else the granularity of a :class:`~shapiq_spex.text.TextPlayers`.
    """
    unit = kind or getattr(players, "granularity", None)
    return unit if unit in ("word", "token", "sentence") else "player"


def distinct_names(names: list[str], unit: str = "player", limit: int | None = None) -> list[str]:
    """Names a reader can tell apart: a name that occurs more than once gets its position.

    ``["not", "good", "not"]`` -> ``["not (word 1)", "good", "not (word 3)"]`` (positions from
    1, as the report and the command line give them); with ``limit`` each name is first cut to
    that many characters ("…").
    """
    counts = Counter(n.strip() for n in names)
    out = []
    for i, name in enumerate(names):
        shown = name.strip() or name
        if limit is not None and len(shown) > limit:
            shown = shown[: limit - 1] + "…"
        out.append(f"{shown} ({unit} {i + 1})" if counts[name.strip()] > 1 else shown)
    return out


def check_interaction_values(interaction_values) -> None:
    """Raise unless ``interaction_values`` looks like shapiq ``InteractionValues``."""
    if not isinstance(getattr(interaction_values, "interactions", None), dict):
        msg = (
            "The 'interaction_values' parameter must be shapiq InteractionValues (with an "
            f"'interactions' dict). Got {type(interaction_values).__name__}."
        )
        raise InvalidParameterError(msg)
    bad = [k for k, v in interaction_values.interactions.items() if not np.isfinite(v)]
    if bad:  # a NaN colour scale paints every word wrong without any error
        msg = (
            f"The 'interaction_values' parameter holds {len(bad)} non-finite values (NaN or "
            f"inf), e.g. at {bad[0]}; plot values from a run whose game values were finite."
        )
        raise InvalidParameterError(msg)


def check_top_k(k, name: str = "k") -> int:
    """Return ``k`` as a non-negative int, else raise naming ``name``."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        msg = f"The '{name}' parameter must be a non-negative int. Got {k!r}."
        raise InvalidParameterError(msg)
    return int(k)


def first_order_values(interaction_values: InteractionValues) -> np.ndarray:
    """``(n_players,)`` first-order values (0 for players without an order-1 entry)."""
    check_interaction_values(interaction_values)
    out = np.zeros(int(interaction_values.n_players))
    for key, value in interaction_values.interactions.items():
        if len(key) == 1:
            out[int(key[0])] = float(value)
    return out


def top_interactions(
    interaction_values: InteractionValues,
    k: int,
    *,
    min_order: int = 2,
    max_order: int | None = None,
) -> list[tuple[tuple[int, ...], float]]:
    """The ``k`` interactions of order in ``[min_order, max_order]`` with the largest ``|value|``.

    Ties are broken by order, then by the players (ascending), so the result is deterministic.
    Zero values are never returned.

    Returns:
        ``[(players, value), ...]`` sorted by decreasing ``|value|``.
    """
    check_interaction_values(interaction_values)
    k = check_top_k(k)
    items = [
        (tuple(int(p) for p in key), float(v))
        for key, v in interaction_values.interactions.items()
        if len(key) >= min_order and (max_order is None or len(key) <= max_order) and v != 0.0
    ]
    items.sort(key=lambda kv: (-abs(kv[1]), len(kv[0]), kv[0]))
    return items[:k]


# ---------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class TextLayout:
    """Where every piece of the text goes on a monospace grid.

    Attributes:
        line_width: characters per line.
        n_lines: number of lines used.
        segments: ``(player, line, x0, x1, text)`` per piece; ``player`` is ``-1`` for text that
            belongs to no player; ``x0``/``x1`` are character cells (``x1`` exclusive).
        anchors: ``(n_players, 2)`` float ``(x, line)`` where arcs attach to each player (the
            centre of its longest piece).
    """

    line_width: int
    n_lines: int
    segments: tuple[tuple[int, int, int, int, str], ...]
    anchors: np.ndarray


def text_pieces(players: Any, names: list[str]) -> list[tuple[int, str, bool, bool]]:
    """``(player or -1, text, space_before, newline_before)`` in reading order.

    With a ``TextPlayers`` the gaps between spans decide: white space gives a space (a line break
    in it, a new line), no gap gives none, and other characters become a piece of their own.
    With plain names every name after the first gets a space.
    """
    spans = getattr(players, "spans", None)
    text = getattr(players, "text", None)
    if spans is None or not isinstance(text, str):
        return [(i, name, i > 0, False) for i, name in enumerate(names)]
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    out: list[tuple[int, str, bool, bool]] = []
    pos = int(spans[0, 0]) if spans.shape[0] else 0
    for i, (s, e) in enumerate(spans.tolist()):
        gap = text[pos:s]
        core = gap.strip()
        if core:  # text between players that belongs to none of them
            lead = gap[: len(gap) - len(gap.lstrip())]
            out.append((-1, core, bool(lead) or not out, "\n" in lead))
            gap = gap[len(gap.rstrip()) :]
        out.append((i, text[s:e], bool(gap) and bool(out), "\n" in gap))
        pos = e
    return out


def layout_text(players: Any, n_players: int | None = None, *, line_width: int = 100) -> TextLayout:
    """Wrap the players of a text into lines of ``line_width`` monospace cells.

    Players are separated by one space where the text has white space between them (and none
    where it has none, e.g. before punctuation); a line break in the text starts a new line. A
    player longer than the space left on a line wraps at its own white space (and, failing that,
    anywhere).

    Args:
        players: a :class:`~shapiq_spex.text.TextPlayers` (its spans and text give the exact
            spacing) or a list of names (joined by single spaces).
        n_players: number of players expected (checked when given).
        line_width: characters per line (``>= 10``).

    Returns:
        A :class:`TextLayout`.
    """
    names = player_names(players, n_players)
    ok = not isinstance(line_width, bool) and isinstance(line_width, int | np.integer)
    if not ok or line_width < 10:
        msg = f"The 'line_width' parameter must be an int >= 10 (characters). Got {line_width!r}."
        raise InvalidParameterError(msg)
    line_width = int(line_width)
    segments: list[tuple[int, int, int, int, str]] = []
    line, x = 0, 0
    for player, piece, spaced, newline in text_pieces(players, names):
        if newline and x > 0:
            line, x = line + 1, 0
        if spaced and x > 0:
            x += 1
        words = [w for w in _SPACE.split(piece.strip()) if w] or [piece]
        seg_start: int | None = None
        seg_text: list[str] = []
        for word in words:
            for i in range(0, len(word), line_width):
                part = word[i : i + line_width]
                need = len(part) + (1 if seg_text else 0)
                if x + need > line_width and x > 0:
                    if seg_text:
                        segments.append((player, line, seg_start, x, " ".join(seg_text)))
                    line, x, seg_start, seg_text = line + 1, 0, None, []
                    need = len(part)
                if seg_start is None:
                    seg_start = x
                x += need
                seg_text.append(part)
        if seg_text:
            segments.append((player, line, seg_start, x, " ".join(seg_text)))
    n = len(names)
    anchors = np.zeros((n, 2))
    best = np.full(n, -1)
    for player, ln, x0, x1, _ in segments:
        if player >= 0 and x1 - x0 > best[player]:
            best[player] = x1 - x0
            anchors[player] = ((x0 + x1) / 2.0, ln)
    return TextLayout(line_width, line + 1 if segments else 0, tuple(segments), anchors)


# ---------------------------------------------------------------------------------- colours
def norm_and_cmap(values: np.ndarray, cmap):
    """A norm centred at 0 spanning ``max |values|``, and the colormap ``cmap`` (name or object)."""
    import matplotlib as mpl
    from matplotlib.colors import CenteredNorm

    cm = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    half = float(np.max(np.abs(values))) if values.size else 0.0
    return CenteredNorm(0.0, half if half > 0 else 1.0), cm


def _interaction_style(value: float, vmax: float) -> tuple[str, float, float]:
    """``(colour, line width, alpha)`` of an interaction curve."""
    rel = abs(value) / vmax if vmax > 0 else 0.0
    colour = POSITIVE_COLOR if value > 0 else NEGATIVE_COLOR
    return colour, 0.8 + 3.2 * rel, 0.45 + 0.55 * rel


def interaction_label(names: list[str], players: tuple[int, ...], limit: int = 24) -> str:
    """The players' names joined for a legend or table, each cut to ``limit`` characters."""
    parts = []
    for p in players:
        name = names[p]
        parts.append(name if len(name) <= limit else name[: limit - 1] + "…")
    return JOINER.join(parts)


def _curves(
    layout: TextLayout, key: tuple[int, ...], pitch: float
) -> tuple[list[list[tuple[float, float]]], tuple[float, float] | None]:
    """Cubic Bézier control points of the curves of one interaction, and its hub (or None).

    Coordinates: x in character cells, y upwards in line units (line ``l`` has its centre at
    ``-l * pitch``).
    """
    pts = [(float(layout.anchors[p, 0]), -float(layout.anchors[p, 1]) * pitch) for p in key]
    top = [(x, y + _BOX_HALF + 0.04) for x, y in pts]
    width = max(layout.line_width, 1)
    if len(key) == 2:
        (x0, y0), (x1, y1) = top
        dist = abs(x1 - x0) / width + abs(y1 - y0) / pitch
        h = min(_ARC_ROOM * 0.92, 0.3 + 0.9 * dist)
        return [[(x0, y0), (x0, y0 + h), (x1, y1 + h), (x1, y1)]], None
    hx = float(np.mean([x for x, _ in top]))
    hy = max(y for _, y in top) + _ARC_ROOM * 0.8
    curves = [[(x, y), (x, y + 0.5 * (hy - y)), (hx, hy - 0.2), (hx, hy)] for x, y in top]
    return curves, (hx, hy)


# ---------------------------------------------------------------------------------- matplotlib
def text_plot(
    interaction_values: InteractionValues,
    players: Any,
    *,
    k: int = 10,
    min_order: int = 2,
    line_width: int = 100,
    cmap: Any = _DEFAULT_CMAP,
    fontsize: float | None = None,
    colorbar: bool = True,
    colorbar_label: str = "first-order value",
    title: str | None = None,
    interactions: Sequence[tuple[int, ...]] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the text with players shaded by first-order value and the top interactions as arcs.

    Args:
        interaction_values: shapiq ``InteractionValues`` over the players of the text.
        players: a :class:`~shapiq_spex.text.TextPlayers` (exact spacing) or a list of names.
        k: number of interactions of order ``>= min_order`` drawn (largest ``|value|`` first).
            Defaults to ``10``.
        min_order: smallest order drawn as arcs (``>= 2``). Defaults to ``2``.
        line_width: characters per line before wrapping. Defaults to ``100``.
        cmap: diverging colormap (name or object) for the first-order shading, centred at 0.
            Defaults to ``"RdBu_r"`` (blue negative, red positive).
        fontsize: font size in points; ``None`` fits ``line_width`` characters to the axes width.
        colorbar: add a colour bar of the first-order values. Defaults to ``True``.
        colorbar_label: the colour bar's label. Defaults to ``"first-order value"``.
        title: axes title. Defaults to ``None``.
        interactions: draw exactly these interactions (player tuples of order >= 2, e.g. those
            of a report's top-k list) instead of the ``k`` strongest. Defaults to ``None``.
        ax: axes to draw into; ``None`` creates a figure sized to the text.

    Returns:
        The ``Axes`` (``ax.figure`` is the figure). Player boxes have ``gid="player:<i>"``, the
        curves and hub markers of an interaction ``gid="interaction:<i>-<j>..."``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path

    check_interaction_values(interaction_values)
    k = check_top_k(k)
    if isinstance(min_order, bool) or not isinstance(min_order, int) or min_order < 2:
        msg = f"The 'min_order' parameter must be an int >= 2. Got {min_order!r}."
        raise InvalidParameterError(msg)
    n = int(interaction_values.n_players)
    layout = layout_text(players, n, line_width=line_width)
    names = player_names(players, n)
    phi = first_order_values(interaction_values)
    norm, cm = norm_and_cmap(phi, cmap)
    if interactions is None:
        top = top_interactions(interaction_values, k, min_order=min_order)
    else:
        top = _given_interactions(interaction_values, interactions, n)
    pitch = 1.0 + (_ARC_ROOM if top else 0.25)
    n_lines = max(layout.n_lines, 1)

    if ax is None:
        fig_w = 10.0
        size = fontsize or min(12.0, fig_w * 0.96 * 72 / ((line_width + 1) * _CHAR_EM))
        line_in = size * 1.5 / 72
        fig_h = min(max(1.2, n_lines * pitch * line_in + 0.6 + (0.5 if colorbar else 0)), 300)
        fig, ax = plt.subplots(figsize=(fig_w, fig_h))
        fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.3 / fig_h, bottom=0.35 / fig_h)
    fig = ax.figure
    if fontsize is None:
        bbox = ax.get_position()
        width_in = fig.get_size_inches()[0] * bbox.width
        fontsize = max(3.0, min(12.0, width_in * 72 / ((line_width + 1) * _CHAR_EM)))

    for player, line, x0, x1, piece in layout.segments:
        y = -line * pitch
        if player >= 0:
            face = cm(norm(phi[player]))
            ax.add_artist(
                Rectangle(
                    (x0 - 0.1, y - _BOX_HALF),
                    x1 - x0 + 0.2,
                    2 * _BOX_HALF,
                    facecolor=face,
                    edgecolor="none",
                    gid=f"player:{player}",
                )
            )
            dark = abs(float(norm(phi[player])) - 0.5) > 0.36
            colour = "white" if dark else "black"
        else:
            colour = "0.45"
        ax.text(
            (x0 + x1) / 2.0,
            y,
            piece,
            ha="center",
            va="center_baseline",
            family="monospace",
            fontsize=fontsize,
            color=colour,
        )

    vmax = max((abs(v) for _, v in top), default=0.0)
    for key, value in top:
        colour, lw, alpha = _interaction_style(value, vmax)
        gid = "interaction:" + "-".join(str(p) for p in key)
        curves, hub = _curves(layout, key, pitch)
        for pts in curves:
            path = Path(pts, [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4])
            ax.add_artist(
                PathPatch(
                    path,
                    facecolor="none",
                    edgecolor=colour,
                    linewidth=lw,
                    alpha=alpha,
                    gid=gid,
                    label=f"{interaction_label(names, key)}: {value:+.4g}",
                    capstyle="round",
                )
            )
        if hub is not None:
            (marker,) = ax.plot(
                [hub[0]], [hub[1]], "o", color=colour, markersize=3 + lw, alpha=alpha, gid=gid
            )
            marker.set_label(f"{interaction_label(names, key)}: {value:+.4g}")

    ax.set_xlim(-0.5, line_width + 0.5)
    ax.set_ylim(-(n_lines - 1) * pitch - 0.6, (_ARC_ROOM if top else 0.0) + 0.6)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=max(fontsize, 9))
    if colorbar:
        from matplotlib.cm import ScalarMappable

        sm = ScalarMappable(norm=norm, cmap=cm)
        cbar = fig.colorbar(
            sm, ax=ax, orientation="horizontal", fraction=0.04, pad=0.01, aspect=60, shrink=0.5
        )
        cbar.set_label(colorbar_label, fontsize=8)
        cbar.ax.tick_params(labelsize=7)
    return ax


def _given_interactions(
    interaction_values: InteractionValues, interactions: Sequence[tuple[int, ...]], n: int
) -> list[tuple[tuple[int, ...], float]]:
    """``[(players, value), ...]`` of an explicit list of interactions, checked."""
    if isinstance(interactions, str) or not isinstance(interactions, Sequence):
        msg = (
            "The 'interactions' parameter must be a list of player tuples such as [(0, 3)]. "
            f"Got {type(interactions).__name__}."
        )
        raise InvalidParameterError(msg)
    out = []
    for key in interactions:
        key = tuple(int(p) for p in key)
        if len(key) < 2 or len(set(key)) != len(key) or not all(0 <= p < n for p in key):
            msg = (
                f"The 'interactions' parameter holds {key!r}: each entry must be 2 or more "
                f"distinct players in [0, {n})."
            )
            raise InvalidParameterError(msg)
        out.append((key, float(interaction_values[key])))
    return out
