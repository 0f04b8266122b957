"""Score placeholders (`${metadata.…}`, `${resources.NAME.KEY}`) in Composer's terms.

A Score file says `${resources.db.host}`; Composer says `${db.host}` and binds it from the
connection Secret at apply. Placeholders whose value is known when the file is loaded
(`${metadata.name}`, a dns host, an `environment` resource) become literal text, escaped so
that a `${` in the value stays literal. Score's `$$` is a literal `$`. Every placeholder is
resolved here or reported at the line it was written on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from composer.diagnostics import Diagnostic, FieldPath
from composer.model.source import SourceMap

PLACEHOLDER = re.compile(r"\$(\$|\{([^}]*)\})")
_DOT = re.compile(r"(?<!\\)\.")
OUTPUT_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Binding:
    """What `${resources.NAME…}` stands for in one workload."""

    kind: str  # "provisioned", "dns", "environment", "route", "volume"
    component: str | None = None  # provisioned: the Composer component bound
    renames: Mapping[str, str] = field(default_factory=dict)  # Score output key -> Composer output key
    values: Mapping[str, Any] = field(default_factory=dict)  # dns: its host; volume: claim, create, params


def literal(text: str) -> str:
    """Text for Composer, where a literal `${` is written `$${`."""
    return text.replace("${", "$${")


def split_path(inner: str) -> list[str]:
    return [p.replace("\\.", ".") for p in _DOT.split(inner)]


@dataclass
class Placeholders:
    """Resolves the placeholders of one workload; problems go to `errors`."""

    source: SourceMap
    metadata: Mapping[str, Any]
    bindings: Mapping[str, Binding]
    environ: Mapping[str, str]
    errors: list[Diagnostic]

    def error(self, path: FieldPath, summary: str, detail: str = "") -> None:
        self.errors.append(self.source.diagnostic(path, summary, detail))

    def expand(self, text: str, path: FieldPath, *, refs: bool = True) -> str:
        """Score text -> Composer text. `refs=False` where no reference can be bound (file content)."""
        out: list[str] = []
        pos = 0
        for m in PLACEHOLDER.finditer(text):
            out.append(text[pos : m.start()])
            if m.group(1) == "$":
                out.append("$$" if text.startswith("{", m.end()) else "$")
            else:
                out.append(self._one(m.group(2), path, refs))
            pos = m.end()
        out.append(text[pos:])
        return "".join(out)

    def _one(self, inner: str, path: FieldPath, refs: bool) -> str:
        parts = split_path(inner)
        if parts[0] == "metadata" and len(parts) > 1:
            return self._metadata(parts, inner, path)
        if parts[0] == "resources" and len(parts) > 1:
            return self._resource(parts, inner, path, refs)
        self.error(
            path,
            f"unknown placeholder ${{{inner}}}",
            "expected ${metadata.<field>} or ${resources.<name>.<key>}; write $${ for a literal ${",
        )
        return ""

    def _metadata(self, parts: list[str], inner: str, path: FieldPath) -> str:
        value: Any = self.metadata
        for p in parts[1:]:
            value = value.get(p) if isinstance(value, dict) else None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return literal(str(value))
        self.error(
            path,
            f"${{{inner}}} names no text in the workload's metadata",
            "expected e.g. ${metadata.name} or ${metadata.annotations.<key>}",
        )
        return ""

    def _resource(self, parts: list[str], inner: str, path: FieldPath, refs: bool) -> str:
        name = parts[1]
        binding = self.bindings.get(name)
        if binding is None:
            known = ", ".join(sorted(self.bindings)) or "none"
            self.error(
                path, f"${{{inner}}}: the workload declares no resource {name!r}", f"resources declared: {known}"
            )
            return ""
        if len(parts) == 2:
            self.error(
                path,
                f"${{{inner}}} names a resource, not one of its outputs",
                "write ${resources.<name>.<key>}; a bare ${resources.<name>} is read only as a volume source",
            )
            return ""
        key = ".".join(parts[2:])
        handler: Callable[[Binding, str, str, FieldPath, bool], str] = getattr(self, f"_{binding.kind}")
        return handler(binding, key, inner, path, refs)

    def _provisioned(self, b: Binding, key: str, inner: str, path: FieldPath, refs: bool) -> str:
        target = b.renames.get(key, key)
        if not refs:
            self.error(
                path,
                f"${{{inner}}} cannot be expanded here",
                "resource outputs are known only at apply and reach a container through env: set a variable to it and read the variable",
            )
            return ""
        if not OUTPUT_KEY.match(target):
            self.error(
                path,
                f"${{{inner}}}: {key!r} is not an output name",
                "outputs are lowercase names such as host, port, username, password or url",
            )
            return ""
        return f"${{{b.component}.{target}}}"

    def _dns(self, b: Binding, key: str, inner: str, path: FieldPath, refs: bool) -> str:
        if key in b.values:
            return literal(b.values[key])
        self.error(path, f"${{{inner}}}: a dns resource has the output host only")
        return ""

    def _environment(self, b: Binding, key: str, inner: str, path: FieldPath, refs: bool) -> str:
        if key not in self.environ:
            self.error(
                path,
                f"${{{inner}}}: environment variable {key} is not set",
                f"export {key}=... before running appc (an environment resource reads appc's own environment)",
            )
            return ""
        return literal(self.environ[key])

    def _route(self, b: Binding, key: str, inner: str, path: FieldPath, refs: bool) -> str:
        self.error(path, f"${{{inner}}}: a route has no outputs")
        return ""

    def _volume(self, b: Binding, key: str, inner: str, path: FieldPath, refs: bool) -> str:
        self.error(
            path,
            f"${{{inner}}}: a volume has no outputs",
            "mount it with containers.<name>.volumes.<path>.source: ${resources.<name>}",
        )
        return ""
