"""Day 2 at the engine's Terraform seam (fast): generated passwords are sealed before first use,
rotation runs in order and resumes with the same value, and `appc status` notes model changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from composer.diagnostics import DiagnosticError
from composer.engine import rotate
from composer.engine.generated import generate_secret
from composer.engine.run import Engine
from composer.project import compile_project, open_project
from composer.render.bindings import BINDINGS_HASH_ANNOTATION
from composer.runners.workspace import LocalWorkspace
from composer.state.local import LocalStore
from composer.state.model import new_state
from tests.helpers import appc, write
from tests.support.fake_cloud_database import FakeCloudDatabase
from tests.support.sinks import RecordingSink

APP = """apiVersion: composer.dev/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  components:
    - {name: db, type: postgres, properties: {version: "16"}}
    - {name: api, type: webservice, properties: {image: "ghcr.io/acme/api:1"}, connections: [db]}
"""
GCP_ENV = """apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  cloud: {provider: gcp, project: acme-shop-test, region: europe-west1}
  kubernetes: {context: standin, namespace: shop}
  network: {vpc: projects/acme-shop-test/global/networks/shop}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, {"app.yaml": APP, "environments/test.yaml": GCP_ENV})
    (tmp_path / ".composer").mkdir()
    return tmp_path


def engine(root: Path, registry, cloud: FakeCloudDatabase, sink: RecordingSink) -> Engine:
    compiled = compile_project(open_project([root / "app.yaml"]), "test", registry)
    state_dir = (root / ".composer").resolve()
    return Engine(
        resolved=compiled.resolved,
        graph=compiled.graph,
        rendered=compiled.rendered,
        modules=compiled.modules,
        store=LocalStore(state_dir, "shop", "test"),
        terraform=cloud,
        workspace=LocalWorkspace(state_dir, "test"),
        sinks=(sink,),
        read_secret=cloud.read_secret,
    )


def apply(root: Path, registry, cloud: FakeCloudDatabase, sink: RecordingSink):
    e = engine(root, registry, cloud, sink)  # a new engine per run: nothing carried over in memory
    return e.apply(e.store.read() or new_state("shop", "test"))


def statuses(result) -> dict[str, str]:
    return {n: o.status for n, o in result.outcomes.items()}


def test_a_first_apply_failing_after_the_database_exists_keeps_its_password(project, registry):
    """Regression: the retry used to generate a second password the database never received."""
    cloud, sink = FakeCloudDatabase("shop-test-db", fail="after-db"), RecordingSink()
    first = apply(project, registry, cloud, sink)
    assert statuses(first)["db"] == "failed" and cloud.db_password and not cloud.store
    state_bytes = (project / ".composer" / "test.state.json").read_bytes()
    assert cloud.db_password.encode() not in state_bytes  # sealed, never in clear
    assert json.loads(state_bytes)["units"]["db"]["sealed_inputs"]["password"].startswith("aes256gcm:")

    second = apply(project, registry, cloud, sink)
    assert statuses(second) == {"db": "applied", "api": "applied"}
    assert cloud.sent == [cloud.db_password, cloud.db_password]
    assert cloud.store["shop-test-db"]["password"] == cloud.db_password
    assert sink.connections["shop-db-conn"]["password"] == cloud.db_password
    assert json.loads((project / ".composer" / "test.state.json").read_bytes())["units"]["db"]["sealed_inputs"] == {}


def test_rotation_in_order_and_a_failed_one_resumes_with_the_same_value(project, registry):
    cloud, sink = FakeCloudDatabase("shop-test-db"), RecordingSink()
    assert statuses(apply(project, registry, cloud, sink)) == {"db": "applied", "api": "applied"}
    old = cloud.db_password
    rolled = sink.objects["api"][0]["spec"]["template"]["metadata"]["annotations"][BINDINGS_HASH_ANNOTATION]

    def rotate_once(fail: str | None):
        cloud.fail = fail
        e = engine(project, registry, cloud, sink)
        state = e.store.read()
        scope = rotate.Scope("shop", "test", "db", e.store.signing_key())
        c = e.resolved.component("db")
        step = rotate.begin(c, state.units["db"], e.modules["db"], None, scope, generate_secret)
        state = e.store.write(state.with_unit("db", step.record))  # 1. sealed before Terraform runs
        return step, e.apply(state, prune=False)

    e = engine(project, registry, cloud, sink)
    scope = rotate.Scope("shop", "test", "db", e.store.signing_key())
    for comp, key, words in (("db", "engine", "rotatable: password"), ("api", None, "not a Terraform unit")):
        with pytest.raises(DiagnosticError, match=words):  # engine_version is no secret's version
            rotate.begin(e.resolved.component(comp), e.store.read().units[comp], e.modules.get(comp), key, scope, str)

    step, failed = rotate_once("before-db")
    assert (step.key, step.version) == ("password", 2) and statuses(failed)["db"] == "failed"
    assert cloud.db_password == old == cloud.store["shop-test-db"]["password"]  # the old value stays valid
    assert sink.connections["shop-db-conn"]["password"] == old
    pending = json.loads((project / ".composer" / "test.state.json").read_bytes())["units"]["db"]
    assert pending["rotating"] == "password" and pending["secret_versions"] == {"password": 2}

    step, done = rotate_once(None)  # resume: the same version and the same sealed value
    assert step.version == 2 and statuses(done) == {"db": "applied", "api": "applied"}
    new = cloud.db_password
    assert new != old and cloud.sent[-1] == cloud.sent[-2] == new and cloud.db_version == 2
    assert cloud.store["shop-test-db"]["password"] == new  # 2. the store entry
    assert sink.connections["shop-db-conn"]["password"] == new  # 3. the connection Secret
    annotations = sink.objects["api"][0]["spec"]["template"]["metadata"]["annotations"]
    assert annotations[BINDINGS_HASH_ANNOTATION] != rolled  # 4. the workload rolls
    unit = json.loads((project / ".composer" / "test.state.json").read_bytes())["units"]["db"]
    assert unit["rotated_at"] and unit["rotating"] is None and unit["sealed_inputs"] == {}  # 5.
    assert unit["secret_versions"] == {"password": 2}

    again = apply(project, registry, cloud, sink)  # later applies keep the version: no new rotation
    assert statuses(again) == {"db": "unchanged", "api": "unchanged"} and cloud.db_password == new


def test_status_notes_a_model_changed_since_the_last_apply(tmp_path):
    """Regression: the note stayed empty after app.yaml was edited."""
    web = "    - {name: web, type: webservice, properties: {image: 'ghcr.io/acme/web:IMAGE'}}\n"
    env = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  kubernetes: {directory: deploy, namespace: shop}\n"
    app_text = "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  components:\n"
    write(tmp_path, {"app.yaml": app_text + web.replace("IMAGE", "1"), "environments/dev.yaml": env})
    app = str(tmp_path / "app.yaml")
    assert appc("apply", "-f", app, "-e", "dev", "--auto-approve").code == 0

    def row() -> dict:
        r = appc("status", "-f", app, "-e", "dev", "--json")
        assert r.code == 0, r.err
        (found,) = [e for e in r.events if e["type"] == "status"]
        return found

    assert row()["note"] == "" and row()["model_changed"] is False
    write(tmp_path, {"app.yaml": app_text + web.replace("IMAGE", "2")})
    edited = row()
    assert edited["model_changed"] is True and edited["note"] == rotate_note()
    assert "model changed since the last apply" in appc("status", "-f", app, "-e", "dev").out


def rotate_note() -> str:
    from composer.engine.statusinfo import MODEL_CHANGED

    return MODEL_CHANGED
