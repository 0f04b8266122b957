"""A workload being rendered, and the names every rendered object carries.

`Workload` holds a component's objects while its builder (composer/render/kubernetes.py or
composer/render/template_workload.py) and its traits (composer/render/traits.py) work on them:
the main object, its pod template, the env of each container (composer/render/bindings.py).
`standard_labels` are the labels of every object Composer renders, connection Secrets included.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from composer.diagnostics import Diagnostic, FieldPath, Severity
from composer.render.bindings import Bindings, EnvBuilder
from composer.resolve import Resolved, ResolvedComponent

CLUSTER_SCOPED = {
    "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "IngressClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService", "RuntimeClass", "CSIDriver", "ClusterIssuer",
    "ClusterSecretStore",
}  # fmt: skip

POD_OWNERS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")


def label_value(text: str) -> str:
    if len(text) <= 63:
        return text
    return text[:54].rstrip("-.") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]


def standard_labels(app: str, env: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/instance": label_value(f"{app}-{component}"),
        "app.kubernetes.io/part-of": app,
        "app.kubernetes.io/managed-by": "appc",
        "composer.dev/app": app,
        "composer.dev/env": env,
        "composer.dev/component": component,
    }


def selector_labels(app: str, component: str) -> dict[str, str]:
    return {"composer.dev/app": app, "composer.dev/component": component}


def target_namespace(resolved: Resolved) -> str | None:
    k = resolved.environment.spec.kubernetes
    namespaces = {t.namespace for t in k.resolved_targets()} if not k.directory else {k.namespace}
    return namespaces.pop() if len(namespaces) == 1 else None


@dataclass
class Workload:
    """A workload being rendered: its objects and handles on the parts traits change."""

    resolved: Resolved
    bindings: Bindings
    component: ResolvedComponent
    namespace: str | None
    objects: list[dict] = field(default_factory=list)
    main: dict | None = None
    pod_meta: dict | None = None
    pod_spec: dict | None = None
    envs: dict[str, EnvBuilder] = field(default_factory=dict)  # container name -> env
    extra_labels: dict[str, str] = field(default_factory=dict)
    extra_annotations: dict[str, str] = field(default_factory=dict)
    security: dict[str, Any] = field(default_factory=dict)  # the `security` trait's relaxations
    errors: list[Diagnostic] = field(default_factory=list)

    @property
    def app(self) -> str:
        return self.resolved.name

    @property
    def name(self) -> str:
        return self.component.name

    def fail(self, path: FieldPath, summary: str, detail: str = "", severity: Severity = Severity.ERROR) -> None:
        self.errors.append(self.resolved.source.diagnostic(path, summary, detail, address=self.name, severity=severity))

    def metadata(self, name: str | None = None) -> dict:
        meta: dict[str, Any] = {"name": name or self.name}
        if self.namespace:
            meta["namespace"] = self.namespace
        meta["labels"] = standard_labels(self.app, self.resolved.environment.name, self.name)
        return meta

    def add(self, obj: dict) -> dict:
        self.objects.append(obj)
        return obj

    @property
    def pod(self) -> dict:
        """The pod spec, for the code that runs only on a workload with a pod template."""
        if self.pod_spec is None:
            raise ValueError(f"{self.name} has no pod template")  # a bug: callers check first
        return self.pod_spec

    def container(self, name: str | None = None) -> dict | None:
        if self.pod_spec is None:
            return None
        for c in self.pod_spec.get("containers", []):
            if name is None or c.get("name") == name:
                return c
        return None

    def env(self, container: str) -> EnvBuilder:
        return self.envs.setdefault(container, EnvBuilder(self.app, self.bindings, self.name))

    def expand(self, container: str, values: list) -> list[str]:
        """cmd/args entries with references turned into $(VAR), the vars bound on `container`."""
        return [self.env(container).expand(str(v)) for v in values]

    def adopt(self, obj: dict) -> dict:
        """Add an object the component gives as written: the target namespace (unless it names
        one or is cluster-scoped) and the standard labels."""
        meta = obj["metadata"]
        if self.namespace and "namespace" not in meta and obj["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = self.namespace
        meta["labels"] = {
            **(meta.get("labels") or {}),
            **standard_labels(self.app, self.resolved.environment.name, self.name),
        }
        return self.add(obj)
