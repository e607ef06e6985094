"""Bar chart of the top interactions and the HTML/PNG report."""

from __future__ import annotations

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


def test_bars_tell_repeated_words_apart_by_position():
    from types import SimpleNamespace

    iv = make_iv(pairs={(0, 12): 0.9, (7, 8): -0.8}, extra={})  # "the" is words 1 and 8
    words = SimpleNamespace(names=WORDS, granularity="word")  # as TextPlayers gives them
    ax = interaction_bar(iv, words, k=2, min_order=2)
    labels = sorted(t.get_text() for t in ax.get_yticklabels())
    assert labels == [f"the (word 1){JOINER}. (2)", f"the (word 8){JOINER}ending (2)"]
    assert "(label: words, order)" in ax.get_xlabel()
    heads = interaction_bar(iv, [f"h{i}" for i in range(len(WORDS))], k=2, show_order=False)
    assert "(label: players)" in heads.get_xlabel()  # plain names: not called words
    with pytest.raises(InvalidParameterError, match="'names' parameter has 3 names"):
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
    for needle in ("minilm-sentiment", "SPEX", "792", "Held-out R² 0.91", "model time (s)"):
        assert needle in page
    assert "r.png" in page  # the reader is told where the still image is
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    # one top-k: the list has the 3 strongest of all orders, in order
    rows = re.findall(r'<li class="row" tabindex="0" data-players="([\d ]+)"', page)
    assert rows == [" ".join(map(str, key)) for key, _ in top_interactions(iv, 3, min_order=1)]


def test_report_figure_shows_the_same_top_k_as_bars_and_arcs():
    import matplotlib.pyplot as plt

    from shapiq_spex.plot import report_figure

    iv = make_iv()
    fig = report_figure(iv, WORDS, k=4)
    try:
        ax_text, _, ax_bar = fig.axes
        top = top_interactions(iv, 4, min_order=1)
        assert len(ax_bar.patches) == 4
        bars = sorted(ax_bar.patches, key=lambda p: -p.get_y())
        assert [b.get_width() for b in bars] == pytest.approx([v for _, v in top])
        arcs = {
            a.get_gid() for a in ax_text.get_children() if "interaction:" in (a.get_gid() or "")
        }
        assert arcs == {"interaction:" + "-".join(map(str, k)) for k, _ in top if len(k) > 1}
        # the repeated word "the" is told apart by its position in the bar labels
        fig2 = report_figure(iv, WORDS, k=20)
        labels = [t.get_text() for t in fig2.axes[2].get_yticklabels()]
        plt.close(fig2)
        assert f"the (player 1){JOINER}." in labels  # the pair (0, 12): "the" occurs twice
        assert "film" in labels  # a word that occurs once keeps its plain name
    finally:
        plt.close(fig)


def test_write_report_rejects_missing_folder_and_bad_report(tmp_path):
    iv = make_iv()
    with pytest.raises(InvalidParameterError, match="path_html"):
        write_report(tmp_path / "nope" / "r.html", iv, WORDS)
    with pytest.raises(InvalidParameterError, match="report"):
        write_report(tmp_path / "r.html", iv, WORDS, report=42)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_values_are_refused_before_drawing(bad):
    from shapiq_spex.plot import text_html, text_plot

    iv = make_iv(pairs={(6, 11): -0.7, (3, 4): bad}, extra={})
    for draw in (lambda: interaction_bar(iv, WORDS), lambda: text_html(iv, WORDS),
                 lambda: text_plot(iv, WORDS)):  # fmt: skip
        with pytest.raises(InvalidParameterError, match=r"non-finite values .* at \(3, 4\)"):
            draw()
