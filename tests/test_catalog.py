"""The built-in catalog: schemas valid, contracts as DESIGN.md lists them, implementations offered."""

from __future__ import annotations

from composer.catalog import Catalog
from composer.catalog.schema import _check_schema

CONTRACTS = {
    "postgres": {"host": False, "port": False, "database": False, "username": False, "password": True, "url": True},
    "mysql": {"host": False, "port": False, "database": False, "username": False, "password": True, "url": True},
    "redis": {"host": False, "port": False, "url": True, "password": True},
    "bucket": {"name": False, "region": False, "endpoint": False, "id": False},
    "queue": {"name": False, "url": False, "id": False},
}


def test_builtin_parameter_schemas_are_valid_json_schema(registry):
    cat = Catalog.build(registry)
    for entry in [*cat.components.values(), *cat.traits.values()]:
        assert _check_schema(entry.schema) is None, entry.name


def test_output_contracts_match_design(registry):
    cat = Catalog.build(registry)
    for name, keys in CONTRACTS.items():
        outputs = cat.component(name).definition.spec.outputs
        assert {k: v.secret for k, v in outputs.items()} == keys, name


def test_every_resource_type_has_an_aws_implementation(registry):
    cat = Catalog.build(registry)
    for name in CONTRACTS:
        impls = cat.component(name).implementations
        assert [n for n, e in impls.items() if e.implementation.provider == "aws" and e.implementation.default], name


def test_builtin_types_and_traits(registry):
    cat = Catalog.build(registry)
    assert {
        "webservice",
        "worker",
        "task",
        "cron-task",
        "k8s-objects",
        "postgres",
        "mysql",
        "redis",
        "bucket",
        "queue",
        "terraform-module",
    } <= set(cat.components)
    assert {
        "scaler",
        "ingress",
        "resources",
        "probes",
        "env",
        "labels",
        "annotations",
        "sidecar",
        "volume",
        "hpa",
        "service-account",
    } <= set(cat.traits)
