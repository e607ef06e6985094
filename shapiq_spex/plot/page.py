"""The HTML explanation view: the answer first, then the text and one ranked list, then details.

One view (:func:`explanation_html`) serves the report file, :func:`~shapiq_spex.plot.text_html`
and Jupyter's ``_repr_html_``. It is plain HTML that reflows to any width (the text is a run of
inline spans, not a fixed-width picture) with inline CSS and JavaScript and no external request.
Reading order:

1. **The answer**: what the model predicted (label and probability, or the answer), which output
   is explained and in which unit, its value with every player removed and with the full text,
   how much of that change the explanation's values account for, a plain-words line on
   faithfulness (held-out R², and a larger budget to try when it is low) and what "removed"
   means (the masking, with an example).
2. **The text**, each player shaded by its own (first-order) value, with a legend naming the
   direction ("raises the logit of *positive*"); words in a top group are underlined.
3. **One top-k list** of players and groups (the same k everywhere), strongest first, with
   repeated tokens told apart by position and sentences given in full. Hovering, focusing or
   tapping a row marks and numbers its members in the text (arcs only between members on one
   line); a word shows its own value and its groups. The details go to one live region, so
   everything on hover is also reachable by keyboard and touch.
4. **How it was computed**: method, queries, index in plain words, timing.

Several explanations of one text (one per class) get a switch between them.
"""

from __future__ import annotations

import hashlib
import html
import math
import numbers
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.plot._assets import CSS, JS
from shapiq_spex.plot.prediction import Prediction
from shapiq_spex.plot.text import (
    JOINER,
    check_interaction_values,
    check_top_k,
    first_order_values,
    player_names,
    player_unit,
    text_pieces,
    top_interactions,
)

__all__ = [
    "EFFICIENT_INDICES",
    "INDEX_WORDS",
    "View",
    "check_prediction",
    "diverging_colour",
    "explanation_html",
    "faithfulness_sentence",
    "format_value",
    "player_labels",
    "report_rows",
    "scored_on",
    "text_html",
]

#: Indices whose values (without the empty set) add up to ``v(N) - v(∅)`` of the surrogate.
EFFICIENT_INDICES = frozenset({"k-SII", "STII", "FSII", "SV", "Moebius"})

#: The index in plain words, for the report.
INDEX_WORDS = {
    "k-SII": "k-SII (Shapley interactions up to order k): each player's own share of the change "
    "and each group's extra share when its members act together; all values add up to the "
    "change the explanation predicts.",
    "SII": "SII (Shapley interaction index): how strongly each group acts together, averaged "
    "over contexts; the values do not add up to the change.",
    "STII": "STII (Shapley-Taylor interactions): shares of the change up to order k, the top "
    "order taking all higher effects; all values add up to the change.",
    "FSII": "FSII (faithful Shapley interactions): the best additive fit up to order k under "
    "Shapley weights; all values add up to the change.",
    "FBII": "FBII (faithful Banzhaf interactions): the best additive fit up to order k on "
    "uniformly random masks; the values do not add up to the change.",
    "SV": "Shapley values: each player's fair share of the change; they add up to it.",
    "BV": "Banzhaf values: each player's average effect; they do not add up to the change.",
    "BII": "Banzhaf interaction index: each group's average joint effect; the values do not add "
    "up to the change.",
    "Moebius": "Möbius coefficients (Harsanyi dividends): each group's pure joint effect beyond "
    "all its subsets; all values add up to the change.",
    "Fourier": "Fourier coefficients (players coded ±1): the values do not add up to the change.",
}

# RdBu_r, sampled: blue (negative) through near-white to red (positive).
_STOPS = ("#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
          "#b2182b")  # fmt: skip
POS_SWATCH, NEG_SWATCH = "#d6604d", "#4393c3"
POS_BAR, NEG_BAR = "#b2182b", "#2166ac"


@dataclass(frozen=True)
class View:
    """One explained output of a text: its values, what they explain, how they were found.

    Attributes:
        interaction_values: shapiq ``InteractionValues`` over the text's players.
        prediction: what is explained (:class:`~shapiq_spex.plot.Prediction`), or ``None``.
        report: the approximator's ``report_`` (or a dict), or ``None``.
        label: the name of this view in the class switch.
    """

    interaction_values: Any
    prediction: Prediction | None = None
    report: Any = None
    label: str = ""


# ---------------------------------------------------------------------------------- helpers
def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def diverging_colour(value: float, half: float) -> tuple[str, str]:
    """``(background, text colour)`` of ``value`` on a blue-white-red scale of ``±half``."""
    t = 0.5 if half <= 0 else 0.5 + 0.5 * max(-1.0, min(1.0, value / half))
    pos = t * (len(_STOPS) - 1)
    i = min(int(pos), len(_STOPS) - 2)
    rgb = _rgb(_STOPS[i]) + (pos - i) * (_rgb(_STOPS[i + 1]) - _rgb(_STOPS[i]))
    r, g, b = (round(float(c)) for c in rgb)
    luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
    return f"#{r:02x}{g:02x}{b:02x}", ("#ffffff" if luminance < 0.5 else "#111111")


def _num(value: float, signed: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:+.3g}" if signed else f"{value:.3g}"
    return text.replace("-", "\u2212")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def player_labels(names: list[str], kind: str) -> list[str]:
    """A label per player for lists: the quoted name, with its position where it is ambiguous.

    Words and tokens that occur more than once get ``(word 7)``; sentences are always given with
    their position (``sentence 3: “...”``), in full.
    """
    counts = Counter(n.strip() for n in names)
    unit = player_unit(None, kind)
    out = []
    for i, name in enumerate(names):
        shown = name.strip() or name
        if unit == "sentence":
            out.append(f"sentence {i + 1}: \u201c{shown}\u201d")
        elif counts[name.strip()] > 1:
            out.append(f"\u201c{shown}\u201d ({unit} {i + 1})")
        else:
            out.append(f"\u201c{shown}\u201d")
    return out


def scored_on(report: Any) -> tuple[int, str]:
    """``(count, kind)``: the coalitions a report's R² was scored on.

    ``kind`` is "held-out", "validation" or "all" (the exact path); ``report`` is a report
    object or its dict (the command line's JSON).
    """
    from shapiq_spex.approximators._base import scored_coalitions

    details = _field(report, "details") or {}
    return scored_coalitions(
        int(_field(report, "n_holdout") or 0), _field(report, "queries") or 0, details
    )


def faithfulness_sentence(report: Any) -> str:
    """Held-out R² in plain words, with a larger budget to try when it is low (HTML).

    The verdict needs at least ``FEW_SCORING_COALITIONS`` scored coalitions; with fewer the
    sentence says the R² cannot be trusted. When the written values are a truncation of the
    fitted explanation (``details["truncation"]``, Möbius or Fourier values below its
    largest order), it says how well the written values alone reproduce it.
    """
    from shapiq_spex.approximators._base import FEW_SCORING_COALITIONS, too_few_scored

    r2 = _field(report, "faithfulness_r2")
    budget = _field(report, "budget")
    count, kind = scored_on(report)
    if r2 is None or not math.isfinite(float(r2)):
        return (
            "Faithfulness was not measured: no masked texts were held out at this budget, so "
            "there is no check of how well the values reproduce the model."
        )
    r2 = float(r2)
    held = f"{count} masked versions of the text" if count else "masked texts"
    if kind == "validation":
        unseen = "that the scored fit did not see (validation)"
    elif kind == "all":
        unseen = "(every one was queried: the values are exact)"
    else:
        unseen = "that were not used to find the values"
    if r2 >= 0:
        what = (
            f"<b>Held-out R² {r2:.3f}</b>: on {held} {unseen}, the values reproduce "
            f"{100 * r2:.0f}% of the variation of the model's output."
        )
    else:
        what = (
            f"<b>Held-out R² {r2:.3f}</b>: on {held} {unseen}, the values predict the model's "
            "output worse than its average would."
        )
    more = ""
    if budget:
        more = (
            f" More queries usually help: try a budget of {2 * int(budget):,} "
            f"(<code>--budget {2 * int(budget)}</code> on the command line)."
        )
    details = _field(report, "details") or {}
    truncation = details.get("truncation")
    cut = ""
    if truncation:
        cut = (
            f" This R² is the fitted explanation's; the values below are its terms up to order "
            f"{truncation['order']} only (it has terms up to order {truncation['max_degree']}), "
            f"and they alone reproduce it with R² {truncation['r2_vs_explanation']:.2f} "
            f"(<code>--order {truncation['max_degree']}</code> writes all of them)."
        )
    if details.get("target_reached") is False and details.get("target_r2") is not None:
        # --target-r2 spent its whole budget without reaching the target: say so first
        what += (
            f" The target R² {float(details['target_r2']):g} was <b>not reached</b> within the "
            f"budget of {int(budget or 0):,} queries."
        )
    if too_few_scored(count, kind):
        few = f" But {count} masked texts are too few to tell: this number cannot be trusted."
        if budget and count:
            need = max(2 * int(budget), int(budget) * math.ceil(FEW_SCORING_COALITIONS / count))
            few += f" Try a budget of {need:,} (<code>--budget {need}</code> on the command line)."
        else:
            few += " Raise the budget."
        return what + few + cut
    if r2 >= 0.9:
        # truncated values are not the explanation that was scored: no verdict on them
        return what + (cut or " That is close: the values can be read as they are.")
    if r2 >= 0.7:
        return (
            what
            + " That is fair: the strongest values are reliable, small ones less so."
            + more
            + cut
        )
    return what + " That is weak: read the values as rough indications only." + more + cut


def _field(report: Any, name: str) -> Any:
    if report is None:
        return None
    if isinstance(report, dict):
        return report.get(name)
    return getattr(report, name, None)


def _mask_copies(players: Any, player: int) -> int:
    """Mask tokens a removed ``player`` becomes: one per model token it spans (at least 1).

    ``mask_token`` masking replaces every token of the player (``"unwatchable"`` is three
    WordPiece tokens, so the model reads three ``[MASK]``), not the player as a whole.
    """
    owner = getattr(players, "token_player", None)
    if owner is None:
        return 1
    return max(1, int(np.count_nonzero(np.asarray(owner) == player)))


def _count_text(names: list[str], unit: str) -> str:
    """How many players the heading names: ``"125 words"`` or, with punctuation, more precisely.

    Word players include punctuation marks; ``"125 players: 112 words, 13 punctuation marks"``
    keeps a reader who counts the words from missing 13 of the positions.
    """
    n = len(names)
    if unit != "word":
        return f"{n} {unit}{'s' if n != 1 else ''}"
    marks = sum(1 for name in names if not any(ch.isalnum() for ch in name))
    if marks == 0:
        return f"{n} word{'s' if n != 1 else ''}"
    words = n - marks
    return (
        f"{n} players: {words} word{'s' if words != 1 else ''}, "
        f"{marks} punctuation mark{'s' if marks != 1 else ''}"
    )


def _masking_html(prediction: Prediction | None, players: Any, names: list[str], example: int):
    """What "removed" means, with the text around player ``example`` shown without it."""
    kind = prediction.player_kind if prediction else "player"
    strategy = prediction.masking if prediction else None
    mask = prediction.mask_text if prediction else None
    unit = player_unit(None, kind)
    if strategy == "remove":
        how = f"a removed {unit} is deleted from the model's input"
    elif strategy == "mask_token" and mask:
        how = (
            f"every token of a removed {unit} is replaced by the model's mask token "
            f"<code>{_e(mask)}</code>"
        )
    elif strategy and mask is not None:
        how = f"a removed {unit} is replaced by <code>{_e(mask)}</code>"
    else:
        return ""
    text = getattr(players, "text", None)
    spans = getattr(players, "spans", None)
    sample = ""
    if isinstance(text, str) and spans is not None and 0 <= example < len(names):
        s, e = (int(v) for v in np.asarray(spans).reshape(-1, 2)[example])
        region = getattr(players, "region", (0, len(text)))
        lo, hi = max(int(region[0]), s - 70), min(int(region[1]), e + 70)
        # cut at white space, so that no word is shown in part
        while lo > int(region[0]) and not text[lo - 1].isspace():
            lo += 1
            if lo >= s:
                break
        while hi < int(region[1]) and not text[hi].isspace() and hi > e:
            hi -= 1
        before, after = text[lo:s], text[e:hi]
        before = ("…" if lo > int(region[0]) else "") + before
        after += "…" if hi < int(region[1]) else ""
        copies = _mask_copies(players, example) if strategy == "mask_token" else 1
        shown = f"<mark>{_e(' '.join([mask] * copies))}</mark>" if mask else "<mark>\u2009</mark>"
        sample = (
            f" For example, without \u201c{_e(names[example].strip())}\u201d the model reads: "
            f"<q>{_e(before)}{shown}{_e(after)}</q>"
        )
    return f"<p><b>Masking:</b> {how}.{sample}</p>"


_REPORT_FIELDS = (
    ("method", "method"),
    ("budget", "budget (model queries allowed)"),
    ("queries", "model queries used"),
    ("faithfulness_r2", "held-out R²"),
    ("faithfulness_coalitions", "masked texts the R² was scored on"),
    ("support_size", "terms in the fitted explanation"),
    ("game_time_s", "model time (s)"),
    ("overhead_time_s", "explainer overhead (s)"),
    ("total_time_s", "explainer time (s)"),
    ("random_state", "seed"),
)


def format_value(value: Any) -> str:
    """A metadata value for display: ints with separators, floats to 4 significant digits."""
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
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    return str(value)


def report_rows(report: Any = None, meta: dict | None = None) -> list[tuple[str, str]]:
    """``(label, formatted value)`` rows of the "How this was computed" list.

    Args:
        report: an :class:`~shapiq_spex.approximators._base.ApproximationReport` (or a dict with
            the same fields); ``None`` = none.
        meta: further ``{label: value}`` entries (model, text length, timing, ...), shown first.
            Nested dicts are flattened into ``key=value`` lists.

    Returns:
        The rows, in display order.

    Raises:
        InvalidParameterError: ``meta`` is not a dict, or ``report`` neither a report nor a dict.
    """
    if meta is not None and not isinstance(meta, dict):
        msg = f"The 'meta' parameter must be a dict of label -> value or None. Got {meta!r}."
        raise InvalidParameterError(msg)
    rows = [(str(k), format_value(v)) for k, v in (meta or {}).items()]
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
    data["faithfulness_coalitions"] = scored_on(data)[0]
    seen = {label for label, _ in rows}
    for key, label in _REPORT_FIELDS:
        if key in data and label not in seen and key not in seen:
            rows.append((label, format_value(data[key])))
    return rows


# ---------------------------------------------------------------------------------- sections
def _answer_html(view: View, values_sum: float, top_sum: float, k_shown: int, n_values: int):
    p = view.prediction
    iv = view.interaction_values
    index = str(getattr(iv, "index", ""))
    parts = []
    if p is not None and p.is_classification:
        pred = p.predicted
        prob = p.probabilities[pred]
        parts.append(
            f'<p class="spex-headline">The model predicts <b>{_e(p.labels[pred])}</b> '
            f'(probability <span class="num">{prob:.2f}</span>).</p>'
        )
        rows = "".join(
            f'<span class="{"is-target" if c == p.target else ""}">{_e(label)}</span>'
            f'<span class="track"><span class="fill" style="width:{100 * q:.1f}%"></span>'
            f'</span><span class="num">{q:.2f}</span>'
            for c, (label, q) in enumerate(zip(p.labels, p.probabilities, strict=True))
        )
        parts.append(f'<div class="spex-probs" aria-label="class probabilities">{rows}</div>')
        which = "the predicted class" if p.target == pred else "not the predicted class"
        parts.append(
            f"<p><b>Explained:</b> {_e(p.output_phrase())} (class {p.target}, {which}; unit: "
            f"{_e(p.unit)}).</p>"
        )
    elif p is not None and p.answer is not None:
        asked = f" to \u201c{_e(p.query)}\u201d" if p.query else ""
        chance = ""
        if p.output == "log_prob" and p.full_value is not None:
            chance = f' (probability <span class="num">{math.exp(p.full_value):.2g}</span>)'
        what = "reply" if p.labels else "answer"
        label = "the label " if p.labels else ""
        parts.append(
            f'<p class="spex-headline">Explained: the model\'s {what}{asked}: '
            f"{label}<b>\u201c{_e(p.answer.strip())}\u201d</b>{chance}.</p>"
            f"<p><b>Explained output:</b> {_e(p.output_phrase())} (unit: {_e(p.unit)}).</p>"
        )
        if p.labels:  # a served model scored on the first token of each label
            listed = ", ".join(f"\u201c{_e(label)}\u201d" for label in p.labels)
            parts.append(
                f"<p>The labels {listed} are scored by the model's probability of their first "
                "token as its reply; the first label is explained.</p>"
            )
    elif p is not None:
        parts.append(f"<p><b>Explained:</b> {_e(p.output_phrase())}.</p>")
    unit = f" {_e(p.unit)}" if p is not None and p.unit else ""
    if p is not None and p.full_value is not None and p.empty_value is not None:
        change = p.full_value - p.empty_value
        kind = player_unit(None, p.player_kind)
        parts.append(
            f"<p><b>From nothing to the full text:</b> with every {kind} removed, "
            f'{_e(p.output_phrase())} is <span class="num">{_num(p.empty_value)}</span>{unit}; '
            f'with the full text <span class="num">{_num(p.full_value)}</span>{unit}: a change of '
            f'<span class="num">{_num(change)}</span>.</p>'
        )
        if index in EFFICIENT_INDICES:
            share = f" ({100 * values_sum / change:.0f}%)" if abs(change) > 1e-12 else ""
            shown = (
                "all of them are in the list below"
                if k_shown == n_values
                else f'the top {k_shown} below add up to <span class="num">{_num(top_sum)}</span>'
            )
            gap = ""
            cut = (_field(view.report, "details") or {}).get("truncation")
            if cut and index == "Moebius":
                gap = (
                    f" (the explanation's terms above order {cut['order']} are not written: "
                    f"<code>--order {cut['max_degree']}</code> writes all of them)"
                )
            elif abs(values_sum - change) > 0.1 * abs(change):
                # the values add up to the change of the fitted explanation, not of the model
                gap = (
                    " (the rest is where the fitted explanation and the model differ on the "
                    "full or the empty text)"
                )
            parts.append(
                f"<p><b>Accounted for:</b> all {n_values} values of the explanation add up to "
                f'<span class="num">{_num(values_sum)}</span>{share} of this change{gap}; '
                f"{shown}.</p>"
            )
        else:
            parts.append(
                f"<p><b>Accounted for:</b> {_e(index)} values do not add up to the change (the "
                f'top {k_shown} below sum to <span class="num">{_num(top_sum)}</span>); explain '
                "with k-SII or Möbius for a decomposition that does.</p>"
            )
    if view.report is not None:
        parts.append(f"<p>{faithfulness_sentence(view.report)}</p>")
    return parts


def _legend_html(prediction: Prediction | None, half: float) -> str:
    if prediction is not None:
        up, down = prediction.push_phrases()
        unit = f" {prediction.unit}" if prediction.unit else ""
    else:
        up, down, unit = "raises the explained value", "lowers it", ""
    return (
        '<div class="spex-legend">'
        f'<span><span class="sw" style="background:{POS_SWATCH}"></span>red: {_e(up)}</span>'
        f'<span><span class="sw" style="background:{NEG_SWATCH}"></span>blue: {_e(down)}</span>'
        f"<span>deeper colour = larger own effect (up to ±{_num(half, signed=False)}"
        f"{_e(unit)})</span>"
        "<span>dotted underline: part of a group in the list</span></div>"
    )


def _direction(value: float, prediction: Prediction | None) -> str:
    if prediction is None:
        return "raises the value" if value > 0 else "lowers the value"
    up, _ = prediction.push_phrases()
    return up if value > 0 else "lowers " + prediction.output_phrase()


def _detail_player(i, labels, phi, by_player, rank_of, prediction, kind) -> str:
    where = f"{kind} {i + 1}"
    said = labels[i].endswith(f"({where})") or labels[i].startswith(f"{where}:")
    at = "" if said else f" ({where})"  # labels of repeated words and of sentences say it
    lines = [
        f"<p><b>{_e(labels[i])}</b>{at}: own effect "
        f'<span class="num">{_num(phi[i])}</span>, {_e(_direction(phi[i], prediction))}.</p>'
    ]
    groups = by_player[i]
    if groups:
        items = "".join(
            f"<li>#{rank_of[key]} {_e(JOINER.join(labels[q] for q in key))}: "
            f'<span class="num">{_num(v)}</span></li>'
            for key, v in groups
        )
        lines.append(f"<p>In {len(groups)} group(s) of the list:</p><ul>{items}</ul>")
    else:
        lines.append("<p>In no group of the list.</p>")
    return "".join(lines)


def _detail_group(rank, key, value, labels, phi, prediction) -> str:
    members = JOINER.join(labels[q] for q in key)
    if len(key) == 1:
        return (
            f'<p><b>#{rank} {_e(members)}</b>: own effect <span class="num">{_num(value)}</span>'
            f", {_e(_direction(value, prediction))}.</p>"
        )
    own = ", ".join(f"{_e(labels[q])} {_num(phi[q])}" for q in key)
    return (
        f'<p><b>#{rank} {_e(members)}</b>: together <span class="num">{_num(value)}</span> '
        f"beyond their own effects ({_e(_direction(value, prediction))} when "
        f"{'both' if len(key) == 2 else f'all {len(key)}'} are present). Own effects: {own}.</p>"
    )


def _view_html(view: View, players: Any, names: list[str], kind: str, k: int, index: int) -> str:
    iv = view.interaction_values
    p = view.prediction
    n = len(names)
    phi = first_order_values(iv)
    top = top_interactions(iv, k, min_order=1)
    labels = player_labels(names, kind)
    values = [float(v) for key, v in iv.interactions.items() if len(key) > 0]
    values_sum = float(np.sum(values)) if values else 0.0
    top_sum = float(sum(v for _, v in top))
    half = float(np.max(np.abs(phi))) if n else 0.0
    rank_of = {key: r for r, (key, _) in enumerate(top, start=1)}
    by_player: list[list[tuple[tuple[int, ...], float]]] = [[] for _ in range(n)]
    in_group = np.zeros(n, dtype=bool)
    for key, v in top:
        for q in key:
            by_player[q].append((key, v))
            if len(key) > 1:
                in_group[q] = True
    unit = player_unit(None, kind)

    out = [f'<div class="spex-view" data-view="{index}"{" hidden" if index else ""}>']
    out.append('<section class="spex-answer">')
    out += _answer_html(view, values_sum, top_sum, len(top), len(values))
    example = top[0][0][0] if top else 0
    out.append(_masking_html(p, players, names, example))
    out.append("</section>")

    out.append('<div class="spex-main"><section class="spex-textcol">')
    out.append(f"<h2>The text ({_count_text(names, unit)})</h2>")
    out.append(_legend_html(p, half))
    pieces = []
    for player, piece, spaced, newline in text_pieces(players, names):
        sep = "<br>" if newline else (" " if spaced else "")
        if player < 0:
            pieces.append(f'{sep}<span class="gap">{_e(piece)}</span>')
            continue
        bg, fg = diverging_colour(phi[player], half)
        cls = "w g" if in_group[player] else "w"
        detail = _detail_player(player, labels, phi, by_player, rank_of, p, unit)
        pieces.append(
            f'{sep}<span class="{cls}" tabindex="0" data-p="{player}" '
            f'style="background:{bg};color:{fg}"><template class="d">{detail}</template>'
            f"{_e(piece)}</span>"
        )
    out.append(
        '<div class="spex-box"><p class="spex-text">'
        + "".join(pieces)
        + '</p><svg class="spex-arcs" aria-hidden="true"></svg></div>'
    )
    out.append('</section><section class="spex-side">')
    hint = (
        f"<p>Hover, tap or focus (Tab) a {unit} or a row of the list: its values appear here. "
        "Esc clears.</p>"
    )
    out.append(
        '<div class="spex-detail" aria-live="polite"><button type="button" class="close">'
        f'Close</button><div class="body">{hint}</div></div>'
        f'<template class="hint">{hint}</template>'
    )
    out.append(f"<h2>The top {len(top)} effects</h2>")
    out.append(
        '<p class="spex-note">Single players and groups with the largest values, strongest '
        "first. Hover, tap or Tab to a row to mark its members in the text; numbers and arcs "
        "join them.</p>"
    )
    vmax = max((abs(v) for _, v in top), default=0.0)
    rows = []
    for rank, (key, value) in enumerate(top, start=1):
        colour = POS_BAR if value > 0 else NEG_BAR
        width = 100 * abs(value) / vmax if vmax > 0 else 0
        what = "own effect" if len(key) == 1 else f"group of {len(key)}, beyond own effects"
        members = JOINER.join(_e(labels[q]) for q in key)
        detail = _detail_group(rank, key, value, labels, phi, p)
        rows.append(
            f'<li class="row" tabindex="0" data-players="{" ".join(map(str, key))}" '
            f'data-colour="{colour}"><template class="d">{detail}</template>'
            f'<span class="rank">{rank}</span><span class="words">{members} '
            f'<span class="kind">({what})</span></span>'
            f'<span class="val num" style="color:{colour}">{_num(value)}</span>'
            f'<span class="bar"><i style="width:{width:.1f}%;background:{colour}"></i></span>'
            "</li>"
        )
    out.append(f'<ol class="spex-top">{"".join(rows)}</ol>')
    out.append("</section></div></div>")
    return "".join(out)


def _meta_html(views: Sequence[View], meta_rows: list[tuple[str, str]]) -> str:
    blocks = []
    for view in views:
        rows = report_rows(view.report, None) if view.report is not None else []
        if not rows:
            continue
        title = f" ({_e(view.label)})" if len(views) > 1 and view.label else ""
        dl = "".join(f"<dt>{_e(a)}</dt><dd>{_e(b)}</dd>" for a, b in rows)
        blocks.append(f'<p><b>Run{title}</b></p><dl class="spex-meta">{dl}</dl>')
    common = "".join(f"<dt>{_e(a)}</dt><dd>{_e(b)}</dd>" for a, b in meta_rows)
    index = str(getattr(views[0].interaction_values, "index", ""))
    words = INDEX_WORDS.get(index, "")
    glossary = f"<p><b>Index:</b> {_e(words)}</p>" if words else f"<p><b>Index:</b> {_e(index)}</p>"
    return (
        "<details><summary>How this was computed</summary>"
        + (f'<dl class="spex-meta">{common}</dl>' if common else "")
        + glossary
        + "".join(blocks)
        + "<p><b>Held-out R²</b> compares the explanation's prediction with the model on masked "
        "texts it was not fitted to (1 = perfect, 0 = no better than the average).</p>"
        "</details>"
    )


def explanation_html(
    views: Sequence[View],
    players: Any,
    *,
    k: int = 10,
    title: str | None = None,
    meta_rows: list[tuple[str, str]] | None = None,
    full_document: bool = True,
    extra_html: str = "",
    switch_hint: str | None = None,
) -> str:
    """Render one or more explanations of one text (one per class) as the HTML view.

    Args:
        views: the explanations; several get a switch, the first is shown first.
        players: a :class:`~shapiq_spex.text.TextPlayers` or a list of player names.
        k: the number of players and groups in the list, the same for every view.
        title: heading (and page title).
        meta_rows: ``(label, value)`` rows for "How this was computed" (model, timing, ...).
        full_document: a whole page with viewport meta and a content security policy that
            forbids every request; else a fragment for a notebook or another page.
        extra_html: HTML appended inside "How this was computed" (e.g. an inline PNG).
        switch_hint: a sentence below the answer when only one class of several is explained
            (how to explain the others).

    Returns:
        The HTML string.
    """
    views = list(views)
    n = int(views[0].interaction_values.n_players)
    names = player_names(players, n)
    kind = getattr(players, "granularity", None)
    if views[0].prediction is not None:
        kind = views[0].prediction.player_kind
    kind = player_unit(None, kind)
    digest = hashlib.sha1(
        repr(
            [(sorted(v.interaction_values.interactions.items()), v.label) for v in views] + names
        ).encode()
    ).hexdigest()[:12]
    root_id = f"spex-{digest}"
    title = title or "shapiq-spex explanation"
    body = [f'<div class="spex-report" id="{root_id}"><style>{CSS}</style>']
    body.append(f"<h1>{_e(title)}</h1>")
    if len(views) > 1:
        buttons = "".join(
            f'<button type="button" data-view="{i}" aria-pressed="{"true" if i == 0 else "false"}"'
            f">{_e(v.label or f'view {i + 1}')}</button>"
            for i, v in enumerate(views)
        )
        body.append(
            f'<div class="spex-switch" role="group" aria-label="explained class">'
            f"<span>Explain the class:</span>{buttons}</div>"
        )
    elif switch_hint:
        body.append(f'<p class="spex-note">{switch_hint}</p>')
    body += [_view_html(v, players, names, kind, k, i) for i, v in enumerate(views)]
    body.append(_meta_html(views, meta_rows or []).replace("</details>", extra_html + "</details>"))
    body.append(f"</div><script>{JS.replace('__ROOT_ID__', root_id)}</script>")
    fragment = "".join(body)
    if not full_document:
        return fragment
    csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>{_e(title)}</title>"
        "<style>body { margin: 0; padding: 16px; background: #fff; }</style></head>"
        f"<body>{fragment}</body></html>\n"
    )


def text_html(
    interaction_values: Any,
    players: Any,
    *,
    k: int = 10,
    prediction: Prediction | None = None,
    report: Any = None,
    title: str | None = None,
    full_document: bool = True,
) -> str:
    """The interactive HTML view of one explanation: self-contained, reflowing, keyboard-usable.

    Args:
        interaction_values: shapiq ``InteractionValues`` over the players of the text.
        players: a :class:`~shapiq_spex.text.TextPlayers` or a list of names.
        k: players and groups in the ranked list (the strongest ``|value|`` first, all orders).
            Defaults to ``10``.
        prediction: what is explained (:class:`~shapiq_spex.plot.Prediction`, e.g. from
            :func:`~shapiq_spex.plot.prediction_from_game`): adds the answer section and names
            the colours by the output they move. Defaults to ``None``.
        report: the approximator's ``report_``: adds the faithfulness line. Defaults to ``None``.
        title: heading. Defaults to ``None`` ("shapiq-spex explanation").
        full_document: a whole ``<!DOCTYPE html>`` page (viewport meta, no requests allowed);
            else a fragment with its own scoped ``<style>`` and ``<script>``. Defaults to ``True``.

    Returns:
        The HTML string. Every player name appears in it, HTML-escaped.

    Raises:
        InvalidParameterError: bad values, players, ``k`` or ``prediction``.
    """
    check_interaction_values(interaction_values)
    k = check_top_k(k)
    player_names(players, int(interaction_values.n_players))
    check_prediction(prediction)
    view = View(interaction_values, prediction, report)
    return explanation_html([view], players, k=k, title=title, full_document=full_document)


def check_prediction(prediction: Any) -> None:
    """Raise unless ``prediction`` is a :class:`~shapiq_spex.plot.Prediction` or ``None``."""
    if prediction is not None and not isinstance(prediction, Prediction):
        msg = (
            "The 'prediction' parameter must be a shapiq_spex.plot.Prediction (e.g. from "
            f"prediction_from_game(game)) or None. Got {type(prediction).__name__}."
        )
        raise InvalidParameterError(msg)
