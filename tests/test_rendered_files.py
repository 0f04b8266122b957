"""Manifest files of a render are YAML only when read (composer/render/files.py), and the unit
hash of a Kubernetes unit follows its objects: `appc apply` never dumps YAML (issue 13)."""

from __future__ import annotations

import hashlib

from composer.engine import skip
from composer.project import compile_project, open_project
from composer.render import RenderedFiles, dump_yaml
from composer.render.files import objects_digest
from composer.state.model import new_state
from tests.support.projects import make_project, token_component
from tests.test_engine_units import WORKER, Harness, statuses


def test_an_apply_writes_no_manifest_yaml_and_a_render_writes_what_dump_yaml_writes(tmp_path, registry):
    h = Harness(make_project(tmp_path, token_component("a") + WORKER), registry)
    engine = h.engine()
    result = engine.apply(engine.store.read() or new_state(engine.app, "test"))
    assert statuses(result) == {"a": "applied", "w": "applied"}
    files = engine.rendered.files
    assert "terraform/a/main.tf.json" in files and "kubernetes/w.yaml" in files
    assert files.dumped() == set()  # applied from the objects; the workspace got the Terraform files only
    assert [o["kind"] for o in h.sink.objects["w"]] == ["Deployment"]
    assert statuses(h.run()) == {"a": "unchanged", "w": "unchanged"}  # the hash it recorded holds

    yaml_bytes = files["kubernetes/w.yaml"]  # what `appc render` writes
    assert files.dumped() == {"kubernetes/w.yaml"}
    assert yaml_bytes == dump_yaml(engine.rendered.manifests["w"])
    assert yaml_bytes.startswith(b"---\n") and b"kind: Deployment" in yaml_bytes


def test_the_digest_of_a_manifest_file_is_over_its_objects_and_of_any_other_file_over_its_bytes():
    files = RenderedFiles({"render.json": b"{}\n"})
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}]
    files.add_objects("kubernetes/c.yaml", objects)
    assert list(files) == ["kubernetes/c.yaml", "render.json"] and len(files) == 2
    assert files.digest("render.json") == hashlib.sha256(b"{}\n").digest()
    assert files.digest("kubernetes/c.yaml") == objects_digest(objects) != hashlib.sha256(dump_yaml(objects)).digest()
    assert files.dumped() == set()
    changed = files.copy()
    changed.add_objects("kubernetes/c.yaml", [{**objects[0], "data": {"k": "w"}}])
    assert changed.digest("kubernetes/c.yaml") != files.digest("kubernetes/c.yaml")
    assert (
        files["kubernetes/c.yaml"] == dump_yaml(objects) and changed["kubernetes/c.yaml"] != files["kubernetes/c.yaml"]
    )
    same = skip.unit_hash(files, ["kubernetes/c.yaml"], None, {})
    assert same == skip.hash_of_digests([("kubernetes/c.yaml", objects_digest(objects))], None, {})
    assert skip.unit_hash(changed, ["kubernetes/c.yaml"], None, {}) != same


def test_a_changed_manifest_runs_its_unit_and_only_it(tmp_path, registry):
    h = Harness(make_project(tmp_path, token_component("a") + WORKER), registry)
    assert statuses(h.run()) == {"a": "applied", "w": "applied"}
    h.app.write_text(h.app.read_text().replace("image: x", "image: y"))
    compiled = compile_project(open_project(h.app), "test", registry)
    assert b"image: y" in compiled.rendered.files["kubernetes/w.yaml"]
    assert statuses(h.run()) == {"a": "unchanged", "w": "applied"}


def test_objects_json_cannot_hold_are_digested_by_their_yaml():
    """A definition template's YAML can carry a date or a number as a key (yaml.safe_load reads
    them so); the render must not fail on them, and a change to them must change the digest."""
    import datetime

    dated = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"since": datetime.date(2024, 1, 1)},
        }
    ]
    keyed = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {datetime.date(2024, 1, 1): "x"}}
    ]
    files = RenderedFiles()
    files.add_objects("kubernetes/d.yaml", dated)
    files.add_objects("kubernetes/k.yaml", keyed)
    assert files["kubernetes/d.yaml"] == dump_yaml(dated) and b"since: 2024-01-01" in files["kubernetes/d.yaml"]
    later = [{**dated[0], "data": {"since": datetime.date(2024, 1, 2)}}]
    assert objects_digest(later) != files.digest("kubernetes/d.yaml") != files.digest("kubernetes/k.yaml")
