"""``shapiq-spex explain``: explain a language model's output on one text from the command line.

The command (its arguments are parsed in :mod:`shapiq_spex.cli.main`) builds a text game
(:class:`~shapiq_spex.games.TextClassificationGame` or
:class:`~shapiq_spex.games.GenerationLogProbGame`), runs SPEX, ProxySPEX or HybridSPEX on it
with a tqdm progress bar over the model queries, prints the strongest interactions with their
words, and writes a self-contained HTML report with a PNG beside it (and, with ``--json``, every
interaction as JSON). The same steps are available as functions: :func:`explain_text` (config in,
:class:`ExplainResult` out) here, and the console table, JSON and report writers in
:mod:`shapiq_spex.cli.output`.

Nothing finished is thrown away: every output path is checked before the model is loaded, the
table is printed before any file is written, files are written atomically (a temporary file, then
a rename), and with ``--cache FILE`` every finished batch of model queries is committed to a
SQLite cache (:class:`~shapiq_spex.engine.QueryEngine`), so that the same command resumes an
interrupted or killed run and gives the identical result.

Exit statuses: 0 done; 1 the inputs could not be read, the model could not be loaded or an output
file could not be written after the run (the message says what was kept); 2 a bad option (one
line on stderr, nothing run); 130 interrupted (Ctrl-C: one line saying what was kept and how to
resume). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shapiq_spex.cli.output import check_output_paths, format_table, summary_lines, write_outputs
from shapiq_spex.exceptions import InvalidParameterError, SpexError
from shapiq_spex.validation import check_random_state

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_METHOD",
    "DEFAULT_MODELS",
    "MAX_TEXT_CHARS",
    "METHODS",
    "TASKS",
    "ExplainConfig",
    "ExplainInterrupted",
    "ExplainResult",
    "ProgressGame",
    "build_approximator",
    "build_game",
    "check_text_length",
    "execute",
    "explain_text",
    "read_text",
]

METHODS = ("spex", "proxyspex", "hybrid")
TASKS = ("classification", "generation")
#: The offline default model of each task.
DEFAULT_MODELS = {"classification": "minilm-sentiment", "generation": "smollm2"}
#: Player granularity of each task when ``--players`` is not given.
DEFAULT_PLAYERS = {"classification": "word", "generation": "sentence"}
#: Default method and budget, from ``benchmarks/results/llm_faithfulness.md`` (MiniLM sentiment,
#: word players, 24 real reviews, 3 seeds, R² of the returned values on 1,000 held-out masks):
#: ProxySPEX had the best held-out R² of every method from 16 words on at 500 and 1,000 queries
#: and the smallest minimum budget; 1,000 queries gained 0.02-0.04 R² over 500 from 16 words on.
#: ``--target-r2`` spends less where the text is easy.
DEFAULT_METHOD = "proxyspex"
#: SPEX's degree cap in the CLI when ``--degree-cap`` is not given: the reported order (at least
#: 2). At 600-1000 queries a cap of 5 leaves few coalitions for the refit; cap 2 gave a mean
#: held-out R² of 0.875 vs 0.844 (cap 5) on 9 reviews of 11-39 words.
SPEX_DEGREE_CAP_FLOOR = 2
DEFAULT_BUDGET = 1000
CLASSIFICATION_OUTPUTS = ("logit", "log_prob", "prob", "logit_margin")
GENERATION_OUTPUTS = ("log_prob", "mean_log_prob")
LABEL_OUTPUTS = ("log_prob", "log_odds", "prob_margin")
#: Longest text ``explain`` takes, in characters: far more than any model it runs reads (the
#: MiniLM default reads 512 tokens, SmolLM2 8,192), yet tokenized in a few seconds (a 50 MB file
#: took 151 s). Checked before the text is tokenized or the model loaded.
MAX_TEXT_CHARS = 1_000_000
#: UTF-8 needs at most 4 bytes per character: a larger file is refused without reading it.
_MAX_FILE_BYTES = 4 * MAX_TEXT_CHARS


class ExplainError(SpexError):
    """A problem with the command's inputs (file, model) that the user can fix."""


class ExplainInterrupted(KeyboardInterrupt):
    """Ctrl-C during the model queries, with what was done and kept.

    Attributes:
        queries: coalitions answered to the approximator (in whole chunks) before the interrupt.
        budget: the run's budget.
        stats: the query engine's :class:`~shapiq_spex.engine.EngineStats` as a dict
            (``evaluated``: model answers computed by this run, ``cache_hits``: read from the
            cache).
        cache: the ``--cache`` file, or ``None``.
    """

    def __init__(self, queries: int, budget: int, stats: dict, cache: Path | None) -> None:
        super().__init__(queries, budget)
        self.queries = queries
        self.budget = budget
        self.stats = stats
        self.cache = cache


# ---------------------------------------------------------------------------------- config
@dataclass
class ExplainConfig:
    """Everything one explanation needs; ``None`` fields take the task's defaults.

    Attributes:
        text: the text (classification) or context (generation) to explain.
        model: model name or folder; ``None`` = :data:`DEFAULT_MODELS` of the task.
        task: ``"classification"`` or ``"generation"``.
        players: ``"token"``, ``"word"`` or ``"sentence"``; ``None`` = :data:`DEFAULT_PLAYERS`.
        method: ``"spex"``, ``"proxyspex"`` or ``"hybrid"``.
        budget: most model queries.
        index: interaction index (any of ``shapiq_spex.SUPPORTED_INDICES``).
        order: largest order; ``None`` = 2 (1 for SV and BV).
        seed: random seed of the approximator.
        batch_size: masked texts per forward pass.
        query: the question (generation only).
        answer: the explained answer (generation only); ``None`` = the model's greedy answer.
        chat_template: render the prompt with the tokenizer's chat template (generation only).
        target: explained class index or label name (classification only); ``None`` = predicted;
            ``"all"`` or a comma list explains each class in turn (:func:`parse_targets`).
        output: the game's score; ``None`` = the game's default.
        mask_strategy: ``"mask_token"``, ``"remove"`` or a replacement; ``None`` = game default.
        device: torch device; ``None`` = CUDA when available, else CPU.
        degree_cap: SPEX/HybridSPEX BCH degree cap; ``None`` = for SPEX the order (at least 2,
            see :data:`SPEX_DEGREE_CAP_FLOOR`), for HybridSPEX its own default.
        threads: threads of torch and of the BLAS/OpenMP pools during the run (restored after);
            ``None`` = leave them as they are. On a busy machine with few cores, 1 is fastest.
        cache: SQLite file keeping every finished batch of model queries; the same command
            with the same file resumes an interrupted run identically. ``None`` = memory only.
        endpoint: API root URL of a served model (generation only):
            :class:`~shapiq_spex.games.EndpointGame` instead of a local model.
        scoring: ``"answer_logprob"`` or ``"label_logprob"`` (needed with ``endpoint``).
        labels: label strings of ``label_logprob``, the first one explained.
        missing_label: ``"error"``, ``"bound"`` or a float (``label_logprob``).
        api_key_env: environment variable holding the endpoint's API key.
        tokenizer: the served model's tokenizer (token-level masking, local chat template).
        concurrency: requests in flight at once.
        timeout: seconds to wait for each answer of the endpoint (``None`` = 120).
        target_r2: ProxySPEX only: query in rounds until the reported held-out R² reaches it,
            ``budget`` being the most spent (``None`` = spend ``budget``).
    """

    text: str
    model: str | None = None
    task: str = "classification"
    players: str | None = None
    method: str = DEFAULT_METHOD
    budget: int = DEFAULT_BUDGET
    index: str = "k-SII"
    order: int | None = None
    seed: int | None = 0
    batch_size: int = 32
    query: str | None = None
    answer: str | None = None
    chat_template: bool = False
    target: str | None = None
    output: str | None = None
    mask_strategy: str | None = None
    device: str | None = None
    degree_cap: int | None = None
    threads: int | None = None
    cache: Path | str | None = None
    endpoint: str | None = None
    scoring: str | None = None
    labels: list[str] | None = None
    missing_label: str | None = None
    api_key_env: str | None = None
    tokenizer: str | None = None
    target_r2: float | None = None
    concurrency: int = 4
    timeout: float | None = None

    def resolved_model(self) -> str:
        """The model name actually used."""
        return self.model if self.model is not None else DEFAULT_MODELS[self.task]

    def resolved_players(self) -> str:
        """The player granularity actually used."""
        return self.players if self.players is not None else DEFAULT_PLAYERS[self.task]

    def resolved_order(self) -> int:
        """The interaction order actually used."""
        if self.order is not None:
            return self.order
        return 1 if self.index in ("SV", "BV") else 2


def check_config(config: ExplainConfig) -> None:
    """Validate the options that can be checked before the model is loaded.

    Raises:
        InvalidParameterError: naming the option and how to fix it.
    """
    from shapiq_spex.spectra.indices import SUPPORTED_INDICES

    if not isinstance(config.text, str) or not config.text.strip():
        msg = "The text to explain is empty; pass TEXT or --file PATH with some words in it."
        raise InvalidParameterError(msg)
    if isinstance(config.query, str) and not config.query.strip():
        msg = (
            f"The '--query' option {config.query!r} has no text; ask a question about the text "
            "(--query 'Who built the mill?'), or leave it out."
        )
        raise InvalidParameterError(msg)
    if isinstance(config.answer, str) and not config.answer.strip():
        msg = (
            f"The '--answer' option {config.answer!r} has no text; pass the answer to explain "
            "(a leading space is fine: --answer ' Paris'), or leave it out to explain the "
            "model's own answer."
        )
        raise InvalidParameterError(msg)
    if config.task not in TASKS:
        msg = f"The '--task' option must be one of {TASKS}. Got {config.task!r}."
        raise InvalidParameterError(msg)
    if config.method not in METHODS:
        msg = f"The '--method' option must be one of {METHODS}. Got {config.method!r}."
        raise InvalidParameterError(msg)
    if config.index not in SUPPORTED_INDICES:
        msg = (
            f"The '--index' option must be one of {list(SUPPORTED_INDICES)}. Got {config.index!r}."
        )
        raise InvalidParameterError(msg)
    order = config.resolved_order()
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        msg = f"The '--order' option must be a positive int. Got {config.order!r}."
        raise InvalidParameterError(msg)
    if config.index in ("SV", "BV") and order != 1:
        msg = f"The index {config.index} is first-order: use '--order 1' (got --order {order})."
        raise InvalidParameterError(msg)
    check_random_state(config.seed, name="--seed")
    if config.target_r2 is not None:
        if config.method != "proxyspex":
            msg = (
                "The '--target-r2' option needs '--method proxyspex' (it queries in nested "
                f"rounds of uniform coalitions); got --method {config.method}."
            )
            raise InvalidParameterError(msg)
        from shapiq_spex.approximators.proxyspex import check_target_r2

        try:
            check_target_r2(config.target_r2)
        except InvalidParameterError:
            msg = (
                "The '--target-r2' option must be a number strictly between 0 and 1, e.g. 0.9. "
                f"Got {config.target_r2!r}."
            )
            raise InvalidParameterError(msg) from None
    if config.degree_cap is not None and config.method == "proxyspex":
        msg = (
            "The '--degree-cap' option bounds SPEX's BCH design: it applies to '--method spex' "
            "and '--method hybrid', and ProxySPEX has none. Drop it or pass --method spex."
        )
        raise InvalidParameterError(msg)
    if config.cache is not None and not isinstance(config.cache, str | os.PathLike):
        msg = f"The '--cache' option must be a file path. Got {config.cache!r}."
        raise InvalidParameterError(msg)
    optional = {"threads": config.threads, "degree-cap": config.degree_cap}
    checks = {"budget": config.budget, "batch-size": config.batch_size, **optional}
    for name, value in checks.items():
        if value is None and name in optional:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            msg = f"The '--{name}' option must be a positive int. Got {value!r}."
            raise InvalidParameterError(msg)
    if config.task == "classification":
        for name in ("query", "answer"):
            if getattr(config, name) is not None:
                msg = (
                    f"The '--{name}' option needs '--task generation' (the task is classification)."
                )
                raise InvalidParameterError(msg)
        if config.chat_template:
            msg = "The '--chat-template' option needs '--task generation'."
            raise InvalidParameterError(msg)
        allowed = CLASSIFICATION_OUTPUTS
        several = len(parse_targets(config.target)) > 1 or config.target == "all"
        if several and config.cache is not None:
            msg = (
                "The '--cache' option keeps one class's model queries; with several classes "
                f"('--target {config.target}') run one class per cache file."
            )
            raise InvalidParameterError(msg)
    else:
        if config.target is not None:
            msg = "The '--target' option needs '--task classification' (the task is generation)."
            raise InvalidParameterError(msg)
        allowed = GENERATION_OUTPUTS
    _check_endpoint(config)
    if config.endpoint is not None and config.scoring == "label_logprob":
        allowed = LABEL_OUTPUTS
    if config.output is not None and config.output not in allowed:
        msg = f"The '--output' option of the {config.task} task must be one of {allowed}."
        raise InvalidParameterError(msg + f" Got {config.output!r}.")


def _check_endpoint(config: ExplainConfig) -> None:
    """The served-model options: all or none, and only with generation."""
    served = ("scoring", "labels", "missing_label", "api_key_env", "tokenizer", "timeout")
    if config.endpoint is None:
        given = [name for name in served if getattr(config, name) is not None]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            msg = f"The option(s) {flags} need '--endpoint URL' (a served model)."
            raise InvalidParameterError(msg)
        return
    if config.task != "generation":
        msg = "The '--endpoint' option needs '--task generation'."
        raise InvalidParameterError(msg)
    if config.model is None or config.scoring is None:
        msg = (
            "The '--endpoint' option needs '--model NAME' (the served model's name) and "
            "'--scoring answer_logprob' or '--scoring label_logprob'."
        )
        raise InvalidParameterError(msg)
    if (config.scoring == "label_logprob") != (config.labels is not None):
        msg = "The '--labels' option goes with '--scoring label_logprob' (and is needed there)."
        raise InvalidParameterError(msg)
    if config.missing_label is not None and config.scoring != "label_logprob":
        msg = "The '--missing-label' option needs '--scoring label_logprob'."
        raise InvalidParameterError(msg)


def _missing_label(value: str | None) -> str | float:
    if value is None or value in ("error", "bound"):
        return value or "error"
    try:
        return float(value)
    except ValueError:
        msg = f"The '--missing-label' option must be error, bound or a float. Got {value!r}."
        raise InvalidParameterError(msg) from None


def build_endpoint_game(config: ExplainConfig) -> Any:
    """The :class:`~shapiq_spex.games.EndpointGame` of ``config`` (checks the endpoint)."""
    from shapiq_spex.games import EndpointGame

    kwargs: dict[str, Any] = {
        "scoring": config.scoring,
        "query": config.query,
        "players": config.resolved_players(),
        "tokenizer": config.tokenizer,
        "use_chat_template": config.chat_template,
        "api_key_env": config.api_key_env,
        "concurrency": config.concurrency,
    }
    if config.timeout is not None:
        kwargs["timeout_s"] = float(config.timeout)
    if config.mask_strategy is not None:
        kwargs["mask_strategy"] = config.mask_strategy
    if config.scoring == "answer_logprob":
        kwargs["answer"] = config.answer
        if config.output is not None:
            kwargs["output"] = config.output
    else:
        kwargs["labels"] = config.labels
        kwargs["missing_label"] = _missing_label(config.missing_label)
        if config.output is not None:
            kwargs["label_output"] = config.output
    return EndpointGame(config.text, config.endpoint, config.model, **kwargs)


# ---------------------------------------------------------------------------------- game
class ProgressGame:
    """A game wrapper that evaluates coalitions in chunks and advances a progress bar.

    The wrapper is what the approximator queries: it has the game's ``n_players`` and returns the
    game's values unchanged, so budgets, timing and results are those of the game itself.

    Args:
        game: a shapiq ``Game`` (or any callable ``(m, n) bool -> (m,)`` with ``n_players``).
        bar: an object with ``update(k)`` (a tqdm bar), advanced by the rows evaluated.
        chunk: rows per call of ``game`` (a few forward batches, so the bar moves smoothly while
            each call can still sort its rows by length).
    """

    def __init__(self, game: Any, bar: Any, chunk: int = 128) -> None:
        self.game = game
        self.n_players = int(game.n_players)
        self.bar = bar
        self.chunk = max(1, int(chunk))
        self.queries = 0

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        """Values of ``(m, n)`` coalitions, ``(m,)`` float64."""
        coalitions = np.asarray(coalitions, dtype=bool)
        m = coalitions.shape[0]
        out = np.empty(m, dtype=np.float64)
        for start in range(0, m, self.chunk):
            stop = min(start + self.chunk, m)
            out[start:stop] = np.asarray(self.game(coalitions[start:stop]), dtype=np.float64)
            self.bar.update(stop - start)
            self.queries += stop - start
            usage = getattr(getattr(self.game, "game", self.game), "usage_summary", None)
            if callable(usage):  # a served model: tokens, retries, cost
                self.bar.set_postfix_str(usage(), refresh=False)
        return out


def build_game(config: ExplainConfig) -> Any:
    """Load the model and build the text game of ``config`` (the slow, model-loading step).

    Raises:
        InvalidParameterError: options the game rejects (text too long, bad target, ...).
        ExplainError: the model cannot be loaded (not found, no network).
    """
    from shapiq_spex.games import GenerationLogProbGame, TextClassificationGame

    if config.endpoint is not None:
        return build_endpoint_game(config)
    kwargs: dict[str, Any] = {
        "players": config.resolved_players(),
        "batch_size": config.batch_size,
        "device": config.device,
    }
    if config.output is not None:
        kwargs["output"] = config.output
    if config.mask_strategy is not None:
        kwargs["mask_strategy"] = config.mask_strategy
    model = config.resolved_model()
    try:
        if config.task == "classification":
            target: int | str | None = config.target
            if isinstance(target, str) and target.lstrip("-").isdigit():
                target = int(target)
            return TextClassificationGame(config.text, model, target_class=target, **kwargs)
        return GenerationLogProbGame(
            config.text,
            model,
            query=config.query,
            answer=config.answer,
            use_chat_template=config.chat_template,
            **kwargs,
        )
    except OSError as err:  # from_pretrained: missing folder, unknown hub name offline
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        msg = (
            f"Could not load the model {model!r}: {first} Pass '--model' a local folder with a "
            f"saved checkpoint or one of the offline models {sorted(DEFAULT_MODELS.values())}."
        )
        raise ExplainError(msg) from err


def build_approximator(config: ExplainConfig, n_players: int) -> Any:
    """The approximator of ``config`` for ``n_players`` players.

    Raises:
        InvalidParameterError: an order larger than the number of players, or ``hybrid`` without
            HybridSPEX in this installation.
    """
    order = config.resolved_order()
    if config.order is None:
        order = min(order, n_players)  # the default order fits any text (one sentence: order 1)
    if order > n_players:
        msg = (
            f"The '--order' option ({order}) is larger than the number of players "
            f"({n_players}); use '--order {n_players}' or a finer '--players' granularity."
        )
        raise InvalidParameterError(msg)
    common = {"random_state": config.seed}
    if config.method == "spex":
        from shapiq_spex.approximators.spex import SPEX

        cap = config.degree_cap or max(SPEX_DEGREE_CAP_FLOOR, order)
        return SPEX(n_players, order, config.index, degree_cap=cap, **common)
    if config.method == "proxyspex":
        from shapiq_spex.approximators.proxyspex import ProxySPEX

        # every player granularity of the command line is a piece of text in reading order
        return ProxySPEX(
            n_players, order, config.index, target_r2=config.target_r2, sequential=True, **common
        )
    try:
        from shapiq_spex.approximators.hybrid import HybridSPEX
    except ImportError as err:
        msg = (
            "The '--method hybrid' option needs HybridSPEX (shapiq_spex.approximators.hybrid), "
            f"which this installation lacks ({err}); use '--method spex' or '--method proxyspex'."
        )
        raise InvalidParameterError(msg) from None
    extra = {} if config.degree_cap is None else {"degree_cap": config.degree_cap}
    return HybridSPEX(n_players, order, config.index, sequential=True, **common, **extra)


def _check_budget_fits(approximator: Any, budget: int, method: str) -> None:
    """Fail before any model query when ``budget`` is below the method's smallest design."""
    minimum = getattr(approximator, "min_budget", None)
    if callable(minimum) and budget < int(minimum()):
        from shapiq_spex.exceptions import BudgetTooSmallError

        msg = (
            f"The '--budget' option ({budget}) is too small for --method {method} with "
            f"{approximator.n} players: it needs at least {int(minimum())} queries. Raise "
            + (
                "--budget."
                if method == "proxyspex"
                else "--budget or use --method proxyspex (it needs the fewest)."
            )
        )
        raise BudgetTooSmallError(msg)


# ---------------------------------------------------------------------------------- running
@dataclass
class ExplainResult:
    """What :func:`explain_text` produced.

    Attributes:
        config: the configuration used.
        interaction_values: shapiq ``InteractionValues`` of ``config.index``.
        players: the game's :class:`~shapiq_spex.text.TextPlayers`.
        report: the approximator's ``report_`` (queries, held-out R², timings).
        method_name: the approximator's name (``"SPEX"``, ...).
        model: the model name used.
        text: the explained text (the context for generation).
        spans: ``(n_players, 2)`` character spans into ``text``.
        target: what is explained (class, answer), for display.
        timing: ``load_s`` (model and game set-up), ``model_s`` (model queries), ``overhead_s``
            (sampling, decoding, fitting), ``explain_s`` (approximator wall time) and ``total_s``.
        warnings: warnings raised during the run, as ``"Category: message"`` lines.
        engine_stats: the query engine's counters (see :class:`~shapiq_spex.engine.EngineStats`):
            ``evaluated`` (model answers computed by this run), ``cache_hits`` (read from
            ``--cache``), ``duplicates_saved``, ``batches``, ``probe_evaluated``, ``queries``.
        usage: a served model's request, token, retry and cost counters
            (:class:`~shapiq_spex.endpoint.EndpointUsage` as a dict); empty for local models.
        prediction: what the model predicted and what is explained
            (:class:`~shapiq_spex.plot.Prediction`: labels, probabilities, explained class,
            output and unit, value with the full text and with every player removed, masking).
        other_classes: with ``--target all`` or a list, the explanations of the other classes.

    In Jupyter the result displays as the HTML report (``_repr_html_``).
    """

    config: ExplainConfig
    interaction_values: Any
    players: Any
    report: Any
    method_name: str
    model: str
    text: str
    spans: np.ndarray
    target: str
    timing: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    engine_stats: dict[str, int] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    prediction: Any = None
    other_classes: list[ExplainResult] = field(default_factory=list)

    def _repr_html_(self) -> str:
        """Jupyter's inline display: the same view as the HTML report (answer, text, top list)."""
        from shapiq_spex.cli.output import to_explanation

        return to_explanation(self)._repr_html_()


def parse_targets(target: str | None) -> list[str | None]:
    """The classes of ``--target``: ``[None]`` (predicted), ``["all"]`` or the listed ones.

    Raises:
        InvalidParameterError: an empty entry or a class named twice in a comma list.
    """
    if target is None:
        return [None]
    parts = [part.strip() for part in str(target).split(",")]
    if any(not part for part in parts) or len(set(parts)) != len(parts):
        msg = (
            "The '--target' option must be a class index or label, 'all', or a comma list of "
            f"distinct classes such as 'negative,positive'. Got {target!r}."
        )
        raise InvalidParameterError(msg)
    if "all" in parts and len(parts) > 1:
        msg = f"The '--target' option 'all' cannot be combined with other classes. Got {target!r}."
        raise InvalidParameterError(msg)
    return parts


def _target_description(game: Any) -> str:
    if hasattr(game, "target_class"):
        labels = getattr(getattr(game.model, "config", None), "id2label", None) or {}
        label = labels.get(game.target_class, labels.get(str(game.target_class)))
        name = f" ({label})" if label is not None else ""
        return f"class {game.target_class}{name}, {game.output}"
    if getattr(game, "scoring", None) == "label_logprob":
        return f"{game.label_output} of the label {game.labels[0]!r} among {game.labels}"
    answer = getattr(game, "answer", "")
    return f"{game.output} of the answer {answer!r}"


def explain_text(config: ExplainConfig, *, progress: bool = False) -> ExplainResult:
    """Load the model, build the game, run the approximator: one explanation.

    Args:
        config: the explanation to compute (validated here).
        progress: show a tqdm bar over the model queries on stderr.

    Returns:
        An :class:`ExplainResult`.

    Raises:
        InvalidParameterError, BudgetTooSmallError, ExplainError: problems the user can fix.
        ExplainInterrupted: Ctrl-C during the model queries (what was kept is in its fields).
    """
    check_config(config)
    check_text_length(config)
    targets = parse_targets(config.target)
    with _thread_limits(config.threads):
        if targets != ["all"] and len(targets) == 1:
            return _explain(config, progress)
        return _explain_classes(config, targets, progress)


def _explain_classes(
    config: ExplainConfig, targets: list[str | None], progress: bool
) -> ExplainResult:
    """One explanation per class (``--target all`` or a list), for the report's class switch.

    Each class is its own game and run (the same seed and budget): model queries grow with the
    number of classes. The first class (the predicted one for ``all``) is the result; the others
    are in its ``other_classes``. The other classes are resolved against the model's labels
    before any of them runs, so that a class named twice (by index and by label) is refused
    without spending their queries.
    """
    from dataclasses import replace

    first = _explain(replace(config, target=None if targets == ["all"] else targets[0]), progress)
    labels, explained = first.prediction.labels, first.prediction.target
    if targets == ["all"]:
        rest: list[str | None] = [str(c) for c in range(len(labels)) if c != explained]
    else:
        rest = targets[1:]
    seen = {explained}
    for target in rest:
        index = _class_index(target, labels)
        if index is not None and index in seen:
            msg = (
                f"The '--target' option names class {index} ({labels[index]}) twice (by index "
                f"and by label): {config.target!r}."
            )
            raise InvalidParameterError(msg)
        seen.add(index)
    for target in rest:
        other = _explain(replace(config, target=target), progress)
        done = {explained, *(o.prediction.target for o in first.other_classes)}
        if other.prediction.target in done:  # a label spelt otherwise (LABEL_1 for "class 1")
            msg = (
                f"The '--target' option names class {other.prediction.target} twice (by index "
                f"and by label): {config.target!r}."
            )
            raise InvalidParameterError(msg)
        first.other_classes.append(other)
    return first


def _class_index(target: str | None, labels: tuple[str, ...]) -> int | None:
    """The class index of a ``--target`` entry, or ``None`` where only the game can tell."""
    if target is None:
        return None
    if target in labels:
        return labels.index(target)
    if target.isdigit() and int(target) < len(labels):
        return int(target)
    return None


@contextlib.contextmanager
def _thread_limits(threads: int | None) -> Iterator[None]:
    """Limit torch and the BLAS/OpenMP pools (threadpoolctl) to ``threads``; ``None``: no change.

    On a busy 2-core machine two BLAS threads made ProxySPEX's refit 20-100x slower than one.
    """
    if threads is None:
        yield
        return
    import scipy.linalg  # noqa: F401  (threadpoolctl limits only libraries already loaded)
    from threadpoolctl import threadpool_limits

    import shapiq_spex.proxy.refine  # noqa: F401
    from shapiq_spex.games._torch import import_torch

    torch = import_torch()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def _explain(config: ExplainConfig, progress: bool) -> ExplainResult:
    from tqdm.auto import tqdm

    from shapiq_spex.engine import QueryEngine
    from shapiq_spex.engine.store import open_store
    from shapiq_spex.plot.prediction import prediction_from_game

    start = time.perf_counter()
    cache = None if config.cache is None else Path(config.cache)
    # opened before the model is loaded, so that a bad cache file is refused at once
    store = open_store(cache) if cache is not None else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            game = build_game(config)
            load_s = time.perf_counter() - start
            approximator = build_approximator(config, game.n_players)
            _check_budget_fits(approximator, config.budget, config.method)
            # One engine batch is one forward batch of the game: a kill loses at most one, and
            # a resumed run evaluates the batches it lacks with the same rows as the first run.
            engine = QueryEngine(game, cache=store, batch_size=config.batch_size, progress=False)
            store = None  # the engine closes it
            bar = tqdm(
                total=config.budget,
                desc=f"{approximator.method_name} model queries",
                unit="query",
                disable=not progress,
                leave=False,
                dynamic_ncols=True,
            )
            wrapped = ProgressGame(engine, bar, chunk=4 * config.batch_size)
            try:
                t0 = time.perf_counter()
                iv = approximator.approximate(config.budget, wrapped)
                explain_s = time.perf_counter() - t0
            except KeyboardInterrupt as err:
                stats = engine.stats.as_dict()
                raise ExplainInterrupted(wrapped.queries, config.budget, stats, cache) from err
            finally:
                bar.close()
                engine.close()
    finally:
        if store is not None:
            store.close()
    report = approximator.report_
    truncation = written_truncation(approximator.spectrum_, config.index, iv.max_order)
    if truncation is not None:
        report.details["truncation"] = truncation
    players = game.players
    spans = np.asarray(players.spans, dtype=np.int64).reshape(-1, 2)
    if config.task == "generation":
        spans = spans - int(players.region[0])  # relative to the context
    timing = {
        "load_s": load_s,
        "model_s": float(report.game_time_s),
        "overhead_s": max(0.0, explain_s - float(report.game_time_s)),
        "explain_s": explain_s,
        "total_s": time.perf_counter() - start,
    }
    messages = []
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in messages and not issubclass(w.category, DeprecationWarning | FutureWarning):
            messages.append(text)
    engine_stats = {k: v for k, v in engine.stats.as_dict().items() if not k.endswith("_s")}
    return ExplainResult(
        config=config,
        engine_stats=engine_stats,
        interaction_values=iv,
        players=players,
        report=report,
        method_name=approximator.method_name,
        model=config.resolved_model(),
        text=config.text,
        spans=spans,
        target=_target_description(game),
        timing=timing,
        warnings=messages,
        usage=game.usage.as_dict() if hasattr(game, "usage") else {},
        prediction=prediction_from_game(game, model=config.resolved_model()),
    )


# ---------------------------------------------------------------------------------- console
#: Random coalitions the written values are compared with the fitted explanation on.
TRUNCATION_COALITIONS = 2000


def written_truncation(spectrum: Any, index: str, order: int) -> dict | None:
    """How well Möbius or Fourier values written up to ``order`` rebuild the whole surrogate.

    Those values *are* the surrogate's terms, so a reader rebuilds predictions from them; below
    its largest degree they are a truncation, and the surrogate's held-out R² is not theirs.

    Returns:
        ``None`` (other indices, or nothing cut), else ``{"order", "max_degree",
        "r2_vs_explanation"}``: the R² of the written terms against the surrogate on
        ``TRUNCATION_COALITIONS`` uniform random coalitions (fixed seed).
    """
    from shapiq_spex.approximators._base import prediction_r2
    from shapiq_spex.spectra._subsets import degrees
    from shapiq_spex.spectra.spectrum import SparseSpectrum

    if index not in ("Moebius", "Fourier") or spectrum.max_degree <= order:
        return None
    full = spectrum.to_moebius() if index == "Moebius" else spectrum.to_fourier()
    keep = degrees(full.supports) <= order
    cut = SparseSpectrum(full.n, full.supports[keep], full.coefs[keep], full.basis)
    masks = np.random.default_rng(0).random((TRUNCATION_COALITIONS, full.n)) < 0.5
    r2 = prediction_r2(full.evaluate(masks), cut.evaluate(masks))
    r2 = r2 if np.isfinite(r2) else 1.0  # a constant explanation: nothing to miss
    return {"order": int(order), "max_degree": int(full.max_degree), "r2_vs_explanation": r2}


def read_text(text: str | None, file: Path | None) -> str:
    """The text from the positional argument or ``--file`` (exactly one of them).

    A file larger than ``4 * MAX_TEXT_CHARS`` bytes is refused without reading it, a text longer
    than :data:`MAX_TEXT_CHARS` characters right after.
    """
    if (text is None) == (file is None):
        msg = "Give the text either as TEXT or with --file PATH (exactly one of them)."
        raise InvalidParameterError(msg)
    if file is None:
        _check_text_chars(text, "TEXT")
        return text
    try:
        size = Path(file).stat().st_size
        if size > _MAX_FILE_BYTES:
            _too_long(f"--file {str(file)!r}", f"{size:,} bytes")
        content = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        msg = f"Could not read --file {str(file)!r}: {err}."
        raise ExplainError(msg) from None
    _check_text_chars(content, f"--file {str(file)!r}")
    return content


def _too_long(what: str, size: str) -> None:
    msg = (
        f"The text of {what} has {size}; 'shapiq-spex explain' takes at most "
        f"{MAX_TEXT_CHARS:,} characters (models read far fewer tokens: the default MiniLM 512). "
        "Explain a shorter passage."
    )
    raise InvalidParameterError(msg)


def _check_text_chars(text: str, what: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        _too_long(what, f"{len(text):,} characters")


def _model_positions(model: str) -> int | None:
    """The model's position limit from its config file, if it can be read without loading it."""
    from shapiq_spex.games._torch import BUILTIN_MODELS

    if model in ("minilm-sentiment", "minilm"):
        try:
            from shapiq_spex.models.sentiment import minilm_path

            config_file = minilm_path() / "config.json"
        except ImportError:  # the model's package is missing; loading it will say so
            return None
    elif model in BUILTIN_MODELS:
        return None
    elif Path(model).is_dir():
        config_file = Path(model) / "config.json"
    else:  # a hub name: its config only if it is in the local cache (no download here)
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(model, "config.json")
        except (ImportError, ValueError):
            return None
        if not isinstance(found, str):
            return None
        config_file = Path(found)
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key in ("max_position_embeddings", "n_positions"):
        value = config.get(key) if isinstance(config, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def check_text_length(config: ExplainConfig) -> None:
    """Refuse a text that cannot fit the model, before it is tokenized or the model loaded.

    Every tokenizer that splits at white space gives at least one token per white-space
    separated piece with a visible character
    (:func:`~shapiq_spex.text.players.visible_pieces`), so a text with more pieces than the
    model's positions (read from its ``config.json`` when that is on disk) cannot fit. Texts
    that pass may still be refused by the game after tokenizing, with the exact token count.

    Raises:
        InvalidParameterError: the text is longer than :data:`MAX_TEXT_CHARS` or has more pieces
            than the model has positions.
    """
    from shapiq_spex.text.players import visible_pieces

    _check_text_chars(config.text, "TEXT")
    limit = _model_positions(config.resolved_model())
    if limit is None:
        return
    pieces = visible_pieces(config.text)
    if pieces > limit:
        msg = (
            f"The text has {pieces:,} words (white-space separated pieces), so at least as many "
            f"tokens, more than the {limit:,} positions of the model "
            f"{config.resolved_model()!r}; explain a shorter passage (this command does not "
            "truncate)."
        )
        raise InvalidParameterError(msg)


#: The library's parameter names in its error messages, and what they are on the command line.
CLI_NAMES = (
    ("The 'target_class' parameter", "The '--target' option"),
    ("'s report_.faithfulness_r2", "'s held-out R²"),
    ("The 'answer' parameter", "The '--answer' option"),
    ("report_.faithfulness_r2", "the held-out R²"),
    ("The 'device' parameter", "The '--device' option"),
    ("The 'mask_strategy' parameter", "The '--mask-strategy' option"),
    ("The 'mask_strategy' '", "The '--mask-strategy' '"),
    ("The 'batch_size' parameter", "The '--batch-size' option"),
    ("add a prompt_template around the context", "ask a '--query' (it wraps the context)"),
    ("mask_strategy='mask_token'", "'--mask-strategy mask_token'"),
    ("use device='cpu'", "use '--device cpu'"),
    ("raise timeout_s if", "raise '--timeout' if"),
    ("Pass the API root as endpoint=", "Pass the API root as '--endpoint'"),
    (
        "pass a new 'cache' path, or overwrite=True to replace",
        "pass a new '--cache' path, or delete the file to replace",
    ),
    ("Pass a new 'cache' path", "Pass a new '--cache' path"),
    ("pass the answer without it (answer=", "pass the answer without it (--answer "),
    (
        "or overwrite=True to delete the stored values and reuse",
        "or delete the file to drop the stored values and reuse",
    ),
)


def cli_message(message: str) -> str:
    """A library error message with the command line's option names (:data:`CLI_NAMES`)."""
    for library, cli in CLI_NAMES:
        message = message.replace(library, cli)
    return message


def _error(message: str, *, kind: str = "error: ") -> None:
    one_line = " ".join(str(message).split())
    print(f"shapiq-spex explain: {kind}{one_line}", file=sys.stderr, flush=True)


def _quiet_transformers(quiet: bool):
    """Switch transformers' weight-loading progress bars off; return a function restoring them."""
    if not quiet:
        return lambda: None
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - the llm extra is missing; the game will say so
        return lambda: None
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    return hf_logging.enable_progress_bar if was_enabled else (lambda: None)


def _interrupted_message(err: ExplainInterrupted) -> str:
    """What an interrupted run kept and how to resume it, in one line."""
    evaluated = int(err.stats.get("evaluated", 0))
    hits = int(err.stats.get("cache_hits", 0))
    answered = min(err.budget, evaluated + hits + int(err.stats.get("duplicates_saved", 0)))
    done = f"interrupted after {answered} of {err.budget} queries"
    if err.cache is None:
        return (
            f"{done}; nothing was kept (run with --cache FILE to keep finished model queries and "
            "resume after an interruption)."
        )
    return (
        f"{done}; they are kept in the cache {str(err.cache)!r} ({evaluated} new model answers, "
        f"{hits} read from it): run the same command again to resume."
    )


def _kept_after_run(config: ExplainConfig) -> str:
    """What is kept of a finished run whose files could not be written."""
    if config.cache is None:
        return (
            "The model answers were not kept (with --cache FILE a rerun writes the files without "
            "querying the model again)."
        )
    return (
        f"Every model answer is kept in the cache {str(config.cache)!r}: the same command writes "
        "the files without querying the model again."
    )


def execute(
    config: ExplainConfig,
    *,
    out: Path | None,
    json_path: Path | None,
    top: int,
    quiet: bool,
    line_width: int = 100,
) -> tuple[int, ExplainResult | None]:
    """Run one explanation with console output; user errors become one line and a status.

    Every output path is checked before the model is loaded; the summary and the table are
    printed before any file is written; files are written atomically. Statuses: 0 done, 1 an
    input that cannot be read, a model that cannot be loaded or a file that could not be written
    after the run, 2 a bad option, 130 interrupted (Ctrl-C).

    Returns:
        ``(exit status, result or None)``.
    """
    progress = not quiet and sys.stderr.isatty()
    restore = _quiet_transformers(not progress)
    try:
        if isinstance(line_width, bool) or not isinstance(line_width, int) or line_width < 10:
            msg = f"The '--line-width' option must be an int >= 10. Got {line_width!r}."
            raise InvalidParameterError(msg)
        check_output_paths(out=out, json_path=json_path, cache=config.cache)
        result = explain_text(config, progress=progress)
    except ExplainInterrupted as err:
        _error(_interrupted_message(err), kind="")
        return 130, None
    except KeyboardInterrupt:
        _error("interrupted before the first model query; nothing to keep.", kind="")
        return 130, None
    except ExplainError as err:
        _error(cli_message(str(err)))
        return 1, None
    except (SpexError, ImportError) as err:
        _error(cli_message(str(err)))
        return 2, None
    finally:
        restore()
    for message in result.warnings:
        print(
            f"shapiq-spex explain: warning: {' '.join(cli_message(message).split())}",
            file=sys.stderr,
        )
    if not quiet:  # the result is on screen before any file is written
        print("\n".join(summary_lines(result)))
        print(f"\ntop {top} interactions ({result.interaction_values.index}):")
        print(format_table(result, top), flush=True)
    written: list[Path] = []
    try:
        write_outputs(
            result, out=out, json_path=json_path, top=top, line_width=line_width, written=written
        )
    except KeyboardInterrupt:
        kept = f" (wrote {', '.join(map(str, written))})" if written else ""
        _error(f"interrupted while writing the files{kept}. {_kept_after_run(config)}", kind="")
        return 130, result
    except (OSError, SpexError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        where = getattr(err, "filename", None)
        what = f"{reason}: {where}" if where else reason
        kept = f"wrote {', '.join(map(str, written))}" if written else "wrote nothing"
        shown = "" if quiet else " The summary and table above are this run's result."
        _error(
            f"the run finished but an output file could not be written ({what}); {kept}."
            f"{shown} {_kept_after_run(config)}"
        )
        return 1, result
    if not quiet and written:
        print("\nwrote " + ", ".join(str(p) for p in written))
    return 0, result
