"""The apply engine on real Terraform against moto, driven at the engine API.

The workload sink is a RecordingSink (tests/support/sinks.py) so the tests can see what
was bound into connection Secrets; Terraform, the state store and the workspace are real.
This is the end-to-end layer: the engine's own decisions (skip, isolation, prune order,
protect, generated inputs) are tested on the fake Terraform port in tests/test_engine_units.py.
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


def test_apply_binds_outputs_noop_runs_no_terraform_then_prune_and_destroy_remove_everything(tmp_path, moto, registry):
    """One scenario on one first apply (the suite's time is in Terraform runs): bind, no-op,
    prune through a root without the module, destroy."""
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

    # b leaves the model: Terraform destroys it through the prune root Composer renders
    app.write_text(app.read_text().replace(token_component("b", upstream="${a.arn}"), ""))
    pruned = run(app, registry, sink)
    assert {n: o.status for n, o in pruned.outcomes.items()} == {"a": "unchanged", "w": "unchanged", "b": "pruned"}
    assert secret_names() == {"a-token"} and "eng-b-conn" not in sink.connections
    result = run(app, registry, sink, command="destroy")
    assert {o.status for o in result.outcomes.values()} == {"destroyed"}
    assert secret_names() == set()
    assert sink.connections == {} and sink.objects == {}
    assert json.loads((tmp_path / ".composer" / "test.state.json").read_text())["units"] == {}


def test_a_missing_declared_output_fails_before_apply_and_a_null_one_fails_closed(tmp_path, moto, registry):
    comps = "    - {name: a, type: terraform-module, properties: {source: modules/token, inputs: {name: a-token}, outputs: {arn: {}, port: {}}}}\n"
    app = make_project(tmp_path, comps)
    with_broken = (
        comps + "    - {name: bad, type: terraform-module, properties: {source: modules/broken, outputs: {arn: {}}}}\n"
    )
    with pytest.raises(DiagnosticError) as exc:
        run(app, registry, RecordingSink())
    assert [d.summary for d in exc.value.diagnostics] == ["component a: output 'port' is not an output of the module"]
    assert secret_names() == set()  # knowable at validate: nothing was created

    # declared by the module but null: apply fails closed, naming the component and contract key
    (tmp_path / "modules" / "token" / "port.tf").write_text('output "port" { value = null }\n')
    # with a unit Terraform itself refuses (the provider's validation): its words, on that unit only
    app.write_text(app.read_text().replace(comps, with_broken))
    sink = RecordingSink()
    result = run(app, registry, sink)
    bad = result.outcomes["bad"]
    assert bad.status == "failed" and bad.diagnostics[0].address == "bad"
    assert "bucket" in (bad.diagnostics[0].summary + bad.diagnostics[0].detail).lower()
    o = result.outcomes["a"]
    assert o.status == "failed"
    assert (
        o.diagnostics[0].summary
        == "a: implementation 'terraform' of 'terraform-module' gave no value for contract key port"
    )
    assert "local-token-" not in o.diagnostics[0].summary + o.diagnostics[0].detail
    assert sink.connections == {}  # nothing bound
