"""The kubeconfig loader without the auth libraries it imports at its top, until it uses them
(and the client's API layer without what only its typed models use).

`kubernetes.config.kube_config` imports google-auth (for the `gcp` auth provider),
requests-oauthlib and oauthlib (to refresh an `oidc` provider's token) when it is imported, and
the client's REST layer imports `requests` (for a proxy's no_proxy list): about 60 ms, a tenth
of a no-op `appc apply`, which a kubeconfig with a token, client certificates or an exec plugin
and no proxy never uses (issue 13).

`import_deferring(package)` imports the loader's package with a stand-in in `sys.modules` for
each of those modules that is installed and not imported yet; the loader's own import lines
bind the stand-ins, and the stand-ins leave `sys.modules` before the call returns, so any later
import anywhere gets the real library. The first use of a stand-in (an attribute of it, or
calling `OAuth2Session`) imports every deferred library, as the loader's import lines would
have, and hands out the real attribute: the loader's gcp and oidc code runs as shipped,
against the real libraries. Names are bound, not code changed: the loader's module is the
shipped one. `kubernetes/client/api_client.py` is treated the same way for `dateutil.parser`
and `multiprocessing.pool` (~8 ms), which only its typed models and `async_req` call.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import types
from typing import Any

# What kubernetes/config/kube_config.py imports at its top for the gcp and oidc providers, and
# kubernetes/client/rest.py for a proxy's no_proxy list (`requests`, 20 ms of the 60); then what
# kubernetes/client/api_client.py imports for the typed API only (dates in models, `async_req`).
# A module imported with `import X.Y` is reached through its parent package, which gets the
# stand-in as an attribute (a stand-in parent carries its children's: `google.auth.transport`);
# one imported with `from X import NAME` binds NAME, a deferred callable. A group is deferred
# whole or not at all, and loaded whole on the first use of any of its stand-ins.
GROUPS: tuple[dict[str, tuple[str, ...]], ...] = (
    {
        "google.auth": (),
        "google.auth.transport": (),
        "google.auth.transport.requests": (),
        "oauthlib.oauth2": (),
        "requests_oauthlib": ("OAuth2Session",),
        "requests.utils": ("should_bypass_proxies",),
    },
    {"dateutil.parser": ("parse",), "multiprocessing.pool": ("ThreadPool",)},
)
_LOCK = threading.RLock()


def _group_of(name: str) -> dict[str, tuple[str, ...]]:
    return next(g for g in GROUPS if name in g)


def _load_all(group: dict[str, tuple[str, ...]]) -> None:
    """The group's real modules, all of them, as the client's import lines would have."""
    with _LOCK:
        for name in group:
            if isinstance(sys.modules.get(name), _Deferred):  # asked while the loader is imported
                del sys.modules[name]
            importlib.import_module(name)


class _Deferred(types.ModuleType):
    """A module that is not imported yet: its first attribute use imports it (and the other
    deferred libraries) and answers from the real module."""

    def __getattr__(self, attribute: str) -> Any:  # only for names not in the stand-in itself
        if attribute.startswith("__"):  # the import system's questions (`__path__`): a plain module
            raise AttributeError(attribute)
        _load_all(_group_of(self.__name__))
        real = importlib.import_module(self.__name__)
        try:
            return getattr(real, attribute)
        except AttributeError:
            pass
        try:
            return importlib.import_module(f"{self.__name__}.{attribute}")  # a submodule not imported yet
        except ImportError:
            raise AttributeError(attribute) from None  # what hasattr() and getattr(x, n, default) expect


class _DeferredCallable:
    """A class or function bound by `from X import NAME`: called, it is the real one."""

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _load_all(_group_of(self._module))
        return getattr(importlib.import_module(self._module), self._name)(*args, **kwargs)


def _installed(name: str) -> bool:
    """Whether the library is there to import, judged without importing it: its top package
    is found and the module's file exists below it."""
    top, _, rest = name.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if not rest:
        return True
    for location in spec.submodule_search_locations or ():
        base = os.path.join(location, *rest.split("."))
        if os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py")):
            return True
    return False


def _stand_ins() -> dict[str, _Deferred]:
    """A stand-in per module of each group that is installed and of which nothing is imported
    yet; none for a group with a module missing or loaded (then the client's own imports decide,
    as shipped)."""
    out: dict[str, _Deferred] = {}
    for group in GROUPS:
        if not any(name in sys.modules for name in group) and all(_installed(n) for n in group):
            out.update(_group_stand_ins(group))
    return out


def _group_stand_ins(group: dict[str, tuple[str, ...]]) -> dict[str, _Deferred]:
    out: dict[str, _Deferred] = {}
    for name, callables in group.items():
        module = out[name] = _Deferred(name)
        for attribute in callables:
            setattr(module, attribute, _DeferredCallable(name, attribute))
        parent, _, child = name.rpartition(".")
        if parent in out:
            setattr(out[parent], child, module)
    return out


def import_deferring(package: str) -> types.ModuleType:
    """Import `package` (the kubeconfig loader's) with the auth libraries deferred."""
    with _LOCK:
        if package in sys.modules:
            return sys.modules[package]
        stand_ins = _stand_ins()
        try:
            for name, module in stand_ins.items():
                sys.modules[name] = module
                parent, _, child = name.rpartition(".")
                if parent and parent not in stand_ins and not _group_of(name)[name]:
                    # A real package (`google`, `oauthlib`): the loader reaches the stand-in through it.
                    # It stays its attribute until the real import replaces it.
                    setattr(importlib.import_module(parent), child, module)
            return importlib.import_module(package)
        finally:
            for name, module in stand_ins.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
