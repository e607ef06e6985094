"""What the command line says about faithfulness: the coalitions scored, too few, truncation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_texts import REVIEW

from shapiq_spex.cli.explain import ExplainConfig, check_config, cli_message, written_truncation
from shapiq_spex.cli.main import main
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra.spectrum import SparseSpectrum


def run_cli(args, capsys):
    status = main(["explain", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_r2_names_the_validation_coalitions_it_rests_on(tiny_classifier_dir, tmp_path, capsys):
    js = tmp_path / "r.json"
    args = [REVIEW, "--model", tiny_classifier_dir, "--budget", 200, "--json", js, "--no-report"]
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    doc = json.loads(js.read_text())
    assert doc["n_holdout"] == 0  # ProxySPEX's default: scored on its validation rows
    assert doc["faithfulness_coalitions"] == 40
    assert "on 40 validation coalitions" in out
    assert "on 0 held-out" not in out
    assert "too few" not in out


def test_a_tiny_budget_says_its_r2_cannot_be_trusted(tiny_classifier_dir, tmp_path, capsys):
    out_html, js = tmp_path / "r.html", tmp_path / "r.json"
    args = [REVIEW, "--model", tiny_classifier_dir, "--budget", 30, "--out", out_html, "--json", js]
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    assert json.loads(js.read_text())["faithfulness_coalitions"] == 6
    assert "(too few to trust: raise --budget)" in out
    assert "rests on only 6 validation coalitions" in err  # the warning, in the CLI's words
    assert "report_." not in err
    page = out_html.read_text()
    assert "6 masked texts are too few to tell" in page
    assert "That is close" not in page
    assert "--budget 120" in page  # 30 x ceil(20 / 6) gives >= 20 validation coalitions


def test_degree_cap_is_refused_for_proxyspex():
    config = ExplainConfig(text=REVIEW, method="proxyspex", degree_cap=1)
    with pytest.raises(InvalidParameterError, match=r"--degree-cap.*--method spex"):
        check_config(config)
    check_config(ExplainConfig(text=REVIEW, method="spex", degree_cap=1))


def test_truncated_moebius_values_are_not_called_the_surrogate(tmp_path, capsys):
    # the real MiniLM model: on this review its surrogate has terms up to order 4 (the tiny
    # random test model's is first-order, nothing to cut)
    out_html, js = tmp_path / "r.html", tmp_path / "r.json"
    text = "not a bad film at all, the acting was great but the plot was thin"
    args = [text, "--model", "minilm-sentiment", "--budget", 400, "--index", "Moebius",
            "--out", out_html, "--json", js]  # fmt: skip
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    doc = json.loads(js.read_text())
    cut = doc["truncation"]
    assert cut["order"] == 2
    assert cut["max_degree"] >= 3
    assert max(len(row["players"]) for row in doc["interactions"]) == 2
    assert 0.0 < cut["r2_vs_explanation"] < 0.95  # the written terms miss part of it
    assert f"--order {cut['max_degree']} writes all" in out
    page = out_html.read_text()
    assert "can be read as they are" not in page
    assert "terms up to order 2 only" in page
    assert "terms above order 2 are not written" in page  # the sum's gap, not model vs fit


@pytest.mark.parametrize("index", ["Fourier", "Moebius"])
def test_written_truncation_is_the_r2_of_the_kept_terms(index):
    # Fourier terms are orthogonal under uniform coalitions: cutting (0, 1, 2) of three unit
    # terms leaves 2/3 of the variance
    spectrum = SparseSpectrum.from_dict(5, {(): 0.5, (0,): 1.0, (1, 2): 1.0, (0, 1, 2): 1.0})
    cut = written_truncation(spectrum, "Fourier", 2)
    assert cut["order"] == 2
    assert cut["max_degree"] == 3
    assert cut["r2_vs_explanation"] == pytest.approx(2 / 3, abs=0.03)
    moebius = spectrum.to_moebius()
    kept = {k: v for k, v in moebius.to_dict().items() if len(k) <= 2}
    masks = np.random.default_rng(0).random((2000, 5)) < 0.5
    full = moebius.evaluate(masks)
    part = SparseSpectrum.from_dict(5, kept, basis="moebius").evaluate(masks)
    expected = 1 - ((full - part) ** 2).sum() / ((full - full.mean()) ** 2).sum()
    assert written_truncation(spectrum, "Moebius", 2)["r2_vs_explanation"] == pytest.approx(
        expected, abs=1e-12
    )
    assert written_truncation(spectrum, index, 3) is None  # nothing cut
    assert written_truncation(spectrum, "k-SII", 2) is None  # not the surrogate's terms


def test_library_messages_use_the_options_names(tmp_path):
    from shapiq_spex.engine import CacheMismatchError, QueryEngine
    from shapiq_spex.games._torch import resolve_device
    from shapiq_spex.games.synthetic import SparseMoebiusGame

    with pytest.raises(InvalidParameterError) as info:
        resolve_device("bogus")
    assert "The '--device' option must be" in cli_message(str(info.value))
    path = tmp_path / "c.sqlite"
    QueryEngine(SparseMoebiusGame(6, 2, 2, random_state=0), cache=path, progress=False).close()
    with pytest.raises(CacheMismatchError) as info:
        QueryEngine(SparseMoebiusGame(6, 2, 2, random_state=1), cache=path, progress=False)
    text = cli_message(str(info.value))
    assert "overwrite=True" in str(info.value)
    assert "overwrite=True" not in text
    assert "Pass a new '--cache' path" in text


def test_a_target_r2_that_is_not_reached_is_said_so(tmp_path, capsys):
    js = tmp_path / "r.json"
    text = "not a bad film at all, the acting was great but the plot was thin"
    args = [text, "--model", "minilm-sentiment", "--budget", 300, "--target-r2", 0.999,
            "--json", js, "--no-report"]  # fmt: skip
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    doc = json.loads(js.read_text())
    assert doc["target_reached"] is False
    assert doc["faithfulness_r2"] < 0.999
    assert doc["queries"] == 300
    assert "target    R² 0.999 not reached" in out
