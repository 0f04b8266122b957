"""The provider plugin protocol and its registry.

A provider (aws, gcp, azure, kubernetes, or a third party's) offers implementations
of abstract types, the Terraform provider and backend blocks for its cloud, and the
I/O hooks the engine calls around Terraform: preflight, backend bootstrap, status and
secret reads. Every hook takes one request object and returns one response object,
so adding a field breaks no plugin. Plugins are found through the
`composer.providers` entry-point group; a registry is an explicit object (tests make
a fresh one).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.definitions import ComponentDefinition, Implementation, TraitDefinition
from composer.model.environment import Environment

ENTRY_POINT_GROUP = "composer.providers"


@dataclass(frozen=True)
class ImplementationOffer:
    """One implementation of an abstract type, e.g. postgres/aws-rds."""

    type: str
    name: str
    implementation: Implementation
    base_dir: Path  # relative module paths resolve against this


@dataclass(frozen=True)
class TerraformRequest:
    app: str
    environment: Environment
    component: str


@dataclass(frozen=True)
class TerraformProviderBlocks:
    required_providers: Mapping[str, Mapping[str, Any]]
    provider: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class BackendRequest:
    app: str
    environment: Environment
    key: str  # <app>/<env>/<component>.tfstate


@dataclass(frozen=True)
class PreflightRequest:
    environment: Environment


@dataclass(frozen=True)
class BackendResource:
    """One thing `bootstrap_backend` made sure of, e.g. the state bucket or the lock table."""

    kind: str  # e.g. "s3 bucket", "dynamodb table", "resource group"
    name: str
    action: Literal["created", "present"]
    detail: str = ""


@dataclass(frozen=True)
class PreflightResult:
    ok: bool
    identity: str = ""  # who the credentials are, for the log
    diagnostics: tuple[Diagnostic, ...] = ()
    resources: tuple[BackendResource, ...] = ()  # bootstrap_backend: what was created or found


@dataclass(frozen=True)
class SecretRequest:
    environment: Environment
    secret_id: str  # what the module output as connection_secret_id


@dataclass(frozen=True)
class WriteSecretRequest:
    """Publish a connection document (contract key -> value as text) under `name`."""

    environment: Environment
    name: str  # <app>-<env>-<component>-conn: letters, digits and dashes (valid in every store)
    values: Mapping[str, str]


@dataclass(frozen=True)
class SecretWritten:
    ref: str  # what read_secret and an ExternalSecret's key take (the store's id of the entry)


@dataclass(frozen=True)
class DeleteSecretRequest:
    environment: Environment
    name: str


@dataclass(frozen=True)
class StatusRequest:
    environment: Environment
    component: str
    type: str
    outputs: Mapping[str, Any]
    app: str = ""  # the application's name, for providers that find resources by ownership tags


@dataclass(frozen=True)
class ComponentUse:
    """A component of the application that one of the provider's implementations serves."""

    component: str
    type: str
    implementation: str


@dataclass(frozen=True)
class EnvironmentCheckRequest:
    environment: Environment
    components: tuple[ComponentUse, ...]


@dataclass(frozen=True)
class EnvironmentProblem:
    """Something the environment lacks for a component, e.g. spec.network.vpc for a database."""

    path: tuple[str | int, ...]  # field path in the environment file
    summary: str
    detail: str = ""
    component: str | None = None


@dataclass(frozen=True)
class UnitStatus:
    state: str  # e.g. available, creating, missing, unknown
    detail: str = ""


@dataclass(frozen=True)
class ProbedResource:
    """A resource the last apply of a Terraform unit left, as state recorded it."""

    unit: str
    address: str
    type: str  # Terraform resource type, e.g. aws_s3_bucket
    id: str  # the provider's id (bucket name, queue URL, ARN, ...)


@dataclass(frozen=True)
class ProbeRequest:
    """The reality probe: do these resources still exist? One request per provider and apply,
    whatever the unit count; a plugin answers it with a bounded number of batched API calls."""

    environment: Environment
    app: str
    resources: tuple[ProbedResource, ...]


@dataclass(frozen=True)
class ProbeResult:
    answered: bool  # False: the plugin could not look (no permission, API down, no probe for this cloud)
    missing: tuple[ProbedResource, ...] = ()  # looked for and not found
    # Resource types this plugin's probe does not see (sub-resources such as a bucket's versioning):
    # neither evidence of presence nor of absence; `appc drift` covers them.
    unseen: tuple[ProbedResource, ...] = ()
    reason: str = ""  # why it could not answer (never a secret)
    api_calls: int = 0


@runtime_checkable
class Provider(Protocol):
    name: str

    def offers(self) -> Sequence[ImplementationOffer]: ...

    def definitions(self) -> Sequence[ComponentDefinition | TraitDefinition]: ...

    def template_context(self, environment: Environment) -> Mapping[str, Any]: ...

    def check_environment(self, request: EnvironmentCheckRequest) -> Sequence[EnvironmentProblem]: ...

    def terraform_provider(self, request: TerraformRequest) -> TerraformProviderBlocks | None: ...

    def backend(self, request: BackendRequest) -> Mapping[str, Any] | None: ...

    def preflight(self, request: PreflightRequest) -> PreflightResult: ...

    def bootstrap_backend(self, request: PreflightRequest) -> PreflightResult: ...

    def status(self, request: StatusRequest) -> UnitStatus: ...

    def read_secret(self, request: SecretRequest) -> Mapping[str, str]: ...

    # Connection publishing: the counterpart of read_secret. `secret_store_problems` says, before
    # anything is applied, why this environment cannot publish (none: it can).
    def secret_store_problems(self, request: PreflightRequest) -> Sequence[Diagnostic]: ...

    def write_secret(self, request: WriteSecretRequest) -> SecretWritten: ...

    def delete_secret(self, request: DeleteSecretRequest) -> bool: ...

    # The reality probe before a unit is skipped (composer/engine/probes.py decides from the answer).
    def probe(self, request: ProbeRequest) -> ProbeResult: ...


class BaseProvider:
    """Defaults for the optional parts of the protocol; plugins override what they offer."""

    name = "base"

    def offers(self) -> Sequence[ImplementationOffer]:
        return ()

    def definitions(self) -> Sequence[ComponentDefinition | TraitDefinition]:
        return ()

    def template_context(self, environment: Environment) -> Mapping[str, Any]:
        return {}

    def check_environment(self, request: EnvironmentCheckRequest) -> Sequence[EnvironmentProblem]:
        """What the environment lacks for the components this provider serves (validate time)."""
        return ()

    def terraform_provider(self, request: TerraformRequest) -> TerraformProviderBlocks | None:
        return None

    def backend(self, request: BackendRequest) -> Mapping[str, Any] | None:
        return None

    def preflight(self, request: PreflightRequest) -> PreflightResult:
        return PreflightResult(ok=True)

    def bootstrap_backend(self, request: PreflightRequest) -> PreflightResult:
        return PreflightResult(ok=True)

    def status(self, request: StatusRequest) -> UnitStatus:
        return UnitStatus("unknown", f"provider {self.name} reports no status")

    def read_secret(self, request: SecretRequest) -> Mapping[str, str]:
        raise DiagnosticError([Diagnostic(f"provider {self.name} has no secret store")])

    def secret_store_problems(self, request: PreflightRequest) -> Sequence[Diagnostic]:
        return (Diagnostic(f"provider {self.name} has no secret store Composer can publish connection details to"),)

    def write_secret(self, request: WriteSecretRequest) -> SecretWritten:
        raise DiagnosticError(list(self.secret_store_problems(PreflightRequest(request.environment))))

    def delete_secret(self, request: DeleteSecretRequest) -> bool:
        return False

    def probe(self, request: ProbeRequest) -> ProbeResult:
        return ProbeResult(False, reason=f"provider {self.name} has no reality probe")


def load_offers(path: Path, module_root: Path) -> list[ImplementationOffer]:
    """Read a provider's implementations.yaml: {type: {impl-name: Implementation}}."""
    from composer.model.source import load_shipped

    data = load_shipped(path.read_text(encoding="utf-8")) or {}
    offers = []
    for type_name, impls in data.items():
        for impl_name, body in impls.items():
            offers.append(ImplementationOffer(type_name, impl_name, Implementation.model_validate(body), module_root))
    return offers


@dataclass
class PluginRegistry:
    providers: dict[str, Provider] = field(default_factory=dict)

    def register(self, provider: Provider) -> None:
        self.providers[provider.name] = provider

    def get(self, name: str) -> Provider | None:
        return self.providers.get(name)

    def names(self) -> list[str]:
        return sorted(self.providers)

    @classmethod
    def discover(cls) -> PluginRegistry:
        """Every provider registered under the composer.providers entry-point group."""
        registry = cls()
        errors = []
        for ep in _provider_entry_points(tuple(sys.path)):
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken third-party plugin must not take the CLI down
                errors.append(
                    Diagnostic(
                        f"provider plugin {ep.name!r} failed to load", f"{ep.value}: {type(exc).__name__}: {exc}"
                    )
                )
                continue
            registry.register(plugin() if isinstance(plugin, type) else plugin)
        if errors:
            raise DiagnosticError(errors)
        return registry


@functools.lru_cache(maxsize=8)
def _provider_entry_points(search_path: tuple[str, ...]) -> tuple[EntryPoint, ...]:
    """The group's entry points, by name, found once per import search path: the scan reads every
    installed distribution's metadata (~3 ms), and one `appc apply` makes a registry four times.
    A plugin installed into a directory already on the path is seen by the next process (as
    Python's own import caches see a new module only after `importlib.invalidate_caches`)."""
    return tuple(sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name))
