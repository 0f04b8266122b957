"""Connection publishing: when a sink needs a resource's connection document in the cloud
secret store, Composer writes it there itself through the provider plugin's `write_secret`.

A GitOps directory holds no secret values: its connection Secrets are ExternalSecrets that
read the cloud secret store. A unit whose module keeps its secrets there already
(`secrets: store`) is read from that entry; any other resource unit (`secrets: outputs`,
with or without secret keys) gets its connection document published under
`<app>-<env>-<component>-conn`, and deleted with the unit.

`publish_problems` says, before anything is applied, what would stop that (validate/plan).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.ports import WorkloadSink
from composer.plugins import PluginRegistry, PreflightRequest
from composer.resolve import Resolved, ResolvedComponent


class SecretPublisher(Protocol):
    """Writes and deletes published connection documents (a provider plugin's secret store)."""

    def write(self, provider: str, name: str, values: dict[str, str]) -> str: ...

    def delete(self, provider: str, name: str) -> bool: ...


def published_name(app: str, env: str, component: str) -> str:
    return f"{app}-{env}-{component}-conn"


def publishing_provider(resolved: Resolved, c: ResolvedComponent | None) -> str | None:
    """The provider whose secret store holds a unit's published document: the one that
    renders its root (a pruned unit, gone from the model: the environment's cloud)."""
    if c is not None:
        return c.provider
    cloud = resolved.environment.spec.cloud
    return cloud.provider if cloud else None


def needs_publishing(c: ResolvedComponent) -> bool:
    """A Terraform unit without a store entry of its own (when its sink reads the store)."""
    if not c.is_terraform:
        return False
    tf = c.implementation.implementation.terraform
    return not (tf is not None and tf.secrets == "store")


def sinks_read_the_store(sinks: Sequence[WorkloadSink]) -> bool:
    """A sink that reads connections from the cloud secret store (a GitOps directory)."""
    return any(s.needs_secret_store for s in sinks)


def publish(
    publisher: SecretPublisher | None,
    resolved: Resolved,
    sinks: Sequence[WorkloadSink],
    name: str,
    text: Mapping[str, str],
) -> str | None:
    """Publish a unit's connection document for a GitOps directory; where it went, or None
    when no sink reads the store (or the unit has a store entry of its own)."""
    c = resolved.component(name)
    if c is None or not sinks_read_the_store(sinks) or not needs_publishing(c):
        return None
    provider = publishing_provider(resolved, c)
    if publisher is None or provider is None:
        raise DiagnosticError(
            [
                Diagnostic(
                    f"the connection of {name} cannot be published: no secret store is wired",
                    "deliver to a cluster, or use an environment with a cloud",
                    address=name,
                )
            ]
        )
    try:
        return publisher.write(provider, published_name(resolved.name, resolved.environment.name, name), dict(text))
    except DiagnosticError as exc:
        raise DiagnosticError([Diagnostic(d.summary, d.detail, address=name) for d in exc.diagnostics]) from None


def unpublish(
    publisher: SecretPublisher | None,
    resolved: Resolved,
    sinks: Sequence[WorkloadSink],
    name: str,
    has_store_entry: bool,
) -> None:
    """A destroyed or pruned unit's published connection document goes with it."""
    if not sinks_read_the_store(sinks) or has_store_entry or publisher is None:
        return
    provider = publishing_provider(resolved, resolved.component(name))
    if provider is not None:
        publisher.delete(provider, published_name(resolved.name, resolved.environment.name, name))


def publish_problems(resolved: Resolved, registry: PluginRegistry) -> list[Diagnostic]:
    """Everything that would stop delivery of connection documents, known before any apply."""
    env = resolved.environment
    kube = env.spec.kubernetes
    if not kube.reads_secret_store:
        return []
    resources = [c for c in resolved.components if c.is_terraform]
    if not resources:
        return []
    out: list[Diagnostic] = []
    if kube.secret_store is None:
        out.append(
            _env_diag(
                resolved,
                ("spec", "kubernetes", "directory"),
                f"environment {env.name} writes manifests to a directory but names no secret store",
                "connection Secrets become ExternalSecrets there; set kubernetes.secretStore: {name: STORE, kind: ClusterSecretStore} to the external-secrets.io store that reads your cloud secret store",
            )
        )
    for c in resources:
        if not needs_publishing(c):
            continue
        provider = publishing_provider(resolved, c)
        plugin = registry.get(provider) if provider else None
        problems = (
            list(plugin.secret_store_problems(PreflightRequest(env)))
            if plugin is not None
            else [Diagnostic("the environment names no cloud whose secret store could hold it", "set cloud.provider")]
        )
        for p in problems:
            out.append(
                resolved.source.diagnostic(
                    c.path + ("type",),
                    f"the connection of {c.name} cannot be published for the GitOps directory: {p.summary}",
                    p.detail,
                    address=c.name,
                )
            )
    return _unique(out)


def _env_diag(resolved: Resolved, path: tuple, summary: str, detail: str) -> Diagnostic:
    if resolved.env_source is not None:
        return resolved.env_source.diagnostic(path, summary, detail)
    return Diagnostic(summary, detail, path=path)


def _unique(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for d in diags:
        if d not in out:
            out.append(d)
    return out
