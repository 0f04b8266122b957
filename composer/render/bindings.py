"""Bindings: how resource outputs reach workloads.

Every output of a resource is bound into the Secret `<app>-<component>-conn`.
A connection gives the workload one env var per output, `<COMPONENT>_<KEY>`, as a
secretKeyRef. A reference in an env value (`${db.url}`) becomes a secretKeyRef when
it is the whole value, and Kubernetes' own `$(VAR)` expansion when it is embedded in
text (the var it expands is added first). The same `$(VAR)` form serves references
in cmd and args. No value is known at render time and none is needed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from composer.model import refs
from composer.model.refs import OutputRef

BINDINGS_HASH_ANNOTATION = "composer.dev/bindings-hash"


def secret_name(app: str, component: str) -> str:
    return f"{app}-{component}-conn"


def secret_key_ref(app: str, ref: OutputRef) -> dict:
    return {"valueFrom": {"secretKeyRef": {"name": secret_name(app, ref.component), "key": ref.key}}}


def bindings_hash(outputs_by_component: Mapping[str, Mapping[str, Any]]) -> str:
    """Digest of the bound values a workload sees; the engine stamps it on the pod template."""
    blob = json.dumps(outputs_by_component, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class EnvBuilder:
    """Builds a container's env list: connection vars first, so $(VAR) expansion finds them."""

    def __init__(self, app: str) -> None:
        self.app = app
        self.bound: dict[str, dict] = {}  # vars generated from references/connections
        self.own: dict[str, dict] = {}  # vars the user wrote

    def connect(self, component: str, keys: list[str]) -> None:
        for key in keys:
            ref = OutputRef(component, key)
            self.bound.setdefault(ref.env_name, {"name": ref.env_name, **secret_key_ref(self.app, ref)})

    def expand(self, text: str) -> str:
        """Text with embedded references turned into $(VAR), each VAR bound first."""
        out = []
        for part in refs.split(text, unescape=False):
            if isinstance(part, OutputRef):
                self.connect(part.component, [part.key])
                out.append(f"$({part.env_name})")
            else:
                out.append(part)
        return "".join(out)

    def set(self, name: str, value: Any) -> None:
        if isinstance(value, dict):  # {valueFrom: {...}} passes through
            self.own[name] = {"name": name, **value}
            return
        text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)
        parts = refs.split(text, unescape=False) if refs.has_refs(text) else (text,)
        if len(parts) == 1 and isinstance(parts[0], OutputRef):
            self.own[name] = {"name": name, **secret_key_ref(self.app, parts[0])}
        elif refs.has_refs(text):
            self.own[name] = {"name": name, "value": self.expand(text)}
        else:
            self.own[name] = {"name": name, "value": text}

    def entries(self) -> list[dict]:
        out = [v for k, v in self.bound.items() if k not in self.own]
        return out + list(self.own.values())
