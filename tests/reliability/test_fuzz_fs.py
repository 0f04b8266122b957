"""The fuzzer's file-system mode: hostile objects planted where Composer reads and writes.

test_fuzz.py feeds hostile *file contents* to the pipeline; this mode attacks the *file
system* around it, as a fork's pull request could: it commits `.composer/`, a render
output, a GitOps directory or a plan file, with

    symbolic links (to a file or a directory outside the project, or `../..` up and out),
    hard links to a file outside the project, FIFOs, unreadable and read-only files,
    directories where files belong and junk files where directories belong,

at every path Composer touches (PATHS: its state, lock, sandbox record, CLI config,
roots, module copies, Terraform's own files, local Terraform state, the render output, the
GitOps files, the saved plan). Each case copies a project that has already been planned,
applied and rendered, plants 1 to 3 objects, and runs `plan --out`, `apply PLAN`,
`render -o`, `destroy` and `sandbox down` through the real CLI and real Terraform (the
Terraform unit delivers to the cluster stand-in; the workload alone also goes to a GitOps
directory, environment `gitops`).

Pass, for every case:
- 0 writes outside the project: the decoy tree the links point at (and everything else
  outside the project) is byte-, mode- and entry-identical afterwards;
- 0 deletions of files Composer did not create: bystander files in the project survive, and
  a planted link or FIFO is still there (Composer refuses it; it never removes or follows
  it), except inside a render output Composer replaces as a whole (its marker proves it);
- 0 tracebacks: no exit 70, no "Traceback", and no command running past PER_COMMAND_SECONDS
  (a FIFO read blocks forever).

CI runs CI_CASES derandomized cases (the same ones every run); `--long` runs LONG_CASES
with fresh randomness (docs/reliability.md has the figures).
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import appc
from tests.reliability.fsproject import make_fs_project, snapshot
from tests.support.terraform_env import require_terraform

CI_CASES = 8
LONG_CASES = int(os.environ.get("APPC_FUZZ_FS_CASES", "300"))
PER_COMMAND_SECONDS = 60
UNIT = ".composer/roots/test/terraform/thing"
MODULE = ".composer/roots/test/modules/{module}"
PATHS = (
    ".composer",
    ".composer/terraform.rc",
    ".composer/terraform.tmp",
    ".composer/test.state.json",
    ".composer/test.lock",
    ".composer/sandbox.json",
    ".composer/sandbox.port",
    ".composer/sandbox.log",
    ".composer/roots",
    ".composer/roots/test",
    ".composer/roots/test/modules",
    MODULE,
    f"{MODULE}/main.tf",
    f"{MODULE}/.appc-module",
    f"{MODULE}/extra.tf",
    ".composer/roots/test/terraform",
    UNIT,
    f"{UNIT}/main.tf.json",
    f"{UNIT}/appc.tfplan",
    f"{UNIT}/extra.tf",
    f"{UNIT}/.terraform",
    f"{UNIT}/.terraform/appc-init",
    f"{UNIT}/.terraform.lock.hcl",
    f"{UNIT}/.terraform/terraform.tfstate",
    f"{UNIT}/.terraform/modules",
    f"{UNIT}/.terraform/modules/modules.json",
    ".composer/tfstate",
    ".composer/tfstate/fs",
    ".composer/tfstate/fs/test",
    ".composer/tfstate/fs/test/thing.tfstate",
    ".composer/tfstate/fs/test/thing.tfstate.backup",
    ".composer/tfstate/fs/test/.thing.tfstate.lock.info",
    "out",
    "out/render.json",
    "out/terraform",
    "out/terraform/thing/main.tf.json",
    "deploy",
    "deploy/web.yaml",
    "deploy/kustomization.yaml",
    "deploy/thing-conn.yaml",
    "plan.json",
)
KINDS = ("link-file", "link-dir", "link-up", "hardlink", "fifo", "unreadable", "readonly", "dir", "junk")
BYSTANDERS = {
    "keep.txt": "the project's own file\n",
    "deploy/notes.md": "a note beside the manifests\n",
    ".composer/roots/test/modules/someone/keep.tf": "# not appc's\n",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory, kube) -> Path:
    """A project planned, applied (to the cluster stand-in, and its workload alone to a GitOps
    directory) and rendered once, with bystander files: copied per case."""
    require_terraform()
    tmp = tmp_path_factory.mktemp("fsfuzz")
    app = make_fs_project(tmp)
    proj = app.parent
    assert appc("plan", "-f", app, "-e", "test", "--out", proj / "plan.json").code == 0
    assert appc("apply", "-f", app, "-e", "test", "--no-wait", proj / "plan.json").code == 0
    assert appc("apply", "-f", proj / "web.yaml", "-e", "gitops", "--auto-approve").code == 0
    assert appc("render", "-f", app, "-e", "test", "-o", proj / "out").code == 0
    assert appc("plan", "-f", app, "-e", "test", "--out", proj / "plan.json").code == 0
    for rel, text in BYSTANDERS.items():
        (proj / rel).parent.mkdir(parents=True, exist_ok=True)
        (proj / rel).write_text(text)
    return tmp


def _plant(proj: Path, decoy: Path, rel: str, kind: str) -> bool:
    """Plant `kind` at proj/rel; False when an earlier plant took one of its parents."""
    path = proj / rel
    parent = proj
    for part in Path(rel).parts[:-1]:
        parent = parent / part
        if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
            return False
    if path.is_symlink() or path.is_file() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "link-file":
        path.symlink_to(decoy / "file.txt")
    elif kind == "link-dir":
        path.symlink_to(decoy / "dir")
    elif kind == "link-up":
        path.symlink_to("/".join([".."] * (rel.count("/") + 1)))  # the project's parent: decoy and all
    elif kind == "hardlink":
        os.link(decoy / "file.txt", path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
        (path / "planted.txt").write_text("planted\n")
    else:
        path.write_bytes(b"\x00junk{{ ${ \xff\n")
        path.chmod({"unreadable": 0o000, "readonly": 0o444}.get(kind, 0o644))
    return True


class _Hang(Exception):
    pass


def _run(*args) -> tuple[int, str]:
    def alarm(signum, frame):
        raise _Hang(f"appc {' '.join(map(str, args))} ran past {PER_COMMAND_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(PER_COMMAND_SECONDS)
    try:
        r = appc(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return r.code, r.out + r.err


def check_case(template: Path, work: Path, plants: list[tuple[str, str]]) -> None:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work, symlinks=True)
    proj, decoy = work / "proj", work / "decoy"
    module = next(
        p.name for p in (proj / ".composer/roots/test/modules").iterdir() if p.name.startswith("local-thing-")
    )
    planted = {}
    for rel, kind in sorted(plants, key=lambda p: p[0].count("/")):
        if _plant(proj, decoy, rel.format(module=module), kind):
            planted[rel.format(module=module)] = kind
    outside_before = {k: v for k, v in snapshot(work).items() if not k.startswith("proj/")}
    inside_before = snapshot(proj)
    app, web = proj / "app.yaml", proj / "web.yaml"
    commands = (
        ("plan", "-f", app, "-e", "test", "--out", proj / "plan.json"),
        ("apply", "-f", app, "-e", "test", "--no-wait", proj / "plan.json"),
        ("apply", "-f", web, "-e", "gitops", "--auto-approve"),
        ("render", "-f", app, "-e", "test", "-o", proj / "out"),
        ("destroy", "-f", web, "-e", "gitops", "--auto-approve"),
        ("destroy", "-f", app, "-e", "test", "--auto-approve"),
        ("sandbox", "down", "-f", app),
    )
    for args in commands:
        code, text = _run(*args)
        assert code != 70 and "Traceback" not in text and "internal error" not in text, (plants, args, text[-2000:])
    outside_after = {k: v for k, v in snapshot(work).items() if not k.startswith("proj/")}
    assert outside_after == outside_before, (plants, "written outside the project")
    inside_after = snapshot(proj)
    replaced = lambda rel: any(rel.startswith(p + "/") for p in planted if p != rel)  # noqa: E731  (a plant replaced a parent)
    for rel, text in BYSTANDERS.items():
        if not replaced(rel):
            assert (proj / rel).read_text() == text, (plants, rel)
    for rel, kind in planted.items():
        survives = (
            kind in ("link-file", "link-dir", "link-up", "fifo") and not rel.startswith("out/") and not replaced(rel)
        )
        if survives:
            assert inside_after.get(rel) == inside_before[rel], (
                plants,
                rel,
                "a planted object was removed or replaced",
            )


def test_planted_files_never_redirect_a_write_or_a_delete(template, tmp_path, request):
    long = request.config.getoption("--long")
    cases = LONG_CASES if long else CI_CASES
    plant = st.tuples(st.sampled_from(PATHS), st.sampled_from(KINDS))

    @settings(
        max_examples=cases,
        derandomize=not long,
        deadline=None,
        database=None if not long else settings.default.database,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(plant, min_size=1, max_size=3, unique_by=lambda p: p[0]))
    def case(plants):
        check_case(template, tmp_path / "case", plants)

    case()
