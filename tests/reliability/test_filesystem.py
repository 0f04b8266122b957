"""File-system attacks (issue 11, part A): each test plants what a hostile pull request could
commit (links, foreign files, stale records) and asserts the outcome on disk, outside the
project as well as inside. Each one failed on the code before the fix (docs/security.md,
"Attacks tried and their outcome").
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import appc
from tests.reliability.fsproject import environment, make_fs_project, snapshot
from tests.support.terraform_env import require_terraform


@pytest.fixture(autouse=True)
def _terraform(kube):
    """Terraform units deliver their connection to the cluster stand-in (`kube`)."""
    require_terraform()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _running(pid: int) -> bool:
    """Alive and not a zombie (the in-process `sandbox up` made the emulator this test's child)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _plan_files(proj: Path) -> list[Path]:
    return sorted(proj.rglob("appc.tfplan"))


def test_a_modules_link_out_of_the_project_deletes_nothing(tmp_path):
    """High 1: `.composer/roots/<env>/modules -> ../../../..` made plan rmtree the link
    target's directories: the project's siblings and the project itself."""
    app = make_fs_project(tmp_path)
    proj = app.parent
    (proj / ".composer/roots/test").mkdir(parents=True)
    (proj / ".composer/roots/test/modules").symlink_to("../../../..")
    before = snapshot(tmp_path)
    r = appc("plan", "-f", app, "-e", "test")
    assert r.code == 1, r.out + r.err
    assert "roots/test/modules" in r.err and "symbolic link" in r.err
    after = snapshot(tmp_path)
    assert [p for p in before if p not in after] == []  # nothing deleted, anywhere
    assert snapshot(tmp_path / "decoy") == {
        k.removeprefix("decoy/"): v for k, v in before.items() if k.startswith("decoy/")
    }


def test_a_module_directory_appc_did_not_mark_is_kept(tmp_path):
    """High 1: a directory under modules/ is removed only when appc's marker proves it made it."""
    app = make_fs_project(tmp_path)
    proj = app.parent
    assert appc("plan", "-f", app, "-e", "test").code == 0
    modules = proj / ".composer/roots/test/modules"
    (mine,) = [p for p in modules.iterdir()]
    assert (mine / ".appc-module").is_file()
    foreign = modules / "someone-elses"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not appc's")
    stale = modules / "local-old-000000000000"
    stale.mkdir()
    (stale / ".appc-module").write_text("written by appc")
    assert appc("plan", "-f", app, "-e", "test").code == 0
    assert (foreign / "keep.txt").read_text() == "not appc's"
    assert not stale.exists() and mine.is_dir()


def test_a_composer_directory_linking_out_of_the_project_is_refused(tmp_path):
    """High 1: a `.composer` that is itself a link out of the project."""
    app = make_fs_project(tmp_path)
    outside = tmp_path / "decoy" / "state"
    outside.mkdir()
    (app.parent / ".composer").symlink_to(outside)
    r = appc("plan", "-f", app, "-e", "test")
    assert r.code == 1
    assert "outside the project" in r.err
    assert list(outside.iterdir()) == []


def test_a_linked_unit_directory_is_refused_not_written_through(tmp_path):
    """High 1: a unit's root directory that is a link: appc wrote main.tf.json there and ran
    Terraform in it (its .terraform/ and state went outside the project)."""
    app = make_fs_project(tmp_path)
    proj = app.parent
    (proj / ".composer/roots/test/terraform").mkdir(parents=True)
    (proj / ".composer/roots/test/terraform/thing").symlink_to(tmp_path / "decoy" / "dir")
    before = snapshot(tmp_path / "decoy")
    r = appc("plan", "-f", app, "-e", "test")
    assert r.code == 1 and "symbolic link" in r.err
    assert snapshot(tmp_path / "decoy") == before


def test_links_at_the_old_fixed_temp_names_are_not_written_through(tmp_path):
    """Medium 9: `.composer/terraform.tmp -> victim` was overwritten with the CLI config, and
    a root file's temp name (`.main.tf.json.<pid>.tmp`) was as predictable."""
    app = make_fs_project(tmp_path)
    proj = app.parent
    victim = tmp_path / "decoy" / "file.txt"
    unit = proj / ".composer/roots/test/terraform/thing"
    unit.mkdir(parents=True)
    (proj / ".composer/terraform.tmp").symlink_to(victim)
    (unit / f".main.tf.json.{os.getpid()}.tmp").symlink_to(victim)
    r = appc("plan", "-f", app, "-e", "test")
    assert r.code == 0, r.err
    assert victim.read_text() == "the decoy's own bytes\n"
    assert "plugin_cache_dir" in (proj / ".composer/terraform.rc").read_text()


def test_a_failed_plan_leaves_no_plan_file(tmp_path):
    """Medium 5: Terraform writes an errored plan (-out) when planning fails; it held the
    root's variables, an upstream secret among them, 0644, after `appc plan` exited."""
    app = make_fs_project(tmp_path, module="broken")
    r = appc("plan", "-f", app, "-e", "test")
    assert r.code != 0 and "always fails at plan" in r.out + r.err
    assert (app.parent / ".composer/roots/test/terraform/thing").is_dir()
    assert _plan_files(app.parent) == []


def test_a_failed_apply_of_a_saved_plan_leaves_no_plan_file(tmp_path):
    """Medium 5: `appc apply FILE` wrote each unit's Terraform plan into its root and left it
    there when the apply failed."""
    app = make_fs_project(tmp_path, module="late", workload=False)
    saved = tmp_path / "plan.json"
    assert appc("plan", "-f", app, "-e", "test", "--out", saved).code == 0
    r = appc("apply", "-f", app, "-e", "test", saved)
    assert r.code == 3 and "always fails at apply" in r.out + r.err
    assert _plan_files(app.parent) == []


def test_what_may_hold_a_secret_is_private(tmp_path):
    """Medium 5: plan --out files, roots and Terraform state are 0600 files in 0700 directories."""
    app = make_fs_project(tmp_path, workload=False)
    proj = app.parent
    saved = tmp_path / "plan.json"
    assert appc("plan", "-f", app, "-e", "test", "--out", saved).code == 0
    assert _mode(saved) == 0o600
    assert appc("apply", "-f", app, "-e", "test", saved).code == 0
    state = proj / ".composer/tfstate/fs/test/thing.tfstate"
    assert _mode(state) == 0o600
    for d in (
        ".composer/roots/test",
        ".composer/tfstate",
        ".composer/tfstate/fs/test",
        ".composer/roots/test/terraform/thing/.terraform",
    ):
        assert _mode(proj / d) == 0o700, d


@pytest.mark.parametrize("setting", ["state", "directory"])
def test_paths_outside_the_project_need_an_explicit_flag(tmp_path, monkeypatch, setting):
    """Low: environment files pointed state.path and kubernetes.directory outside the project."""
    outside = tmp_path / "decoy" / "elsewhere"
    env = environment(state="../decoy/elsewhere") if setting == "state" else environment(directory="../decoy/elsewhere")
    app = make_fs_project(tmp_path, module=None, env=env)
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve")
    assert r.code == 1 and "--allow-outside-project" in r.err
    assert not outside.exists()
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve", "--allow-outside-project").code == 0
    monkeypatch.setenv("COMPOSER_ALLOW_OUTSIDE_PROJECT", "1")
    assert appc("status", "-f", app, "-e", "test").code == 0
    assert outside.is_dir() and any(outside.iterdir())


def test_a_gitops_directory_with_a_foreign_kustomization_is_refused(tmp_path):
    """Low: appc rewrote the kustomization.yaml of a directory it did not manage."""
    app = make_fs_project(tmp_path, module=None)
    theirs = app.parent / "deploy" / "kustomization.yaml"
    theirs.parent.mkdir()
    theirs.write_text("resources: [base.yaml]\npatches: [{path: patch.yaml}]\n")
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve")
    assert r.code != 0 and "was not written by appc" in r.out + r.err
    assert sorted(p.name for p in theirs.parent.iterdir()) == ["kustomization.yaml"]
    assert theirs.read_text() == "resources: [base.yaml]\npatches: [{path: patch.yaml}]\n"
    theirs.unlink()  # appc's own directory: applied, and applied again over its own kustomization
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0
    assert theirs.read_text().startswith("# Written by appc")


def test_sandbox_down_signals_only_the_emulator_it_started(tmp_path):
    """Low: `appc sandbox down` killed whatever pid `.composer/sandbox.json` named."""
    app = make_fs_project(tmp_path, module=None)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ticks = int(Path(f"/proc/{bystander.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        record = {
            "url": "http://127.0.0.1:9",
            "pid": bystander.pid,
            "instance": "x",
            "started": "now",
            "log": "",
            "start_ticks": ticks,
        }
        (app.parent / ".composer").mkdir()
        (app.parent / ".composer/sandbox.json").write_text(json.dumps(record))
        r = appc("sandbox", "down", "-f", app)
        assert r.code == 0 and "not the emulator appc started" in r.out + r.err
        time.sleep(0.2)
        assert bystander.poll() is None
        assert not (app.parent / ".composer/sandbox.json").exists()
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize("where", [".composer/roots/test/terraform/thing", "module"])
def test_a_file_planted_in_a_root_or_module_copy_is_refused(tmp_path, where):
    """Found on the way: Terraform loads every *.tf of a root and of a module directory, so
    a file committed under .composer/ became part of the configuration."""
    app = make_fs_project(tmp_path)
    proj = app.parent
    assert appc("plan", "-f", app, "-e", "test").code == 0
    target = next((proj / ".composer/roots/test/modules").iterdir()) if where == "module" else proj / where
    (target / "extra.tf").write_text('resource "terraform_data" "planted" { input = "not appc\'s" }\n')
    r = appc("plan", "-f", app, "-e", "test")
    # a module copy is checked before any unit runs (exit 1); a root fails its unit only (exit 3)
    assert r.code == (1 if where == "module" else 3) and "extra.tf was not written by appc" in r.err


def test_a_terraform_directory_appc_did_not_initialise_is_refused(tmp_path):
    """Found on the way: a `.terraform/` committed under .composer/ (provider links, module
    paths) was reused without `terraform init` whenever its marker named the right fingerprint,
    which anyone can compute."""
    app = make_fs_project(tmp_path)
    proj = app.parent
    assert appc("plan", "-f", app, "-e", "test").code == 0
    marker = proj / ".composer/roots/test/terraform/thing/.terraform/appc-init"
    marker.write_text(marker.read_text().split()[0])  # the fingerprint, without this machine's seal
    r = appc("plan", "-f", app, "-e", "test")
    assert r.code == 3 and "not initialised by appc on this machine" in r.err
    shutil.rmtree(marker.parent)  # the fix the diagnostic names
    assert appc("plan", "-f", app, "-e", "test").code == 0


def test_sandbox_down_still_stops_the_emulator_it_started(tmp_path):
    """The other side of the pid check: `up` records what `down` verifies."""
    pytest.importorskip("moto")
    app = make_fs_project(tmp_path, module=None)
    assert appc("sandbox", "up", "-f", app).code == 0
    record = json.loads((app.parent / ".composer/sandbox.json").read_text())
    try:
        assert record["start_ticks"] > 0 and _mode(app.parent / ".composer/sandbox.json") == 0o600
        r = appc("sandbox", "down", "-f", app)
        assert r.code == 0 and "stopped the sandbox" in r.out
        deadline = time.monotonic() + 10
        while _running(record["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(record["pid"])
    finally:
        if _running(record["pid"]):
            os.kill(record["pid"], 9)


def test_schema_output_never_writes_through_a_planted_link(tmp_path):
    """`appc schema -o DIR` with DIR/application.schema.json linked to a file elsewhere:
    refused (exit 1), the link's target untouched (it was overwritten before)."""
    from tests.helpers import ROOT, appc

    out, victim = tmp_path / "schemas", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("victim\n")
    (out / "application.schema.json").symlink_to(victim)
    r = appc("schema", "-o", out, "-f", ROOT / "examples" / "webshop" / "app.yaml")
    assert r.code == 1, r.err
    assert "not a regular file" in r.err
    assert victim.read_text() == "victim\n"
