"""Everything `appc controller manifests` prints to install the controller: the CRDs, a
namespace, a ServiceAccount, least-privilege RBAC, the Deployment (probes, requests, the
restricted Pod Security profile), a PodDisruptionBudget and a metrics Service.

RBAC covers what Composer's built-in types render. A platform whose definitions render other
kinds adds a ClusterRole labelled `composer.dev/aggregate-to-controller: "true"`; the
controller's role aggregates it (docs/controller.md). Pure: objects in, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from composer.controller import DEFAULT_IMAGE
from composer.controller.crds import GROUP, application_crd, environment_crd

NAME = "appc-controller"
AGGREGATE_LABEL = "composer.dev/aggregate-to-controller"
HEALTH_PORT = 8080
STATE_MOUNT = "/var/lib/appc"  # an emptyDir: one replica, or Environments with S3 state (docs/controller.md)
STATE_DIR = f"{STATE_MOUNT}/state"
SHARDS_PER_REPLICA = 4  # more shards than replicas, so that work rebalances in small steps
_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "composer"}
_RW = ["get", "list", "watch", "create", "update", "patch", "delete"]

# What Composer's built-in types and traits render, by API group (render/, providers/kubernetes).
_DELIVERED = {
    "": ["configmaps", "secrets", "services", "serviceaccounts", "persistentvolumeclaims"],
    "apps": ["deployments", "statefulsets", "daemonsets"],
    "batch": ["jobs", "cronjobs"],
    "networking.k8s.io": ["ingresses", "networkpolicies"],
    "autoscaling": ["horizontalpodautoscalers"],
    "policy": ["poddisruptionbudgets"],
}


@dataclass(frozen=True)
class InstallOptions:
    namespace: str = "composer-system"
    image: str = DEFAULT_IMAGE
    replicas: int = 1
    workers: int = 2


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(_LABELS)}
    if namespace:
        meta["namespace"] = namespace
    return {**meta, **extra}


def _rule(group: str, resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs}


def cluster_roles() -> list[dict[str, Any]]:
    """The aggregated role the controller is bound to, and the part Composer itself needs."""
    own = [
        _rule(GROUP, ["applications", "environments"], ["get", "list", "watch", "patch", "update"]),
        _rule(GROUP, ["applications/status", "environments/status"], ["get", "patch", "update"]),
        _rule(GROUP, ["applications/finalizers"], ["update"]),
        _rule("", ["events"], ["create", "patch"]),
        _rule("events.k8s.io", ["events"], ["create", "patch"]),
        _rule("", ["namespaces"], ["get", "list", "watch", "create"]),
        _rule("", ["pods"], ["get", "list", "watch"]),
        # a short-lived token of an Environment's own ServiceAccount (spec.identity): no god keys
        _rule("", ["serviceaccounts/token"], ["create"]),
        *(_rule(group, resources, _RW) for group, resources in _DELIVERED.items()),
    ]
    selector = {"matchLabels": {AGGREGATE_LABEL: "true"}}
    base = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}
    return [
        {**base, "metadata": _meta(NAME), "aggregationRule": {"clusterRoleSelectors": [selector]}, "rules": []},
        {**base, "metadata": _meta(f"{NAME}-builtin", labels={**_LABELS, AGGREGATE_LABEL: "true"}), "rules": own},
    ]


def _bindings(ns: str) -> list[dict[str, Any]]:
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]
    rbac = "rbac.authorization.k8s.io/v1"
    leases = _rule("coordination.k8s.io", ["leases"], ["get", "list", "watch", "create", "update", "patch"])
    return [
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": _meta(NAME),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": subject,
        },
        {"apiVersion": rbac, "kind": "Role", "metadata": _meta(f"{NAME}-leases", ns), "rules": [leases]},
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": _meta(f"{NAME}-leases", ns),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{NAME}-leases"},
            "subjects": subject,
        },
    ]


def _container(opts: InstallOptions) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 3}
    return {
        "name": "controller",
        "image": opts.image,
        "args": ["controller", "run", "--workers", str(opts.workers), "--health-port", str(HEALTH_PORT)]
        + ["--state-dir", STATE_DIR, "--lease-namespace", "$(POD_NAMESPACE)"]
        + (["--shards", str(SHARDS_PER_REPLICA * opts.replicas)] if opts.replicas > 1 else []),
        "ports": [{"name": "http", "containerPort": HEALTH_PORT}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "XDG_CACHE_HOME", "value": "/tmp/appc-cache"},
        ],
        "livenessProbe": {**probe, "initialDelaySeconds": 10},
        "readinessProbe": probe,
        "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "state", "mountPath": STATE_MOUNT}],
    }


def deployment(opts: InstallOptions) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": NAME}
    pod_security = {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME, opts.namespace),
        "spec": {
            "replicas": opts.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": dict(_LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": pod_security,
                    "containers": [_container(opts)],
                    "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "state", "emptyDir": {}}],
                },
            },
        },
    }


def install_manifests(opts: InstallOptions) -> list[dict[str, Any]]:
    """Every object, in the order `kubectl apply -f -` can create them."""
    ns = opts.namespace
    selector = {"app.kubernetes.io/name": NAME}
    return [
        application_crd(),
        environment_crd(),
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": _meta(ns, labels={**_LABELS, "pod-security.kubernetes.io/enforce": "restricted"}),
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, ns)},
        *cluster_roles(),
        *_bindings(ns),
        deployment(opts),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta(NAME, ns),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(f"{NAME}-metrics", ns),
            "spec": {"selector": selector, "ports": [{"name": "http", "port": HEALTH_PORT, "targetPort": "http"}]},
        },
    ]
