"""The detail of a plan, unit by unit: which resources and objects change, and how.

The engine's plan decides *whether* a unit changes (its hash, Terraform's exit code);
this module asks the runners *what* changes (`terraform show -json` of the saved plan,
the sinks' previews, Terraform state for pruned units) and turns the answers into
`changes.ResourceChange`s, redacted with every secret the engine holds in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.diagnostics import Diagnostic, DiagnosticError, Severity
from composer.engine.changes import (
    Redactor,
    ResourceChange,
    destroys,
    managed_addresses,
    object_change,
    object_label,
    terraform_changes,
)
from composer.state.model import object_digest

if TYPE_CHECKING:  # the engine imports this module
    from composer.engine.run import Engine
    from composer.state.model import UnitState

MIN_SECRET_LENGTH = 6  # shorter values (a port, "app") would redact half the plan


def redactor(engine: Engine) -> Redactor:
    """Every secret value this run holds: generated inputs and secret outputs read upstream."""
    values: set[str] = set()
    for generated in engine.secrets.generated.values():
        values.update(str(v) for v in generated.values())
    for unit, read in engine.secrets.read.items():
        c = engine.resolved.component(unit)
        secret_keys = {k for k, spec in (c.outputs.items() if c is not None else ()) if spec.secret}
        values.update(
            str(v) for k, v in read.items() if k in secret_keys or k not in (c.outputs if c is not None else {})
        )
    return Redactor(frozenset(v for v in values if len(v) >= MIN_SECRET_LENGTH))


def terraform_resources(
    engine: Engine, name: str, workdir: Path, planfile: Path
) -> tuple[tuple[ResourceChange, ...], list[Diagnostic]]:
    """The resource changes of a saved plan; when Terraform cannot show it, none and a warning
    (the counts of the plan itself still stand)."""
    try:
        plan = engine.terraform.show_json(name, workdir, planfile)
    except DiagnosticError as exc:  # a TerraformFailure: the plan is still valid
        summary = exc.diagnostics[0].summary if exc.diagnostics else "it failed"
        return (), [
            Diagnostic(
                f"no resource detail for {name}",
                f"terraform show failed: {summary}; the counts come from the plan itself",
                address=name,
                severity=Severity.WARNING,
            )
        ]
    return tuple(terraform_changes(plan, redactor(engine))), []


def _key(obj: dict) -> tuple[str, Any, str]:
    return (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])


def kubernetes_resources(
    engine: Engine, name: str, objects: list[dict]
) -> tuple[tuple[ResourceChange, ...], list[Diagnostic]]:
    """Objects to create, update (field by field, where the sink can preview) and delete, on
    every sink, and warnings. Objects whose digest matches the inventory are unchanged and not
    asked about; with --refresh, those the target lost are creates (drift). A target that
    cannot preview (a cluster that is down) still gets a plan from the inventory, without
    fields, and a warning saying why."""
    redact = redactor(engine)
    out: list[ResourceChange] = []
    warnings: list[Diagnostic] = []
    several = len(engine.sinks) > 1
    for sink in engine.sinks:
        suffix = f" ({sink.target})" if several else ""
        current = {
            (i.kind, i.namespace, i.name): i for i in engine.state.inventory.get(sink.target, ()) if i.component == name
        }
        changed = [o for o in objects if _key(o) not in current or current[_key(o)].hash != object_digest(o)]
        if engine.refresh:
            same = [o for o in objects if o not in changed]
            if same and sink.missing(name, same):
                changed += [o for o in same if sink.missing(name, [o])]
        pairs = None
        if changed:
            try:
                pairs = sink.preview(name, changed)
            except DiagnosticError as exc:
                reason = exc.diagnostics[0].summary if exc.diagnostics else "it failed"
                warnings.append(
                    Diagnostic(
                        f"no field-level diff for {name} on {sink.target}",
                        f"{reason}; the plan lists the objects from the inventory only",
                        address=name,
                        severity=Severity.WARNING,
                    )
                )
        if pairs is not None:
            for before, after in pairs:
                rc = object_change(before, after, redact)
                if rc is not None:
                    out.append(ResourceChange(rc.address + suffix, rc.action, rc.reason, rc.attributes))
            warnings += [_admission_warning(name, sink.target, w) for w in sink.admission_warnings(name)]
        else:
            out += [
                ResourceChange(object_label(o) + suffix, "update" if _key(o) in current else "create") for o in changed
            ]
        rendered = {_key(o) for o in objects}
        out += [
            ResourceChange(f"{i.kind} {i.namespace + '/' if i.namespace else ''}{i.name}{suffix}", "destroy")
            for k, i in current.items()
            if k not in rendered
        ]
    return tuple(out), warnings


def _admission_warning(name: str, target: str, warning: str) -> Diagnostic:
    """A cluster's Pod Security warning on the dry run: the workload is admitted, but a namespace
    that enforces the level refuses its pods, so apply would fail at the rollout."""
    return Diagnostic(
        f"the pods of {name} would violate the Pod Security level of {target}",
        f"the API server's dry run warned: {warning}. If the namespace enforces this level, its pods are refused and the rollout fails: relax the named fields with the security trait, or apply to a namespace whose pod-security.kubernetes.io/enforce level allows them.",
        address=name,
        severity=Severity.WARNING,
    )


def pruned_resources(engine: Engine, name: str, unit: UnitState) -> tuple[ResourceChange, ...]:
    """What pruning a removed unit destroys: its Terraform state's managed resources, or its
    objects in the inventory of every sink."""
    if unit.kind == "terraform":
        addresses = engine.state_addresses(name, unit)
        return tuple(destroys(managed_addresses(addresses or [])))
    several = len(engine.sinks) > 1
    out = []
    for sink in engine.sinks:
        for i in engine.state.inventory.get(sink.target, ()):
            if i.component == name:
                out.append(
                    ResourceChange(
                        f"{i.kind} {i.namespace + '/' if i.namespace else ''}{i.name}"
                        + (f" ({sink.target})" if several else ""),
                        "destroy",
                    )
                )
    return tuple(out)
