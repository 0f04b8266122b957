"""The compiled-model cache (composer/compile_inputs.py, composer/cli/compiled_cache.py,
composer/cli/fastpath.py): an unchanged project skips compilation on a no-op apply, and each
kind of input the compilation reads invalidates it. Each invalidation test fails if the key
misses that input (the cache would still be valid). The reality probe still runs on the fast
path: an object deleted behind Composer's back is re-created by a plain apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from composer.cli.common import ProjectOptions, compile_for
from composer.cli.compiled_cache import decode, document, encode, still_valid
from composer.compile_inputs import code_digest, recording
from tests.helpers import appc, write

APP = """apiVersion: composer.dev/v1alpha1
kind: Application
metadata: {name: cached}
spec:
  components:
    - name: web
      type: k8s-objects
      properties:
        objects:
          - {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {mode: fast}}
"""
ENV = """apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  kubernetes: {context: standin, namespace: "${env:CACHED_NS}"}
"""


def project(root: Path) -> Path:
    write(root, {"app.yaml": APP, "environments/test.yaml": ENV})
    (root / "definitions").mkdir()
    return root / "app.yaml"


def recorded(options: ProjectOptions) -> dict:
    with recording() as inputs:
        compiled = compile_for(options)
    doc = document(options, compiled, inputs)
    assert doc is not None, inputs.blind
    assert still_valid(doc, options) is not None  # nothing changed yet: the cache holds
    return doc


@pytest.fixture
def cached(tmp_path, monkeypatch) -> tuple[ProjectOptions, dict]:
    monkeypatch.setenv("CACHED_NS", "one")
    options = ProjectOptions((project(tmp_path),), "test")
    return options, recorded(options)


def test_an_edited_file_invalidates(cached):
    options, doc = cached
    app = options.files[0]
    app.write_text(app.read_text().replace("mode: fast", "mode: slow"))
    assert still_valid(doc, options) is None


def test_a_file_added_to_the_definitions_directory_invalidates(cached):
    options, doc = cached
    (options.files[0].parent / "definitions" / "extra.yaml").write_text("# a platform definition\n")
    assert still_valid(doc, options) is None


def test_a_definitions_directory_that_appears_invalidates(tmp_path, monkeypatch):
    monkeypatch.setenv("CACHED_NS", "one")
    write(tmp_path, {"app.yaml": APP, "environments/test.yaml": ENV})
    options = ProjectOptions((tmp_path / "app.yaml",), "test")
    doc = recorded(options)
    (tmp_path / "definitions").mkdir()
    assert still_valid(doc, options) is None


def test_the_state_directory_appearing_beside_the_app_keeps_it_and_a_yaml_file_invalidates(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("CACHED_NS", "one")
    options = ProjectOptions((project(tmp_path),), "test")
    folder = options.files[0].parent
    with recording() as inputs:
        compiled = compile_for(options)
        # Compiling lists the app's folder: for Workflow/Policy YAML files beside it, and (as the
        # working directory on sys.path of `python -c`) when plugin discovery reads distributions.
        os.listdir(folder)
    doc = document(options, compiled, inputs)
    assert doc is not None and str(folder) in doc["inputs"]["listings"]
    (folder / ".composer").mkdir()  # what the first apply creates: the cache it writes must hold
    assert still_valid(doc, options) is not None
    (folder / ".composer").rmdir()
    (folder / ".composer").write_text("not the state directory\n")  # anything else of that name counts
    assert still_valid(doc, options) is None
    (folder / ".composer").unlink()
    (folder / "policy.yaml").write_text("# beside the app\n")
    assert still_valid(doc, options) is None


def test_an_env_var_read_through_env_invalidates(cached, monkeypatch):
    options, doc = cached
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    assert still_valid(doc, options) is not None  # only what compilation read is in the key
    monkeypatch.setenv("CACHED_NS", "two")
    assert still_valid(doc, options) is None


@pytest.mark.parametrize("change", [{"locked": True}, {"catalogs": (Path("elsewhere"),)}, {"env": "prod"}])
def test_a_cli_option_that_shapes_the_model_invalidates(cached, change):
    from dataclasses import replace

    options, doc = cached
    assert still_valid(doc, replace(options, **change)) is None


def test_composer_code_is_in_the_key(cached, tmp_path):
    options, doc = cached
    assert still_valid({**doc, "code": "0" * 64}, options) is None
    package = tmp_path / "pkg" / "composer"
    write(package, {"__init__.py": "x = 1\n", "data/def.yaml": "a: 1\n"})
    before = code_digest((package,))
    (package / "data" / "def.yaml").write_text("a: 2\n")
    assert code_digest((package,)) != before  # code and the data shipped with it


def test_the_cache_file_is_untrusted(cached):
    options, doc = cached
    key, other = b"k" * 32, b"o" * 32
    assert decode(encode(doc, key), key) == doc
    assert decode(encode(doc, other), key) is None  # signed with another key
    tampered = json.loads(encode(doc, key))
    tampered["model"]["units"][0]["files"][0][1] = "0" * 64
    assert decode(json.dumps(tampered).encode(), key) is None
    assert decode(b"{not json", key) is None and decode(None, key) is None
    assert still_valid({**doc, "model": {"app": 1}}, options) is None  # malformed: compile normally


def test_a_read_the_recorder_cannot_name_disables_the_cache(cached):
    import os

    options, _ = cached
    with recording() as inputs:
        compiled = compile_for(options)
        fd = os.open(options.files[0].parent, os.O_RDONLY)
        try:
            os.close(os.open("app.yaml", os.O_RDONLY, dir_fd=fd))  # as a plugin reading on its own might
        finally:
            os.close(fd)
    assert inputs.blind and document(options, compiled, inputs) is None


def events(out: str, kind: str) -> list[dict]:
    return [e for line in out.splitlines() if line.startswith("{") and (e := json.loads(line))["type"] == kind]


def test_the_no_op_skips_compiling_and_still_repairs_a_vanished_object(tmp_path, kube_clean, monkeypatch):
    monkeypatch.setenv("CACHED_NS", "cached")
    app = project(tmp_path)
    args = ("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    first = appc(*args)
    assert first.code == 0, first.out + first.err
    assert (tmp_path / ".composer" / "test.compiled.json").is_file()

    fast = appc(*args)  # the first no-op after the apply: its probe's verdicts are recorded, as ever
    assert fast.code == 0 and events(fast.out, "compile") == [{"type": "compile", "cached": True}]
    normal = appc(*args, "--force-conflicts")  # a flag the fast path does not serve: compiled as before
    assert events(normal.out, "compile") == []

    def same(out: str) -> list[dict]:
        drop = ("duration_s",)
        return [
            {k: v for k, v in e.items() if k not in drop}
            for e in map(json.loads, filter(None, out.splitlines()))
            if e["type"] != "compile"
        ]

    assert sorted(map(json.dumps, same(fast.out))) == sorted(map(json.dumps, same(normal.out)))
    assert events(fast.out, "probes")[0]["kube_lists"] == 1

    path = "/api/v1/namespaces/cached/configmaps/settings"
    kube_clean.api().call_api(path, "DELETE", auth_settings=["BearerToken"], _preload_content=False)
    repaired = appc(*args)
    assert repaired.code == 0, repaired.out + repaired.err
    assert events(repaired.out, "compile") == []  # the probe found it gone: compiled and applied
    assert "not found in the cluster" in events(repaired.out, "probe")[0]["reason"]
    assert kube_clean.get(path) is not None


def test_a_thread_started_while_compiling_disables_the_cache(cached):
    import threading

    options, _ = cached
    with recording() as inputs:
        compiled = compile_for(options)
        worker = threading.Thread(target=lambda: None)  # its reads would be out of this thread's record
        worker.start()
        worker.join()
    assert "a thread was started" in inputs.blind and document(options, compiled, inputs) is None


def test_a_file_swapped_for_a_link_to_the_same_bytes_invalidates(cached, tmp_path_factory):
    # safefs refuses a link where the project had a file; the cache must not serve a no-op instead
    options, doc = cached
    app = options.files[0]
    outside = tmp_path_factory.mktemp("outside") / "app.yaml"
    outside.write_bytes(app.read_bytes())
    app.unlink()
    app.symlink_to(outside)
    assert still_valid(doc, options) is None


def test_writing_the_cache_dumps_no_manifest(tmp_path, monkeypatch):
    """The cache keeps digests of the Terraform workspace's files only: reading a manifest file
    dumps its YAML (composer/render/files.py), which an apply never needs (issue 13)."""
    monkeypatch.setenv("CACHED_NS", "one")
    options = ProjectOptions((project(tmp_path),), "test")
    with recording() as inputs:
        compiled = compile_for(options)
    assert document(options, compiled, inputs) is not None
    assert compiled.rendered.files.dumped() == set()


def test_a_state_directory_linked_out_of_the_project_is_never_served(tmp_path, kube_clean, monkeypatch):
    """The fast path vets `.composer` as the normal path does: moved out of the project and
    linked back, the no-op is not served from it, and the normal path refuses the link."""
    monkeypatch.setenv("CACHED_NS", "cached")
    root = tmp_path / "project"
    root.mkdir()
    app = project(root)
    args = ("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert appc(*args).code == 0
    elsewhere = tmp_path / "elsewhere"
    (root / ".composer").rename(elsewhere)
    (root / ".composer").symlink_to(elsewhere)
    linked = appc(*args)
    assert linked.code == 1, linked.out + linked.err
    assert events(linked.out, "compile") == []
    assert "outside the project" in linked.out + linked.err


def test_compile_for_freezes_the_model_only_in_an_appc_process(tmp_path, monkeypatch):
    """An appc process exits after its command, so compile_for may freeze what it made for the
    collector; called from anywhere else (here, a test worker) it freezes nothing."""
    import gc

    from composer.cli.common import one_command_process

    monkeypatch.setenv("CACHED_NS", "one")
    options = ProjectOptions((project(tmp_path),), "test")
    before = gc.get_freeze_count()
    compile_for(options)
    assert gc.get_freeze_count() == before
    try:
        with one_command_process():
            compile_for(options)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
