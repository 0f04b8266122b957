"""The apply engine on real Terraform against moto, driven at the engine API.

The workload sink is a RecordingSink (tests/support/sinks.py) so the tests can see what
was bound into connection Secrets; Terraform, the state store and the workspace are real.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import boto3
import pytest

from composer.cli.wiring import RunOptions, open_store, running_engine
from composer.diagnostics import DiagnosticError
from composer.project import compile_project, open_project
from composer.render.bindings import BINDINGS_HASH_ANNOTATION
from composer.state.model import new_state
from tests.support.projects import make_project, token_component
from tests.support.sinks import RecordingSink


def run(app_file: Path, registry, sink: RecordingSink, command: str = "apply", **opts):
    compiled = compile_project(open_project(app_file), "test", registry)
    with running_engine(
        compiled, registry, RunOptions(**opts), emit=lambda *a, **k: None, should_stop=lambda: False
    ) as engine:
        engine.sinks = (sink,)
        engine.store = open_store(compiled, lambda m: None)
        state = engine.store.read() or new_state(compiled.resolved.name, "test")
        return getattr(engine, command)(state)


def secret_names() -> set[str]:
    return {s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]}


def token(name: str) -> str:
    return hashlib.sha256(f"token-{name}-token".encode()).hexdigest()


WORKER = "    - {name: w, type: worker, properties: {image: x, env: {TOKEN: '${a.token}'}}, connections: [a]}\n"


def test_apply_binds_outputs_then_noop_runs_no_terraform(tmp_path, moto, registry):
    app = make_project(tmp_path, token_component("a") + token_component("b", upstream="${a.arn}") + WORKER)
    sink = RecordingSink()
    result = run(app, registry, sink)
    assert {n: o.status for n, o in result.outcomes.items()} == {"a": "applied", "b": "applied", "w": "applied"}
    conn_a = sink.connections["eng-a-conn"]
    assert conn_a["token"] == token("a") and conn_a["arn"].startswith("arn:aws:secretsmanager:")
    # b received a's output through a variable, across units
    assert sink.connections["eng-b-conn"]["echo"] == conn_a["arn"]
    assert secret_names() == {"a-token", "b-token"}
    # state: non-secret outputs, secret digests only
    state_bytes = (tmp_path / ".composer" / "test.state.json").read_bytes()
    state = json.loads(state_bytes)
    assert state["units"]["a"]["outputs"] == {"arn": conn_a["arn"], "echo": ""}
    assert set(state["units"]["a"]["secret_digests"]) == {"token"}
    assert token("a").encode() not in state_bytes
    # the workload rolls when bound values change: the pod template carries the bindings hash
    dep = sink.objects["w"][0]
    assert BINDINGS_HASH_ANNOTATION in dep["spec"]["template"]["metadata"]["annotations"]
    env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "eng-a-conn", "key": "token"}

    again = run(app, registry, sink)
    assert again.terraform_runs == 0
    assert {o.status for o in again.outcomes.values()} == {"unchanged"}
    assert again.summary()["units_skipped"] == 3


def test_a_failing_unit_is_isolated(tmp_path, moto, registry):
    comps = (
        token_component("a")
        + "    - {name: bad, type: terraform-module, properties: {source: modules/broken, outputs: {arn: {}}}}\n"
        + token_component("c", deps="bad")
    )
    app = make_project(tmp_path, comps)
    result = run(app, registry, RecordingSink())
    status = {n: o.status for n, o in result.outcomes.items()}
    assert status == {"a": "applied", "bad": "failed", "c": "blocked"}
    diag = result.outcomes["bad"].diagnostics[0]
    assert diag.address == "bad" and "bucket" in (diag.summary + diag.detail).lower()
    saved = json.loads((tmp_path / ".composer" / "test.state.json").read_text())
    assert saved["units"]["a"]["status"] == "applied" and saved["units"]["bad"]["status"] == "failed"
    assert "c" not in saved["units"]
    assert secret_names() == {"a-token"}


def test_only_changed_units_run_and_refresh_forces_plans(tmp_path, moto, registry):
    app = make_project(tmp_path, token_component("a") + token_component("b"))
    sink = RecordingSink()
    run(app, registry, sink)
    text = app.read_text().replace("name: b-token", "name: b-token2")
    app.write_text(text)
    result = run(app, registry, sink)
    assert {n: o.status for n, o in result.outcomes.items()} == {"a": "unchanged", "b": "applied"}
    assert result.terraform_runs == 2  # apply (plans in the same process) and output, for b only; init is cached
    assert secret_names() == {"a-token", "b-token2"}
    refreshed = run(app, registry, sink, refresh=True)
    assert {o.status for o in refreshed.outcomes.values()} == {"applied"}
    assert refreshed.terraform_runs == 4  # apply (a no-op) + output each


def test_prune_removes_units_and_protect_refuses(tmp_path, moto, registry):
    app = make_project(tmp_path, token_component("a") + token_component("b"))
    sink = RecordingSink()
    run(app, registry, sink)
    app.write_text(app.read_text().replace(token_component("b"), ""))
    env = tmp_path / "environments" / "test.yaml"
    env.write_text(env.read_text() + "  policies: {protect: [b]}\n")
    with pytest.raises(DiagnosticError) as err:
        run(app, registry, sink)
    assert "refusing to prune protected unit b" in err.value.diagnostics[0].summary
    assert "policies.protect" in err.value.diagnostics[0].detail
    assert secret_names() == {"a-token", "b-token"}
    env.write_text(env.read_text().replace("  policies: {protect: [b]}\n", ""))
    result = run(app, registry, sink)
    assert result.outcomes["b"].status == "pruned"
    assert secret_names() == {"a-token"}
    assert "eng-b-conn" not in sink.connections
    assert "b" not in json.loads((tmp_path / ".composer" / "test.state.json").read_text())["units"]


def test_destroy_refuses_a_unit_without_terraform_state(tmp_path, moto, registry):
    app = make_project(tmp_path, token_component("a"))
    run(app, registry, RecordingSink())
    (tmp_path / ".composer" / "tfstate" / "eng" / "test" / "a.tfstate").unlink()
    result = run(app, registry, RecordingSink(), command="destroy")
    o = result.outcomes["a"]
    assert o.status == "failed" and "no Terraform state found for unit a" in o.diagnostics[0].summary
    assert "a" in json.loads((tmp_path / ".composer" / "test.state.json").read_text())["units"]
    assert secret_names() == {"a-token"}  # nothing deleted, nothing claimed


def test_a_missing_declared_output_fails_before_apply_and_a_null_one_fails_closed(tmp_path, moto, registry):
    comps = "    - {name: a, type: terraform-module, properties: {source: modules/token, inputs: {name: a-token}, outputs: {arn: {}, port: {}}}}\n"
    app = make_project(tmp_path, comps)
    with pytest.raises(DiagnosticError) as exc:
        run(app, registry, RecordingSink())
    assert [d.summary for d in exc.value.diagnostics] == ["component a: output 'port' is not an output of the module"]
    assert secret_names() == set()  # knowable at validate: nothing was created

    # declared by the module but null: apply fails closed, naming the component and contract key
    (tmp_path / "modules" / "token" / "port.tf").write_text('output "port" { value = null }\n')
    sink = RecordingSink()
    o = run(app, registry, sink).outcomes["a"]
    assert o.status == "failed"
    assert (
        o.diagnostics[0].summary
        == "a: implementation 'terraform' of 'terraform-module' gave no value for contract key port"
    )
    assert "local-token-" not in o.diagnostics[0].summary + o.diagnostics[0].detail
    assert sink.connections == {}  # nothing bound


def test_destroy_removes_everything_in_reverse_order(tmp_path, moto, registry):
    app = make_project(tmp_path, token_component("a") + token_component("b", upstream="${a.arn}") + WORKER)
    sink = RecordingSink()
    run(app, registry, sink)
    result = run(app, registry, sink, command="destroy")
    assert {o.status for o in result.outcomes.values()} == {"destroyed"}
    assert secret_names() == set()
    assert sink.connections == {} and sink.objects == {}
    assert json.loads((tmp_path / ".composer" / "test.state.json").read_text())["units"] == {}
