"""Cache identities of the games: equal across processes, different whenever the values differ.

Run as a script (``python test_identity.py CLF_FOLDER LM_FOLDER``) it prints the identities of
the games built by :func:`build_games` as JSON; the slow test compares them with this process's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from shapiq_spex.engine import CacheMismatchError, QueryEngine
from shapiq_spex.engine.store import identity_digest
from shapiq_spex.exceptions import GameIdentityError, InvalidParameterError
from shapiq_spex.games import (
    DataAttributionGame,
    RecordingGame,
    SparseFourierGame,
    SparseMoebiusGame,
    SpectrumGame,
)

CORPUS = ["the acting is great", "a boring mess !", "I loved it , really", "positive negative"]
TEXT = "the acting is great , a boring mess !"
CONTEXT = "the acting is great . I loved it . a boring mess !"


def build_games(clf_folder: str, lm_folder: str) -> dict:
    """One game of each class of shapiq_spex.games, from saved tiny models (no hub access)."""
    import torch
    import transformers

    from shapiq_spex.games import (
        AttentionHeadGame,
        EmbeddingSimilarityGame,
        GenerationLogProbGame,
        TextClassificationGame,
    )

    torch.set_num_threads(1)
    clf = transformers.AutoModelForSequenceClassification.from_pretrained(clf_folder).eval()
    enc = transformers.AutoModel.from_pretrained(clf_folder).eval()
    lm = transformers.AutoModelForCausalLM.from_pretrained(lm_folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(clf_folder)
    lm_tok = transformers.AutoTokenizer.from_pretrained(lm_folder)
    return {
        "text": TextClassificationGame(TEXT, clf, tok, target_class=1),
        "embedding": EmbeddingSimilarityGame(TEXT, enc, tok, reference="I loved it"),
        "generation": GenerationLogProbGame(CONTEXT, lm, lm_tok, answer=" positive"),
        "attention": AttentionHeadGame(clf, tok, CORPUS[:2]),
        "data": DataAttributionGame.from_digits(n_train=20, random_state=0),
        "fourier": SparseFourierGame(30, 10, 3, noise_std=0.1, random_state=4),
        "moebius": SparseMoebiusGame(30, 5, 3, hierarchical=True, random_state=4),
        "spectrum": SpectrumGame.from_coefficients(5, {(0,): 1.0, (1, 2): -0.5}),
        "recording": RecordingGame(SparseFourierGame(30, 10, 3, random_state=4)),
    }


def identities(games: dict) -> dict:
    return {name: game.cache_identity() for name, game in games.items()}


# ---------------------------------------------------------------------------------- synthetic
class TestSyntheticGames:
    def test_seeded_games_agree_and_seeds_differ(self):
        a = SparseFourierGame(40, 20, 3, noise_std=0.1, random_state=1).cache_identity()
        b = SparseFourierGame(40, 20, 3, noise_std=0.1, random_state=1).cache_identity()
        c = SparseFourierGame(40, 20, 3, noise_std=0.1, random_state=2).cache_identity()
        assert a == b != c
        assert a["game"] == "SparseFourierGame"
        assert a["value_semantics"] >= 1
        assert a["n_players"] == 40
        json.dumps(a)

    def test_noise_key_only_matters_with_noise(self):
        coefs = {(0,): 1.0, (1, 2): -0.5}
        quiet = [SpectrumGame.from_coefficients(5, coefs, random_state=s) for s in (1, 2)]
        assert quiet[0].cache_identity() == quiet[1].cache_identity()
        assert quiet[0].cache_identity()["noise_key"] is None
        noisy = [SpectrumGame.from_coefficients(5, coefs, 0.1, random_state=s) for s in (1, 2)]
        assert noisy[0].cache_identity() != noisy[1].cache_identity()

    @pytest.mark.parametrize(
        "change",
        [{"n_terms": 11}, {"max_degree": 2}, {"coef_scale": 2.0}, {"constant": 1.0}],
    )
    def test_any_parameter_change_changes_the_identity(self, change):
        base = {"n": 30, "n_terms": 10, "max_degree": 3, "random_state": 5}
        a = SparseMoebiusGame(**base).cache_identity()
        b = SparseMoebiusGame(**{**base, **change}).cache_identity()
        assert a != b

    def test_unseeded_games_are_their_own_spectrum(self):
        # random_state=None draws another game each time; the identity follows the spectrum.
        a, b = SparseFourierGame(30, 10, 3), SparseFourierGame(30, 10, 3)
        assert a.cache_identity() == a.cache_identity() != b.cache_identity()


class TestRecordingGame:
    def test_delegates_to_the_wrapped_game(self):
        game = SparseFourierGame(20, 5, 2, random_state=0)
        assert RecordingGame(game).cache_identity() == game.cache_identity()

    def test_refuses_games_without_identity(self, tmp_path):
        rec = RecordingGame(lambda x: x.sum(1), n_players=4)
        with pytest.raises(GameIdentityError, match="no cache_identity"):
            rec.cache_identity()
        with pytest.raises(InvalidParameterError, match="key="):
            QueryEngine(rec, cache=tmp_path / "c.sqlite")


class TestDataAttribution:
    def test_seeded_games_agree(self):
        a = DataAttributionGame.from_digits(n_train=20, random_state=0).cache_identity()
        b = DataAttributionGame.from_digits(n_train=20, random_state=0).cache_identity()
        c = DataAttributionGame.from_digits(n_train=20, test_index=1, random_state=0)
        assert a == b != c.cache_identity()
        assert a["model"]["class"] == "sklearn.linear_model._logistic.LogisticRegression"

    def test_target_and_groups_change_the_identity(self):
        base = DataAttributionGame.from_digits(n_train=20, random_state=0)
        prob = DataAttributionGame.from_digits(n_train=20, random_state=0, target="prob")
        grouped = DataAttributionGame.from_digits(n_train=20, random_state=0, group_size=2)
        ids = [g.cache_identity() for g in (base, prob, grouped)]
        assert ids[0] != ids[1]
        assert ids[0] != ids[2]
        assert ids[0]["target"] == "margin"
        assert ids[1]["target"] == "prob"

    def test_refuses_what_it_cannot_identify(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.tree import DecisionTreeClassifier

        X, y = np.random.default_rng(0).normal(size=(12, 3)), np.arange(12) % 2
        by_callable = DataAttributionGame(X, y, X[0], model=lambda: LogisticRegression())
        with pytest.raises(GameIdentityError, match="model=<callable>"):
            by_callable.cache_identity()
        unseeded = DataAttributionGame(X, y, X[0], model=DecisionTreeClassifier())
        with pytest.raises(GameIdentityError, match="random_state=0"):
            unseeded.cache_identity()
        seeded = DataAttributionGame(X, y, X[0], model=DecisionTreeClassifier(), random_state=3)
        assert seeded.cache_identity()["model"]["params"]["random_state"] >= 0
        # Logistic regression's exact solvers ignore random_state: no seed needed.
        assert DataAttributionGame(X, y, X[0]).cache_identity()["model"]["params"]["solver"]


# ---------------------------------------------------------------------------------- model games
@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Saved tiny BERT classifier and GPT-2 LM with word-level tokenizers."""
    pytest.importorskip("transformers")
    import torch

    from shapiq_spex.models.tiny import tiny_bert_classifier, tiny_causal_lm, word_level_tokenizer

    torch.set_num_threads(1)
    clf_folder = tmp_path_factory.mktemp("clf")
    tok = word_level_tokenizer([*CORPUS, CONTEXT], style="bert")
    tiny_bert_classifier(tok, num_labels=3, seed=2).save_pretrained(clf_folder)
    tok.save_pretrained(clf_folder)
    lm_folder = tmp_path_factory.mktemp("lm")
    lm_tok = word_level_tokenizer([*CORPUS, CONTEXT], style="lm")
    tiny_causal_lm(lm_tok, seed=2).save_pretrained(lm_folder)
    lm_tok.save_pretrained(lm_folder)
    return str(clf_folder), str(lm_folder)


@pytest.fixture(scope="module")
def clf(folders):
    import transformers

    model = transformers.AutoModelForSequenceClassification.from_pretrained(folders[0]).eval()
    return model, transformers.AutoTokenizer.from_pretrained(folders[0])


@pytest.mark.llm
class TestModelGames:
    def test_every_game_has_a_json_identity(self, folders):
        ids = identities(build_games(*folders))
        for name, identity in ids.items():
            assert identity["game"], name
            json.dumps(identity, allow_nan=False)
        assert ids["recording"]["game"] == "SparseFourierGame"  # the wrapped game's identity
        for name in ("text", "embedding", "generation", "attention"):
            model = ids[name]["model"]
            assert model["weights"].startswith("sha256:")
            assert len(model["weights"]) == 71
            assert model["config"].startswith("sha256:")
            assert model["dtype"] == "float32"
            assert ids[name]["tokenizer"]["pipeline"].startswith("sha256:")
        assert ids["text"]["text"] == TEXT
        assert ids["text"]["players"]["granularity"] == "word"
        assert ids["text"]["masking"]["strategy"] == "mask_token"
        assert ids["generation"]["answer_ids"]
        assert ids["attention"]["heads"][:2] == [[0, 0], [0, 1]]

    @pytest.mark.slow
    def test_identities_are_equal_in_a_fresh_process(self, folders):
        # What resuming a run relies on: the same game built in another process (weights loaded
        # again, tokenizer rebuilt, data resampled from the seed) has the same identity.
        here = identities(build_games(*folders))
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        out = subprocess.run(
            [sys.executable, __file__, *folders],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=True,
        )
        there = json.loads(out.stdout.strip().splitlines()[-1])
        assert there == json.loads(json.dumps(here))

    def test_the_same_weights_from_another_folder_are_the_same_model(self, folders, tmp_path):
        import transformers

        from shapiq_spex.games import TextClassificationGame

        moved = shutil.copytree(folders[0], tmp_path / "moved")
        games = [
            TextClassificationGame(
                TEXT,
                transformers.AutoModelForSequenceClassification.from_pretrained(path).eval(),
                transformers.AutoTokenizer.from_pretrained(path),
            )
            for path in (folders[0], moved)
        ]
        assert games[0].cache_identity() == games[1].cache_identity()

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"text": "a boring mess !"}, "text"),
            ({"target_class": 2}, "target_class"),
            ({"output": "log_prob"}, "output"),
            ({"mask_strategy": "remove"}, "masking"),
            ({"mask_strategy": "great"}, "masking"),
            ({"players": "token"}, "players"),
            ({"normalize": True}, "normalized"),
        ],
    )
    def test_text_game_fields(self, clf, change, field):
        from shapiq_spex.games import TextClassificationGame

        model, tok = clf
        base = {"text": TEXT, "target_class": 1}
        a = TextClassificationGame(base["text"], model, tok, target_class=1).cache_identity()
        kwargs = {**base, **change}
        text = kwargs.pop("text")
        b = TextClassificationGame(text, model, tok, **kwargs).cache_identity()
        assert a[field] != b[field]
        assert identity_digest(a) != identity_digest(b)
        same = TextClassificationGame(base["text"], model, tok, target_class=1).cache_identity()
        assert a == same

    def test_weights_changed_in_place_and_dtype(self, folders):
        import torch
        import transformers

        from shapiq_spex.games import TextClassificationGame

        model = transformers.AutoModelForSequenceClassification.from_pretrained(folders[0]).eval()
        tok = transformers.AutoTokenizer.from_pretrained(folders[0])
        game = TextClassificationGame(TEXT, model, tok, target_class=0)
        before = game.cache_identity()["model"]
        assert game.cache_identity()["model"] == before  # memoised, unchanged
        with torch.no_grad():
            next(model.parameters())[0, 0] += 1e-3  # e.g. a fine-tuning step between runs
        changed = game.cache_identity()["model"]
        assert changed["weights"] != before["weights"]
        assert changed["config"] == before["config"]
        model.to(torch.float64)
        assert game.cache_identity()["model"]["dtype"] == "float64"

    def test_training_mode_is_refused(self, clf, tmp_path):
        from shapiq_spex.games import TextClassificationGame

        model, tok = clf
        game = TextClassificationGame(TEXT, model, tok)
        model.train()
        try:
            with pytest.raises(GameIdentityError, match=r"training mode.*model\.eval\(\)"):
                game.cache_identity()
            with pytest.raises(InvalidParameterError, match="training mode"):
                QueryEngine(game, cache=tmp_path / "c.sqlite")
        finally:
            model.eval()

    def test_engine_refuses_the_cache_of_another_text(self, clf, tmp_path):
        from shapiq_spex.games import TextClassificationGame

        model, tok = clf
        cache = tmp_path / "review.sqlite"
        first = TextClassificationGame(TEXT, model, tok, target_class=1)
        rows = np.random.default_rng(0).random((30, first.n_players)) < 0.5
        with QueryEngine(first, cache=cache, progress=False) as engine:
            values = engine(rows)
        other = TextClassificationGame(TEXT.replace("great", "fine"), model, tok)
        assert other.n_players == first.n_players  # only the identity tells them apart
        with pytest.raises(CacheMismatchError, match="text: 'the acting is great"):
            QueryEngine(other, cache=cache)
        again = TextClassificationGame(TEXT, model, tok, target_class=1)
        with QueryEngine(again, cache=cache, progress=False) as engine:
            np.testing.assert_allclose(engine(rows), values, rtol=1e-12)
            assert engine.stats.evaluated == 0


if __name__ == "__main__":
    print(json.dumps(identities(build_games(sys.argv[1], sys.argv[2]))))
