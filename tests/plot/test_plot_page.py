"""The HTML view: answer first, one top-k, position labels, plain-words faithfulness, masking."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from plot_values import PAIRS, WORDS, make_iv

from shapiq_spex.approximators._base import ApproximationReport
from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.plot import Prediction, TextExplanation, text_html, top_interactions
from shapiq_spex.plot.page import faithfulness_sentence, player_labels, report_rows
from shapiq_spex.plot.text import JOINER


class Players:
    """Duck-typed TextPlayers (text, spans, names, region, granularity) of a short text."""

    def __init__(self, text: str, spans: list[tuple[int, int]], granularity: str = "word"):
        self.text = text
        self.spans = np.array(spans)
        self.names = [text[s:e] for s, e in spans]
        self.region = (0, len(text))
        self.granularity = granularity


def words_players() -> Players:
    text = " ".join(WORDS)
    spans, pos = [], 0
    for word in WORDS:
        start = text.index(word, pos)
        spans.append((start, start + len(word)))
        pos = start + len(word)
    return Players(text, spans)


def prediction(**kwargs) -> Prediction:
    defaults = {
        "output": "logit", "full_value": 0.32, "empty_value": -0.46,
        "labels": ("negative", "positive"), "probabilities": (0.65, 0.35), "target": 0,
        "masking": "mask_token", "mask_text": "[MASK]",
    }  # fmt: skip
    defaults.update(kwargs)
    return Prediction(**defaults)


def report(r2=0.757, budget=800, n_holdout=64, details=None) -> ApproximationReport:
    return ApproximationReport(
        method="ProxySPEX", budget=budget, queries=budget, game_time_s=1.0, total_time_s=1.2,
        n_holdout=n_holdout, faithfulness_r2=r2, support_size=20, random_state=0,
        details=details or {},
    )  # fmt: skip


def list_rows(page: str) -> list[tuple[int, ...]]:
    found = re.findall(r'<li class="row" tabindex="0" data-players="([\d ]+)"', page)
    return [tuple(int(p) for p in row.split()) for row in found]


def visible_text(fragment: str) -> str:
    """The page's text without templates, tags and entities (what a reader sees at rest)."""
    fragment = re.sub(r"<template.*?</template>", "", fragment, flags=re.DOTALL)
    fragment = re.sub(r"<(style|script)>.*?</\1>", "", fragment, flags=re.DOTALL)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    return re.sub(r"\s+([).,:;])", r"\1", text)  # the space a closing tag left


@pytest.mark.parametrize("k", [1, 4, 9, 50])
def test_the_list_is_the_top_k_of_all_orders(k):
    iv = make_iv()
    page = text_html(iv, WORDS, k=k)
    expected = [key for key, _ in top_interactions(iv, k, min_order=1)]
    assert list_rows(page) == expected
    assert f"The top {len(expected)} effects" in page
    # words in a listed group are underlined (class g), the others are not
    in_groups = {p for key in expected if len(key) > 1 for p in key}
    underlined = {int(p) for p in re.findall(r'class="w g" tabindex="0" data-p="(\d+)"', page)}
    assert underlined == in_groups


def test_the_answer_comes_first_and_names_class_output_and_unit():
    iv = make_iv(index="k-SII")
    page = text_html(iv, words_players(), prediction=prediction(), report=report())
    text = visible_text(page)
    assert text.index("The model predicts negative (probability 0.65)") < text.index("The text")
    assert "Explained: the logit of negative (class 0, the predicted class; unit: logit)" in text
    assert "with every word removed, the logit of negative is \u22120.46 logit" in text
    assert "with the full text +0.32 logit: a change of +0.78" in text
    assert "red: raises the logit of negative" in text
    assert "blue: lowers it" in text
    # all non-empty values add up to the change the surrogate predicts (k-SII is efficient)
    total = sum(v for key, v in iv.interactions.items() if key)
    assert f"add up to {total:+.3g}".replace("-", "\u2212") in text  # a real minus sign
    assert f"({100 * total / 0.78:.0f}%)" in text
    assert "the rest is where the fitted explanation and the model differ" in text
    # values that account for the whole change say so without a remainder
    exact = prediction(full_value=-0.46 + total)
    text = visible_text(text_html(iv, words_players(), prediction=exact))
    assert "(100%) of this change;" in text
    assert "the rest is" not in text


def test_a_class_that_is_not_predicted_is_said_so():
    page = text_html(make_iv(), WORDS, prediction=prediction(target=1))
    assert "the logit of positive (class 1, not the predicted class" in visible_text(page)


@pytest.mark.parametrize(
    ("output", "up", "down"),
    [
        ("logit", "raises the logit of negative", "lowers it"),
        ("logit_margin", "raises the logit margin of negative (away from positive)",
         "lowers it (toward positive)"),
        ("log_prob", "raises the log-probability of negative (away from positive)",
         "lowers it (toward positive)"),
        ("prob", "raises the probability of negative (away from positive)",
         "lowers it (toward positive)"),
    ],
)  # fmt: skip
def test_colours_are_named_by_what_they_push_toward(output, up, down):
    p = prediction(output=output)
    assert p.push_phrases() == (up, down)
    text = visible_text(text_html(make_iv(), WORDS, prediction=p))
    assert f"red: {up}" in text
    assert f"blue: {down}" in text


def test_three_classes_never_claim_a_direction_toward_one_other():
    p = prediction(labels=("a", "b", "c"), probabilities=(0.2, 0.5, 0.3), target=1)
    assert p.push_phrases() == ("raises the logit of b", "lowers it")
    p = prediction(output="prob", labels=("a", "b", "c"), probabilities=(0.2, 0.5, 0.3), target=1)
    assert "toward" not in " ".join(p.push_phrases())


def test_a_generated_answer_is_explained_with_its_probability():
    p = Prediction(output="log_prob", full_value=np.log(0.25), empty_value=-9.0, answer=" Paris",
                   query="What is the capital?", player_kind="sentence")  # fmt: skip
    text = visible_text(text_html(make_iv(), WORDS, prediction=p))
    assert (
        "Explained: the model's answer to “What is the capital?”: “Paris” (probability 0.25)"
        in (text)
    )
    assert "the log-probability of the answer “Paris” (unit: nats)" in text
    assert "with every sentence removed" in text


@pytest.mark.parametrize(
    ("r2", "verdict", "budget_hint"),
    [(0.95, "That is close", False), (0.8, "That is fair", True), (0.4, "That is weak", True),
     (-0.2, "worse than its average", True), (float("nan"), "not measured", False)],
)  # fmt: skip
def test_faithfulness_in_plain_words_with_a_budget_when_low(r2, verdict, budget_hint):
    sentence = faithfulness_sentence(report(r2, budget=300))
    assert verdict in sentence
    assert ("--budget 600" in sentence) == budget_hint
    if np.isfinite(r2) and r2 >= 0:
        assert f"reproduce {100 * r2:.0f}% of the variation" in sentence
        assert "64 masked versions of the text" in sentence


def test_non_efficient_index_does_not_claim_a_share_of_the_change():
    text = visible_text(text_html(make_iv(index="SII"), WORDS, prediction=prediction()))
    assert "SII values do not add up to the change" in text
    assert "%) of this change" not in text


@pytest.mark.parametrize(
    ("masking", "mask_text", "expected"),
    [("mask_token", "[MASK]", "replaced by the model's mask token [MASK]"),
     ("remove", "", "deleted from the model's input"),
     ("UNK", "UNK", "replaced by UNK")],
)  # fmt: skip
def test_masking_is_shown_with_an_example(masking, mask_text, expected):
    iv = make_iv()
    players = words_players()
    page = text_html(iv, players, prediction=prediction(masking=masking, mask_text=mask_text))
    text = visible_text(page)
    assert expected in text
    top = top_interactions(iv, 1, min_order=1)[0][0][0]  # the example removes a top player
    assert f"without “{WORDS[top]}” the model reads:" in text
    if mask_text:
        assert f"<mark>{html.escape(mask_text)}</mark>" in page


def test_repeated_words_are_labelled_by_position_and_sentences_given_in_full():
    labels = player_labels(WORDS, "word")
    assert labels[0] == "“the” (word 1)"
    assert labels[7] == "“the” (word 8)"
    assert labels[1] == "“film”"
    sentence = "A sentence that is much longer than any label would ever be cut to, in full."
    labels = player_labels([sentence, "Short one."], "sentence")
    assert labels == [f"sentence 1: “{sentence}”", "sentence 2: “Short one.”"]
    page = text_html(make_iv(), words_players(), k=20)
    assert f"“the” (word 1){JOINER}“.”" in html.unescape(page)  # the pair (0, 12)
    assert f"“the” (player 1){JOINER}“.”" in html.unescape(text_html(make_iv(), WORDS, k=20))
    # a word's details give its position once
    text = html.unescape(page)
    assert "<b>“the” (word 8)</b>: own effect" in text
    assert "<b>“film”</b> (word 2): own effect" in text
    players = Players(f"{sentence} Short one.", [(0, len(sentence)),
                      (len(sentence) + 1, len(sentence) + 11)], "sentence")  # fmt: skip
    iv = make_iv(words=players.names, first=[0.5, -0.2], pairs={(0, 1): 0.1}, extra={})
    page = html.unescape(text_html(iv, players, k=3))
    assert f"<b>sentence 1: “{sentence}”</b>: own effect" in page


def test_every_detail_is_in_a_focusable_element():
    page = text_html(make_iv(), words_players(), prediction=prediction())
    opened = re.findall(r'<(span|li) class="([^"]+)"( tabindex="0")?[^>]*><template class="d">',
                        page)  # fmt: skip
    assert len(opened) == len(WORDS) + len(top_interactions(make_iv(), 10, min_order=1))
    assert all(tab for _, _, tab in opened)
    assert "title=" not in page
    assert "<title>" not in page.split("</head>")[1]


def test_a_page_is_self_contained_and_reflows():
    page = text_html(make_iv(), WORDS, title="demo <b>")
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "default-src 'none'" in page  # the browser refuses every request
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "<link" not in page
    assert "demo <b>" not in page
    assert "demo &lt;b&gt;" in page
    assert "<svg" in page
    assert "width=" not in page.split("<svg")[1].split(">")[0]


def test_explanation_displays_inline_in_jupyter_as_a_fragment():
    iv = make_iv()
    explanation = TextExplanation(iv, WORDS, prediction=prediction(), k=5)
    fragment = explanation._repr_html_()
    assert not fragment.startswith("<!DOCTYPE")
    assert fragment.startswith('<div class="spex-report"')
    assert "<style>" in fragment
    assert "<script>" in fragment
    assert list_rows(fragment) == [key for key, _ in top_interactions(iv, 5, min_order=1)]
    assert "5 view" not in repr(explanation)
    assert "k=5" in repr(explanation)
    full = explanation.to_html()
    assert fragment in full  # the notebook shows what the file shows


def test_other_classes_get_a_switch():
    iv = make_iv()
    pairs = {key: -v for key, v in PAIRS.items()}
    other = TextExplanation(make_iv(pairs=pairs), WORDS, prediction=prediction(target=1))
    page = TextExplanation(iv, WORDS, prediction=prediction(), others=[other]).to_html()
    buttons = re.findall(r'<button type="button" data-view="(\d)" aria-pressed="(\w+)">(\w+)', page)
    assert buttons == [("0", "true", "negative"), ("1", "false", "positive")]
    assert page.count('class="spex-view"') == 2
    assert '<div class="spex-view" data-view="1" hidden>' in page
    assert "red: raises the logit of positive" in visible_text(page)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"output": ""}, "output"), ({"full_value": float("nan")}, "full_value"),
     ({"probabilities": (1.0,)}, "one probability per class"), ({"target": 5}, "target")],
)  # fmt: skip
def test_bad_predictions_are_refused(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        prediction(**kwargs)


def test_bad_explanations_are_refused(tmp_path):
    iv = make_iv()
    with pytest.raises(InvalidParameterError, match="prediction"):
        TextExplanation(iv, WORDS, prediction={"label": "x"})
    with pytest.raises(InvalidParameterError, match="others"):
        TextExplanation(iv, WORDS, others=[iv])
    short = make_iv(words=WORDS[:5], first=[0.1] * 5, pairs={(0, 1): 0.2}, extra={})
    with pytest.raises(InvalidParameterError, match="same text"):
        TextExplanation(iv, WORDS, others=[TextExplanation(short, WORDS[:5])])
    with pytest.raises(InvalidParameterError, match="report"):
        TextExplanation(iv, WORDS, report=3)
    with pytest.raises(InvalidParameterError, match="'k'"):
        TextExplanation(iv, WORDS, k=-1)
    with pytest.raises(InvalidParameterError, match="path_html"):
        TextExplanation(iv, WORDS).save(tmp_path / "r.png")


def test_faithfulness_names_validation_coalitions_and_refuses_a_verdict_on_few():
    validation = report(0.95, budget=400, n_holdout=0, details={"n_validation": 80})
    sentence = faithfulness_sentence(validation)
    assert "on 80 masked versions of the text that the scored fit did not see" in sentence
    assert "That is close" in sentence
    assert ("masked texts the R² was scored on", "80") in report_rows(validation)
    few = report(0.99, budget=30, n_holdout=0, details={"n_validation": 6})
    sentence = faithfulness_sentence(few)
    assert "6 masked texts are too few to tell" in sentence
    assert "That is close" not in sentence
    assert "--budget 120" in sentence
    # the command line's JSON dict gives the same
    assert faithfulness_sentence({"faithfulness_r2": 0.99, "budget": 30, "n_holdout": 0,
                                  "details": {"n_validation": 6}}) == sentence  # fmt: skip


def test_truncated_values_get_no_verdict_of_their_own():
    cut = {"order": 2, "max_degree": 4, "r2_vs_explanation": 0.73}
    sentence = faithfulness_sentence(report(0.97, budget=400, details={"truncation": cut}))
    assert "can be read as they are" not in sentence
    assert "its terms up to order 2 only (it has terms up to order 4)" in sentence
    assert "R² 0.73" in sentence


@pytest.mark.llm
def test_the_masking_example_shows_one_mask_per_token_as_the_model_reads_it():
    pytest.importorskip("torch")
    from shapiq import InteractionValues

    from shapiq_spex import TextClassificationGame
    from shapiq_spex.plot import prediction_from_game

    game = TextClassificationGame("an unwatchable, overwrought melodrama", "minilm-sentiment",
                                  players="word", device="cpu")  # fmt: skip
    n = game.n_players
    word = game.players.names.index("unwatchable")
    values = {(): 0.0, **{(i,): 0.01 for i in range(n)}, (word,): 1.0}  # the example's player
    iv = InteractionValues(values, index="k-SII", max_order=1, n_players=n, min_order=0,
                           baseline_value=0.0)  # fmt: skip
    page = text_html(iv, game.players, prediction=prediction_from_game(game))
    without = np.ones((1, n), dtype=bool)
    without[0, word] = False
    model_reads = game.masker.texts(without)[0]  # "[CLS] an [MASK] [MASK] [MASK], ..."
    masks = model_reads.count("[MASK]")
    assert masks > 1  # WordPiece splits the word: the test needs a multi-token player
    assert f"<mark>{' '.join(['[MASK]'] * masks)}</mark>" in page
    assert "every token of a removed word is replaced" in visible_text(page)


def test_the_heading_counts_punctuation_apart_from_words():
    from shapiq_spex.plot.page import _count_text

    assert _count_text(WORDS, "word") == "13 players: 11 words, 2 punctuation marks"
    assert _count_text(["not", "bad"], "word") == "2 words"
    assert _count_text(["One.", "Two."], "sentence") == "2 sentences"
    page = visible_text(text_html(make_iv(), words_players()))
    assert "The text (13 players: 11 words, 2 punctuation marks)" in page


def test_an_unreached_target_is_said_and_not_rounded_up_to():
    details = {"target_r2": 0.99, "target_reached": False, "faithfulness_source": "validation"}
    sentence = visible_text(faithfulness_sentence(report(r2=0.9863, budget=600, details=details)))
    assert "Held-out R² 0.986" in sentence  # 2 decimals read 0.99, the target itself
    assert "The target R² 0.99 was not reached within the budget of 600 queries." in sentence
    reached = {**details, "target_reached": True}
    assert "not reached" not in faithfulness_sentence(report(r2=0.993, details=reached))
