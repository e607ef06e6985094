"""Which training images make a classifier label a test digit as it does, alone and in pairs?

``DataAttributionGame.from_digits`` retrains a logistic regression on every queried subset of the
training images (scikit-learn's bundled 8x8 digits) and scores the log-odds of the predicted
class for one test image. Players are training images (or groups of them with
``--group-size``); ProxySPEX finds the influential ones and their interactions (for example two
near-duplicates that substitute for each other: each matters only if the other is absent).

Run: ``python examples/data_attribution.py [--fast] [--method spex] [--n-train 60]``
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="fewer images, small budget")
    parser.add_argument(
        "--method", choices=["spex", "proxyspex", "hybridspex"], default="proxyspex"
    )
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--group-size", type=int, default=None)
    parser.add_argument("--budget", type=int, default=None)
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("SHAPIQ_SPEX_EXAMPLES_FAST") == "1"

    from shapiq_spex import SPEX, DataAttributionGame, HybridSPEX, ProxySPEX

    n_train = args.n_train or (24 if fast else 60)
    game = DataAttributionGame.from_digits(
        n_train=n_train, group_size=args.group_size, random_state=0, n_jobs=None
    )
    print(
        f"{game.n_players} players ({n_train} training digits), test digit explained as class "
        f"{game.target_class}: log-odds {game.original_model_output:+.3f} with all data, "
        f"{game.empty_value:+.3f} with none"
    )

    cls = {"spex": SPEX, "proxyspex": ProxySPEX, "hybridspex": HybridSPEX}[args.method]
    budget = args.budget or (100 if fast else 1000)
    if args.method != "proxyspex":
        # SPEX's smallest design takes its whole minimum: 100 more leave 50 held-out coalitions
        # for the reported R² (none at the minimum itself, where it is NaN)
        budget = max(budget, cls(game.n_players).min_budget() + 100)
    approx = cls(game.n_players, max_order=2, index="FSII", random_state=0)
    start = time.perf_counter()
    iv = approx.approximate(budget, game)
    report = approx.report_
    print(
        f"{cls.__name__}: {report.queries} retrainings in {time.perf_counter() - start:.1f}s, "
        f"held-out R2 {report.faithfulness_r2:.3f}"
    )
    print("training examples (label) and pairs with the largest FSII:")
    labels = game.y_train
    top = sorted(((k, v) for k, v in iv.interactions.items() if k), key=lambda kv: -abs(kv[1]))
    for players, value in top[:10]:
        names = []
        for p in players:
            rows = (game.groups == p).nonzero()[0]
            names.append(f"#{p} (" + ",".join(str(labels[r]) for r in rows) + ")")
        print(f"  {value:+.3f}  " + " x ".join(names))
    print("example data_attribution: OK")


if __name__ == "__main__":
    main()
