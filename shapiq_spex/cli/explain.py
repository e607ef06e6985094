"""``shapiq-spex explain``: explain a language model's output on one text from the command line.

The command (its arguments are parsed in :mod:`shapiq_spex.cli.main`) builds a text game
(:class:`~shapiq_spex.games.TextClassificationGame` or
:class:`~shapiq_spex.games.GenerationLogProbGame`), runs SPEX, ProxySPEX or HybridSPEX on it
with a tqdm progress bar over the model queries, prints the strongest interactions with their
words, and writes a self-contained HTML report with a PNG beside it (and, with ``--json``, every
interaction as JSON). The same steps are available as functions: :func:`explain_text` (config in,
:class:`ExplainResult` out) here, and the console table, JSON and report writers in
:mod:`shapiq_spex.cli.output`.

Errors a user can fix (bad options, a budget too small for the method, a model that cannot be
loaded) end the command with a one-line message on stderr and a non-zero exit status; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shapiq_spex.cli.output import format_table, summary_lines, write_outputs
from shapiq_spex.exceptions import InvalidParameterError, SpexError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_METHOD",
    "DEFAULT_MODELS",
    "METHODS",
    "TASKS",
    "ExplainConfig",
    "ExplainResult",
    "ProgressGame",
    "build_approximator",
    "build_game",
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
#: Default method. On the MiniLM sentiment game ProxySPEX had the best held-out R² in every
#: length bucket at equal queries (0.98 / 0.96 / 0.91 / 0.86 for 8-15 / 16-31 / 32-63 / 64-127
#: words; HybridSPEX 0.98 / 0.94 / 0.90 / 0.85, SPEX 0.87 / 0.87 / 0.82 / 0.81), an overhead of
#: 1-8% of the run, and the smallest minimum budget (``benchmarks/results/text_sentiment.md``).
DEFAULT_METHOD = "proxyspex"
#: SPEX's degree cap in the CLI when ``--degree-cap`` is not given: the reported order (at least
#: 2). At 600-1000 queries a cap of 5 leaves few coalitions for the refit; cap 2 gave a mean
#: held-out R² of 0.875 vs 0.844 (cap 5) on 9 reviews of 11-39 words.
SPEX_DEGREE_CAP_FLOOR = 2
DEFAULT_BUDGET = 800
CLASSIFICATION_OUTPUTS = ("logit", "log_prob", "prob", "logit_margin")
GENERATION_OUTPUTS = ("log_prob", "mean_log_prob")


class ExplainError(SpexError):
    """A problem with the command's inputs (file, model) that the user can fix."""


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
        target: explained class index or label name (classification only); ``None`` = predicted.
        output: the game's score; ``None`` = the game's default.
        mask_strategy: ``"mask_token"``, ``"remove"`` or a replacement; ``None`` = game default.
        device: torch device; ``None`` = CUDA when available, else CPU.
        degree_cap: SPEX/HybridSPEX BCH degree cap; ``None`` = for SPEX the order (at least 2,
            see :data:`SPEX_DEGREE_CAP_FLOOR`), for HybridSPEX its own default.
        threads: threads of torch and of the BLAS/OpenMP pools during the run (restored after);
            ``None`` = leave them as they are. On a busy machine with few cores, 1 is fastest.
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
    else:
        if config.target is not None:
            msg = "The '--target' option needs '--task classification' (the task is generation)."
            raise InvalidParameterError(msg)
        allowed = GENERATION_OUTPUTS
    if config.output is not None and config.output not in allowed:
        msg = f"The '--output' option of the {config.task} task must be one of {allowed}."
        raise InvalidParameterError(msg + f" Got {config.output!r}.")


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
        return out


def build_game(config: ExplainConfig) -> Any:
    """Load the model and build the text game of ``config`` (the slow, model-loading step).

    Raises:
        InvalidParameterError: options the game rejects (text too long, bad target, ...).
        ExplainError: the model cannot be loaded (not found, no network).
    """
    from shapiq_spex.games import GenerationLogProbGame, TextClassificationGame

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

        return ProxySPEX(n_players, order, config.index, **common)
    try:
        from shapiq_spex.approximators.hybrid import HybridSPEX
    except ImportError as err:
        msg = (
            "The '--method hybrid' option needs HybridSPEX (shapiq_spex.approximators.hybrid), "
            f"which this installation lacks ({err}); use '--method spex' or '--method proxyspex'."
        )
        raise InvalidParameterError(msg) from None
    extra = {} if config.degree_cap is None else {"degree_cap": config.degree_cap}
    return HybridSPEX(n_players, order, config.index, **common, **extra)


def _check_budget_fits(approximator: Any, budget: int, method: str) -> None:
    """Fail before any model query when ``budget`` is below the method's smallest design."""
    minimum = getattr(approximator, "min_budget", None)
    if callable(minimum) and budget < int(minimum()):
        from shapiq_spex.exceptions import BudgetTooSmallError

        msg = (
            f"The '--budget' option ({budget}) is too small for --method {method} with "
            f"{approximator.n} players: it needs at least {int(minimum())} queries. Raise "
            "--budget or use --method proxyspex (it needs the fewest)."
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


def _target_description(game: Any) -> str:
    if hasattr(game, "target_class"):
        labels = getattr(getattr(game.model, "config", None), "id2label", None) or {}
        label = labels.get(game.target_class, labels.get(str(game.target_class)))
        name = f" ({label})" if label is not None else ""
        return f"class {game.target_class}{name}, {game.output}"
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
    """
    check_config(config)
    with _thread_limits(config.threads):
        return _explain(config, progress)


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

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        game = build_game(config)
        load_s = time.perf_counter() - start
        approximator = build_approximator(config, game.n_players)
        _check_budget_fits(approximator, config.budget, config.method)
        bar = tqdm(
            total=config.budget,
            desc=f"{approximator.method_name} model queries",
            unit="query",
            disable=not progress,
            leave=False,
            dynamic_ncols=True,
        )
        wrapped = ProgressGame(game, bar, chunk=4 * config.batch_size)
        try:
            t0 = time.perf_counter()
            iv = approximator.approximate(config.budget, wrapped)
            explain_s = time.perf_counter() - t0
        finally:
            bar.close()
    report = approximator.report_
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
    return ExplainResult(
        config=config,
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
    )


# ---------------------------------------------------------------------------------- console
def read_text(text: str | None, file: Path | None) -> str:
    """The text from the positional argument or ``--file`` (exactly one of them)."""
    if (text is None) == (file is None):
        msg = "Give the text either as TEXT or with --file PATH (exactly one of them)."
        raise InvalidParameterError(msg)
    if file is None:
        return text
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        msg = f"Could not read --file {str(file)!r}: {err}."
        raise ExplainError(msg) from None


def _error(message: str) -> None:
    one_line = " ".join(str(message).split())
    print(f"shapiq-spex explain: error: {one_line}", file=sys.stderr)


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


def execute(
    config: ExplainConfig,
    *,
    out: Path | None,
    json_path: Path | None,
    top: int,
    quiet: bool,
    line_width: int = 100,
) -> tuple[int, ExplainResult | None]:
    """Run one explanation with console output; user errors become one line and status 2 or 1.

    Returns:
        ``(exit status, result or None)``.
    """
    progress = not quiet and sys.stderr.isatty()
    restore = _quiet_transformers(not progress)
    try:
        if isinstance(line_width, bool) or not isinstance(line_width, int) or line_width < 10:
            msg = f"The '--line-width' option must be an int >= 10. Got {line_width!r}."
            raise InvalidParameterError(msg)
        if out is not None and not Path(out).parent.is_dir():
            msg = (
                f"The '--out' option points into {str(Path(out).parent)!r}, which is not a folder."
            )
            raise InvalidParameterError(msg)
        if json_path is not None and not Path(json_path).parent.is_dir():
            msg = f"The '--json' option points into {str(Path(json_path).parent)!r}, not a folder."
            raise InvalidParameterError(msg)
        result = explain_text(config, progress=progress)
        written = write_outputs(
            result, out=out, json_path=json_path, top=top, line_width=line_width
        )
    except ExplainError as err:
        _error(str(err))
        return 1, None
    except (SpexError, ImportError) as err:
        _error(str(err))
        return 2, None
    finally:
        restore()
    for message in result.warnings:
        print(f"shapiq-spex explain: warning: {' '.join(message.split())}", file=sys.stderr)
    if not quiet:
        print("\n".join(summary_lines(result)))
        print(f"\ntop {top} interactions ({result.interaction_values.index}):")
        print(format_table(result, top))
        if written:
            print("\nwrote " + ", ".join(str(p) for p in written))
    return 0, result
