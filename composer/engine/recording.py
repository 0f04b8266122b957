"""How a unit's result is recorded in state, and how its failure is reported.

Every step failure arrives as an exception: a `DiagnosticError` (the engine's own, a sink's, a
`TerraformFailure` whose runner translated Terraform's words), or anything else, which is a bug
in a runner and still fails only its unit. Terraform's "this module has no such output" is
restated in the words of the component's output contract, the way the user wrote it. An
apply's failure is written to state (status failed, the previous outputs kept) so the unit
runs again next time.
"""

from __future__ import annotations

from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.outcome import UnitKind
from composer.engine.ports import TerraformFailure
from composer.graph import Graph
from composer.resolve import ResolvedComponent
from composer.state.model import UnitState


def mapping_hint(c: ResolvedComponent, keys: list[str]) -> str:
    """Which module output each missing contract key reads (the definition's words, not the copy's)."""
    tf = c.implementation.implementation.terraform
    mapping = tf.outputs if tf is not None else {}
    read = [f"{k} <- module output {mapping.get(k, k)!r}" for k in keys if "(" not in k]
    return f"{'; '.join(read)}: null or absent; " if read else ""


def missing_contract_key(name: str, c: ResolvedComponent, key: str) -> Diagnostic:
    return Diagnostic(
        f"{name}: implementation {c.implementation.name!r} of {c.type!r} gave no value for contract key {key}",
        f"{mapping_hint(c, [key])}nothing was bound for {name} (fail closed)",
        address=name,
    )


def failure_diagnostics(name: str, c: ResolvedComponent | None, exc: Exception) -> list[Diagnostic]:
    """A failure's diagnostics; an error that is no DiagnosticError is named by its type."""
    if not isinstance(exc, DiagnosticError):
        return [Diagnostic(f"{type(exc).__name__}: {exc}"[:300], address=name)]
    missing = exc.missing_outputs if isinstance(exc, TerraformFailure) else ()
    contract = [missing_contract_key(name, c, key) for key in missing if c is not None and key in c.outputs]
    return contract + list(exc.diagnostics)


def failed_unit(
    kind: UnitKind, c: ResolvedComponent | None, previous: UnitState | None, graph: Graph, diags: list[Diagnostic]
) -> UnitState:
    """The state of a unit whose apply failed: what it had before, and the first error."""
    return UnitState(
        kind=kind,
        type=c.type if c else (previous.type if previous else "unknown"),
        hash="",
        status="failed",
        outputs=previous.outputs if previous else {},
        secret_digests=previous.secret_digests if previous else {},
        secret_ref=previous.secret_ref if previous else None,
        dependencies=graph.dependencies(c.name) if c else (previous.dependencies if previous else ()),
        provider=c.provider if c else (previous.provider if previous else None),
        error=diags[0].summary[:300] if diags else None,
    )


def applied_unit(
    kind: UnitKind,
    c: ResolvedComponent | None,
    unit_hash: str,
    graph: Graph,
    outputs: dict[str, Any],
    digests: dict[str, str],
    secret_ref: str | None = None,
) -> UnitState:
    """The state of a unit after a successful apply: its hash, non-secret outputs and secret
    digests (never a value), and the provider plugin of a Terraform unit."""
    return UnitState(
        kind=kind,
        type=c.type if c else "unknown",
        hash=unit_hash,
        status="applied",
        outputs=outputs,
        secret_digests=digests,
        secret_ref=secret_ref,
        dependencies=graph.dependencies(c.name) if c else (),
        provider=c.provider if c and kind == "terraform" else None,
    )
