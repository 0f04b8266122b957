"""Connection publishing: the provider plugins' write_secret / delete_secret, and the engine
delivering `secrets: outputs` to a GitOps directory through the cloud secret store.

AWS runs against moto; Google Secret Manager and Azure Key Vault against the local API
stand-ins of tests/support/cloud_apis.py at the transport seam (the plugins' real HTTP
code, real TLS, their documented REST routes).
"""

from __future__ import annotations

import json

import boto3
import pytest
import yaml

from composer.model.environment import Environment
from composer.plugins import DeleteSecretRequest, PreflightRequest, SecretRequest, WriteSecretRequest
from tests.helpers import appc, write
from tests.support.projects import ENV, make_project, token_component
from tests.test_providers import azure_api, gcp_api  # noqa: F401  (the stand-in fixtures, shared)

DOC = {"name": "files", "arn": "arn:aws:s3:::files", "token": "s3cr3t"}


def environment(cloud: dict) -> Environment:
    return Environment.model_validate({"kind": "Environment", "metadata": {"name": "prod"}, "spec": {"cloud": cloud}})


def roundtrip(plugin, env: Environment) -> str:
    ref = plugin.write_secret(WriteSecretRequest(env, "shop-prod-files-conn", DOC)).ref
    assert dict(plugin.read_secret(SecretRequest(env, ref))) == DOC
    # a second write is a new version of the same entry
    ref2 = plugin.write_secret(WriteSecretRequest(env, "shop-prod-files-conn", {**DOC, "token": "rotated"})).ref
    assert ref2 == ref and plugin.read_secret(SecretRequest(env, ref))["token"] == "rotated"
    assert plugin.delete_secret(DeleteSecretRequest(env, "shop-prod-files-conn")) is True
    plugin.delete_secret(DeleteSecretRequest(env, "shop-prod-files-conn"))  # idempotent: gone is fine
    return ref


def test_aws_write_secret_on_moto(moto, registry):
    env = environment({"provider": "aws", "region": "us-east-1"})
    plugin = registry.get("aws")
    assert list(plugin.secret_store_problems(PreflightRequest(env))) == []
    assert roundtrip(plugin, env) == "shop-prod-files-conn"
    assert boto3.client("secretsmanager").list_secrets()["SecretList"] == []


def test_gcp_write_secret_through_the_secret_manager_api(gcp_api, registry):
    api, server = gcp_api
    plugin = registry.get("gcp")
    assert [
        d.summary
        for d in plugin.secret_store_problems(
            PreflightRequest(environment({"provider": "gcp", "region": "europe-west1"}))
        )
    ] == ["environment prod names no GCP project for Secret Manager"]
    env = environment({"provider": "gcp", "project": "acme-shop-prod", "region": "europe-west1"})
    assert roundtrip(plugin, env) == "projects/acme-shop-prod/secrets/shop-prod-files-conn"
    assert [(q.method, q.path) for q in server.requests][:2] == [
        ("POST", "/v1/projects/acme-shop-prod/secrets"),
        ("POST", "/v1/projects/acme-shop-prod/secrets/shop-prod-files-conn:addVersion"),
    ]
    assert api.secrets == {} and api.secret_meta == {}


def test_azure_write_secret_through_the_key_vault_api(azure_api, registry):
    api, server = azure_api
    plugin = registry.get("azure")
    assert [
        d.summary
        for d in plugin.secret_store_problems(
            PreflightRequest(environment({"provider": "azure", "region": "westeurope"}))
        )
    ] == ["environment prod names no Key Vault"]
    vault = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/shop/providers/Microsoft.KeyVault/vaults/shop-kv"
    env = environment({"provider": "azure", "region": "westeurope", "keyVaultId": vault})
    assert roundtrip(plugin, env) == "https://shop-kv.vault.azure.net/secrets/shop-prod-files-conn"
    assert [(q.method, q.path) for q in server.requests][0] == ("PUT", "/secrets/shop-prod-files-conn")
    assert all(q.headers["authorization"] == "Bearer test-token" for q in server.requests)
    assert api.vault_secrets == {}


def secret_names() -> set[str]:
    return {s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]}


# not `slow`: the one default-suite run of `secrets: outputs` publishing (engine/publishing.py) on moto
def test_secrets_outputs_are_delivered_to_a_gitops_directory_and_deleted_with_the_unit(tmp_path, moto):
    """secrets: outputs (a sensitive Terraform output) in a GitOps environment: the engine
    publishes the connection document; the ExternalSecret reads it; destroy removes it."""
    app = make_project(tmp_path, token_component("a"))
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve")
    assert r.code == 0, r.out[-2000:] + r.err
    assert secret_names() == {"a-token", "eng-test-a-conn"}
    doc = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId="eng-test-a-conn")["SecretString"])
    assert set(doc) == {"arn", "echo", "token"} and doc["arn"].startswith("arn:aws:secretsmanager:")
    (external,) = yaml.safe_load_all((tmp_path / "deploy" / "a-conn.yaml").read_text())
    assert external["kind"] == "ExternalSecret"
    assert external["spec"]["dataFrom"] == [{"extract": {"key": "eng-test-a-conn"}}]
    assert doc["token"] not in "".join(p.read_text() for p in (tmp_path / "deploy").iterdir())

    r = appc("destroy", "-f", app, "-e", "test", "--auto-approve")
    assert r.code == 0, r.out[-2000:] + r.err
    assert secret_names() == set()
    assert not (tmp_path / "deploy" / "a-conn.yaml").exists()


def test_a_directory_without_secret_store_is_refused_before_anything_is_applied(tmp_path, moto):
    env = ENV.replace(", secretStore: {name: aws-secrets}", "")
    app = make_project(tmp_path, token_component("a"), env=env)
    for cmd in (("validate",), ("plan", "-e", "test"), ("apply", "-e", "test", "--auto-approve")):
        r = appc(*cmd, "-f", app, "--json")
        assert r.code == 1, cmd
        (d,) = [e for e in r.events if e["type"] == "diagnostic"]
        assert d["summary"] == "environment test writes manifests to a directory but names no secret store"
        assert d["file"].endswith("environments/test.yaml") and d["path"] == "spec.kubernetes.directory"
    assert secret_names() == set()


STORE_DEF = """\
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: stored}
spec:
  category: resource
  outputs: {name: {}, arn: {}, token: {secret: true}}
  implementations:
    aws:
      provider: aws
      terraform:
        module: ./modules/stored
        secrets: store
        inputs: {name: "{{ name }}"}
"""

STORE_MODULE = """\
variable "name" { type = string }
resource "aws_secretsmanager_secret" "c" {
  name                    = var.name
  recovery_window_in_days = 0
}
resource "aws_secretsmanager_secret_version" "c" {
  secret_id     = aws_secretsmanager_secret.c.id
  secret_string = jsonencode({ name = var.name, token = "t" })
}
output "name" { value = var.name }
output "arn" { value = aws_secretsmanager_secret.c.arn }
output "connection_secret_id" { value = aws_secretsmanager_secret.c.id }
"""


@pytest.mark.slow  # a second publishing apply on moto; the path runs in the test above
def test_a_store_entry_lacking_a_contract_key_fails_closed_naming_it(tmp_path, moto):
    root = tmp_path
    write(root, {"definitions/stored.yaml": STORE_DEF, "definitions/modules/stored/main.tf": STORE_MODULE})
    app = make_project(root, "    - {name: s, type: stored}\n")
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 3
    (unit,) = [e for e in r.events if e["type"] == "unit"]
    assert unit["status"] == "failed"
    assert unit["diagnostics"][0]["summary"].startswith(
        "s: implementation 'aws' of 'stored' gave no value for contract key arn (in secret store entry arn:aws:secretsmanager:"
    )
    assert not (root / "deploy" / "s-conn.yaml").exists()  # nothing delivered


def test_a_connection_no_provider_can_publish_is_refused_at_validate(tmp_path):
    env = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: test}\nspec:\n  kubernetes: {directory: deploy, secretStore: {name: s}}\n"
    app = make_project(tmp_path, token_component("a"), env=env)
    r = appc("validate", "-f", app, "--json")
    assert r.code == 1
    (d,) = [e for e in r.events if e["type"] == "diagnostic"]
    assert (
        d["summary"]
        == "the connection of a cannot be published for the GitOps directory: the environment names no cloud whose secret store could hold it"
    )
    assert d["file"].endswith("app.yaml") and d["address"] == "a"


def test_a_cloud_only_environment_needs_no_cluster(tmp_path, monkeypatch, registry):
    from composer.cli.wiring import RunOptions, make_sinks
    from composer.project import compile_project, open_project

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    env = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: test}\nspec:\n  cloud: {provider: aws, region: us-east-1}\n"
    app = make_project(tmp_path, token_component("a"), env=env)
    assert make_sinks(compile_project(open_project(app), "test", registry), RunOptions()) == ()
    # with a workload there is a cluster to deliver to, and no kubeconfig is an error naming it
    app = make_project(
        tmp_path,
        token_component("a") + "    - {name: w, type: worker, properties: {image: x}, connections: [a]}\n",
        env=env,
    )
    with pytest.raises(Exception, match="no kubeconfig found"):
        make_sinks(compile_project(open_project(app), "test", registry), RunOptions())
