"""The compiled-model cache for projects with Terraform units (composer/cli/fastpath.py,
composer/cli/fastpath_cloud.py): the no-op skips compiling, the cloud probe still runs (a secret
deleted behind Composer's back is re-created by a plain apply), and each input only a Terraform
project has invalidates it or hands the run over: the module's files, composer.lock, the
workspace an apply syncs, the Terraform binary. Each of these tests fails if the key or the
fast path misses that input."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import boto3
import pytest

from composer.cli.common import ProjectOptions, compile_for
from composer.cli.compiled_cache import document, still_valid
from composer.compile_inputs import recording
from tests.helpers import appc
from tests.support.projects import cluster_env, make_project, token_component


def events(out: str, kind: str) -> list[dict]:
    return [e for line in out.splitlines() if line.startswith("{") and (e := json.loads(line))["type"] == kind]


@pytest.fixture
def options(tmp_path: Path, kube) -> ProjectOptions:  # kube: KUBECONFIG names the context the environment uses
    return ProjectOptions((make_project(tmp_path, token_component("tfc"), env=cluster_env("tfc"), app="tfc"),), "test")


def recorded(options: ProjectOptions) -> dict:
    with recording() as inputs:
        compiled = compile_for(options)
    doc = document(options, compiled, inputs)
    assert doc is not None, inputs.blind  # a Terraform project is cached
    assert {u["kind"] for u in doc["model"]["units"]} == {"terraform"} and doc["model"]["workspace"]
    assert still_valid(doc, options) is not None
    return doc


def test_an_edited_or_added_module_file_invalidates(options):
    doc = recorded(options)
    module = options.files[0].parent / "modules" / "token"
    (module / "extra.tf").write_text('locals { x = "1" }\n')  # Terraform loads every *.tf of the directory
    assert still_valid(doc, options) is None
    (module / "extra.tf").unlink()
    assert still_valid(doc, options) is not None
    (module / "main.tf").write_text((module / "main.tf").read_text().replace('default = ""', 'default = "x"'))
    assert still_valid(doc, options) is None


def test_the_lock_file_invalidates(options):
    lock = options.files[0].parent / "composer.lock"
    doc = recorded(options)
    lock.write_text('{"format": 1}\n')  # a lock that appears
    assert still_valid(doc, options) is None
    doc = recorded(options)
    lock.write_text('{"format": 1, "modules": []}\n')  # a lock that changes
    assert still_valid(doc, options) is None


def test_the_workspace_holds_only_what_a_sync_would_leave_unchanged(tmp_path):
    from composer.runners.workspace import LocalWorkspace

    files = {"terraform/u/main.tf.json": b"{}", "modules/m-1/main.tf": b"# m\n", "modules/m-1/sub/x.tf": b"# x\n"}
    digests = {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    base = tmp_path / ".composer"
    base.mkdir()
    workspace = LocalWorkspace(base, "e")
    assert not workspace.holds(digests)  # nothing synced yet
    workspace.sync(files)
    assert workspace.holds(digests)
    root = base / "roots" / "e"
    (root / "modules" / "m-1" / "sub" / "planted.tf").write_text("# not appc's\n")  # sync refuses it
    assert not workspace.holds(digests)
    (root / "modules" / "m-1" / "sub" / "planted.tf").unlink()
    (root / "modules" / "old-2").mkdir()  # sync removes a module no unit uses (when it is appc's)
    assert not workspace.holds(digests)
    (root / "modules" / "old-2").rmdir()
    (root / "terraform" / "u" / "main.tf.json").chmod(0o600)  # sync rewrites a file whose mode differs
    assert not workspace.holds(digests)
    (root / "terraform" / "u" / "main.tf.json").chmod(0o644)
    (root / "modules" / "m-1" / "main.tf").write_text("# edited\n")
    assert not workspace.holds(digests)
    workspace.sync(files)
    root.chmod(0o755)  # sync makes it private again
    assert not workspace.holds(digests)
    root.chmod(stat.S_IRWXU)
    assert workspace.holds(digests)


def test_a_terraform_no_op_skips_compiling_and_a_deleted_secret_is_still_repaired(options, moto, monkeypatch):
    from tests.test_convergence import AwsCalls

    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)  # Composer writes its own (.composer/terraform.rc)
    args = ("apply", "-f", options.files[0], "-e", "test", "--auto-approve", "--json", "--probe=strict")
    first = appc(*args)
    assert first.code == 0, first.out + first.err
    root = options.files[0].parent / ".composer" / "roots" / "test" / "terraform" / "tfc" / "main.tf.json"
    calls = AwsCalls(monkeypatch)
    fast = appc(*args)
    assert fast.code == 0 and events(fast.out, "compile") == [{"type": "compile", "cached": True}], fast.out
    assert events(fast.out, "summary")[-1]["terraform_runs"] == 0
    assert events(fast.out, "probes")[0]["cloud_api_calls"] == {"aws": 1} and calls.services == [
        "resourcegroupstaggingapi"
    ]
    normal = appc(*args, "--force-conflicts")  # a flag the fast path does not serve: compiled as before

    def same(out: str) -> list[str]:
        kept = [
            {k: v for k, v in e.items() if k != "duration_s"} for e in map(json.loads, filter(None, out.split("\n")))
        ]
        return sorted(json.dumps(e) for e in kept if e["type"] != "compile")

    assert events(normal.out, "compile") == [] and same(fast.out) == same(normal.out)

    root.unlink()  # the workspace an apply syncs first: the normal path writes it back
    r = appc(*args)
    assert r.code == 0 and events(r.out, "compile") == [] and root.is_file(), r.out + r.err
    config = options.files[0].parent / ".composer" / "terraform.rc"  # Terraform's CLI config, as Composer writes it
    config.write_text(config.read_text() + "# edited\n")
    r = appc(*args)
    assert r.code == 0 and events(r.out, "compile") == [] and "edited" not in config.read_text(), r.out + r.err
    assert events(appc(*args).out, "compile") == [{"type": "compile", "cached": True}]
    monkeypatch.setenv("COMPOSER_TERRAFORM", os.fspath(options.files[0].parent / "no-terraform"))
    r = appc(*args)  # the normal path refuses a run without Terraform, even a no-op
    assert r.code == 1 and "terraform is not installed" in r.out + r.err
    monkeypatch.delenv("COMPOSER_TERRAFORM")
    assert events(appc(*args).out, "compile") == [{"type": "compile", "cached": True}]

    sm = boto3.client("secretsmanager")
    sm.delete_secret(SecretId="tfc-token", ForceDeleteWithoutRecovery=True)  # behind Composer's back
    r = appc(*args)
    assert r.code == 0, r.out + r.err
    assert events(r.out, "compile") == []  # the probe found it gone: compiled and applied
    assert "not found in the cloud" in events(r.out, "probe")[0]["reason"]
    assert events(r.out, "summary")[-1]["terraform_runs"] >= 1
    assert sm.describe_secret(SecretId="tfc-token")["Name"] == "tfc-token"


def test_the_cloud_probe_gets_the_environment_as_compiled_and_a_changed_one_hands_over(options, monkeypatch):
    from composer.cli.compiled_cache import environment_digest, parse_model
    from composer.cli.fastpath_cloud import _environment

    app = options.files[0]  # the app fills in the environment's namespace and adds a protected unit
    app.write_text(app.read_text().replace("metadata: {name: tfc}", "metadata: {name: tfc, namespace: placed}"))
    app.write_text(app.read_text().replace("spec:\n", "spec:\n  protect: [tfc]\n", 1))
    env = options.files[0].parent / "environments" / "test.yaml"
    env.write_text(env.read_text().replace("{context: standin, namespace: tfc}", "{context: standin}"))
    with recording() as inputs:
        compiled = compile_for(options)
    assert compiled.resolved.environment.spec.kubernetes.namespace == "placed"
    assert compiled.resolved.environment.spec.policies.protect == ("tfc",)
    doc = document(options, compiled, inputs)
    assert doc is not None, inputs.blind
    model = parse_model(doc["model"])
    assert model is not None
    probed = _environment(model)
    assert probed is not None and environment_digest(probed) == environment_digest(compiled.resolved.environment)
    assert probed.spec.kubernetes.namespace == "placed" and probed.spec.policies.protect == ("tfc",)
    model.placed["policies"]["protect"] = []  # not what was compiled: the digest refuses it
    assert _environment(model) is None
