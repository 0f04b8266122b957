"""Packaging: the Dockerfile's essentials, and a non-editable install that carries the modules.

Docker cannot build here, so the Dockerfile is parsed and its promises checked: Terraform
pinned and verified (SHA256SUMS, HashiCorp's signature), multi-stage, a non-root user,
ENTRYPOINT appc, and shell that at least parses. The wheel is built for real (pip wheel)
and must hold every Terraform module where providers/base.py::modules_root() looks for
them in a non-editable install.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

from tests.helpers import ROOT

TERRAFORM_VERSION = "1.11.4"
HASHICORP_KEY = "C874011F0AB405110D02105534365D9472D7468F"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue  # comments, also inside a continued instruction, are not part of it
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        current = ""
    return out


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def stages(ins: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for item in ins:
        if item[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(item)
    return out


def test_multi_stage_and_the_runtime_is_non_root_appc(dockerfile):
    st = stages(dockerfile)
    assert len(st) >= 2
    final = st[-1]
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    entry = [args for word, args in final if word == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1]) == ["appc"]
    copies = [args for word, args in final if word == "COPY"]
    assert any(c.startswith("--from=") and "terraform" in c for c in copies), (
        "the runtime gets the verified terraform binary"
    )
    assert not any(word == "RUN" and "curl" in args for word, args in final), (
        "nothing is downloaded into the runtime stage"
    )


def test_terraform_is_pinned_and_verified(dockerfile):
    args = dict(a.split("=", 1) for w, a in dockerfile if w == "ARG" and "=" in a)
    assert args["TERRAFORM_VERSION"] == TERRAFORM_VERSION
    assert args["HASHICORP_KEY_FINGERPRINT"] == HASHICORP_KEY
    runs = [a for w, a in dockerfile if w == "RUN" and "releases.hashicorp.com" in a]
    assert len(runs) == 1
    run = runs[0]
    assert 'base="https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}"' in run
    for needle in (
        "_SHA256SUMS",
        "${sums}.sig",
        "sha256sum -c --ignore-missing",
        "gpg --batch --status-fd 1 --verify",
        "VALIDSIG .* ${HASHICORP_KEY_FINGERPRINT}",
    ):
        assert needle in run, needle
    # verification happens before the binary is unpacked, in a shell that stops on errors
    assert run.index("set -eux") < run.index("sha256sum -c") < run.index("unzip")
    assert run.index("VALIDSIG") < run.index("sha256sum -c")


def test_appc_is_installed_not_editable(dockerfile):
    pip = [a for w, a in dockerfile if w == "RUN" and "pip install" in a and "${APPC_EXTRAS}" in a]
    assert pip and " -e " not in pip[0] and "--editable" not in pip[0]
    copied = {a.split()[0] for w, a in dockerfile if w == "COPY" and not a.startswith("--from")}
    assert {"modules", "composer", "providers"} <= copied


def test_every_run_is_valid_shell(dockerfile):
    for word, args in dockerfile:
        if word == "RUN" and not args.startswith("["):
            r = subprocess.run(["sh", "-n", "-c", args], capture_output=True, text=True)
            assert r.returncode == 0, f"{args[:80]}...: {r.stderr}"


def test_setup_py_globs_every_module_file_and_pyproject_lists_none(tmp_path):
    """The data files come from setup.py's glob (no hand-written list to forget a module in); a
    module added later, nested directories included, is picked up without editing anything."""
    assert "data-files" not in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    namespace = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_py_under_test")
    listed = {f for _, files in namespace["module_data_files"](ROOT) for f in files}
    assert listed == {p.relative_to(ROOT).as_posix() for p in (ROOT / "modules").rglob("*") if p.is_file()}
    for key, files in namespace["module_data_files"](ROOT):
        assert key.startswith("share/appcomposer/modules/") and {f.rsplit("/", 1)[0] for f in files} == {
            key.removeprefix("share/appcomposer/")
        }
    fake = tmp_path / "modules" / "aws" / "new" / "sub"
    fake.mkdir(parents=True)
    (fake / "main.tf").write_text("")
    (fake.parent / "main.tf").write_text("")
    assert namespace["module_data_files"](tmp_path) == [
        ("share/appcomposer/modules/aws/new", ["modules/aws/new/main.tf"]),
        ("share/appcomposer/modules/aws/new/sub", ["modules/aws/new/sub/main.tf"]),
    ]


def test_the_wheel_carries_the_modules_where_modules_root_looks(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("composer", "providers", "modules"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", ".terraform"))
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("appcomposer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {re.sub(r"^appcomposer-[^/]+\.data/data/", "", n) for n in names if ".data/data/" in n}
    expected = {
        f"share/appcomposer/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / "modules").rglob("*") if p.is_file()
    }
    assert data == expected
    assert "providers/aws/implementations.yaml" in names
    assert {"composer/py.typed", "providers/py.typed"} <= names, "PEP 561: the packages say they are typed"
    assert any(n.startswith("composer/catalog/builtin/") and n.endswith(".yaml") for n in names)
    # and that is where a non-editable install finds them (sys.prefix/share/appcomposer/modules)
    base = (ROOT / "providers" / "base.py").read_text()
    assert 'Path(sys.prefix) / "share" / "appcomposer" / "modules"' in base
