"""Inputs of ``shapiq-spex explain`` refused early and clearly: seeds, headless models, huge texts.

Also the Unicode rules of the players as the command line shows them.
"""

from __future__ import annotations

import json
import unicodedata

import pytest
from cli_texts import REVIEW

from shapiq_spex.cli.explain import MAX_TEXT_CHARS, ExplainConfig, check_config
from shapiq_spex.cli.main import INDEX_CHOICES, main
from shapiq_spex.exceptions import InvalidParameterError


def run_cli(args, capsys):
    try:
        status = main(["explain", *map(str, args)])
    except SystemExit as exit_:  # argparse usage errors
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def test_index_choices_are_the_supported_indices():
    from shapiq_spex.spectra.indices import SUPPORTED_INDICES

    assert INDEX_CHOICES == SUPPORTED_INDICES


# ------------------------------------------------------------------ seeds
@pytest.mark.parametrize("seed", ["-1", "1.5", "abc", "0x10", ""])
@pytest.mark.parametrize("command", ["explain", "demo"])
def test_bad_seeds_are_refused_when_parsing(seed, command, capsys, no_model_load):
    args = [command, "--seed", seed] if command == "demo" else ["explain", "text", "--seed", seed]
    with pytest.raises(SystemExit) as exit_:  # argparse: nothing was run
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "--seed" in err
    assert "non-negative integer" in err


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seeds_are_refused_by_the_config(seed):
    with pytest.raises(InvalidParameterError, match="--seed"):
        check_config(ExplainConfig("a b c", seed=seed))


# ------------------------------------------------------------------ headless models
@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    """A tiny real BERT encoder saved without any classification head (+ its tokenizer)."""
    from shapiq_spex.models.tiny import tiny_bert_classifier, word_level_tokenizer

    folder = tmp_path_factory.mktemp("tiny_encoder")
    tok = word_level_tokenizer([REVIEW], style="bert")
    tiny_bert_classifier(tok, seed=5).bert.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def minilm_folder():
    from shapiq_spex.models.sentiment import minilm_path

    return minilm_path()


@pytest.mark.parametrize("which", ["tiny encoder", "MiniLM encoder"])
def test_an_encoder_without_classifier_head_is_refused(which, encoder_dir, tmp_path, capsys):
    """transformers would add a random head: the same seed would give other values every run."""
    folder = encoder_dir if which == "tiny encoder" else minilm_folder()
    status, _, err = run_cli(
        [REVIEW, "--model", folder, "--budget", 100, "--no-report", "--json", tmp_path / "r.json"],
        capsys,
    )
    assert status == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err  # transformers' load report is held back
    assert "no trained weights for 2 parameters" in err
    assert "classifier.weight" in err
    assert "fine-tuned for sequence classification" in err
    assert not (tmp_path / "r.json").exists()


def test_a_complete_checkpoint_still_loads_as_encoder(tiny_classifier_dir):
    """A classifier checkpoint has every encoder weight (its unused head is no problem)."""
    import transformers

    from shapiq_spex.games._torch import from_pretrained_checked

    model = from_pretrained_checked(transformers.AutoModel, tiny_classifier_dir, task="encoder")
    assert type(model).__name__ == "BertModel"


# ------------------------------------------------------------------ long texts
def test_a_50_mb_file_is_refused_before_reading_tokenizing_or_loading(
    tmp_path, capsys, monkeypatch, no_model_load
):
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:
        handle.truncate(50 * 2**20)

    def no_reading(*args, **kwargs):
        msg = "the 50 MB file was read"
        raise AssertionError(msg)

    monkeypatch.setattr(type(big), "read_text", no_reading)
    status, _, err = run_cli(["--file", big, "--no-report"], capsys)
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "52,428,800 bytes" in err
    assert f"at most {MAX_TEXT_CHARS:,} characters" in err


def test_a_text_over_the_character_limit_is_refused(capsys, no_model_load):
    status, _, err = run_cli(["word " * (MAX_TEXT_CHARS // 5 + 1), "--no-report"], capsys)
    assert status == 2
    assert f"{MAX_TEXT_CHARS + 5:,} characters" in err


def test_a_text_longer_than_the_model_is_refused_before_loading(
    tiny_classifier_dir, capsys, no_model_load, monkeypatch
):
    """The tiny model has 128 positions; 300 words give at least 300 tokens with any tokenizer."""

    def no_tokenizing(*args, **kwargs):
        msg = "the text was tokenized"
        raise AssertionError(msg)

    monkeypatch.setattr("shapiq_spex.text.players.TextPlayers.__init__", no_tokenizing)
    text = " ".join(["good"] * 300)
    status, _, err = run_cli([text, "--model", tiny_classifier_dir, "--no-report"], capsys)
    assert status == 2, err
    assert "300 words" in err
    assert "128 positions" in err


def test_the_game_still_refuses_texts_with_too_many_tokens(tiny_classifier_dir, capsys):
    """Fewer words than positions but more tokens (punctuation): the game's exact count."""
    text = " ".join(["good,bad."] * 40)  # 40 pieces, 160 tokens
    status, _, err = run_cli([text, "--model", tiny_classifier_dir, "--no-report"], capsys)
    assert status == 2, err
    assert "tokens after masking, more than the 128 positions" in err


# ------------------------------------------------------------------ Unicode through the CLI
def test_nfd_accents_and_invisible_characters_in_the_json(tiny_classifier_dir, tmp_path, capsys):
    text = unicodedata.normalize("NFD", "le café\u200b est très bon\u200f !")
    out = tmp_path / "r.json"
    args = [text, "--model", tiny_classifier_dir, "--budget", 120, "--no-report", "--json", out]
    status, _, err = run_cli(args, capsys)
    assert status == 0, err
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["text"] == text  # not normalized
    assert [unicodedata.normalize("NFC", p) for p in doc["players"]] == [
        "le", "café", "est", "très", "bon", "!",
    ]  # fmt: skip
    for name, (start, end) in zip(doc["players"], doc["spans"], strict=True):
        assert text[start:end] == name


def test_thai_word_players_print_a_hint_to_use_token_players(tiny_classifier_dir, capsys):
    text = "หนังเรื่องนี้สนุกมาก แต่ตอนจบแย่"
    args = [text, "--model", tiny_classifier_dir, "--budget", 60, "--no-report", "--order", 1,
            "--index", "SV"]  # fmt: skip
    status, _, err = run_cli(args, capsys)
    assert status == 0, err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    assert "Thai" in warnings[0]
    assert "--players token" in warnings[0]
