"""The environment model: where an application lands (environments/<name>.yaml)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from composer.model.base import Document, Name, Properties, Strict
from composer.model.environment_identity import Identity


class Cloud(Strict):
    provider: str
    region: str | None = None
    account: str | None = None  # AWS account id; preflight checks the credentials match it
    project: str | None = None  # GCP project id
    subscription: str | None = None  # Azure subscription id
    resource_group: str | None = Field(None, alias="resourceGroup")  # Azure
    key_vault_id: str | None = Field(None, alias="keyVaultId")  # Azure secret store for connection details
    emulator: Literal["embedded"] | None = None
    # A customer-managed key for secrets and storage (AWS KMS key ARN, GCP Cloud KMS key name,
    # Azure Key Vault key id); without it, the cloud's own keys.
    kms_key: str | None = Field(None, alias="kmsKey", min_length=1, max_length=2048, pattern=r"^[A-Za-z0-9:/._+=@-]+$")


class KubeTarget(Strict):
    context: str | None = None
    namespace: str | None = None


class SecretStoreRef(Strict):
    """The external-secrets.io store that GitOps output points ExternalSecrets at."""

    name: str
    kind: Literal["SecretStore", "ClusterSecretStore"] = "ClusterSecretStore"
    # The ExternalSecret API the cluster's External Secrets Operator serves: v1 since 0.17
    # (which no longer serves v1beta1); v1beta1 for operators older than that.
    api_version: Literal["external-secrets.io/v1", "external-secrets.io/v1beta1"] = Field(
        "external-secrets.io/v1", alias="apiVersion"
    )


# How a directory target is written: "kustomize" (GitOps: a kustomization.yaml, connection
# Secrets as ExternalSecrets) or "plain" (one YAML file per component, no connection Secret).
DirectoryFormat = Literal["kustomize", "plain"]


class Kubernetes(Strict):
    context: str | None = None
    namespace: str | None = None
    directory: str | None = None
    format: DirectoryFormat = "kustomize"
    targets: tuple[KubeTarget, ...] = ()
    secret_store: SecretStoreRef | None = Field(None, alias="secretStore")

    @model_validator(mode="after")
    def _one_target_kind(self) -> Kubernetes:
        kinds = [bool(self.context), bool(self.directory), bool(self.targets)]
        if sum(kinds) > 1:
            raise ValueError("give one of context, directory or targets, not several")
        if self.format != "kustomize" and not self.directory:
            raise ValueError("format applies to a directory target only: give kubernetes.directory too")
        if self.directory and self.namespace is None:
            pass  # a directory may leave the namespace to the GitOps tool
        return self

    @property
    def delivery(self) -> str:
        """The sink registry's key (composer/runners/sinks.py): "cluster", or a directory format."""
        return self.format if self.directory else "cluster"

    @property
    def reads_secret_store(self) -> bool:
        """Whether connection Secrets are delivered as ExternalSecrets reading the cloud store."""
        return bool(self.directory) and self.format == "kustomize"

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
    def _needs(self) -> State:
        need = {"s3": ["bucket"], "gcs": ["bucket"], "azurerm": ["storage_account", "container", "resource_group"]}
        missing = [f for f in need.get(self.backend, []) if not getattr(self, f)]
        if missing:
            raise ValueError(f"backend {self.backend!r} needs {', '.join(missing)}")
        if self.lock and self.backend != "s3":
            raise ValueError("lock applies to the s3 backend only")
        return self


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"expected an IPv4 CIDR block such as 203.0.113.0/24, got {value!r}") from None
    if net.version != 4:
        raise ValueError(f"expected an IPv4 CIDR block such as 203.0.113.0/24, got {value!r}")
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
# Cloud ids are passed to Terraform as values, never as code; the patterns only catch mistakes early.
AwsId = Annotated[str, Field(pattern=r"^(vpc|subnet|sg)-[0-9a-f]{8,17}$")]
GcpNetwork = Annotated[
    str,
    Field(
        pattern=r"^(https://www\.googleapis\.com/compute/v1/)?projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/global/networks/[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
    ),
]
AzureId = Annotated[
    str,
    Field(
        pattern=r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/[A-Za-z.]+/[^/]+/[^/]+(/[^/]+/[^/]+)*$"
    ),
]


class PublicAccess(Strict):
    """The explicit opt-in to public endpoints: only these CIDR blocks are admitted."""

    allowed_cidrs: tuple[Cidr, ...] = Field(alias="allowedCidrs", min_length=1)


class AzurePrivateDnsZones(Strict):
    postgres: AzureId | None = None  # privatelink.postgres.database.azure.com
    mysql: AzureId | None = None  # privatelink.mysql.database.azure.com
    redis: AzureId | None = None  # privatelink.redis.cache.windows.net
    blob: AzureId | None = None  # privatelink.blob.core.windows.net
    servicebus: AzureId | None = None  # privatelink.servicebus.windows.net


class AzureDelegatedSubnets(Strict):
    postgres: AzureId | None = None  # delegated to Microsoft.DBforPostgreSQL/flexibleServers
    mysql: AzureId | None = None  # delegated to Microsoft.DBforMySQL/flexibleServers


class Network(Strict):
    """Where the cloud resources of an environment are reachable from (docs/providers.md).

    The fields of one cloud only: AWS vpcId/subnetIds/securityGroupIds, GCP vpc/allocatedIpRange,
    Azure delegatedSubnets/privateEndpointSubnetId/privateDnsZones. Which fields a component needs
    is the cloud provider's to say (checked at validate).
    """

    vpc_id: AwsId | None = Field(None, alias="vpcId")
    subnet_ids: tuple[AwsId, ...] = Field((), alias="subnetIds")
    security_group_ids: tuple[AwsId, ...] = Field((), alias="securityGroupIds")
    vpc: GcpNetwork | None = None  # a VPC network with private services access
    allocated_ip_range: str | None = Field(None, alias="allocatedIpRange", pattern=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
    delegated_subnets: AzureDelegatedSubnets = Field(AzureDelegatedSubnets(), alias="delegatedSubnets")
    private_endpoint_subnet_id: AzureId | None = Field(None, alias="privateEndpointSubnetId")
    private_dns_zones: AzurePrivateDnsZones = Field(AzurePrivateDnsZones(), alias="privateDnsZones")
    public_access: PublicAccess | None = Field(None, alias="publicAccess")


class Override(Strict):
    properties: Properties = {}
    implementation: str | None = None


PolicyRule = Literal["provisioners", "external-data", "remote-state", "http-data", "module-sources", "outside-files"]


DRIFT_PATTERN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)+$"
DriftPath = Annotated[str, StringConstraints(pattern=DRIFT_PATTERN, max_length=256)]


class Policies(Strict):
    protect: tuple[Name, ...] = ()
    # Module policy rules this environment lifts for every module it runs (composer/catalog/policy.py).
    allow: tuple[PolicyRule, ...] = ()
    # Attribute paths drift may change without being reverted (docs/reliability.md, "Drift"):
    # `[COMPONENT/]KIND_OR_TYPE.path`, e.g. `Deployment.spec.replicas` or `api/Deployment.spec.replicas`.
    ignore_drift: tuple[DriftPath, ...] = Field((), alias="ignoreDrift")
    # Installing from a bundle needs a signature by one of these public keys (paths relative to
    # this file; docs/packaging.md).
    require_signed_bundles: tuple[str, ...] = Field((), alias="requireSignedBundles")


class EnvironmentSpec(Strict):
    # production: the built-in modules' durable defaults (deletion protection, final snapshots,
    # multi-AZ, backups) and policies.protect for every stateful component; development: fast
    # and cheap (docs/security.md "Production tier").
    tier: Literal["production", "development"] = "development"
    cloud: Cloud | None = None
    kubernetes: Kubernetes = Kubernetes()
    state: State = State()
    implementations: dict[str, str] = {}
    overrides: dict[Name, Override] = {}
    policies: Policies = Policies()
    network: Network | None = None
    # The ServiceAccount whose token the cloud work runs under (environment_identity.py).
    identity: Identity | None = None

    @model_validator(mode="after")
    def _network_needs_a_cloud(self) -> EnvironmentSpec:
        if self.network is not None and self.cloud is None:
            raise ValueError("network needs a cloud: it says where that cloud's resources are reachable from")
        return self


class Environment(Document):
    kind: Literal["Environment"]
    spec: EnvironmentSpec = EnvironmentSpec()
