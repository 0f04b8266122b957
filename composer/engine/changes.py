"""What a plan will change, resource by resource and field by field.

Two sources feed the same structure:

- **Terraform**: the saved plan as `terraform show -json` prints it (`resource_changes`):
  each address with its action (create, update, replace and why, destroy, read) and the
  changed attributes old → new. Terraform's `*_sensitive` trees mark what is secret, its
  `after_unknown` tree what is known only after apply.
- **Kubernetes**: an object before (the live object, or the last written file) and after
  (the server-side-apply dry run, or the rendered object), compared field by field.

Values are printed for people, so nothing secret may pass: sensitive attributes show as
`(sensitive)`, the data of a Secret object too, and any value containing a secret the
engine holds in memory this run (a generated password, an upstream secret output) is
redacted as well, whatever the module declared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SENSITIVE = "(sensitive)"
UNKNOWN = "(known after apply)"
VALUE_WIDTH = 120  # longer values are cut in the middle: a plan is read, not copied

# Terraform's action lists (plan JSON format) → one word.
_TF_ACTIONS = {
    ("create",): "create",
    ("update",): "update",
    ("delete",): "destroy",
    ("read",): "read",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
}
_TF_REASONS = {
    "replace_because_tainted": "tainted",
    "replace_because_cannot_update": "a changed attribute forces replacement",
    "replace_by_request": "replacement requested",
    "replace_by_triggers": "replace_triggered_by",
    "delete_because_no_resource_config": "no longer in the configuration",
    "delete_because_no_module": "its module is no longer in the configuration",
    "delete_because_count_index": "count index out of range",
    "delete_because_each_key": "for_each key removed",
    "read_because_config_unknown": "its configuration is known only after apply",
    "read_because_dependency_pending": "a dependency has pending changes",
}
SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "destroy": "-", "read": "<="}

# Fields a server fills in or keeps for itself: noise in a diff of intent.
_K8S_NOISE = (
    ("metadata", "managedFields"),
    ("metadata", "resourceVersion"),
    ("metadata", "generation"),
    ("metadata", "uid"),
    ("metadata", "creationTimestamp"),
    ("metadata", "selfLink"),
    ("status",),
)


@dataclass(frozen=True)
class AttributeChange:
    path: str
    old: str | None  # display text; None: absent before (created)
    new: str | None  # display text; None: absent after (removed)

    def to_json(self) -> dict:
        return {"path": self.path, "old": self.old, "new": self.new}

    def text(self) -> str:
        if self.old is None:
            return f"{self.path}: {self.new}"
        if self.new is None:
            return f"{self.path}: {self.old} → (removed)"
        return f"{self.path}: {self.old} → {self.new}"


@dataclass(frozen=True)
class ResourceChange:
    address: str  # a Terraform address, or "Kind namespace/name"
    action: str  # create | update | replace | destroy | read
    reason: str = ""
    attributes: tuple[AttributeChange, ...] = ()

    def to_json(self) -> dict:
        return {
            "address": self.address,
            "action": self.action,
            **({"reason": self.reason} if self.reason else {}),
            "attributes": [a.to_json() for a in self.attributes],
        }

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.action, "?")


@dataclass
class Redactor:
    """Turns a value into display text with no secret in it."""

    secrets: frozenset[str] = field(default_factory=frozenset)

    def show(self, value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        if any(s and s in text for s in self.secrets):
            return SENSITIVE
        shown = json.dumps(value) if isinstance(value, str) else text
        if len(shown) > VALUE_WIDTH:
            half = VALUE_WIDTH // 2 - 1
            shown = f"{shown[:half]}…{shown[-half:]}"
        return shown


def counts(resources: Iterable[ResourceChange]) -> dict[str, int]:
    """Terraform's arithmetic: a replace is one to add and one to destroy."""
    out = {"add": 0, "change": 0, "remove": 0}
    for r in resources:
        if r.action in ("create", "replace"):
            out["add"] += 1
        if r.action in ("destroy", "replace"):
            out["remove"] += 1
        if r.action == "update":
            out["change"] += 1
    return out


# -- flattening --------------------------------------------------------------------------------


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key)
    plain = key.replace("_", "").replace("-", "").isalnum()
    step = key if plain else json.dumps(key)
    return f"{path}.{step}" if path else step


def _mark(tree: Any, key: Any) -> Any:
    """The sub-tree of a Terraform marker tree (`true` marks a whole value)."""
    if tree is True:
        return True
    if isinstance(tree, dict):
        return tree.get(key, False)
    if isinstance(tree, list) and isinstance(key, int) and key < len(tree):
        return tree[key]
    return False


def _flatten(value: Any, sensitive: Any, unknown: Any, path: str, out: dict[str, Any]) -> None:
    """Leaf path → value, with SENSITIVE/UNKNOWN sentinels where the marker trees say so."""
    if sensitive is True:
        out[path] = _Sentinel(SENSITIVE)
        return
    if unknown is True:
        out[path] = _Sentinel(UNKNOWN)
        return
    if isinstance(value, dict) and value:
        keys = set(value) | (set(unknown) if isinstance(unknown, dict) else set())
        for k in sorted(keys):
            _flatten(value.get(k), _mark(sensitive, k), _mark(unknown, k), _join(path, k), out)
        return
    if isinstance(value, list) and value:
        n = max(len(value), len(unknown) if isinstance(unknown, list) else 0)
        for i in range(n):
            _flatten(value[i] if i < len(value) else None, _mark(sensitive, i), _mark(unknown, i), _join(path, i), out)
        return
    if isinstance(unknown, (dict, list)) and unknown:
        _flatten({} if isinstance(unknown, dict) else [], sensitive, unknown, path, out)
        return
    if value is None or value == {} or value == []:
        return  # absent and empty read alike: Terraform prints neither
    out[path] = value


@dataclass(frozen=True)
class _Sentinel:
    text: str


def _diff(before: Mapping[str, Any], after: Mapping[str, Any], redact: Redactor) -> tuple[AttributeChange, ...]:
    out = []
    for path in sorted(set(before) | set(after), key=_path_key):
        old, new = before.get(path), after.get(path)
        if old == new and not isinstance(new, _Sentinel):
            continue
        if isinstance(old, _Sentinel) and isinstance(new, _Sentinel) and old == new and new.text == SENSITIVE:
            continue  # sensitive both sides: Terraform cannot tell either, so neither do we
        show = lambda v: None if v is None else (v.text if isinstance(v, _Sentinel) else redact.show(v))  # noqa: E731
        out.append(AttributeChange(path, show(old), show(new)))
    return tuple(out)


def _path_key(path: str) -> list:
    """Sort paths as a person reads them: list indices by number."""
    import re

    return [int(p) if p.isdigit() else p for p in re.split(r"\[(\d+)\]", path)]


# -- Terraform ---------------------------------------------------------------------------------


def terraform_changes(plan: Mapping[str, Any], redact: Redactor) -> list[ResourceChange]:
    """Every resource change of a `terraform show -json` plan, no-ops left out."""
    out = []
    for rc in plan.get("resource_changes") or []:
        change = rc.get("change") or {}
        action = _TF_ACTIONS.get(tuple(change.get("actions") or ()))
        if action is None:
            continue  # no-op
        reason = _TF_REASONS.get(rc.get("action_reason") or "", "")
        if action == "replace" and change.get("replace_paths"):
            forced = ", ".join(".".join(str(s) for s in p) for p in change["replace_paths"])
            reason = f"{reason}: {forced}" if reason else f"forced by {forced}"
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if action != "destroy":
            _flatten(change.get("before"), change.get("before_sensitive", False), False, "", before)
            _flatten(
                change.get("after"), change.get("after_sensitive", False), change.get("after_unknown", False), "", after
            )
        out.append(
            ResourceChange(
                str(rc.get("address", "?")), action, reason, _diff(before, after, redact) if action != "read" else ()
            )
        )
    return out


def managed_addresses(addresses: Iterable[str]) -> list[str]:
    """The managed resources of a `terraform state list` (data sources are never destroyed)."""
    out = []
    for addr in addresses:
        parts = addr.split(".")
        i = 0
        while i + 1 < len(parts) and parts[i] == "module":
            i += 2
        if i < len(parts) and parts[i] != "data":
            out.append(addr)
    return out


def destroys(addresses: Iterable[str]) -> list[ResourceChange]:
    return [ResourceChange(a, "destroy") for a in addresses]


# -- Kubernetes --------------------------------------------------------------------------------


def object_label(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{meta.get('name', '?')}"


def _without_noise(obj: Mapping[str, Any]) -> dict:
    doc = json.loads(json.dumps(obj, default=str))
    for path in _K8S_NOISE:
        node = doc
        for step in path[:-1]:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return doc


def _secret_marks(obj: Mapping[str, Any]) -> Any:
    if obj.get("kind") == "Secret":
        return {"data": True, "stringData": True}
    return False


def object_change(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], redact: Redactor, label: str | None = None
) -> ResourceChange | None:
    """One object's change, or None when nothing differs."""
    flat_after: dict[str, Any] = {}
    _flatten(_without_noise(after), _secret_marks(after), False, "", flat_after)
    if before is None:
        return ResourceChange(label or object_label(after), "create", "", _diff({}, flat_after, redact))
    flat_before: dict[str, Any] = {}
    _flatten(_without_noise(before), _secret_marks(before), False, "", flat_before)
    attrs = _diff(flat_before, flat_after, redact)
    if after.get("kind") == "Secret" and _secret_data(before) != _secret_data(after):
        attrs += (AttributeChange("data", SENSITIVE, SENSITIVE),)  # that it changes, never what
    if not attrs:
        return None
    return ResourceChange(label or object_label(after), "update", "", attrs)


def _secret_data(obj: Mapping[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(
        json.dumps([obj.get("data"), obj.get("stringData")], sort_keys=True, default=str).encode()
    ).hexdigest()
