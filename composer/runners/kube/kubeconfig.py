"""Reading the kubeconfig: its path (KUBECONFIG or ~/.kube/config), its contexts and the
current one (kubectl's rule across several files), and the namespace of an in-cluster pod."""

from __future__ import annotations

import os

from composer.diagnostics import Diagnostic, DiagnosticError


def kubeconfig_path() -> str:
    """KUBECONFIG (a path list) if set, else ~/.kube/config; read at call time."""
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def kubeconfig_exists(path: str) -> bool:
    return any(os.path.exists(os.path.expanduser(p)) for p in path.split(os.pathsep) if p)


def kubeconfig_contexts(path: str) -> tuple[dict[str, dict], str | None]:
    from composer.runners.kube.official import defer_initialisers

    defer_initialisers()  # the kubeconfig loader without the client's ~900 API and model modules
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        contexts, current = config.list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise DiagnosticError(
            [Diagnostic(f"cannot read the kubeconfig at {path}", f"{exc}. Set KUBECONFIG to a valid kubeconfig file.")]
        ) from None
    current_name = (current or {}).get("name")
    paths = [os.path.expanduser(p) for p in path.split(os.pathsep) if p]
    if len(paths) > 1:  # like kubectl: the first file that sets current-context wins
        import yaml

        for p in paths:
            try:
                with open(p, encoding="utf-8") as f:
                    doc = yaml.safe_load(f) or {}
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(doc, dict) and doc.get("current-context"):
                current_name = doc["current-context"]
                break
    return {c["name"]: c for c in contexts or []}, current_name


def incluster_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"
