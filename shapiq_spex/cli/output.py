"""What ``shapiq-spex explain`` writes: the console summary and table, the JSON, the report.

All functions take the :class:`~shapiq_spex.cli.explain.ExplainResult` of
:func:`~shapiq_spex.cli.explain.explain_text`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapiq_spex.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from shapiq_spex.cli.explain import ExplainResult

__all__ = [
    "format_table",
    "result_to_dict",
    "sorted_interactions",
    "summary_lines",
    "write_outputs",
]


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def sorted_interactions(iv: Any) -> list[tuple[tuple[int, ...], float]]:
    """All non-empty interactions, strongest ``|value|`` first (ties: lower order, then players)."""
    items = [(tuple(int(p) for p in k), float(v)) for k, v in iv.interactions.items() if len(k)]
    items.sort(key=lambda kv: (-abs(kv[1]), len(kv[0]), kv[0]))
    return items


def result_to_dict(result: ExplainResult) -> dict[str, Any]:
    """The JSON document of ``--json``.

    Keys: ``players`` (names), ``spans`` (``[start, end]`` into ``text``), ``interactions``
    (``{"players", "words", "value"}``, strongest first; the empty interaction ``()`` is given
    separately as ``empty_value``), ``baseline_value`` (the model's value with every player
    masked, as shapiq stores it), ``index``, ``order``, ``method``, ``queries``, ``budget``,
    ``faithfulness_r2`` (``null`` when there was no held-out set), ``model``, ``task``, ``text``,
    ``seed``, ``target`` and ``timing`` (seconds: ``load_s``, ``model_s``, ``overhead_s``,
    ``explain_s``, ``total_s``).
    """
    names = list(result.players.names)
    iv = result.interaction_values
    report = result.report
    return {
        "players": names,
        "spans": result.spans.tolist(),
        "interactions": [
            {"players": list(key), "words": [names[p] for p in key], "value": value}
            for key, value in sorted_interactions(iv)
        ],
        "empty_value": float(iv[()]),
        "baseline_value": _finite_or_none(iv.baseline_value),
        "index": iv.index,
        "order": int(result.config.resolved_order()),
        "method": result.method_name,
        "queries": int(report.queries),
        "budget": int(report.budget),
        "n_holdout": int(report.n_holdout),
        "faithfulness_r2": _finite_or_none(report.faithfulness_r2),
        "model": result.model,
        "task": result.config.task,
        "granularity": result.config.resolved_players(),
        "target": result.target,
        "text": result.text,
        "seed": result.config.seed,
        "timing": {k: round(float(v), 4) for k, v in result.timing.items()},
    }


def format_table(result: ExplainResult, top: int = 10) -> str:
    """A plain-text table of the ``top`` strongest interactions (all orders >= 1)."""
    from shapiq_spex.plot.text import JOINER

    names = list(result.players.names)
    rows = sorted_interactions(result.interaction_values)[:top]
    width = max([len("words")] + [len(JOINER.join(names[p] for p in k)) for k, _ in rows])
    width = min(width, 70)
    lines = [f"{'#':>3}  {'value':>10}  {'order':>5}  words", f"{'-' * 3}  {'-' * 10}  -----  "]
    lines[1] += "-" * width
    for rank, (key, value) in enumerate(rows, start=1):
        words = JOINER.join(names[p] for p in key)
        if len(words) > 70:
            words = words[:69] + "…"
        lines.append(f"{rank:>3}  {value:>+10.4f}  {len(key):>5}  {words}")
    return "\n".join(lines)


def summary_lines(result: ExplainResult) -> list[str]:
    """Human-readable lines on what was explained and how well."""
    r = result.report
    t = result.timing
    r2 = _finite_or_none(r.faithfulness_r2)
    r2_text = f"{r2:.3f} on {r.n_holdout} held-out coalitions" if r2 is not None else "n/a"
    share = t["overhead_s"] / t["explain_s"] if t["explain_s"] > 0 else float("nan")
    return [
        f"model     {result.model} ({result.config.task}; explains {result.target})",
        f"players   {len(result.players.names)} {result.config.resolved_players()}s",
        f"method    {result.method_name}, index {result.interaction_values.index}, "
        f"order <= {result.config.resolved_order()}, seed {result.config.seed}",
        f"queries   {r.queries} of budget {r.budget}; held-out R² {r2_text}",
        f"time      total {t['total_s']:.1f} s = load {t['load_s']:.1f} s + model queries "
        f"{t['model_s']:.1f} s + overhead {t['overhead_s']:.1f} s ({share:.0%} of explain time)",
    ]


def write_outputs(
    result: ExplainResult,
    *,
    out: str | Path | None,
    json_path: str | Path | None,
    top: int = 10,
    line_width: int = 100,
) -> list[Path]:
    """Write the HTML report (+ PNG beside it) and the JSON file; return the paths written."""
    written: list[Path] = []
    if out is not None:
        from shapiq_spex.plot.report import write_report

        r = result.report
        config_order = result.config.resolved_order()
        meta = {
            "model": result.model,
            "task": result.config.task,
            "explains": result.target,
            "players": f"{len(result.players.names)} ({result.config.resolved_players()})",
            "index": f"{result.interaction_values.index}, order <= {config_order}",
            "load time (s)": result.timing["load_s"],
            "total time (s)": result.timing["total_s"],
        }
        html_path, png_path = write_report(
            out,
            result.interaction_values,
            result.players,
            r,
            meta,
            k=top,
            bar_k=max(20, top),
            line_width=line_width,
            title=f"{result.method_name} explanation of {result.model}",
        )
        written += [html_path, png_path]
    if json_path is not None:
        path = Path(json_path)
        if not path.parent.is_dir():
            msg = f"The '--json' option points into {str(path.parent)!r}, which is not a folder."
            raise InvalidParameterError(msg)
        path.write_text(json.dumps(result_to_dict(result), indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written
