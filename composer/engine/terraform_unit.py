"""One Terraform unit: init, plan, apply, destroy, and recording the result in state.

Every file the engine touches goes through the workspace port: the root is synced there,
and a unit's plan file (it may hold secret values) lives in the unit's directory only for
the duration of one step (`scratch_planfile`), mode 0600, removed on every exit path.
Terraform itself writes it: the engine hands the path, never opens it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine import binding, day2hooks, preview, probes, replacements, rotate
from composer.engine.outcome import Outcome
from composer.engine.ports import Changes
from composer.engine.publishing import publish
from composer.render.terraform import ref_variable, state_key
from composer.state.model import UnitState

if TYPE_CHECKING:  # the engine imports this module
    from composer.engine.run import Engine

PLANFILE = "appc.tfplan"


def counted(changes: Changes) -> dict[str, int]:
    return {"add": changes.add, "change": changes.change, "remove": changes.remove}


def backend_config(engine: Engine, name: str) -> dict[str, str]:
    if engine.resolved.environment.spec.state.backend != "local":
        return {}
    return {"path": str(engine.workspace.state_path(state_key(engine.app, engine.env_name, name)))}


def init_unit(engine: Engine, name: str) -> None:
    """terraform init, skipped when backend and module are as at the last init."""
    root = json.loads(
        engine.rendered.files.get(f"terraform/{name}/main.tf.json")
        or engine.workspace.read(f"terraform/{name}/main.tf.json")
        or b"{}"
    )
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "terraform": root.get("terraform"),
                "modules": {k: v.get("source") for k, v in (root.get("module") or {}).items()},
                "backend": backend_config(engine, name),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    day2hooks.write_overlays(engine, name)
    if not engine.workspace.init_needed(name, fingerprint):
        return
    engine.terraform.init(name, engine.workspace.workdir(name), backend_config(engine, name))
    engine.workspace.initialized(name, fingerprint)


def output_values(engine: Engine, unit: str) -> dict[str, Any]:
    """A unit's Terraform outputs, values only (memory only: they may be secret)."""
    return {k: v for k, (v, _) in engine.terraform.outputs(unit, engine.workspace.workdir(unit)).items()}


def variables(engine: Engine, name: str) -> dict[str, str]:
    """The root's input variables: upstream outputs (secret ones from memory) and generated inputs."""
    state = engine.state
    out: dict[str, str] = {}
    for _, ref in engine.graph.refs.get(name, ()):
        up = state.units.get(ref.component)
        if ref.secret:
            upstream = engine.resolved.component(ref.component)
            provider = upstream.provider if upstream is not None else None
            read = functools.partial(output_values, engine, ref.component)
            out[ref_variable(ref)] = engine.secrets.upstream_value(ref, provider, up, read)
        elif up is not None and ref.key in up.outputs:
            v = up.outputs[ref.key]
            out[ref_variable(ref)] = v if isinstance(v, str) else json.dumps(v)
    out.update(generated_inputs(engine, name))
    return out


def generated_inputs(engine: Engine, name: str) -> dict[str, str]:
    return day2hooks.generated_inputs(engine, name)


def stateful_check(engine: Engine, name: str, found: list[replacements.StatefulChange]) -> list[Diagnostic]:
    """A warning naming the stateful resources a plan replaces or destroys; for a protected
    unit, the refusal (raised, so nothing is applied)."""
    if not found:
        return []
    if name in engine.protected():
        raise DiagnosticError([replacements.refusal(name, engine.env_name, found)])
    return [replacements.warning(name, found)]


@contextmanager
def scratch_planfile(engine: Engine, name: str) -> Iterator[tuple[Path, Path, str]]:
    """(workdir, plan file path, its workspace-relative name) for one step. A plan file holds
    secrets: a leftover of a killed run is removed first (Terraform must not write through
    it), and the file is gone on every exit path, failed plans too."""
    init_unit(engine, name)
    workdir = engine.workspace.workdir(name)
    rel = f"terraform/{name}/{PLANFILE}"
    engine.workspace.remove(rel)
    try:
        yield workdir, workdir / PLANFILE, rel
    finally:
        engine.workspace.remove(rel)


def _run_apply(engine: Engine, name: str, planned: bytes | None) -> tuple[Changes, list[Diagnostic]]:
    warnings: list[Diagnostic] = []
    protected = name in engine.protected()
    with scratch_planfile(engine, name) as (workdir, planfile, rel):
        if planned is None and protected:
            # Protected units plan first (a second Terraform process), so that a replacement
            # of their data is refused before anything changes.
            first = engine.terraform.plan(name, workdir, planfile, variables(engine, name))
            warnings = stateful_check(engine, name, replacements.from_actions(first.resource_actions))
            planned = engine.workspace.read(rel) or b""
        elif planned is not None:
            engine.workspace.write_private(rel, planned)
            if protected:
                shown = engine.terraform.show(name, workdir, planfile)
                warnings = stateful_check(engine, name, replacements.from_plan(shown))
        if planned is not None:
            return engine.terraform.apply(name, workdir, planfile, generated_inputs(engine, name)), warnings
        changes = engine.terraform.apply(name, workdir, None, variables(engine, name))
        return changes, stateful_check(engine, name, replacements.from_actions(changes.resource_actions))


def apply_unit(engine: Engine, name: str, planned: bytes | None = None) -> Outcome:
    """Apply one unit (as saved, when `planned`), bind its outputs, deliver its connection to
    every sink, and record it in state at once."""
    day2hooks.seal_before_use(engine, name)
    changes, warnings = _run_apply(engine, name, planned)
    # Outputs come from the apply's own -json stream when it carries them all (no third process).
    streamed = getattr(changes, "outputs", None)
    outs = streamed if streamed is not None else engine.terraform.outputs(name, engine.workspace.workdir(name))
    public, digests, secret_ref, text = binding.bind_outputs(engine, name, outs)
    conn_ref = secret_ref or publish(engine.publisher, engine.resolved, engine.sinks, name, text)
    writes = binding.deliver_connection(engine, name, text, conn_ref)
    unit = engine.applied_unit(name, public, digests, secret_ref)
    previous = engine.state.units.get(name)  # what the reality probe looks for next time (engine/probes.py)
    seen = probes.recorded_after_apply(
        previous.resources if previous else None, changes.resources_seen, changes.resources_deleted
    )
    unit = unit.model_copy(update={"resources": seen})
    unit = unit.model_copy(update=rotate.carried(engine.state.units.get(name), keep_sealed=False))
    engine.save(lambda s: s.with_unit(name, unit))
    return Outcome(name, "terraform", "applied", counted(changes), diagnostics=warnings, k8s_writes=writes)


def plan_unit(engine: Engine, name: str, planfiles: dict[str, bytes] | None) -> Outcome:
    """Terraform's plan of one unit (refreshed), its resource detail, and (for `plan --out`)
    the plan file's bytes."""
    started = time.monotonic()
    with scratch_planfile(engine, name) as (workdir, planfile, rel):
        changes = engine.terraform.plan(name, workdir, planfile, variables(engine, name), refresh=True)
        warnings = stateful_check(engine, name, replacements.from_actions(changes.resource_actions))
        resources, shown = preview.terraform_resources(engine, name, workdir, planfile) if changes.any else ((), [])
        warnings += shown
        if planfiles is not None:
            planfiles[name] = (engine.workspace.read(rel) or b"") if changes.any else b""
    return Outcome(
        name,
        "terraform",
        "planned",
        counted(changes) if changes.any else None,
        warnings,
        time.monotonic() - started,
        resources=resources,
    )


def state_addresses(engine: Engine, name: str, unit: UnitState) -> list[str] | None:
    """The addresses in a unit's Terraform state (None: no state), its root ready to destroy."""
    if name not in engine.graph.order:
        # The model no longer has it: a root with backend and provider but no module call
        # makes Terraform destroy everything the unit's state holds. Composer renders that
        # root itself; nothing executable is taken from state.
        cloud = engine.resolved.environment.spec.cloud
        engine.workspace.write(
            f"terraform/{name}/main.tf.json",
            engine.prune_root(name, unit.provider or (cloud.provider if cloud else None)),
        )
    init_unit(engine, name)
    return engine.terraform.resources(name, engine.workspace.workdir(name))


def destroy_unit(engine: Engine, name: str, unit: UnitState) -> dict[str, int]:
    """Destroy what the unit's Terraform state holds; refused when there is no state at all."""
    resources = state_addresses(engine, name, unit)
    if resources is None:
        backend = engine.resolved.environment.spec.state.backend
        raise DiagnosticError(
            [
                Diagnostic(
                    f"no Terraform state found for unit {name}; refusing to report it destroyed",
                    f"the state for key {state_key(engine.app, engine.env_name, name)} is missing from the {backend} "
                    "backend. If its resources still exist, restore the state (or import them) and run again; "
                    "nothing was deleted.",
                    address=name,
                )
            ]
        )
    in_model = name in engine.graph.order
    values = variables(engine, name) if in_model else {}
    changes = engine.terraform.apply(name, engine.workspace.workdir(name), None, values, destroy=in_model)
    return counted(changes)
