"""Route shapiq's approximator strings (``"spex"``, ``"proxyspex"``) to shapiq-spex.

shapiq's explainers turn an approximator *string* into a class through the module-level dict
``shapiq.explainer.configuration.APPROXIMATOR_CONFIGURATIONS`` (``{name: {index: class}}``), read
at call time by ``setup_approximator``. shapiq has no plugin hook; this module edits that dict.

.. warning::
    :func:`register` (and therefore ``import shapiq_spex``, which installs
    :func:`install_import_hook`) **changes what the strings mean for the whole process**: after it,
    ``shapiq.TabularExplainer(..., approximator="spex")``, ``AgnosticExplainer(...,
    approximator="proxyspex")`` and every other user of those strings in the process (other
    libraries included) get shapiq-spex's :class:`~shapiq_spex.SPEX` /
    :class:`~shapiq_spex.ProxySPEX` instead of shapiq's built-ins. ``"auto"`` is not changed.
    Opt out with the environment variable ``SHAPIQ_SPEX_NO_REGISTER=1`` (set before
    ``import shapiq_spex``), with :func:`unregister` (restores shapiq's own entries exactly), or
    with ``register(replace_builtins=False)`` (leaves ``"spex"``/``"proxyspex"`` to shapiq).

Names registered (each for every index of the class's ``valid_indices``: SII, k-SII, STII, FSII,
FBII, SV, BV, BII, Moebius, Fourier):

========================  ==========================================  ====================
name                      class                                        when
========================  ==========================================  ====================
``"spex"``                :class:`~shapiq_spex.SPEX`                   ``replace_builtins``
``"proxyspex"``           :class:`~shapiq_spex.ProxySPEX`              ``replace_builtins``
``"hybridspex"``          :class:`~shapiq_spex.HybridSPEX`             always
``"spex_plugin"``         :class:`~shapiq_spex.SPEX`                   always
``"proxyspex_plugin"``    :class:`~shapiq_spex.ProxySPEX`              always
========================  ==========================================  ====================

An index a class does not support (``"kADD-SHAP"``, ``"CHII"``) raises ``KeyError`` in shapiq, as
for shapiq's own entries.

How ``import shapiq_spex`` does the routing without importing shapiq (importing shapiq costs
seconds, and the query engine's worker processes must not pay it): :func:`install_import_hook`
registers at once when ``shapiq.explainer.configuration`` is already imported; otherwise it puts
a small finder on ``sys.meta_path`` that wraps the loader of that one module, calls
:func:`register` right after the module has executed, and removes itself. The classes are not
imported at that moment (shapiq's own package is still half-initialized then, and so may be ours
when ``from shapiq_spex import SPEX`` is what pulled shapiq in): each name maps to a small
``dict`` subclass that imports its class on first lookup, so what shapiq reads is always the real
class.
"""

from __future__ import annotations

import copy
import importlib
import os
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Literal

__all__ = [
    "ENV_DISABLE",
    "INDICES",
    "ROUTES",
    "hook_installed",
    "install_import_hook",
    "is_registered",
    "register",
    "registered_names",
    "uninstall_import_hook",
    "unregister",
]

#: Environment variable that, set to anything but ``""``, ``"0"``, ``"false"`` or ``"no"``,
#: stops :func:`install_import_hook` (and so ``import shapiq_spex``) from routing.
ENV_DISABLE = "SHAPIQ_SPEX_NO_REGISTER"

#: Approximator name -> ``"module:Class"`` of the class it routes to.
ROUTES: dict[str, str] = {
    "spex": "shapiq_spex.approximators.spex:SPEX",
    "proxyspex": "shapiq_spex.approximators.proxyspex:ProxySPEX",
    "hybridspex": "shapiq_spex.approximators.hybrid:HybridSPEX",
    "spex_plugin": "shapiq_spex.approximators.spex:SPEX",
    "proxyspex_plugin": "shapiq_spex.approximators.proxyspex:ProxySPEX",
}
_BUILTIN_NAMES = ("spex", "proxyspex")

#: Indices every route serves: the approximators' ``valid_indices`` (``SUPPORTED_INDICES``),
#: spelled out here so that registering imports nothing (a test checks they agree).
INDICES: tuple[str, ...] = (
    "SII",
    "k-SII",
    "STII",
    "FSII",
    "FBII",
    "SV",
    "BV",
    "BII",
    "Moebius",
    "Fourier",
)

_CONFIG_MODULE = "shapiq.explainer.configuration"
_MARKER = "_shapiq_spex_import_hook"  # on our finder instances (survives a reload of this module)

_lock = threading.RLock()
# The dict we edited and, per name we touched, what shapiq had there: (present, the original
# inner dict object, a deep copy of its contents).
_saved: dict[str, Any] = {"configs": None, "entries": {}}


# ------------------------------------------------------------------------------ lazy routes
def _import_class(target: str) -> type:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class _Routes(dict):
    """``{index: class}`` for one name; the class is imported on the first read of a value.

    Until then the values are the ``"module:Class"`` string; every way of reading values
    (``[]``, ``get``, ``values``, ``items``, iteration, copies, ``repr``) resolves first.
    """

    _shapiq_spex_routes = True

    def __init__(self, target: str, indices: tuple[str, ...] = INDICES) -> None:
        super().__init__(dict.fromkeys(indices, target))
        self.target = target
        self.resolved: type | None = None

    def resolve(self) -> type:
        """Import the class (once) and store it as every value; return it."""
        if self.resolved is None:
            with _lock:
                if self.resolved is None:
                    cls = _import_class(self.target)
                    for key in list(dict.keys(self)):
                        dict.__setitem__(self, key, cls)
                    self.resolved = cls
        return self.resolved

    def __getitem__(self, key):
        self.resolve()
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        """``dict.get`` after resolving."""
        self.resolve()
        return dict.get(self, key, default)

    def values(self):
        """``dict.values`` after resolving."""
        self.resolve()
        return dict.values(self)

    def items(self):
        """``dict.items`` after resolving."""
        self.resolve()
        return dict.items(self)

    def __iter__(self):
        # overriding __iter__ also stops dict(self) / {**self} from copying the raw strings
        self.resolve()
        return dict.__iter__(self)

    def copy(self) -> dict:
        """A plain ``dict`` copy with the resolved class."""
        self.resolve()
        return dict(dict.items(self))

    def __reduce_ex__(self, protocol):
        self.resolve()
        return super().__reduce_ex__(protocol)

    def __eq__(self, other) -> bool:
        self.resolve()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self.resolved is None:
            return f"{{{', '.join(repr(k) for k in dict.keys(self))}: {self.target} (lazy)}}"
        return dict.__repr__(self)


def _is_ours(entry: object) -> bool:
    return getattr(entry, "_shapiq_spex_routes", False) is True


# ------------------------------------------------------------------------------ register
def _configurations(module=None) -> dict:
    if module is None:
        module = importlib.import_module(_CONFIG_MODULE)
    return module.APPROXIMATOR_CONFIGURATIONS


def _restore_locked(configs: dict) -> None:
    for name, (present, original, contents) in _saved["entries"].items():
        if present:
            if original != contents:  # someone edited shapiq's dict meanwhile: undo that too
                original.clear()
                original.update(contents)
            configs[name] = original
        elif _is_ours(configs.get(name)):
            del configs[name]
    _saved["entries"] = {}
    _saved["configs"] = None


def _register_into(configs: dict, replace_builtins: bool) -> tuple[str, ...]:
    with _lock:
        if _saved["configs"] is not None and _saved["configs"] is not configs:
            _saved["entries"] = {}  # shapiq was reloaded: its new dict is shapiq's own again
        elif _saved["configs"] is configs:
            _restore_locked(configs)  # start from shapiq's own entries (replace_builtins may flip)
        names = [n for n in ROUTES if replace_builtins or n not in _BUILTIN_NAMES]
        entries = {}
        for name in names:
            original = configs.get(name)
            present = name in configs and not _is_ours(original)
            contents = copy.deepcopy(dict(original)) if present else None
            entries[name] = (present, original if present else None, contents)
        for name in names:
            configs[name] = _Routes(ROUTES[name])
        _saved["entries"] = entries
        _saved["configs"] = configs
        return tuple(names)


def register(*, replace_builtins: bool = True) -> tuple[str, ...]:
    """Route shapiq's approximator strings to shapiq-spex (imports shapiq).

    Idempotent; a second call with another ``replace_builtins`` switches between the two states.
    shapiq's own entries are kept (the original objects plus a deep copy of their contents) so that
    :func:`unregister` restores them exactly.

    Args:
        replace_builtins: also route ``"spex"`` and ``"proxyspex"`` (default). With ``False`` only
            the new names ``"hybridspex"``, ``"spex_plugin"`` and ``"proxyspex_plugin"`` are
            added and shapiq's ``"spex"``/``"proxyspex"`` stay shapiq's.

    Returns:
        The names now routed to shapiq-spex.

    Raises:
        InvalidParameterError: ``replace_builtins`` is not a bool.
    """
    if not isinstance(replace_builtins, bool):
        from shapiq_spex.exceptions import InvalidParameterError

        msg = f"The 'replace_builtins' parameter must be a bool. Got {replace_builtins!r}."
        raise InvalidParameterError(msg)
    # import before taking the lock: the import machinery holds module locks of its own
    configs = _configurations()
    return _register_into(configs, replace_builtins)


def unregister() -> bool:
    """Restore shapiq's own entries exactly and remove the new names; also drop a pending hook.

    Idempotent. Does not import shapiq if it has not been imported.

    Returns:
        ``True`` if something was restored, ``False`` if nothing was registered.
    """
    uninstall_import_hook()
    module = sys.modules.get(_CONFIG_MODULE)
    with _lock:
        configs = _saved["configs"]
        if configs is None:
            return False
        if module is None or _configurations(module) is not configs:
            _saved["entries"] = {}  # the dict we edited is gone (module removed or reloaded)
            _saved["configs"] = None
            return False
        _restore_locked(configs)
        return True


def registered_names() -> tuple[str, ...]:
    """Names in shapiq's configuration that currently route to shapiq-spex (no shapiq import)."""
    module = sys.modules.get(_CONFIG_MODULE)
    configs = getattr(module, "APPROXIMATOR_CONFIGURATIONS", None)
    if not isinstance(configs, dict):
        return ()
    return tuple(name for name in ROUTES if _is_ours(configs.get(name)))


def is_registered() -> bool:
    """Whether shapiq-spex's names are in shapiq's configuration now (no shapiq import)."""
    return "hybridspex" in registered_names()


# ------------------------------------------------------------------------------ import hook
def _disabled() -> bool:
    value = os.environ.get(ENV_DISABLE, "").strip().lower()
    return value not in ("", "0", "false", "no")


class _RegisteringLoader:
    """Wraps the real loader of ``shapiq.explainer.configuration``; registers after it ran.

    (Duck-typed rather than an ``importlib.abc.Loader`` subclass: ``importlib.abc`` alone would
    double what ``import shapiq_spex`` costs.)
    """

    def __init__(self, loader, finder: _ShapiqImportHook) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        """Delegate to the real loader."""
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        """Run the module with its real loader in place, then register and unhook."""
        module.__loader__ = self._loader  # leave no trace of the wrapper on the module
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _on_configuration_imported(module, self._finder)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class _ShapiqImportHook:
    """A ``sys.meta_path`` finder that only ever wraps ``shapiq.explainer.configuration``."""

    _shapiq_spex_import_hook = True

    def __init__(self) -> None:
        self._busy = threading.local()

    def find_spec(self, fullname, path, target=None):
        """Find the module with the other finders and wrap its loader."""
        if fullname != _CONFIG_MODULE or getattr(self._busy, "active", False):
            return None
        self._busy.active = True
        try:
            spec = None
            for finder in list(sys.meta_path):
                if finder is self or getattr(finder, _MARKER, False):
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.active = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _RegisteringLoader(spec.loader, self)
        return spec


def _remove_finders() -> bool:
    removed = False
    with _lock:
        for finder in list(sys.meta_path):
            if getattr(finder, _MARKER, False):
                sys.meta_path.remove(finder)
                removed = True
    return removed


def _on_configuration_imported(module, finder: _ShapiqImportHook) -> None:
    with _lock:
        if finder not in sys.meta_path:  # uninstalled (or unregistered) meanwhile
            return
        _remove_finders()
        if _disabled():
            return
        try:
            _register_into(_configurations(module), replace_builtins=True)
        except Exception as error:  # never break `import shapiq`
            warnings.warn(
                f"shapiq-spex could not route shapiq's 'spex'/'proxyspex' strings ({error!r}); "
                "pass shapiq_spex.SPEX(...) instances to the explainers instead.",
                RuntimeWarning,
                stacklevel=2,
            )


def hook_installed() -> bool:
    """Whether the import hook is waiting on ``sys.meta_path`` for shapiq to be imported."""
    return any(getattr(finder, _MARKER, False) for finder in sys.meta_path)


def uninstall_import_hook() -> bool:
    """Remove a pending import hook (a registration already made stays). Returns if one was."""
    return _remove_finders()


def install_import_hook() -> Literal["registered", "hooked", "disabled"]:
    """Route shapiq's strings as soon as shapiq's configuration exists, without importing shapiq.

    Called by ``import shapiq_spex``. If ``shapiq.explainer.configuration`` is already imported,
    registers at once; otherwise installs (once) a ``sys.meta_path`` finder that registers right
    after that module has been imported and then removes itself. Safe to call repeatedly and from
    several threads: there is at most one finder and registering is idempotent.

    Returns:
        ``"disabled"`` when ``SHAPIQ_SPEX_NO_REGISTER`` is set (nothing is done), ``"registered"``
        when the names were registered now (or already were), ``"hooked"`` when registration waits
        for shapiq's import.
    """
    if _disabled():
        return "disabled"
    module = sys.modules.get(_CONFIG_MODULE)
    with _lock:
        if module is not None and hasattr(module, "APPROXIMATOR_CONFIGURATIONS"):
            _remove_finders()
            configs = _configurations(module)
            if not (_saved["configs"] is configs and is_registered()):
                _register_into(configs, replace_builtins=True)
            return "registered"
        if not hook_installed():
            sys.meta_path.insert(0, _ShapiqImportHook())
        return "hooked"
