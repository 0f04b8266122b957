"""Saved plans: `appc plan --out FILE`, then `appc apply FILE` applies exactly that.

The file is JSON: the app and environment, the state lineage and serial it was made
against, a digest of every rendered input, and per unit the action and (for Terraform
units with changes) Terraform's own plan file, base64. A digest over the whole
document catches hand edits. Apply refuses a plan of another app or environment, one
made against a different state serial ("state moved"), one whose inputs changed, and
one whose digest does not match.

Like Terraform's plan files, the embedded Terraform plans may hold values of sensitive
variables (an upstream secret passed to a module); treat the file like a secret
artifact in CI. Composer's own secret outputs never enter it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.safefs import read_path, write_private
from composer.state.model import StateDoc, now

FORMAT = 1


def inputs_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return h.hexdigest()


def _digest(doc: dict) -> str:
    body = {k: v for k, v in doc.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_plan(path: Path, compiled, state: StateDoc, result, saved: dict[str, bytes]) -> None:
    units = {}
    for name, o in result.outcomes.items():
        units[name] = {
            "kind": o.kind,
            "action": o.action or ("none" if o.status == "unchanged" or not o.changes else "change"),
            "changes": o.changes,
            "tfplan": base64.b64encode(saved[name]).decode() if saved.get(name) else None,
        }
    doc = {
        "format": FORMAT,
        "app": compiled.resolved.name,
        "environment": compiled.resolved.environment.name,
        # No state stored yet: its lineage is born at the first write, so there is none to pin.
        "lineage": state.lineage if state.serial else None,
        "serial": state.serial,
        "inputs": inputs_digest(compiled.rendered.files),
        "created": now(),
        "units": units,
    }
    doc["digest"] = _digest(doc)
    write_private(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())  # 0600, never through a link


def _refuse(path: Path, summary: str, detail: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(summary, detail, file=str(path))])


def read_plan(path: Path, compiled, state: StateDoc) -> dict[str, bytes]:
    """The Terraform plans to apply, per unit, after every staleness check passed."""
    try:
        doc = json.loads(read_path(path).decode("utf-8"))  # a regular file only: no link, no FIFO to wait on
    except FileNotFoundError:
        raise _refuse(path, "plan file not found", "create one with appc plan --out FILE") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise _refuse(path, "this is not an appc plan file", "it does not parse as JSON; create one with appc plan --out FILE") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "digest" not in doc:
        raise _refuse(path, "this is not an appc plan file (or one of another version)", "create one with appc plan --out FILE")
    if doc["digest"] != _digest(doc):
        raise _refuse(path, "the plan file was modified after it was made", "plan files are applied exactly as saved; make a new one with appc plan --out FILE")
    app, env = compiled.resolved.name, compiled.resolved.environment.name
    if (doc.get("app"), doc.get("environment")) != (app, env):
        raise _refuse(path, f"the plan is for {doc.get('app')}/{doc.get('environment')}, not {app}/{env}", "apply it with the app file and environment it was made for")
    if doc.get("lineage") not in (None, state.lineage) or doc.get("serial") != state.serial:
        raise _refuse(path, "the state moved since this plan was made", f"plan made at serial {doc.get('serial')}, state is at serial {state.serial}; make a new plan")
    if doc.get("inputs") != inputs_digest(compiled.rendered.files):
        raise _refuse(path, "the inputs changed since this plan was made", "app.yaml, the environment, definitions or modules differ from when the plan was made; make a new plan")
    out = {}
    for name, u in (doc.get("units") or {}).items():
        if u.get("tfplan"):
            out[name] = base64.b64decode(u["tfplan"])
    return out
