"""Errors of a KubeVela file that would say only what is wrong get a hint line saying what to do
(composer/model/oam_hints.py; docs/oam.md, "Coverage, and how it is counted")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import appc, write

ENV = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: prod}\n"
APP = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: NAME}
spec:
  components:
    - name: api
      type: TYPE
      properties: PROPS
"""


@pytest.mark.parametrize(
    ("name", "ctype", "props", "path", "hint"),
    [
        (
            "shop",
            "worker",
            "{image: nginx:1, enemies: 3}",
            "spec.components[0].properties.enemies",
            "'enemies' is no property of KubeVela's worker",
        ),
        ("shop-{{ .Env.APP_ID }}", "webservice", "{image: nginx:1}", "metadata.name", "template placeholder"),
        (
            "shop",
            "webservice",
            "{image: nginx:1, ports: 8000}",
            "spec.components[0].properties.ports",
            "write port: N for one port",
        ),
        ("shop", "webservice", "{image: ''}", "spec.components[0].properties.image", "give the container image"),
    ],
)
def test_a_schema_error_of_a_kubevela_file_says_what_to_do(tmp_path: Path, name, ctype, props, path, hint):
    app = APP.replace("NAME", f"'{name}'").replace("TYPE", ctype).replace("PROPS", props)
    write(tmp_path, {"app.yaml": app, "environments/prod.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 1
    [e] = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    assert e["path"] == path and e["line"]
    assert hint in e["detail"]


@pytest.mark.parametrize(
    ("step", "what_to_do"),
    [
        ("export2secret", "create the Secret outside"),
        ("read-object", "give the values in the component's properties"),
        ("collect-service-endpoints", "reach a Service by its name"),
    ],
)
def test_a_step_that_reads_the_cluster_while_the_workflow_runs_is_refused_with_what_to_do(
    tmp_path: Path, step, what_to_do
):
    app = APP.replace("NAME", "shop").replace("TYPE", "webservice").replace("PROPS", "{image: nginx:1}")
    app += f"  workflow:\n    steps:\n      - {{name: s, type: {step}}}\n"
    write(tmp_path, {"app.yaml": app, "environments/prod.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 1
    [e] = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    assert (e["line"], e["path"]) == (11, "spec.workflow.steps[0].type")
    assert what_to_do in e["detail"]
