"""Text view: layout, shading by first-order sign, arcs = the top-k interactions, HTML."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch, Rectangle
from plot_values import FIRST, WORDS, make_iv
from shapiq import InteractionValues

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.plot import layout_text, text_html, text_plot, top_interactions
from shapiq_spex.plot.text import NEGATIVE_COLOR, POSITIVE_COLOR


class FakePlayers:
    """Duck-typed TextPlayers: text, spans, names, region."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = np.array(
            [(m.start(), m.end()) for m in re.finditer(r"\w+(?:'\w+)*|[^\w\s]+", text)]
        )
        self.names = [text[s:e] for s, e in self.spans.tolist()]
        self.region = (0, len(text))


def drawn_interactions(ax) -> dict[tuple[int, ...], list]:
    out: dict[tuple[int, ...], list] = {}
    for artist in ax.get_children():
        gid = artist.get_gid() or ""
        if gid.startswith("interaction:"):
            key = tuple(int(p) for p in gid.split(":")[1].split("-"))
            out.setdefault(key, []).append(artist)
    return out


def test_top_interactions_orders_by_magnitude():
    iv = make_iv()
    top = top_interactions(iv, 3)
    assert [k for k, _ in top] == [(3, 4), (6, 11), (3, 4, 6)]
    assert top_interactions(iv, 0) == []
    assert [k for k, _ in top_interactions(iv, 2, min_order=1)] == [(3, 4), (3,)]


@pytest.mark.parametrize("k", [1, 3, 6])
def test_arcs_are_exactly_the_top_k(k):
    iv = make_iv()
    ax = text_plot(iv, WORDS, k=k, colorbar=False)
    drawn = drawn_interactions(ax)
    expected = {key for key, _ in top_interactions(iv, k)}
    assert set(drawn) == expected
    # a pair is one curve; a triple is one curve per member plus a hub marker
    for key, artists in drawn.items():
        curves = [a for a in artists if isinstance(a, PathPatch)]
        markers = [a for a in artists if isinstance(a, Line2D)]
        assert len(curves) == (1 if len(key) == 2 else len(key))
        assert len(markers) == (0 if len(key) == 2 else 1)


def test_arc_colour_is_the_sign_and_width_the_magnitude():
    iv = make_iv()
    drawn = drawn_interactions(text_plot(iv, WORDS, k=4, colorbar=False))
    pos, neg = drawn[(3, 4)][0], drawn[(6, 11)][0]
    assert pos.get_edgecolor()[:3] == pytest.approx(to_rgba(POSITIVE_COLOR)[:3])
    assert neg.get_edgecolor()[:3] == pytest.approx(to_rgba(NEGATIVE_COLOR)[:3])
    assert drawn[(8, 11)][0].get_edgecolor()[:3] == pytest.approx(to_rgba(NEGATIVE_COLOR)[:3])
    assert pos.get_linewidth() > neg.get_linewidth() > drawn[(8, 11)][0].get_linewidth()


def test_arcs_join_the_right_words():
    iv = make_iv()
    ax = text_plot(iv, WORDS, k=2, colorbar=False)
    layout = layout_text(WORDS, len(WORDS))
    boxes = {
        int(p.get_gid().split(":")[1]): p
        for p in ax.get_children()
        if isinstance(p, Rectangle) and (p.get_gid() or "").startswith("player:")
    }
    for key, artists in drawn_interactions(ax).items():
        verts = artists[0].get_path().vertices
        start_x, end_x = verts[0, 0], verts[-1, 0]
        for player, x in zip(key, (start_x, end_x), strict=True):
            box = boxes[player]
            assert box.get_x() <= x <= box.get_x() + box.get_width()
            assert x == pytest.approx(layout.anchors[player, 0])


def test_shading_follows_first_order_sign():
    iv = make_iv()
    ax = text_plot(iv, WORDS, k=0, colorbar=False)
    boxes = {
        int(p.get_gid().split(":")[1]): p
        for p in ax.get_children()
        if isinstance(p, Rectangle) and (p.get_gid() or "").startswith("player:")
    }
    assert set(boxes) == set(range(len(WORDS)))
    for i, value in enumerate(FIRST):
        r, g, b, _ = boxes[i].get_facecolor()
        if value > 0:
            assert r > b
        elif value < 0:
            assert b > r
        else:
            assert min(r, g, b) > 0.9  # the centre of the colormap: near white
    assert not drawn_interactions(ax)


def test_uses_given_axes_and_renders():
    import matplotlib.pyplot as plt

    fig, (_, ax2) = plt.subplots(2, 1)
    out = text_plot(make_iv(), WORDS, ax=ax2, title="t")
    assert out is ax2
    assert out.figure is fig
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_layout_keeps_text_spacing_and_wraps():
    players = FakePlayers("It's good, isn't it?\n\nYes.")
    layout = layout_text(players, len(players.names), line_width=12)
    pieces = [(p, line, x0, x1, t) for p, line, x0, x1, t in layout.segments]
    by_player = {p: (line, x0, x1) for p, line, x0, x1, _ in pieces}
    # "good" and "," are adjacent in the text: no gap between them in the layout
    assert players.names[1:3] == ["good", ","]
    assert by_player[2][1] == by_player[1][2]
    # the blank line starts a new line for "Yes"
    yes = players.names.index("Yes")
    assert by_player[yes][0] > by_player[yes - 1][0]
    assert all(x1 <= 12 for _, _, _, x1, _ in pieces)


def test_long_text_wraps_and_draws_only_top_k():
    rng = np.random.default_rng(0)
    n = 1000
    words = [f"w{i % 97}" for i in range(n)]
    values = {(i,): float(v) for i, v in enumerate(rng.normal(size=n))}
    pairs = {
        tuple(sorted(map(int, rng.choice(n, 2, replace=False)))): float(rng.normal())
        for _ in range(300)
    }
    values.update(pairs)
    iv = InteractionValues(values, index="Moebius", max_order=2, n_players=n, min_order=1,
                           baseline_value=0.0)  # fmt: skip
    layout = layout_text(words, n, line_width=100)
    assert layout.n_lines >= n * 3 // 100
    assert all(x1 <= 100 for _, _, _, x1, _ in layout.segments)
    assert sorted(p for p, *_ in layout.segments) == list(range(n))
    ax = text_plot(iv, words, k=10)
    assert set(drawn_interactions(ax)) == {k for k, _ in top_interactions(iv, 10)}
    fig = ax.figure
    assert 10 < fig.get_size_inches()[1] < 300  # grows with the text
    fig.savefig(io.BytesIO(), format="png", dpi=30)


def test_a_sentence_player_longer_than_a_line_wraps_inside():
    sentence = " ".join(["word"] * 40)
    layout = layout_text([sentence, "end"], 2, line_width=30)
    segs = [s for s in layout.segments if s[0] == 0]
    assert len(segs) >= 6
    assert " ".join(s[4] for s in segs) == sentence


def test_explicit_interactions_are_drawn_instead_of_the_top_k():
    iv = make_iv()
    ax = text_plot(iv, WORDS, interactions=[(8, 11), (1, 8)], colorbar=False)
    assert set(drawn_interactions(ax)) == {(8, 11), (1, 8)}
    ax = text_plot(iv, WORDS, interactions=[], colorbar=False)
    assert not drawn_interactions(ax)


@pytest.mark.parametrize(
    ("interactions", "match"),
    [([(3,)], "2 or more"), ([(3, 3)], "distinct"), ([(0, 99)], "players in"), ("0-1", "list")],
)
def test_explicit_interactions_are_checked(interactions, match):
    with pytest.raises(InvalidParameterError, match=match):
        text_plot(make_iv(), WORDS, interactions=interactions, colorbar=False)


def test_bad_arguments_raise_clear_errors():
    iv = make_iv()
    with pytest.raises(InvalidParameterError, match="players"):
        text_plot(iv, WORDS[:-1])
    with pytest.raises(InvalidParameterError, match="'k'"):
        text_plot(iv, WORDS, k=-1)
    with pytest.raises(InvalidParameterError, match="line_width"):
        layout_text(WORDS, line_width=5)
    with pytest.raises(InvalidParameterError, match="players"):
        text_html(iv, WORDS[:3])
    with pytest.raises(InvalidParameterError, match="interaction_values"):
        text_plot({(0,): 1.0}, WORDS)
    with pytest.raises(InvalidParameterError, match="min_order"):
        text_plot(iv, WORDS, min_order=1)
