"""Drift: what changed outside Composer since the last apply, attribute by attribute. Pure.

Two sources, compared by composer/runners/drift_check.py and turned into one report here:

- Terraform: the `resource_drift` of a `plan -refresh-only` (as `show -json` prints it):
  before = as the last apply left it (desired), after = as the cloud holds it now (live).
- Kubernetes: each object as the cluster holds it (live) against a server-side-apply dry run of
  the rendered object (desired after an apply), field by field.

Values are display text from composer/engine/changes.py's Redactor: secret values are masked.
Paths listed in policies.ignoreDrift are reported with `ignored` and do not count as drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from composer.engine.changes import Redactor, ResourceChange, terraform_changes
from composer.engine.probes import ignored_paths


@dataclass(frozen=True)
class DriftItem:
    unit: str
    resource: str  # Terraform address or "Kind namespace/name"
    kind: str  # Terraform resource type or Kubernetes kind
    attribute: str  # "" for the whole resource (deleted or created outside)
    live: str | None  # None: absent
    desired: str | None
    ignored: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "resource": self.resource,
            "kind": self.kind,
            "attribute": self.attribute,
            "live": self.live,
            "desired": self.desired,
            "ignored": self.ignored,
        }


@dataclass
class DriftReport:
    items: list[DriftItem] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # units compared
    errors: dict[str, str] = field(default_factory=dict)  # unit -> why it could not be compared
    unapplied: list[str] = field(default_factory=list)  # in the model, never applied: plan's business

    @property
    def drifted(self) -> list[DriftItem]:
        return [i for i in self.items if not i.ignored]

    def to_json(self) -> dict[str, Any]:
        return {
            "drift": bool(self.drifted),
            "checked": self.checked,
            "items": [i.to_json() for i in self.items],
            "errors": self.errors,
            "unapplied": self.unapplied,
        }


def _resource_type(address: str) -> str:
    parts = address.split(".")
    i = 0
    while i + 1 < len(parts) and parts[i] == "module":
        i += 2
    return parts[i] if i < len(parts) else address


def terraform_drift(unit: str, shown: Mapping[str, Any], redact: Redactor, ignore: Iterable[str]) -> list[DriftItem]:
    """`show -json` of a refresh-only plan → drift items (desired = state, live = cloud). Only
    attributes the configuration sets are desired: a computed attribute that another resource
    fills in (a bucket's inline `versioning` once `aws_s3_bucket_versioning` ran) is not drift."""
    changes = terraform_changes({"resource_changes": shown.get("resource_drift") or []}, redact)
    config = _configured_resources(((shown.get("configuration") or {}).get("root_module")) or {}, "")
    kept = []
    for rc in changes:
        expressions = config.get(_without_keys(rc.address))
        if rc.action == "update" and expressions is not None:
            attrs = tuple(a for a in rc.attributes if _configured(expressions, a.path))
            if not attrs:
                continue
            rc = ResourceChange(rc.address, rc.action, rc.reason, attrs)
        kept.append(rc)
    return _items(unit, kept, lambda rc: _resource_type(rc.address), ignore, live_is_new=True)


def _configured_resources(module: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Resource address (no instance keys) -> its configuration's expressions, in every module."""
    out = {f"{prefix}{r.get('address')}": r.get("expressions") or {} for r in module.get("resources") or []}
    for name, call in (module.get("module_calls") or {}).items():
        out.update(_configured_resources((call or {}).get("module") or {}, f"{prefix}module.{name}."))
    return out


def _without_keys(address: str) -> str:
    return re.sub(r"\[[^\]]*\]", "", address)


def _configured(expressions: Any, path: str) -> bool:
    """Whether the configuration sets this attribute path (or a whole value containing it)."""
    node = expressions
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if isinstance(node, dict) and ("constant_value" in node or "references" in node):
            return True  # an expression: the whole value below it is configured
        if token.startswith("["):
            if not isinstance(node, list) or not node:
                return isinstance(node, dict)
            node = node[min(int(token[1:-1]), len(node) - 1)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return False
    return True


def kubernetes_drift(unit: str, change: ResourceChange | None, kind: str, ignore: Iterable[str]) -> list[DriftItem]:
    """One object's live → dry-run change (desired = after apply, live = now)."""
    if change is None:
        return []
    return _items(unit, [change], lambda rc: kind, ignore, live_is_new=False)


def _items(
    unit: str, changes: list[ResourceChange], kind_of: Any, ignore: Iterable[str], live_is_new: bool
) -> list[DriftItem]:
    entries = tuple(ignore)
    out: list[DriftItem] = []
    for rc in changes:
        kind = kind_of(rc)
        paths = ignored_paths(entries, unit, kind)
        if rc.action in ("destroy", "create") or not rc.attributes:
            gone = (rc.action == "destroy") == live_is_new  # deleted in the cloud / absent from the cluster
            state = ("(absent)", "(present)") if gone else ("(present)", "(absent)")
            out.append(DriftItem(unit, rc.address, kind, "", *state))
            continue
        for a in rc.attributes:
            live, desired = (a.new, a.old) if live_is_new else (a.old, a.new)
            ignored = any(a.path == p or a.path.startswith(p + ".") or a.path.startswith(p + "[") for p in paths)
            out.append(DriftItem(unit, rc.address, kind, a.path, live, desired, ignored))
    return out


def _cell(text: str) -> str:
    """Table-safe text: no cell break, no HTML, no code span a value could close."""
    for a, b in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), (">", "&gt;"), ("`", "'"), ("\n", " ")):
        text = text.replace(a, b)
    return text


def markdown(report: DriftReport, app: str, env: str) -> str:
    """A comment for an issue or pull request: a marker line, then one row per drifted attribute."""
    lines = [f"<!-- appc-drift: {app}/{env} -->", f"### Drift in {app}/{env}", ""]
    if not report.items and not report.errors:
        lines.append(f"No drift in {len(report.checked)} unit(s).")
        return "\n".join(lines) + "\n"
    lines += ["| unit | resource | attribute | live | desired | |", "|---|---|---|---|---|---|"]
    for i in report.items:
        cells = [i.unit, i.resource, i.attribute or "(whole resource)", i.live or "", i.desired or ""]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + f" | {'ignored' if i.ignored else ''} |")
    for unit, why in sorted(report.errors.items()):
        lines.append(f"\n{unit}: not compared ({why})")
    return "\n".join(lines) + "\n"
