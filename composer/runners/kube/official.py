"""The official `kubernetes` client, loaded by the parts a command uses.

`import kubernetes` runs the package initialisers, which import every API class and every
model of the API (about 900 modules; 0.4 s on a quiet machine, a sixth of an `appc apply`
of 1,000 objects, and more than a no-op's budget). The cluster sink uses four parts: the
kubeconfig loader, `Configuration`, `ApiClient` and its REST client.

`defer_initialisers()` registers the packages `kubernetes`, `kubernetes.client`,
`kubernetes.client.api` and `kubernetes.client.models` with their initialisers deferred. A
name an initialiser binds with one of its own `from X import Name` lines (`client.ApiClient`,
`client.CoreV1Api`, `models.V1Pod`, `kubernetes.watch`) imports just the module that defines
it, on first use; so does a submodule's name. A literal it assigns (`__version__`) is bound at
once. Any other name (`__all__`, a star import) runs the whole initialiser then, as a plain
import would have. So code that uses the client the usual way
(`from kubernetes import client; client.CoreV1Api(api)`) works unchanged, in this process or
later in it; nothing of the client is replaced, its modules run as shipped.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
import threading
from typing import Any

DEFERRED = ("kubernetes", "kubernetes.client", "kubernetes.client.api", "kubernetes.client.models")
_BINDING = re.compile(r"^from (\.|[\w.]+) import (\w+)[ \t]*(?:#.*)?$", re.MULTILINE)
_CONSTANT = re.compile(r"^(\w+) = (.+)$", re.MULTILINE)
_LOCK = threading.RLock()


def defer_initialisers() -> None:
    """Register the client's packages with deferred initialisers, unless `kubernetes` is
    imported already (then everything is loaded, and nothing is left to save); then import the
    kubeconfig loader (`kubernetes.config`) with its auth libraries deferred (deferred_imports.py)."""
    from composer.runners.kube.deferred_imports import import_deferring

    with _LOCK:
        if "kubernetes" not in sys.modules:
            for package in DEFERRED:
                if not _defer(package):
                    break
        import_deferring("kubernetes.config")


def _bindings(package: str, source: str) -> dict[str, tuple[str, str | None]]:
    """name -> (module, attribute), from the initialiser's own import lines; attribute None:
    the name is the submodule itself (`from . import client`)."""
    out: dict[str, tuple[str, str | None]] = {}
    for origin, name in _BINDING.findall(source):
        if origin == "__future__":
            continue
        out[name] = (f"{package}.{name}", None) if origin == "." else (origin, name)
    return out


def _constants(source: str) -> dict[str, Any]:
    """The initialiser's literal assignments (`__version__ = "36.0.3"`): bound at once, as the
    initialiser binds them before its imports (`kubernetes.dynamic` reads `__version__` while
    it is imported)."""
    out = {}
    for name, text in _CONSTANT.findall(source):
        try:
            out[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            continue
    return out


def _defer(package: str) -> bool:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None or spec.loader is None or spec.submodule_search_locations is None:
        return False  # not a plain package on disk: leave it to the ordinary import
    try:
        with open(spec.origin, encoding="utf-8") as f:
            source = f.read()
    except OSError:
        return False
    bindings = _bindings(package, source)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(_constants(source))
    loader = spec.loader
    ran: list[bool] = []

    def __getattr__(name: str) -> Any:  # PEP 562: only for names not bound yet
        target = bindings.get(name)
        if target is not None:
            origin, attribute = target
            value = importlib.import_module(origin)
            return value if attribute is None else getattr(value, attribute)
        if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")  # a submodule (`from kubernetes.client import rest`)
        with _LOCK:
            if not ran:
                ran.append(True)
                loader.exec_module(module)  # the initialiser itself, as `import` runs it
                if name in module.__dict__:
                    return module.__dict__[name]
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[package] = module
    parent, _, child = package.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return True
