"""The environment tier: production flips the built-in modules' durable defaults on every cloud
and protects every stateful unit; development keeps the fast, cheap defaults."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from composer.diagnostics import DiagnosticError
from composer.project import compile_project, open_project
from composer.state.model import UnitState, new_state
from tests.helpers import ROOT, appc

WEBSHOP = ROOT / "examples" / "webshop"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def module_inputs(files: dict[str, bytes], component: str) -> dict:
    return json.loads(files[f"terraform/{component}/main.tf.json"])["module"][component]


def webshop_in(tmp_path: Path, env: str, **spec) -> dict[str, bytes]:
    """The webshop with one of its environments changed (spec fields set or, with None, removed)."""
    from composer.plugins import PluginRegistry

    return compile_project(
        open_project(webshop_copy(tmp_path, env, **spec)), env, PluginRegistry.discover()
    ).rendered.files


def webshop_copy(tmp_path: Path, env: str, **spec) -> Path:
    shutil.copytree(WEBSHOP, tmp_path / "webshop")
    path = tmp_path / "webshop" / "environments" / f"{env}.yaml"
    doc = yaml.safe_load(path.read_text())
    for k, v in spec.items():
        if v is None:
            doc["spec"].pop(k, None)
        else:
            doc["spec"][k] = v
    path.write_text(yaml.safe_dump(doc))
    return tmp_path / "webshop" / "app.yaml"


def test_production_webshop_has_deletion_protection_multi_az_and_backups(registry):
    """The golden production-tier render (tests/golden/examples/webshop/prod), field by field."""
    files = compile_project(open_project(WEBSHOP / "app.yaml"), "prod", registry).rendered.files
    db = module_inputs(files, "db")
    assert db["deletion_protection"] is True and db["skip_final_snapshot"] is False
    assert db["multi_az"] is True and db["backup_retention_days"] == 14
    assert db["delete_automated_backups"] is False  # the backups outlive the instance
    cache = module_inputs(files, "cache")
    assert cache["multi_az"] is True  # a replication group: a replica in another zone, failover
    assert cache["snapshot_retention_days"] == 7 and cache["final_snapshot"] is True
    uploads = module_inputs(files, "uploads")
    assert uploads["versioning"] is True and uploads["force_destroy"] is False


def test_development_keeps_todays_defaults(tmp_path):
    files = webshop_in(tmp_path, "prod", tier=None, overrides={})
    db = module_inputs(files, "db")
    # the module's own defaults (modules/aws/database/variables.tf), as before the tier existed
    assert db["deletion_protection"] is False and db["skip_final_snapshot"] is True
    assert db["multi_az"] is False and db["backup_retention_days"] is None and db["kms_key_id"] is None
    cache = module_inputs(files, "cache")
    assert cache["snapshot_retention_days"] == 0 and cache["final_snapshot"] is False


def test_a_customer_managed_key_reaches_secrets_and_storage(tmp_path):
    files = webshop_in(
        tmp_path, "prod", cloud={"provider": "aws", "region": "eu-west-1", "account": "123456789012", "kmsKey": KEY}
    )
    for component in ("db", "cache", "uploads", "orders"):
        assert module_inputs(files, component)["kms_key_id"] == KEY, component


def golden_production(case: str, registry) -> dict[str, bytes]:
    """The production-tier golden case of a cloud (tests/golden/<case>/environments/production.yaml)."""
    return compile_project(
        open_project(ROOT / "tests" / "golden" / case / "app.yaml"), "production", registry
    ).rendered.files


def test_production_on_gcp_is_regional_protected_backed_up_and_keyed(registry):
    files = golden_production("gcp", registry)
    key = "projects/acme-shop-prod/locations/europe-west1/keyRings/shop/cryptoKeys/data"
    for component in ("db", "legacy"):  # postgres and mysql
        db = module_inputs(files, component)
        assert db["availability_type"] == "REGIONAL" and db["deletion_protection"] is True, component
        # backups with point-in-time recovery are the module default (backup_enabled); production keeps
        # 30 of them, and keeps them after the instance is deleted (Cloud SQL's "final" backups)
        assert "backup_enabled" not in db and db["retained_backups"] == 30 and db["retain_backups_on_delete"] is True
    cache = module_inputs(files, "cache")
    assert cache["tier"] == "STANDARD_HA" and cache["rdb_snapshot_period"] == "TWENTY_FOUR_HOURS"
    uploads = module_inputs(files, "uploads")
    assert (
        uploads["versioning"] is True
        and uploads["force_destroy"] is False
        and uploads["soft_delete_retention_days"] == 30
    )
    for component in ("db", "legacy", "cache", "uploads", "jobs"):  # stores and their connection secrets
        assert module_inputs(files, component)["kms_key_name"] == key, component


def test_production_on_azure_is_zone_redundant_geo_backed_up_and_locked(registry):
    files = golden_production("azure", registry)
    key = "https://shop-prod-kv.vault.azure.net/keys/data"
    for component, sku in (("db", "GP_Standard_D2ds_v5"), ("legacy", "GP_Standard_D2ads_v5")):
        db = module_inputs(files, component)
        assert db["zone_redundant"] is True and db["sku_name"] == sku, component  # Burstable has no HA
        assert db["backup_retention_days"] == 35 and db["delete_lock"] is True
        # the environment's key encrypts the server; geo-redundant backup would need a second key
        assert db["customer_managed_key_id"] == key and db["geo_redundant_backup"] is False
    cache = module_inputs(files, "cache")
    assert cache["sku_name"] == "Standard" and cache["delete_lock"] is True  # never Basic (one node)
    uploads = module_inputs(files, "uploads")
    assert (
        uploads["versioning"] is True and uploads["soft_delete_retention_days"] == 30 and uploads["delete_lock"] is True
    )
    assert uploads["customer_managed_key_id"] == key


def test_production_on_azure_without_a_key_copies_backups_to_the_paired_region(tmp_path):
    db = module_inputs(webshop_in(tmp_path, "azure", tier="production"), "db")
    assert db["geo_redundant_backup"] is True and db["customer_managed_key_id"] is None


# The inputs the production tier sets, and the value that changes nothing (the module's default).
DURABILITY_INPUTS = (
    "multi_az",
    "retained_backups",
    "retain_backups_on_delete",
    "kms_key_name",
    "rdb_snapshot_period",
    "soft_delete_retention_days",
    "zone_redundant",
    "geo_redundant_backup",
    "delete_lock",
    "zones",
    "customer_managed_key_id",
    "delete_automated_backups",
)


@pytest.mark.parametrize("cloud,env", [("aws", "local"), ("gcp", "gcp"), ("azure", "azure")])
def test_development_passes_the_modules_own_defaults(cloud, env, registry):
    """The development tier stays what it was before the production tier: every durability input
    it passes is the module's own default (modules/<cloud>/<module>/variables.tf)."""
    import hcl2

    files = compile_project(open_project(WEBSHOP / "app.yaml"), env, registry).rendered.files
    checked = 0
    for name in (n for n in files if n.startswith("terraform/") and n.endswith("main.tf.json")):
        component = name.split("/")[1]
        inputs = module_inputs(files, component)
        module = ROOT / "modules" / cloud / inputs["source"].rsplit("/", 1)[1].split("-")[1]
        with open(module / "variables.tf") as fh:
            defaults = {k.strip('"'): v.get("default") for block in hcl2.load(fh)["variable"] for k, v in block.items()}
        for key in DURABILITY_INPUTS:
            if key in inputs:
                assert inputs[key] == defaults[key], (component, key, inputs[key], defaults[key])
                checked += 1
    assert checked >= 2  # the test saw inputs to check


def test_an_unknown_tier_is_a_diagnostic(tmp_path):
    shutil.copytree(WEBSHOP, tmp_path / "webshop")
    path = tmp_path / "webshop" / "environments" / "dev.yaml"
    path.write_text(path.read_text().replace("spec:\n", "spec:\n  tier: staging\n", 1))
    r = appc("validate", "-f", str(tmp_path / "webshop" / "app.yaml"), "-e", "dev")
    assert r.code == 1 and "tier" in r.err and "production" in r.err, r.err


def test_production_protects_every_stateful_unit_even_a_removed_one(tmp_path, registry):
    from composer.cli.wiring import RunOptions, running_engine

    compiled = compile_project(open_project(webshop_copy(tmp_path, "local", tier="production")), "local", registry)
    state = new_state("webshop", "prod").with_unit(
        "legacy-db", UnitState(kind="terraform", type="postgres", hash="x", status="applied")
    )
    with running_engine(
        compiled, registry, RunOptions(), emit=lambda *a, **k: None, should_stop=lambda: False
    ) as engine:
        engine._begin(state)
        for unit in ("db", "cache", "uploads", "orders", "legacy-db"):  # the env lists no policies.protect
            with pytest.raises(DiagnosticError) as exc:
                engine.refuse_protected([unit], "prune")
            assert f"refusing to prune protected unit {unit}" in exc.value.diagnostics[0].summary
        engine.refuse_protected(["api", "worker"], "prune")  # workloads are not stateful


def test_plan_shows_the_tier(tmp_path):
    env = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: live}\nspec:\n  tier: production\n  kubernetes: {directory: out, namespace: shop}\n"
    app = "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  components:\n    - {name: w, type: worker, properties: {image: x:1, cpu: 1, memory: 1Gi}}\n"
    from tests.helpers import write

    write(tmp_path, {"app.yaml": app, "environments/live.yaml": env})
    r = appc("plan", "-f", str(tmp_path / "app.yaml"), "-e", "live", "--json")
    assert r.code in (0, 2), r.err
    assert [e for e in r.events if e.get("type") == "tier"] == [
        {"type": "tier", "environment": "live", "tier": "production"}
    ]
    r = appc("plan", "-f", str(tmp_path / "app.yaml"), "-e", "live")
    assert "tier production" in r.out + r.err


@pytest.mark.slow  # two terraform init + validate: about 50 s on a loaded 2-core machine
def test_terraform_validates_the_production_roots_on_aws(tmp_path, registry):
    """The production tier's AWS inputs (the multi-AZ replication group, the RDS backups) are
    accepted by Terraform and the provider's own schema. GCP and Azure cannot be validated here:
    only the hashicorp/aws provider is in the test machines' mirror (test_module_schema checks them
    against the recorded schemas instead)."""
    import subprocess

    from tests.support.terraform_env import terraform_env

    env = terraform_env(tmp_path)
    files = compile_project(open_project(WEBSHOP / "app.yaml"), "prod", registry).rendered.files
    for name, data in files.items():
        if name.startswith(("terraform/", "modules/")):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(data)
    for unit in ("cache", "db"):
        root = tmp_path / "terraform" / unit
        for args in (["init", "-backend=false", "-input=false"], ["validate", "-json"]):
            run = subprocess.run(["terraform", *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
            assert run.returncode == 0, (unit, args, run.stdout[-2000:], run.stderr[-2000:])
        assert json.loads(run.stdout)["valid"] is True, unit
