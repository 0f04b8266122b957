"""`appc drift`: the comparisons, unit by unit, with nothing written anywhere.

- Terraform units: `plan -refresh-only -json -out` then `show -json` of that plan, whose
  `resource_drift` says what changed outside Terraform (the plan file is removed at once: it
  may hold secrets).
- Workload units: for each cluster target, the live object against a server-side-apply dry run
  of the rendered object (`dryRun=All`, taking conflicts: nothing is written, and a field
  another manager took must show as drift, not fail the comparison).

composer/engine/drift.py turns both into one report; secret values are masked there.
"""

from __future__ import annotations

from collections.abc import Callable

from composer.diagnostics import DiagnosticError
from composer.engine.binding import stamped_objects
from composer.engine.changes import object_change
from composer.engine.drift import DriftReport, kubernetes_drift, terraform_drift
from composer.engine.preview import redactor
from composer.engine.run import Engine
from composer.engine.terraform_unit import scratch_planfile, variables
from composer.runners.kubernetes import ClusterSink
from composer.state.model import StateDoc


def check_drift(engine: Engine, state: StateDoc, emit: Callable[..., None]) -> DriftReport:
    engine.pending(state)  # the engine reads state from here on
    engine.workspace.sync(engine.rendered.files.under("terraform/", "modules/"))
    ignore = engine.resolved.environment.spec.policies.ignore_drift
    report = DriftReport()
    for name in engine.graph.order:
        unit = state.units.get(name)
        if unit is None or unit.status != "applied":
            report.unapplied.append(name)
            continue
        emit("unit_start", unit=name, kind=unit.kind, action="comparing")
        try:
            found = _terraform(engine, name, ignore) if unit.kind == "terraform" else _kubernetes(engine, name, ignore)
        except DiagnosticError as exc:
            report.errors[name] = "; ".join(d.summary for d in exc.diagnostics)[:300]
            emit("unit", unit=name, kind=unit.kind, status="failed", diagnostics=[d.to_json() for d in exc.diagnostics])
            continue
        except Exception as exc:  # noqa: BLE001 - a runner error (TerraformError): this unit only
            diags = getattr(exc, "diagnostics", None) or []
            report.errors[name] = (diags[0].summary if diags else type(exc).__name__)[:300]
            emit("unit", unit=name, kind=unit.kind, status="failed", diagnostics=[d.to_json() for d in diags])
            continue
        report.checked.append(name)
        report.items += found
        drifted = sum(not i.ignored for i in found)
        emit("unit", unit=name, kind=unit.kind, status="drifted" if drifted else "in sync", action=f"{drifted} drifted")
    return report


def _terraform(engine: Engine, name: str, ignore: tuple[str, ...]) -> list:
    with scratch_planfile(engine, name) as (workdir, planfile, _):  # init, and the plan file removed on every path
        engine.terraform.plan(name, workdir, planfile, variables(engine, name), refresh_only=True)
        shown = engine.terraform.show_json(name, workdir, planfile)
    return terraform_drift(name, shown, redactor(engine), ignore)


def _kubernetes(engine: Engine, name: str, ignore: tuple[str, ...]) -> list:
    objects = stamped_objects(engine, name)
    redact = redactor(engine)
    out: list = []
    several = len(engine.sinks) > 1
    for sink in engine.sinks:
        if not isinstance(sink, ClusterSink):
            continue  # a GitOps directory: its files are Composer's own
        sink.force_conflicts = True  # a dry run: seeing through a conflict writes nothing
        for live, after in sink.preview(name, objects):
            change = object_change(live, after, redact)
            if change is not None and several:
                change = type(change)(
                    f"{change.address} ({sink.target})", change.action, change.reason, change.attributes
                )
            out += kubernetes_drift(name, change, str(after.get("kind", "")), ignore)
    return out
