"""`appc plan` probes like apply (issue 13): a unit whose resources vanished behind Composer's
back is planned (a change, with the probe's reason) and `--detailed-exitcode` exits 2; the plan
only reads (state, the cloud and the cluster are as they were); a plan saved with `--out`
applies the units it planned. One scenario on real Terraform against moto and the Kubernetes
API stand-in (one Secrets Manager unit, the fastest resource there is), and the plan text by
values."""

from __future__ import annotations

import json

import boto3
import pytest

from composer.cli.planview import plan_markdown, plan_text
from composer.engine.outcome import Outcome, RunResult
from composer.state.model import StateDoc
from tests.helpers import appc
from tests.support.projects import cluster_env, make_project, token_component

WEB = "    - {name: web, type: webservice, properties: {image: 'nginx:1.27', port: 8080}}\n"
API = "    - {name: api, type: worker, properties: {image: 'nginx:1.27'}}\n"
DEPLOY = "/apis/apps/v1/namespaces/pplan/deployments/web"
API_DEPLOY = "/apis/apps/v1/namespaces/pplan/deployments/api"


def of_type(out: str, kind: str) -> list[dict]:
    return [e for e in (json.loads(x) for x in out.splitlines() if x.startswith("{")) if e.get("type") == kind]


def edit_image_as_another_manager(kube, path: str, container: str, image: str) -> None:
    """What `kubectl edit` does to a Deployment Composer applied: another field manager's patch."""
    edit = {"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}
    kube.api().call_api(
        path,
        "PATCH",
        query_params=[("fieldManager", "kubectl-edit")],
        header_params={"Content-Type": "application/strategic-merge-patch+json"},
        body=edit,
        auth_settings=["BearerToken"],
        _preload_content=False,
    )


def test_plan_shows_what_vanished_with_the_reason_and_only_reads(tmp_path, moto, kube_clean, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    app = make_project(tmp_path, token_component("a") + WEB + API, env=cluster_env("pplan"), app="pplan")
    kube_clean.set_auto_ready(True)
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0
    r = appc("plan", "-f", app, "-e", "test", "--detailed-exitcode", "--json", "--probe=strict")
    assert r.code == 0, r.out + r.err  # nothing vanished: no changes, no Terraform run
    assert of_type(r.out, "summary")[-1]["terraform_runs"] == 0 and of_type(r.out, "probes")[-1]["rerun"] == []

    sm = boto3.client("secretsmanager")
    sm.delete_secret(SecretId="a-token", ForceDeleteWithoutRecovery=True)
    kube_clean.api().call_api(DEPLOY, "DELETE", auth_settings=["BearerToken"], _preload_content=False)
    edit_image_as_another_manager(kube_clean, API_DEPLOY, "api", "nginx:evil")
    state_file = tmp_path / ".composer" / "test.state.json"
    before = state_file.read_bytes()
    kube_clean.reset_counters()
    saved = tmp_path / "repair.plan"
    r = appc("plan", "-f", app, "-e", "test", "--detailed-exitcode", "--json", "--out", str(saved))
    assert r.code == 2, r.out + r.err
    units = {e["unit"]: e for e in of_type(r.out, "unit")}
    assert units["a"]["reason"].startswith("terraform-module a: module.a.aws_secretsmanager_secret.this (")
    assert units["a"]["reason"].endswith("not found in the cloud; re-applying")
    assert units["a"]["changes"]["add"] == 1
    assert units["web"]["reason"] == "webservice web: Deployment web not found in the cluster; re-applying"
    assert [(c["address"], c["action"]) for c in units["web"]["resources"]] == [("Deployment pplan/web", "create")]
    # Changed by another manager: previewed as apply will take it back (the field-level diff).
    assert units["api"]["reason"] == "worker api: Deployment api was changed by another field manager; re-applying"
    (change,) = units["api"]["resources"]
    assert (change["address"], change["action"]) == ("Deployment pplan/api", "update")
    assert [(a["old"], a["new"]) for a in change["attributes"] if a["path"].endswith(".image")] == [
        ('"nginx:evil"', '"nginx:1.27"')
    ]
    assert of_type(r.out, "summary")[-1]["changes_present"] is True
    # The plan only read (besides the plan file): state byte for byte, no write to the cluster, nothing created in the cloud.
    assert state_file.read_bytes() == before
    assert kube_clean.mutating() == 0 and kube_clean.get(DEPLOY) is None
    assert kube_clean.get(API_DEPLOY)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:evil"
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId="a-token")
    # Hashes alone see nothing.
    assert appc("plan", "-f", app, "-e", "test", "--detailed-exitcode", "--probe=off").code == 0

    # The saved plan applies every unit it planned, though their hashes are unchanged: the
    # Terraform unit with its saved plan, the Kubernetes units the probe found changed (regression:
    # they were left out), each with the reason the plan showed.
    r = appc("apply", "-f", app, "-e", "test", str(saved), "--json")
    assert r.code == 0, r.out + r.err
    assert of_type(r.out, "summary")[-1]["terraform_runs"] >= 1
    sm.describe_secret(SecretId="a-token")
    applied = {e["unit"]: e for e in of_type(r.out, "unit")}
    assert {n: (applied[n]["status"], applied[n]["reason"]) for n in ("a", "web", "api")} == {
        n: ("applied", units[n]["reason"]) for n in ("a", "web", "api")
    }
    assert kube_clean.get(DEPLOY) is not None
    assert kube_clean.get(API_DEPLOY)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    r = appc("plan", "-f", app, "-e", "test", "--detailed-exitcode", "--probe=strict")
    assert r.code == 0, r.out + r.err  # repaired: nothing left to change


def test_a_saved_plans_repairs_are_signed_and_checked(tmp_path):
    """The repairs section is part of the signed document: an edit is refused like any other,
    and a section naming a unit the model lacks is refused even when signed."""
    from types import SimpleNamespace

    from composer.diagnostics import DiagnosticError
    from composer.engine.plan_repairs import PlannedRepairs, repairs_from_json
    from composer.engine.planfile import decode_plan, encode_plan

    compiled = SimpleNamespace(
        resolved=SimpleNamespace(name="a", environment=SimpleNamespace(name="e")),
        rendered=SimpleNamespace(files={"kubernetes/web.yaml": b"x"}),
        graph=SimpleNamespace(order=["web"]),
    )
    state = StateDoc(app="a", environment="e", serial=3)
    key = b"k" * 32
    planned = Outcome("web", "kubernetes", "planned", {"add": 1, "change": 0, "remove": 0}, reason="gone")
    result = RunResult("plan", {"web": planned}, state, 0, 0.1)
    repairs = PlannedRepairs({"web": "gone"}, frozenset({("default", "Deployment", "ns", "web")}), frozenset())
    data = encode_plan(compiled, state, result, {}, key, repairs)
    assert decode_plan(tmp_path / "p", data, compiled, state, key).repairs == repairs
    edited = data.replace(b'"gone"', b'"went"')
    with pytest.raises(DiagnosticError, match="signature does not match"):
        decode_plan(tmp_path / "p", edited, compiled, state, key)
    assert repairs_from_json(repairs.to_json(), ["db"]) is None  # a unit the model lacks
    assert repairs_from_json({"reasons": {}, "rewrite": [["t", "Kind"]], "reclaim": []}, ["web"]) is None
    assert repairs_from_json(None, ["web"]) == PlannedRepairs()  # a plan of an earlier appc


def test_plan_text_says_why_an_unchanged_unit_is_planned():
    reason = "bucket files: module.files.aws_s3_bucket.this (b) not found in the cloud; re-applying"
    planned = Outcome("files", "terraform", "planned", {"add": 1, "change": 0, "remove": 0}, reason=reason)
    result = RunResult("plan", {"files": planned}, StateDoc(app="a", environment="e"), 1, 0.1)
    lines = [t.plain for t in plan_text(result, ["files"], {"files"})]
    md = plan_markdown("a", "e", result, ["files"], {"files"})
    assert f"Planned because their resources are not as the last apply left them:\n- `files`: {reason}\n" in md
    assert lines == [
        "files (terraform): update",
        f"  because {reason}",
        "  +1 ~0 -0",
        "Plan: 1 to add, 0 to change, 0 to destroy.",
    ]
