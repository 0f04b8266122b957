"""Bind at apply: a unit's outputs become its connection, and workloads are stamped to roll.

- **Terraform units**: `bind_outputs` reads the contract values from `terraform output` and,
  with `secrets: store`, from the cloud secret store entry the module wrote. A declared key
  without a value fails the unit closed: nothing is bound.
- **Resources served in-cluster**: `bind_in_cluster` evaluates the implementation's output
  templates; secret values it generates are made once and kept in the connection Secret.
- `deliver_connection` hands the `Connection` (composer/render/connection.py renders its
  Secret and ExternalSecret) to every sink.
- `stamped_objects`: the bindings hash of a workload's upstream units on its pod templates,
  so workloads roll when bound values change.

Secret values live only in memory here; state gets non-secret outputs and keyed digests.
"""

from __future__ import annotations

import copy
import json
import secrets as random_source
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.recording import mapping_hint
from composer.render.bindings import BINDINGS_HASH_ANNOTATION, bindings_hash, secret_name
from composer.render.connection import Connection
from composer.render.kubernetes import content_named_job
from composer.render.terraform import SECRET_ID_OUTPUT
from composer.render.workload import target_namespace
from composer.resolve import ResolvedComponent
from composer.state.model import secret_digest
from composer.templates import TemplateFailure, evaluate

if TYPE_CHECKING:
    from composer.engine.run import Engine

Outputs = Mapping[str, tuple[Any, bool]]  # `terraform output -json`: key -> (value, sensitive)


def _failure(summary: str, detail: str, name: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(summary, detail, address=name)])


def _store_values(engine: Engine, c: ResolvedComponent, outs: Outputs) -> tuple[str, Mapping[str, str]]:
    """(entry id, values) of the cloud secret store entry a `secrets: store` module wrote."""
    name = c.name
    if SECRET_ID_OUTPUT not in outs or not outs[SECRET_ID_OUTPUT][0]:
        raise _failure(
            f"{name}: implementation {c.implementation.name!r} of {c.type!r} did not output {SECRET_ID_OUTPUT}",
            f"implementation {c.implementation.name} keeps secrets in the cloud secret store and must output where",
            name,
        )
    secret_ref = str(outs[SECRET_ID_OUTPUT][0])
    try:
        values = engine.read_secret(c.provider or "", secret_ref)
    except DiagnosticError as exc:
        raise _failure(
            f"cannot read the connection details of {name} from the secret store",
            "; ".join(d.summary for d in exc.diagnostics),
            name,
        ) from None
    engine._secrets[name] = values
    return secret_ref, values


def _contract_values(
    c: ResolvedComponent, outs: Outputs, secret_ref: str | None, store_values: Mapping[str, str]
) -> dict[str, Any]:
    """Every contract key's value; fails closed naming the keys without one."""
    store = secret_ref is not None
    missing = []
    values: dict[str, Any] = {}
    for key, spec in c.outputs.items():
        if store and key not in store_values:
            # The store entry is what an ExternalSecret delivers: it must hold every contract key.
            missing.append(f"{key} (in secret store entry {secret_ref})")
        elif spec.secret and store:
            values[key] = store_values[key]
        elif key in outs and outs[key][0] is not None:
            values[key] = outs[key][0]
        else:
            missing.append(key)
    if missing:
        raise _failure(
            f"{c.name}: implementation {c.implementation.name!r} of {c.type!r} gave no value for contract key {', '.join(missing)}",
            f"{mapping_hint(c, missing)}nothing was bound for {c.name} (fail closed)",
            c.name,
        )
    return values


def _as_text(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def bind_outputs(
    engine: Engine, name: str, outs: Outputs
) -> tuple[dict[str, Any], dict[str, str], str | None, dict[str, str]]:
    """(non-secret outputs, secret digests, secret ref, all values as text for the Secret). Fails closed."""
    c = engine.resolved.component(name)
    assert c is not None
    tf = c.implementation.implementation.terraform
    secret_ref, store_values = _store_values(engine, c, outs) if tf and tf.secrets == "store" else (None, {})
    values = _contract_values(c, outs, secret_ref, store_values)
    public = {k: v for k, v in values.items() if not c.outputs[k].secret}
    digests = {k: secret_digest(v, engine._state_key()) for k, v in values.items() if c.outputs[k].secret}
    return public, digests, secret_ref, _as_text(values)


def deliver_connection(engine: Engine, name: str, values: Mapping[str, str], secret_ref: str | None) -> int:
    """The unit's connection to every sink; the number of writes."""
    connection = Connection.of(engine.resolved, name, values, secret_ref)
    return sum(sink.write_connection(connection) for sink in engine.sinks)


def bind_in_cluster(engine: Engine, name: str) -> tuple[dict[str, Any], dict[str, str], int]:
    """A resource served by manifests: its contract values come from the implementation's
    output templates; secret values it generates are made once and kept in the connection
    Secret (read back from the cluster on later runs, never stored elsewhere)."""
    c = engine.resolved.component(name)
    assert c is not None and c.implementation.implementation.manifests is not None
    manifests = c.implementation.implementation.manifests
    existing: Mapping[str, str] = {}
    for sink in engine.sinks:
        existing = sink.read_connection(name, secret_name(engine.app, name)) or {}
        if existing:
            break
    generated = {k: existing.get(k) or random_source.token_urlsafe(24) for k in manifests.generate}
    context = {
        "app": engine.app,
        "env": engine.env_name,
        "component": name,
        "namespace": target_namespace(engine.resolved),
        "parameters": c.parameters,
        "generated": generated,
    }
    try:
        values = {k: evaluate(manifests.outputs[k], context) for k in c.outputs}
    except TemplateFailure as exc:
        raise _failure(f"the output templates of {c.implementation.name!r} failed", str(exc), name) from None
    text = _as_text(values)
    writes = deliver_connection(engine, name, {**generated, **text}, None)
    public = {k: v for k, v in values.items() if not c.outputs[k].secret}
    digests = {k: secret_digest(v, engine._state_key()) for k, v in text.items() if c.outputs[k].secret}
    return public, digests, writes


def stamped_objects(engine: Engine, name: str) -> list[dict]:
    """A workload's objects as sent: the bindings hash of its upstream units on every pod
    template, and a task's Job named after its content."""
    objects = tree_copy(engine.rendered.manifests.get(name, []))
    upstream = engine._upstream(name)
    if upstream:
        digest = bindings_hash(upstream)
        for obj in objects:
            for tpl in _pod_templates(obj):
                tpl.setdefault("metadata", {}).setdefault("annotations", {})[BINDINGS_HASH_ANNOTATION] = digest
    c = engine.resolved.component(name)
    if c is not None and c.type == "task":
        content_named_job(objects)
    return objects


def tree_copy(value: Any) -> Any:
    """A copy of a JSON-shaped tree (rendered manifests): new dicts and lists all the way down,
    the same immutable leaves. Four times as fast as copy.deepcopy, which a 1,000-object apply
    pays on every object (issue 13); anything else is deep-copied as before."""
    if isinstance(value, dict):
        return {k: tree_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tree_copy(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


def _pod_templates(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    out = []
    if isinstance(spec.get("template"), dict):
        out.append(spec["template"])
    jt = (spec.get("jobTemplate") or {}).get("spec") or {}
    if isinstance(jt.get("template"), dict):
        out.append(jt["template"])
    return out
