"""A Terraform module's interface, read with python-hcl2: variables, outputs, module calls
and provider requirements. Nothing here evaluates HCL; it only reads declarations.

Both syntaxes count (`*.tf` and `*.tf.json`), as Terraform loads them: every such file
directly in the module's directory. A file that does not parse is a diagnostic naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError


@dataclass(frozen=True)
class Variable:
    name: str
    type: str | None = None  # the type expression as written, e.g. "map(string)"
    description: str = ""
    required: bool = True  # no default
    default: Any = None
    sensitive: bool = False


@dataclass(frozen=True)
class Output:
    name: str
    description: str = ""
    sensitive: bool = False


@dataclass(frozen=True)
class ModuleInterface:
    variables: dict[str, Variable] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    calls: tuple[str, ...] = ()  # sources of the module blocks, as written
    provider_constraints: dict[str, tuple[str, ...]] = field(default_factory=dict)  # local name -> version constraints


def _unquote(value: Any) -> Any:
    """python-hcl2 >= 7 keeps the quotes of string literals and labels; older versions do not."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = value[1:-1]
        elif value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        if value.startswith("<<"):  # heredoc: drop the marker lines (and the indent of <<-)
            import textwrap

            lines = value.splitlines()
            return textwrap.dedent("\n".join(lines[1:-1])).strip()
    return value


def _blocks(doc: dict, kind: str) -> Iterable[tuple[str, dict]]:
    """(label, body) of every `kind` block, from python-hcl2 or Terraform JSON shapes."""
    raw = doc.get(kind) or []
    items = raw if isinstance(raw, list) else [raw]
    for item in items:
        if not isinstance(item, dict):
            continue
        for label, body in item.items():
            if label == "__is_block__":
                continue
            bodies = body if isinstance(body, list) else [body]
            for b in bodies:
                if isinstance(b, dict):
                    yield str(_unquote(label)), b


def _terraform_blocks(doc: dict) -> Iterable[dict]:
    raw = doc.get("terraform") or []
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, dict):
            yield item


def parse_file(name: str, data: bytes) -> dict:
    """One module file as a document (raises DiagnosticError naming the file)."""
    try:
        text = data.decode("utf-8")
        if name.endswith(".tf.json"):
            doc = json.loads(text)
        else:
            import hcl2

            doc = hcl2.loads(text)
    except Exception as exc:  # lark's and json's errors: the file is not valid HCL
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DiagnosticError([Diagnostic(f"{name} is not valid Terraform", reason)]) from None
    if not isinstance(doc, dict):
        raise DiagnosticError([Diagnostic(f"{name} is not valid Terraform", "expected a JSON object")])
    return doc


def interface(files: Iterable[tuple[str, bytes]]) -> ModuleInterface:
    """The interface declared by the given files of one module directory."""
    variables: dict[str, Variable] = {}
    outputs: dict[str, Output] = {}
    calls: list[str] = []
    constraints: dict[str, list[str]] = {}
    errors: list[Diagnostic] = []
    for name, data in files:
        try:
            doc = parse_file(name, data)
        except DiagnosticError as exc:
            errors.extend(exc.diagnostics)
            continue
        for label, body in _blocks(doc, "variable"):
            variables[label] = Variable(
                label,
                type=_text(body.get("type")),
                description=_text(body.get("description")) or "",
                required="default" not in body,
                default=_value(body.get("default")),
                sensitive=body.get("sensitive") is True,
            )
        for label, body in _blocks(doc, "output"):
            outputs[label] = Output(label, _text(body.get("description")) or "", body.get("sensitive") is True)
        for _, body in _blocks(doc, "module"):
            source = _unquote(body.get("source"))
            if isinstance(source, str):
                calls.append(source)
        for tf in _terraform_blocks(doc):
            for req in tf.get("required_providers") or []:
                for local, spec in req.items() if isinstance(req, dict) else ():
                    if isinstance(spec, dict) and isinstance(_unquote(spec.get("version")), str):
                        constraints.setdefault(local, []).append(_unquote(spec["version"]))
    if errors:
        raise DiagnosticError(errors)
    return ModuleInterface(
        dict(sorted(variables.items())),
        dict(sorted(outputs.items())),
        tuple(calls),
        {k: tuple(dict.fromkeys(v)) for k, v in sorted(constraints.items())},
    )


def resource_blocks(files: Iterable[tuple[str, bytes]]) -> list[tuple[str, str, str]]:
    """(type, name, "count" | "for_each" | "") of every managed resource the files declare."""
    out = []
    for name, data in files:
        for type_, body in _blocks(parse_file(name, data), "resource"):
            for label, block in body.items():
                if label == "__is_block__" or not isinstance(block, (dict, list)):
                    continue
                first = block[0] if isinstance(block, list) and block else block
                repeat = next((k for k in ("count", "for_each") if isinstance(first, dict) and k in first), "")
                out.append((type_, str(_unquote(label)), repeat))
    return out


def _text(value: Any) -> str | None:
    value = _unquote(value)
    return value if isinstance(value, str) else None


def _value(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(_unquote(k)): _value(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_value(v) for v in value]
    return _unquote(value)
