"""Which clusters an environment delivers to: one target per kubeconfig context + namespace
(`kubernetes: {context, namespace}` or `{targets: [...]}`), KUBECONFIG honoured, or the pod's
own service account when appc runs in a cluster without a kubeconfig. An unknown context or
a target listed twice is refused here (exit 1), before anything runs; no server is contacted.

`DeliveryOptions` is the typed part of the run's options a cluster sink reads (the CLI's
`RunOptions` has these fields: --timeout, --no-wait, --force-conflicts, --kube-workers,
--kube-qps, --kube-burst)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.runners.kube.kubeconfig import (
    incluster_namespace,
    kubeconfig_contexts,
    kubeconfig_exists,
    kubeconfig_path,
)

if TYPE_CHECKING:  # the no-op fast path reads targets without the environment model
    from composer.model.environment import Environment


class DeliveryOptions(Protocol):
    timeout: float
    no_wait: bool
    force_conflicts: bool
    kube_workers: int
    kube_qps: float
    kube_burst: int


@dataclass(frozen=True)
class ClusterTarget:
    kubeconfig: str | None  # None: the in-cluster configuration
    context: str | None  # None with kubeconfig None: in-cluster
    namespace: str

    @property
    def name(self) -> str:
        return self.context or "in-cluster"


class TargetSpec(Protocol):
    """A target as the environment writes it (`kubernetes.targets[]`): either part may be left out."""

    @property
    def context(self) -> str | None: ...

    @property
    def namespace(self) -> str | None: ...


def cluster_targets(env: Environment) -> list[ClusterTarget]:
    """The targets of the environment, checked against the kubeconfig."""
    return targets_of(env.name, env.spec.kubernetes.resolved_targets())


def targets_of(env_name: str, targets: Sequence[TargetSpec]) -> list[ClusterTarget]:
    """The targets an environment named `env_name` writes, checked against the kubeconfig (the
    compiled-model cache keeps the written ones: the kubeconfig is read at every run)."""
    if not targets:
        return []
    path = kubeconfig_path()
    if not kubeconfig_exists(path):
        if os.environ.get("KUBERNETES_SERVICE_HOST") and all(t.context is None for t in targets):
            ns = incluster_namespace()
            return [ClusterTarget(None, None, t.namespace or ns) for t in targets]
        raise DiagnosticError(
            [
                Diagnostic(
                    f"no kubeconfig found at {path}",
                    f"environment {env_name} delivers to a cluster ({', '.join(t.context or 'current context' for t in targets)}); set KUBECONFIG to your kubeconfig file, "
                    "or use kubernetes.directory for GitOps output",
                )
            ]
        )
    contexts, current = kubeconfig_contexts(path)
    out: list[ClusterTarget] = []
    for t in targets:
        name = t.context or current
        if name is None or name not in contexts:
            raise DiagnosticError([_unknown_context(env_name, path, name, contexts)])
        ns = t.namespace or (contexts[name].get("context") or {}).get("namespace") or "default"
        if any((o.context, o.namespace) == (name, ns) for o in out):
            raise DiagnosticError([Diagnostic(f"environment {env_name} lists target {name}/{ns} twice")])
        out.append(ClusterTarget(path, name, ns))
    return out


def _unknown_context(env_name: str, path: str, name: str | None, contexts: dict[str, dict]) -> Diagnostic:
    known = ", ".join(sorted(contexts)) or "none"
    summary = (
        f"kubeconfig context {name!r} does not exist"
        if name
        else "no kubeconfig context given and the kubeconfig has no current-context"
    )
    return Diagnostic(
        summary,
        f"environment {env_name} asks for it; the contexts in {path} are: {known}. Fix kubernetes.context in environments/{env_name}.yaml or your KUBECONFIG.",
        address=None,
    )
