"""Bar chart of the top interactions and the HTML/PNG report."""

from __future__ import annotations

import base64
import html
import re

import pytest
from matplotlib.colors import to_rgba
from plot_values import WORDS, make_iv

from shapiq_spex.approximators._base import ApproximationReport
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.plot import interaction_bar, top_interactions, write_report
from shapiq_spex.plot.text import JOINER, NEGATIVE_COLOR, POSITIVE_COLOR

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_bars_are_ranked_by_magnitude_with_word_labels():
    iv = make_iv()
    ax = interaction_bar(iv, WORDS, k=5)
    expected = top_interactions(iv, 5, min_order=1)
    bars = sorted(ax.patches, key=lambda p: -p.get_y())  # top bar first
    assert len(bars) == 5
    assert [b.get_width() for b in bars] == pytest.approx([v for _, v in expected])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    ticks = list(ax.get_yticks())
    by_pos = dict(zip(ticks, labels, strict=True))
    top_label = by_pos[max(ticks)]
    assert top_label == f"not{JOINER}bad (2)"
    for bar, (_, value) in zip(bars, expected, strict=True):
        colour = POSITIVE_COLOR if value > 0 else NEGATIVE_COLOR
        assert bar.get_facecolor()[:3] == pytest.approx(to_rgba(colour)[:3])


def test_bars_respect_orders_and_axes():
    import matplotlib.pyplot as plt

    iv = make_iv()
    _, ax = plt.subplots()
    out = interaction_bar(iv, WORDS, k=20, min_order=2, max_order=2, ax=ax)
    assert out is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert all(label.endswith("(2)") for label in labels)
    assert len(labels) == sum(1 for k in iv.interactions if len(k) == 2)
    with pytest.raises(InvalidParameterError, match="min_order"):
        interaction_bar(iv, WORDS, min_order=0)
    with pytest.raises(InvalidParameterError, match="players"):
        interaction_bar(iv, WORDS[:3])


def test_write_report_writes_html_and_png(tmp_path):
    iv = make_iv()
    report = ApproximationReport(
        method="SPEX", budget=800, queries=792, game_time_s=12.5, total_time_s=13.0,
        n_holdout=64, faithfulness_r2=0.912, support_size=40, random_state=0,
    )  # fmt: skip
    meta = {"model": "minilm-sentiment", "text words": len(WORDS)}
    html_path, png_path = write_report(tmp_path / "r.html", iv, WORDS, report, meta, k=3)
    assert png_path == tmp_path / "r.png"
    assert png_path.read_bytes()[:8] == PNG_MAGIC
    page = html_path.read_text(encoding="utf-8")
    for word in WORDS:
        assert html.escape(word) in page
    for needle in ("minilm-sentiment", "SPEX", "792", "0.912", "held-out R²", "model time (s)"):
        assert needle in page
    embedded = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert embedded is not None
    assert base64.b64decode(embedded.group(1))[:8] == PNG_MAGIC
    assert not re.search(r"(src|href)=\"(https?:)?//", page)


def test_write_report_rejects_missing_folder_and_bad_report(tmp_path):
    iv = make_iv()
    with pytest.raises(InvalidParameterError, match="path_html"):
        write_report(tmp_path / "nope" / "r.html", iv, WORDS)
    with pytest.raises(InvalidParameterError, match="report"):
        write_report(tmp_path / "r.html", iv, WORDS, report=42)
