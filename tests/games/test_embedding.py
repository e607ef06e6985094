from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from shapiq_spex.exceptions import InvalidParameterError  # noqa: E402
from shapiq_spex.games.embedding import EmbeddingSimilarityGame  # noqa: E402

pytestmark = pytest.mark.llm
torch.set_num_threads(1)

TEXT = "Fresh pasta with tomato sauce is my favourite Italian dinner."


@pytest.fixture(scope="module")
def minilm():
    from shapiq_spex.models import load_minilm

    return load_minilm(device="cpu")


@pytest.fixture(scope="module")
def tiny():
    from shapiq_spex.models.tiny import tiny_bert_classifier, word_level_tokenizer

    tok = word_level_tokenizer([TEXT, "a boring film"], style="bert")
    return tiny_bert_classifier(tok, seed=4).bert, tok


def embed(model, ids, pooling="mean") -> np.ndarray:
    with torch.inference_mode():
        hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0].double()
    vec = {"mean": hidden.mean(0), "cls": hidden[0], "last": hidden[-1]}[pooling]
    return (vec / vec.norm()).numpy()


def test_minilm_values_equal_independent_embeddings(minilm):
    model, tok = minilm
    game = EmbeddingSimilarityGame(TEXT, "minilm", device="cpu")
    assert game.original_model_output == pytest.approx(1.0, abs=1e-6)
    ids = tok(TEXT)["input_ids"]
    full = embed(model, ids)
    masked = [ids[0]] + [tok.mask_token_id] * (len(ids) - 2) + [ids[-1]]
    np.testing.assert_allclose(game.empty_value, embed(model, masked) @ full, atol=1e-5)
    np.testing.assert_allclose(game(game.empty_coalition), embed(model, masked) @ full, atol=1e-5)
    np.testing.assert_allclose(game.reference_embedding, full, atol=1e-5)


def test_minilm_reference_similarity_is_meaningful(minilm):
    model, tok = minilm
    food = EmbeddingSimilarityGame(TEXT, model, tok, reference="I love eating spaghetti.")
    other = EmbeddingSimilarityGame(TEXT, model, tok, reference="The stock market fell today.")
    assert food.original_model_output > other.original_model_output + 0.2
    expected = embed(model, tok(TEXT)["input_ids"]) @ embed(
        model, tok("I love eating spaghetti.")["input_ids"]
    )
    np.testing.assert_allclose(food.original_model_output, expected, atol=1e-5)
    # dropping "pasta" moves the text away from the spaghetti reference
    x = np.ones((1, food.n_players), dtype=bool)
    x[0, food.players.names.index("pasta")] = False
    assert food(x)[0] < food.original_model_output


@pytest.mark.parametrize("pooling", ["mean", "cls", "last"])
def test_batched_equals_unbatched_and_pooling(tiny, pooling):
    model, tok = tiny
    kw = {"pooling": pooling, "mask_strategy": "remove"}
    one = EmbeddingSimilarityGame(TEXT, model, tok, batch_size=1, **kw)
    many = EmbeddingSimilarityGame(TEXT, model, tok, batch_size=16, **kw)
    x = np.random.default_rng(0).random((30, one.n_players)) < 0.5
    np.testing.assert_allclose(one(x), many(x), rtol=0, atol=1e-6)
    batch = many.masker(x[:2])
    ref = embed(model, tok(TEXT)["input_ids"], pooling)
    for row in range(2):
        ids = batch.input_ids[row][: batch.lengths[row]].tolist()
        np.testing.assert_allclose(many(x[row])[0], embed(model, ids, pooling) @ ref, atol=1e-6)


def test_errors(tiny):
    model, tok = tiny
    with pytest.raises(InvalidParameterError, match="sequence-classification model"):
        EmbeddingSimilarityGame(TEXT, "minilm-sentiment")
    with pytest.raises(InvalidParameterError, match="'pooling'"):
        EmbeddingSimilarityGame(TEXT, model, tok, pooling="max")
    with pytest.raises(InvalidParameterError, match="'reference'"):
        EmbeddingSimilarityGame(TEXT, model, tok, reference=" ")
    from shapiq_spex.models.tiny import tiny_bert_classifier

    with pytest.raises(InvalidParameterError, match="last_hidden_state"):
        EmbeddingSimilarityGame(TEXT, tiny_bert_classifier(tok), tok)
