"""Generate docs/environments.md from the environment model (composer/model/environment.py).

    python scripts/gen_env_docs.py           # rewrite docs/environments.md
    python scripts/gen_env_docs.py --check   # exit 1 when docs/environments.md is stale

The fields, their types, allowed values and defaults come from the pydantic model; what each
field means and an example come from FIELDS below. A model field without an entry, an entry
for a field the model lacks, or an example the model rejects is an error, so the page cannot
go stale (tests/test_env_docs.py runs this).
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from composer.model.environment import Environment  # noqa: E402

OUTPUT = ROOT / "docs" / "environments.md"

# path -> (what it means, an example: a YAML fragment of an environment file)
FIELDS: dict[str, tuple[str, str]] = {
    "apiVersion": ("The file format. Only this version exists.", "apiVersion: composer.dev/v1alpha1"),
    "kind": ("Says this file is an environment.", "kind: Environment"),
    "metadata": ("The environment's identity.", "metadata: {name: staging}"),
    "metadata.name": (
        "The environment's name, part of physical names (`<app>-<env>-<component>`) and state keys. Keep it equal to the file's name: `-e NAME` reads `environments/NAME.yaml`.",
        "metadata: {name: prod}",
    ),
    "metadata.labels": ("Free labels, for your own tooling.", "metadata: {name: prod, labels: {team: shop}}"),
    "metadata.annotations": (
        "Free annotations, for your own tooling.",
        "metadata: {name: prod, annotations: {owner: platform@acme.example}}",
    ),
    "spec": (
        "Everything about where the application lands; every part has defaults.",
        "spec: {kubernetes: {directory: deploy/dev}}",
    ),
    "spec.tier": (
        "`development` (the default: fast, cheap sandbox defaults) or `production`: the built-in modules' durable defaults (deletion protection, final snapshots, multi-AZ or regional, backups with point-in-time recovery) and every stateful component protected as by `policies.protect` (docs/security.md).",
        "spec: {tier: production, cloud: {provider: aws, region: eu-west-1}}",
    ),
    "spec.cloud": (
        "Where cloud resources go. Leave it out when the app has only workloads.",
        "spec: {cloud: {provider: aws, region: eu-west-1}}",
    ),
    "spec.cloud.provider": (
        "The provider plugin that serves resource types and checks credentials (`aws`, `gcp`, `azure`, or a third-party plugin).",
        "spec: {cloud: {provider: gcp, project: acme-shop, region: europe-west1}}",
    ),
    "spec.cloud.region": (
        "The region every resource is created in.",
        "spec: {cloud: {provider: aws, region: us-east-1}}",
    ),
    "spec.cloud.account": (
        "AWS: the account id the credentials must belong to; preflight refuses others before anything runs.",
        "spec: {cloud: {provider: aws, region: eu-west-1, account: '123456789012'}}",
    ),
    "spec.cloud.project": (
        "GCP: the project id.",
        "spec: {cloud: {provider: gcp, project: acme-shop, region: europe-west1}}",
    ),
    "spec.cloud.subscription": (
        "Azure: the subscription id.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}}",
    ),
    "spec.cloud.resourceGroup": (
        "Azure: the resource group resources are created in.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}}",
    ),
    "spec.cloud.keyVaultId": (
        "Azure: the Key Vault that holds connection details (the secret store).",
        "spec: {cloud: {provider: azure, resourceGroup: shop, keyVaultId: /subscriptions/0000/resourceGroups/shop/providers/Microsoft.KeyVault/vaults/shop-kv}}",
    ),
    "spec.cloud.emulator": (
        "`embedded`: a local sandbox; every AWS client goes to an embedded emulator (the `[local]` extra), never to AWS.",
        "spec: {cloud: {provider: aws, region: us-east-1, emulator: embedded}}",
    ),
    "spec.cloud.kmsKey": (
        "A customer-managed key for connection secrets and storage; AWS: a KMS key ARN (RDS, S3, SQS, Secrets Manager). Setting it on an existing database replaces it.",
        "spec: {cloud: {provider: aws, region: eu-west-1, kmsKey: 'arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0'}}",
    ),
    "spec.kubernetes": (
        "Where workloads go: one cluster (`context`), several (`targets`), or a GitOps directory (`directory`); give one of the three.",
        "spec: {kubernetes: {context: prod-eu, namespace: shop}}",
    ),
    "spec.kubernetes.context": (
        "The kubeconfig context to apply to (server-side apply). Left out: the kubeconfig's current context.",
        "spec: {kubernetes: {context: prod-eu}}",
    ),
    "spec.kubernetes.namespace": (
        "The namespace of the workloads (created when missing); for a directory, written into the kustomization.",
        "spec: {kubernetes: {context: prod-eu, namespace: shop}}",
    ),
    "spec.kubernetes.directory": (
        "Write manifests to this directory (relative to app.yaml) for Argo CD or Flux instead of applying them; connection Secrets become ExternalSecrets.",
        "spec: {kubernetes: {directory: deploy/prod, namespace: shop, secretStore: {name: aws-secrets}}}",
    ),
    "spec.kubernetes.format": (
        "How a `directory` is written: `kustomize` (GitOps: a kustomization.yaml, connection Secrets as ExternalSecrets) or `plain` (one plain YAML file per component, no kustomize, connection Secrets left to you: workloads only reference them). Only with `directory`.",
        "spec: {kubernetes: {directory: deploy/manifests, namespace: shop, format: plain}}",
    ),
    "spec.kubernetes.targets": (
        "Several clusters: every workload goes to each target (cloud resources are created once).",
        "spec: {kubernetes: {namespace: shop, targets: [{context: prod-eu}, {context: prod-us}]}}",
    ),
    "spec.kubernetes.targets[].context": (
        "The kubeconfig context of this target.",
        "spec: {kubernetes: {targets: [{context: prod-eu}]}}",
    ),
    "spec.kubernetes.targets[].namespace": (
        "This target's namespace; default `spec.kubernetes.namespace`.",
        "spec: {kubernetes: {targets: [{context: prod-eu, namespace: shop-eu}]}}",
    ),
    "spec.kubernetes.secretStore": (
        "GitOps only: the External Secrets Operator store that ExternalSecrets read connection details from.",
        "spec: {kubernetes: {directory: deploy/prod, secretStore: {name: aws-secrets}}}",
    ),
    "spec.kubernetes.secretStore.name": (
        "The store's name.",
        "spec: {kubernetes: {directory: deploy/prod, secretStore: {name: aws-secrets}}}",
    ),
    "spec.kubernetes.secretStore.kind": (
        "`ClusterSecretStore` or a namespaced `SecretStore`.",
        "spec: {kubernetes: {directory: deploy/prod, secretStore: {name: shop-secrets, kind: SecretStore}}}",
    ),
    "spec.kubernetes.secretStore.apiVersion": (
        "The ExternalSecret API to write: `v1`, which the operator serves since 0.17; `v1beta1` for older operators.",
        "spec: {kubernetes: {directory: deploy/prod, secretStore: {name: aws-secrets, apiVersion: external-secrets.io/v1beta1}}}",
    ),
    "spec.state": (
        "Where Composer state and each unit's Terraform state are kept.",
        "spec: {state: {backend: s3, bucket: acme-tfstate}}",
    ),
    "spec.state.backend": (
        "`local` (`.composer/` beside app.yaml), `s3`, `gcs` or `azurerm`; `appc init` creates a missing bucket or container.",
        "spec: {state: {backend: gcs, bucket: acme-tfstate}}",
    ),
    "spec.state.path": (
        "local: the state directory, relative to app.yaml.",
        "spec: {state: {backend: local, path: .state}}",
    ),
    "spec.state.bucket": ("s3, gcs: the bucket.", "spec: {state: {backend: s3, bucket: acme-tfstate}}"),
    "spec.state.region": (
        "s3: the bucket's region; default the cloud region.",
        "spec: {state: {backend: s3, bucket: acme-tfstate, region: eu-central-1}}",
    ),
    "spec.state.prefix": (
        "A key prefix inside the bucket or container.",
        "spec: {state: {backend: s3, bucket: acme-tfstate, prefix: composer}}",
    ),
    "spec.state.lock": (
        "s3 only: `conditional` (a conditional put, the default) or `dynamodb`.",
        "spec: {state: {backend: s3, bucket: acme-tfstate, lock: dynamodb}}",
    ),
    "spec.state.table": (
        "s3 with `lock: dynamodb`: the table; default `<bucket>-lock`.",
        "spec: {state: {backend: s3, bucket: acme-tfstate, lock: dynamodb, table: tf-locks}}",
    ),
    "spec.state.storageAccount": (
        "azurerm: the storage account.",
        "spec: {state: {backend: azurerm, storageAccount: acmetfstate, container: tfstate, resourceGroup: shop}}",
    ),
    "spec.state.container": (
        "azurerm: the blob container.",
        "spec: {state: {backend: azurerm, storageAccount: acmetfstate, container: tfstate, resourceGroup: shop}}",
    ),
    "spec.state.resourceGroup": (
        "azurerm: the storage account's resource group.",
        "spec: {state: {backend: azurerm, storageAccount: acmetfstate, container: tfstate, resourceGroup: shop}}",
    ),
    "spec.identity": (
        "The identity the environment's cloud work runs under when `appc controller` reconciles it: a Kubernetes ServiceAccount of the Environment's namespace whose short-lived token the cloud trusts. Exactly one of `aws`, `gcp`, `azure`. The controller then hands a reconcile none of its own cloud credentials (docs/controller.md, \"Identity\").",
        "spec: {identity: {aws: {roleArn: 'arn:aws:iam::123456789012:role/team-a-deployer', serviceAccount: deployer}}}",
    ),
    "spec.identity.aws": (
        "AWS web identity: the role is assumed with `AssumeRoleWithWebIdentity` from the ServiceAccount's token (audience `sts.amazonaws.com`).",
        "spec: {identity: {aws: {roleArn: 'arn:aws:iam::123456789012:role/team-a-deployer', serviceAccount: deployer}}}",
    ),
    "spec.identity.aws.roleArn": (
        "The IAM role to assume; its trust policy must trust the cluster's OIDC issuer for this ServiceAccount.",
        "spec: {identity: {aws: {roleArn: 'arn:aws:iam::123456789012:role/team-a-deployer', serviceAccount: deployer}}}",
    ),
    "spec.identity.aws.serviceAccount": (
        "The Kubernetes ServiceAccount (in the Environment's namespace) whose token is exchanged.",
        "spec: {identity: {aws: {roleArn: 'arn:aws:iam::123456789012:role/team-a-deployer', serviceAccount: deployer}}}",
    ),
    "spec.identity.gcp": (
        "GCP workload identity federation: the ServiceAccount's token is exchanged at Google's STS through a workload identity pool provider (an `external_account` credential configuration).",
        "spec: {identity: {gcp: {workloadIdentityProvider: projects/123456/locations/global/workloadIdentityPools/ci-pool/providers/k8s-prod, serviceAccount: deployer}}}",
    ),
    "spec.identity.gcp.workloadIdentityProvider": (
        "The pool provider's resource name: `projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER`.",
        "spec: {identity: {gcp: {workloadIdentityProvider: projects/123456/locations/global/workloadIdentityPools/ci-pool/providers/k8s-prod, serviceAccount: deployer}}}",
    ),
    "spec.identity.gcp.serviceAccount": (
        "The Kubernetes ServiceAccount (in the Environment's namespace) whose token is exchanged.",
        "spec: {identity: {gcp: {workloadIdentityProvider: projects/123456/locations/global/workloadIdentityPools/ci-pool/providers/k8s-prod, serviceAccount: deployer}}}",
    ),
    "spec.identity.gcp.impersonate": (
        "A Google service account to impersonate with the federated token; without it the federated principal itself is used.",
        "spec: {identity: {gcp: {workloadIdentityProvider: projects/123456/locations/global/workloadIdentityPools/ci-pool/providers/k8s-prod, serviceAccount: deployer, impersonate: deployer@acme-prod.iam.gserviceaccount.com}}}",
    ),
    "spec.identity.azure": (
        "Azure workload identity: an app registration or managed identity with a federated credential trusting the ServiceAccount's token (audience `api://AzureADTokenExchange`).",
        "spec: {identity: {azure: {clientId: 0b5e3f1c-8d4a-4f6e-9c2b-7a1d2e3f4a5b, tenantId: 7a1d2e3f-4a5b-4c6d-8e9f-0b5e3f1c8d4a, serviceAccount: deployer}}}",
    ),
    "spec.identity.azure.clientId": (
        "The client id of the app registration or managed identity.",
        "spec: {identity: {azure: {clientId: 0b5e3f1c-8d4a-4f6e-9c2b-7a1d2e3f4a5b, tenantId: 7a1d2e3f-4a5b-4c6d-8e9f-0b5e3f1c8d4a, serviceAccount: deployer}}}",
    ),
    "spec.identity.azure.tenantId": (
        "The Microsoft Entra tenant id.",
        "spec: {identity: {azure: {clientId: 0b5e3f1c-8d4a-4f6e-9c2b-7a1d2e3f4a5b, tenantId: 7a1d2e3f-4a5b-4c6d-8e9f-0b5e3f1c8d4a, serviceAccount: deployer}}}",
    ),
    "spec.identity.azure.serviceAccount": (
        "The Kubernetes ServiceAccount (in the Environment's namespace) whose token is exchanged.",
        "spec: {identity: {azure: {clientId: 0b5e3f1c-8d4a-4f6e-9c2b-7a1d2e3f4a5b, tenantId: 7a1d2e3f-4a5b-4c6d-8e9f-0b5e3f1c8d4a, serviceAccount: deployer}}}",
    ),
    "spec.network": (
        "Where the cloud resources are reachable from: private endpoints in your networks (the fields of the environment's cloud only; `appc validate` checks them against what the components need). Composer references networks, it creates none (docs/providers.md).",
        "spec: {cloud: {provider: aws, region: eu-west-1}, network: {vpcId: vpc-0123456789abcdef0, subnetIds: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]}}",
    ),
    "spec.network.vpcId": (
        "AWS: the VPC of the subnets below.",
        "spec: {cloud: {provider: aws, region: eu-west-1}, network: {vpcId: vpc-0123456789abcdef0, subnetIds: [subnet-0123456789abcdef0]}}",
    ),
    "spec.network.subnetIds": (
        "AWS: subnets for each database's and cache's own subnet group.",
        "spec: {cloud: {provider: aws, region: eu-west-1}, network: {vpcId: vpc-0123456789abcdef0, subnetIds: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]}}",
    ),
    "spec.network.securityGroupIds": (
        "AWS: security groups attached to databases and caches; they must admit the port. Left out: the VPC's default group.",
        "spec: {cloud: {provider: aws, region: eu-west-1}, network: {vpcId: vpc-0123456789abcdef0, subnetIds: [subnet-0123456789abcdef0], securityGroupIds: [sg-0123456789abcdef0]}}",
    ),
    "spec.network.vpc": (
        "GCP: a VPC network with private services access; Cloud SQL and Memorystore get private IPs there.",
        "spec: {cloud: {provider: gcp, project: acme-shop, region: europe-west1}, network: {vpc: projects/acme-shop/global/networks/shop}}",
    ),
    "spec.network.allocatedIpRange": (
        "GCP: the named IP range of that private services access.",
        "spec: {cloud: {provider: gcp, project: acme-shop, region: europe-west1}, network: {vpc: projects/acme-shop/global/networks/shop, allocatedIpRange: shop-services}}",
    ),
    "spec.network.delegatedSubnets": (
        "Azure: subnets delegated to flexible servers (VNet integration, no public endpoint).",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {delegatedSubnets: {postgres: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/shop/subnets/postgres}}}",
    ),
    "spec.network.delegatedSubnets.postgres": (
        "Azure: the subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {delegatedSubnets: {postgres: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/shop/subnets/postgres}}}",
    ),
    "spec.network.delegatedSubnets.mysql": (
        "Azure: the subnet delegated to Microsoft.DBforMySQL/flexibleServers.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {delegatedSubnets: {mysql: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/shop/subnets/mysql}}}",
    ),
    "spec.network.privateEndpointSubnetId": (
        "Azure: the subnet for private endpoints (cache, storage, Service Bus).",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {privateEndpointSubnetId: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/shop/subnets/endpoints}}",
    ),
    "spec.network.privateDnsZones": (
        "Azure: the private DNS zones that resolve the private endpoints, per service.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {privateDnsZones: {postgres: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/privateDnsZones/privatelink.postgres.database.azure.com}}}",
    ),
    "spec.network.privateDnsZones.postgres": (
        "Azure: privatelink.postgres.database.azure.com.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {privateDnsZones: {postgres: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/privateDnsZones/privatelink.postgres.database.azure.com}}}",
    ),
    "spec.network.privateDnsZones.mysql": (
        "Azure: privatelink.mysql.database.azure.com.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {privateDnsZones: {mysql: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/privateDnsZones/privatelink.mysql.database.azure.com}}}",
    ),
    "spec.network.privateDnsZones.redis": (
        "Azure: privatelink.redis.cache.windows.net.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {privateDnsZones: {redis: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/privateDnsZones/privatelink.redis.cache.windows.net}}}",
    ),
    "spec.network.privateDnsZones.blob": (
        "Azure: privatelink.blob.core.windows.net.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {privateDnsZones: {blob: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net}}}",
    ),
    "spec.network.privateDnsZones.servicebus": (
        "Azure: privatelink.servicebus.windows.net.",
        "spec: {cloud: {provider: azure, subscription: 00000000-0000-0000-0000-000000000000, resourceGroup: shop, region: westeurope}, network: {privateDnsZones: {servicebus: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/privateDnsZones/privatelink.servicebus.windows.net}}}",
    ),
    "spec.network.publicAccess": (
        "Every cloud: the only way to public endpoints, an explicit opt-in.",
        "spec: {cloud: {provider: aws, region: eu-west-1}, network: {publicAccess: {allowedCidrs: [203.0.113.0/24]}}}",
    ),
    "spec.network.publicAccess.allowedCidrs": (
        "The IPv4 CIDR blocks admitted to the public endpoints (at least one).",
        "spec: {cloud: {provider: aws, region: eu-west-1}, network: {publicAccess: {allowedCidrs: [203.0.113.0/24, 198.51.100.7/32]}}}",
    ),
    "spec.implementations": (
        "Which implementation serves each abstract type here (`appc def show TYPE` lists them); a type left out uses its default.",
        "spec: {implementations: {postgres: aws-rds, redis: in-cluster}}",
    ),
    "spec.overrides": (
        "Per component: properties merged over the app's, or another implementation.",
        "spec: {overrides: {db: {properties: {size: large}}}}",
    ),
    "spec.overrides.<component>.properties": (
        "Properties merged over the component's own (deep merge), checked against its type's schema.",
        "spec: {overrides: {api: {properties: {replicas: 4}}}}",
    ),
    "spec.overrides.<component>.implementation": (
        "The implementation for this one component.",
        "spec: {overrides: {cache: {implementation: in-cluster}}}",
    ),
    "spec.policies": ("Rules apply and destroy obey.", "spec: {policies: {protect: [db]}}"),
    "spec.policies.protect": (
        "Components never destroyed or pruned: a plan or apply that would is refused before anything runs.",
        "spec: {policies: {protect: [db, uploads]}}",
    ),
    "spec.policies.allow": (
        "Module policy rules lifted for every module this environment runs (provisioners, external-data, remote-state, http-data, module-sources, outside-files); everything else the policy denies stays denied (docs/security.md).",
        "spec: {policies: {allow: [remote-state]}}",
    ),
    "spec.policies.ignoreDrift": (
        "Attribute paths another actor may change: `appc drift` reports their drift as ignored (exit 0 if nothing else drifted) and apply never reverts them. Each is `[COMPONENT/]KIND.path`, where KIND is a Kubernetes kind or a Terraform resource type (docs/reliability.md).",
        "spec: {policies: {ignoreDrift: [Deployment.spec.replicas, uploads/aws_s3_bucket.tags]}}",
    ),
    "spec.policies.requireSignedBundles": (
        "Public keys (PEM files from `appc keygen`, paths relative to this file): `plan`/`apply`/`render -f BUNDLE` refuse a bundle that none of them signed (docs/packaging.md).",
        "spec: {policies: {requireSignedBundles: [keys/vendor.pub]}}",
    ),
}


def _unwrap(annotation):
    """(the model inside Optional/tuple/dict, how the path continues) or (None, None)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _unwrap(args[0])
    if origin is tuple and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], "[]"
    if origin is dict and len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return args[1], ".<component>"
    return None, None


def _type(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is tuple:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"map of {_type(args[0])} to {_type(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {str: "string", int: "integer", bool: "boolean", typing.Any: "any"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def fields(model: type[BaseModel] = Environment, prefix: str = "") -> list[tuple[str, str, str, bool]]:
    """(path, type, default, required) of every field, depth first in declaration order."""
    out = []
    for name, f in model.model_fields.items():
        path = f"{prefix}{f.alias or name}"
        default = "" if f.is_required() else _default(f.default)
        out.append((path, _type(f.annotation), default, f.is_required()))
        inner, step = _unwrap(f.annotation)
        if inner is not None:
            out += fields(inner, f"{path}{step}.")
    return out


def _default(value) -> str:
    if value is None or value == {} or value == () or isinstance(value, BaseModel):
        return ""
    return f"`{value}`"


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def problems() -> list[str]:
    paths = [p for p, *_ in fields()]
    out = [
        f"{p}: no entry in scripts/gen_env_docs.py FIELDS (say what it means and give an example)"
        for p in paths
        if p not in FIELDS
    ]
    out += [f"{p}: documented in FIELDS but not a field of the model" for p in FIELDS if p not in paths]
    for p, (_, example) in FIELDS.items():
        doc = _merge(
            {"apiVersion": "composer.dev/v1alpha1", "kind": "Environment", "metadata": {"name": "prod"}},
            yaml.safe_load(example),
        )
        try:
            Environment.model_validate(doc)
        except Exception as exc:  # pydantic's error names the field
            out.append(f"{p}: the example is not a valid environment: {' '.join(str(exc).split())[:300]}")
    return out


def generate() -> str:
    bad = problems()
    if bad:
        raise SystemExit("docs/environments.md cannot be generated:\n  " + "\n  ".join(bad))
    lines = [
        "# Environment files",
        "",
        "<!-- Generated from composer/model/environment.py by scripts/gen_env_docs.py: do not edit by hand. -->",
        "<!-- Regenerate: python scripts/gen_env_docs.py (or pytest tests/test_env_docs.py --update-golden). -->",
        "",
        "An environment says where an application lands: `environments/<name>.yaml` beside app.yaml,",
        "chosen with `-e <name>`. Unknown fields are errors. `${env:VAR}` in a value reads an",
        "environment variable. `appc env show NAME` prints a file as Composer reads it (defaults filled",
        "in); `docs/schemas/environment.schema.json` gives editors completion. Every example below is",
        "checked against the model when this page is generated.",
        "",
        "```yaml",
        "apiVersion: composer.dev/v1alpha1",
        "kind: Environment",
        "metadata: {name: prod}",
        "spec:",
        "  cloud: {provider: aws, region: eu-west-1}",
        "  kubernetes: {context: prod-eu, namespace: webshop}",
        "  state: {backend: s3, bucket: acme-tfstate, lock: dynamodb}",
        "  implementations: {postgres: aws-rds}",
        "  overrides: {db: {properties: {size: large}}}",
        "  policies: {protect: [db]}",
        "```",
        "",
        "## Fields",
        "",
    ]
    for path, type_, default, required in fields():
        meaning, example = FIELDS[path]
        facts = [f"type: {type_}"] + (["required"] if required else []) + ([f"default: {default}"] if default else [])
        lines += [f"### `{path}`", "", meaning, "", "; ".join(facts) + ".", "", "```yaml", example, "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run python scripts/gen_env_docs.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
