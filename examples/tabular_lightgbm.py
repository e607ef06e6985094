"""Explain a LightGBM model with shapiq's TabularExplainer and ``approximator="spex"``.

``import shapiq_spex`` routes shapiq's ``"spex"``/``"proxyspex"`` strings to shapiq-spex, so the
usual shapiq code gets our SPEX (correct k-SII, exact BCH decoding, budget-honest). Note that
``shapiq.Explainer(lgbm_model, ...)`` would pick shapiq's *TreeExplainer* for a tree model and
ignore ``approximator=``; use ``shapiq.TabularExplainer`` to explain through an imputer.

Run: ``python examples/tabular_lightgbm.py [--fast]``
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import shapiq_spex  # noqa: F401
from shapiq_spex.integration import install_import_hook

# What `import shapiq_spex` does by itself: route "spex"/"proxyspex"/"hybridspex" as soon as
# shapiq is imported (set SHAPIQ_SPEX_NO_REGISTER=1 to keep shapiq's own). Idempotent.
install_import_hook()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="small model, data and budget")
    parser.add_argument("--approximator", default="spex", help="spex, proxyspex or hybridspex")
    parser.add_argument("--budget", type=int, default=None)
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("SHAPIQ_SPEX_EXAMPLES_FAST") == "1"

    import numpy as np
    import shapiq
    from lightgbm import LGBMClassifier
    from sklearn.datasets import load_breast_cancer

    from shapiq_spex.integration import is_registered

    data = load_breast_cancer()
    X, y, names = data.data, data.target, list(data.feature_names)
    model = LGBMClassifier(n_estimators=40 if fast else 200, num_leaves=15, verbose=-1)
    model.fit(X, y)
    background = X[np.random.default_rng(0).choice(len(X), 30 if fast else 100, replace=False)]
    budget = args.budget or (400 if fast else 3000)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn feature-name warnings of LightGBM
        explainer = shapiq.TabularExplainer(
            model,
            background,
            approximator=args.approximator,
            index="k-SII",
            max_order=2,
            random_state=0,
        )
        approx = explainer.approximator
        print(
            f"routed to shapiq-spex: {is_registered()}; approximator: {type(approx).__module__}."
            f"{type(approx).__name__}"
        )
        start = time.perf_counter()
        iv = explainer.explain(X[0], budget=budget, random_state=0)
    report = getattr(approx, "report_", None)  # shapiq's own SPEX has no report
    if report is not None:
        print(
            f"queries={report.queries} of budget={budget}, held-out R2={report.faithfulness_r2:.4f}"
        )
    print(f"n_features={X.shape[1]} time={time.perf_counter() - start:.1f}s")
    print(f"prediction={explainer.predict(X[:1])[0]:.4f} baseline={iv.baseline_value:.4f}")
    print("top k-SII interactions:")
    for players, value in sorted(
        ((k, v) for k, v in iv.interactions.items() if k), key=lambda kv: -abs(kv[1])
    )[:8]:
        print(f"  {value:+.4f}  " + " x ".join(names[p] for p in players))
    print("example tabular_lightgbm: OK")


if __name__ == "__main__":
    main()
