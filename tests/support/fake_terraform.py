"""A fake Terraform at the runner seam: the engine's `TerraformPort` (composer/engine/ports.py)
without processes, for tests of the engine's own logic (skip decisions, failure isolation,
state per unit, generated secrets, prune order, protect refusals).

Why a fake here: every real Terraform run starts the 700 MB AWS provider (seconds of CPU);
the engine's decisions do not depend on it. The fake behaves like Terraform where the engine
can tell: it keeps a state per unit (the root's configuration and variables it last applied,
and its resource addresses), a plan or apply of an unchanged root changes nothing, a root
without a module call destroys everything (prune), `resources` is None without state, a plan
writes a plan file that `apply PLANFILE` applies as saved, and failures are `TerraformError`s
with Terraform's diagnostics. Real Terraform keeps its own tests (tests/test_engine.py and
the CLI tests); this fake is never used to test the runner.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.diagnostics import Diagnostic
from composer.runners.terraform import Changes, TerraformError

Outputs = Callable[[str, Mapping[str, str]], dict[str, tuple[Any, bool]]]  # (unit, variables) -> outputs


@dataclass
class UnitTfState:
    digest: str  # the root and variables last applied
    variables: dict[str, str]
    addresses: list[str]


@dataclass
class Applied:
    unit: str
    variables: dict[str, str]
    destroy: bool
    from_planfile: bool


def _default_outputs(unit: str, variables: Mapping[str, str]) -> dict[str, tuple[Any, bool]]:
    return {}


@dataclass
class FakeTerraform:
    """Configure with `outputs` (per unit, or one function of unit and variables),
    `resource_type` (per unit, default terraform_data), `replace` (units whose next plan
    replaces their resource) and `fail(unit, ...)`; read `applies`, `state`, `runs`."""

    outputs_of: Outputs = _default_outputs
    resource_type: dict[str, str] = field(default_factory=dict)
    replace: set[str] = field(default_factory=set)
    state: dict[str, UnitTfState] = field(default_factory=dict)
    applies: list[Applied] = field(default_factory=list)
    inits: list[str] = field(default_factory=list)
    runs: int = 0
    _failures: dict[tuple[str, str], list[Diagnostic]] = field(default_factory=dict)

    def fail(
        self, unit: str, summary: str, *, command: str = "apply", detail: str = "", file: str | None = None
    ) -> None:
        """Make `command` ("plan", "apply", "init", ...) fail for `unit` with this diagnostic."""
        self._failures[(unit, command)] = [Diagnostic(summary, detail, file=file, address=unit)]

    def heal(self, unit: str) -> None:
        self._failures = {k: v for k, v in self._failures.items() if k[0] != unit}

    def applied_units(self) -> list[str]:
        return [a.unit for a in self.applies if not a.destroy]

    # -- the port ----------------------------------------------------------------------------
    def close(self) -> None:
        pass

    def _run(self, unit: str, command: str) -> None:
        self.runs += 1
        failure = self._failures.get((unit, command))
        if failure is not None:
            raise TerraformError(unit, command, list(failure))

    def init(self, unit: str, workdir: Path, backend_config: Mapping[str, str] | None = None) -> None:
        self._run(unit, "init")
        self.inits.append(unit)

    @staticmethod
    def _root(workdir: Path) -> dict[str, Any]:
        path = workdir / "main.tf.json"
        return json.loads(path.read_bytes()) if path.is_file() else {}

    def _digest(self, workdir: Path, variables: Mapping[str, str]) -> str:
        root = self._root(workdir)
        body = json.dumps({"root": root, "variables": dict(variables)}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def _changes(self, unit: str, workdir: Path, variables: Mapping[str, str], destroy: bool) -> Changes:
        current = self.state.get(unit)
        address = f"module.{unit}.{self.resource_type.get(unit, 'terraform_data')}.this"
        rtype = self.resource_type.get(unit, "terraform_data")
        if destroy or not self._root(workdir).get("module"):
            gone = len(current.addresses) if current else 0
            return Changes(remove=gone, resource_actions=((address, rtype, "delete"),) if gone else ())
        if current is None:
            return Changes(add=1, resource_actions=((address, rtype, "create"),))
        if unit in self.replace:
            return Changes(add=1, remove=1, resource_actions=((address, rtype, "replace"),))
        if current.digest != self._digest(workdir, variables):
            return Changes(change=1, resource_actions=((address, rtype, "update"),))
        return Changes()

    def plan(
        self,
        unit: str,
        workdir: Path,
        planfile: Path,
        variables: Mapping[str, str] | None = None,
        *,
        destroy: bool = False,
        refresh: bool = True,
    ) -> Changes:
        self._run(unit, "plan")
        values = dict(variables or {})
        changes = self._changes(unit, workdir, values, destroy)
        saved = {"unit": unit, "variables": values, "destroy": destroy, "actions": changes.resource_actions}
        planfile.write_bytes(json.dumps(saved).encode())  # Terraform writes its plan file itself
        return changes

    def apply(
        self,
        unit: str,
        workdir: Path,
        planfile: Path | None = None,
        variables: Mapping[str, str] | None = None,
        *,
        destroy: bool = False,
    ) -> Changes:
        self._run(unit, "apply")
        values = dict(variables or {})
        if planfile is not None:  # applied as saved: the plan's variables, not these
            saved = json.loads(planfile.read_bytes())
            values, destroy = saved["variables"], saved["destroy"]
        changes = self._changes(unit, workdir, values, destroy)
        self.applies.append(Applied(unit, values, destroy, planfile is not None))
        if destroy or not self._root(workdir).get("module"):
            self.state.pop(unit, None)
        else:
            rtype = self.resource_type.get(unit, "terraform_data")
            self.state[unit] = UnitTfState(self._digest(workdir, values), values, [f"module.{unit}.{rtype}.this"])
            self.replace.discard(unit)
        return changes

    def show(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]:
        self._run(unit, "show")
        saved = json.loads(planfile.read_bytes())
        return {
            "resource_changes": [
                {"address": a, "type": t, "mode": "managed", "change": {"actions": _tf_actions(act)}}
                for a, t, act in saved["actions"]
            ]
        }

    def show_json(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]:
        return self.show(unit, workdir, planfile)

    def outputs(self, unit: str, workdir: Path) -> dict[str, tuple[Any, bool]]:
        self._run(unit, "output")
        current = self.state.get(unit)
        return self.outputs_of(unit, current.variables) if current is not None else {}

    def resources(self, unit: str, workdir: Path) -> list[str] | None:
        self._run(unit, "state")
        current = self.state.get(unit)
        return list(current.addresses) if current is not None else None


def _tf_actions(action: str) -> list[str]:
    return {"replace": ["delete", "create"], "update": ["update"], "delete": ["delete"]}.get(action, ["create"])
