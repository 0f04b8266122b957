"""Generated secrets over their life: remembered before first use, rotated in order.

**Before first use.** A value appc generates for a unit (`generated_inputs`, e.g. a database
password) is sealed into the unit's state record (state/sealed.py) *before* the Terraform run
that sends it to the cloud. A first apply that creates the database and then fails before the
secret store entry is written used to generate a new password on the next run, one the database
never got; now the next run opens the sealed one. The seal is dropped once the store holds it.

**Rotation** (`appc rotate`), one unit, in this order:

1. a new value through the write-only argument's version: the unit's `<key>_version` module
   variable is bumped (and for generated inputs a new value is generated and sealed), written
   to state *before* Terraform runs, so a resumed rotation sends the same value, never a third;
2. the same Terraform run rewrites the cloud secret store entry (the modules derive its
   write-only version from the same number);
3. bind reads the entry back and rewrites the connection Secret;
4. the secret digest in state changes, so dependents' hashes and the bindings hash on their pod
   templates change and the workloads roll (the dependents are applied in the same command);
5. `rotated_at` is recorded for `appc status`.

The version reaches the module through a Terraform override file in the unit's root
(`appc_override.tf.json`, rewritten before every run), so the rendered root stays the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from composer.catalog import ModuleSource
from composer.catalog.hcl import interface
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.resolve import ResolvedComponent
from composer.state.model import UnitState, now
from composer.state.sealed import Unsealable, seal, unseal

OVERRIDE_FILE = "appc_override.tf.json"
DEFAULT_KEY = "password"


@dataclass(frozen=True)
class Scope:
    """Whose generated values these are: sealed values are bound to app, environment and unit."""

    app: str
    env: str
    unit: str
    state_key: bytes


def version_variable(key: str) -> str:
    return f"{key}_version"


def generated_keys(c: ResolvedComponent | None) -> tuple[str, ...]:
    tf = c.implementation.implementation.terraform if c is not None else None
    return tuple(tf.generated_inputs) if tf is not None else ()


def opened(prev: UnitState | None, keys: tuple[str, ...], scope: Scope) -> dict[str, str] | None:
    """The sealed values of `keys` in the unit's state record, or None when not all are sealed."""
    if prev is None or not keys or not all(k in prev.sealed_inputs for k in keys):
        return None
    try:
        return {k: unseal(scope.state_key, prev.sealed_inputs[k], scope.app, scope.env, scope.unit, k) for k in keys}
    except Unsealable as exc:
        raise DiagnosticError(
            [
                Diagnostic(
                    f"the sealed generated input of {scope.unit} cannot be opened",
                    f"{exc}; if the resource was never created, remove the unit's sealed_inputs from state "
                    "(appc will generate a new value); otherwise set the value the resource holds in its secret store entry",
                    address=scope.unit,
                )
            ]
        ) from None


def sealed_record(prev: UnitState | None, type_: str, values: Mapping[str, str], scope: Scope, note: str) -> UnitState:
    """The unit's state record with `values` sealed in it, written before the run that uses them.
    A unit never applied gets a failed placeholder (empty hash: the next apply runs it)."""
    sealed = {k: seal(scope.state_key, v, scope.app, scope.env, scope.unit, k) for k, v in values.items()}
    if prev is None:
        return UnitState(kind="terraform", type=type_, hash="", status="failed", sealed_inputs=sealed, error=note)
    return prev.model_copy(update={"sealed_inputs": {**prev.sealed_inputs, **sealed}})


def carried(prev: UnitState | None, *, keep_sealed: bool) -> dict[str, Any]:
    """Fields a new record of the unit keeps from the previous one: rotation versions and time,
    and (for a failed run only) the sealed values still waiting for the store."""
    if prev is None:
        return {}
    out: dict[str, Any] = {"secret_versions": dict(prev.secret_versions), "rotated_at": prev.rotated_at}
    if keep_sealed:
        out["sealed_inputs"] = dict(prev.sealed_inputs)
        out["rotating"] = prev.rotating
    elif prev.rotating:  # step 5: the rotation reached the store and the connection Secret
        out["rotated_at"] = now()
    return out


def override(component: str, prev: UnitState | None) -> bytes | None:
    """The override file that hands the rotation versions to the unit's module (None: none needed)."""
    versions = {version_variable(k): v for k, v in sorted((prev.secret_versions if prev else {}).items()) if v > 1}
    if not versions:
        return None
    doc = {"//": "written by appc rotate; rotation versions of generated secrets", "module": {component: versions}}
    return json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"


@dataclass(frozen=True)
class RotationStep:
    """What `appc rotate` writes to state before Terraform runs."""

    key: str
    version: int
    record: UnitState


def rotatable_keys(c: ResolvedComponent, module: ModuleSource | None) -> tuple[str, ...]:
    """Secret keys (contract secrets or generated inputs) whose module takes a `<key>_version`
    variable, the version of a write-only argument. `engine_version` and the like never qualify."""
    if module is None:
        return ()
    secret = {k for k, spec in c.outputs.items() if spec.secret} | set(generated_keys(c))
    names = interface(module.module_files()).variables
    return tuple(sorted(k for n in names if n.endswith("_version") and (k := n.removesuffix("_version")) in secret))


def begin(
    c: ResolvedComponent,
    prev: UnitState | None,
    module: ModuleSource | None,
    key: str | None,
    scope: Scope,
    generate: Callable[[], str],
) -> RotationStep:
    """Step 1: the next version (and a new sealed value for a generated input), as a state record.
    The record's empty hash makes the unit run; the old value stays in the store until it does."""
    keys = rotatable_keys(c, module)
    key = key or (DEFAULT_KEY if DEFAULT_KEY in keys else (keys[0] if len(keys) == 1 else None))
    problem = None
    if not c.is_terraform:
        problem = f"{c.name} is not a Terraform unit; only cloud resources have generated secrets to rotate"
    elif prev is None or not (prev.status == "applied" or prev.secret_versions):
        problem = f"{c.name} has not been applied yet; apply it first (its first secret is generated then)"
    elif key is None or key not in keys:
        offer = ", ".join(keys) or "none"
        problem = f"{c.name} cannot rotate {key or 'a secret'}: its module has no write-only version for it (rotatable: {offer})"
    if problem is not None or prev is None or key is None:
        raise DiagnosticError([Diagnostic(problem or "nothing to rotate", address=c.name)])
    version = max(prev.secret_versions.get(key, 1), 1) + (0 if _resuming(prev, key) else 1)
    record = prev.model_copy(
        update={
            "secret_versions": {**prev.secret_versions, key: version},
            "hash": "",
            "status": "failed",
            "rotating": key,
            "error": f"rotation of {key} to version {version} started; not finished",
        }
    )
    if key in generated_keys(c) and key not in prev.sealed_inputs:
        record = sealed_record(record, c.type, {key: generate()}, scope, "")
    return RotationStep(key, version, record)


def _resuming(prev: UnitState, key: str) -> bool:
    """A rotation started and not finished: the version was bumped but never applied."""
    return prev.rotating == key


def resume_command(app_file: str, env: str, unit: str, key: str) -> str:
    return f"appc rotate -f {app_file} -e {env} {unit} {key}"
