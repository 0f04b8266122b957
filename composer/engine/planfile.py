"""Saved plans: `appc plan --out FILE`, then `appc apply FILE` applies exactly that. This
module makes and checks the document, bytes in and bytes out; composer/runners/saved_plans.py
reads and writes the file.

The file is JSON: the app and environment, the state lineage and serial it was made
against, a digest of every rendered input, and per unit the action and (for Terraform
units with changes) Terraform's own plan file, base64. The document is signed with an
HMAC (composer/state/keys.py) whose key is the state's key, or COMPOSER_PLAN_KEY; the
key is never in the file, so whoever edits the file cannot sign it again. Apply checks,
before anything runs: the signature; the app and environment; the state serial it was
made against ("state moved", unless only the records of probes and drift checks were written
since: engine/check_records.py); the rendered inputs; and that each embedded Terraform plan's
configuration snapshot (which is what `terraform apply PLANFILE` runs) is byte for byte the
root and modules Composer rendered now.

Like Terraform's plan files, the embedded Terraform plans may hold values of sensitive
variables (an upstream secret passed to a module); treat the file like a secret
artifact in CI. Composer's own secret outputs never enter it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import posixpath
import zipfile
from pathlib import Path
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine import rotate
from composer.engine.check_records import applied_digest
from composer.engine.plan_repairs import PlannedRepairs, SavedPlan, repairs_from_json
from composer.state import keys
from composer.state.model import StateDoc, now

FORMAT = 2  # 1: unsigned (a plain SHA-256 digest anyone could recompute); refused


def inputs_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return h.hexdigest()


def encode_plan(
    compiled, state: StateDoc, result, saved: dict[str, bytes], key: bytes, repairs: PlannedRepairs | None = None
) -> bytes:
    """The signed plan document (composer/runners/saved_plans.py writes it to the user's path).
    `repairs`: units planned because the probe found them changed behind Composer's back."""
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
        "applied": applied_digest(state),
        "inputs": inputs_digest(compiled.rendered.files),
        "created": now(),
        "units": units,
    }
    if repairs:  # absent otherwise: a plan without repairs is the same document as before them
        doc["repairs"] = repairs.to_json()
    doc[keys.SIGNATURE_FIELD] = keys.sign(key, "plan", doc)
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def _refuse(path: Path, summary: str, detail: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(summary, detail, file=str(path))])


def not_a_plan(path: Path) -> DiagnosticError:
    return _refuse(
        path, "this is not an appc plan file", "it does not parse as JSON; create one with appc plan --out FILE"
    )


def plan_not_found(path: Path) -> DiagnosticError:
    return _refuse(path, "plan file not found", "create one with appc plan --out FILE")


def decode_plan(path: Path, data: bytes, compiled, state: StateDoc, key: bytes) -> SavedPlan:
    """The Terraform plans to apply, per unit, and the repairs, after the signature and every
    staleness check passed. `path` only names the file in diagnostics; `data` is what it holds."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise not_a_plan(path) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or keys.SIGNATURE_FIELD not in doc:
        raise _refuse(
            path, "this is not an appc plan file (or one of another version)", "create one with appc plan --out FILE"
        )
    # Refusing on unverified fields is safe; it gives the clearer message for a plan of another environment.
    app, env = compiled.resolved.name, compiled.resolved.environment.name
    if (doc.get("app"), doc.get("environment")) != (app, env):
        raise _refuse(
            path,
            f"the plan is for {doc.get('app')}/{doc.get('environment')}, not {app}/{env}",
            "apply it with the app file and environment it was made for",
        )
    if not keys.verify(key, "plan", doc):
        raise _refuse(
            path,
            "the plan file's signature does not match: it was modified after it was made, or signed with another key",
            "nothing was applied. Plan files are applied exactly as saved and signed with the state's key (or COMPOSER_PLAN_KEY); "
            "make a new one with appc plan --out FILE",
        )
    moved = doc.get("serial") != state.serial and doc.get("applied") != applied_digest(state)
    if doc.get("lineage") not in (None, state.lineage) or moved:
        raise _refuse(
            path,
            "the state moved since this plan was made",
            f"plan made at serial {doc.get('serial')}, state is at serial {state.serial}; make a new plan",
        )
    if doc.get("inputs") != inputs_digest(compiled.rendered.files):
        raise _refuse(
            path,
            "the inputs changed since this plan was made",
            "app.yaml, the environment, definitions or modules differ from when the plan was made; make a new plan",
        )
    listed = doc.get("units")
    units: dict[str, Any] = listed if isinstance(listed, dict) else {}
    repairs = repairs_from_json(doc.get("repairs"), compiled.graph.order)
    if repairs is None:
        raise _refuse(
            path, "the plan file's repairs section is not one appc writes", "nothing was applied; make a new plan"
        )
    tfplans = {
        name: _unit_plan(path, name, u["tfplan"], compiled, state)
        for name, u in units.items()
        if isinstance(u, dict) and u.get("tfplan")
    }
    return SavedPlan(tfplans, repairs)


def _unit_plan(path: Path, name: str, encoded: Any, compiled: Any, state: StateDoc) -> bytes:
    """One unit's embedded Terraform plan, checked against the root rendered now."""
    try:
        tfplan = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise _refuse(path, f"the embedded Terraform plan of unit {name} is not base64", "make a new plan") from None
    overlay = rotate.override(name, state.units.get(name))  # rotation versions ride along (engine/rotate.py)
    files = {**compiled.rendered.files, **({f"terraform/{name}/{rotate.OVERRIDE_FILE}": overlay} if overlay else {})}
    problem = config_mismatch(name, tfplan, files)
    if problem:
        raise _refuse(
            path,
            f"the embedded Terraform plan of unit {name} is not for the rendered root",
            f"{problem}; nothing was applied. Make a new plan",
        )
    return tfplan


def config_mismatch(unit: str, tfplan: bytes, files: dict[str, bytes]) -> str | None:
    """Why a Terraform plan's configuration snapshot is not the root Composer rendered for
    `unit` (and the modules it calls), or None when it is, file for file. The snapshot is what
    `terraform apply PLANFILE` runs, whatever is on disk."""
    try:
        with zipfile.ZipFile(io.BytesIO(tfplan)) as z:
            snapshot = {n: z.read(n) for n in z.namelist() if n.startswith("tfconfig/") and not n.endswith("/")}
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
        return "it is not a Terraform plan file"
    try:
        modules = json.loads(snapshot.pop("tfconfig/modules.json"))
        dirs = {str(m["Key"]): str(m["Dir"]) for m in modules}
    except (KeyError, TypeError, ValueError):
        return "its module manifest is missing or unreadable"
    expected: dict[str, bytes] = {}
    for module_key, directory in dirs.items():
        rendered_dir = posixpath.normpath(posixpath.join(f"terraform/{unit}", directory))
        if rendered_dir != f"terraform/{unit}" and not rendered_dir.startswith("modules/"):
            return f"module {module_key or '(root)'} comes from {directory}, outside the rendered tree"
        for rel, data in files.items():
            head, _, name = rel.rpartition("/")
            if head == rendered_dir and name.endswith((".tf", ".tf.json")):
                expected[f"tfconfig/m-{module_key}/{name}"] = data
    if set(snapshot) != set(expected):
        extra, missing = sorted(set(snapshot) - set(expected)), sorted(set(expected) - set(snapshot))
        return f"its configuration has files Composer did not render ({', '.join(extra[:3]) or 'none'}) or lacks rendered ones ({', '.join(missing[:3]) or 'none'})"
    changed = sorted(n for n in snapshot if snapshot[n] != expected[n])
    if changed:
        return f"its configuration differs from the rendered files in {', '.join(changed[:3])}"
    return None
