"""Operational defaults of the built-in workload types: resource requests and probes.

Every container of every pod Composer renders (built-in and platform types) gets requests
(DEFAULT_REQUESTS, documented in composer/catalog/builtin/workloads.yaml) where none are set,
and a warning when it has no limits. A webservice with a port gets TCP readiness and liveness probes on its first port
unless the app gave its own.
"""

from __future__ import annotations

DEFAULT_REQUESTS = {"cpu": "100m", "memory": "128Mi"}


def default_requests(pod_spec: dict) -> list[str]:
    """Fill in missing requests; returns the names of the containers without limits."""
    unlimited = []
    for container in pod_spec.get("containers") or []:
        resources = container.setdefault("resources", {})
        requests = resources.setdefault("requests", {})
        for key, value in DEFAULT_REQUESTS.items():
            requests.setdefault(key, value)
        if not resources.get("limits"):
            unlimited.append(container.get("name", ""))
    return unlimited


def default_probes(container: dict) -> None:
    """TCP readiness and liveness probes on the container's first TCP port, where none are set."""
    ports = [p["containerPort"] for p in container.get("ports") or [] if p.get("protocol", "TCP") == "TCP"]
    if not ports:
        return
    container.setdefault("readinessProbe", {"tcpSocket": {"port": ports[0]}, "periodSeconds": 10})
    container.setdefault(
        "livenessProbe", {"tcpSocket": {"port": ports[0]}, "initialDelaySeconds": 10, "periodSeconds": 20}
    )
