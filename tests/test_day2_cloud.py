"""Day 2 on real Terraform against moto: `appc import` adopts a bucket made with boto3, and an
apply that finds a resource already existing adopts it only when its ownership tags name the unit."""

from __future__ import annotations

import json

import boto3

from tests.helpers import appc
from tests.support.terraform_env import require_terraform
from tests.test_providers import aws_project, events

BUCKET = "    - {{name: {0}, type: bucket, properties: {{force_destroy: true}}}}\n"


def test_import_adopts_a_bucket_then_orphans_are_adopted_only_when_owned(tmp_path, moto):
    require_terraform()
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="shop-test-files")
    app = aws_project(tmp_path, components=BUCKET.format("files"))

    listed = appc("import", "-f", app, "-e", "test", "files", "--json")
    assert listed.code == 1, listed.err
    assert "module.files.aws_s3_bucket.this" in [e["address"] for e in events(listed, "address")]
    bad = appc("import", "-f", app, "-e", "test", "files", "shop-test-files\n", "module.files.aws_s3_bucket.this")
    assert bad.code == 1 and "the resource ID is not usable" in bad.err and "Traceback" not in bad.err
    alien_address = appc("import", "-f", app, "-e", "test", "files", "x", "module.files.aws_iam_role.x")
    assert alien_address.code == 1 and "declares no resource" in alien_address.err

    imported = appc(
        "import", "-f", app, "-e", "test", "files", "shop-test-files", "module.files.aws_s3_bucket.this", "--json"
    )
    assert imported.code == 0, imported.err + imported.out
    # init + apply: the outputs come from the apply's own -json stream, not a third process
    assert imported.events[-1]["terraform_runs"] == 2
    assert not (tmp_path / ".composer" / "roots" / "test" / "terraform" / "files" / "appc_import.tf.json").exists()
    plan = appc("plan", "-f", app, "-e", "test", "--refresh", "--detailed-exitcode", "--json")
    assert plan.code == 0, plan.out + plan.err  # the bucket is in state: nothing to create or change

    # Orphans: one tagged for this unit, one untagged, one tagged for another app.
    def tagged(name: str, tags: dict[str, str]) -> None:
        s3.create_bucket(Bucket=name)
        if tags:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})

    tagged("shop-test-own", {"app": "shop", "env": "test", "component": "own"})
    tagged("shop-test-bare", {})
    tagged("shop-test-alien", {"app": "other", "env": "test", "component": "alien"})
    # Without --adopt-owned the owned orphan fails, naming the import that adopts it. (bare and
    # alien join in the next run: each unit here is a Terraform run, and their words are the same.)
    aws_project(tmp_path, components="".join(BUCKET.format(n) for n in ("files", "own")))
    first = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert first.code == 3
    status = {e["unit"]: e for e in events(first, "unit")}
    assert status["files"]["status"] == "unchanged" and status["own"]["status"] == "failed"
    text = json.dumps(status["own"]["diagnostics"])
    assert f"appc import -f {app} -e test own shop-test-own module.own.aws_s3_bucket.this" in text

    aws_project(tmp_path, components="".join(BUCKET.format(n) for n in ("files", "own", "bare", "alien")))
    adopting = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json", "--adopt-owned")
    assert adopting.code == 3
    status = {e["unit"]: e["status"] for e in events(adopting, "unit")}
    assert status == {"files": "unchanged", "own": "applied", "bare": "failed", "alien": "failed"}
    assert [e["unit"] for e in events(adopting, "adopt")] == ["own"]
    text = json.dumps([d for e in events(adopting, "unit") for d in e["diagnostics"]])
    assert "shop-test-bare) already exists and carries no ownership tags" in text
    assert "shop-test-alien) already exists and is tagged for another app" in text
    # the refused ones stay outside Terraform's state; the adopted one is in it
    tfstate = tmp_path / ".composer" / "tfstate" / "shop" / "test"
    assert '"aws_s3_bucket"' in (tfstate / "own.tfstate").read_text()
    for refused in ("bare", "alien"):
        path = tfstate / f"{refused}.tfstate"
        assert not path.exists() or '"aws_s3_bucket"' not in path.read_text()
