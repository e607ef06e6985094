"""What ``shapiq-spex explain`` writes: the console summary and table, the JSON, the report.

All functions take the :class:`~shapiq_spex.cli.explain.ExplainResult` of
:func:`~shapiq_spex.cli.explain.explain_text`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapiq_spex.approximators._base import scored_coalitions, too_few_scored
from shapiq_spex.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from shapiq_spex.cli.explain import ExplainResult

__all__ = [
    "MIN_FREE_BYTES",
    "check_output_paths",
    "format_table",
    "result_to_dict",
    "sorted_interactions",
    "summary_lines",
    "to_explanation",
    "write_json",
    "write_outputs",
]

#: Free space a folder must have for ``--out`` or ``--json`` (a report is 0.1-0.5 MB).
MIN_FREE_BYTES = 4 * 2**20


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
    separately as ``empty_value``), ``baseline_value`` (the fitted explanation's value with
    every player masked, as shapiq stores it; the model's own value there is
    ``prediction.empty_value``), ``index``, ``order``, ``method``, ``queries``, ``budget``,
    ``faithfulness_r2`` (``null`` when there was no held-out set) with ``faithfulness_source``
    (which coalitions it was scored on) and ``faithfulness_coalitions`` (how many; below 20 the
    R² cannot be trusted), ``truncation`` (Möbius or Fourier values written below the fitted
    explanation's largest order: ``order``, ``max_degree`` and ``r2_vs_explanation``, the R² of
    the written values against the explanation on random coalitions; else ``null``),
    ``target_r2``, ``target_reached`` and ``rounds`` (``--target-r2``: whether the reported R²
    reached it, the queries and R² of each round), ``model``, ``task``, ``text``,
    ``seed``, ``target``, ``timing`` (seconds: ``load_s``, ``model_s``, ``overhead_s``,
    ``explain_s``, ``total_s``), ``cache`` (the ``--cache`` file or ``null``) and ``engine``
    (this run's query engine counters: ``evaluated`` model answers computed, ``cache_hits`` read
    from the cache, ``duplicates_saved``, ``batches``, ``probe_evaluated``, ``queries``), and
    for a served model ``endpoint_usage`` (requests, tokens, retries, cost); ``prediction`` (the
    model's labels and probabilities, the explained class, output, its value with the full text
    and with every player removed, the masking) and ``other_classes`` (with ``--target all`` or a
    list: the same keys, without players, spans and text, per other class). A resumed run gives
    the same document as an uninterrupted one except ``timing``, ``engine`` and
    ``endpoint_usage``.
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
        "faithfulness_source": report.details.get("faithfulness_source"),
        "faithfulness_coalitions": int(report.faithfulness_coalitions),
        "truncation": report.details.get("truncation"),
        "target_r2": result.config.target_r2,
        "target_reached": report.details.get("target_reached"),
        "rounds": report.details.get("rounds"),
        "model": result.model,
        "task": result.config.task,
        "granularity": result.config.resolved_players(),
        "target": result.target,
        "text": result.text,
        "seed": result.config.seed,
        "timing": {k: round(float(v), 4) for k, v in result.timing.items()},
        "cache": None if result.config.cache is None else str(result.config.cache),
        "engine": {k: int(v) for k, v in result.engine_stats.items()},
        "prediction": None if result.prediction is None else dataclasses.asdict(result.prediction),
        "other_classes": [
            {k: v for k, v in result_to_dict(o).items() if k not in ("players", "spans", "text")}
            for o in result.other_classes
        ],
        **({"endpoint_usage": result.usage} if result.usage else {}),
    }


def format_table(result: ExplainResult, top: int = 10, width: int = 70) -> str:
    """A plain-text table of the ``top`` strongest interactions (all orders >= 1).

    A word that occurs more than once is told apart by its position (``"was (word 10)"``); a
    label longer than ``width`` characters is shortened member by member, so that every
    member of a group stays visible (long sentence players).
    """
    from shapiq_spex.plot.text import JOINER, distinct_names

    unit = result.config.resolved_players()
    names = distinct_names(list(result.players.names), unit)
    rows = [(k, v) for k, v in sorted_interactions(result.interaction_values) if v != 0.0][:top]
    labels = [_group_label([names[p] for p in key], width, JOINER) for key, _ in rows]
    header = f"{unit}s"
    shown = min(max([len(header)] + [len(label) for label in labels]), width)
    lines = [f"{'#':>3}  {'value':>10}  {'order':>5}  {header}", f"{'-' * 3}  {'-' * 10}  -----  "]
    lines[1] += "-" * shown
    for rank, ((key, value), label) in enumerate(zip(rows, labels, strict=True), start=1):
        lines.append(f"{rank:>3}  {value:>+10.4f}  {len(key):>5}  {label}")
    return "\n".join(lines)


def _group_label(members: list[str], width: int, joiner: str) -> str:
    """``members`` joined, each cut to an equal share of ``width`` when the whole is longer."""
    label = joiner.join(members)
    if len(label) <= width:
        return label
    share = max(8, (width - len(joiner) * (len(members) - 1)) // len(members))
    return joiner.join(m if len(m) <= share else m[: share - 1] + "\u2026" for m in members)


def summary_lines(result: ExplainResult) -> list[str]:
    """Human-readable lines on what was explained and how well."""
    r = result.report
    t = result.timing
    r2 = _finite_or_none(r.faithfulness_r2)
    r2_text = "n/a"
    if r2 is not None:
        source = r.details.get("faithfulness_source") or f"{r.n_holdout} held-out coalitions"
        if r.details.get("exact"):
            source = f"all {r.queries} coalitions (exact)"
        r2_text = f"{r2:.3f} on {source}"
        if too_few_scored(*scored_coalitions(r.n_holdout, r.queries, r.details)):
            r2_text += " (too few to trust: raise --budget)"
    share = t["overhead_s"] / t["explain_s"] if t["explain_s"] > 0 else float("nan")
    lines = [
        f"model     {result.model} ({result.config.task}; explains {result.target})",
        f"players   {len(result.players.names)} {result.config.resolved_players()}"
        + ("s" if len(result.players.names) != 1 else ""),
        f"method    {result.method_name}, index {result.interaction_values.index}, "
        f"order <= {result.config.resolved_order()}, seed {result.config.seed}",
        f"queries   {r.queries} of budget {r.budget}; held-out R² {r2_text}",
        f"time      total {t['total_s']:.1f} s = load {t['load_s']:.1f} s + model queries "
        f"{t['model_s']:.1f} s + overhead {t['overhead_s']:.1f} s ({share:.0%} of explain time)",
    ]
    cut = r.details.get("truncation")
    if cut:
        lines.append(
            f"values    {result.interaction_values.index} terms up to order {cut['order']} of an "
            f"explanation with terms up to order {cut['max_degree']}: alone they reproduce it "
            f"with R² {cut['r2_vs_explanation']:.3f} (--order {cut['max_degree']} writes all)"
        )
    if result.config.target_r2 is not None and r.details.get("target_reached") is False:
        lines.append(
            f"target    R² {result.config.target_r2} not reached: {r2_text} after "
            f"{r.queries} queries; raise --budget"
        )
    lines[1:1] = _prediction_lines(result)
    if result.usage:
        u = result.usage
        cost = "" if u.get("cost") is None else f", cost {u['cost']:.4g}"
        lines.append(
            f"endpoint  {result.config.endpoint}: {u['requests']} requests, "
            f"{u['prompt_tokens']} prompt + {u['completion_tokens']} completion tokens, "
            f"{u['retries']} retries ({u['retry_wait_s']:.1f} s of backoff){cost}"
        )
    if result.config.cache is not None:
        stats = result.engine_stats
        lines.append(
            f"cache     {result.config.cache}: {stats.get('cache_hits', 0)} model answers read, "
            f"{stats.get('evaluated', 0)} new ones evaluated and saved"
        )
    return lines


def _prediction_lines(result: ExplainResult) -> list[str]:
    """What the model predicted and which output the values explain, as summary lines."""
    p = result.prediction
    if p is None:
        return []
    lines = []
    if p.is_classification:
        best = p.predicted
        lines.append(f"predicts  {p.labels[best]} (probability {p.probabilities[best]:.2f})")
    elif p.answer is not None and p.labels:
        listed = ", ".join(p.labels)
        lines.append(f"label     \u201c{p.answer.strip()}\u201d (of {listed}; first token scored)")
    elif p.answer is not None:
        lines.append(f"answer    \u201c{p.answer.strip()}\u201d")
    if p.full_value is not None and p.empty_value is not None:
        lines.append(
            f"explains  {p.output_phrase()}: {p.full_value:+.4g} {p.unit} with the full text, "
            f"{p.empty_value:+.4g} with every {p.player_kind} removed"
        )
    for other in result.other_classes:
        q = other.prediction
        if q is not None:
            lines.append(f"also      {q.output_phrase()} (in the report's class switch)")
    return lines


def _check_file_target(path: Path, option: str, example: str) -> None:
    """Raise unless a file can be written at ``path`` (checked by creating a file beside it)."""
    if path.is_dir():
        msg = (
            f"The '{option}' option {str(path)!r} is a folder; give a file name in it, e.g. "
            f"{str(path / example)!r}."
        )
        raise InvalidParameterError(msg)
    parent = path.parent
    if not parent.is_dir():
        msg = (
            f"The '{option}' option points into {str(parent)!r}, which is not a folder; create "
            "it first or choose another path."
        )
        raise InvalidParameterError(msg)
    if path.exists() and not path.is_file():
        msg = f"The '{option}' option {str(path)!r} exists and is not a regular file."
        raise InvalidParameterError(msg)
    if path.exists() and not os.access(path, os.W_OK):
        msg = (
            f"The '{option}' file {str(path)!r} exists and is read-only; choose another path or "
            "make it writable."
        )
        raise InvalidParameterError(msg)
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".check")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        msg = (
            f"The '{option}' option points into {str(parent)!r}, where no file can be written "
            f"({err.strerror or err}); choose another folder."
        )
        raise InvalidParameterError(msg) from None
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        msg = (
            f"The '{option}' option points into {str(parent)!r}, whose disk has only "
            f"{free / 2**20:.1f} MiB free (at least {MIN_FREE_BYTES // 2**20} MiB needed); free "
            "some space or choose another folder."
        )
        raise InvalidParameterError(msg)


def check_output_paths(
    *,
    out: str | Path | None,
    json_path: str | Path | None,
    cache: str | Path | None = None,
) -> None:
    """Check every output path before the model is loaded, so that no finished run is lost.

    ``--out`` (and the PNG beside it) and ``--json`` must be files that can be written: not a
    folder, in an existing folder where a file can be created, with a few MiB free. ``--cache``
    must not be a folder and must lie in an existing folder (the cache itself checks the rest
    when it is opened). No two of them may be the same file.

    Raises:
        InvalidParameterError: naming the option and the fix.
    """
    targets: list[tuple[str, Path]] = []
    if out is not None:
        out = Path(out)
        if out.suffix.lower() == ".png":
            msg = f"The '--out' option must name the HTML file (the PNG goes beside it): {out}."
            raise InvalidParameterError(msg)
        _check_file_target(out, "--out", "report.html")
        _check_file_target(out.with_suffix(".png"), "--out (its PNG)", "report.png")
        targets += [("--out", out), ("--out (its PNG)", out.with_suffix(".png"))]
    if json_path is not None:
        _check_file_target(Path(json_path), "--json", "result.json")
        targets.append(("--json", Path(json_path)))
    if cache is not None:
        cache = Path(cache)
        if cache.is_dir():
            msg = (
                f"The '--cache' option {str(cache)!r} is a folder; give a file name in it, e.g. "
                f"{str(cache / 'run.sqlite')!r}."
            )
            raise InvalidParameterError(msg)
        if not cache.parent.is_dir():
            msg = (
                f"The '--cache' option points into {str(cache.parent)!r}, which is not a "
                "folder; create it first or choose another path."
            )
            raise InvalidParameterError(msg)
        targets.append(("--cache", cache))
    seen: dict[Path, str] = {}
    for option, path in targets:
        key = path.resolve()
        if key in seen:
            msg = f"The '{seen[key]}' and '{option}' options name the same file {str(path)!r}."
            raise InvalidParameterError(msg)
        seen[key] = option


def _file_mode() -> int:
    """The permission bits a newly created file gets (0o666 minus the umask)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_json(result: ExplainResult, path: str | Path) -> Path:
    """Write :func:`result_to_dict` as JSON atomically: a temporary file, then a rename.

    A failure (full disk, vanished folder) leaves an existing file at ``path`` untouched and no
    temporary file behind.
    """
    path = Path(path)
    text = json.dumps(result_to_dict(result), indent=1) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _report_meta(result: ExplainResult) -> dict[str, Any]:
    order = result.config.resolved_order()
    explains = "; ".join(r.target for r in [result, *result.other_classes])
    return {
        "model": result.model,
        "task": result.config.task,
        "explains": explains,
        "players": f"{len(result.players.names)} ({result.config.resolved_players()})",
        "index": f"{result.interaction_values.index}, order <= {order}",
        "load time (s)": sum(r.timing["load_s"] for r in [result, *result.other_classes]),
        "total time (s)": sum(r.timing["total_s"] for r in [result, *result.other_classes]),
    }


def to_explanation(result: ExplainResult, top: int = 10) -> Any:
    """The report of ``result`` as a :class:`~shapiq_spex.plot.TextExplanation`.

    One view per explained class (``result`` first, then ``result.other_classes``), the same
    ``top`` in every list, bar chart and PNG.
    """
    from shapiq_spex.plot.report import TextExplanation

    def one(r: ExplainResult, **kwargs: Any) -> TextExplanation:
        return TextExplanation(
            r.interaction_values, r.players, prediction=r.prediction, report=r.report,
            meta=_report_meta(r), k=top, **kwargs,
        )  # fmt: skip

    hint = None
    p = result.prediction
    if p is not None and p.is_classification and len(p.labels) > 1 and not result.other_classes:
        others = [label for c, label in enumerate(p.labels) if c != p.target]
        hint = (
            f"Only the class <b>{html.escape(p.target_label)}</b> is explained. To switch between "
            f"classes, run <code>shapiq-spex explain ... --target all</code> (or "
            f"<code>--target {html.escape(others[0])}</code> for one other class)."
        )
    return one(
        result,
        title=f"Explanation of {result.model} ({result.method_name})",
        others=[one(o) for o in result.other_classes],
        switch_hint=hint,
    )


def write_outputs(
    result: ExplainResult,
    *,
    out: str | Path | None,
    json_path: str | Path | None,
    top: int = 10,
    line_width: int = 100,
    written: list[Path] | None = None,
) -> list[Path]:
    """Write the HTML report (+ PNG beside it) and the JSON file; return the paths written.

    Each file is written atomically: the report into a temporary folder beside ``out``, the JSON
    into a temporary file, then renamed into place, so an interrupted or failed write never
    leaves a half-written file (an older file of the same name stays as it was).

    Args:
        result: the explanation.
        out: the HTML report (its PNG goes beside it), or ``None``.
        json_path: the JSON file, or ``None``.
        top: players and groups in the report's list, bars and arcs (one top-k everywhere).
        line_width: characters per line of the report's text views.
        written: a list the paths are appended to as they are written (the caller keeps what
            was written before a failure); a new list by default.
    """
    written = [] if written is None else written
    if json_path is not None:
        written.append(write_json(result, json_path))
    if out is not None:
        final = Path(out)
        staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
        try:
            out = staging / final.name
            explanation = to_explanation(result, top)
            html_path, png_path = explanation.save(out, line_width=line_width)
            for staged in (png_path, html_path):  # the HTML last: it is what a reader opens
                target = final.parent / Path(staged).name
                os.replace(staged, target)
                written.append(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return written
