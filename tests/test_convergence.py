"""Convergence (issue 13): reality probes before skipping, `appc drift`, repair by apply.

One end-to-end scenario on real Terraform against moto and the Kubernetes stand-in covers the
repair of a bucket deleted behind Composer's back, of a Deployment edited by another field
manager and of one deleted, `appc drift` before and after, policies.ignoreDrift, and the
counts of a no-op re-apply with probes on. A second one covers a probe that cannot answer.
The AWS probe is also driven directly on moto with boto3 (no Terraform), and the pure
decision in composer/engine/probes.py by values.
"""

from __future__ import annotations

import json

import boto3
import pytest

from composer.engine import probes
from composer.engine.drift import DriftItem, DriftReport, markdown
from composer.plugins import ProbedResource, ProbeRequest, ProbeResult
from composer.state.model import CloudResource, InventoryItem
from tests.helpers import appc
from tests.support.projects import cluster_env, make_project, token_component

BUCKET = "    - {name: files, type: bucket, properties: {force_destroy: true}}\n"
WEB = (
    "    - name: web\n      type: webservice\n      properties: {image: 'nginx:1.27', port: 8080}\n"
    "      traits: [{type: scaler, properties: {replicas: 2}}]\n"
)
DEPLOY = "/apis/apps/v1/namespaces/conv/deployments/web"


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def of_type(out: str, kind: str) -> list[dict]:
    return [e for e in events(out) if e.get("type") == kind]


class AwsCalls:
    """Counts AWS API requests made in this process at botocore's HTTP seam."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import botocore.endpoint

        self.services: list[str] = []
        original = botocore.endpoint.Endpoint.make_request

        def counted(endpoint, operation_model, request_dict):  # type: ignore[no-untyped-def]
            self.services.append(operation_model.service_model.service_name)
            return original(endpoint, operation_model, request_dict)

        monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", counted)


def _patch(kube, path: str, body: dict, manager: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        kube.api().call_api(
            path,
            "PATCH",
            query_params=[("fieldManager", manager)],
            header_params={"Content-Type": "application/strategic-merge-patch+json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
        )
    except ApiException as exc:  # pragma: no cover - the scenario cannot go on
        raise AssertionError(f"PATCH {path}: {exc.status} {exc.body}") from None


def _delete(kube, path: str) -> None:
    kube.api().call_api(path, "DELETE", auth_settings=["BearerToken"], _preload_content=False)


@pytest.mark.slow  # six Terraform runs (three drift plans with show): ~6 min on this shared machine
def test_apply_repairs_what_vanished_or_was_changed_and_drift_reports_it(tmp_path, moto, kube_clean, monkeypatch):
    env = cluster_env("conv").replace("spec:\n", "spec:\n  policies: {ignoreDrift: [Deployment.spec.replicas]}\n", 1)
    app = make_project(tmp_path, BUCKET + WEB, env=env, app="conv")
    kube_clean.set_auto_ready(True)
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json").code == 0
    s3 = boto3.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "files" in b["Name"])

    # The no-op re-apply with probes on: no Terraform, no write to the cluster, few AWS calls.
    kube_clean.reset_counters()
    calls = AwsCalls(monkeypatch)
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json", "--probe=strict")
    summary = of_type(r.out, "summary")[-1]
    assert r.code == 0, r.out + r.err
    assert summary["terraform_runs"] == 0 and summary["units_skipped"] == 2
    assert kube_clean.mutating() == 0
    assert 1 <= len(calls.services) <= 3 and set(calls.services) == {"resourcegroupstaggingapi"}
    assert of_type(r.out, "probes")[-1]["rerun"] == []

    # Behind Composer's back: the bucket goes; another manager edits the image and the replicas.
    s3.delete_bucket(Bucket=bucket)
    _patch(
        kube_clean,
        DEPLOY,
        {"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:evil"}]}}}},
        "kubectl-edit",
    )
    r = appc("drift", "-f", app, "-e", "test", "--json")
    assert r.code == 2, r.out + r.err
    items = of_type(r.out, "drift")[-1]["items"]
    gone = [i for i in items if i["unit"] == "files" and i["kind"] == "aws_s3_bucket"]
    assert gone and gone[0]["live"] == "(absent)" and not gone[0]["ignored"]
    image = [i for i in items if i["unit"] == "web" and i["attribute"].endswith(".image")]
    assert image and image[0]["live"] == '"nginx:evil"' and image[0]["desired"] == '"nginx:1.27"'
    replicas = [i for i in items if i["attribute"] == "spec.replicas"]
    assert replicas and replicas[0]["ignored"] and replicas[0]["live"] == "5"
    md = markdown(
        DriftReport([DriftItem(**{**i, "live": i["live"] and i["live"] + "|<b>"}) for i in items]), "conv", "test"
    )
    assert md.startswith("<!-- appc-drift: conv/test -->") and '"nginx:evil"\\|&lt;b&gt;' in md

    # A plain apply repairs both, says why each unit ran, and never reverts an ignored path.
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.out + r.err
    reasons = {e["unit"]: e["reason"] for e in of_type(r.out, "probe")}
    assert reasons["files"].startswith("bucket files: ") and "not found in the cloud; re-applying" in reasons["files"]
    assert "changed by another field manager" in reasons["web"]
    s3.head_bucket(Bucket=bucket)
    live = kube_clean.get(DEPLOY)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert live["spec"]["replicas"] == 5
    r = appc("drift", "-f", app, "-e", "test", "--json")
    assert r.code == 0, r.out
    assert [i["attribute"] for i in of_type(r.out, "drift")[-1]["items"]] == ["spec.replicas"]

    # A Deployment deleted behind Composer's back comes back with a plain apply.
    _delete(kube_clean, DEPLOY)
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0 and kube_clean.get(DEPLOY) is not None
    assert "Deployment web not found in the cluster" in {e["unit"]: e["reason"] for e in of_type(r.out, "probe")}["web"]


def test_a_probe_that_cannot_answer_fails_strict_and_reruns_lenient(tmp_path, moto, monkeypatch):
    # one Secrets Manager secret (fast), named for this test alone: moto is shared by a worker's tests
    app = make_project(tmp_path, token_component("blind"), app="blind")
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0
    # Only the tagging API is unreachable: Terraform (Secrets Manager) still works.
    monkeypatch.setenv("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--probe", "strict")
    assert r.code == 3
    assert (
        "terraform-module blind: cannot tell whether its resources still exist" in r.err and "--probe=lenient" in r.err
    )
    # The refusal is recorded, and `appc status` says why (offline: state only).
    r = appc("status", "-f", app, "-e", "test", "--json")
    (row,) = [e for e in r.events if e["type"] == "status"]
    assert (row["probe"]["verdict"], row["probe"]["mode"], row["status"]) == ("unanswerable", "strict", "applied")
    assert row["probe"]["detail"].startswith("the AWS probe failed") and "unanswerable" in row["note"]
    monkeypatch.setenv("CI", "1")
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve")  # CI: strict by default
    assert r.code == 3
    monkeypatch.setenv("COMPOSER_PROBE", "lenient")
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.out + r.err
    assert of_type(r.out, "summary")[-1]["terraform_runs"] >= 1
    assert "re-applying (--probe=lenient)" in of_type(r.out, "probe")[0]["reason"]
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json", "--probe=off")
    assert r.code == 0 and of_type(r.out, "summary")[-1]["terraform_runs"] == 0


def test_aws_probe_on_moto_answers_in_one_call_for_many_resources(moto):
    """62 tagged resources with 4 tags each: one GetResources call (the default page of 100 tags took 3)."""
    from composer.model.environment import Environment
    from providers.aws import plugin

    s3, sqs, sm = boto3.client("s3"), boto3.client("sqs"), boto3.client("secretsmanager")
    tags = [{"Key": "composer.dev/app", "Value": "p"}, {"Key": "composer.dev/env", "Value": "dev"}]
    tags += [{"Key": "composer.dev/component", "Value": "c"}, {"Key": "owner", "Value": "team"}]
    wanted = []
    for i in range(60):  # with every unit's tags, more than one page of the API's default page size
        s3.create_bucket(Bucket=f"p-dev-b{i}")
        s3.put_bucket_tagging(Bucket=f"p-dev-b{i}", Tagging={"TagSet": tags})
        wanted.append(ProbedResource(f"b{i}", "module.b.aws_s3_bucket.this", "aws_s3_bucket", f"p-dev-b{i}"))
    url = sqs.create_queue(QueueName="p-dev-q", tags={t["Key"]: t["Value"] for t in tags})["QueueUrl"]
    arn = sm.create_secret(Name="p-dev-s", SecretString="x", Tags=tags)["ARN"]
    wanted += [
        ProbedResource("q", "module.q.aws_sqs_queue.this", "aws_sqs_queue", url),
        ProbedResource("s", "module.s.aws_secretsmanager_secret.this", "aws_secretsmanager_secret", arn),
        ProbedResource(
            "s", "module.s.aws_secretsmanager_secret_version.this", "aws_secretsmanager_secret_version", "v"
        ),
    ]
    env = Environment.model_validate(
        {
            "apiVersion": "composer.dev/v1alpha1",
            "kind": "Environment",
            "metadata": {"name": "dev"},
            "spec": {"cloud": {"provider": "aws", "region": "us-east-1"}},
        }
    )
    result = plugin.probe(ProbeRequest(env, "p", tuple(wanted)))
    assert result.answered and result.missing == () and result.api_calls == 1
    assert [r.type for r in result.unseen] == ["aws_secretsmanager_secret_version"]
    s3.delete_bucket(Bucket="p-dev-b3")
    sqs.delete_queue(QueueUrl=url)
    result = plugin.probe(ProbeRequest(env, "p", tuple(wanted)))
    assert sorted(r.unit for r in result.missing) == ["b3", "q"]


def test_what_an_apply_left_and_what_the_probes_decide():
    before = (
        CloudResource(address="a.x", type="aws_s3_bucket", id="old"),
        CloudResource(address="a.y", type="t", id="y"),
    )
    after = probes.recorded_after_apply(before, [("a.x", "aws_s3_bucket", "new"), ("a.z", "t", "z")], ["a.y"])
    assert [(r.address, r.id) for r in after] == [("a.x", "new"), ("a.z", "z")]
    assert probes.recorded_after_apply(None, [], []) == ()

    item = InventoryItem(
        apiVersion="apps/v1",
        kind="Deployment",
        name="web",
        component="web",
        hash="h",
        uid="u1",
        resourceVersion="7",
        generation=2,
    )
    key = ("kube:c/ns", "Deployment", None, "web")
    status_only = probes.LiveObject("u1", "9", 2)  # a controller wrote status: not a change
    assert probes.kube_findings({key: item}, {key: status_only}) == []
    found = probes.kube_findings({key: item}, {key: probes.LiveObject("u1", "9", 3)})
    assert [f.verdict for f in found] == ["modified"]
    assert [f.verdict for f in probes.kube_findings({key: item}, {key: None})] == ["missing"]
    assert [f.verdict for f in probes.kube_findings({key: item}, {})] == ["unknown"]

    asked = [ProbedResource("db", "aws_db_instance.x", "aws_db_instance", "db-1")]
    unknown = probes.cloud_findings(asked, ProbeResult(False, reason="AccessDenied"))
    strict = probes.decide(unknown, "strict", {"db": "postgres"})
    assert strict.stale == {} and "postgres db: cannot tell" in strict.refusals[0].summary
    lenient = probes.decide(unknown, "lenient", {"db": "postgres"})
    assert lenient.refusals == [] and lenient.stale["db"].endswith("re-applying (--probe=lenient)")
    missing = probes.cloud_findings(asked, ProbeResult(True, missing=tuple(asked)))
    assert probes.decide(missing + unknown, "strict", {}).stale["db"].endswith("not found in the cloud; re-applying")
    assert probes.ignored_paths(["Deployment.spec.replicas", "api/Service.spec.type"], "web", "Deployment") == (
        "spec.replicas",
    )
    assert probes.default_mode(ci=True) == "strict" and probes.default_mode(ci=False) == "lenient"

    # State written before identities were recorded: the object is written once more to record them.
    from composer.state.model import StateDoc, UnitState

    old = item.model_copy(update={"uid": None, "resource_version": None, "generation": None})
    unrecorded = probes.decide(probes.kube_findings({key: old}, {key: status_only}), "strict", {"web": "webservice"})
    assert unrecorded.rewrite == {key} and "re-applying to record them" in unrecorded.stale["web"]
    state = StateDoc(
        app="a",
        environment="e",
        units={"web": UnitState(kind="kubernetes", type="webservice", hash="h", status="applied")},
        inventory={"kube:c/ns": (old,)},
    )
    forgotten = probes.forget(state, unrecorded.stale, unrecorded.rewrite)
    assert forgotten.units["web"].hash == "" and forgotten.inventory["kube:c/ns"][0].hash == ""
    assert StateDoc.model_validate_json(state.model_dump_json(by_alias=True)).inventory == state.inventory
    # A state document written before probes (no resources, no identities) still loads.
    doc = json.loads(state.model_dump_json(by_alias=True))
    del doc["units"]["web"]["resources"]
    for k in ("uid", "resourceVersion", "generation"):
        del doc["inventory"]["kube:c/ns"][0][k]
    older = StateDoc.model_validate_json(json.dumps(doc), strict=True)
    assert older.units["web"].resources is None and older.inventory["kube:c/ns"][0].uid is None
