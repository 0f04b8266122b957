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
    cache = module_inputs(files, "cache")
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


def test_production_on_gcp_is_regional_protected_and_replicated(tmp_path):
    files = webshop_in(tmp_path, "gcp", tier="production")
    db = module_inputs(files, "db")
    assert (
        db["availability_type"] == "REGIONAL"
        and db["deletion_protection"] is True
        and db.get("backup_enabled", True) is True
    )  # the module default: backups with PITR
    assert module_inputs(files, "cache")["tier"] == "STANDARD_HA"


def test_production_on_azure_keeps_backups_longer_and_replicates_redis(tmp_path):
    files = webshop_in(tmp_path, "azure", tier="production")
    assert module_inputs(files, "db")["backup_retention_days"] == 35
    assert module_inputs(files, "cache")["sku_name"] == "Standard"
    assert module_inputs(files, "uploads")["soft_delete_retention_days"] == 30


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
