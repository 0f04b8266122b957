"""A provider-schema check of the shipped modules that needs no provider binary.

tests/provider_schemas/<provider>.yaml records, for every resource the modules use, the
arguments with their types, ForceNew markers and validation rules, each entry with the provider
version it was read from. This module parses the modules with python-hcl2, evaluates each
implementation's input templates for every parameter variation (the values a module really
receives), and reports:

- unknown-argument: an argument (or resource type) the recorded schema does not have;
- value: a value outside the recorded rule (enum, range, pattern), a value or argument newer than
  the module's provider floor, a region-limited default, a required network left to a default;
- auto-grow: an auto-growing size not in lifecycle.ignore_changes, or a database without growth;
- force-new: a ForceNew argument of a stateful resource that follows a parameter the catalog lets
  users change, when the implementation does not list it in replaces_on_change (or lists a
  parameter that replaces nothing);
- replacement-gap: a resource whose replacement deletes before it creates, unprotected;
- value (reachability): a database that, with the inputs an implementation passes, has neither a
  private network nor an opted-in public path (`reachable_via`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import yaml

META = {"count", "for_each", "lifecycle", "depends_on", "provider", "provisioner", "connection"}
PROVIDERS = {"aws": "aws", "google": "google", "azurerm": "azurerm"}


@dataclass(frozen=True)
class Finding:
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


@dataclass
class Resource:
    kind: str  # resource | data | ephemeral
    type: str
    name: str
    body: dict
    file: str

    @property
    def address(self) -> str:
        return f"{self.file}: {self.type}.{self.name}"

    @property
    def lifecycle(self) -> dict:
        blocks = self.body.get("lifecycle") or [{}]
        return blocks[0]

    def ignored(self) -> set[str]:
        return {_path_of(e) for e in self.lifecycle.get("ignore_changes", [])}


@dataclass
class Module:
    path: Path
    resources: list[Resource] = field(default_factory=list)
    variables: dict[str, dict] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    floors: dict[str, tuple[int, ...]] = field(default_factory=dict)  # provider -> lowest version allowed


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and value.startswith('"') and value.endswith('"') and "${" not in value:
        return json.loads(value)
    return value


def _key(name: str) -> str:
    return name.strip('"')


def _path_of(expr: str) -> str:
    """ignore_changes entries: `zone`, `${storage[0].size_gb}` -> storage.size_gb."""
    text = expr.removeprefix("${").removesuffix("}")
    return re.sub(r"\[\d+\]", "", text)


def _version(text: str) -> tuple[int, ...]:
    parts = [int(x) for x in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def parse_module(path: Path) -> Module:
    module = Module(path)
    for f in sorted(path.glob("*.tf")):
        with f.open(encoding="utf-8") as fh:
            doc = hcl2.load(fh)
        for kind in ("resource", "data", "ephemeral"):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        module.resources.append(
                            Resource(kind, _key(rtype), _key(name), body, f"{path.parent.name}/{path.name}/{f.name}")
                        )
        for block in doc.get("variable", []):
            for name, body in block.items():
                module.variables[_key(name)] = body
        for block in doc.get("locals", []):
            module.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
        for block in doc.get("terraform", []):
            for req in block.get("required_providers", []):
                for prov, spec in req.items():
                    if isinstance(spec, dict) and "version" in spec:
                        floor = re.search(r">=\s*([0-9.]+)", _unquote(spec["version"]))
                        module.floors[prov] = _version(floor.group(1)) if floor else (0, 0, 0)
    return module


# -- expressions -----------------------------------------------------------------------------------


def _direct_var(expr: Any, module: Module, depth: int = 0) -> str | None:
    """The variable an argument is exactly (var.x, coalesce(var.x, ...), or a local that is one)."""
    if not isinstance(expr, str) or depth > 5:
        return None
    m = re.fullmatch(r"\$\{(?:coalesce\()?var\.(\w+)(?:,.*\))?\}", expr)
    if m:
        return m.group(1)
    m = re.fullmatch(r"\$\{local\.(\w+)\}", expr)
    if m and m.group(1) in module.locals:
        return _direct_var(module.locals[m.group(1)], module, depth + 1)
    return None


def _expand(expr: str, module: Module, depth: int = 0) -> str:
    """The expression text with locals replaced by their own (parenthesised) expressions."""
    text = expr.removeprefix("${").removesuffix("}")
    if depth > 5:
        return text
    return re.sub(
        r"\blocal\.(\w+)",
        lambda m: (
            f"({_expand(module.locals[m.group(1)], module, depth + 1)})" if m.group(1) in module.locals else m.group(0)
        ),
        text,
    )


class Unknown(Exception):
    """An expression this small evaluator cannot compute."""


PAIRS = {"(": ")", "[": "]", "{": "}"}


def _scan(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, bracket depth) outside string literals."""
    depth, quoted, i = 0, False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 2
                continue
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        else:
            if ch in ")]}":
                depth -= 1
            yield i, ch, depth
            if ch in PAIRS:
                depth += 1
        i += 1


def _ternaries(text: str) -> str:
    """HCL's `c ? a : b` (nested anywhere) as Python's `(a) if (c) else (b)`."""
    out, start, inner = [], 0, None
    for i, ch, depth in _scan(text):
        if ch in PAIRS and depth == 0:
            out.append(text[start : i + 1])
            inner, start = i + 1, i + 1
        elif ch in ")]}" and depth == 0 and inner is not None:
            out.append(_ternaries(text[inner:i]))
            start, inner = i, None
    out.append(text[start:])
    flat = "".join(out)
    marks = [(i, ch) for i, ch, depth in _scan(flat) if depth == 0 and ch in "?:"]
    if not marks or marks[0][1] != "?":
        return flat
    level = 0
    for i, ch in marks:
        level += 1 if ch == "?" else -1
        if level == 0:
            q = marks[0][0]
            return f"(({_ternaries(flat[q + 1 : i])}) if ({flat[:q]}) else ({_ternaries(flat[i + 1 :])}))"
    return flat


def _python(text: str) -> str:
    """A conditional expression (a ? b : c, ==, !=, &&, ||, !, length, for) as Python. A for
    expression stands for its source collection: empty exactly when the source is (no `if`)."""
    text = re.sub(r"\$\{\w+\}", "", text)  # interpolations inside strings of for expressions
    text = re.sub(r"[\[{]for\s+[\w\s,]+\s+in\s+(.+?)\s*:[^\]}]*[\]}]", r"(\1)", text)
    text = text.replace("&&", " and ").replace("||", " or ").replace("length(", "len(")
    text = re.sub(r"!(?!=)", " not ", text)
    return _ternaries(text)


def evaluate_expr(expr: Any, module: Module, inputs: dict) -> Any:
    """The value of a module expression for these inputs (variables default otherwise)."""
    if not isinstance(expr, str):
        return expr
    if "${" not in expr:
        return _unquote(expr)
    defaults = {k: _unquote(v.get("default")) for k, v in module.variables.items()}
    values = {**defaults, **inputs}
    text = _expand(expr, module)
    text = re.sub(r"\bnull\b", "None", re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text)))
    text = re.sub(r"\bvar\.(\w+)", lambda m: f"__v[{m.group(1)!r}]", text)
    try:
        return eval(_python(text), {"__builtins__": {}, "len": len, "__v": values})  # noqa: S307 - our own module text, in tests
    except Exception:
        raise Unknown(expr) from None


def is_active(res: Resource, module: Module, inputs: dict) -> bool:
    """Whether the resource exists for these module inputs: its count (or for_each) is not 0/empty.
    Expressions too complex for this small evaluator count as active."""
    expr = res.body.get("count", res.body.get("for_each"))
    if expr is None:
        return True
    try:
        return bool(evaluate_expr(expr, module, inputs))
    except Unknown:
        return True


def _depends_on(expr: Any, module: Module, seen: frozenset[str] = frozenset()) -> set[str]:
    """Every variable an expression depends on, through locals."""
    text = json.dumps(expr)
    out = set(re.findall(r"\bvar\.(\w+)", text))
    for local in set(re.findall(r"\blocal\.(\w+)", text)) - seen:
        if local in module.locals:
            out |= _depends_on(module.locals[local], module, seen | {local})
    return out


def _arguments(body: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted argument path, value) for every argument and block of a resource body."""
    for key, value in body.items():
        if key.startswith("__") or (not prefix and key in META):
            continue
        if key == "dynamic":
            for block in value:
                for name, spec in block.items():
                    content = spec.get("content", [{}])
                    yield prefix + _key(name), spec.get("for_each")
                    yield from _arguments(
                        content[0] if isinstance(content, list) else content, prefix + _key(name) + "."
                    )
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) and v.get("__is_block__") for v in value):
            yield prefix + key, None
            for v in value:
                yield from _arguments(v, prefix + key + ".")
        else:
            yield prefix + key, value


def _lookup(schema: dict, path: str) -> dict | None:
    node: dict | None = {"arguments": schema.get("arguments") or {}}
    for part in path.split("."):
        node = (node.get("arguments") or {}).get(part) if node else None
    return node


# -- the values a module receives ------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    cloud: str
    type: str
    name: str
    implementation: Any  # TerraformImplementation
    variants: tuple[tuple[str, dict, dict], ...]  # (parameter changed or "", parameters, evaluated inputs)


def parameter_variants(schema: dict) -> Iterator[tuple[str, dict]]:
    """("", defaults), then each parameter alone moved to each other value it may take."""
    props = schema.get("properties", {})
    defaults = {k: v["default"] for k, v in props.items() if "default" in v}
    yield "", defaults
    for name, spec in props.items():
        if "enum" in spec:
            values = spec["enum"]
        elif spec.get("type") == "boolean":
            values = [False, True]
        elif spec.get("type") == "integer":
            values = [spec.get("minimum", 0), spec.get("maximum", 1 << 20)]
        elif spec.get("type") == "string" and "default" in spec:
            values = [spec["default"] + "x"]
        else:
            continue
        for value in values:
            if value != defaults.get(name):
                yield name, {**defaults, name: value}


def _values(var: str, module: Module, offers: list[Offer], res: Resource) -> list[tuple[Any, str]]:
    """(value, where it comes from) for a module variable: what implementations pass to the
    resource (where it exists for those inputs), else its default."""
    out = []
    for offer in offers:
        for param, _, inputs in offer.variants:
            if var in inputs and is_active(res, module, inputs):
                out.append(
                    (
                        inputs[var],
                        f"{offer.cloud}/{offer.type}/{offer.name}" + (f" with {param} changed" if param else ""),
                    )
                )
    if not out and var in module.variables and "default" in module.variables[var]:
        out.append((_unquote(module.variables[var]["default"]), f"the default of variable {var}"))
    return out


# -- the checks ------------------------------------------------------------------------------------


def _check_value(rule: dict, value: Any) -> str | None:
    if value is None:
        return None
    if "one_of" in rule and value not in rule["one_of"] and str(value) not in [str(v) for v in rule["one_of"]]:
        return f"{value!r} is not one of {rule['one_of']}"
    if "range" in rule and isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = rule["range"]
        if (low is not None and value < low) or (high is not None and value > high):
            return f"{value!r} is outside {low}..{high if high is not None else ''}"
    if "pattern" in rule and isinstance(value, str) and not re.search(rule["pattern"], value):
        return f"{value!r} does not match {rule['pattern']}"
    if rule.get("type") == "bool" and not isinstance(value, bool):
        return f"{value!r} is not a bool"
    if rule.get("type") == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"{value!r} is not a number"
    return None


def check_resource(res: Resource, schema: dict | None, module: Module, offers: list[Offer]) -> list[Finding]:
    if schema is None:
        return [
            Finding(
                "unknown-argument", res.address, f"{res.kind} type {res.type} is not in the recorded provider schema"
            )
        ]
    found: list[Finding] = []
    provider = res.type.split("_", 1)[0]
    floor = module.floors.get(provider, (0,))
    ignored = res.ignored()
    body_args = dict(_arguments(res.body))
    for path, expr in body_args.items():
        rule = _lookup(schema, path)
        if rule is None:
            found.append(
                Finding(
                    "unknown-argument",
                    res.address,
                    f"argument {path!r} is not in the recorded schema ({schema['read_from']})",
                )
            )
            continue
        found += _check_argument(res, schema, module, offers, path, expr, rule, floor, ignored)
    found += _check_must_set(res, schema, module, body_args)
    found += _check_reachable(res, schema, module, offers, body_args)
    found += _check_auto_grow(res, schema, body_args, ignored)
    found += _check_replacement_gap(res, schema, body_args)
    return found


def _check_argument(res, schema, module, offers, path, expr, rule, floor, ignored) -> list[Finding]:
    found = []
    where = f"{res.address} {path}"
    if "since_argument" in rule and floor < _version(rule["since_argument"]):
        found.append(
            Finding(
                "value",
                where,
                f"needs provider >= {rule['since_argument']}, but the module allows >= {'.'.join(map(str, floor))}",
            )
        )
    var = _direct_var(expr, module)
    if var is not None:
        candidates = _values(var, module, offers, res)
    elif expr is not None and "${" not in json.dumps(expr):
        candidates = [(_unquote(expr), "a literal in the module")]
    else:
        candidates = []
    for value, source in [
        (v, src) for given, src in candidates for v in (given if isinstance(given, list) else [given])
    ]:
        value = _unquote(value)
        problem = _check_value(rule, value)
        if problem:
            found.append(Finding("value", where, f"{problem} (from {source}; rule read from {schema['read_from']})"))
        since = (rule.get("since") or {}).get(str(value))
        if since and floor < _version(since):
            found.append(
                Finding(
                    "value",
                    where,
                    f"{value!r} needs provider >= {since}, but the module allows >= {'.'.join(map(str, floor))} (from {source})",
                )
            )
        if value in rule.get("regional", ()) and source.startswith(("the default", "a literal")):
            found.append(
                Finding(
                    "value",
                    where,
                    f"{value!r} is not offered in every region ({rule.get('note', '')}); default to one that is",
                )
            )
    return found


def _check_must_set(res, schema, module, body_args) -> list[Finding]:
    found = []
    for path, rule in _walk_schema(schema):
        if "must_set" not in rule:
            continue
        expr = body_args.get(path)
        var = _direct_var(expr, module)
        spec = module.variables.get(var, {}) if var else {}
        defaulted_to_null = var is not None and "default" in spec and spec["default"] is None
        if expr is None or defaulted_to_null:
            found.append(Finding("value", f"{res.address} {path}", f"must be set: {rule['must_set']}"))
    return found


def _check_reachable(res, schema, module, offers, body_args) -> list[Finding]:
    """A database must accept connections: for every input an implementation passes, one of the
    schema's `reachable_via` arguments is set (or a resource of a `resource:TYPE` entry exists)."""
    ways = schema.get("reachable_via")
    if not ways:
        return []

    def reachable(inputs: dict) -> bool:
        for way in ways:
            if way.startswith("resource:"):
                if any(
                    r.type == way.removeprefix("resource:") and is_active(r, module, inputs) for r in module.resources
                ):
                    return True
                continue
            try:
                if way in body_args and evaluate_expr(body_args[way], module, inputs) not in (None, "", [], {}, False):
                    return True
            except Unknown:
                return True
        return False

    for offer in offers:
        for _param, _, inputs in offer.variants:
            if is_active(res, module, inputs) and not reachable(inputs):
                return [
                    Finding(
                        "value",
                        res.address,
                        f"accepts no connection with the inputs of {offer.cloud}/{offer.type}/{offer.name}: none of {', '.join(ways)} is set",
                    )
                ]
    return []


def _walk_schema(schema: dict, prefix: str = "") -> Iterator[tuple[str, dict]]:
    for name, rule in (schema.get("arguments") or {}).items():
        yield prefix + name, rule
        if rule.get("block"):
            yield from _walk_schema(rule, prefix + name + ".")


def _check_auto_grow(res, schema, body_args, ignored) -> list[Finding]:
    found = []
    for grow in schema.get("auto_grow", []):
        switch = body_args.get(grow["switch"], "__unset__")
        if grow.get("switch_when") == "set":
            enabled = switch not in ("__unset__", None)
        else:
            enabled = grow["switch_default"] if switch == "__unset__" else switch is True
        if not enabled and schema.get("stateful"):
            found.append(
                Finding(
                    "auto-grow",
                    res.address,
                    f"storage does not grow by itself ({grow['switch']} is off): a full disk stops the database",
                )
            )
        if enabled and grow["size"] in body_args and grow["size"] not in ignored:
            found.append(
                Finding(
                    "auto-grow",
                    res.address,
                    f"{grow['size']} grows by itself but is not in lifecycle.ignore_changes: the next plan shrinks it back (or replaces the resource)",
                )
            )
    return found


def _check_replacement_gap(res, schema, body_args) -> list[Finding]:
    gap = schema.get("replacement_gap")
    if not gap:
        return []
    if res.lifecycle.get("create_before_destroy") is True:
        return []
    if all(_unquote(body_args.get(k)) == v for k, v in gap["unless"].items()):
        return []
    unless = ", ".join(f"{k} = {v!r}" for k, v in gap["unless"].items())
    return [Finding("replacement-gap", res.address, f"{gap['why']}; set {unless} or create_before_destroy")]


def check_force_new(module: Module, schemas: dict[str, dict], offers: list[Offer]) -> list[Finding]:
    """ForceNew arguments of stateful resources that follow a user-changeable parameter."""
    found = []
    for offer in offers:
        replacing: dict[str, list[str]] = {}
        for res in module.resources:
            schema = schemas.get(res.type)
            if not schema or not schema.get("stateful") or not _exists_for(res, module, offer):
                continue
            ignored = res.ignored()
            for path, expr in _arguments(res.body):
                rule = _lookup(schema, path) or {}
                if not rule.get("force_new") or path in ignored:
                    continue
                deps = _depends_on(expr, module)
                for param in _affecting(offer, deps):
                    replacing.setdefault(param, []).append(f"{res.type}.{res.name} {path}")
        declared = set(offer.implementation.replaces_on_change)
        where = f"{offer.cloud}/{offer.type}/{offer.name}"
        for param, args in sorted(replacing.items()):
            if param not in declared:
                found.append(
                    Finding(
                        "force-new",
                        where,
                        f"changing parameter {param!r} replaces {', '.join(sorted(set(args)))} (ForceNew) but replaces_on_change does not list it",
                    )
                )
        for param in sorted(declared - set(replacing)):
            found.append(Finding("force-new", where, f"replaces_on_change lists {param!r}, which replaces nothing"))
    return found


def _affecting(offer: Offer, variables: set[str]) -> set[str]:
    base = offer.variants[0][2]
    return {param for param, _, inputs in offer.variants[1:] if any(inputs.get(v) != base.get(v) for v in variables)}


def _exists_for(res: Resource, module: Module, offer: Offer) -> bool:
    return any(is_active(res, module, inputs) for _, _, inputs in offer.variants)


def load_schemas(directory: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for f in sorted(directory.glob("*.yaml")):
        out.update(yaml.safe_load(f.read_text(encoding="utf-8"))["resources"])
    return out


def check_module(module: Module, schemas: dict[str, dict], offers: list[Offer]) -> list[Finding]:
    found = []
    for res in module.resources:
        found += check_resource(res, schemas.get(res.type), module, offers)
    return found + check_force_new(module, schemas, offers)
