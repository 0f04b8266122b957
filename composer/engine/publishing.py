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

from typing import Iterable, Protocol

from composer.diagnostics import Diagnostic
from composer.plugins import PluginRegistry, PreflightRequest
from composer.render.terraform import provider_plugin
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
        return provider_plugin(resolved, c)
    cloud = resolved.environment.spec.cloud
    return cloud.provider if cloud else None


def needs_publishing(c: ResolvedComponent) -> bool:
    """A Terraform unit without a store entry of its own (when its sink reads the store)."""
    if not c.is_terraform:
        return False
    tf = c.implementation.implementation.terraform
    return not (tf is not None and tf.secrets == "store")


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
