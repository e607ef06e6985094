"""The public contract of ``shapiq.SPEX`` / ``shapiq.ProxySPEX`` that code written for them uses.

Code written for shapiq's approximators must run unchanged on ours (issue 13). The keyword names
and defaults are read from shapiq's own signatures (``inspect.signature``), so this module follows
shapiq when its constructors change. Where the behaviour is meant to be the same, the tests run
against shapiq's classes too: they pin the contract, not our implementation.

Known, deliberate differences (tested below for ours only):

* shapiq's ``ProxySPEX`` keeps ``max_order=None`` as ``None``; shapiq's ``SPEX`` and all of ours
  turn it into ``n``.
* ours also take ``n`` (and ``max_order``, ``index``) positionally; shapiq's are keyword-only.
* ours refuse what they cannot honour (non-uniform ``sampling_weights``, a missing back-end) where
  shapiq falls back with a warning.
"""

from __future__ import annotations

import copy
import inspect
import math
import sys
import warnings

import numpy as np
import pytest
import shapiq

from shapiq_spex import SPEX, HybridSPEX, ProxySPEX
from shapiq_spex.exceptions import InvalidParameterError, MissingDependencyError
from shapiq_spex.games import SparseMoebiusGame

N = 8
OURS = (SPEX, ProxySPEX, HybridSPEX)
# the shapiq classes whose constructor each of ours must accept
REFERENCES = {
    SPEX: (shapiq.SPEX,),
    ProxySPEX: (shapiq.ProxySPEX,),
    HybridSPEX: (shapiq.SPEX, shapiq.ProxySPEX),
}
# a cheap, deterministic configuration of each class (shapiq's soft decoder takes 15 s and its
# LightGBM grid search is slow and chatty; the hard decoder and the "tree" proxy have the same
# result contract)
CHEAP = {
    shapiq.SPEX: {"decoder_type": "hard"},
    shapiq.ProxySPEX: {"proxy_model": "tree", "hpo": False},
    SPEX: {},
    ProxySPEX: {},
    HybridSPEX: {},
}
# budgets below 2**n for n = 10, so that no class takes an exact path
BUDGETS = {shapiq.SPEX: 600, shapiq.ProxySPEX: 300, SPEX: 600, ProxySPEX: 300, HybridSPEX: 700}
ALL = (*OURS, shapiq.SPEX, shapiq.ProxySPEX)


def _ids(cls) -> str:
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}"


def _shapiq_parameters(reference) -> dict[str, inspect.Parameter]:
    params = inspect.signature(reference.__init__).parameters
    return {name: p for name, p in params.items() if name != "self"}


def _make(cls, **kwargs):
    """``cls`` with shapiq's keyword-only calling convention plus its cheap options."""
    return cls(**{**CHEAP[cls], **kwargs})


def _run(cls, *, n: int = 10, budget: int | None = None, **kwargs):
    game = SparseMoebiusGame(n, 6, 2, random_state=1)
    approx = _make(cls, n=n, random_state=0, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return approx, approx.approximate(budget or BUDGETS[cls], game), game


# ----------------------------------------------------------------------------- keywords
@pytest.mark.parametrize(
    ("ours", "reference"),
    [(o, r) for o in OURS for r in REFERENCES[o]],
    ids=lambda c: _ids(c),
)
def test_every_shapiq_keyword_and_default_is_ours(ours, reference):
    mine = inspect.signature(ours.__init__).parameters
    for name, param in _shapiq_parameters(reference).items():
        assert name in mine, f"{ours.__name__} lacks shapiq's keyword {name!r}"
        if param.default is not inspect.Parameter.empty:
            assert mine[name].default == param.default, name


@pytest.mark.parametrize("ours", OURS, ids=_ids)
def test_shapiq_defaults_passed_explicitly_are_our_defaults(ours):
    given = {}
    for reference in REFERENCES[ours]:
        for name, param in _shapiq_parameters(reference).items():
            if param.default is not inspect.Parameter.empty:
                given[name] = param.default
    approx = ours(n=N, **given)
    assert approx == ours(N)
    assert hash(approx) == hash(ours(N))


COMB = np.array([math.comb(N, k) for k in range(N + 1)], dtype=float)


@pytest.mark.parametrize(
    ("cls", "alias", "value", "ours", "our_value"),
    [
        (SPEX, "decoder_type", "hard", "decoder", "hard"),
        (SPEX, "decoder_type", "Hard", "decoder", "hard"),
        (SPEX, "degree_parameter", 3, "degree_cap", 3),
        (ProxySPEX, "proxy_model", "gradient_boosting", "proxy", "gradient_boosting"),
        (ProxySPEX, "hpo", False, "tuning", "none"),
        (ProxySPEX, "hpo", True, "tuning", "fast"),
        (ProxySPEX, "pairing_trick", True, "pairing", True),
        (ProxySPEX, "sampling_weights", COMB, "pairing", False),  # uniform: our default
        (ProxySPEX, "sampling_weights", 3.5 * COMB, "pairing", False),  # only ratios matter
        (HybridSPEX, "decoder_type", "HARD", "decoder", "hard"),
        (HybridSPEX, "degree_parameter", 4, "degree_cap", 4),
        (HybridSPEX, "hpo", False, "tuning", "none"),
        (HybridSPEX, "proxy_model", "random_forest", "proxy", "random_forest"),
        (HybridSPEX, "pairing_trick", False, "decoder", "soft"),  # False is what it does
    ],
)
def test_shapiq_keyword_means_our_keyword(cls, alias, value, ours, our_value):
    via_alias = cls(N, random_state=3, **{alias: value})
    via_ours = cls(N, random_state=3, **{ours: our_value})
    assert via_alias == via_ours
    assert getattr(via_alias, ours) == our_value


def test_shapiq_attribute_names_read_back():
    spex = SPEX(N, decoder_type="HARD", degree_parameter=3)
    assert (spex.decoder_type, spex.degree_parameter) == ("hard", 3)
    assert ProxySPEX(N, pairing_trick=True).pairing_trick is True


def test_proxy_model_tree_is_a_seeded_decision_tree():
    from sklearn.tree import DecisionTreeRegressor

    approx = ProxySPEX(N, proxy_model="tree", random_state=4)
    assert isinstance(approx.proxy, DecisionTreeRegressor)
    assert approx.proxy.random_state == 4
    assert approx == ProxySPEX(N, proxy=DecisionTreeRegressor(random_state=4), random_state=4)
    # case-insensitive, as "LightGBM" is
    assert ProxySPEX(N, proxy_model="Tree", random_state=4) == approx
    with pytest.raises(InvalidParameterError, match="'proxy_model' parameter cannot be 'linear'"):
        ProxySPEX(N, proxy_model="Linear")


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (SPEX, {"decoder_type": "hard", "decoder": "hard"}),
        (SPEX, {"degree_parameter": 3, "degree_cap": 3}),
        (ProxySPEX, {"proxy_model": "lightgbm", "proxy": "lightgbm"}),
        (ProxySPEX, {"hpo": True, "tuning": "fast"}),
        (ProxySPEX, {"pairing_trick": False, "pairing": False}),
        (HybridSPEX, {"decoder_type": "soft", "decoder": "soft"}),
        (HybridSPEX, {"hpo": False, "tuning": "none"}),
    ],
)
def test_alias_and_our_name_together_is_an_error(cls, kwargs):
    alias, ours = kwargs
    with pytest.raises(InvalidParameterError, match=f"'{ours}'.*'{alias}'|'{alias}'.*'{ours}'"):
        cls(N, **kwargs)


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (ProxySPEX, {"sampling_weights": np.ones(N + 1)}, "'sampling_weights'"),
        (ProxySPEX, {"sampling_weights": np.ones(N)}, "'sampling_weights'"),
        (ProxySPEX, {"sampling_weights": ["a"] * (N + 1)}, "'sampling_weights'"),
        (ProxySPEX, {"sampling_weights": "uniform"}, "'sampling_weights'"),
        (ProxySPEX, {"sampling_weights": -COMB}, "'sampling_weights'"),
        (ProxySPEX, {"proxy_model": "linear"}, "'proxy_model'.*'linear'"),
        (ProxySPEX, {"proxy_model": "magic"}, "'proxy'.*shapiq's 'proxy_model'"),
        (ProxySPEX, {"hpo": "yes"}, "'hpo'"),
        (ProxySPEX, {"pairing_trick": 1}, "'pairing_trick'"),
        (SPEX, {"decoder_type": "medium"}, "'decoder_type'"),
        (SPEX, {"degree_parameter": 0}, "'degree_cap'.*shapiq's 'degree_parameter'"),
        (HybridSPEX, {"pairing_trick": True}, "'pairing_trick'"),
        (HybridSPEX, {"sampling_weights": np.ones(N + 1)}, "'sampling_weights'"),
    ],
)
def test_values_we_cannot_honour_are_refused(cls, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        cls(N, **kwargs)


@pytest.mark.parametrize("ours", [ProxySPEX, HybridSPEX], ids=_ids)
@pytest.mark.parametrize("keyword", ["proxy", "proxy_model"])
def test_missing_backend_is_named_at_construction(monkeypatch, ours, keyword):
    # a None entry in sys.modules makes `import lightgbm` raise ImportError, as a broken install
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(MissingDependencyError, match=r"lightgbm.*pip install lightgbm"):
        ours(N, **{keyword: "lightgbm"})
    # the scikit-learn proxies need nothing else
    assert ours(N, proxy="random_forest").proxy == "random_forest"


def test_missing_xgboost_is_named_at_construction():
    try:
        import xgboost  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="pip install xgboost"):
            ProxySPEX(N, proxy="xgboost")
    else:
        assert ProxySPEX(N, proxy="xgboost").proxy == "xgboost"


# ----------------------------------------------------------------------------- max_order
@pytest.mark.parametrize("cls", [*OURS, shapiq.SPEX], ids=_ids)
def test_max_order_none_is_n(cls):
    # n = 9 and its soft decoder: shapiq's SPEX converts every order up to n (17 s at n = 10,
    # 20 s with the hard decoder's extra terms)
    extra = {"decoder_type": "soft"} if cls is shapiq.SPEX else {}
    approx, iv, _ = _run(cls, n=9, budget=400, max_order=None, **extra)
    assert approx.max_order == 9
    assert iv.max_order == 9
    assert iv.min_order == 0


@pytest.mark.parametrize("cls", OURS, ids=_ids)
def test_max_order_none_keeps_the_whole_spectrum(cls):
    approx, iv, game = _run(cls, max_order=None, index="Moebius")
    # nothing the approximator found is cut: the Moebius values are the whole spectrum_ ...
    found = approx.spectrum_.to_moebius().to_dict()
    assert max(len(key) for key in found) == approx.spectrum_.max_degree >= 2
    for key, value in found.items():
        assert iv[key] == pytest.approx(value, abs=1e-9)
    # ... and on this noiseless sparse game it is the game's spectrum
    for key, value in game.spectrum.to_moebius().to_dict().items():
        assert iv[key] == pytest.approx(value, abs=1e-3)


@pytest.mark.parametrize("cls", OURS, ids=_ids)
@pytest.mark.parametrize("spelling", ["recovered", "Recovered", "RECOVERED"])
def test_max_order_recovered_reports_the_largest_order_found(cls, spelling):
    approx, iv, game = _run(cls, max_order=spelling)
    assert approx.max_order == 10  # no cap on what is reported ...
    assert iv.max_order == approx.spectrum_.max_degree  # ... but the result says what was found
    assert iv.max_order >= game.spectrum.max_degree
    assert "max_order='recovered'" in repr(approx)
    assert approx != _make(cls, n=10, random_state=0, max_order=None)


@pytest.mark.parametrize("cls", OURS, ids=_ids)
@pytest.mark.parametrize("bad", ["all", "n", 0, -1, 2.0, True])
def test_bad_max_order_is_refused(cls, bad):
    with pytest.raises(InvalidParameterError, match="'max_order'"):
        cls(N, max_order=bad)


# ----------------------------------------------------------------------------- string options
@pytest.mark.parametrize("cls", [SPEX, HybridSPEX, shapiq.SPEX], ids=_ids)
@pytest.mark.parametrize("spelling", ["soft", "Soft", "HARD", "hArD"])
def test_decoder_type_is_case_insensitive(cls, spelling):
    assert cls(n=N, decoder_type=spelling).decoder_type == spelling.lower()


@pytest.mark.parametrize(
    ("cls", "name", "spelling"),
    [
        (SPEX, "decoder", "Hard"),
        (SPEX, "refit", "LS"),
        (ProxySPEX, "tuning", "None"),
        (ProxySPEX, "linear_terms", "All"),
        (ProxySPEX, "proxy", "LightGBM"),
        (HybridSPEX, "tuning", "FAST"),
        (HybridSPEX, "proxy", "Extra_Trees"),
    ],
)
def test_our_string_options_are_case_insensitive(cls, name, spelling):
    approx = cls(N, **{name: spelling})
    assert getattr(approx, name) == spelling.lower()
    assert approx == cls(N, **{name: spelling.lower()})


# ----------------------------------------------------------------------------- results
@pytest.mark.parametrize("cls", ALL, ids=_ids)
@pytest.mark.parametrize(
    ("index", "max_order", "top_order"), [("k-SII", 2, False), ("SII", 2, True)]
)
def test_interaction_values_fields(cls, index, max_order, top_order):
    """The fields shapiq's plots and benchmark runner read."""
    _, iv, game = _run(cls, index=index, max_order=max_order, top_order=top_order)
    assert iv.index == index
    assert iv.max_order == max_order
    assert iv.min_order == (max_order if top_order else 0)
    assert iv.n_players == 10
    assert isinstance(iv.estimation_budget, int)
    assert 0 < iv.estimation_budget <= BUDGETS[cls]
    assert iv.estimated is True
    if cls in OURS:  # the value of the empty coalition (shapiq's decision tree is less accurate)
        empty = float(game(np.zeros((1, 10), bool))[0])
        assert iv.baseline_value == pytest.approx(empty, abs=1e-2)
    if index == "k-SII":  # k-SII's () term is the baseline (shapiq's runner and plots read it)
        assert iv.baseline_value == pytest.approx(iv[()])
    assert all(len(key) <= max_order for key in iv.interaction_lookup)


@pytest.mark.parametrize("cls", ALL, ids=_ids)
def test_repr_names_the_configuration(cls):
    text = repr(_make(cls, n=N, max_order=3, random_state=7))
    assert text.startswith(f"{cls.__name__}(")
    for part in (f"n={N}", "max_order=3", "index=k-SII", "top_order=False", "random_state=7"):
        assert part in text
    assert str(_make(cls, n=N)) == repr(_make(cls, n=N))


def test_our_repr_shows_non_default_options():
    assert "decoder='hard'" in repr(SPEX(N, decoder_type="hard"))
    assert "decoder" not in repr(SPEX(N))
    assert "pairing=True" in repr(ProxySPEX(N, pairing_trick=True))


@pytest.mark.parametrize("cls", ALL, ids=_ids)
@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_copy_is_equal_with_the_same_hash(cls, how):
    approx = _make(cls, n=N, max_order=3, random_state=5)
    other = how(approx)
    assert other is not approx
    assert other == approx
    assert hash(other) == hash(approx)


@pytest.mark.parametrize("cls", ALL, ids=_ids)
def test_equality_and_hash_follow_the_configuration(cls):
    one = _make(cls, n=N, random_state=1)
    assert one == _make(cls, n=N, random_state=1)
    assert hash(one) == hash(_make(cls, n=N, random_state=1))
    assert one != _make(cls, n=N, random_state=2)
    assert one != _make(cls, n=N, max_order=3, random_state=1)
    assert one != _make(cls, n=N + 1, random_state=1)
    assert one != _make(cls, n=N, index="SII", random_state=1)
    assert len({one, _make(cls, n=N, random_state=1)}) == 1
    with pytest.raises(TypeError):  # shapiq's rule: an approximator only compares to one
        _ = one == "SPEX"


def test_our_equality_sees_every_option_and_the_class():
    assert SPEX(N, decoder="hard") != SPEX(N)
    assert SPEX(N, max_memory=2**20) != SPEX(N)
    assert ProxySPEX(N, tuning="none") != ProxySPEX(N)
    assert SPEX(N) != HybridSPEX(N)
    assert SPEX(N) != shapiq.SPEX(n=N)  # same shapiq fields, different class


@pytest.mark.parametrize("cls", ALL, ids=_ids)
def test_set_random_state_as_shapiq_explainers_call_it(cls):
    approx = _make(cls, n=N)
    approx.set_random_state(11)
    assert approx == _make(cls, n=N, random_state=11)


# ----------------------------------------------------------------------------- first-order
@pytest.mark.parametrize("cls", OURS, ids=_ids)
@pytest.mark.parametrize(("index", "max_order"), [("SV", 2), ("BV", 3), ("SV", None)])
def test_first_order_indices_take_shapiqs_default_max_order(cls, index, max_order):
    """shapiq's constructors default to max_order=2 and accept it with SV and BV."""
    n = 8
    game = SparseMoebiusGame(n, 6, 3, random_state=4)
    first = _make(cls, n=n, index=index, random_state=0)
    kwargs = {} if max_order == 2 else {"max_order": max_order}
    approx = _make(cls, n=n, index=index, random_state=0, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = approx.approximate(2**n, game)
        ref = _make(cls, n=n, index=index, max_order=1, random_state=0).approximate(2**n, game)
    exact = shapiq.ExactComputer(game, n_players=n)(index, 1)
    assert first.max_order == 1
    assert iv.max_order == 1
    assert max(len(k) for k in iv.interactions) == 1
    for i in range(n):
        assert iv[(i,)] == pytest.approx(exact[(i,)], abs=1e-10)
        assert iv[(i,)] == ref[(i,)]
    with pytest.raises(InvalidParameterError, match="max_order"):
        cls(n=n, index=index, max_order=0)
    with pytest.raises(InvalidParameterError, match="max_order"):
        cls(n=n, index=index, max_order=n + 1)


@pytest.mark.parametrize("cls", OURS, ids=_ids)
def test_exact_path_is_not_estimated(cls):
    """As shapiq's ExactComputer: the values of the full table are not an estimate."""
    _, exact, _ = _run(cls, n=6, budget=2**6)
    _, sampled, _ = _run(cls, n=10)
    assert exact.estimated is False
    assert sampled.estimated is True
