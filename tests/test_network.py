"""spec.network: validated against what each component needs, and taken by the built-in modules.

A missing network where a module needs one is an error at validate naming the field (and the
component); public endpoints exist only with publicAccess.allowedCidrs. The webshop's gcp and
azure renders (golden files under tests/golden/examples/webshop) give databases and caches
private endpoints and no public exposure.
"""

from __future__ import annotations

import json
import re

import pytest

from composer.project import compile_project, open_project
from tests.helpers import ROOT, appc, write

WEBSHOP = ROOT / "examples" / "webshop" / "app.yaml"
APP = "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  components:\n    - {name: db, type: postgres}\n    - {name: cache, type: redis}\n"


def _env(case: str, network: str = "") -> str:
    text = (ROOT / "tests" / "golden" / case / "environments" / "prod.yaml").read_text()
    text = re.sub(r"\n  network: .*", "", text)
    text = re.sub(r"\n  # The explicit opt-in.*", "", text)
    return text + (f"  network: {network}\n" if network else "")


def _validate(tmp_path, env: str, app: str = APP):
    write(tmp_path, {"app.yaml": app, "environments/prod.yaml": env})
    return appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")


def _diags(result) -> list[tuple[str, str]]:
    return [(e["path"], e["summary"]) for e in result.events if e.get("type") == "diagnostic"]


def test_a_missing_network_is_an_error_at_validate_naming_the_field_and_the_component(tmp_path):
    r = _validate(tmp_path, _env("gcp"))
    assert r.code == 1
    assert _diags(r) == [
        ("spec.network.vpc", "component 'db' (postgres, gcp-cloudsql) needs spec.network.vpc"),
        ("spec.network.vpc", "component 'cache' (redis, gcp-memorystore) needs spec.network.vpc"),
    ]
    first = next(e for e in r.events if e.get("type") == "diagnostic")
    assert first["file"].endswith("environments/prod.yaml") and first["address"] == "db"


def test_public_access_stands_in_for_the_private_network_of_databases_only(tmp_path):
    r = _validate(tmp_path, _env("gcp", "{publicAccess: {allowedCidrs: [203.0.113.0/24]}}"))
    assert r.code == 1 and _diags(r) == [
        ("spec.network.vpc", "component 'cache' (redis, gcp-memorystore) needs spec.network.vpc")
    ]


def test_azure_needs_the_delegated_subnet_and_zone_of_the_engine(tmp_path):
    zones = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/n/providers/Microsoft.Network/privateDnsZones"
    r = _validate(tmp_path, _env("azure", f"{{privateDnsZones: {{postgres: {zones}/pg, redis: {zones}/redis}}}}"))
    assert r.code == 1
    assert _diags(r) == [
        (
            "spec.network.delegatedSubnets.postgres",
            "component 'db' (postgres, azure-flexible-server) needs spec.network.delegatedSubnets.postgres",
        ),
        (
            "spec.network.privateEndpointSubnetId",
            "component 'cache' (redis, azure-cache) needs spec.network.privateEndpointSubnetId",
        ),
    ]


@pytest.mark.parametrize(
    "network,path,words",
    [
        (
            "{vpc: projects/acme-shop-prod/global/networks/shop, vpcId: vpc-0123456789abcdef0}",
            "spec.network.vpcId",
            "spec.network.vpcId is not used on gcp",
        ),
        (
            "{vpc: projects/acme-shop-prod/global/networks/shop, publicAccess: {allowedCidrs: [10.0.0.1/8]}}",
            "spec.network.publicAccess.allowedCidrs[0]",
            "expected an IPv4 CIDR block",
        ),
        ("{vpc: 'projects/x/global/networks/shop; rm -rf /'}", "spec.network.vpc", "should match pattern"),
    ],
)
def test_bad_network_fields_are_errors_at_their_line(tmp_path, network, path, words):
    r = _validate(tmp_path, _env("gcp", network))
    assert r.code == 1
    assert any(p == path and words in s for p, s in _diags(r)), _diags(r)


def test_aws_works_without_a_network_and_public_access_needs_the_vpc(tmp_path):
    env = (ROOT / "examples" / "webshop" / "environments" / "prod.yaml").read_text()
    assert _validate(tmp_path, env).code == 0
    r = _validate(tmp_path, env + "  network: {publicAccess: {allowedCidrs: [203.0.113.0/24]}}\n")
    assert r.code == 1 and _diags(r) == [
        ("spec.network.vpcId", "component 'db' (postgres, aws-rds) needs spec.network.vpcId")
    ]


def test_webshop_on_gcp_gets_private_addresses_and_no_public_exposure(registry):
    compiled = compile_project(open_project(WEBSHOP), "gcp", registry)
    db = json.loads(compiled.rendered.files["terraform/db/main.tf.json"])["module"]["db"]
    cache = json.loads(compiled.rendered.files["terraform/cache/main.tf.json"])["module"]["cache"]
    assert (db["private_network"], db["allocated_ip_range"], db["authorized_networks"]) == (
        "projects/acme-webshop/global/networks/webshop",
        "webshop-services",
        [],
    )
    assert (cache["authorized_network"], cache["reserved_ip_range"]) == (
        "projects/acme-webshop/global/networks/webshop",
        "webshop-services",
    )


def test_webshop_on_azure_gets_private_endpoints_and_no_public_exposure(registry):
    compiled = compile_project(open_project(WEBSHOP), "azure", registry)
    modules = {
        u: json.loads(compiled.rendered.files[f"terraform/{u}/main.tf.json"])["module"][u]
        for u in ("db", "cache", "uploads")
    }
    assert modules["db"]["delegated_subnet_id"].endswith("/subnets/postgres") and modules["db"][
        "private_dns_zone_id"
    ].endswith("privatelink.postgres.database.azure.com")
    for unit, zone in (("cache", "redis.cache.windows.net"), ("uploads", "blob.core.windows.net")):
        assert modules[unit]["private_endpoint_subnet_id"].endswith("/subnets/endpoints") and modules[unit][
            "private_dns_zone_id"
        ].endswith(f"privatelink.{zone}")
    assert all(m["public_access_cidrs"] == [] for m in modules.values())


def test_a_network_without_a_cloud_is_refused(tmp_path):
    env = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: prod}\nspec:\n  network: {vpc: projects/acme-shop/global/networks/x}\n"
    r = _validate(
        tmp_path,
        env,
        "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  components:\n    - {name: w, type: worker, properties: {image: x}}\n",
    )
    assert r.code == 1 and _diags(r) == [
        ("spec", "network needs a cloud: it says where that cloud's resources are reachable from")
    ]
