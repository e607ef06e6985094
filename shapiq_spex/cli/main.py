"""Argument parsing and the ``demo`` command (other commands live in their own modules)."""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]


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


def build_parser() -> argparse.ArgumentParser:
    """The ``shapiq-spex`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="shapiq-spex", description="Sparse interaction explanations (SPEX, ProxySPEX)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the embedded demonstration")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--synthetic", action="store_true", help="only the synthetic 1,000-player game"
    )
    demo.set_defaults(func=_demo_synthetic)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``shapiq-spex`` command."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return int(args.func(args) or 0)
