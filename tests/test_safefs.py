"""composer/safefs.py on its own: each guarantee against the planted object it is for."""

from __future__ import annotations

import os
import stat

import pytest

from composer import safefs
from composer.diagnostics import DiagnosticError


@pytest.fixture
def tree(tmp_path):
    base, outside = tmp_path / "base", tmp_path / "outside"
    (base / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "victim.txt").write_text("victim\n")
    return base, outside


def test_a_link_in_the_path_is_refused_for_every_operation(tree):
    base, outside = tree
    (base / "link").symlink_to(outside)
    for op in (
        lambda: safefs.write_file(base, "link/victim.txt", b"x"),
        lambda: safefs.read_file(base, "link/victim.txt"),
        lambda: safefs.remove_file(base, "link/victim.txt"),
        lambda: safefs.list_dir(base, "link"),
        lambda: safefs.walk(base, "link"),
    ):
        with pytest.raises(DiagnosticError, match="symbolic link"):
            op()
    assert safefs.remove_owned_tree(base, "link", "victim.txt") is False
    assert (outside / "victim.txt").read_text() == "victim\n"


def test_a_link_at_the_target_is_refused_not_replaced(tree):
    base, outside = tree
    (base / "sub" / "f").symlink_to(outside / "victim.txt")
    with pytest.raises(DiagnosticError):
        safefs.write_file(base, "sub/f", b"new")
    with pytest.raises(DiagnosticError):
        safefs.remove_file(base, "sub/f")
    assert (base / "sub" / "f").is_symlink() and (outside / "victim.txt").read_text() == "victim\n"


def test_a_hard_link_is_replaced_never_written_in_place(tree):
    base, outside = tree
    os.link(outside / "victim.txt", base / "sub" / "f")
    assert safefs.write_file(base, "sub/f", b"new") is True
    assert (base / "sub" / "f").read_bytes() == b"new" and (outside / "victim.txt").read_text() == "victim\n"


def test_a_fifo_is_refused_without_blocking(tree):
    base, _ = tree
    os.mkfifo(base / "sub" / "fifo")
    with pytest.raises(DiagnosticError, match="not a regular file"):
        safefs.read_file(base, "sub/fifo")


def test_a_tree_is_removed_only_with_its_marker_and_links_in_it_are_not_followed(tree):
    base, outside = tree
    (base / "sub" / "out").symlink_to(outside)
    assert safefs.remove_owned_tree(base, "sub", "marker") is False and (base / "sub").is_dir()
    (base / "sub" / "marker").write_text("appc")
    assert safefs.remove_owned_tree(base, "sub", "marker") is True
    assert not (base / "sub").exists() and (outside / "victim.txt").read_text() == "victim\n"


def test_private_files_and_directories(tree, tmp_path):
    base, _ = tree
    safefs.write_file(base, "new/dir/secret", b"s", mode=safefs.PRIVATE_FILE)
    assert stat.S_IMODE(os.stat(base / "new").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(base / "new/dir/secret").st_mode) == 0o600
    safefs.write_private(tmp_path / "plan.json", b"{}")
    assert stat.S_IMODE(os.stat(tmp_path / "plan.json").st_mode) == 0o600


def test_paths_leaving_their_base_are_refused(tree):
    base, _ = tree
    for rel in ("../outside/victim.txt", "/etc/passwd", "sub/../../x"):
        with pytest.raises(DiagnosticError, match="leaves its directory"):
            safefs.read_file(base, rel)


def test_outside_the_project_only_when_allowed(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    with pytest.raises(DiagnosticError, match="--allow-outside-project"):
        safefs.vetted_directory(project, tmp_path / "elsewhere", "state.path directory")
    assert (
        safefs.vetted_directory(project, tmp_path / "elsewhere", "state.path directory", allow_outside=True)
        == (tmp_path / "elsewhere").resolve()
    )
    (project / "inner").mkdir()
    (project / ".composer").symlink_to("inner")
    assert safefs.vetted_directory(project, project / ".composer", ".composer") == (project / "inner").resolve()


def test_an_operator_path_that_is_a_link_is_refused_not_written_through(tree):
    """`plan --markdown-out FILE` and `schema -o DIR` write through write_path."""
    base, outside = tree
    (base / "plan.md").symlink_to(outside / "victim.txt")
    with pytest.raises(DiagnosticError, match="not a regular file"):
        safefs.write_path(base / "plan.md", b"# plan\n")
    assert (outside / "victim.txt").read_text() == "victim\n"
    safefs.write_path(base / "new" / "plan.md", b"# plan\n")
    assert (base / "new" / "plan.md").read_bytes() == b"# plan\n"
