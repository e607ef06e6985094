"""What ``explain`` says it explained: the prediction, the class (``--target``/``--class``), the
class switch of ``--target all``, and the report shown inline in Jupyter (``_repr_html_``)."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from cli_texts import CONTEXT, REVIEW

from shapiq_spex.cli.explain import ExplainConfig, explain_text, parse_targets
from shapiq_spex.cli.main import main
from shapiq_spex.exceptions import InvalidParameterError


def run_cli(args, capsys):
    status = main(["explain", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def visible(page: str) -> str:
    """The page's text as a reader sees it at rest (no templates, tags or entities)."""
    page = re.sub(r"<template.*?</template>", "", page, flags=re.DOTALL)
    page = re.sub(r"<(style|script)>.*?</\1>", "", page, flags=re.DOTALL)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    return re.sub(r"\s+([).,:;])", r"\1", text)  # the space a closing tag left


def model_logits(folder, text: str) -> np.ndarray:
    """The saved classifier's logits on the full text, straight from transformers."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        return model(**tok(text, return_tensors="pt")).logits[0].double().numpy()


@pytest.fixture(scope="module")
def all_classes(tiny_classifier_dir, tmp_path_factory):
    """``--target all`` on the tiny two-class model: (JSON document, HTML page, folder)."""
    folder = tmp_path_factory.mktemp("all")
    status = main(["explain", REVIEW, "--model", str(tiny_classifier_dir), "--budget", "150",
                   "--target", "all", "--out", str(folder / "r.html"), "--json",
                   str(folder / "r.json"), "--quiet"])  # fmt: skip
    assert status == 0
    doc = json.loads((folder / "r.json").read_text(encoding="utf-8"))
    return doc, (folder / "r.html").read_text(encoding="utf-8"), folder


@pytest.mark.parametrize("option", ["--class", "--target"])
def test_the_explained_class_is_chosen_and_stated(tiny_classifier_dir, tmp_path, capsys, option):
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    args = [REVIEW, "--model", tiny_classifier_dir, "--budget", 150, option, "positive",
            "--json", out_json, "--out", out_html]  # fmt: skip
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    p = json.loads(out_json.read_text())["prediction"]
    logits = model_logits(tiny_classifier_dir, REVIEW)
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert p["labels"] == ["negative", "positive"]
    assert p["probabilities"] == pytest.approx(probs.tolist(), abs=1e-6)
    assert p["target"] == 1
    assert p["output"] == "logit"
    assert p["full_value"] == pytest.approx(logits[1], abs=1e-5)
    assert p["masking"] == "mask_token"
    assert p["mask_text"] == "[MASK]"
    best = int(np.argmax(probs))
    which = "the predicted class" if best == 1 else "not the predicted class"
    text = visible(out_html.read_text(encoding="utf-8"))
    assert f"The model predicts {p['labels'][best]} (probability {probs[best]:.2f})" in text
    assert f"Explained: the logit of positive (class 1, {which}; unit: logit)" in text
    assert "red: raises the logit of positive" in text
    assert "Only the class positive is explained" in text  # how to get the switch
    # the console says it too, before the table
    assert f"predicts  {p['labels'][best]} (probability {probs[best]:.2f})" in out
    assert f"explains  the logit of positive: {logits[1]:+.4g} logit with the full text" in out
    assert out.index("predicts") < out.index("top 10 interactions")


def test_target_all_explains_every_class_and_the_report_switches(all_classes, tiny_classifier_dir):
    doc, page, _ = all_classes
    first, (other,) = doc["prediction"], doc["other_classes"]
    logits = model_logits(tiny_classifier_dir, REVIEW)
    assert first["target"] == int(np.argmax(logits))  # 'all' starts with the predicted class
    assert {first["target"], other["prediction"]["target"]} == {0, 1}
    labels = first["labels"]
    buttons = re.findall(r'<button type="button" data-view="(\d)" aria-pressed="(\w+)">(\w+)', page)
    assert buttons == [("0", "true", labels[first["target"]]),
                       ("1", "false", labels[other["prediction"]["target"]])]  # fmt: skip
    text = visible(page)
    for p in (first, other["prediction"]):
        assert f"the logit of {labels[p['target']]} (class {p['target']}" in text
    # the other class is the same run as explaining it alone (same seed and budget)
    alone = explain_text(ExplainConfig(REVIEW, model=str(tiny_classifier_dir), budget=150,
                                       target=str(other["prediction"]["target"])))  # fmt: skip
    iv = alone.interaction_values
    assert len(other["interactions"]) == sum(1 for key in iv.interactions if key)
    for item in other["interactions"]:
        assert item["value"] == pytest.approx(iv[tuple(item["players"])], abs=1e-12)
    assert other["prediction"]["full_value"] == pytest.approx(logits[other["prediction"]["target"]],
                                                              abs=1e-5)  # fmt: skip
    assert "players" not in other  # the text is given once, at the top


def test_a_result_shows_its_report_inline_in_jupyter(tiny_classifier_dir):
    config = ExplainConfig(REVIEW, model=str(tiny_classifier_dir), budget=150, target="all")
    result = explain_text(config)
    fragment = result._repr_html_()
    assert fragment.startswith('<div class="spex-report"')
    assert "<!DOCTYPE" not in fragment
    assert fragment.count('class="spex-view"') == 2  # the class switch, as in the file
    p = result.prediction
    assert f"The model predicts {p.labels[p.predicted]}" in visible(fragment)
    for word in result.players.names:
        assert html.escape(word) in fragment


def test_a_generated_answer_is_stated(tiny_lm_dir, tmp_path, capsys):
    out_json, out_html = tmp_path / "g.json", tmp_path / "g.html"
    args = [CONTEXT, "--task", "generation", "--model", tiny_lm_dir, "--query",
            "What is the capital ?", "--answer", "Paris", "--players", "sentence", "--budget",
            60, "--order", 1, "--index", "SV", "--json", out_json, "--out", out_html]  # fmt: skip
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    p = json.loads(out_json.read_text())["prediction"]
    answer = p["answer"].strip()
    assert answer.lower() == "paris"  # as the tiny word-level tokenizer decodes it
    assert p["query"] == "What is the capital ?"
    assert p["output"] == "log_prob"
    assert p["labels"] == []
    assert p["target"] is None
    assert p["player_kind"] == "sentence"
    assert p["full_value"] < 0
    text = visible(out_html.read_text(encoding="utf-8"))
    assert f"Explained: the model's answer to “What is the capital ?”: “{answer}”" in text
    assert f"(probability {np.exp(p['full_value']):.2g})" in text
    assert "with every sentence removed" in text
    assert "Only the class" not in text
    assert f"answer    “{answer}”" in out


@pytest.mark.parametrize(
    ("target", "match"),
    [("0,negative", "twice"), ("all,1", "cannot be combined"), ("negative,,positive", "comma"),
     ("negative,negative", "distinct"), ("neutral", "not a label")],
)  # fmt: skip
def test_bad_classes_are_refused(tiny_classifier_dir, capsys, target, match):
    status, _, err = run_cli([REVIEW, "--model", tiny_classifier_dir, "--budget", 150,
                              "--target", target, "--no-report"], capsys)  # fmt: skip
    assert status == 2
    assert match in err
    assert "--target" in err or "target" in err
    assert "Traceback" not in err


def test_several_classes_do_not_share_one_cache(tmp_path, capsys, no_model_load):
    status, _, err = run_cli([REVIEW, "--target", "all", "--cache", tmp_path / "c.sqlite",
                              "--no-report"], capsys)  # fmt: skip
    assert status == 2
    assert "--cache" in err
    assert not (tmp_path / "c.sqlite").exists()


def test_parse_targets():
    assert parse_targets(None) == [None]
    assert parse_targets("all") == ["all"]
    assert parse_targets(" negative , 1") == ["negative", "1"]
    with pytest.raises(InvalidParameterError, match="--target"):
        parse_targets("a,")


@pytest.mark.server
@pytest.mark.llm
def test_a_served_models_label_is_stated(tmp_path, capsys):
    """``--scoring label_logprob``: the report names the explained label, not an answer."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] is installed by make install")
    from shapiq_spex.endpoint import LlamaCppServer
    from shapiq_spex.models.smollm2 import gguf_path

    out_json, out_html = tmp_path / "l.json", tmp_path / "l.html"
    with LlamaCppServer(gguf_path(), n_threads=1) as server:
        args = ["The movie was wonderful and the cast was great.", "--task", "generation",
                "--query", "Is this review positive? Answer yes or no.", "--players", "word",
                "--endpoint", server.base_url, "--model", "smollm2", "--scoring",
                "label_logprob", "--labels", "yes", "no", "--missing-label", "bound",
                "--budget", 40, "--batch-size", 8, "--json", out_json,
                "--out", out_html]  # fmt: skip
        status, out, err = run_cli(args, capsys)
    assert status == 0, err
    p = json.loads(out_json.read_text())["prediction"]
    assert (p["answer"], p["labels"], p["target"], p["output"]) == ("yes", ["yes", "no"], None,
                                                                      "log_prob")  # fmt: skip
    assert p["masking"] == "remove"
    text = visible(out_html.read_text(encoding="utf-8"))
    assert "the model's reply to “Is this review positive? Answer yes or no.”: the label “yes”" in (
        text
    )
    assert f"(probability {np.exp(p['full_value']):.2g})" in text
    assert "the log-probability of the label “yes” (unit: nats)" in text
    assert "The labels “yes”, “no” are scored" in text
    assert "a removed word is deleted from the model's input" in text
    assert "None" not in text.split("How this was computed")[0]
    assert "label     “yes” (of yes, no; first token scored)" in out
