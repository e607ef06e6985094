"""The served-model options that need no server: --timeout and the messages' option names."""

from __future__ import annotations

import pytest

from shapiq_spex.cli.explain import ExplainConfig, check_config, cli_message
from shapiq_spex.cli.main import main
from shapiq_spex.exceptions import InvalidParameterError


def test_timeout_needs_an_endpoint():
    with pytest.raises(InvalidParameterError, match="--timeout need '--endpoint URL'"):
        check_config(ExplainConfig(text="a short text", task="generation", timeout=5.0))


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "soon"])
def test_timeout_must_be_positive_seconds(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["explain", "a short text", "--timeout", value])
    assert info.value.code == 2
    assert "positive number of seconds" in capsys.readouterr().err


def test_endpoint_hints_name_the_options():
    timeout = "...; raise timeout_s if the server is slow to answer (now 2 s), or check ..."
    assert "raise '--timeout' if" in cli_message(timeout)
    missing = "No such path: is the URL the API root (…/v1)? Pass the API root as endpoint= (e.g."
    assert "Pass the API root as '--endpoint'" in cli_message(missing)


def test_answer_boundary_hint_names_the_option():
    from shapiq_spex.games.endpoint import _boundary_message

    merged = cli_message(_boundary_message("assistant\n", " 2", 1, "2"))
    assert "(they spell '2')" in merged
    assert "(--answer '2')" in merged
    glued = _boundary_message("The answer is:", "2", 1, ":2")
    assert "start the answer with a space" in glued
    assert "without it" not in glued


@pytest.mark.parametrize("answer", ["", "   ", "\n"])
def test_an_answer_without_text_is_refused_before_the_model_loads(answer):
    config = ExplainConfig(text="Tom built the mill.", task="generation", answer=answer)
    with pytest.raises(InvalidParameterError, match=r"The '--answer' option .* has no text"):
        check_config(config)


def test_the_few_coalitions_warning_reads_in_cli_words():
    warning = "ProxySPEX's report_.faithfulness_r2 rests on only 12 validation coalitions"
    assert cli_message(warning).startswith("ProxySPEX's held-out R² rests on only 12")


def test_the_default_order_fits_a_one_player_text_and_an_explicit_one_is_checked():
    from shapiq_spex.cli.explain import build_approximator

    default = ExplainConfig(text="One sentence only.", players="sentence")
    assert build_approximator(default, 1).max_order == 1  # was refused: "--order (2)" not given
    explicit = ExplainConfig(text="One sentence only.", players="sentence", order=2)
    with pytest.raises(InvalidParameterError, match=r"'--order' option \(2\) is larger"):
        build_approximator(explicit, 1)


@pytest.mark.parametrize("query", ["", "  "])
def test_a_query_without_text_is_refused(query):
    config = ExplainConfig(text="Tom built the mill.", task="generation", query=query)
    with pytest.raises(InvalidParameterError, match=r"The '--query' option .* has no text"):
        check_config(config)
