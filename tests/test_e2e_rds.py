"""End to end with a real RDS Postgres on moto (the one slow test: ~80 s apply, ~60 s destroy).

The environment's network block puts the instance in a subnet group of its own (two subnets
of a VPC made in moto) with the given security group, and storage autoscaling is on.
The generated database password must appear nowhere: stdout, stderr, --json events,
.composer/ (composer state *and* Terraform state: the module uses write-only arguments),
rendered files, GitOps output. Only `appc outputs --show-secrets` prints it.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.helpers import appc, write

APP = """
apiVersion: composer.dev/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  components:
    - {name: db, type: postgres, properties: {version: "16"}}
    - name: api
      type: webservice
      properties: {image: acme/api:1, port: 8080, env: {DATABASE_URL: "${db.url}"}}
      connections: [db]
"""
ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  cloud: {provider: aws, region: us-east-1}
  kubernetes: {directory: deploy, namespace: shop, secretStore: {name: aws-secrets}}
"""


def every_file(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".terraform" not in p.parts]


@pytest.mark.slow
def test_postgres_end_to_end_and_the_password_never_leaks(tmp_path, moto):
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="shop-db", Description="db from the cluster", VpcId=vpc)["GroupId"]
    network = f"  network: {{vpcId: {vpc}, subnetIds: [{subnets[0]}, {subnets[1]}], securityGroupIds: [{group}]}}\n"
    write(tmp_path, {"app.yaml": APP, "environments/test.yaml": ENV + network})
    app = tmp_path / "app.yaml"
    outputs: list[str] = []

    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    outputs += [r.out, r.err]
    assert r.code == 0, r.out[-3000:] + r.err
    state = json.loads((tmp_path / ".composer" / "test.state.json").read_text())
    db = state["units"]["db"]
    assert set(db["outputs"]) == {"host", "port", "database", "username"}
    assert set(db["secret_digests"]) == {"password", "url"}
    secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=db["secret_ref"])["SecretString"])
    password = secret["password"]
    assert len(password) >= 16 and password in secret["url"]
    instance = boto3.client("rds").describe_db_instances()["DBInstances"][0]
    assert instance["Endpoint"]["Address"] == db["outputs"]["host"]
    assert (
        instance["DBSubnetGroup"]["DBSubnetGroupName"] == "shop-test-db" and instance["DBSubnetGroup"]["VpcId"] == vpc
    )
    assert sorted(s["SubnetIdentifier"] for s in instance["DBSubnetGroup"]["Subnets"]) == sorted(subnets)
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == [group]
    assert (instance["AllocatedStorage"], instance["MaxAllocatedStorage"], instance["PubliclyAccessible"]) == (
        20,
        200,
        False,
    )

    r = appc("render", "-f", app, "-e", "test", "-o", tmp_path / "rendered")
    outputs += [r.out, r.err]
    for args in (["status"], ["outputs"], ["plan", "--json"], ["apply", "--auto-approve", "--json"]):
        r = appc(*args, "-f", app, "-e", "test")
        outputs += [r.out, r.err]
        assert r.code == 0, r.err
    assert json.loads(outputs[-2].splitlines()[-1])["terraform_runs"] == 0

    shown = appc("outputs", "db", "-f", app, "-e", "test", "--show-secrets")
    assert password in shown.out  # the one place it may appear

    leaks = [f"output #{i}" for i, text in enumerate(outputs) if password in text]
    leaks += [str(p) for p in every_file(tmp_path) if password.encode() in p.read_bytes()]
    assert leaks == [], f"the generated password leaked into: {leaks}"
    external = (tmp_path / "deploy" / "db-conn.yaml").read_text()
    assert "ExternalSecret" in external and db["secret_ref"] in external

    # appc rotate (issue 13): a new password through password_wo_version, the store entry, the
    # connection document, the workload's bindings hash; the old password leaves the store.
    sm = boto3.client("secretsmanager")
    before = (tmp_path / "deploy" / "api.yaml").read_text()
    r = appc("rotate", "db", "-f", app, "-e", "test", "--json")
    outputs += [r.out, r.err]
    assert r.code == 0, r.out[-3000:] + r.err
    rotated = json.loads(sm.get_secret_value(SecretId=db["secret_ref"])["SecretString"])
    assert rotated["password"] != password and rotated["password"] in rotated["url"]
    stages = sm.describe_secret(SecretId=db["secret_ref"])["VersionIdsToStages"]
    labelled = [v for v, labels in stages.items() if labels]
    assert all(
        password not in sm.get_secret_value(SecretId=db["secret_ref"], VersionId=v)["SecretString"] for v in labelled
    )
    after = (tmp_path / "deploy" / "api.yaml").read_text()
    hash_line = [line for line in after.splitlines() if "bindings-hash" in line]
    assert hash_line and hash_line[0] not in before  # the workload rolls
    status_events = appc("status", "-f", app, "-e", "test", "--json").events
    (row,) = [e for e in status_events if e["type"] == "status" and e["unit"] == "db"]
    assert row["rotated_at"] and "secret rotated" in row["note"]
    leaks = [f"output #{i}" for i, text in enumerate(outputs) if rotated["password"] in text]
    assert leaks == [], f"the rotated password leaked into: {leaks}"

    r = appc("destroy", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.out[-2000:]
    assert password not in r.out + r.err
    assert boto3.client("rds").describe_db_instances()["DBInstances"] == []
    assert boto3.client("secretsmanager").list_secrets()["SecretList"] == []
