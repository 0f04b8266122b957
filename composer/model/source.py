"""YAML source documents that remember where every value came from.

PyYAML (libyaml when present) composes the text into nodes; we build plain Python
values from the nodes ourselves so that every mapping key and value keeps its line
and column in a `SourceMap`. Later stages report problems by field path and the map
turns the path back into `file:line:column`.

The reader is defensive, since any file a user points at reaches it: size limit,
UTF-8 check, no custom tags, duplicate keys rejected, alias expansion bounded
(a "billion laughs" document is an error, not an out-of-memory). The expansion budget
(values and characters) is shared by all documents of a file, and documents are composed
one at a time: a file that may hold one document stops at the second, unbuilt.
"""

from __future__ import annotations

import functools
import gc
import itertools
import operator
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from composer.diagnostics import Diagnostic, DiagnosticError, FieldPath, Severity
from composer.model.source_plain import Limits, PlainBuilder, Unusual
from composer.model.source_text import MAX_FILE_BYTES, read_text

MAX_NODES = 2_000_000  # values built from one file (all its documents), aliases expanded
MAX_CHARS = 4 * MAX_FILE_BYTES  # characters of text values built from one file, aliases expanded
MAX_ALIASED_VALUES = 100_000  # values built again through an alias (`*name`, `<<: *name`), per file

_MAX_DIGITS = sys.get_int_max_str_digits() or 4300
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class Position(NamedTuple):  # a tuple: one is made per value of every file read (18k for 1,000 objects)
    line: int  # 1-based
    column: int  # 1-based


class _Composer(_Loader):  # type: ignore[misc, valid-type]
    """The loader that composes source files, with each scalar's implicit tag (int? bool? a
    timestamp?) found once per distinct text in a file: the resolver is Python regexes, called
    for every scalar, and a manifest repeats its words (1,100 distinct of 30,000 in the bench
    app). The tag depends on nothing else: no path resolvers are registered on the safe loader."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        # libyaml's composer calls these three for every node (~33,000 in the bench app): hits of
        # the C-level cache and C functions that do nothing cost no Python frame each.
        self.resolve = functools.lru_cache(maxsize=None)(super().resolve)
        if not self.yaml_path_resolvers:  # then descending and ascending have nothing to track
            self.descend_resolver = operator.is_  # (parent, index) -> ignored
            self.ascend_resolver = tuple  # () -> ignored

    def dispose(self) -> None:
        """The cache holds the loader (through its bound `resolve`): drop it when composing ends,
        so that the loader and one entry per distinct scalar are freed now, not at a collection
        (the collector is off over the compile, and a file may hold ~1M distinct scalars)."""
        super().dispose()
        self.__dict__.pop("resolve", None)


@dataclass
class SourceMap:
    """Field path -> position of the value, and of the key that names it."""

    file: str
    values: dict[FieldPath, Position] = field(default_factory=dict)
    keys: dict[FieldPath, Position] = field(default_factory=dict)

    def locate(self, path: FieldPath, *, key: bool = False) -> Position | None:
        """The position of `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            if key and p in self.keys:
                return self.keys[p]
            if p in self.values:
                return self.values[p]
            if not p:
                return None
            p = p[:-1]

    def diagnostic(
        self,
        path: FieldPath,
        summary: str,
        detail: str = "",
        *,
        key: bool = False,
        address: str | None = None,
        severity: Severity | None = None,
    ) -> Diagnostic:
        pos = self.locate(path, key=key)
        extra = {} if severity is None else {"severity": severity}
        placed = Diagnostic(
            summary=summary,
            detail=detail,
            file=self.file,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            path=tuple(path),
            address=address,
            **extra,
        )
        return self.in_user_terms(placed, key)

    def in_user_terms(self, d: Diagnostic, key: bool) -> Diagnostic:
        """`d` as the user's own file places and words it. Source maps of documents converted
        from another format (OAM, Score) override this; a file's own map returns `d`."""
        return d


class DeferredSourceMap(SourceMap):
    """The positions of a document built without them (source_plain.py), found when first asked
    for: its text is composed again and the document built the full way (it built without error).
    Until then `values` and `keys` are not set, and reading either finds both."""

    def __init__(self, file: str, text: str, index: int) -> None:  # the dataclass __init__ would set the maps
        self.file = file
        self._text = text
        self._index = index

    def __getattr__(self, name: str) -> Any:  # called only for an attribute not set
        if name not in ("values", "keys"):
            raise AttributeError(name)
        node = next(itertools.islice(_composed(self._text, self.file), self._index, None))
        builder = _Builder(self.file, _Budget())
        builder.build(node, ())
        for found in ("values", "keys"):
            if found not in self.__dict__:  # one set already (assigned) stays as it is
                setattr(self, found, getattr(builder.map, found))
        return getattr(self, name)


@dataclass(frozen=True)
class SourceDocument:
    """One YAML document of a file: its plain data and where each part came from."""

    file: str
    data: Any
    source_map: SourceMap
    index: int = 0


def _pos(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


@dataclass
class _Budget:
    """What one file may expand to, across all its documents."""

    values: int = 0
    chars: int = 0
    aliased: int = 0


class _Builder:
    def __init__(self, file: str, budget: _Budget) -> None:
        self.file = file
        self.budget = budget
        self.map = SourceMap(file)
        self.built: set[int] = set()  # ids of the nodes built so far: building one again is an alias
        self.aliasing = 0
        self.scalars = _Loader("")  # used only for its scalar constructors
        self.errors: list[Diagnostic] = []

    def error(self, node: yaml.Node, path: FieldPath, summary: str, detail: str = "") -> None:
        p = _pos(node.start_mark)
        self.errors.append(Diagnostic(summary, detail, file=self.file, line=p.line, column=p.column, path=path))

    def _spend(self, node: yaml.Node) -> None:
        budget = self.budget
        budget.values += 1
        budget.aliased += self.aliasing > 0
        if isinstance(node, yaml.ScalarNode):
            budget.chars += len(node.value)
        if budget.values > MAX_NODES or budget.chars > MAX_CHARS or budget.aliased > MAX_ALIASED_VALUES:
            p = _pos(node.start_mark)
            raise DiagnosticError(
                [
                    Diagnostic(
                        "file expands to too many values",
                        f"more than {MAX_NODES:,} values, {MAX_CHARS:,} characters of text, or {MAX_ALIASED_VALUES:,} values "
                        "repeated through aliases, once YAML aliases are expanded (all documents of the file count); "
                        "write it out without nested aliases",
                        file=self.file,
                        line=p.line,
                        column=p.column,
                    )
                ]
            )

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        if id(node) not in self.built:
            self.built.add(id(node))
            return self._build(node, path)
        self.aliasing += 1  # a node built again: an alias
        try:
            return self._build(node, path)
        finally:
            self.aliasing -= 1

    def _build(self, node: yaml.Node, path: FieldPath) -> Any:
        self._spend(node)
        mark = node.start_mark
        self.map.values.setdefault(path, Position(mark.line + 1, mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.tag == _STR_TAG:
            return node.value  # what the constructor would return, without its bookkeeping
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # dates stay text: versions like 2024-01-01 are names, not times
        if node.tag not in _SCALAR_TAGS:
            self.error(node, path, f"unsupported YAML tag {node.tag!r}", "only plain YAML values are accepted")
            return None
        try:
            return self.scalars.construct_object(node, deep=True)
        except ValueError:  # an integer past Python's limit for converting text (4,300 digits)
            self.error(node, path, "number is too long", f"at most {_MAX_DIGITS:,} digits; quote it if it is text")
            return None

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pairs = list(node.value)
        # YAML merge keys (<<: *base) are expanded first, explicit keys win.
        merged: dict[str, Any] = {}
        for knode, vnode in pairs:
            if knode.tag == "tag:yaml.org,2002:merge":
                sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
                for src in sources:
                    value = self.build(src, path)
                    if isinstance(value, dict):
                        for k, v in value.items():
                            merged.setdefault(k, v)
                    else:
                        self.error(src, path, "a YAML merge key (<<) must point at a mapping")
        for knode, vnode in pairs:
            if knode.tag == "tag:yaml.org,2002:merge":
                continue
            if not isinstance(knode, yaml.ScalarNode):
                self.error(knode, path, "mapping keys must be plain text")
                continue
            key = knode.value if knode.tag == "tag:yaml.org,2002:str" else str(self.build(knode, path))
            child = path + (key,)
            if key in out:
                self.error(knode, child, f"duplicate key {key!r}", "each key may appear once in a mapping")
                continue
            self.map.keys[child] = _pos(knode.start_mark)
            out[key] = self.build(vnode, child)
        for k, v in merged.items():
            out.setdefault(k, v)
        return out


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a burst of allocation that makes no cycles.

    Composing and validating a large file allocates millions of small objects (nodes,
    marks, values, models) and no reference cycles; the collector would scan the growing
    heap again and again (load time grew ~25x from 1,000 to 10,000 components)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_documents(text: str, file: str, max_documents: int | None = None) -> list[SourceDocument]:
    """Parse the YAML documents in `text` (at most `max_documents`: the first one beyond is an
    error, and is never built). Raises DiagnosticError on any syntax or structure error."""
    with gc_paused():
        return _parse_documents(text, file, max_documents)


def _composed(text: str, file: str) -> Iterator[Any]:
    """The node trees of the documents, one at a time, with YAML errors as diagnostics."""
    try:
        for node in yaml.compose_all(text, Loader=_Composer):
            if node is not None:
                yield node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        summary = "invalid YAML: " + (exc.problem or exc.context or "syntax error")
        detail = f"{exc.context} (line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        raise DiagnosticError(
            [
                Diagnostic(
                    summary,
                    detail,
                    file=file,
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            ]
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else 1
        raise DiagnosticError(
            [
                Diagnostic(
                    "invalid YAML",
                    f"character {exc.character!r} is not allowed in YAML text",
                    file=file,
                    line=line,
                    column=1,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise DiagnosticError(
            [Diagnostic("invalid YAML", str(exc).splitlines()[0], file=file, line=1, column=1)]
        ) from None
    except RecursionError:
        raise DiagnosticError([Diagnostic("invalid YAML: nesting is too deep", file=file, line=1, column=1)]) from None


def _parse_documents(text: str, file: str, max_documents: int | None) -> list[SourceDocument]:
    budget = _Budget()
    composed = _composed(text, file)
    if max_documents is not None:  # compose one beyond (cheap: aliases stay references), build none of them yet
        nodes = list(itertools.islice(composed, max_documents + 1))
        if len(nodes) > max_documents:
            p = _pos(nodes[max_documents].start_mark)
            expected = "one YAML document" if max_documents == 1 else f"at most {max_documents} YAML documents"
            raise DiagnosticError(
                [Diagnostic(f"expected {expected}, found several", file=file, line=p.line, column=p.column)]
            )
        composed = iter(nodes)
    docs = [_build_document(node, text, file, index, budget) for index, node in enumerate(composed)]
    if not docs:
        raise DiagnosticError([Diagnostic("file is empty", "expected a YAML document", file=file, line=1, column=1)])
    return docs


# What the plain builder gives up with: a document it does not make (Unusual), and what PyYAML's
# constructor and composer raise for a value or a text (a bad scalar, a number too long to convert).
# Anything else is a bug in the plain builder and is not hidden by the fallback.
_PLAIN_REFUSALS = (Unusual, yaml.YAMLError, ValueError, OverflowError)


def _build_document(node: Any, text: str, file: str, index: int, budget: _Budget) -> SourceDocument:
    plain = PlainBuilder(
        Limits(MAX_NODES - budget.values, MAX_CHARS - budget.chars, MAX_ALIASED_VALUES - budget.aliased),
        yaml.constructor.SafeConstructor(),
    )
    try:
        data = plain.document(node)
    except _PLAIN_REFUSALS:  # the full builder below builds it, or reports it exactly
        pass
    else:
        budget.values += plain.values
        budget.chars += plain.chars
        budget.aliased += plain.aliased
        return SourceDocument(file, data, DeferredSourceMap(file, text, index), index)
    builder = _Builder(file, budget)
    try:
        data = builder.build(node, ())
    except RecursionError:
        raise DiagnosticError([Diagnostic("YAML nesting is too deep", file=file)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DiagnosticError(
            [
                Diagnostic(
                    "invalid YAML value",
                    getattr(exc, "problem", None) or str(exc).splitlines()[0],
                    file=file,
                    line=mark.line + 1 if mark else None,
                )
            ]
        ) from None
    if builder.errors:
        raise DiagnosticError(builder.errors)
    return SourceDocument(file, data, builder.map, index)


def load_shipped(text: str) -> Any:
    """Plain values of a YAML file shipped with Composer or a provider plugin (built-in
    definitions, implementations.yaml): trusted text, no source positions, libyaml when present
    (PyYAML's pure-Python reader costs ~10x as much). Text without anchors and tags is built by
    source_plain.py as PyYAML builds it (its constructor costs ~3x as much); anything else (a
    date, a duplicate key, a merge key, a key that is not text) by PyYAML."""
    if "&" not in text and "!" not in text:  # no alias can share a value, no tag make a set or binary
        try:
            node = yaml.compose(text, Loader=_Composer)
            if node is not None:
                return PlainBuilder(
                    Limits(MAX_NODES, MAX_CHARS, 0), yaml.constructor.SafeConstructor(), False
                ).document(node)
        except _PLAIN_REFUSALS:  # PyYAML reads it below, and raises what it raises
            pass
    return yaml.load(text, Loader=_Loader)


def load_documents(path: Path, display: str | None = None, max_documents: int | None = None) -> list[SourceDocument]:
    return parse_documents(read_text(path), display or str(path), max_documents)
