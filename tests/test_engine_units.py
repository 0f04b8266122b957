"""The engine's own logic on the fake Terraform port (tests/support/fake_terraform.py).

Rendering, the state store (local, signed), the workspace and the engine are real; only the
Terraform process and the cloud secret store are fakes at their seams, so each test runs in
well under a second. tests/test_engine.py runs the same engine on real Terraform and moto.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from composer.cli.wiring import RunOptions, build_engine, open_store
from composer.diagnostics import DiagnosticError
from composer.engine import skip
from composer.engine.run import Engine, RunResult
from composer.project import compile_project, open_project
from composer.render.terraform import SECRET_ID_OUTPUT
from composer.state.model import new_state
from tests.support.fake_terraform import FakeTerraform
from tests.support.projects import ENTRY_DEFINITION, ENTRY_MODULE, make_project, token_component
from tests.support.sinks import RecordingSink

WORKER = "    - {name: w, type: worker, properties: {image: x, env: {TOKEN: '${a.token}'}}, connections: [a]}\n"


def token_outputs(unit: str, variables: Mapping[str, str]) -> dict[str, tuple[Any, bool]]:
    """What modules/token outputs, computed from the variables it was applied with."""
    return {
        "arn": (f"arn:fake:{unit}", False),
        "echo": (variables.get("ref_a_arn", ""), False),
        "token": (hashlib.sha256(f"token-{unit}".encode()).hexdigest(), True),
    }


class Harness:
    """One project, one fake Terraform and one recording sink across several runs."""

    def __init__(self, app: Path, registry, tf: FakeTerraform | None = None, secrets: dict | None = None):
        self.app, self.registry = app, registry
        self.tf = tf or FakeTerraform(outputs_of=token_outputs)
        self.sink = RecordingSink()
        self.secret_store: dict[str, dict[str, str]] = secrets if secrets is not None else {}
        self.events: list[tuple[str, dict]] = []
        self.providers_read: list[str] = []

    def engine(self, **options: Any) -> Engine:
        compiled = compile_project(open_project(self.app), "test", self.registry)
        engine = build_engine(
            compiled,
            self.registry,
            RunOptions(**options),
            lambda event, **f: self.events.append((event, f)),
            lambda: False,
        )
        self.tf.runs = 0  # a command's runner counts its own processes
        engine.terraform = self.tf
        engine.sinks = (self.sink,)
        engine.publisher = None
        engine.read_secret = self.read_secret
        engine.store = open_store(compiled, lambda m: None)
        return engine

    def read_secret(self, provider: str, ref: str) -> Mapping[str, str]:
        """The cloud secret store at its seam; like the real reader, it serves a provider plugin by name."""
        self.providers_read.append(provider)
        return self.secret_store[ref]

    def run(self, command: str = "apply", **options: Any) -> RunResult:
        engine = self.engine(**options)
        state = engine.store.read() or new_state(engine.app, "test")
        return getattr(engine, command)(state)

    def saved_units(self) -> dict[str, Any]:
        return json.loads((self.app.parent / ".composer" / "test.state.json").read_text())["units"]


def statuses(result: RunResult) -> dict[str, str]:
    return {n: o.status for n, o in result.outcomes.items()}


def test_unchanged_units_are_skipped_and_refresh_runs_them_all(tmp_path, registry):
    h = Harness(make_project(tmp_path, token_component("a") + token_component("b")), registry)
    assert statuses(h.run()) == {"a": "applied", "b": "applied"}
    again = h.run()
    assert statuses(again) == {"a": "unchanged", "b": "unchanged"} and again.terraform_runs == 0
    h.app.write_text(h.app.read_text().replace("name: b-token", "name: b-token2"))
    h.tf.applies.clear()
    changed = h.run()
    assert statuses(changed) == {"a": "unchanged", "b": "applied"}
    assert h.tf.applied_units() == ["b"] and changed.terraform_runs == 2  # apply + output; init is cached
    refreshed = h.run(refresh=True)
    assert statuses(refreshed) == {"a": "applied", "b": "applied"} and refreshed.terraform_runs == 4


def test_plan_and_apply_share_the_skip_decision(tmp_path, registry):
    h = Harness(make_project(tmp_path, token_component("a") + token_component("b", upstream="${a.arn}")), registry)
    h.run()
    h.app.write_text(h.app.read_text().replace("name: a-token", "name: a-token2"))
    planned = h.run("plan")
    engine = h.engine()
    engine.pending(engine.store.read())  # the engine's view of the state
    would_skip = {n for n in ("a", "b") if engine.unchanged(n)}
    assert {n for n, o in planned.outcomes.items() if o.status == "unchanged"} == would_skip == {"b"}
    assert engine.pending(engine.store.read()) == ["a"]
    applied = h.run()
    assert {n for n, o in applied.outcomes.items() if o.status == "unchanged"} == {"b"}
    # a's outputs did not change (the fake's arn is its unit name), so b's upstream view did not either
    assert skip.unchanged(skip.SkipInputs(None, "h")) is False
    assert skip.unchanged(skip.SkipInputs(h.run("plan").state.units["b"], engine.unit_hash("b"), refresh=True)) is False


def test_state_is_written_after_every_unit_and_a_failure_isolates_its_dependents(tmp_path, registry):
    comps = token_component("a") + token_component("bad") + token_component("c", deps="bad")
    h = Harness(make_project(tmp_path, comps), registry)
    h.tf.fail("bad", "Invalid bucket name", detail="bucket names are lower-case", file="main.tf")
    written: list[set[str]] = []
    engine = h.engine()
    store_write = engine.store.write

    def spy(doc):  # the store itself, watched: which units each write holds
        written.append(set(doc.units))
        return store_write(doc)

    engine.store.write = spy  # type: ignore[method-assign]
    result = engine.apply(engine.store.read() or new_state(engine.app, "test"))
    assert statuses(result) == {"a": "applied", "bad": "failed", "c": "blocked"}
    diag = result.outcomes["bad"].diagnostics[0]
    assert (diag.summary, diag.address, diag.file) == ("Invalid bucket name", "bad", "main.tf")
    assert result.outcomes["c"].diagnostics[0].summary.startswith("not applied: a dependency failed")
    assert h.tf.applied_units() == ["a"]
    assert len(written) == 3  # a, then bad's failure, then the revision: one write per unit
    saved = h.saved_units()
    assert saved["a"]["status"] == "applied" and saved["bad"]["status"] == "failed" and "c" not in saved
    assert saved["bad"]["error"] == "Invalid bucket name"
    h.tf.heal("bad")
    assert statuses(h.run()) == {"a": "unchanged", "bad": "applied", "c": "applied"}


def test_a_missing_module_output_is_reported_in_the_contract_words(tmp_path, registry):
    h = Harness(make_project(tmp_path, token_component("a")), registry)
    h.tf.fail(
        "a", "Unsupported attribute", detail='This object does not have an attribute named "echo".', file="main.tf.json"
    )
    diags = h.run().outcomes["a"].diagnostics
    assert [d.summary for d in diags] == [
        "a: implementation 'terraform' of 'terraform-module' gave no value for contract key echo",
        "Unsupported attribute",
    ]


def test_prune_goes_dependents_first_and_protect_refuses_before_anything_runs(tmp_path, registry):
    comps = token_component("a") + token_component("b", deps="a") + token_component("c", deps="b")
    h = Harness(make_project(tmp_path, comps + token_component("d")), registry)
    h.run()
    h.app.write_text(h.app.read_text().replace(comps, ""))
    env = tmp_path / "environments" / "test.yaml"
    env.write_text(env.read_text() + "  policies: {protect: [b]}\n")
    h.tf.applies.clear()
    with pytest.raises(DiagnosticError) as err:
        h.run()
    assert err.value.diagnostics[0].summary == "refusing to prune protected unit b"
    assert h.tf.applies == [] and set(h.saved_units()) == {"a", "b", "c", "d"}
    env.write_text(env.read_text().replace("  policies: {protect: [b]}\n", ""))
    result = h.run()
    assert [n for n, o in result.outcomes.items() if o.status == "pruned"] == ["c", "b", "a"]
    assert [a.unit for a in h.tf.applies] == ["c", "b", "a"] and h.tf.state.keys() == {"d"}
    assert set(h.sink.connections) == {"eng-d-conn"} and set(h.saved_units()) == {"d"}


def test_destroy_refuses_a_unit_without_terraform_state(tmp_path, registry):
    h = Harness(make_project(tmp_path, token_component("a")), registry)
    h.run()
    del h.tf.state["a"]
    o = h.run("destroy").outcomes["a"]
    assert o.status == "failed" and o.diagnostics[0].summary.startswith("no Terraform state found for unit a")
    assert "a" in h.saved_units()


def test_a_protected_unit_whose_plan_replaces_data_is_refused_at_plan_and_before_apply(tmp_path, registry):
    h = Harness(make_project(tmp_path, token_component("a")), registry)
    h.tf.resource_type["a"] = "aws_db_instance"
    h.run()
    env = tmp_path / "environments" / "test.yaml"
    env.write_text(env.read_text() + "  policies: {protect: [a]}\n")
    h.app.write_text(h.app.read_text().replace("name: a-token", "name: a-token2"))
    h.tf.replace.add("a")
    h.tf.applies.clear()
    planned = h.run("plan").outcomes["a"]  # `appc plan` refuses too (its exit 3: tests/test_replacements.py)
    assert planned.status == "failed" and planned.diagnostics[0].summary.startswith(
        "refusing to replace or destroy stateful resources of protected unit a"
    )
    o = h.run().outcomes["a"]
    assert o.status == "failed" and "refus" in o.diagnostics[0].summary and h.tf.applies == []
    assert not list((tmp_path / ".composer").rglob("appc.tfplan"))  # the plan file is gone on failure too


@pytest.mark.parametrize("provider", ["aws", "any"])
def test_generated_inputs_are_made_once_and_read_back_from_the_secret_store(tmp_path, registry, provider):
    """An implementation for `any` provider reads its store entry through the environment's cloud
    (ResolvedComponent.provider); the engine once asked a provider plugin named "any"."""
    app = make_project(tmp_path, "    - {name: vault, type: vault-entry, properties: {rev: 1}}\n")
    (tmp_path / "definitions" / "modules" / "entry").mkdir(parents=True)
    (tmp_path / "definitions" / "entry.yaml").write_text(
        ENTRY_DEFINITION.replace("provider: aws", f"provider: {provider}")
    )
    (tmp_path / "definitions" / "modules" / "entry" / "main.tf").write_text(ENTRY_MODULE)
    store: dict[str, dict[str, str]] = {}

    def outputs(unit: str, variables: Mapping[str, str]) -> dict[str, tuple[Any, bool]]:
        store["sm:vault"] = {"name": "eng-test-vault", "password": variables["password"]}  # the module writes it
        return {"name": ("eng-test-vault", False), SECRET_ID_OUTPUT: ("sm:vault", False)}

    h = Harness(app, registry, FakeTerraform(outputs_of=outputs), secrets=store)
    assert statuses(h.run()) == {"vault": "applied"}
    password = h.tf.applies[0].variables["password"]
    assert len(password) == 32 and password.isalnum()
    h.app.write_text(h.app.read_text().replace("rev: 1", "rev: 2"))
    assert statuses(h.run()) == {"vault": "applied"}
    assert h.tf.applies[1].variables["password"] == password  # read back, never generated again
    assert set(h.providers_read) == {"aws"}
    state_bytes = (tmp_path / ".composer" / "test.state.json").read_bytes()
    assert password.encode() not in state_bytes and h.sink.connections["eng-vault-conn"]["password"] == password
    del store["sm:vault"]["password"]  # an entry that lost it: refused, never regenerated
    h.app.write_text(h.app.read_text().replace("rev: 2", "rev: 3"))
    o = h.run().outcomes["vault"]
    assert o.status == "failed" and o.diagnostics[0].summary == "the secret store entry of vault has no password"
    assert len(h.tf.applies) == 2
