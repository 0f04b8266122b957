"""The environment model: where an application lands (environments/<name>.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from composer.model.base import API_VERSION, Metadata, Name, Properties, Strict


class Cloud(Strict):
    provider: str
    region: str | None = None
    account: str | None = None  # AWS account id; preflight checks the credentials match it
    project: str | None = None  # GCP project id
    subscription: str | None = None  # Azure subscription id
    resource_group: str | None = Field(None, alias="resourceGroup")  # Azure
    key_vault_id: str | None = Field(None, alias="keyVaultId")  # Azure secret store for connection details
    emulator: Literal["embedded"] | None = None


class KubeTarget(Strict):
    context: str | None = None
    namespace: str | None = None


class SecretStoreRef(Strict):
    """The external-secrets.io store that GitOps output points ExternalSecrets at."""

    name: str
    kind: Literal["SecretStore", "ClusterSecretStore"] = "ClusterSecretStore"


class Kubernetes(Strict):
    context: str | None = None
    namespace: str | None = None
    directory: str | None = None
    targets: tuple[KubeTarget, ...] = ()
    secret_store: SecretStoreRef | None = Field(None, alias="secretStore")

    @model_validator(mode="after")
    def _one_target_kind(self) -> "Kubernetes":
        kinds = [bool(self.context), bool(self.directory), bool(self.targets)]
        if sum(kinds) > 1:
            raise ValueError("give one of context, directory or targets, not several")
        if self.directory and self.namespace is None:
            pass  # a directory may leave the namespace to the GitOps tool
        return self

    def resolved_targets(self) -> tuple[KubeTarget, ...]:
        if self.targets:
            return tuple(KubeTarget(context=t.context, namespace=t.namespace or self.namespace) for t in self.targets)
        if self.directory:
            return ()
        return (KubeTarget(context=self.context, namespace=self.namespace),)


class State(Strict):
    backend: Literal["local", "s3", "gcs", "azurerm"] = "local"
    path: str | None = None  # local: directory for state, default .composer beside app.yaml
    bucket: str | None = None  # s3, gcs
    region: str | None = None  # s3; default the cloud region
    prefix: str | None = None
    lock: Literal["dynamodb", "conditional"] | None = None  # s3 only; default conditional put
    table: str | None = None  # dynamodb table; default <bucket>-lock
    storage_account: str | None = Field(None, alias="storageAccount")  # azurerm
    container: str | None = None  # azurerm
    resource_group: str | None = Field(None, alias="resourceGroup")  # azurerm

    @model_validator(mode="after")
    def _needs(self) -> "State":
        need = {"s3": ["bucket"], "gcs": ["bucket"], "azurerm": ["storage_account", "container", "resource_group"]}
        missing = [f for f in need.get(self.backend, []) if not getattr(self, f)]
        if missing:
            raise ValueError(f"backend {self.backend!r} needs {', '.join(missing)}")
        if self.lock and self.backend != "s3":
            raise ValueError("lock applies to the s3 backend only")
        return self


class Override(Strict):
    properties: Properties = {}
    implementation: str | None = None


PolicyRule = Literal["provisioners", "external-data", "remote-state", "http-data", "module-sources", "outside-files"]


class Policies(Strict):
    protect: tuple[Name, ...] = ()
    # Module policy rules this environment lifts for every module it runs (composer/catalog/policy.py).
    allow: tuple[PolicyRule, ...] = ()


class EnvironmentSpec(Strict):
    cloud: Cloud | None = None
    kubernetes: Kubernetes = Kubernetes()
    state: State = State()
    implementations: dict[str, str] = {}
    overrides: dict[Name, Override] = {}
    policies: Policies = Policies()


class Environment(Strict):
    api_version: Literal["composer.dev/v1alpha1"] = Field(API_VERSION, alias="apiVersion")
    kind: Literal["Environment"]
    metadata: Metadata
    spec: EnvironmentSpec = EnvironmentSpec()

    @property
    def name(self) -> str:
        return self.metadata.name
