"""Routing shapiq's approximator strings to shapiq-spex (shapiq_spex.integration)."""

from __future__ import annotations

import copy
import inspect
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import shapiq
from shapiq.explainer import configuration

import shapiq_spex
from shapiq_spex import integration
from shapiq_spex.approximators.hybrid import HybridSPEX
from shapiq_spex.approximators.proxyspex import ProxySPEX
from shapiq_spex.approximators.spex import SPEX
from shapiq_spex.exceptions import BudgetTooSmallError, InvalidParameterError
from shapiq_spex.games.synthetic import SparseMoebiusGame
from shapiq_spex.spectra.indices import SUPPORTED_INDICES

CONFIGS = configuration.APPROXIMATOR_CONFIGURATIONS
ROOT = Path(__file__).resolve().parents[1]
OURS = {"spex": SPEX, "proxyspex": ProxySPEX, "hybridspex": HybridSPEX}


def snapshot() -> tuple[dict, dict]:
    """Contents (plain dicts) and identities of shapiq's configuration."""
    contents = {name: dict(dict.items(entry)) for name, entry in CONFIGS.items()}
    return contents, {name: id(entry) for name, entry in CONFIGS.items()}


@pytest.fixture
def clean():
    """Every test starts and ends with shapiq's own configuration."""
    integration.unregister()
    before = snapshot()
    assert before[0]["spex"]["k-SII"] is shapiq.SPEX  # shapiq's own
    yield before
    integration.unregister()
    assert snapshot() == before


# ----------------------------------------------------------------------------- register
def test_indices_match_the_approximators():
    assert integration.INDICES == SUPPORTED_INDICES
    for cls in OURS.values():
        assert tuple(cls.valid_indices) == integration.INDICES


def test_register_routes_every_index_and_unregister_restores_exactly(clean):
    contents, ids = clean
    names = integration.register()
    assert names == ("spex", "proxyspex", "hybridspex", "spex_plugin", "proxyspex_plugin")
    assert integration.is_registered()
    assert integration.registered_names() == names
    for name, cls in OURS.items():
        assert set(CONFIGS[name]) == set(SUPPORTED_INDICES)
        for index in SUPPORTED_INDICES:
            assert CONFIGS[name][index] is cls
    assert CONFIGS["spex_plugin"]["Moebius"] is SPEX
    assert CONFIGS["proxyspex_plugin"]["Fourier"] is ProxySPEX
    assert CONFIGS["regression"]["k-SII"] is shapiq.KernelSHAPIQ  # others untouched

    assert integration.unregister() is True
    assert not integration.is_registered()
    assert "hybridspex" not in CONFIGS
    assert snapshot() == (contents, ids)  # same contents, same inner dict objects
    assert integration.unregister() is False  # idempotent


def test_register_is_idempotent_and_keeps_shapiqs_entries(clean):
    contents, _ = clean
    integration.register()
    integration.register()  # must not snapshot our own routes as "shapiq's"
    integration.register(replace_builtins=True)
    integration.unregister()
    assert snapshot()[0] == contents
    assert CONFIGS["spex"]["k-SII"] is shapiq.SPEX
    assert CONFIGS["proxyspex"]["SV"] is shapiq.ProxySPEX


def test_replace_builtins_false_only_adds_new_names(clean):
    contents, _ = clean
    names = integration.register(replace_builtins=False)
    assert names == ("hybridspex", "spex_plugin", "proxyspex_plugin")
    assert CONFIGS["spex"] == contents["spex"]
    assert CONFIGS["proxyspex"] == contents["proxyspex"]
    assert CONFIGS["hybridspex"]["k-SII"] is HybridSPEX
    integration.register()  # flip to replacing the built-ins
    assert CONFIGS["spex"]["FSII"] is SPEX
    integration.register(replace_builtins=False)  # and back
    assert CONFIGS["spex"]["FSII"] is shapiq.SPEX
    integration.unregister()
    assert snapshot()[0] == contents


def test_unregister_undoes_edits_to_shapiqs_saved_entries(clean):
    contents, _ = clean
    original = CONFIGS["spex"]
    integration.register()
    original["k-SII"] = shapiq.SVARMIQ  # someone edits the dict we put aside
    integration.unregister()
    assert CONFIGS["spex"] is original
    assert snapshot()[0] == contents


def test_register_rejects_a_non_bool():
    with pytest.raises(InvalidParameterError, match="replace_builtins"):
        integration.register(replace_builtins="yes")


def test_lazy_routes_never_expose_placeholders(clean):
    routes = integration._Routes("shapiq_spex.approximators.spex:SPEX")
    assert "lazy" in repr(routes)
    assert dict(routes)["SII"] is SPEX  # dict() must not copy the placeholder strings
    fresh = integration._Routes("shapiq_spex.approximators.hybrid:HybridSPEX")
    assert {**fresh}["BV"] is HybridSPEX
    integration.register()
    copied = copy.deepcopy(CONFIGS)
    assert copied["proxyspex"]["k-SII"] is ProxySPEX
    assert all(isinstance(v, type) for entry in copied.values() for v in entry.values())
    assert next(iter(CONFIGS["hybridspex"].values())) is HybridSPEX
    assert "HybridSPEX" in repr(CONFIGS["hybridspex"])


def test_concurrent_register_and_unregister_end_consistent(clean):
    contents, _ = clean
    errors = []

    def work(i):
        try:
            for _ in range(20):
                integration.register(replace_builtins=bool(i % 2))
                integration.unregister()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    integration.unregister()
    assert snapshot()[0] == contents


# ----------------------------------------------------------------------------- import hook
def run_python(code: str, **env) -> list[str]:
    """Run ``code`` in a fresh interpreter; return its stdout lines (fails on a non-zero exit)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    environment.pop("SHAPIQ_SPEX_NO_REGISTER", None)
    environment.update(env)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split()


def test_hook_before_shapiq_routes_once_even_through_a_circular_import():
    lines = run_python(
        """
        import sys, threading
        from shapiq_spex import integration as I
        print(I.install_import_hook(), I.unregister(), I.hook_installed())  # drops the hook
        threads = [threading.Thread(target=I.install_import_hook) for _ in range(8)]
        [t.start() for t in threads]; [t.join() for t in threads]
        print(I.install_import_hook(), 'shapiq' in sys.modules)
        print(sum(getattr(f, '_shapiq_spex_import_hook', False) for f in sys.meta_path))
        # our own half-initialized modules pull shapiq in: routing must not import them then
        from shapiq_spex import SPEX
        import shapiq
        from shapiq.explainer.configuration import APPROXIMATOR_CONFIGURATIONS as C
        print(C['spex']['k-SII'] is SPEX, I.registered_names() == tuple(I.ROUTES))
        print(I.is_registered(), I.hook_installed())
        mod = sys.modules['shapiq.explainer.configuration']
        print(type(mod.__loader__).__name__, type(mod.__spec__.loader).__name__)
        print(I.unregister(), C['spex']['k-SII'] is shapiq.SPEX, 'hybridspex' in C)
        """
    )
    expected = "hooked False False  hooked False  1  True True  True False"
    expected += "  SourceFileLoader SourceFileLoader  True True False"
    assert lines == expected.split()


def test_environment_variable_disables_and_a_late_hook_registers_at_once():
    lines = run_python(
        """
        import os
        import shapiq_spex
        from shapiq_spex import integration as I
        print(I.install_import_hook(), I.hook_installed())
        import shapiq
        from shapiq.explainer.configuration import APPROXIMATOR_CONFIGURATIONS as C
        print(I.is_registered(), C['spex']['k-SII'] is shapiq.SPEX, 'hybridspex' in C)
        print(I.register() == tuple(I.ROUTES), I.unregister())  # explicit calls still work
        del os.environ['SHAPIQ_SPEX_NO_REGISTER']
        print(I.install_import_hook(), I.is_registered(), I.hook_installed())  # shapiq is there
        """,
        SHAPIQ_SPEX_NO_REGISTER="1",
    )
    expected = "disabled False  False True False  True True  registered True False"
    assert lines == expected.split()


HOOKED_INIT = "install_import_hook" in inspect.getsource(shapiq_spex)


@pytest.mark.skipif(
    not HOOKED_INIT, reason="shapiq_spex/__init__.py does not call install_import_hook() yet"
)
def test_import_shapiq_spex_routes_and_stays_lazy():
    lines = run_python(
        """
        import sys
        import shapiq_spex
        from shapiq_spex import integration as I
        print('shapiq' in sys.modules, I.hook_installed())
        import shapiq
        print(I.is_registered(), I.hook_installed())
        """
    )
    assert lines == ["False", "True", "True", "False"]
    lines = run_python(
        """
        import shapiq, shapiq_spex
        from shapiq_spex import integration as I
        print(I.is_registered())
        """
    )
    assert lines == ["True"]


# ----------------------------------------------------------------------------- explainers
@pytest.fixture(scope="module")
def tabular():
    """A degree-2 polynomial kernel model on diabetes (10 features) and its imputer's exact k-SII.

    Marginal imputation keeps the game a degree-2 polynomial in the coalition indicators, so its
    spectrum has 1 + 10 + 45 terms and SPEX recovers it exactly.
    """
    from sklearn.datasets import load_diabetes
    from sklearn.kernel_ridge import KernelRidge

    X, y = load_diabetes(return_X_y=True)
    model = KernelRidge(kernel="poly", degree=2, alpha=1.0).fit(X, y)
    background = X[:40]
    explainer = shapiq.TabularExplainer(
        model, background, approximator=SPEX(10, 2, "k-SII"), index="k-SII", max_order=2
    )
    explainer.imputer.fit(X[:1])
    exact = shapiq.ExactComputer(game=explainer.imputer, n_players=10)("k-SII", 2)
    return model, background, X[0], exact


def max_abs(iv) -> float:
    return max(abs(v) for k, v in iv.interactions.items() if k)


def assert_close(a, b, atol):
    keys = (set(a.interactions) | set(b.interactions)) - {()}
    assert keys
    assert max(abs(a[k] - b[k]) for k in keys) <= atol


def test_explainer_with_string_spex_runs_our_spex(clean, tabular):
    model, background, x, exact = tabular
    integration.register()
    explainer = shapiq.Explainer(
        model, background, approximator="spex", index="k-SII", max_order=2, random_state=0
    )
    assert isinstance(explainer, shapiq.TabularExplainer)
    assert type(explainer.approximator) is SPEX
    iv = explainer.explain(x, budget=600, random_state=1)
    assert iv.index == "k-SII"
    assert iv.max_order == 2
    assert explainer.approximator.report_.queries <= 600
    direct = SPEX(10, 2, "k-SII", random_state=1).approximate(600, explainer.imputer)
    assert_close(iv, direct, 1e-12)  # the same run as ours called directly
    # and the right k-SII (600 queries miss a few of the 45 small pairs: error ~5e-5 of the scale)
    assert_close(iv, exact, 1e-3 * max_abs(exact))
    assert iv[()] == pytest.approx(explainer.baseline_value)


def test_tabular_explainer_with_string_proxyspex(clean, tabular):
    model, background, x, exact = tabular
    integration.register()
    explainer = shapiq.TabularExplainer(
        model, background, approximator="proxyspex", index="k-SII", max_order=2, random_state=0
    )
    assert type(explainer.approximator) is ProxySPEX
    iv = explainer.explain(x, budget=300, random_state=3)
    direct = ProxySPEX(10, 2, "k-SII", random_state=3).approximate(300, explainer.imputer)
    assert_close(iv, direct, 1e-12)
    assert_close(iv, exact, 0.05 * max_abs(exact))


def test_agnostic_explainer_with_string_hybridspex(clean):
    integration.register()
    game = SparseMoebiusGame(40, 6, 3, hierarchical=True, random_state=0)
    explainer = shapiq.AgnosticExplainer(
        game, index="FSII", max_order=2, approximator="hybridspex", random_state=0
    )
    assert type(explainer.approximator) is HybridSPEX
    iv = explainer.explain(budget=1500, random_state=2)
    direct = HybridSPEX(40, 2, "FSII", random_state=2).approximate(1500, game)
    assert_close(iv, direct, 1e-12)
    exact = shapiq.game_theory.moebius_converter.MoebiusConverter(game.moebius_coefficients)(
        "FSII", 2
    )
    assert_close(iv, exact, 1e-6)


def test_moebius_index_through_agnostic_explainer(clean):
    integration.register()
    game = SparseMoebiusGame(24, 4, 3, random_state=1)
    explainer = shapiq.AgnosticExplainer(
        game, index="Moebius", max_order=3, approximator="spex", random_state=0
    )
    iv = explainer.explain(budget=2000)
    assert iv.index == "Moebius"
    truth = game.moebius_spectrum.to_dict()
    keys = (set(truth) | set(iv.interactions)) - {()}
    assert max(abs(truth.get(k, 0.0) - iv[k]) for k in keys) < 1e-8


def test_instances_work_without_registering(clean, tabular):
    model, background, x, exact = tabular
    approx = SPEX(n=10, max_order=2, index="k-SII")
    explainer = shapiq.TabularExplainer(
        model, background, approximator=approx, index="k-SII", max_order=2
    )
    assert explainer.approximator is approx
    # 3000 queries pay for all 2^10 coalitions: the exact path, so the k-SII is exact
    assert_close(explainer.explain(x, budget=3000, random_state=0), exact, 1e-9)


def test_unregistered_strings_are_shapiqs_again(clean, tabular):
    model, background, _, _ = tabular
    integration.register()
    integration.unregister()
    # (building shapiq's SPEX compiles its numba/galois code: ~20 s, so only look it up)
    assert CONFIGS["spex"]["k-SII"] is shapiq.SPEX
    with pytest.raises(ValueError, match="Invalid approximator"):
        shapiq.TabularExplainer(
            model, background, approximator="hybridspex", index="k-SII", max_order=2
        )


def test_spex_at_a_typical_explainer_budget_says_what_it_needs(clean, tabular):
    """shapiq's README explains 8 features with budget=256 (= 2^8); SPEX's smallest design is
    264 queries for 8 <= n <= 20, so it refuses with the number instead of running."""
    model, background, x, _ = tabular
    integration.register()
    explainer = shapiq.TabularExplainer(
        model, background, approximator="spex", index="k-SII", max_order=2
    )
    with pytest.raises(BudgetTooSmallError, match="264"):
        explainer.explain(x, budget=256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proxy = shapiq.TabularExplainer(
            model, background, approximator="proxyspex", index="k-SII", max_order=2
        )
        assert np.isfinite(proxy.explain(x, budget=256).values).all()
