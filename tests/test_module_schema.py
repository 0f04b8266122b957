"""The shipped modules against the providers' recorded schemas (no provider binary needed).

tests/provider_schemas/*.yaml hold what was read from the providers (each entry names the
version); tests/support/module_schema.py checks every module against them, with the values each
implementation really passes for every parameter variation. The mutation tests put each finding
of issue 19 back into a copy of the tree and show that the check then fails on it.
"""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

import pytest

from composer.catalog import Catalog
from composer.model.environment import Environment
from composer.plugins import PluginRegistry, load_offers
from composer.templates import TemplateFailure, evaluate
from tests.helpers import ROOT
from tests.support.module_schema import Offer, check_module, load_schemas, parameter_variants, parse_module

MODULES = ROOT / "modules"
SCHEMAS = ROOT / "tests" / "provider_schemas"
CLOUDS = ("aws", "gcp", "azure")
SUB = "00000000-0000-0000-0000-000000000001"
AZ = f"/subscriptions/{SUB}/resourceGroups/net/providers/Microsoft.Network"

# Every cloud field set, so that network-dependent inputs evaluate to realistic values.
ENVIRONMENT = {
    "apiVersion": "composer.dev/v1alpha1",
    "kind": "Environment",
    "metadata": {"name": "prod"},
    "spec": {
        "cloud": {
            "provider": "aws",
            "region": "eu-west-1",
            "project": "acme-shop",
            "resourceGroup": "shop",
            "keyVaultId": f"/subscriptions/{SUB}/resourceGroups/shop/providers/Microsoft.KeyVault/vaults/kv",
        },
        "network": {
            "vpcId": "vpc-0123456789abcdef0",
            "subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "securityGroupIds": ["sg-0123456789abcdef0"],
            "vpc": "projects/acme-shop/global/networks/shop",
            "delegatedSubnets": {
                "postgres": f"{AZ}/virtualNetworks/v/subnets/pg",
                "mysql": f"{AZ}/virtualNetworks/v/subnets/my",
            },
            "privateEndpointSubnetId": f"{AZ}/virtualNetworks/v/subnets/pe",
            "privateDnsZones": {
                k: f"{AZ}/privateDnsZones/{k}" for k in ("postgres", "mysql", "redis", "blob", "servicebus")
            },
        },
    },
}


# The environment tiers (composer/model/environment.py): development with the cloud's own keys,
# production with a customer-managed key (an ARN-shaped value serves every cloud's string rule).
TIERS = (
    {"production": False, "kms_key": None},
    {"production": True, "kms_key": "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"},
)


@lru_cache(maxsize=1)
def _context() -> tuple[PluginRegistry, Catalog, Environment]:
    registry = PluginRegistry.discover()
    return registry, Catalog.build(registry), Environment.model_validate(ENVIRONMENT)


_PARSED: dict[tuple, object] = {}
_OFFERS: dict[tuple, list[Offer]] = {}


def _parsed(module_dir: Path):
    """parse_module, once per content: the mutation tests change one file of a copied tree."""
    key = tuple((f.name, f.read_bytes()) for f in sorted(module_dir.glob("*.tf")))
    if key not in _PARSED:
        _PARSED[key] = parse_module(module_dir)
    return _PARSED[key]


def _offers(cloud: str, implementations: Path, module_root: Path) -> list[Offer]:
    key = (cloud, implementations.read_bytes())
    if key not in _OFFERS:
        _OFFERS[key] = build_offers(cloud, implementations, module_root)
    return _OFFERS[key]


def build_offers(cloud: str, implementations: Path, module_root: Path) -> list[Offer]:
    """Each terraform offer of a cloud with its inputs evaluated for every parameter variation;
    a variation the implementation refuses (a template failure naming why) is left out."""
    registry, catalog, env = _context()
    provider = registry.get(cloud)
    out = []
    for o in load_offers(implementations, module_root):
        tf = o.implementation.terraform
        if tf is None:
            continue
        for tier in TIERS:  # one offer per environment tier: each tier's inputs are checked on their own
            variants = []
            for param, params in parameter_variants(catalog.component(o.type).schema):
                context = {
                    "app": "shop",
                    "env": "prod",
                    "component": "db",
                    "name": "shop-prod-db",
                    "parameters": params,
                    "tags": {"app": "shop"},
                    **tier,
                    **provider.template_context(env),
                }
                try:
                    variants.append((param, params, evaluate(tf.inputs, context)))
                except TemplateFailure:
                    continue
            out.append(Offer(cloud, o.type, o.name, tf, tuple(variants)))
    return out


def findings(root: Path) -> list[str]:
    """Every finding over a tree holding modules/ and providers/<cloud>/implementations.yaml."""
    schemas = load_schemas(SCHEMAS)
    out = []
    for cloud in CLOUDS:
        offers = _offers(cloud, root / "providers" / cloud / "implementations.yaml", root / "modules" / cloud)
        for module_dir in sorted((root / "modules" / cloud).iterdir()):
            users = [o for o in offers if o.implementation.module == module_dir.name]
            out += [str(f) for f in check_module(_parsed(module_dir), schemas, users)]
    return out


@lru_cache(maxsize=1)
def _shipped() -> tuple[str, ...]:
    return tuple(findings(ROOT))


def test_every_module_passes_the_recorded_schemas():
    assert list(_shipped()) == []


def test_the_schemas_cover_every_resource_in_modules_and_say_where_they_were_read():
    schemas = load_schemas(SCHEMAS)
    used = {r.type for d in MODULES.glob("*/*") if d.is_dir() for r in _parsed(d).resources}
    assert used <= set(schemas), f"not recorded: {sorted(used - set(schemas))}"
    assert set(schemas) - used == set(), f"recorded but unused (stale): {sorted(set(schemas) - used)}"
    for rtype, entry in schemas.items():
        assert any(v in entry["read_from"] for v in ("v6.23.0", "v4.55.0", "5.100.0")), (
            f"{rtype}: read_from names no provider version"
        )


def test_stateful_resources_record_force_new_for_every_argument():
    """A ForceNew that is not recorded would let the force-new check pass silently."""
    for rtype, entry in load_schemas(SCHEMAS).items():
        if entry.get("stateful"):
            stack = [("", entry["arguments"])]
            while stack:
                prefix, args = stack.pop()
                for name, rule in args.items():
                    if rule.get("block"):
                        stack.append((prefix + name + ".", rule["arguments"]))
                    else:
                        assert "force_new" in rule, f"{rtype}.{prefix}{name}: force_new not recorded"


# -- each finding of issue 19, put back, fails the check ------------------------------------------

MUTATIONS = [
    pytest.param(
        "modules/gcp/database/main.tf",
        "    ignore_changes = [settings[0].disk_size]\n",
        "",
        "[auto-grow] gcp/database/main.tf: google_sql_database_instance.this: settings.disk_size grows by itself but is not in lifecycle.ignore_changes",
        id="gcp-disk-size-not-ignored",
    ),
    pytest.param(
        "modules/azure/database/main.tf",
        "ignore_changes = [zone, high_availability[0].standby_availability_zone, storage[0].size_gb]",
        "ignore_changes = [zone, high_availability[0].standby_availability_zone]",
        "[auto-grow] azure/database/main.tf: azurerm_mysql_flexible_server.this: storage.size_gb grows by itself",
        id="azure-mysql-size-not-ignored",
    ),
    pytest.param(
        "modules/azure/database/main.tf",
        "  auto_grow_enabled   = true\n",
        "",
        "[auto-grow] azure/database/main.tf: azurerm_postgresql_flexible_server.this: storage does not grow by itself",
        id="azure-postgres-no-auto-grow",
    ),
    pytest.param(
        "modules/aws/database/main.tf",
        "    ignore_changes = [allocated_storage]\n",
        "",
        "[auto-grow] aws/database/main.tf: aws_db_instance.this: allocated_storage grows by itself",
        id="aws-allocated-storage-not-ignored",
    ),
    pytest.param(
        "modules/aws/database/main.tf",
        "  max_allocated_storage = local.max_allocated_storage\n",
        "",
        "[auto-grow] aws/database/main.tf: aws_db_instance.this: storage does not grow by itself",
        id="aws-no-storage-autoscaling",
    ),
    pytest.param(
        "providers/azure/implementations.yaml",
        "'medium': 'GP_Standard_D2ads_v5'",
        "'medium': 'GP_Standard_D2ds_v5'",
        "[value] azure/database/main.tf: azurerm_mysql_flexible_server.this sku_name: 'GP_Standard_D2ds_v5' does not match",
        id="azure-mysql-invalid-sku",
    ),
    pytest.param(
        "providers/azure/implementations.yaml",
        "storage_gb_above_16384_is_not_offered_by_azure_mysql_flexible_server if parameters.storage_gb > 16384 else [parameters.storage_gb, 20] | max",
        "[parameters.storage_gb, 20] | max",
        "[value] azure/database/main.tf: azurerm_mysql_flexible_server.this storage.size_gb: 65536 is outside 20..16384",
        id="azure-mysql-storage-above-provider-bound",
    ),
    pytest.param(
        "modules/azure/database/versions.tf",
        'version = ">= 4.55, < 5.0"',
        'version = ">= 4.23, < 5.0"',
        "[value] azure/database/main.tf: azurerm_mysql_flexible_server.this version: '8.4' needs provider >= 4.55.0, but the module allows >= 4.23",
        id="azurerm-floor-below-mysql-8.4",
    ),
    pytest.param(
        "modules/azure/database/versions.tf",
        'version = ">= 4.55, < 5.0"',
        'version = ">= 4.45, < 5.0"',
        "[value] azure/database/main.tf: azurerm_postgresql_flexible_server.this version: '17' needs provider >= 4.46.0, but the module allows >= 4.45",
        id="azurerm-floor-below-postgres-17",
    ),
    pytest.param(
        "providers/gcp/implementations.yaml",
        '        private_network: "{{ network.vpc }}"\n',
        "",
        "[value] gcp/database/main.tf: google_sql_database_instance.this: accepts no connection with the inputs of gcp/postgres/gcp-cloudsql",
        id="gcp-database-unreachable",
    ),
    pytest.param(
        "providers/azure/implementations.yaml",
        '        delegated_subnet_id: "{{ network.delegatedSubnets.mysql }}"\n',
        "",
        "[value] azure/database/main.tf: azurerm_mysql_flexible_server.this: accepts no connection with the inputs of azure/mysql/azure-flexible-server",
        id="azure-database-unreachable",
    ),
    pytest.param(
        "modules/gcp/database/main.tf",
        '  secret_data_wo_version = local.credential_version\n  deletion_policy        = "ABANDON"\n',
        "  secret_data_wo_version = local.credential_version\n",
        "[replacement-gap] gcp/database/main.tf: google_secret_manager_secret_version.connection: a replacement deletes the old version before the new one exists",
        id="gcp-secret-version-gap",
    ),
    pytest.param(
        "modules/gcp/redis/variables.tf",
        "  type        = string\n  nullable    = false\n}",
        "  type        = string\n  default     = null\n}",
        "[value] gcp/redis/main.tf: google_redis_instance.this authorized_network: must be set: unset, the provider falls back to the project's 'default' network",
        id="gcp-redis-default-vpc",
    ),
    pytest.param(
        "modules/azure/bucket/variables.tf",
        'default     = "LRS"',
        'default     = "ZRS"',
        "[value] azure/bucket/main.tf: azurerm_storage_account.this account_replication_type: 'ZRS' is not offered in every region",
        id="azure-storage-zrs-default",
    ),
    pytest.param(
        "providers/aws/implementations.yaml",
        "      replaces_on_change: [database, username]\n",
        "      replaces_on_change: [username]\n",
        "[force-new] aws/postgres/aws-rds: changing parameter 'database' replaces aws_db_instance.this db_name (ForceNew) but replaces_on_change does not list it",
        id="force-new-not-marked",
    ),
    pytest.param(
        "providers/gcp/implementations.yaml",
        "      replaces_on_change: [database]\n",
        "      replaces_on_change: [database, size]\n",
        "[force-new] gcp/postgres/gcp-cloudsql: replaces_on_change lists 'size', which replaces nothing",
        id="force-new-marked-wrongly",
    ),
    pytest.param(
        "modules/azure/database/main.tf",
        "    auto_grow_enabled = true\n",
        "    autogrow_enabled = true\n",
        "[unknown-argument] azure/database/main.tf: azurerm_mysql_flexible_server.this: argument 'storage.autogrow_enabled' is not in the recorded schema",
        id="unknown-argument",
    ),
]


@pytest.mark.parametrize("relpath,old,new,expected", MUTATIONS)
def test_each_finding_fails_the_check_when_reintroduced(tmp_path, relpath, old, new, expected):
    for part in ("modules", "providers"):
        shutil.copytree(
            ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "*.py", ".terraform")
        )
    target = tmp_path / relpath
    text = target.read_text(encoding="utf-8")
    assert old in text, f"the mutation no longer applies to {relpath}"
    target.write_text(text.replace(old, new, 1 if relpath.endswith(".tf") else -1), encoding="utf-8")
    got = findings(tmp_path)
    assert any(f.startswith(expected) for f in got), "\n".join(got) or "no findings"
