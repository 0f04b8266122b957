"""The source provenance of an apply (composer/runners/provenance.py) asks git about the work tree
without running anything the work tree's own config names."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from composer.runners.provenance import source_of

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def test_a_work_trees_fsmonitor_command_is_never_run(tmp_path):
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "app.yaml").write_text("a\n")
    git("add", "app.yaml")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "first")
    marker = tmp_path / "ran"
    git("config", "core.fsmonitor", f"touch {marker}; false")
    (tmp_path / "app.yaml").write_text("b\n")

    remote, commit, dirty = source_of(tmp_path)

    assert commit and dirty and remote is None
    assert not marker.exists(), "git ran the work tree's core.fsmonitor command"
