"""Wiring: build the engine's ports for an environment (state store, workspace, Terraform,
workload sink, secret reader). The only place that knows which runner serves which setting."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.ports import WorkloadSink
from composer.engine.run import Engine
from composer.plugins import (
    BackendResource,
    DeleteSecretRequest,
    PluginRegistry,
    PreflightRequest,
    SecretRequest,
    StatusRequest,
    UnitStatus,
    WriteSecretRequest,
)
from composer.project import Compiled
from composer.runners.kube.client import DEFAULT_BURST, DEFAULT_QPS
from composer.state.protocol import StateStore, StoreOptions


@dataclass
class RunOptions:
    parallelism: int = 4
    refresh: bool = False
    timeout: float = 3600.0
    lock_timeout: float = 0.0
    no_wait: bool = False
    force_conflicts: bool = False
    kube_workers: int = 4  # threads applying one unit's objects to a cluster (--kube-workers)
    kube_qps: float = DEFAULT_QPS  # requests a second to one API server, sustained (--kube-qps)
    kube_burst: int = DEFAULT_BURST  # requests to one API server at once before --kube-qps applies (--kube-burst)
    adopt_owned: bool = False  # import an already existing resource whose tags name its unit (--adopt-owned)


def state_dir(compiled: Compiled) -> Path:
    """The real path of the environment's local state directory (`.composer` by default).
    Outside the project only with --allow-outside-project; a `.composer` that is a link out
    of the project is refused either way (docs/security.md)."""
    from composer.safefs import vetted_directory

    st = compiled.resolved.environment.spec.state
    if not st.path:
        return vetted_directory(compiled.project.workdir, Path(".composer"), "state directory .composer")
    return vetted_directory(
        compiled.project.workdir, Path(st.path), "state.path directory", allow_outside=compiled.allow_outside_project
    )


def gitops_dir(compiled: Compiled) -> Path:
    """The real path of kubernetes.directory, vetted like state_dir."""
    from composer.safefs import vetted_directory

    directory = compiled.resolved.environment.spec.kubernetes.directory
    if directory is None:
        raise DiagnosticError(
            [Diagnostic(f"environment {compiled.resolved.environment.name} has no kubernetes.directory")]
        )
    return vetted_directory(
        compiled.project.workdir, Path(directory), "kubernetes.directory", allow_outside=compiled.allow_outside_project
    )


def open_store(compiled: Compiled, warn: Callable[[str], None]) -> StateStore:
    """Composer state: S3 when the environment's backend is s3, else local beside app.yaml."""
    env = compiled.resolved.environment
    app = compiled.resolved.name
    st = env.spec.state
    options = StoreOptions(on_warning=warn)
    if st.backend == "s3":
        from composer.state.s3 import S3Store

        prefix = f"{st.prefix.rstrip('/')}/" if st.prefix else ""
        region = st.region or (env.spec.cloud.region if env.spec.cloud else None)
        assert st.bucket is not None, "the environment model requires state.bucket for s3"
        return S3Store(
            st.bucket,
            f"{prefix}{app}/{env.name}/composer.state.json",
            app,
            env.name,
            st.lock or "conditional",
            st.table,
            region,
            options,
        )
    from composer.state.local import LocalStore

    return LocalStore(state_dir(compiled), app, env.name, options)


def plan_key(store: StateStore) -> bytes:
    """The key that signs saved plans: COMPOSER_PLAN_KEY when set, else the state's own key."""
    from composer.state.keys import PLAN_KEY_ENV, BadKey, plan_key_from_environment

    try:
        return plan_key_from_environment() or store.signing_key()
    except BadKey as exc:
        raise DiagnosticError([Diagnostic(f"{PLAN_KEY_ENV} is not a usable key", str(exc))]) from None


def make_sinks(compiled: Compiled, options: RunOptions) -> tuple[WorkloadSink, ...]:
    """The sinks the environment's `kubernetes` setting chooses (composer/runners/sinks.py)."""
    from composer.runners.sinks import SinkRequest
    from composer.runners.sinks import make_sinks as registered_sinks

    k = compiled.resolved.environment.spec.kubernetes
    if not (k.context or k.directory or k.targets) and all(c.is_terraform for c in compiled.resolved.components):
        return ()  # cloud only: no workloads and no cluster named, so no connection Secret has a reader
    directory = gitops_dir(compiled) if k.directory else None
    return registered_sinks(SinkRequest(compiled.resolved, directory, options))


def secret_reader(registry: PluginRegistry, compiled: Compiled):
    env = compiled.resolved.environment

    def read(provider: str, secret_id: str):
        plugin = registry.get(provider)
        if plugin is None:
            raise DiagnosticError([Diagnostic(f"no provider plugin {provider!r} to read secret {secret_id}")])
        return plugin.read_secret(SecretRequest(env, secret_id))

    return read


def unit_secret_values(registry: PluginRegistry, compiled: Compiled, name: str, unit: Any) -> dict[str, Any]:
    """`appc outputs --show-secrets`: the secret outputs of one applied Terraform unit, read from
    the secret store its provider published them to (None for a key the store lacks)."""
    if not unit.secret_ref:
        return {}
    c = compiled.resolved.component(name)
    cloud = compiled.resolved.environment.spec.cloud
    provider = c.provider if c else (cloud.provider if cloud else None)
    if not provider:
        return {}
    fetched = secret_reader(registry, compiled)(provider, unit.secret_ref)
    return {k: fetched.get(k) for k in unit.secret_digests}


@dataclass
class SecretStorePublisher:
    """The engine's SecretPublisher: the provider plugin's write_secret / delete_secret."""

    registry: PluginRegistry
    environment: Any

    def _plugin(self, provider: str):
        plugin = self.registry.get(provider)
        if plugin is None:
            raise DiagnosticError([Diagnostic(f"no provider plugin {provider!r} to publish connection details")])
        return plugin

    def write(self, provider: str, name: str, values: dict[str, str]) -> str:
        return self._plugin(provider).write_secret(WriteSecretRequest(self.environment, name, values)).ref

    def delete(self, provider: str, name: str) -> bool:
        return self._plugin(provider).delete_secret(DeleteSecretRequest(self.environment, name))


def preflight(registry: PluginRegistry, compiled: Compiled) -> str:
    """Check credentials and region before any Terraform runs; exit 1 with the provider's reason."""
    env = compiled.resolved.environment
    if env.spec.cloud is None or not any(c.is_terraform for c in compiled.resolved.components):
        return ""
    plugin = registry.get(env.spec.cloud.provider)
    if plugin is None:
        return ""
    result = plugin.preflight(PreflightRequest(env))
    if not result.ok:
        raise DiagnosticError(list(result.diagnostics) or [Diagnostic(f"{env.spec.cloud.provider} preflight failed")])
    return result.identity


def bootstrap(registry: PluginRegistry, compiled: Compiled) -> tuple[str, list[BackendResource]]:
    """`appc init`: the cloud provider's preflight, then every provider's bootstrap_backend (each
    acts only on the state backend it owns: s3 -> aws, gcs -> gcp, azurerm -> azure). Returns the
    identity and what was created or found; a failure is exit 1 with the provider's reason."""
    env = compiled.resolved.environment
    identity = ""
    if env.spec.cloud is not None:
        plugin = registry.get(env.spec.cloud.provider)
        if plugin is not None:
            result = plugin.preflight(PreflightRequest(env))
            if not result.ok:
                raise DiagnosticError(
                    list(result.diagnostics) or [Diagnostic(f"{env.spec.cloud.provider} preflight failed")]
                )
            identity = result.identity
    resources: list[BackendResource] = []
    for name in registry.names():
        provider = registry.get(name)
        if provider is None:
            continue
        result = provider.bootstrap_backend(PreflightRequest(env))
        resources.extend(result.resources)
        if not result.ok:
            raise DiagnosticError(
                list(result.diagnostics)
                or [Diagnostic(f"{name}: preparing the {env.spec.state.backend} state backend failed")]
            )
    return identity, resources


def cloud_status(registry: PluginRegistry, compiled: Compiled, state) -> dict[str, UnitStatus]:
    """`appc status --cloud`: what the cloud says about each applied Terraform unit, asked of
    the provider that implements it. Cloud trouble becomes a row, never an error."""
    env = compiled.resolved.environment
    out: dict[str, UnitStatus] = {}
    cloud = env.spec.cloud.provider if env.spec.cloud else None
    for name, unit in state.units.items() if state else ():
        if unit.kind != "terraform":
            continue
        c = compiled.resolved.component(name)
        provider = c.provider if c else cloud
        plugin = registry.get(provider) if provider else None
        if plugin is None:
            out[name] = UnitStatus("unknown", "no provider plugin reports on it")
            continue
        try:
            out[name] = plugin.status(StatusRequest(env, name, unit.type, unit.outputs, compiled.resolved.name))
        except DiagnosticError as exc:
            out[name] = UnitStatus("unknown", exc.diagnostics[0].summary if exc.diagnostics else "status failed")
        except Exception as exc:  # a plugin's SDK error must not take status down
            out[name] = UnitStatus("unknown", f"{type(exc).__name__}: {exc}"[:300])
    return out


def build_engine(compiled: Compiled, registry: PluginRegistry, options: RunOptions, emit, should_stop) -> Engine:
    from composer.render.terraform import render_prune_root
    from composer.runners.controller_job import port_for
    from composer.runners.terraform import TerraformRunner, terraform_binary, terraform_environment
    from composer.runners.workspace import LocalWorkspace

    root = state_dir(compiled)
    needs_tf = any(c.is_terraform for c in compiled.resolved.components)
    if needs_tf and terraform_binary() is None:
        raise DiagnosticError(
            [
                Diagnostic(
                    "terraform is not installed",
                    "install Terraform >= 1.11 and put it on PATH, or set COMPOSER_TERRAFORM to its path",
                )
            ]
        )
    workspace = LocalWorkspace(root, compiled.resolved.environment.name)
    runner = TerraformRunner(
        terraform_environment(root),
        timeout=options.timeout,
        on_event=lambda kind, fields: emit(kind, **fields),
        lock_timeout=f"{int(max(options.lock_timeout, 120))}s",
        provider_processes=options.parallelism,
        provider_cwd=root,
    )
    return Engine(
        resolved=compiled.resolved,
        graph=compiled.graph,
        rendered=compiled.rendered,
        modules=compiled.modules,
        store=None,  # set by the caller once the lock is held
        terraform=port_for(runner, compiled.resolved.name, compiled.resolved.environment, options.timeout),
        workspace=workspace,
        sinks=make_sinks(compiled, options),
        read_secret=secret_reader(registry, compiled),
        publisher=SecretStorePublisher(registry, compiled.resolved.environment),
        emit=emit,
        parallelism=options.parallelism,
        refresh=options.refresh,
        should_stop=should_stop,
        prune_root=lambda name, provider: render_prune_root(compiled.resolved, name, provider, registry),
        read_tags=tag_reader(registry, compiled),
        adopt_owned=options.adopt_owned,
        app_file=str(compiled.project.app_file),
    )


def tag_reader(registry: PluginRegistry, compiled: Compiled) -> Callable[[str, str, str], Any]:
    """The tags of an existing resource, through its provider plugin (engine/adopt.py: orphans)."""
    env = compiled.resolved.environment

    def read_tags(provider: str, resource_type: str, resource_id: str) -> Any:
        reader = getattr(registry.get(provider), "resource_tags", None)
        return reader(env, resource_type, resource_id) if reader is not None else None

    return read_tags


@contextmanager
def running_engine(compiled: Compiled, registry: PluginRegistry, options: RunOptions, emit, should_stop):
    """The engine for one command; its Terraform provider processes stop when it ends."""
    engine = build_engine(compiled, registry, options, emit, should_stop)
    try:
        yield engine
    finally:
        engine.terraform.close()


def interactive() -> bool:
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


def workload_health(compiled: Compiled, state) -> list[dict]:
    """Per cluster target and workload unit: rollout state, ready/desired replicas and the
    last warning event (ClusterSink.status). Empty for GitOps directories and environments
    without cluster targets, so `appc status` stays offline there. Cluster trouble becomes a
    row, never an error: status must work when the cluster does not."""
    k = compiled.resolved.environment.spec.kubernetes
    if k.delivery != "cluster" or state is None or not any(u.kind == "kubernetes" for u in state.units.values()):
        return []
    from composer.runners.kubernetes import ClusterSink

    try:
        sinks = ClusterSink.for_environment(compiled.resolved, RunOptions())
    except DiagnosticError as exc:
        return [{"target": "-", "unit": "-", "rollout": "unknown", "error": exc.diagnostics[0].summary}]
    rows = []
    for sink in sinks:
        items = state.inventory.get(sink.target, ())
        for name, unit in state.units.items():
            if unit.kind != "kubernetes":
                continue
            mine = tuple(i for i in items if i.component == name)
            health = (
                sink.status(name, mine)
                if mine
                else {"target": sink.target, "rollout": "not applied", "ready": 0, "desired": 0, "warning": None}
            )
            rows.append({"unit": name, **health})
            if health.get("rollout") == "unreachable":
                break  # one message per cluster is enough
    return rows
