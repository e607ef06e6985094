from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from shapiq_spex.exceptions import InvalidParameterError  # noqa: E402
from shapiq_spex.games.text_classification import TextClassificationGame  # noqa: E402
from shapiq_spex.text import TextPlayers  # noqa: E402

pytestmark = pytest.mark.llm
torch.set_num_threads(1)

CORPUS = [
    "the acting is great but the plot is a boring mess .",
    "a wonderful , moving film that I loved !",
    "terrible , slow and far too long",
]
TEXT = "The acting is great, but the plot is a boring mess."


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A tiny 3-class BERT classifier + word-level tokenizer saved to disk."""
    from shapiq_spex.models.tiny import tiny_bert_classifier, word_level_tokenizer

    tok = word_level_tokenizer(CORPUS, style="bert")
    model = tiny_bert_classifier(tok, num_labels=3, seed=3)
    folder = tmp_path_factory.mktemp("tiny_bert_clf")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny(tiny_folder):
    model = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(tiny_folder)
    return model, tok


@pytest.fixture(scope="module")
def sentiment():
    from shapiq_spex.models import load_sentiment_model

    return load_sentiment_model(device="cpu")


def raw_logits(model, ids) -> np.ndarray:
    with torch.inference_mode():
        out = model(
            input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)
        )
    return out.logits[0].double().numpy()


def test_full_and_empty_values_equal_independent_forward(tiny_folder, tiny):
    model, tok = tiny
    game = TextClassificationGame(
        TEXT, tiny_folder, output="logit", device="cpu"
    )  # loads by folder
    ids = tok(TEXT)["input_ids"]
    full = raw_logits(model, ids)
    assert game.target_class == int(np.argmax(full))
    np.testing.assert_allclose(game.original_logits, full, rtol=0, atol=1e-6)
    np.testing.assert_allclose(game(game.grand_coalition), full[game.target_class], atol=1e-5)
    masked = [tok.cls_token_id] + [tok.mask_token_id] * (len(ids) - 2) + [tok.sep_token_id]
    empty = raw_logits(model, masked)[game.target_class]
    np.testing.assert_allclose(game.empty_value, empty, atol=1e-5)
    np.testing.assert_allclose(game(game.empty_coalition), empty, atol=1e-5)
    # "remove" empties the text down to [CLS] [SEP]
    removed = TextClassificationGame(TEXT, model, tok, mask_strategy="remove")
    np.testing.assert_allclose(
        removed.empty_value,
        raw_logits(model, tok("")["input_ids"])[removed.target_class],
        atol=1e-5,
    )


@pytest.mark.parametrize("strategy", ["mask_token", "remove", " ..."])
def test_batched_equals_unbatched(tiny, strategy):
    model, tok = tiny
    x = np.random.default_rng(0).random((40, 13)) < 0.5
    one = TextClassificationGame(TEXT, model, tok, mask_strategy=strategy, batch_size=1)
    many = TextClassificationGame(TEXT, model, tok, mask_strategy=strategy, batch_size=16)
    assert one.n_players == 13
    np.testing.assert_allclose(one(x), many(x), rtol=0, atol=1e-5)
    # and each value is the model's score on the masked text, built by the masker
    batch = many.masker(x[:3])
    for row in range(3):
        ids = batch.input_ids[row][: batch.lengths[row]].tolist()
        np.testing.assert_allclose(
            many(x[row])[0], raw_logits(model, ids)[many.target_class], atol=1e-5
        )


def test_outputs_are_consistent(tiny):
    model, tok = tiny
    x = np.random.default_rng(1).random((10, 13)) < 0.5
    kw = {"target_class": 1, "mask_strategy": "remove"}
    logit = TextClassificationGame(TEXT, model, tok, output="logit", **kw)
    log_prob = TextClassificationGame(TEXT, model, tok, output="log_prob", **kw)
    prob = TextClassificationGame(TEXT, model, tok, output="prob", **kw)
    margin = TextClassificationGame(TEXT, model, tok, output="logit_margin", **kw)
    np.testing.assert_allclose(prob(x), np.exp(log_prob(x)), rtol=1e-10)
    batch = logit.masker(x)
    with torch.inference_mode():
        z = (
            model(
                input_ids=torch.tensor(batch.input_ids),
                attention_mask=torch.tensor(batch.attention_mask),
            )
            .logits.double()
            .numpy()
        )
    np.testing.assert_allclose(logit(x), z[:, 1], atol=1e-5)
    np.testing.assert_allclose(margin(x), z[:, 1] - np.maximum(z[:, 0], z[:, 2]), atol=1e-5)
    np.testing.assert_allclose(log_prob(x), z[:, 1] - np.log(np.exp(z).sum(axis=1)), atol=1e-5)


def test_normalize_and_label_names(tiny):
    model, tok = tiny
    game = TextClassificationGame(TEXT, model, tok, target_class="LABEL_2", normalize=True)
    assert game.target_class == 2
    assert game(game.empty_coalition)[0] == pytest.approx(0.0, abs=1e-12)
    assert game(game.grand_coalition)[0] == pytest.approx(
        game.original_model_output - game.empty_value, abs=1e-5
    )


def test_dtype_and_players_options(tiny_folder, tiny):
    model, tok = tiny
    bf16 = TextClassificationGame(TEXT, tiny_folder, dtype="bf16", device="cpu")
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    fp32 = TextClassificationGame(TEXT, model, tok)
    assert abs(bf16.original_model_output - fp32.original_model_output) < 0.05
    sentence = TextClassificationGame("Great acting. Boring plot!", model, tok, players="sentence")
    assert sentence.players.names == ["Great acting.", "Boring plot!"]
    players = TextPlayers(TEXT, tok, "token")
    assert TextClassificationGame(TEXT, model, tok, players=players).players is players


def test_minilm_sentiment_real_model(sentiment):
    model, tok = sentiment
    neg = TextClassificationGame("the film is terrible", "minilm-sentiment", output="prob")
    assert neg.model.config.id2label[neg.target_class] == "negative"
    pos = TextClassificationGame("a wonderful, moving film", model, tok, target_class="positive")
    assert pos.target_class == 1
    # removing "terrible" (masking it) raises the positive probability a lot
    game = TextClassificationGame("the film is terrible", model, tok, target_class=1, output="prob")
    without = game(np.array([[True, True, True, False]]))[0]
    assert without > game.original_model_output + 0.15
    # sub-word tokens of one word are masked together and map back to the word
    sub = TextClassificationGame("an unbelievably tedious film", model, tok, target_class=1)
    assert sub.players.names == ["an", "unbelievably", "tedious", "film"]
    ids = np.array(tok("an unbelievably tedious film")["input_ids"])
    drop = sub.players.player_tokens(1)
    ids[drop] = tok.mask_token_id
    expected = raw_logits(model, ids.tolist())[1]
    np.testing.assert_allclose(sub(np.array([[1, 0, 1, 1]], bool))[0], expected, atol=1e-5)


def test_errors(tiny, tiny_folder):
    model, tok = tiny
    with pytest.raises(InvalidParameterError, match="'output'"):
        TextClassificationGame(TEXT, model, tok, output="score")
    with pytest.raises(InvalidParameterError, match="target_class"):
        TextClassificationGame(TEXT, model, tok, target_class=5)
    with pytest.raises(InvalidParameterError, match="not a label"):
        TextClassificationGame(TEXT, model, tok, target_class="positive")
    with pytest.raises(InvalidParameterError, match="batch_size"):
        TextClassificationGame(TEXT, model, tok, batch_size=0)
    with pytest.raises(InvalidParameterError, match="'tokenizer' parameter is required"):
        TextClassificationGame(TEXT, model)
    with pytest.raises(InvalidParameterError, match="must be None with the built-in"):
        TextClassificationGame(TEXT, "minilm-sentiment", tok)
    with pytest.raises(InvalidParameterError, match="causal-lm model 'smollm2'"):
        TextClassificationGame(TEXT, "smollm2")
    with pytest.raises(InvalidParameterError, match="'model' parameter must be"):
        TextClassificationGame(TEXT, 42, tok)
    with pytest.raises(InvalidParameterError, match="positions of the model"):
        TextClassificationGame(" ".join(["great"] * 200), model, tok)
    with pytest.raises(InvalidParameterError, match="another text"):
        TextClassificationGame(TEXT, model, tok, players=TextPlayers("great film", tok))
    no_specials = TextPlayers(TEXT, tok, "word", add_special_tokens=False)
    with pytest.raises(InvalidParameterError, match="leaves no tokens"):
        TextClassificationGame(TEXT, model, tok, players=no_specials, mask_strategy="remove")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidParameterError, match="CUDA is not available"):
            TextClassificationGame(TEXT, tiny_folder, device="cuda")


@pytest.mark.parametrize("output", ["logit", "log_prob", "prob", "logit_margin"])
def test_score_logits_in_float64_with_int_array_or_tensor_targets(output):
    from shapiq_spex.games._torch import as_float64, score_logits

    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 7)) * 30
    logits = torch.tensor(z, dtype=torch.float32)
    assert as_float64(logits).dtype == torch.float64
    assert as_float64(logits).device == logits.device
    z32 = z.astype(np.float32).astype(np.float64)  # what the float32 tensor holds
    target = np.array([0, 3, 6, 2, 2])
    if output == "logit":
        want = z32[np.arange(5), target]
    elif output == "log_prob":
        shifted = z32 - z32.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        want = logp[np.arange(5), target]
    elif output == "prob":
        e = np.exp(z32 - z32.max(axis=1, keepdims=True))
        want = (e / e.sum(axis=1, keepdims=True))[np.arange(5), target]
    else:
        others = z32.copy()
        others[np.arange(5), target] = -np.inf
        want = z32[np.arange(5), target] - others.max(axis=1)
    for tgt in (torch.as_tensor(target), target):
        got = score_logits(logits, tgt, output)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    single = score_logits(logits, 3, output)
    np.testing.assert_allclose(single[1], want[1], rtol=1e-13, atol=1e-13)
