"""shapiq's own plots render our results (InteractionValues built by to_interaction_values).

Finding (shapiq 1.8): all seven ``InteractionValues.plot_*`` methods work on our results for
every order >= 2 index, including order-3 values. ``plot_network`` requires order-2 values
(shapiq raises ``ValueError`` for first-order indices such as SV): that is shapiq's own
precondition, not a defect of our values; use ``plot_si_graph`` or ``plot_force`` for SV/BV.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from shapiq_spex import SPEX, SparseMoebiusGame, to_interaction_values

WORDS = ["the", "plot", "is", "not", "bad", "but", "the", "acting", "is", "not", "good"]
N = len(WORDS)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results():
    """An SPEX result, and its spectrum converted the way every approximator converts it."""
    game = SparseMoebiusGame(N, 8, 3, hierarchical=True, random_state=0)
    approx = SPEX(N, 2, "k-SII", random_state=0)
    out = {"k-SII": approx.approximate(500, game)}
    for index, order in (("Moebius", 3), ("SV", 1)):
        out[index] = to_interaction_values(
            approx.spectrum_, index, order, baseline_value=out["k-SII"].baseline_value
        )
    return out


def _figure(result):
    """The figure of whatever a shapiq plot returned (Figure, Axes or (Figure, Axes))."""
    from matplotlib.figure import Figure

    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, Figure):
        return result
    if result is None:
        return plt.gcf()
    return result.figure


PLOTS = {
    "network": lambda iv: iv.plot_network(show=False),
    "si_graph": lambda iv: iv.plot_si_graph(show=False),
    "force": lambda iv: iv.plot_force(feature_names=np.array(WORDS), show=False),
    "waterfall": lambda iv: iv.plot_waterfall(feature_names=np.array(WORDS), show=False),
    "upset": lambda iv: iv.plot_upset(show=False),
    "stacked_bar": lambda iv: iv.plot_stacked_bar(show=False),
    "sentence": lambda iv: iv.plot_sentence(WORDS, show=False),
}


CASES = [("k-SII", plot) for plot in PLOTS]
CASES += [("Moebius", plot) for plot in ("network", "si_graph", "upset", "stacked_bar")]
CASES += [("SV", plot) for plot in ("network", "force", "waterfall", "sentence")]


@pytest.mark.parametrize(("index", "plot"), CASES)
def test_shapiq_plot_renders_our_values(results, index, plot, tmp_path):
    iv = results[index]
    assert iv.max_order == (1 if index == "SV" else 2 if index == "k-SII" else 3)
    assert any(len(k) == 1 for k in iv.interactions)  # plot_sentence reads first-order values
    if plot == "network" and index == "SV":
        with pytest.raises(ValueError, match="2-order"):  # shapiq's precondition
            PLOTS[plot](iv)
        return
    fig = _figure(PLOTS[plot](iv))
    path = tmp_path / f"{plot}.png"
    fig.savefig(path, dpi=40)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 1000


@pytest.mark.parametrize("index", ["Moebius", "k-SII", "FSII"])
@pytest.mark.parametrize("plot", ["network", "si_graph"])
def test_network_plots_draw_every_player_of_a_purely_pairwise_game(index, plot):
    """Every first-order value is 0: shapiq takes its nodes from the singletons present."""

    def game(X):
        X = np.asarray(X, dtype=bool)
        return 1.0 * (X[:, 0] & X[:, 1]) - 0.8 * (X[:, 2] & X[:, 3]) + 0.5 * (X[:, 4] & X[:, 5])

    iv = SPEX(6, 2, index, random_state=0).approximate(2**6, game)  # the exact path
    assert all(iv[(i,)] == 0.0 for i in range(6))
    names = [f"x{i}" for i in range(6)]
    fig = _figure(getattr(iv, f"plot_{plot}")(feature_names=names, show=False))
    labels = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert set(names) <= labels, labels
    plt.close(fig)
