"""KubeVela Workflow and Policy objects an Application refers to by name.

KubeVela reads `spec.workflow.ref` (a `Workflow`) and the policies a deploy step names but the
Application does not define (`Policy` objects, apiVersion core.oam.dev/v1alpha1) from the
cluster. Composer has no cluster to read them from, so it reads them from the app file itself
(further YAML documents after `---`), from further files given with it (`-f app.yaml -f
workflow.yaml`), or from the YAML files beside it, as a KubeVela user keeps them next to the app. `inline` puts the referenced steps and policies into the Application's
spec before it is translated, with their positions, so that diagnostics point at the lines
written (or, for another file, at the `ref` and name that file). A name found nowhere is an
error that says where Composer looked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from composer.diagnostics import Diagnostic, DiagnosticError, FieldPath, Severity
from composer.model.oam_sourcemap import OamSourceMap, _move
from composer.model.source import SourceDocument, load_documents

COMPANION_API = "core.oam.dev/v1alpha1"
COMPANION_KINDS = ("Workflow", "Policy")
MAX_COMPANIONS = 50  # documents read from one file (the app and its Workflow and Policy objects)
WORKFLOW_FIELDS = {"apiVersion", "kind", "metadata", "mode", "steps"}
POLICY_FIELDS = {"apiVersion", "kind", "metadata", "type", "properties"}


class Reporter(Protocol):
    dst: OamSourceMap

    def error(self, path: FieldPath, summary: str, detail: str = "", *, key: bool = False) -> None: ...

    def warn(self, path: FieldPath, summary: str, detail: str = "") -> None: ...


def is_companion(doc: SourceDocument) -> bool:
    data = doc.data
    return isinstance(data, dict) and data.get("apiVersion") == COMPANION_API and data.get("kind") in COMPANION_KINDS


def _name(doc: SourceDocument) -> str | None:
    meta = doc.data.get("metadata") if isinstance(doc.data, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


@dataclass
class Companions:
    """Workflow and Policy documents of the app file, and (read when needed) of the files beside it."""

    app_path: Path | None = None
    same_file: list[SourceDocument] = field(default_factory=list)
    given: list[SourceDocument] = field(default_factory=list)  # from further -f files
    _beside: list[SourceDocument] | None = None

    _used: set[int] = field(default_factory=set)  # ids of the given documents an inline used

    def find(self, kind: str, name: str) -> tuple[SourceDocument | None, bool]:
        """The document of `kind` named `name`, and whether it is in the app file itself."""
        for doc in self.same_file:
            if doc.data.get("kind") == kind and _name(doc) == name:
                return doc, True
        for doc in [*self.given, *self.beside()]:
            if doc.data.get("kind") == kind and _name(doc) == name:
                self._used.add(id(doc))
                return doc, False
        return None, False

    def others(self, found: SourceDocument) -> list[SourceDocument]:
        """Further documents of the same kind and name as `found`, with other content, in the files
        given or beside the app (which one a cluster would hold depends on the order they were applied)."""
        kind, name = found.data.get("kind"), _name(found)
        return [
            d
            for d in [*self.given, *self.beside()]
            if d is not found and d.data.get("kind") == kind and _name(d) == name and d.data != found.data
        ]

    def unused_given(self) -> list[Diagnostic]:
        """A warning for each object of a further -f file the Application never names: a file given
        on the command line is not ignored without a word."""
        return [
            doc.source_map.diagnostic(
                ("metadata", "name"),
                f"{doc.data.get('kind')} {_name(doc)!r} is not used by the Application",
                "only the Workflow named by spec.workflow.ref and the Policy objects its deploy steps name are read",
                severity=Severity.WARNING,
            )
            for doc in self.given
            if id(doc) not in self._used
        ]

    def beside(self) -> list[SourceDocument]:
        if self._beside is None:
            found = documents_beside(self.app_path, MAX_COMPANIONS)
            self._beside = [d for _, docs in found for d in docs if is_companion(d)]
        return self._beside


def documents_beside(app_path: Path | None, max_documents: int) -> list[tuple[Path, list[SourceDocument]]]:
    """The documents of each regular `.yaml` / `.yml` file beside the app, by file name (links are
    not followed). A file that is no YAML Composer reads is skipped: not ours to judge."""
    folder = app_path.parent if app_path else None
    out: list[tuple[Path, list[SourceDocument]]] = []
    for path in sorted(folder.iterdir()) if folder and folder.is_dir() else []:
        if path == app_path or path.suffix not in (".yaml", ".yml") or path.is_symlink() or not path.is_file():
            continue
        try:
            out.append((path, load_documents(path, str(path), max_documents=max_documents)))
        except DiagnosticError:
            continue
    return out


def _warn_others(refs: Companions, doc: SourceDocument, here: bool, c: Reporter, anchor: FieldPath) -> None:
    if here:
        return  # the app file's own document is the one its author meant
    others = refs.others(doc)
    if others:
        kind, name = doc.data.get("kind"), _name(doc)
        c.warn(
            anchor,
            f"{len(others) + 1} different {kind} objects are named {name!r}; Composer reads the one in {doc.file}",
            "the others are in " + ", ".join(sorted({str(d.file) for d in others})) + ": give the one you mean "
            "with -f, or rename the others",
        )


def inline(spec: dict[str, Any], refs: Companions, c: Reporter) -> dict[str, Any]:
    """The spec with `workflow.ref` replaced by the Workflow's steps, and the Policy objects its
    deploy steps name appended to `policies`."""
    workflow = spec.get("workflow")
    if not isinstance(workflow, dict) or "ref" not in workflow:
        return spec
    wpath = ("spec", "workflow")
    unread = {**spec, "workflow": {k: v for k, v in workflow.items() if k != "ref"}}  # the error says it once
    ref = workflow["ref"]
    if not isinstance(ref, str) or not ref:
        c.error(wpath + ("ref",), "expected the name of a Workflow", "e.g. ref: my-workflow")
        return unread
    if set(workflow) - {"ref"}:
        c.error(wpath + ("ref",), "give either workflow.ref or the steps, not both", "remove ref or the steps")
        return unread
    doc, here = refs.find("Workflow", ref)
    if doc is None:
        c.error(
            wpath + ("ref",),
            f"no Workflow named {ref!r} in this file or beside it",
            f"Composer reads Workflow objects ({COMPANION_API}) from the app file (after ---), from files given "
            "with it (-f app.yaml -f workflow.yaml) or the YAML files in its folder, not from a cluster: put it "
            "there, or write its steps under spec.workflow.steps",
        )
        return unread
    for key in sorted(set(doc.data) - WORKFLOW_FIELDS):
        c.error(wpath + ("ref",), f"unknown Workflow field {key!r} in {ref!r}", "expected mode and steps")
    _warn_others(refs, doc, here, c, wpath + ("ref",))
    _place(c, doc, here, wpath, wpath + ("ref",), f"the steps of Workflow {ref!r}")
    out = {**spec, "workflow": {k: doc.data[k] for k in ("mode", "steps") if k in doc.data}}
    return _with_policies(out, refs, c)


def _place(c: Reporter, doc: SourceDocument, here: bool, new: FieldPath, anchor: FieldPath, what: str) -> None:
    """Positions for a document moved to `new`: its own lines (same file), else the anchor's line."""
    if here:
        _move(doc.source_map, c.dst, (), new)
        c.dst.origins[new] = ()
        c.dst.notes[new] = f"in {what}, a document of this file"
        return
    pos = c.dst.locate(anchor)
    c.dst.values = {p: v for p, v in c.dst.values.items() if p[: len(new)] != new}
    c.dst.keys = {p: v for p, v in c.dst.keys.items() if p[: len(new)] != new}
    if pos is not None:
        c.dst.values[new] = pos
        c.dst.keys[new] = pos
    c.dst.origins[new] = anchor
    start = doc.source_map.locate(())
    c.dst.notes[new] = f"in {what}, {doc.file} line {start.line if start else 1}"


def _with_policies(spec: dict[str, Any], refs: Companions, c: Reporter) -> dict[str, Any]:
    """Policy objects named by deploy steps that the Application does not define."""
    raw = spec.get("policies")
    own: list[Any] = raw if isinstance(raw, list) else []
    defined = {p.get("name") for p in own if isinstance(p, dict)}
    added: list[dict[str, Any]] = []
    for name in _deploy_policies(spec["workflow"].get("steps")):
        if name in defined:
            continue
        doc, here = refs.find("Policy", name)
        if doc is None:
            continue  # the workflow reports a deploy step naming no policy
        defined.add(name)
        ppath = ("spec", "policies", len(own) + len(added))
        for key in sorted(set(doc.data) - POLICY_FIELDS):
            c.error(ppath, f"unknown Policy field {key!r} in {name!r}", "expected type and properties")
        _warn_others(refs, doc, here, c, ("spec", "workflow", "ref"))
        _place(c, doc, here, ppath, ("spec", "workflow", "ref"), f"Policy {name!r}")
        added.append({"name": name, **{k: doc.data[k] for k in ("type", "properties") if k in doc.data}})
    return {**spec, "policies": [*own, *added]} if added else spec


def _deploy_policies(steps: Any) -> list[str]:
    out: list[str] = []
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        props = step.get("properties")
        if step.get("type") == "deploy" and isinstance(props, dict) and isinstance(props.get("policies"), list):
            out += [p for p in props["policies"] if isinstance(p, str)]
        out += _deploy_policies(step.get("subSteps"))
    return out


def read_app(path: Path, display: str | None) -> tuple[SourceDocument, Companions]:
    """The app document, and the Workflow and Policy documents after it (only those may follow a
    KubeVela Application; any other file is one document, as before)."""
    try:
        [doc] = load_documents(path, display, max_documents=1)
        return doc, Companions(path)
    except DiagnosticError as exc:
        if not exc.diagnostics[0].summary.startswith("expected one YAML document"):
            raise
        try:
            docs = load_documents(path, display, max_documents=MAX_COMPANIONS)
        except DiagnosticError:
            raise exc from None
        first = docs[0].data
        oam = isinstance(first, dict) and first.get("apiVersion") == "core.oam.dev/v1beta1"
        if not oam or not all(is_companion(d) for d in docs[1:]):
            raise exc from None
        return docs[0], Companions(path, docs[1:])


def read_given(paths: list[Path], display: Callable[[Path], str]) -> list[SourceDocument]:
    """The Workflow and Policy documents of further -f files given with a KubeVela Application
    (`appc validate -f app.yaml -f workflow.yaml`): they are read before the files beside it, and
    any other document in them is an error."""
    out: list[SourceDocument] = []
    for path in paths:
        for doc in load_documents(path, display(path), max_documents=MAX_COMPANIONS):
            if not is_companion(doc):
                raise DiagnosticError(
                    [
                        doc.source_map.diagnostic(
                            ("kind",) if isinstance(doc.data, dict) and "kind" in doc.data else (),
                            "a file given after a KubeVela Application may hold only Workflow and Policy objects",
                            f"expected apiVersion {COMPANION_API} with kind Workflow or Policy; give another "
                            "Application its own appc run",
                        )
                    ]
                )
            out.append(doc)
    return out
