"""Ranked bar chart of the strongest interactions, labelled with the words they join."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.plot.text import (
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    distinct_names,
    interaction_label,
    player_names,
    player_unit,
    top_interactions,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from shapiq import InteractionValues

__all__ = ["interaction_bar"]


def interaction_bar(
    interaction_values: InteractionValues,
    names: Any,
    k: int = 20,
    *,
    min_order: int = 1,
    max_order: int | None = None,
    label_chars: int = 24,
    title: str | None = None,
    show_order: bool = True,
    unit: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Horizontal bars of the ``k`` interactions with the largest ``|value|``, strongest on top.

    Args:
        interaction_values: shapiq ``InteractionValues``.
        names: player names (a list of strings or a :class:`~shapiq_spex.text.TextPlayers`); a
            name that occurs more than once is shown with its position (``"not (word 4)"``).
        k: number of bars. Defaults to ``20``.
        min_order: smallest order shown (``1`` includes single players). Defaults to ``1``.
        max_order: largest order shown; ``None`` = all. Defaults to ``None``.
        label_chars: longest name in a label before it is shortened with "…". Defaults to ``24``.
        title: axes title. Defaults to ``None``.
        show_order: append the order to each label (``"not × bad (2)"``). Defaults to ``True``.
        unit: what one player is called in labels and the axis title (``"word"``, ``"token"``,
            ``"sentence"``); ``None`` takes the granularity of ``names`` when it is a
            ``TextPlayers``, else ``"player"``.
        ax: axes to draw into; ``None`` creates a figure sized to ``k``.

    Returns:
        The ``Axes``; bar ``i`` (from the top) is ``ax.patches[i]``, positive values in red and
        negative ones in blue, labelled ``"word × word (order)"``.
    """
    import matplotlib.pyplot as plt

    if isinstance(min_order, bool) or not isinstance(min_order, int) or min_order < 1:
        msg = f"The 'min_order' parameter must be an int >= 1. Got {min_order!r}."
        raise InvalidParameterError(msg)
    if isinstance(label_chars, bool) or not isinstance(label_chars, int) or label_chars < 4:
        msg = f"The 'label_chars' parameter must be an int >= 4. Got {label_chars!r}."
        raise InvalidParameterError(msg)
    top = top_interactions(interaction_values, k, min_order=min_order, max_order=max_order)
    unit = player_unit(names, unit)
    names = distinct_names(player_names(names, int(interaction_values.n_players), "names"), unit)
    created = ax is None
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, max(1.5, 0.6 + 0.3 * max(len(top), 1))))
    suffix = (lambda key: f" ({len(key)})") if show_order else (lambda key: "")
    labels = [f"{interaction_label(names, key, label_chars)}{suffix(key)}" for key, _ in top]
    values = [v for _, v in top]
    colours = [POSITIVE_COLOR if v > 0 else NEGATIVE_COLOR for v in values]
    positions = list(range(len(top)))[::-1]  # the strongest at the top
    ax.barh(positions, values, color=colours, height=0.7)
    ax.set_yticks(positions, labels)
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.tick_params(axis="y", labelsize=8)
    what = f"{unit}s, order" if show_order else f"{unit}s"
    ax.set_xlabel(f"{getattr(interaction_values, 'index', '')} value (label: {what})")
    ax.spines[["top", "right"]].set_visible(False)
    if top:
        ax.set_ylim(-0.6, len(top) - 0.4)
    if title:
        ax.set_title(title)
    if created:
        ax.figure.tight_layout()
    return ax
