"""`appc controller run --runner job` and per-Environment identities (issue 15): the Job a unit
runs as, the identity's variables for each cloud, the controller's credentials withheld from a
reconcile, the stand-in's TokenRequest, and one scenario where an Application with an AWS web
identity applies a bucket on moto through a Job (tests/support/kube_jobs.py runs it)."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from composer.controller import job_child
from composer.controller.reconcile import read_events
from composer.model.environment_identity import Identity
from composer.runners import controller_job_spec as spec
from composer.runners.appc_child import child_environment
from composer.runners.controller_job import pack
from composer.runners.controller_job_result import MAX_MESSAGE_BYTES, UnitResult, decode, encode, new_key
from composer.runners.terraform_stream import Changes
from composer.runners.web_identity import IdentityFiles, audience, gcp_credential_config, identity_environment
from tests.support import kube_psa
from tests.test_controller import _apply, _wait

ROLE = "arn:aws:iam::123456789012:role/team-a"
PROVIDER = "projects/123456/locations/global/workloadIdentityPools/ci-pool/providers/k8s-prod"
UUID = "0b5e3f1c-8d4a-4f6e-9c2b-7a1d2e3f4a5b"


def test_an_identity_names_exactly_one_cloud_and_is_in_the_crd():
    from pydantic import ValidationError

    from composer.controller.crds import environment_crd

    aws = Identity.model_validate({"aws": {"roleArn": ROLE, "serviceAccount": "deployer"}})
    assert aws.service_account == "deployer" and audience(aws) == "sts.amazonaws.com"
    for bad in (
        {},
        {"aws": {"roleArn": "role/x", "serviceAccount": "d"}},
        {"aws": aws.aws, "azure": None, "gcp": {"workloadIdentityProvider": PROVIDER, "serviceAccount": "d"}},
    ):
        with pytest.raises(ValidationError):
            Identity.model_validate(bad)
    schema = environment_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert set(schema["identity"]["properties"]) == {"aws", "gcp", "azure"}
    assert "roleArn" in schema["identity"]["properties"]["aws"]["properties"]


def test_each_cloud_gets_the_variables_of_its_token_exchange():
    files = IdentityFiles("/t/token", "/t/gcp.json")
    aws = Identity.model_validate({"aws": {"roleArn": ROLE, "serviceAccount": "deployer"}})
    env = identity_environment(aws, files, "team-a.shop")
    assert env["AWS_ROLE_ARN"] == ROLE and env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "/t/token"
    assert env["AWS_ROLE_SESSION_NAME"] == "team-a.shop" and env["AWS_SHARED_CREDENTIALS_FILE"] == "/dev/null"
    gcp = Identity.model_validate(
        {
            "gcp": {
                "workloadIdentityProvider": PROVIDER,
                "serviceAccount": "deployer",
                "impersonate": "deployer@acme-prod.iam.gserviceaccount.com",
            }
        }
    )
    assert identity_environment(gcp, files, "x")["GOOGLE_APPLICATION_CREDENTIALS"] == "/t/gcp.json"
    config = json.loads(gcp_credential_config(gcp, "/t/token"))
    assert config == {
        "type": "external_account",
        "audience": f"//iam.googleapis.com/{PROVIDER}",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {"file": "/t/token"},
        "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/deployer@acme-prod.iam.gserviceaccount.com:generateAccessToken",
    }
    assert audience(gcp) == f"https://iam.googleapis.com/{PROVIDER}"
    azure = Identity.model_validate({"azure": {"clientId": UUID, "tenantId": UUID, "serviceAccount": "deployer"}})
    env = identity_environment(azure, files, "x")
    assert env["AZURE_FEDERATED_TOKEN_FILE"] == env["ARM_OIDC_TOKEN_FILE_PATH"] == "/t/token"
    assert env["ARM_USE_OIDC"] == "true" and env["ARM_CLIENT_ID"] == env["AZURE_CLIENT_ID"] == UUID
    assert audience(azure) == "api://AzureADTokenExchange"


def test_a_child_with_an_identity_gets_none_of_the_controllers_credentials(monkeypatch):
    controller_env = {
        "AWS_ACCESS_KEY_ID": "AKIACONTROLLER",
        "AWS_SECRET_ACCESS_KEY": "controller-secret",
        "AWS_SESSION_TOKEN": "controller-session",
        "AWS_PROFILE": "admin",
        "AWS_ROLE_ARN": "arn:aws:iam::111111111111:role/controller",
        "GOOGLE_APPLICATION_CREDENTIALS": "/etc/gcp/admin.json",
        "ARM_CLIENT_SECRET": "azure-secret",
        "AZURE_CLIENT_SECRET": "azure-secret",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_REGION": "eu-west-1",
    }
    for key, value in controller_env.items():
        monkeypatch.setenv(key, value)
    inherited = child_environment()
    assert inherited["AWS_ACCESS_KEY_ID"] == "AKIACONTROLLER"  # no identity: today's behaviour
    own = {"AWS_ROLE_ARN": ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": "/p/token"}
    env = child_environment(own, inherit_credentials=False)
    leaked = {
        k
        for k, v in env.items()
        if v
        in {"AKIACONTROLLER", "controller-secret", "controller-session", "admin", "azure-secret", "/etc/gcp/admin.json"}
    }
    assert leaked == set(), leaked
    assert (
        env["AWS_ROLE_ARN"] == ROLE
        and env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
        and env["AWS_REGION"] == "eu-west-1"
    )
    # an identity the loader will reject still withholds the controller's credentials
    assert job_child.environment_identity({"spec": {"identity": {"aws": {"roleArn": "nope"}}}}) == (None, True)


def _request(files: dict[str, bytes]) -> spec.JobRequest:
    return spec.JobRequest(
        name="appc-shop-files-0a1b2c3d",
        namespace="team-a",
        app="shop",
        unit="files",
        verb="apply",
        image="ghcr.io/composer-dev/appc:1",
        service_account="deployer",
        deadline_s=900,
        files=files,
        env={"AWS_ROLE_ARN": ROLE},
        token_audience="sts.amazonaws.com",
    )


def test_the_job_is_restricted_bounded_and_carries_no_secret_outside_its_secret():
    files = {"terraform/files/main.tf.json": b"{}", "modules/m/main.tf": b"# m", "modules/m/blob": b"\xff\xfe"}
    req = _request(files)
    job = spec.job(req)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert kube_psa.violations(pod, "restricted") == []
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] == 900
    assert job["spec"]["ttlSecondsAfterFinished"] > 0 and job["spec"]["suspend"] is True
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert container["command"] == ["appc"] and container["args"][:2] == ["runner", "terraform-unit"]
    assert pod["serviceAccountName"] == "deployer" and pod["automountServiceAccountToken"] is False
    projected = next(v for v in pod["volumes"] if v["name"] == "identity")["projected"]["sources"][0]
    assert projected["serviceAccountToken"]["audience"] == "sts.amazonaws.com"
    owner = {"name": req.name, "uid": "u-1"}
    cm = spec.config_map(req, owner)
    assert (
        set(cm["data"].values()) == {"{}", "# m"}
        and base64.b64decode(next(iter(cm["binaryData"].values()))) == b"\xff\xfe"
    )
    secret = spec.secret(req, b'{"db_password": "hunter2"}', b"k", owner)
    assert "hunter2" not in json.dumps([job, cm])
    assert base64.b64decode(secret["data"][spec.VARIABLES_KEY]) == b'{"db_password": "hunter2"}'
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def test_the_result_is_encrypted_and_fits_a_termination_message():
    key = new_key()
    outputs = {"name": ("b-1", False), "password": ("hunter2", True)}
    seen = tuple((f"aws_s3_bucket.b{i}", "aws_s3_bucket", f"bucket-{i}-" + "x" * 40) for i in range(200))
    result = UnitResult(True, Changes(add=1, resources_seen=seen, outputs=outputs))
    message = encode(result, key)
    assert len(message) <= MAX_MESSAGE_BYTES and b"hunter2" not in message
    back = decode(message.decode(), key)
    assert back is not None and back.ok and back.changes.add == 1 and back.changes.outputs == outputs
    assert decode(message.decode(), new_key()) is None and decode("garbage", key) is None
    huge = UnitResult(True, Changes(outputs={f"o{i}": (secrets.token_hex(32), False) for i in range(100)}))
    dropped = decode(encode(huge, key).decode(), key)
    assert dropped is not None and dropped.ok and dropped.changes.outputs is None  # read from state instead


def test_a_unit_is_packed_with_the_modules_it_calls_and_nothing_of_terraforms(tmp_path):
    unit = tmp_path / "terraform" / "files"
    (unit / ".terraform" / "providers").mkdir(parents=True)
    (unit / "main.tf.json").write_text(json.dumps({"module": {"files": {"source": "../../modules/aws-bucket-1"}}}))
    (unit / ".terraform.lock.hcl").write_text("# lock")
    (unit / "appc.tfplan").write_bytes(b"plan")
    (unit / "terraform.tfstate").write_text("{}")
    (tmp_path / "modules" / "aws-bucket-1" / "sub").mkdir(parents=True)
    (tmp_path / "modules" / "aws-bucket-1" / "main.tf").write_text("# main")
    (tmp_path / "modules" / "aws-bucket-1" / "sub" / "x.tf").write_text("# x")
    (tmp_path / "modules" / "other").mkdir()
    (tmp_path / "modules" / "other" / "main.tf").write_text("# other")
    assert sorted(pack(unit)) == [
        "modules/aws-bucket-1/main.tf",
        "modules/aws-bucket-1/sub/x.tf",
        "terraform/files/.terraform.lock.hcl",
        "terraform/files/main.tf.json",
    ]


def test_the_stand_in_answers_token_requests(kube_clean):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(kube_clean.api())
    core.create_namespace({"metadata": {"name": "team-a"}})
    core.create_namespaced_service_account("team-a", {"metadata": {"name": "deployer"}})
    body = {"spec": {"audiences": ["sts.amazonaws.com"], "expirationSeconds": 900}}
    answer = core.create_namespaced_service_account_token("deployer", "team-a", body)
    claims = json.loads(base64.urlsafe_b64decode(answer.status.token.split(".")[1] + "=="))
    assert claims["aud"] == ["sts.amazonaws.com"] and claims["sub"] == "system:serviceaccount:team-a:deployer"
    assert claims["exp"] - claims["iat"] == 900 and answer.status.expiration_timestamp is not None
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_service_account_token("nobody", "team-a", body)
    assert missing.value.status == 404
    with pytest.raises(ApiException) as short:
        core.create_namespaced_service_account_token("deployer", "team-a", {"spec": {"expirationSeconds": 60}})
    assert short.value.status == 422


APPS = "/apis/composer.dev/v1alpha1/namespaces/team-a/applications"
STATE_BUCKET = "appc-state-team-a"


def _condition(kube: Any, name: str, kind: str) -> dict[str, Any]:
    conds = ((kube.get(f"{APPS}/{name}") or {}).get("status") or {}).get("conditions", [])
    return next((c for c in conds if c["type"] == kind), {})


@pytest.fixture
def job_controller(kube_clean, moto, tmp_path, monkeypatch):
    """The controller with `--runner job` (kopf in a thread) and a kubelet for its Jobs."""
    from composer.controller.manifests import InstallOptions, install_manifests
    from composer.controller.operator import Controller, ControllerOptions, serve_controller
    from tests.support.kube_jobs import JobExecutor
    from tests.support.terraform_env import terraform_env

    monkeypatch.setenv("TF_CLI_CONFIG_FILE", terraform_env(tmp_path)["TF_CLI_CONFIG_FILE"])
    # Terraform's AWS provider calls AssumeRoleWithWebIdentity at the STS endpoint, which the
    # global AWS_ENDPOINT_URL does not reach (boto3's does): an emulator needs it named.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto)
    kube_clean.set_auto_ready(False)  # the Jobs' pods and conditions are the executor's to write, as a node's are
    _apply(kube_clean, *install_manifests(InstallOptions())[:2])
    _wait("the CRDs", lambda: kube_clean.get("/apis/composer.dev/v1alpha1") is not None, 30)
    (tmp_path / "state").mkdir()
    runner = job_child.RunnerOptions("job", "ghcr.io/composer-dev/appc:test")
    opts = ControllerOptions(
        state_root=tmp_path / "state",
        workers=1,
        timeout_s=900,
        health_port=None,
        backoff_s=2,
        tick_s=600,
        runner=runner,
    )
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(serve_controller(Controller(opts), stop)), daemon=True
    )
    with JobExecutor(kube_clean.api(), tmp_path / "pods") as executor:
        thread.start()
        try:
            yield kube_clean, executor
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(30)


def _assumed_roles(moto_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json") as answer:
        return list(json.loads(answer.read()).get("sts", {}).get("AssumedRole", []))


def _appc_objects(kube: Any) -> list[str]:
    found = []
    for path in (
        "/apis/batch/v1/namespaces/team-a/jobs",
        "/api/v1/namespaces/team-a/configmaps",
        "/api/v1/namespaces/team-a/secrets",
    ):
        items = (kube.get(f"{path}?labelSelector=composer.dev/runner%3Dterraform-unit") or {}).get("items", [])
        found += [f"{path.rsplit('/', 1)[1]}/{i['metadata']['name']}" for i in items]
    return found


def test_a_bucket_is_applied_and_destroyed_through_jobs_under_the_environments_own_identity(job_controller, moto):
    """One scenario, real Terraform on moto: an Environment with an AWS web identity and S3 state,
    in a namespace enforcing the restricted Pod Security level. The Application's bucket is applied
    by a Job (its pod's token is the Environment's ServiceAccount's; no AWS key of the controller
    reaches the reconcile or the Job), the CR becomes Ready, the Job's objects are cleaned up, and
    deleting the CR destroys the bucket through a second Job."""
    import boto3

    kube, executor = job_controller
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=STATE_BUCKET)
    restricted = {"pod-security.kubernetes.io/enforce": "restricted"}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": restricted}}
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": "team-a"}}
    env_spec = {
        "cloud": {"provider": "aws", "region": "us-east-1"},
        "kubernetes": {"context": kube.context},
        "state": {"backend": "s3", "bucket": STATE_BUCKET},
        "identity": {"aws": {"roleArn": ROLE, "serviceAccount": "deployer"}},
    }
    env = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "dev", "namespace": "team-a"},
        "spec": env_spec,
    }
    files = {"name": "files", "type": "bucket", "properties": {"force_destroy": True}}
    app = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "namespace": "team-a"},
        "spec": {"components": [files]},
    }
    _apply(kube, namespace, account, env, app)
    try:
        _wait("Ready", lambda: _condition(kube, "shop", "Ready").get("status") == "True", 900)
    except AssertionError:
        raise AssertionError(f"{_condition(kube, 'shop', 'Degraded')} {executor.started} {executor.logs}") from None
    status = kube.get(f"{APPS}/shop")["status"]
    assert status["units"] == {"files": {"status": "applied"}}, (status, executor.logs)
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]} - {STATE_BUCKET}
    assert len(buckets) == 1, buckets
    assert len(executor.started) == 1, executor.started  # the unit ran as one Job
    pod_env = executor.environments[executor.started[0]]
    assert pod_env["AWS_ROLE_ARN"] == ROLE and Path(pod_env["AWS_WEB_IDENTITY_TOKEN_FILE"]).name == "token"
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(pod_env)
    sessions = {(r["role_arn"], r["session_name"]) for r in _assumed_roles(moto)}
    assert (ROLE, "shop.files") in sessions and (ROLE, "team-a.shop") in sessions, sessions  # the Job and the child
    assert {arn for arn, _ in sessions} == {ROLE}
    _wait("the Job's objects cleaned up", lambda: _appc_objects(kube) == [], 30)

    from kubernetes import dynamic

    client = dynamic.DynamicClient(kube.api())
    client.delete(
        client.resources.get(api_version="composer.dev/v1alpha1", kind="Application"), name="shop", namespace="team-a"
    )
    _wait("the CR gone", lambda: kube.get(f"{APPS}/shop") is None, 900)
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {STATE_BUCKET}  # 0 left of the app's
    assert len(executor.started) == 2, executor.started  # the destroy was a Job too
    assert _appc_objects(kube) == []


def test_the_job_runner_is_chosen_by_the_controller_and_refuses_local_state(monkeypatch):
    from composer.diagnostics import DiagnosticError
    from composer.model.environment import Environment
    from composer.runners.controller_job import JobTerraform, port_for
    from composer.runners.terraform import TerraformRunner

    local = TerraformRunner({})
    doc = {"apiVersion": "composer.dev/v1alpha1", "kind": "Environment", "metadata": {"name": "dev"}}
    s3 = Environment.model_validate({**doc, "spec": {"state": {"backend": "s3", "bucket": "b"}}})
    on_disk = Environment.model_validate(doc)
    monkeypatch.delenv("COMPOSER_RUNNER", raising=False)
    assert port_for(local, "shop", on_disk, 60) is local  # the CLI, and the controller's process runner
    for key, value in {
        "COMPOSER_RUNNER": "job",
        "AWS_ACCESS_KEY_ID": "AKIA1",
        "AWS_ENDPOINT_URL_S3": "http://s3",
    }.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(DiagnosticError) as refused:
        port_for(local, "shop", on_disk, 60)
    assert "shared backend" in refused.value.diagnostics[0].summary
    port = port_for(local, "shop", s3, 60)
    assert isinstance(port, JobTerraform)
    assert port.settings.settings_env.get("AWS_ENDPOINT_URL_S3") == "http://s3"
    assert "AWS_ACCESS_KEY_ID" not in port.settings.settings_env  # a Job gets settings, never keys


def test_a_gcp_identity_reaches_the_job_as_a_credential_configuration(tmp_path):
    from composer.runners.controller_job import JobSettings, JobTerraform
    from composer.runners.terraform import TerraformRunner

    unit = tmp_path / "terraform" / "db"
    unit.mkdir(parents=True)
    (unit / "main.tf.json").write_text("{}")
    gcp = Identity.model_validate({"gcp": {"workloadIdentityProvider": PROVIDER, "serviceAccount": "deployer"}})
    port = JobTerraform(TerraformRunner({}), JobSettings("img", "team-a", "shop", gcp), 600)
    req = port.request("db", unit, "apply")
    assert req.service_account == "deployer" and req.token_audience == f"https://iam.googleapis.com/{PROVIDER}"
    assert req.env["GOOGLE_APPLICATION_CREDENTIALS"] == f"{spec.INPUTS}/gcp-credentials.json"
    config = json.loads(req.files["gcp-credentials.json"])
    assert config["credential_source"] == {"file": spec.TOKEN_PATH}
    assert sorted(req.files) == ["gcp-credentials.json", "terraform/db/main.tf.json"]


def test_a_missing_service_account_is_a_problem_before_anything_is_written(kube_clean, tmp_path):
    """job_child.prepare against the stand-in's TokenRequest: an identity whose ServiceAccount
    does not exist gives a problem naming the account (the reconcile reports it as Degraded and
    starts no child), writes no token and withholds the controller's credentials; once the account
    exists, the token is written 0600 and the child gets the role's variables."""
    from kubernetes import client

    core = client.CoreV1Api(kube_clean.api())
    core.create_namespace({"metadata": {"name": "team-a"}})
    env_doc = {"spec": {"identity": {"aws": {"roleArn": ROLE, "serviceAccount": "deployer"}}}}
    missing = job_child.prepare(tmp_path, "team-a", "shop", env_doc, job_child.RunnerOptions(), 600)
    assert missing.problem is not None and "ServiceAccount team-a/deployer" in missing.problem, missing
    assert "404" in missing.problem and not missing.inherit_credentials
    assert list(tmp_path.iterdir()) == []
    core.create_namespaced_service_account("team-a", {"metadata": {"name": "deployer"}})
    found = job_child.prepare(tmp_path, "team-a", "shop", env_doc, job_child.RunnerOptions(), 600)
    token = tmp_path / job_child.IDENTITY_DIR / "token"
    assert found.problem is None and token.stat().st_mode & 0o777 == 0o600
    assert found.env["AWS_ROLE_ARN"] == ROLE and found.env["AWS_WEB_IDENTITY_TOKEN_FILE"] == str(token)
    job_child.clean_up(tmp_path)
    assert not token.exists()


def test_a_job_whose_pod_dies_without_a_result_reports_its_end_and_masked_log(kube_clean, tmp_path):
    """--runner job, on the stand-in with its kubelet (tests/support/kube_jobs.py): a unit's pod
    killed for memory leaves no termination message; the unit's failure says how it ended and
    ends with the tail of the pod's log, the Job's secret values masked. A pod whose image never
    pulls fails at the Job's deadline with what kept it waiting. Nothing of the Job is left."""
    from kubernetes import client

    from composer.engine.ports import TerraformFailure
    from composer.runners.controller_job import JobSettings, JobTerraform
    from composer.runners.controller_job_logs import TAIL_CHARS
    from composer.runners.terraform import TerraformRunner
    from tests.support.kube_jobs import ContainerFault, JobExecutor

    kube_clean.set_auto_ready(False)
    client.CoreV1Api(kube_clean.api()).create_namespace({"metadata": {"name": "team-a"}})
    unit = tmp_path / "terraform" / "files"
    unit.mkdir(parents=True)
    (unit / "main.tf.json").write_text("{}")
    password = "hunter2-" + secrets.token_hex(8)
    lines = [f"step {i}: working" for i in range(200)]
    lines += [f'panic: provider said {{"password":"{password}"}}', "fatal error: runtime: out of memory"]
    port = JobTerraform(TerraformRunner({}), JobSettings("img", "team-a", "shop", poll_s=0.2), 60)
    with JobExecutor(kube_clean.api(), tmp_path / "pods", poll_s=0.2) as executor:
        executor.fail_next(ContainerFault("OOMKilled", "\n".join(lines) + "\n"))
        with pytest.raises(TerraformFailure) as failed:
            port.apply("files", unit, variables={"db_password": password, "region": "us-east-1"})
        diag = failed.value.diagnostics[0]
        assert "ended without a result (OOMKilled, exit 137)" in diag.summary, diag
        assert "ran out of memory" in diag.summary and diag.address == "files"
        assert diag.detail.endswith("fatal error: runtime: out of memory"), diag.detail
        assert '"password":"(sensitive)"' in diag.detail and password not in diag.detail
        assert "step 199" in diag.detail and "step 0:" not in diag.detail and len(diag.detail) < TAIL_CHARS + 40

        executor.fail_next(ContainerFault("ImagePullBackOff", 'Back-off pulling image "img"', waiting=True))
        short = JobTerraform(TerraformRunner({}), JobSettings("img", "team-a", "shop", poll_s=0.2), 2)
        with pytest.raises(TerraformFailure) as never:
            short.apply("files", unit, variables={})
        summary = never.value.diagnostics[0].summary
        assert "failed: DeadlineExceeded" in summary, summary
        assert 'its container never started: ImagePullBackOff: Back-off pulling image "img"' in summary, summary
    assert _appc_objects(kube_clean) == []


def test_a_condition_message_carries_the_diagnostic_detail_and_keeps_its_end():
    from composer.controller.reconcile import MESSAGE_CHARS

    tail = "\n".join(f"line {i}" for i in range(400)) + "\nfatal: out of memory"
    event = {"type": "unit", "unit": "files", "status": "failed"}
    event["diagnostics"] = [{"severity": "error", "summary": "the Job x ended without a result", "detail": tail}]
    out = read_events(1, json.dumps(event) + "\n", "")
    assert out.message.startswith("the Job x ended without a result; …") and len(out.message) <= MESSAGE_CHARS
    assert out.message.endswith("fatal: out of memory")
    short = {**event, "diagnostics": [{"severity": "error", "summary": "boom", "detail": "why"}]}
    assert read_events(1, json.dumps(short) + "\n", "").message == "boom; why"
