"""Loading files into models, with diagnostics that point at file:line:column.

This is where pydantic's errors are translated, because only here are the file and
the source positions known. Every problem in a document is reported in one go.
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from composer.diagnostics import REDACTIONS, Diagnostic, DiagnosticError, FieldPath
from composer.model.app import Application
from composer.model.base import API_VERSION, SCORE_API_VERSION
from composer.model.definitions import ComponentDefinition, TraitDefinition
from composer.model.environment import Environment
from composer.model.source import SourceDocument, SourceMap, gc_paused, load_documents

M = TypeVar("M", bound=BaseModel)

OAM_API_VERSION = "core.oam.dev/v1beta1"


@dataclass(frozen=True)
class Loaded(typing.Generic[M]):
    """A validated model with the source map of the document it came from."""

    model: M
    source: SourceMap
    path: Path
    warnings: tuple[Diagnostic, ...] = ()  # e.g. a Score field Composer reads differently


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model class that sits at `loc` inside `model`, if any."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = _field_by_alias(current, part)
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            non_none = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(non_none) != 1:
                return tp
            tp = non_none[0]
        elif origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        else:
            return tp


def _field_by_alias(model: type[BaseModel], name: str) -> FieldInfo | None:
    for fname, field in model.model_fields.items():
        if (field.alias or fname) == name or fname == name:
            return field
    return None


def field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def translate(
    exc: ValidationError, model: type[BaseModel], source: SourceMap, prefix: FieldPath = ()
) -> list[Diagnostic]:
    """pydantic errors -> diagnostics with file, line, column and field path. Input values are never echoed."""
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False, include_input=False):
        raw = tuple(err["loc"])
        is_key = "[key]" in raw
        loc = tuple(
            p for p in raw if isinstance(p, int) or not str(p).startswith(("function-", "[key]", "tagged-union"))
        )
        path = prefix + loc
        etype = err["type"]
        msg = err["msg"]
        detail = ""
        if etype == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            allowed = field_names(parent) if parent else []
            summary = f"unknown field {str(loc[-1])!r}"
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.8)
            detail = (f"did you mean {close[0]!r}? " if close else "") + (
                f"expected one of: {', '.join(allowed)}" if allowed else ""
            )
            out.append(source.diagnostic(path, summary, detail.strip(), key=True))
            continue
        if etype == "missing":
            summary = f"missing required field {str(loc[-1])!r}"
            out.append(source.diagnostic(path[:-1], summary))
            continue
        if etype in ("value_error", "assertion_error"):
            msg = re.sub(r"^(Value|Assertion) error, ", "", msg)
        summary = msg[0].lower() + msg[1:] if msg else etype
        out.append(source.diagnostic(path, summary, detail, key=is_key))
    return out


def by_line(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in the order of the file (stable: equal places keep their order)."""
    return sorted(diags, key=lambda d: (d.file or "", d.line or 0, d.column or 0))


def _echoes(d: Diagnostic, others: list[Diagnostic]) -> bool:
    """'should have at least 1 item' for a list whose items were refused: the item errors say it."""
    return "should have at least" in d.summary and any(
        o.path[: len(d.path)] == d.path and len(o.path) > len(d.path) for o in others
    )


def validate(doc: SourceDocument, model: type[M], data: Any | None = None) -> M:
    data = doc.data if data is None else data
    if not isinstance(data, dict):
        raise DiagnosticError(
            [
                doc.source_map.diagnostic(
                    (), f"expected a mapping with apiVersion, kind, metadata and spec, got {_kind(data)}"
                )
            ]
        )
    try:
        with gc_paused():
            return model.model_validate(data)
    except ValidationError as exc:
        diags = translate(exc, model, doc.source_map)
        raise DiagnosticError(by_line([d for d in diags if not _echoes(d, diags)])) from None


def _kind(value: Any) -> str:
    return {str: "text", list: "a list", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "nothing" if value is None else type(value).__name__
    )


def _single(path: Path, display: str | None) -> SourceDocument:
    return load_documents(path, display, max_documents=1)[0]


def _expect_kind(doc: SourceDocument, kinds: tuple[str, ...]) -> str:
    data = doc.data
    if not isinstance(data, dict):
        raise DiagnosticError(
            [doc.source_map.diagnostic((), f"expected a mapping with apiVersion and kind, got {_kind(data)}")]
        )
    kind = data.get("kind")
    if kind not in kinds:
        raise DiagnosticError(
            [
                doc.source_map.diagnostic(
                    ("kind",),
                    f"expected kind {' or '.join(kinds)}, got {kind!r}" if kind else "missing required field 'kind'",
                )
            ]
        )
    return str(kind)


def load_application(
    path: Path,
    display: str | None = None,
    environ: typing.Mapping[str, str] | None = None,
    given: typing.Sequence[Path] = (),
) -> Loaded[Application]:
    from composer.model.oam_refs import read_app, read_given

    doc, companions = read_app(path, display)  # a KubeVela app may carry its Workflow and Policy objects
    if given:  # further -f files: only with a KubeVela app (load_application_files checked)
        companions.given = read_given(list(given), _display)
    if isinstance(doc.data, dict) and doc.data.get("apiVersion") == SCORE_API_VERSION:
        return load_score_application([path], [doc], environ)
    _expect_kind(doc, ("Application",))
    api = doc.data.get("apiVersion")
    if api == OAM_API_VERSION:
        from composer.model.oam import convert

        data, source, warnings = convert(doc, companions)
        warnings = [*warnings, *companions.unused_given()]
        return Loaded(validate(SourceDocument(doc.file, data, source), Application), source, path, tuple(warnings))
    if api != API_VERSION:
        raise DiagnosticError(
            [
                doc.source_map.diagnostic(
                    ("apiVersion",),
                    f"unsupported apiVersion {api!r}",
                    f"expected {API_VERSION}, {OAM_API_VERSION} or {SCORE_API_VERSION}",
                )
            ]
        )
    spec = doc.data.get("spec")
    if isinstance(spec, dict) and spec.get("score"):
        from composer.model.score_import import merge_listed

        data, source, warnings = merge_listed(doc, path.parent, environ if environ is not None else os.environ)
        return Loaded(validate(SourceDocument(doc.file, data, source), Application), source, path, tuple(warnings))
    return Loaded(validate(doc, Application), doc.source_map, path)


def load_application_files(
    paths: typing.Sequence[Path], environ: typing.Mapping[str, str] | None = None
) -> Loaded[Application]:
    """One app file, several Score files that make one application (`-f a.yaml -f b.yaml`), or a
    KubeVela Application and files of the Workflow and Policy objects it names."""
    if len(paths) == 1:
        return load_application(paths[0], _display(paths[0]), environ)
    if _is_oam(paths[0]):  # a KubeVela app and files of its Workflow and Policy objects
        return load_application(paths[0], _display(paths[0]), environ, given=paths[1:])
    docs = [_single(p, _display(p)) for p in paths]
    for doc in docs:
        if not isinstance(doc.data, dict) or doc.data.get("apiVersion") != SCORE_API_VERSION:
            raise DiagnosticError(
                [
                    doc.source_map.diagnostic(
                        ("apiVersion",),
                        "only Score files can be given together",
                        f"several -f files must each be a {SCORE_API_VERSION} workload; list other files' components in one app.yaml",
                    )
                ]
            )
    return load_score_application(list(paths), docs, environ)


def _is_oam(path: Path) -> bool:
    from composer.model.oam_refs import read_app

    try:
        doc, _ = read_app(path, _display(path))
    except DiagnosticError:
        return False  # reported by the Score path below, which reads it again
    return isinstance(doc.data, dict) and doc.data.get("apiVersion") == OAM_API_VERSION


def load_score_application(
    paths: list[Path], docs: list[SourceDocument], environ: typing.Mapping[str, str] | None
) -> Loaded[Application]:
    from composer.model.score_import import import_score

    imported = import_score(docs, os.environ if environ is None else environ)
    model = validate(SourceDocument(docs[0].file, imported.data, imported.source), Application)
    return Loaded(model, imported.source, paths[0], tuple(imported.warnings))


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


_ENV_VAR = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def interpolate_env(doc: SourceDocument, environ: typing.Mapping[str, str]) -> Any:
    """Replace ${env:NAME} in every string; a missing variable is an error naming it (never its value)."""
    errors: list[Diagnostic] = []

    def walk(value: Any, path: FieldPath) -> Any:
        if isinstance(value, str) and "${env:" in value:

            def sub(m: re.Match[str]) -> str:
                name = m.group(1)
                if name not in environ:
                    errors.append(
                        doc.source_map.diagnostic(
                            path, f"environment variable {name} is not set", f"export {name}=... before running appc"
                        )
                    )
                    return ""
                REDACTIONS.add(environ[name], f"${{env:{name}}}")  # messages say the name, never the value
                return environ[name]

            return _ENV_VAR.sub(sub, value)
        if isinstance(value, dict):
            return {k: walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        return value

    out = walk(doc.data, ())
    if errors:
        raise DiagnosticError(errors)
    return out


def load_environment(
    path: Path, display: str | None = None, environ: typing.Mapping[str, str] | None = None
) -> Loaded[Environment]:
    doc = _single(path, display)
    _expect_kind(doc, ("Environment",))
    data = interpolate_env(doc, os.environ if environ is None else environ)
    env = validate(doc, Environment, data)
    if env.name != path.stem:
        raise DiagnosticError(
            [
                doc.source_map.diagnostic(
                    ("metadata", "name"),
                    f"environment name {env.name!r} does not match its file name {path.name!r}",
                    f"rename the file to {env.name}.yaml or the environment to {path.stem!r}",
                )
            ]
        )
    return Loaded(env, doc.source_map, path)


Definition = ComponentDefinition | TraitDefinition


def load_definitions(path: Path, display: str | None = None) -> list[Loaded[Definition]]:
    """Every ComponentDefinition / TraitDefinition in a (multi-document) YAML file."""
    out: list[Loaded[Definition]] = []
    errors: list[Diagnostic] = []
    for doc in load_documents(path, display):
        try:
            kind = _expect_kind(doc, ("ComponentDefinition", "TraitDefinition"))
            definition: Definition = (
                validate(doc, ComponentDefinition) if kind == "ComponentDefinition" else validate(doc, TraitDefinition)
            )
            out.append(Loaded(definition, doc.source_map, path))
        except DiagnosticError as exc:
            errors.extend(exc.diagnostics)
    if errors:
        raise DiagnosticError(errors)
    return out
