from __future__ import annotations

import copy
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from shapiq_spex.exceptions import InvalidParameterError  # noqa: E402
from shapiq_spex.games.attention import AttentionHeadGame, find_attention_outputs  # noqa: E402

pytestmark = pytest.mark.llm
torch.set_num_threads(1)

CORPUS = ["the acting is great", "a boring mess !", "I loved it , really", "positive negative"]
INPUTS = ["the acting is great", "a boring mess !", "I loved it , really loved it"]


@pytest.fixture(scope="module", params=["bert", "gpt2", "llama"])
def tiny(request, tmp_path_factory):
    """(model, tokenizer, folder) of a tiny classifier (bert) or causal LM (gpt2, llama)."""
    from shapiq_spex.models.tiny import tiny_bert_classifier, tiny_causal_lm, word_level_tokenizer

    arch = request.param
    if arch == "bert":
        tok = word_level_tokenizer(CORPUS, style="bert")
        model = tiny_bert_classifier(tok, num_labels=3, seed=2)
        auto = transformers.AutoModelForSequenceClassification
    else:
        tok = word_level_tokenizer(CORPUS, style="lm")
        model = tiny_causal_lm(tok, architecture=arch, seed=2)
        auto = transformers.AutoModelForCausalLM
    folder = tmp_path_factory.mktemp(f"heads_{arch}")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return auto.from_pretrained(folder).eval(), tok, str(folder)


def scores(model, tok, labels=None, metric="log_prob") -> tuple[float, list[int]]:
    """Mean metric over INPUTS, one unpadded forward per input (the specification)."""
    vals, preds = [], []
    with torch.inference_mode():
        for i, text in enumerate(INPUTS):
            ids = torch.tensor([tok(text)["input_ids"]])
            logits = model(input_ids=ids).logits[0].double()
            if metric == "sequence_log_prob":
                lp = torch.log_softmax(logits[:-1], -1).gather(-1, ids[0, 1:, None])
                vals.append(lp.mean().item())
                continue
            z = logits[-1] if logits.ndim == 2 else logits
            label = int(z.argmax()) if labels is None else labels[i]
            preds.append(label)
            vals.append(torch.log_softmax(z, -1)[label].item())
    return float(np.mean(vals)), preds


def ablate(model, removed: list[tuple[int, int]], n_heads: int):
    """A copy of the model whose removed heads have zero output-projection weights."""
    clone = copy.deepcopy(model)
    modules = find_attention_outputs(clone)
    for layer, head in removed:
        module = modules[layer][1]
        with torch.no_grad():
            if isinstance(module, torch.nn.Linear):
                d = module.in_features // n_heads
                module.weight[:, head * d : (head + 1) * d] = 0
            else:  # GPT-2 Conv1D: weight is (in, out)
                d = module.weight.shape[0] // n_heads
                module.weight[head * d : (head + 1) * d, :] = 0
    return clone


def test_all_heads_kept_equals_unmodified_model(tiny):
    model, tok, _ = tiny
    game = AttentionHeadGame(model, tok, INPUTS)
    expected, preds = scores(model, tok)
    assert game.n_players == game.n_layers * game.n_heads == 2 * 4
    assert game.labels.tolist() == preds
    np.testing.assert_allclose(game.original_model_output, expected, atol=1e-5)
    np.testing.assert_allclose(game(game.grand_coalition), expected, atol=1e-5)
    # hooks are gone after evaluation
    assert all(not m._forward_pre_hooks for _, m in find_attention_outputs(model))


def test_removed_heads_equal_zeroed_weights(tiny):
    model, tok, _ = tiny
    game = AttentionHeadGame(model, tok, INPUTS, batch_size=64)
    rng = np.random.default_rng(0)
    x = rng.random((4, game.n_players)) < 0.6
    x[0] = True
    x[0, 5] = False  # a single head removed
    values = game(x)
    for row in range(x.shape[0]):
        removed = [tuple(h) for h in game.heads[~x[row]].tolist()]
        expected, _ = scores(ablate(model, removed, game.n_heads), tok, labels=game.labels)
        np.testing.assert_allclose(values[row], expected, atol=1e-5)
    assert abs(values[0] - game.original_model_output) > 1e-6
    np.testing.assert_allclose(game.empty_value, game(game.empty_coalition)[0], atol=1e-12)


def test_batched_equals_unbatched(tiny):
    model, tok, _ = tiny
    one = AttentionHeadGame(model, tok, INPUTS, batch_size=3, metric="logit_margin")
    many = AttentionHeadGame(model, tok, INPUTS, batch_size=48, metric="logit_margin")
    x = np.random.default_rng(1).random((20, one.n_players)) < 0.5
    np.testing.assert_allclose(one(x), many(x), rtol=0, atol=1e-5)


def test_heads_subset_and_loading_by_name(tiny):
    _, _, folder = tiny
    game = AttentionHeadGame(folder, None, INPUTS, heads=[(1, 0), (0, 3)], device="cpu")
    assert game.n_players == 2
    assert game.names == ["L1H0", "L0H3"]
    removed = ablate(game.model, [(0, 3)], game.n_heads)
    expected, _ = scores(removed, game.tokenizer, labels=game.labels)
    np.testing.assert_allclose(game(np.array([[True, False]]))[0], expected, atol=1e-5)


def test_sequence_log_prob_and_string_labels(tiny):
    model, tok, _ = tiny
    if tiny[0].config.model_type == "bert":
        with pytest.raises(InvalidParameterError, match="needs a causal LM"):
            AttentionHeadGame(model, tok, INPUTS, metric="sequence_log_prob")
        game = AttentionHeadGame(model, tok, INPUTS, labels=["LABEL_1", 2, 0])
        assert game.labels.tolist() == [1, 2, 0]
        return
    game = AttentionHeadGame(model, tok, INPUTS, metric="sequence_log_prob")
    expected, _ = scores(model, tok, metric="sequence_log_prob")
    np.testing.assert_allclose(game.original_model_output, expected, atol=1e-5)
    np.testing.assert_allclose(game(game.grand_coalition), expected, atol=1e-5)
    labeled = AttentionHeadGame(model, tok, INPUTS, labels="positive", metric="prob")
    assert labeled.labels.tolist() == [tok.convert_tokens_to_ids("positive")] * 3
    with pytest.raises(InvalidParameterError, match="single token"):
        AttentionHeadGame(model, tok, INPUTS, labels="positive negative")
    with pytest.raises(InvalidParameterError, match="must be None"):
        AttentionHeadGame(model, tok, INPUTS, labels=1, metric="sequence_log_prob")


def accuracy(model, tok, labels: list[int]) -> float:
    """Fraction of INPUTS whose label is the argmax class / next token (the specification)."""
    hits = []
    with torch.inference_mode():
        for text, label in zip(INPUTS, labels, strict=True):
            logits = model(input_ids=torch.tensor([tok(text)["input_ids"]])).logits[0]
            z = logits[-1] if logits.ndim == 2 else logits
            hits.append(int(z.argmax()) == label)
    return float(np.mean(hits))


def boosted(model):
    """A copy whose heads decide the argmax: a tiny random model's argmax ignores ablations."""
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for _, module in find_attention_outputs(clone):
            module.weight.mul_(30)
        for name, param in clone.named_parameters():
            if name.startswith(("classifier", "bert.pooler")) and param.ndim == 2:
                param.mul_(50)
    return clone


def test_accuracy_metric_equals_direct_argmax(tiny):
    model = boosted(tiny[0])
    tok = tiny[1]
    _, preds = scores(model, tok)
    n_classes = model.config.num_labels if model.config.model_type == "bert" else len(tok)
    labels = [preds[0], (preds[1] + 1) % n_classes, preds[2]]  # one input is wrong: 2/3
    game = AttentionHeadGame(model, tok, INPUTS, labels=labels, metric="accuracy")
    assert game.original_model_output == pytest.approx(2 / 3, abs=1e-12)
    x = np.random.default_rng(2).random((8, game.n_players)) < 0.5
    x[0] = True
    x[1] = False
    values = game(x)
    for row in range(x.shape[0]):
        removed = [tuple(h) for h in game.heads[~x[row]].tolist()]
        expected = accuracy(ablate(model, removed, game.n_heads), tok, labels)
        assert values[row] == pytest.approx(expected, abs=1e-12)
    assert len(set(values.tolist())) >= 2  # ablations do flip predictions here


def test_minilm_sentiment_heads():
    from shapiq_spex.models import load_sentiment_model

    model, tok = load_sentiment_model(device="cpu")
    texts = ["a wonderful, moving film", "the plot is a boring mess"]
    game = AttentionHeadGame(model, tok, texts, metric="logit_margin", heads=[(0, 0), (5, 11)])
    with torch.inference_mode():
        logits = [model(**tok(t, return_tensors="pt")).logits[0].double() for t in texts]
    labels = [int(z.argmax()) for z in logits]
    assert game.labels.tolist() == labels == [1, 0]
    margin = np.mean([float(z[y] - z[1 - y]) for z, y in zip(logits, labels, strict=True)])
    np.testing.assert_allclose(game.original_model_output, margin, atol=1e-5)
    np.testing.assert_allclose(game(game.grand_coalition), margin, atol=1e-5)
    assert abs(game(game.empty_coalition)[0] - margin) > 1e-4


def test_errors(tiny):
    model, tok, _ = tiny
    with pytest.raises(InvalidParameterError, match="'heads'"):
        AttentionHeadGame(model, tok, INPUTS, heads=[(2, 0)])
    with pytest.raises(InvalidParameterError, match="duplicate"):
        AttentionHeadGame(model, tok, INPUTS, heads=[(0, 0), (0, 0)])
    with pytest.raises(InvalidParameterError, match="one label per input"):
        AttentionHeadGame(model, tok, INPUTS, labels=[0, 1])
    with pytest.raises(InvalidParameterError, match="'metric'"):
        AttentionHeadGame(model, tok, INPUTS, metric="f1")
    with pytest.raises(InvalidParameterError, match="'inputs'"):
        AttentionHeadGame(model, tok, [])
    with pytest.raises(InvalidParameterError, match="positions of the model"):
        AttentionHeadGame(model, tok, " ".join(["great"] * 200))
    with pytest.raises(InvalidParameterError, match="unknown modules"):
        AttentionHeadGame(model, tok, INPUTS, attention_output_modules=["nope"])
    with pytest.raises(InvalidParameterError, match="one attention output projection per layer"):
        find_attention_outputs(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("chunk", [None, 7])
def test_sequence_log_prob_is_scored_in_float64_over_a_large_vocabulary(tiny, chunk, monkeypatch):
    # a float32 log-softmax over 50,000 logits is off by ~1e-5 per token; the metric must match
    # a float64 reference to rounding, also when the log-normalizer is computed in row chunks
    import shapiq_spex.games._torch as torch_helpers

    model, tok, _ = tiny
    if model.config.model_type == "bert":
        pytest.skip("sequence_log_prob needs a causal LM")
    game = AttentionHeadGame(model, tok, INPUTS, metric="sequence_log_prob")
    if chunk is not None:
        monkeypatch.setattr(torch_helpers, "_LSE_CHUNK_ENTRIES", chunk * 50_000)
    k, m = 2, len(INPUTS)
    ids = np.tile(game._batch.input_ids, (k, 1))
    attn = np.tile(game._batch.attention_mask, (k, 1))
    rng = np.random.default_rng(0)
    z = (rng.normal(size=(k * m, ids.shape[1], 50_000)) * 4).astype(np.float32)
    got = game._metric(torch.from_numpy(z), k)
    z64 = z.astype(np.float64)[:, :-1]
    top = z64.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(z64 - top).sum(axis=-1)) + top[..., 0]
    lp = np.take_along_axis(z64, ids[:, 1:, None], axis=-1)[..., 0] - lse
    valid = attn[:, 1:] * attn[:, :-1]
    want = ((lp * valid).sum(1) / np.maximum(valid.sum(1), 1)).reshape(k, m).mean(axis=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)
