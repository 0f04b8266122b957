"""Provider plugins: SDK preflight, state-backend bootstrap (`appc init`), unit status, secret
stores, generated inputs, and the modules' contracts.

- AWS runs for real against moto (the `moto` fixture): boto3 for preflight/bootstrap/status and
  Terraform's own s3 backend with a DynamoDB lock, configured by environment variables only.
- GCP and Azure run through their SDKs' own HTTP transports against local HTTPS stand-ins of the
  documented REST APIs (tests/support/cloud_apis.py explains why and what they answer). There is
  no google or azurerm Terraform provider here, so their modules are checked statically: terraform
  fmt, the output contract, the input mapping, and golden renders (tests/golden/gcp, azure).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import boto3
import pytest

from composer.catalog import Catalog
from composer.diagnostics import DiagnosticError
from composer.model.definitions import TerraformImplementation
from composer.plugins import PluginRegistry, PreflightRequest, SecretRequest
from composer.project import compile_project, open_project
from tests.helpers import ROOT, appc, write
from tests.support.projects import ENTRY_DEFINITION, ENTRY_MODULE
from tests.support.terraform_env import require_terraform

MODULES = ROOT / "modules"
CLOUDS = ("aws", "gcp", "azure")

AWS_ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  cloud: {provider: aws, region: REGION}
  kubernetes: {directory: deploy, namespace: t, secretStore: {name: aws-secrets}}
  STATE
"""
S3_STATE = "state: {backend: s3, bucket: shop-tfstate, lock: dynamodb}"
FILES = "    - {name: files, type: bucket, properties: {force_destroy: true}}\n"


def aws_project(
    root: Path, state: str = "", region: str = "us-east-1", components: str = FILES, extra: dict | None = None
) -> Path:
    env = AWS_ENV.replace("REGION", region).replace("STATE", state)
    files = {
        "app.yaml": f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  components:\n{components}",
        "environments/test.yaml": env,
        **(extra or {}),
    }
    write(root, files)
    return root / "app.yaml"


def events(result, type_: str) -> list[dict]:
    return [e for e in result.events if e["type"] == type_]


# -- AWS: preflight --------------------------------------------------------------------------------


@pytest.fixture
def no_aws_credentials(moto, monkeypatch, tmp_path):
    """No credential source at all: no keys, empty shared files, no instance metadata."""
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_aws_preflight_names_the_identity(tmp_path, moto):
    app = aws_project(tmp_path)
    r = appc("init", "-f", app, "-e", "test", "--json")
    assert r.code == 0, r.err
    (pre,) = events(r, "preflight")
    assert pre["provider"] == "aws" and pre["identity"].startswith("arn:aws:")
    assert events(r, "backend") == [] and r.events[-1]["backend"] == "local"


def test_aws_without_credentials_is_exit_1_before_any_terraform_run(tmp_path, no_aws_credentials):
    app = aws_project(tmp_path)
    r = appc("init", "-f", app, "-e", "test")
    assert r.code == 1 and "no AWS credentials found" in r.err and "Traceback" not in r.err
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 1, r.err
    (diag,) = events(r, "diagnostic")
    assert "no AWS credentials found" in diag["summary"] and "AWS_PROFILE" in diag["detail"]
    assert not list(tmp_path.glob(".composer/roots/**/.terraform")), "terraform ran before the credentials were checked"


def test_aws_region_that_does_not_exist_is_exit_1(tmp_path, moto):
    app = aws_project(tmp_path, region="eu-nowhere-9")
    r = appc("init", "-f", app, "-e", "test")
    assert r.code == 1 and "AWS region 'eu-nowhere-9' does not exist" in r.err


# -- AWS: state backend bootstrap ------------------------------------------------------------------


def test_aws_init_creates_the_state_bucket_and_lock_table_then_reports_them_present(tmp_path, moto):
    app = aws_project(tmp_path, S3_STATE)
    r = appc("init", "-f", app, "-e", "test", "--json")
    assert r.code == 0, r.err
    assert [(e["kind"], e["name"], e["action"]) for e in events(r, "backend")] == [
        ("s3 bucket", "shop-tfstate", "created"),
        ("dynamodb table", "shop-tfstate-lock", "created"),
    ]
    assert r.events[-1] | {"duration_s": 0} == {
        "type": "summary",
        "command": "init",
        "ok": True,
        "exit_code": 0,
        "units_changed": 0,
        "units_skipped": 0,
        "terraform_runs": 0,
        "k8s_writes": 0,
        "backend": "s3",
        "created": 2,
        "present": 0,
        "duration_s": 0,
    }

    s3 = boto3.client("s3")
    assert s3.get_bucket_versioning(Bucket="shop-tfstate")["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket="shop-tfstate")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_public_access_block(Bucket="shop-tfstate")["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    table = boto3.client("dynamodb").describe_table(TableName="shop-tfstate-lock")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "LockID", "AttributeType": "S"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    again = appc("init", "-f", app, "-e", "test", "--json")
    assert again.code == 0, again.err
    assert [(e["name"], e["action"]) for e in events(again, "backend")] == [
        ("shop-tfstate", "present"),
        ("shop-tfstate-lock", "present"),
    ]
    assert events(again, "backend")[0]["detail"] == "versioning enabled"
    text = appc("init", "-f", app, "-e", "test")
    assert "0 created, 2 already present" in text.out


def test_aws_init_leaves_a_present_bucket_as_it_is(tmp_path, moto):
    boto3.client("s3").create_bucket(Bucket="shop-tfstate")
    app = aws_project(tmp_path, "state: {backend: s3, bucket: shop-tfstate}")
    r = appc("init", "-f", app, "-e", "test", "--json")
    assert r.code == 0, r.err
    (b,) = events(r, "backend")
    assert b["action"] == "present" and b["detail"].startswith("versioning not enabled (left as it is")
    assert "Status" not in boto3.client("s3").get_bucket_versioning(Bucket="shop-tfstate")


def test_aws_init_refuses_a_lock_table_with_another_key(tmp_path, moto):
    boto3.client("dynamodb").create_table(
        TableName="shop-tfstate-lock",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    r = appc("init", "-f", aws_project(tmp_path, S3_STATE), "-e", "test")
    assert r.code == 1 and "exists with another key schema" in r.err


@pytest.mark.parametrize("command", ["apply", "plan"])
def test_a_missing_state_bucket_fails_naming_appc_init(tmp_path, moto, command):
    app = aws_project(tmp_path, "state: {backend: s3, bucket: shop-tfstate}")
    r = appc(command, "-f", app, "-e", "test", *(["--auto-approve"] if command == "apply" else []))
    assert r.code == 1, r.err
    assert "the state bucket 'shop-tfstate' does not exist" in r.err and "appc init -e test" in r.err
    assert "Traceback" not in r.err


def test_a_missing_lock_table_fails_naming_appc_init(tmp_path, moto):
    boto3.client("s3").create_bucket(Bucket="shop-tfstate")
    r = appc("apply", "-f", aws_project(tmp_path, S3_STATE), "-e", "test", "--auto-approve")
    assert r.code == 1 and "the lock table 'shop-tfstate-lock' does not exist" in r.err and "appc init -e test" in r.err


def test_aws_s3_backend_end_to_end_with_cloud_status(tmp_path, moto):
    """init, then apply a bucket with the s3 backend and a DynamoDB lock: both states land in the
    state bucket; `status --cloud` asks S3 about the unit, plain `status` stays offline."""
    require_terraform()
    app = aws_project(tmp_path, S3_STATE)
    assert appc("init", "-f", app, "-e", "test").code == 0
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.err
    assert r.events[-1]["units_changed"] == 1

    s3 = boto3.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="shop-tfstate")["Contents"])
    assert keys == [
        "shop/test/composer.state.json",
        "shop/test/composer.state.json.signing-key",
        "shop/test/files.tfstate",
    ]
    tfstate = json.loads(s3.get_object(Bucket="shop-tfstate", Key="shop/test/files.tfstate")["Body"].read())
    assert any(res["type"] == "aws_s3_bucket" for res in tfstate["resources"])
    composer_state = json.loads(
        s3.get_object(Bucket="shop-tfstate", Key="shop/test/composer.state.json")["Body"].read()
    )
    assert composer_state["units"]["files"]["outputs"]["name"] == "shop-test-files"
    assert (
        not (tmp_path / ".composer" / "test.state.json").exists() and not (tmp_path / ".composer" / "test.key").exists()
    )
    locks = boto3.client("dynamodb").scan(TableName="shop-tfstate-lock")["Items"]
    assert not [i for i in locks if "Info" in i], "a lock was left behind"
    assert "shop-tfstate/shop/test/files.tfstate-md5" in {i["LockID"]["S"] for i in locks}  # Terraform's own digest

    offline = appc("status", "-f", app, "-e", "test", "--json")
    (row,) = events(offline, "status")
    assert "cloud" not in row
    live = appc("status", "-f", app, "-e", "test", "--json", "--cloud")
    (row,) = events(live, "status")
    assert row["cloud"] == {"state": "available", "detail": "S3 bucket shop-test-files in us-east-1"}
    assert "available" in appc("status", "-f", app, "-e", "test", "--cloud").out

    s3.delete_bucket(Bucket="shop-test-files")
    (row,) = events(appc("status", "-f", app, "-e", "test", "--json", "--cloud"), "status")
    assert row["cloud"] == {"state": "missing", "detail": "S3 bucket shop-test-files does not exist"}
    # the reality probe (issue 13) sees the bucket gone: a plain apply re-creates it
    repaired = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert repaired.code == 0 and repaired.events[-1]["terraform_runs"] == 1, repaired.err
    s3.head_bucket(Bucket="shop-test-files")


def test_aws_status_of_each_resource_type(moto, registry):
    """The status hook on RDS, ElastiCache, S3 and SQS resources made with boto3 (no Terraform)."""
    from composer.model.environment import Environment
    from composer.plugins import StatusRequest

    env = Environment.model_validate(
        {
            "kind": "Environment",
            "metadata": {"name": "test"},
            "spec": {"cloud": {"provider": "aws", "region": "us-east-1"}},
        }
    )
    boto3.client("rds").create_db_instance(
        DBInstanceIdentifier="shop-test-db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="app",
        MasterUserPassword="x" * 20,
        AllocatedStorage=20,
    )
    boto3.client("elasticache").create_cache_cluster(
        CacheClusterId="shop-test-cache", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1
    )
    url = boto3.client("sqs").create_queue(QueueName="shop-test-jobs")["QueueUrl"]
    boto3.client("s3").create_bucket(Bucket="shop-test-files")
    host = boto3.client("rds").describe_db_instances(DBInstanceIdentifier="shop-test-db")["DBInstances"][0]["Endpoint"][
        "Address"
    ]
    cache = boto3.client("elasticache").describe_cache_clusters(
        CacheClusterId="shop-test-cache", ShowCacheNodeInfo=True
    )["CacheClusters"][0]["CacheNodes"][0]["Endpoint"]["Address"]
    aws = registry.get("aws")

    def status(type_, outputs):
        s = aws.status(StatusRequest(env, "x", type_, outputs))
        return s.state, s.detail

    assert status("postgres", {"host": host})[0] == "available"
    assert status("postgres", {"host": "shop-test-gone.abc.us-east-1.rds.amazonaws.com"}) == (
        "missing",
        "RDS instance shop-test-gone does not exist",
    )
    assert status("redis", {"host": cache})[0] == "available"
    assert status("redis", {"host": "nope.abc.0001.use1.cache.amazonaws.com"}) == (
        "missing",
        "ElastiCache cluster nope does not exist",
    )
    assert status("queue", {"url": url}) == ("available", "0 messages waiting, 0 in flight")
    assert status("bucket", {"name": "shop-test-files", "region": "us-east-1"}) == (
        "available",
        "S3 bucket shop-test-files in us-east-1",
    )
    assert status("bucket", {}) == ("unknown", "no name output recorded; apply the unit first")
    assert status("terraform-module", {"x": 1}) == (
        "unknown",
        "the aws provider reports no status for type terraform-module",
    )


# -- generated inputs (the engine half runs on AWS, where a provider binary exists) ----------------


def test_generated_password_is_made_once_read_back_and_never_written_down(tmp_path, moto):
    require_terraform()
    component = "    - {name: vault, type: vault-entry, properties: {rev: REV}}\n"
    extra = {"definitions/entry.yaml": ENTRY_DEFINITION, "definitions/modules/entry/main.tf": ENTRY_MODULE}
    app = aws_project(tmp_path, components=component.replace("REV", "1"), extra=extra)
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.err
    sm = boto3.client("secretsmanager")
    first = json.loads(sm.get_secret_value(SecretId="shop-test-vault")["SecretString"])
    password = first["password"]
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)

    # A change that rewrites the secret: the engine must pass the password it reads back.
    (tmp_path / "app.yaml").write_text((tmp_path / "app.yaml").read_text().replace("rev: 1", "rev: 2"))
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.err
    versions = sm.list_secret_version_ids(SecretId="shop-test-vault")["Versions"]
    assert len(versions) == 2
    assert json.loads(sm.get_secret_value(SecretId="shop-test-vault")["SecretString"])["password"] == password

    # A saved plan: the ephemeral input is supplied again when the plan is applied.
    (tmp_path / "app.yaml").write_text((tmp_path / "app.yaml").read_text().replace("rev: 2", "rev: 3"))
    # (one plan for the JSON view, the markdown summary and the saved plan: each plan is a Terraform
    # run; the text view of a sensitive change: tests/test_plan_detail.py)
    shown = appc(
        "plan", "-f", app, "-e", "test", "--json", "--out", tmp_path / "p.json", "--markdown-out", tmp_path / "p.md"
    )
    assert shown.code == 0, shown.err
    (vault,) = [e for e in events(shown, "unit") if e["unit"] == "vault"]
    assert "module.vault.aws_secretsmanager_secret_version.this" in [r["address"] for r in vault["resources"]]
    for text in (shown.out, shown.err, (tmp_path / "p.md").read_text()):
        assert password not in text  # plans show fields old -> new, never the generated value
    r = appc("apply", "-f", app, "-e", "test", tmp_path / "p.json", "--json")
    assert r.code == 0, r.out[-2000:] + r.err
    assert json.loads(sm.get_secret_value(SecretId="shop-test-vault")["SecretString"])["password"] == password
    assert password.encode() not in (tmp_path / "p.json").read_bytes()

    written = [
        p for p in tmp_path.rglob("*") if p.is_file() and ".terraform" not in p.parts and "providers" not in p.parts
    ]
    leaks = [str(p.relative_to(tmp_path)) for p in written if password.encode() in p.read_bytes()]
    assert leaks == [], f"the generated password was written to {leaks}"
    root = json.loads((tmp_path / ".composer" / "roots" / "test" / "terraform" / "vault" / "main.tf.json").read_text())
    assert root["variable"]["password"] == {
        "type": "string",
        "sensitive": True,
        "ephemeral": True,
        "description": "generated by appc, kept only in the secret store; supplied at plan and apply",
    }
    assert root["module"]["vault"]["password"] == "${var.password}"


def test_generated_inputs_need_the_secret_store_and_are_not_templates():
    base = {"module": "m", "secrets": "store"}
    assert TerraformImplementation.model_validate({**base, "generated_inputs": ["password"]}).generated_inputs == (
        "password",
    )
    with pytest.raises(ValueError, match="cannot be both an input template and a generated input"):
        TerraformImplementation.model_validate(
            {**base, "generated_inputs": ["password"], "inputs": {"password": "{{ name }}"}}
        )
    with pytest.raises(ValueError, match="need secrets: store"):
        TerraformImplementation.model_validate({"module": "m", "generated_inputs": ["password"]})


# -- GCP: preflight, gcs bootstrap, Secret Manager against the REST stand-in -----------------------

GCP_ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  cloud: {provider: gcp, project: PROJECT, region: europe-west1}
  kubernetes: {directory: deploy, namespace: shop, secretStore: {name: gcp-secrets}}
  state: {backend: gcs, bucket: acme-tfstate, prefix: composer}
"""


def gcp_project(root: Path, project: str = "acme-shop-prod") -> Path:
    write(
        root,
        {
            "app.yaml": f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  components:\n{FILES}",
            "environments/prod.yaml": GCP_ENV.replace("PROJECT", project),
        },
    )
    return root / "app.yaml"


@pytest.fixture
def gcp_api(monkeypatch):
    from providers.gcp import sdk
    from tests.support.cloud_apis import GoogleCloud, Server

    api = GoogleCloud(projects={"acme-shop-prod": "ACTIVE", "acme-old": "DELETE_REQUESTED"}, denied={"acme-secret"})
    server = Server(api)
    for var in (sdk.RESOURCE_MANAGER_ENDPOINT, sdk.STORAGE_ENDPOINT, sdk.SECRET_MANAGER_ENDPOINT):
        monkeypatch.setenv(var, server.url)
    monkeypatch.setenv(sdk.ANONYMOUS, "1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.cert))
    try:
        yield api, server
    finally:
        server.close()


def test_gcp_init_checks_the_project_and_creates_the_state_bucket_once(tmp_path, gcp_api):
    api, server = gcp_api
    app = gcp_project(tmp_path)
    r = appc("init", "-f", app, "-e", "prod", "--json")
    assert r.code == 0, r.err
    (pre,) = events(r, "preflight")
    assert pre["identity"].endswith("on project acme-shop-prod (acme-shop-prod display)")
    assert [(e["kind"], e["name"], e["action"]) for e in events(r, "backend")] == [
        ("gcs bucket", "acme-tfstate", "created")
    ]
    bucket = api.buckets["acme-tfstate"]
    assert bucket["location"] == "EUROPE-WEST1" and bucket["versioning"] == {"enabled": True}
    assert bucket["iamConfiguration"] == {
        "uniformBucketLevelAccess": {"enabled": True},
        "publicAccessPrevention": "enforced",
    }
    assert [(q.method, q.path, q.query.get("project")) for q in server.requests] == [
        ("GET", "/v3/projects/acme-shop-prod", None),
        ("GET", "/storage/v1/b/acme-tfstate", None),
        ("POST", "/storage/v1/b", ["acme-shop-prod"]),
    ]

    server.requests.clear()
    again = appc("init", "-f", app, "-e", "prod", "--json")
    assert again.code == 0, again.err
    assert [(e["action"], e["detail"]) for e in events(again, "backend")] == [
        ("present", "location europe-west1, versioning on")
    ]
    assert [q.method for q in server.requests] == ["GET", "GET"]


@pytest.mark.parametrize(
    "project,words",
    [
        ("acme-secret", ["403", "Permission 'resourcemanager.projects.get' denied"]),
        ("acme-nowhere", ["403", "(or it may not exist)"]),
        ("acme-old", ["is DELETE_REQUESTED, not ACTIVE"]),
    ],
)
def test_gcp_preflight_failures_are_exit_1_with_googles_reason(tmp_path, gcp_api, project, words):
    api, server = gcp_api
    r = appc("init", "-f", gcp_project(tmp_path, project), "-e", "prod")
    assert r.code == 1, r.err
    for w in words:
        assert w in r.err
    assert "Traceback" not in r.err
    assert [q.path for q in server.requests] == [f"/v3/projects/{project}"]  # nothing created


def test_gcp_preflight_404(tmp_path, gcp_api):
    """A purged project: Resource Manager answers 404 NOT_FOUND."""
    api, server = gcp_api
    api.projects.pop("acme-shop-prod")
    original = api.__class__.__call__

    def gone(self, req):
        if req.path == "/v3/projects/acme-shop-prod":
            return 404, {
                "error": {"code": 404, "message": "Project 'acme-shop-prod' not found.", "status": "NOT_FOUND"}
            }
        return original(self, req)

    server.app = gone.__get__(api)
    r = appc("init", "-f", gcp_project(tmp_path), "-e", "prod")
    assert (
        r.code == 1
        and "cannot use GCP project 'acme-shop-prod': 404" in r.err
        and "Project 'acme-shop-prod' not found." in r.err
    )


def test_gcp_without_credentials_is_exit_1(tmp_path, gcp_api, monkeypatch):
    monkeypatch.delenv("COMPOSER_GCP_ANONYMOUS")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth: do not probe for a metadata server
    api, server = gcp_api
    r = appc("init", "-f", gcp_project(tmp_path), "-e", "prod")
    assert (
        r.code == 1
        and "no Google Cloud credentials found" in r.err
        and "gcloud auth application-default login" in r.err
    )
    assert server.requests == []


def test_gcp_reads_connection_secrets_from_secret_manager(gcp_api, registry):
    api, server = gcp_api
    env = open_project(ROOT / "tests" / "golden" / "gcp" / "app.yaml").environment("prod").model
    api.secrets["projects/acme-shop-prod/secrets/shop-prod-db"] = json.dumps(
        {"host": "10.0.0.3", "port": 5432, "password": "pw"}
    ).encode()
    gcp = registry.get("gcp")
    assert gcp.read_secret(SecretRequest(env, "projects/acme-shop-prod/secrets/shop-prod-db")) == {
        "host": "10.0.0.3",
        "port": "5432",
        "password": "pw",
    }
    with pytest.raises(DiagnosticError, match="404 NOT_FOUND"):
        gcp.read_secret(SecretRequest(env, "projects/acme-shop-prod/secrets/nope"))
    with pytest.raises(DiagnosticError, match="not a Secret Manager secret id"):
        gcp.read_secret(SecretRequest(env, "projects/x/secrets/../../../v1/other"))
    assert [q.path for q in server.requests] == [
        "/v1/projects/acme-shop-prod/secrets/shop-prod-db/versions/latest:access",
        "/v1/projects/acme-shop-prod/secrets/nope/versions/latest:access",
    ]


# -- Azure: preflight, azurerm bootstrap, Key Vault against the REST stand-in ----------------------

SUB = "00000000-0000-0000-0000-000000000001"
AZURE_ENV = f"""
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {{name: prod}}
spec:
  cloud: {{provider: azure, region: westeurope, subscription: SUBSCRIPTION, resourceGroup: shop-prod, keyVaultId: /subscriptions/{SUB}/resourceGroups/shop-prod/providers/Microsoft.KeyVault/vaults/shop-kv}}
  kubernetes: {{directory: deploy, namespace: shop, secretStore: {{name: azure-secrets}}}}
  state: {{backend: azurerm, storageAccount: acmetfstate, container: tfstate, resourceGroup: tfstate}}
  network: {{publicAccess: {{allowedCidrs: [203.0.113.0/24]}}}}
"""


def azure_project(root: Path, subscription: str = SUB) -> Path:
    write(
        root,
        {
            "app.yaml": f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  components:\n{FILES}",
            "environments/prod.yaml": AZURE_ENV.replace("SUBSCRIPTION", subscription),
        },
    )
    return root / "app.yaml"


@pytest.fixture
def azure_api(monkeypatch):
    from providers.azure import sdk
    from tests.support.cloud_apis import Azure, Server

    api = Azure(
        subscriptions={SUB: "Enabled", "00000000-0000-0000-0000-00000000000d": "Disabled"},
        denied={"00000000-0000-0000-0000-000000000403"},
    )
    server = Server(api)
    monkeypatch.setenv(sdk.ARM_ENDPOINT, server.url)
    monkeypatch.setenv(sdk.KEYVAULT_ENDPOINT, server.url)
    monkeypatch.setenv(sdk.TEST_TOKEN, "test-token")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.cert))
    try:
        yield api, server
    finally:
        server.close()


def test_azure_init_checks_the_subscription_and_creates_the_backend_once(tmp_path, azure_api):
    api, server = azure_api
    app = azure_project(tmp_path)
    r = appc("init", "-f", app, "-e", "prod", "--json")
    assert r.code == 0, r.err
    (pre,) = events(r, "preflight")
    assert pre["identity"] == f"subscription Test subscription ({SUB})"
    assert [(e["kind"], e["name"], e["action"]) for e in events(r, "backend")] == [
        ("resource group", "tfstate", "created"),
        ("resource group", "shop-prod", "created"),
        ("storage account", "acmetfstate", "created"),
        ("blob container", "tfstate", "created"),
    ]
    account = f"/subscriptions/{SUB}/resourcegroups/tfstate/providers/microsoft.storage/storageaccounts/acmetfstate"
    assert api.resources[f"/subscriptions/{SUB}/resourcegroups/tfstate"]["location"] == "westeurope"
    made = api.resources[account]
    assert (made["kind"], made["sku"], made["location"]) == ("StorageV2", {"name": "Standard_LRS"}, "westeurope")
    assert made["properties"] | {"provisioningState": None} == {
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "supportsHttpsTrafficOnly": True,
        "provisioningState": None,
    }
    assert api.resources[f"{account}/blobservices/default"]["properties"]["isVersioningEnabled"] is True
    assert api.resources[f"{account}/blobservices/default/containers/tfstate"]["properties"]["publicAccess"] == "None"
    assert all(q.headers["authorization"] == "Bearer test-token" for q in server.requests)

    server.requests.clear()
    again = appc("init", "-f", app, "-e", "prod", "--json")
    assert again.code == 0, again.err
    assert [e["action"] for e in events(again, "backend")] == ["present"] * 4
    assert not [q for q in server.requests if q.method == "PUT"], "a present resource was changed"


@pytest.mark.parametrize(
    "subscription,words",
    [
        (
            "00000000-0000-0000-0000-000000000403",
            [
                "403 AuthorizationFailed",
                "does not have authorization to perform action 'Microsoft.Resources/subscriptions/read'",
            ],
        ),
        ("00000000-0000-0000-0000-000000000404", ["404 SubscriptionNotFound", "could not be found"]),
        ("00000000-0000-0000-0000-00000000000d", ["is Disabled, not Enabled"]),
    ],
)
def test_azure_preflight_failures_are_exit_1_with_azures_reason(tmp_path, azure_api, subscription, words):
    api, server = azure_api
    r = appc("init", "-f", azure_project(tmp_path, subscription), "-e", "prod")
    assert r.code == 1, r.err
    for w in words:
        assert w in r.err
    assert "Traceback" not in r.err
    assert [q.method for q in server.requests] == ["GET"]  # nothing created


def test_azure_rejected_token_is_exit_1(tmp_path, azure_api, monkeypatch):
    monkeypatch.setenv("COMPOSER_AZURE_TEST_TOKEN", "expired")
    r = appc("init", "-f", azure_project(tmp_path), "-e", "prod")
    assert r.code == 1 and "401" in r.err and "The access token is invalid." in r.err


def test_azure_without_credentials_is_exit_1(tmp_path, azure_api, monkeypatch):
    monkeypatch.delenv("COMPOSER_AZURE_TEST_TOKEN")
    for var in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_USERNAME",
    ):
        monkeypatch.delenv(var, raising=False)
    # azure-identity's own switch: only the environment credential (no managed-identity probe).
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
    api, server = azure_api
    r = appc("init", "-f", azure_project(tmp_path), "-e", "prod")
    assert r.code == 1 and "no usable Azure credentials" in r.err and "az login" in r.err
    assert server.requests == []


def test_azure_reads_connection_secrets_from_key_vault_only(azure_api, registry):
    api, server = azure_api
    env = open_project(ROOT / "tests" / "golden" / "azure" / "app.yaml").environment("prod").model
    api.vault_secrets["shop-prod-db"] = json.dumps(
        {"host": "shop-prod-db.postgres.database.azure.com", "port": 5432, "password": "pw"}
    )
    azure = registry.get("azure")
    assert azure.read_secret(SecretRequest(env, "https://shop-kv.vault.azure.net/secrets/shop-prod-db")) == {
        "host": "shop-prod-db.postgres.database.azure.com",
        "port": "5432",
        "password": "pw",
    }
    with pytest.raises(DiagnosticError, match="404 SecretNotFound"):
        azure.read_secret(SecretRequest(env, "https://shop-kv.vault.azure.net/secrets/nope"))
    for bad in (
        "https://evil.example.com/secrets/shop-prod-db",
        "http://shop-kv.vault.azure.net/secrets/x",
        "https://shop-kv.vault.azure.net/keys/x",
    ):
        with pytest.raises(DiagnosticError, match="not a Key Vault secret id"):
            azure.read_secret(SecretRequest(env, bad))
    assert [(q.path, q.query["api-version"]) for q in server.requests] == [
        ("/secrets/shop-prod-db", ["7.4"]),
        ("/secrets/nope", ["7.4"]),
    ]


# -- render: parameters a service cannot honour -----------------------------------------------------


@pytest.mark.parametrize(
    "case,component,words",
    [
        ("gcp", "{name: q, type: queue, properties: {fifo: true}}", "fifo_queues_are_not_offered_by_gcp_pubsub"),
        (
            "azure",
            "{name: q, type: queue, properties: {fifo: true}}",
            "fifo_queues_are_not_offered_by_the_azure_servicebus_module",
        ),
    ],
)
def test_unsupported_parameters_fail_the_render(tmp_path, case, component, words):
    env = (ROOT / "tests" / "golden" / case / "environments" / "prod.yaml").read_text()
    app = (
        write(
            tmp_path,
            {
                "app.yaml": f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  components:\n    - {component}\n",
                "environments/prod.yaml": env,
            },
        )
        / "app.yaml"
    )
    r = appc("validate", "-f", app, "-e", "prod")
    assert r.code == 1 and words in r.err and "failed to evaluate its module inputs" in r.err


def test_azure_environment_without_key_vault_fails_the_render_naming_it(tmp_path):
    env = (ROOT / "tests" / "golden" / "azure" / "environments" / "prod.yaml").read_text()
    env = re.sub(r"\n    keyVaultId: .*", "", env)
    app = (
        write(
            tmp_path,
            {
                "app.yaml": f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  components:\n{FILES}",
                "environments/prod.yaml": env,
            },
        )
        / "app.yaml"
    )
    r = appc("validate", "-f", app, "-e", "prod", "--json")
    assert r.code == 1
    # once, at the environment's cloud block, naming the field (not once per component)
    (d,) = [e for e in r.events if e["type"] == "diagnostic"]
    assert d["summary"] == "environment prod names no Key Vault" and "cloud.keyVaultId" in d["detail"]
    assert d["file"].endswith("prod.yaml") and d["path"] == "spec.cloud"


# -- modules: format, contract, inputs, docs ----------------------------------------------------------


def _hcl(path: Path) -> dict:
    import hcl2

    with path.open(encoding="utf-8") as f:
        return hcl2.load(f)


def _names(blocks: list[dict]) -> dict[str, dict]:
    return {k.strip('"'): v for block in blocks for k, v in block.items()}


def _module_dirs() -> list[Path]:
    return sorted(p for p in MODULES.glob("*/*") if p.is_dir())


def test_terraform_fmt_check_passes_on_every_module():
    exe, _ = require_terraform()
    proc = subprocess.run(
        [exe, "fmt", "-check", "-recursive", "-diff", str(MODULES)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("module", _module_dirs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_module_files_and_readme_tables(module: Path):
    for name in ("variables.tf", "main.tf", "outputs.tf", "README.md"):
        assert (module / name).is_file(), f"{module} has no {name}"
    readme = (module / "README.md").read_text(encoding="utf-8")
    inputs = readme.split("## Inputs", 1)[1].split("\n## ", 1)[0] if "## Inputs" in readme else ""
    outputs = readme.split("## Outputs", 1)[1].split("\n## ", 1)[0] if "## Outputs" in readme else ""
    assert "| name |" in inputs.lower() and "|---|" in inputs, "README needs an inputs table"
    assert "| name |" in outputs.lower() and "|---|" in outputs, "README needs an outputs table"
    documented_in = set(re.findall(r"^\| `([a-z0-9_]+)` \|", inputs, re.M))
    documented_out = set(re.findall(r"^\| `([a-z0-9_]+)` \|", outputs, re.M))
    assert documented_in == set(_names(_hcl(module / "variables.tf").get("variable", [])))
    assert documented_out == set(_names(_hcl(module / "outputs.tf").get("output", [])))


def _offers() -> list[tuple[str, str, str]]:
    reg = PluginRegistry.discover()
    return [(cloud, o.type, o.name) for cloud in CLOUDS for o in reg.get(cloud).offers()]


@pytest.mark.parametrize("cloud,type_,impl", _offers(), ids=lambda v: str(v))
def test_module_outputs_honour_the_contract_and_inputs_match_variables(cloud, type_, impl):
    reg = PluginRegistry.discover()
    catalog = Catalog.build(reg)
    offer = next(o for o in reg.get(cloud).offers() if o.type == type_ and o.name == impl)
    tf = offer.implementation.terraform
    module = MODULES / cloud / tf.module
    contract = catalog.component(type_).definition.spec.outputs
    expected = {k for k, spec in contract.items() if not spec.secret or tf.secrets == "outputs"} - set(tf.omits)
    expected = {tf.outputs.get(k, k) for k in expected}
    if tf.secrets == "store":
        expected.add("connection_secret_id")
    assert set(_names(_hcl(module / "outputs.tf")["output"])) == expected

    variables = _names(_hcl(module / "variables.tf")["variable"])
    given = set(tf.inputs) | set(tf.generated_inputs)
    assert given <= set(variables), f"inputs that are no variable of {module}: {sorted(given - set(variables))}"
    required = {n for n, v in variables.items() if "default" not in v}
    assert required <= given, f"required variables of {module} that {impl} does not set: {sorted(required - given)}"
    for name in tf.generated_inputs:
        assert variables[name].get("ephemeral") is True and variables[name].get("sensitive") is True, (
            f"{name} must be an ephemeral, sensitive variable"
        )


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_abstract_type_has_a_default_implementation_per_cloud(cloud, registry):
    offers = registry.get(cloud).offers()
    for type_ in ("postgres", "mysql", "redis", "bucket", "queue"):
        defaults = [o for o in offers if o.type == type_ and o.implementation.default]
        assert len(defaults) == 1, f"{cloud} has {len(defaults)} default implementations of {type_}"


def test_backend_blocks_render_per_cloud(registry):
    for case, block in (
        ("gcp", {"gcs": {"bucket": "acme-tfstate", "prefix": "composer/shop/prod/db"}}),
        (
            "azure",
            {
                "azurerm": {
                    "storage_account_name": "acmetfstate",
                    "container_name": "tfstate",
                    "resource_group_name": "tfstate",
                    "key": "shop/prod/db.tfstate",
                    "subscription_id": SUB,
                }
            },
        ),
    ):
        compiled = compile_project(open_project(ROOT / "tests" / "golden" / case / "app.yaml"), "prod", registry)
        root = json.loads(compiled.rendered.files["terraform/db/main.tf.json"])
        assert root["terraform"]["backend"] == block


def test_bootstrap_is_a_no_op_for_other_backends(registry):
    """Every provider sees every bootstrap request; only the owner of the backend acts."""
    env = open_project(ROOT / "tests" / "golden" / "gcp" / "app.yaml").environment("prod").model
    for name in ("aws", "azure", "kubernetes"):
        result = registry.get(name).bootstrap_backend(PreflightRequest(env))
        assert result.ok and result.resources == ()
