from __future__ import annotations

import subprocess
import sys

import pytest

import shapiq_spex


@pytest.mark.parametrize("name", shapiq_spex.__all__)
def test_every_public_name_resolves(name):
    assert getattr(shapiq_spex, name) is not None


def test_every_error_and_warning_is_exported():
    """A user catches what the package raises or warns without knowing its module."""
    import inspect

    from shapiq_spex import exceptions

    public = {
        name
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj)
        and issubclass(obj, Warning | Exception)
        and obj.__module__ == exceptions.__name__
    }
    assert public <= set(shapiq_spex.__all__)
    for name in public:
        assert getattr(shapiq_spex, name) is getattr(exceptions, name)


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="no attribute"):
        _ = shapiq_spex.DoesNotExist


def test_import_is_lazy():
    """`import shapiq_spex` must not import shapiq (engine workers rely on that)."""
    code = "import sys, shapiq_spex; print('shapiq' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_approximators_accept_shapiq_constructor_keywords():
    """shapiq's explainers and benchmark runner pass only n, max_order, index, random_state."""
    for name in ("SPEX", "ProxySPEX", "HybridSPEX"):
        cls = getattr(shapiq_spex, name)
        approx = cls(n=12, max_order=2, index="k-SII", random_state=0)
        assert approx.n == 12
        assert approx.max_order == 2
        assert "k-SII" in cls.valid_indices
