"""Where the day-2 features meet a Terraform unit's steps (engine/terraform_unit.py):

- the root's one-run overlays, written or removed before every Terraform run: rotation
  versions (engine/rotate.py) and import blocks (engine/adopt.py);
- generated inputs that were sealed in state open before anything else, and freshly generated
  ones are sealed into state before the run that sends them (engine/rotate.py);
- an apply that failed on resources that already exist is explained, and with --adopt-owned the
  ones whose ownership tags name the unit are imported and the unit runs again (engine/adopt.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from composer.engine import adopt, rotate
from composer.engine.outcome import Outcome

if TYPE_CHECKING:  # the engine imports this module
    from composer.engine.run import Engine


def scope(engine: Engine, name: str) -> rotate.Scope:
    return rotate.Scope(engine.app, engine.env_name, name, engine._state_key())


def write_overlays(engine: Engine, name: str) -> None:
    prev = engine.state.units.get(name)
    in_model = name in engine.graph.order
    for file, data in (
        (rotate.OVERRIDE_FILE, rotate.override(name, prev) if in_model else None),
        (adopt.IMPORT_FILE, adopt.import_file(engine.imports.get(name, ())) if in_model else None),
    ):
        if data is None:
            engine.workspace.remove(f"terraform/{name}/{file}")
        else:
            engine.workspace.write(f"terraform/{name}/{file}", data)


def generated_inputs(engine: Engine, name: str) -> dict[str, str]:
    """The unit's generated inputs: sealed ones first (a first apply that failed, a rotation
    under way), then the secret store entry, else new ones (RunSecrets)."""
    c = engine.resolved.component(name)
    prev = engine.state.units.get(name)
    sealed = rotate.opened(prev, rotate.generated_keys(c), scope(engine, name)) if c is not None else None
    if sealed is not None:
        with engine.secrets._lock:
            engine.secrets.generated.setdefault(name, sealed)
    return engine.secrets.generated_inputs(c, prev)


def seal_before_use(engine: Engine, name: str) -> None:
    """Values generated this run are written, sealed, into state before Terraform sends them."""
    c = engine.resolved.component(name)
    prev = engine.state.units.get(name)
    keys = rotate.generated_keys(c)
    if c is None or not keys or (prev is not None and (prev.secret_ref or all(k in prev.sealed_inputs for k in keys))):
        return
    values = generated_inputs(engine, name)
    note = "generated inputs sealed before first use; not applied yet"
    engine.save(
        lambda s: s.with_unit(name, rotate.sealed_record(s.units.get(name), c.type, values, scope(engine, name), note))
    )


def drop_imports(engine: Engine, name: str) -> None:
    """Import blocks are for one run: gone from the root whether it adopted or failed."""
    if name in engine.imports:
        engine.imports = {k: v for k, v in engine.imports.items() if k != name}
        engine.workspace.remove(f"terraform/{name}/{adopt.IMPORT_FILE}")


def apply_adopting(engine: Engine, name: str, planned: bytes | None) -> Outcome:
    from composer.engine import terraform_unit

    try:
        outcome = terraform_unit.apply_unit(engine, name, planned)
        drop_imports(engine, name)
        return outcome
    except Exception as exc:  # the runner's failure carries diagnostics too
        drop_imports(engine, name)
        diagnostics = list(getattr(exc, "diagnostics", None) or [])
        c = engine.resolved.component(name)
        provider = (c.provider if c is not None else None) or ""
        found = [
            adopt.classify(t, provider, engine.read_tags, engine.app, engine.env_name, name)
            for t in adopt.orphans_in(diagnostics)
        ]
        if not found:
            raise
        if engine.adopt_owned and planned is None and all(o.owner == "this unit" for o in found):
            engine.emit("adopt", unit=name, resources=[o.target.address for o in found])
            engine.imports = {**engine.imports, name: tuple(o.target for o in found)}
            try:
                return terraform_unit.apply_unit(engine, name, None)
            finally:
                drop_imports(engine, name)
        from composer.diagnostics import DiagnosticError

        explained = [adopt.orphan_diagnostic(o, engine.app_file, engine.env_name, name) for o in found]
        raise DiagnosticError(explained + diagnostics) from None
