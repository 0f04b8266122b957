"""The sink registry: which runner delivers an environment's workloads and connection Secrets.

An environment names its delivery with `kubernetes` (docs/environments.md): a cluster
(`context`, `targets`) is "cluster"; a directory is its `format` ("kustomize" for GitOps,
"plain" for plain manifests). Each name maps to a runner module that exposes

    def sinks_for(request: SinkRequest) -> tuple[WorkloadSink, ...]

so a new output sink is one new module plus one line in `SINKS` (and, for a new directory
format, its name in the environment's `DirectoryFormat`; tests/test_sinks.py checks the
two agree). Modules are imported only when chosen: a GitOps run never loads the Kubernetes
client.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from composer.runners.kube.targets import DeliveryOptions

if TYPE_CHECKING:
    from composer.engine.ports import WorkloadSink
    from composer.resolve import Resolved

SINKS: dict[str, str] = {
    "cluster": "composer.runners.kubernetes",
    "kustomize": "composer.runners.directory",
    "plain": "composer.runners.manifests",
}


@dataclass(frozen=True)
class SinkRequest:
    """What a sink module builds its sinks from."""

    resolved: Resolved
    directory: Path | None  # kubernetes.directory, vetted (inside the project unless allowed)
    options: DeliveryOptions


class SinkModule(Protocol):
    def sinks_for(self, request: SinkRequest) -> tuple[WorkloadSink, ...]: ...


def sink_module(delivery: str) -> SinkModule:
    """The registered module for a delivery name."""
    module: SinkModule = importlib.import_module(SINKS[delivery])
    return module


def make_sinks(request: SinkRequest) -> tuple[WorkloadSink, ...]:
    """The sinks the environment's `kubernetes` setting chooses."""
    return sink_module(request.resolved.environment.spec.kubernetes.delivery).sinks_for(request)
