"""The module policy: what a Terraform module may do when Composer runs it (docs/security.md).

Terraform runs whatever a module says during `plan`: a provisioner, an `external` program, a
remote-state backend reading over HTTP, `file("/proc/self/environ")` sent anywhere. A module
from a platform catalog or an app directory is third-party code for the CI that runs appc,
so every module Composer renders is checked here, statically, before Terraform sees it:
each `.tf` file is parsed with python-hcl2, each `.tf.json` file as JSON (its strings as HCL
templates), and every other text file as a template (`templatefile` can read it).

Denied unless the environment (`policies.allow`) or the definition (`policy.allow`) opts in:

| rule | what |
|---|---|
| provisioners | `provisioner` blocks (local-exec, remote-exec, file) anywhere |
| external-data | `data "external"`: runs a program |
| remote-state | `data "terraform_remote_state"`, and `backend`/`cloud` blocks in a module (Composer writes the only backend) |
| http-data | `data "http"`: fetches a URL during plan |
| module-sources | a nested module source that is not a local path inside the module package, and not in the locked set |
| outside-files | the file()/templatefile()/filebase64()... family (and `local_file` data) with a path that is not provably `${path.module}/<path inside the package>` |

The check is pure (files in, violations out): no I/O, no Terraform. What it cannot prove
safe it denies; a file it cannot parse is a violation no opt-in lifts.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from composer.catalog.policy_json import _json_blocks, _json_line, _json_strings

RULES = ("provisioners", "external-data", "remote-state", "http-data", "module-sources", "outside-files")
UNPARSEABLE = "unparseable"

FILE_FUNCTIONS = frozenset(
    {
        "file", "fileexists", "fileset", "filebase64", "filebase64sha256", "filebase64sha512",
        "filemd5", "filesha1", "filesha256", "filesha512", "templatefile",
    }
)  # fmt: skip
DATA_RULES = {"external": "external-data", "http": "http-data", "terraform_remote_state": "remote-state"}
LOCAL_FILE_DATA = frozenset({"local_file", "local_sensitive_file"})
_FILE_CALL = re.compile(r"\b(?:core::)?(" + "|".join(sorted(FILE_FUNCTIONS)) + r")\s*\(")


@dataclass(frozen=True)
class Violation:
    rule: str  # one of RULES, or UNPARSEABLE
    file: str  # path inside the module package
    line: int | None
    summary: str

    def describe(self) -> str:
        return f"{self.file}:{self.line}: {self.summary}" if self.line else f"{self.file}: {self.summary}"


def check_module(
    files: Iterable[tuple[str, bytes]], allow: Iterable[str] = (), locked_sources: Iterable[str] = ()
) -> list[Violation]:
    """Violations of the policy in one module package (its files as (relative path, bytes)),
    minus the rules in `allow`. `locked_sources` are nested module sources pinned by a lock."""
    allowed = frozenset(allow)
    checker = _Checker(frozenset(locked_sources))
    out: list[Violation] = []
    for rel, data in files:
        for v in checker.file(rel, data):
            if v.rule not in allowed:
                out.append(v)
    return out


class _Checker:
    def __init__(self, locked_sources: frozenset[str]) -> None:
        self.locked_sources = locked_sources

    def file(self, rel: str, data: bytes) -> list[Violation]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return (
                []
                if not rel.endswith((".tf", ".tf.json"))
                else [Violation(UNPARSEABLE, rel, None, "is not UTF-8 text")]
            )
        here = posixpath.dirname(rel)
        if rel.endswith(".tf.json"):
            return list(self._json(rel, here, text))
        if rel.endswith(".tf"):
            tree = _parse(text)
            if tree is None:
                return [Violation(UNPARSEABLE, rel, None, "does not parse as HCL, so its content cannot be checked")]
            return list(self._hcl_body(rel, here, tree.children[0], ()))
        if "${" in text or "%{" in text:  # a template file: templatefile() evaluates its calls too
            return list(self._template(rel, here, text, 1))
        return []

    # -- HCL native syntax -------------------------------------------------------------
    def _hcl_body(self, rel: str, here: str, body, outer: tuple[str, ...]) -> Iterator[Violation]:
        for node in _trees(body):
            if node.data == "block":
                yield from self._hcl_block(rel, here, node, outer)
            elif node.data == "attribute":
                yield from self._calls(rel, here, node, 0)

    def _hcl_block(self, rel: str, here: str, block, outer: tuple[str, ...]) -> Iterator[Violation]:
        kind = _name(block.children[0])
        labels = [_literal(c) for c in block.children[1:] if _is_tree(c) and c.data in ("string", "identifier")]
        line = _line(block)
        body = next(c for c in block.children if _is_tree(c) and c.data == "body")
        yield from self._block_rules(rel, here, kind, labels, outer, line, lambda attr: _hcl_attribute(body, attr))
        yield from self._hcl_body(rel, here, body, (*outer, kind))

    # -- JSON syntax ---------------------------------------------------------------------
    def _json(self, rel: str, here: str, text: str) -> Iterator[Violation]:
        try:
            doc = json.loads(text)
        except ValueError:
            yield Violation(UNPARSEABLE, rel, None, "does not parse as JSON, so its content cannot be checked")
            return
        for kind, labels, body, outer in _json_blocks(doc):
            line = _json_line(text, labels[-1] if labels else kind)
            yield from self._block_rules(
                rel, here, kind, labels, outer, line, lambda attr, b=body: _json_attribute(b, attr)
            )
        for value in _json_strings(doc):
            if "${" in value or "%{" in value:
                yield from self._template(rel, here, value, _json_line(text, value[:40]) or 1)

    # -- rules shared by both syntaxes ----------------------------------------------------
    def _block_rules(self, rel, here, kind, labels, outer, line, attribute) -> Iterator[Violation]:
        if kind == "provisioner":
            yield Violation(
                "provisioners",
                rel,
                line,
                f"provisioner {labels[0] if labels else ''!s} runs commands on the machine running appc",
            )
        elif kind == "data" and labels and (not outer or outer == ("check",)):
            if labels[0] in DATA_RULES:
                yield Violation(DATA_RULES[labels[0]], rel, line, f'data "{labels[0]}" {_DATA_WHY[labels[0]]}')
            elif labels[0] in LOCAL_FILE_DATA:
                path = attribute("filename")
                if not (isinstance(path, _Path) and path.inside(here)):
                    yield Violation(
                        "outside-files",
                        rel,
                        line,
                        f'data "{labels[0]}" reads a file that is not provably inside the module',
                    )
        elif kind in ("backend", "cloud") and outer == ("terraform",):
            yield Violation(
                "remote-state",
                rel,
                line,
                f"{kind} {labels[0] if labels else ''} in a module: Composer writes the only backend".replace(
                    "  ", " "
                ),
            )
        elif kind == "module" and not outer:
            source = attribute("source")
            if not (isinstance(source, _Path) and source.local and source.inside(here)) and not (
                isinstance(source, _Path) and source.text in self.locked_sources
            ):
                shown = source.text if isinstance(source, _Path) else "(not a literal string)"
                yield Violation(
                    "module-sources",
                    rel,
                    line,
                    f"module {labels[0] if labels else ''} has source {shown!r}, which is neither inside the module package nor locked",
                )

    def _calls(self, rel: str, here: str, tree, line_offset: int) -> Iterator[Violation]:
        for node in tree.iter_subtrees_topdown():
            if node.data in ("heredoc_template", "heredoc_template_trim"):
                token = node.children[0]
                yield from self._template(rel, here, _heredoc_body(str(token)), _line(node) + 1 + line_offset)
            elif node.data == "function_call":
                names = [_name(c) for c in node.children if _is_tree(c) and c.data == "identifier"]
                if names and names[-1] in FILE_FUNCTIONS and names[0] in (names[-1], "core"):
                    args = next((c for c in node.children if _is_tree(c) and c.data == "arguments"), None)
                    paths = [_path_of(a) for a in (_trees(args) if args is not None else ())]
                    if not _file_arguments_inside(names[-1], paths, here):
                        yield Violation(
                            "outside-files",
                            rel,
                            _line(node) + line_offset,
                            f"{names[-1]}() with a path that is not provably ${{path.module}}/<file inside the module>",
                        )

    def _template(self, rel: str, here: str, text: str, line: int) -> Iterator[Violation]:
        """Every `${...}` and `%{...}` of template text, each parsed as an expression."""
        for expr, offset in _template_expressions(text):
            tree = _parse("x = (" + expr + ")\n")
            if tree is None:
                if _FILE_CALL.search(expr):
                    yield Violation(
                        "outside-files",
                        rel,
                        line + offset,
                        "a template expression that does not parse calls a file function",
                    )
                continue
            yield from self._calls(rel, here, tree, line + offset - 1)


_DATA_WHY = {
    "external": "runs a program on the machine running appc",
    "http": "fetches a URL while Terraform plans",
    "terraform_remote_state": "reads (and can send data to) a state backend Composer does not control",
}


@dataclass(frozen=True)
class _Path:
    """A literal path expression: `"text"`, or `"${path.module}/text"` (module_relative)."""

    text: str
    module_relative: bool = False

    @property
    def local(self) -> bool:
        return self.text.startswith(("./", "../"))

    def inside(self, here: str) -> bool:
        rest = self.text.lstrip("/") if self.module_relative else self.text
        if not self.module_relative and not self.local:
            return False
        if "\\" in rest or rest.startswith("~"):
            return False
        joined = posixpath.normpath(posixpath.join(here, rest)) if rest else (here or ".")
        return not (joined == ".." or joined.startswith("../") or joined.startswith("/"))


def _file_arguments_inside(function: str, paths: list[_Path | None], here: str) -> bool:
    """The path is `${path.module}/...` inside the package; fileset's pattern is a plain
    relative literal (no `..`), so the files it matches stay under that path."""
    if not paths or paths[0] is None or not paths[0].module_relative or not paths[0].inside(here):
        return False
    if function != "fileset":
        return True
    pattern = paths[1] if len(paths) > 1 else None
    return (
        pattern is not None
        and not pattern.module_relative
        and not pattern.text.startswith(("/", "~"))
        and ".." not in pattern.text.split("/")
    )


def _parse(text: str):
    import hcl2

    try:
        return hcl2.parses_to_tree(text)
    except Exception:  # python-hcl2 raises lark's errors and its own; any of them means "cannot check"
        return None


def _is_tree(node) -> bool:
    return hasattr(node, "data")


def _trees(node) -> list:
    return [c for c in node.children if _is_tree(c)]


def _name(node) -> str:
    return str(node.children[0]) if node.children else ""


def _line(node) -> int:
    return getattr(getattr(node, "meta", None), "line", None) or 0


def _literal(node) -> str | None:
    """The text of a string (or identifier) node without interpolations, else None."""
    if node.data == "identifier":
        return _name(node)
    if node.data == "expr_term" and len(_trees(node)) == 1:
        return _literal(_trees(node)[0])
    if node.data != "string":
        return None
    parts: list[Any] = []
    for part in _trees(node):
        if any(_is_tree(c) for c in part.children):
            return None
        parts.extend(str(c) for c in part.children)
    return "".join(parts)


def _path_of(node) -> _Path | None:
    """A path argument Composer can judge: a literal, or `${path.module}` then a literal."""
    if node.data == "expr_term" and len(_trees(node)) == 1:
        node = _trees(node)[0]
    if node.data != "string":
        return None
    parts = _trees(node)
    text = _literal(node)
    if text is not None:
        return _Path(text)
    if not parts or not _is_path_module(parts[0]):
        return None
    rest = [_literal_part(p) for p in parts[1:]]
    known = [r for r in rest if r is not None]
    return None if len(known) < len(rest) else _Path("".join(known), module_relative=True)


def _literal_part(part) -> str | None:
    return None if any(_is_tree(c) for c in part.children) else "".join(str(c) for c in part.children)


def _is_path_module(part) -> bool:
    interp = [c for c in part.children if _is_tree(c) and c.data == "interpolation"]
    if len(part.children) != 1 or len(interp) != 1:
        return False
    names = [str(t) for t in interp[0].scan_values(lambda v: getattr(v, "type", "") == "NAME")]
    tokens = [str(t) for t in interp[0].scan_values(lambda v: hasattr(v, "type")) if str(t).strip()]
    return names == ["path", "module"] and tokens == ["${", "path", ".", "module", "}"]


def _hcl_attribute(body, name: str) -> _Path | None:
    for node in _trees(body):
        if node.data == "attribute" and _name(node.children[0]) == name:
            value = _trees(node)[-1]
            return _path_of(value)
    return None


_DIRECTIVE = re.compile(r"^\s*(?:if|for\s+[A-Za-z_][\w-]*(?:\s*,\s*[A-Za-z_][\w-]*)?\s+in)\s+(.*)$", re.S)
_BARE_DIRECTIVE = re.compile(r"^\s*(?:else|endif|endfor)\s*$")


def _template_expressions(text: str) -> Iterator[tuple[str, int]]:
    """(expression, line offset) for each interpolation and directive of a template. Nested
    quoted strings (which may hold their own interpolations) are part of the expression."""
    i = 0
    while i < len(text):
        if text.startswith(("$${", "%%{"), i):
            i += 3
            continue
        if not text.startswith(("${", "%{"), i):
            i += 1
            continue
        start, end = i + 2, _closing_brace(text, i + 2)
        body = text[start:end].strip()
        body = body.removeprefix("~").removesuffix("~").strip()
        if text[i] == "%":
            m = _DIRECTIVE.match(body)
            body = m.group(1) if m else ("" if _BARE_DIRECTIVE.match(body) else body)
        if body:
            yield body, text.count("\n", 0, i)
        i = end + 1


def _closing_brace(text: str, i: int) -> int:
    """Index of the `}` closing the interpolation whose body starts at i (len(text) if none)."""
    depth, quoted = 0, False
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                quoted = False
            elif text.startswith("${", i) or text.startswith("%{", i):
                i = _closing_brace(text, i + 2) + 1
                continue
        elif ch == '"':
            quoted = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return len(text)


def _heredoc_body(token: str) -> str:
    lines = token.split("\n")
    return "\n".join(lines[1:-1]) if len(lines) > 2 else ""


def _json_attribute(body: dict, name: str) -> _Path | None:
    """A JSON string as a path expression: a literal, or `${path.module}` then a literal."""
    value = body.get(name)
    if not isinstance(value, str):
        return None
    exprs = list(_template_expressions(value))
    if not exprs:
        return _Path(value.replace("$${", "${").replace("%%{", "%{"))
    if (
        len(exprs) == 1
        and value.startswith("${path.module}")
        and re.fullmatch(r"\$\{\s*path\.module\s*\}", value[: value.index("}") + 1])
    ):
        rest = value[value.index("}") + 1 :]
        return None if ("${" in rest or "%{" in rest) else _Path(rest, module_relative=True)
    return None
