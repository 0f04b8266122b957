"""Score workloads (score.dev/v1b1) as one Composer application.

Each Score file is one workload. Its `resources` become Composer components (postgres,
mysql, redis, bucket, queue), or parts of the workload itself (volume → a claim, route →
an ingress, dns → a host name, environment → appc's environment); its containers become
a webservice (with `service.ports`) or a worker, the first container the main one and the
others sidecars. Placeholders become Composer references (composer/model/score_placeholders.py).
The source map keeps every diagnostic on the Score file and line the user wrote. What has
no counterpart is an error at its line; nothing is dropped. docs/score.md has the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError, FieldPath, Severity
from composer.model.base import API_VERSION, SCORE_API_VERSION
from composer.model.score import Resource, Workload
from composer.model.score_placeholders import Binding, Placeholders
from composer.model.score_workload import WorkloadBuilder
from composer.model.source import SourceDocument, SourceMap, load_documents


@dataclass(frozen=True)
class ResourceKind:
    composer_type: str
    renames: Mapping[str, str] = field(default_factory=dict)  # Score output key -> Composer key
    sized: bool = False  # class small|medium|large sets the size parameter


# Score resource type -> Composer type, following the outputs score-compose and score-k8s
# give these types (postgres `name` is the database, s3 `bucket` the bucket name).
PROVISIONED = {
    "postgres": ResourceKind("postgres", {"name": "database", "user": "username"}, sized=True),
    "mysql": ResourceKind("mysql", {"name": "database", "user": "username"}, sized=True),
    "redis": ResourceKind("redis", {}, sized=True),
    "s3": ResourceKind("bucket", {"bucket": "name"}),
    "bucket": ResourceKind("bucket", {"bucket": "name"}),
    "amqp": ResourceKind("queue", {}),
    "queue": ResourceKind("queue", {}),
}
WORKLOAD_LOCAL = ("volume", "dns", "route", "environment")
SIZE_CLASSES = ("small", "medium", "large")
UNSUPPORTED_HINTS = {
    "mongodb": "Composer has no document database type: publish a ComponentDefinition for it under definitions/",
    "kafka-topic": "Composer has no Kafka type: use type amqp (a queue) or publish a ComponentDefinition under definitions/",
    "mssql": "Composer offers postgres and mysql databases",
    "service-port": "reach another workload by its Service name instead (<workload>.<namespace>.svc)",
}


@dataclass
class ScoreSourceMap(SourceMap):
    """Composer paths -> (the Score file's source map, the path written there)."""

    origins: dict[FieldPath, tuple[SourceMap, FieldPath]] = field(default_factory=dict)

    def in_user_terms(self, d: Diagnostic, key: bool) -> Diagnostic:
        p = d.path
        for n in range(len(p), -1, -1):
            hit = self.origins.get(p[:n])
            if hit is not None:
                src, orig = hit
                return src.diagnostic(
                    orig + p[n:], d.summary, d.detail, key=key, address=d.address, severity=d.severity
                )
        return d


@dataclass
class ScoreApp:
    """The Composer application data built from Score files, with its source map and warnings."""

    data: dict[str, Any]
    source: ScoreSourceMap
    warnings: list[Diagnostic]


@dataclass
class _Declared:
    doc: SourceDocument
    workload: Workload
    bindings: dict[str, Binding] = field(default_factory=dict)


def load_workload(doc: SourceDocument) -> Workload:
    from composer.model.loader import validate

    return validate(doc, Workload)


class _Importer:
    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.components: list[tuple[dict[str, Any], dict[FieldPath, tuple[SourceMap, FieldPath]]]] = []
        self.shared: dict[tuple[str, str | None, str], str] = {}  # (type, class, id) -> component name

    def error(self, src: SourceMap, path: FieldPath, summary: str, detail: str = "", *, key: bool = False) -> None:
        self.errors.append(src.diagnostic(path, summary, detail, key=key))

    def warn(self, src: SourceMap, path: FieldPath, summary: str, detail: str = "") -> None:
        self.warnings.append(src.diagnostic(path, summary, detail, key=True, severity=Severity.WARNING))

    def resources(self, declared: list[_Declared]) -> None:
        """Bind every resource of every workload, adding one component per provisioned resource."""
        counts: dict[str, int] = {}
        for d in declared:
            for rname, res in d.workload.resources.items():
                if res.type in PROVISIONED and res.id is None:
                    counts[rname] = counts.get(rname, 0) + 1
        for d in declared:
            for rname, res in d.workload.resources.items():
                rpath = ("resources", rname)
                binding = self.resource(d, rname, res, rpath, prefixed=counts.get(rname, 0) > 1)
                if binding is not None:
                    d.bindings[rname] = binding

    def resource(self, d: _Declared, rname: str, res: Resource, rpath: FieldPath, prefixed: bool) -> Binding | None:
        src = d.doc.source_map
        if res.metadata is not None:
            self.warn(
                src,
                rpath + ("metadata",),
                "resource metadata is not used",
                "Composer's resource types take no annotations; the metadata is ignored",
            )
        if res.type in WORKLOAD_LOCAL:
            return self.local_resource(d, rname, res, rpath)
        kind = PROVISIONED.get(res.type)
        if kind is None:
            known = ", ".join([*PROVISIONED, *WORKLOAD_LOCAL])
            self.error(
                src,
                rpath + ("type",),
                f"Score resource type {res.type!r} is not supported",
                UNSUPPORTED_HINTS.get(res.type, f"Composer maps these types: {known}"),
            )
            return None
        props = dict(res.params or {})
        if res.class_ not in (None, "default"):
            if kind.sized and res.class_ in SIZE_CLASSES and "size" not in props:
                props["size"] = res.class_
            else:
                expected = "default, small, medium or large" if kind.sized else "default"
                self.error(
                    src,
                    rpath + ("class",),
                    f"resource class {res.class_!r} is not known for type {res.type!r}",
                    f"expected {expected}; the environment picks the implementation (implementations: {{{kind.composer_type}: ...}})",
                )
                return None
        if res.id is not None:
            key = (res.type, res.class_, res.id)
            name = self.shared.get(key)
            if name is not None:
                return Binding("provisioned", component=name, renames=kind.renames)
            name = self.shared[key] = res.id.replace(".", "-")
        else:
            name = f"{d.workload.metadata.name}-{rname}" if prefixed else rname
        comp: dict[str, Any] = {"name": name, "type": kind.composer_type, "properties": props}
        origins: dict[FieldPath, tuple[SourceMap, FieldPath]] = {
            (): (src, rpath),
            ("name",): (src, rpath),
            ("type",): (src, rpath + ("type",)),
            ("properties",): (src, rpath + ("params",)),
        }
        if "size" in props and "size" not in (res.params or {}):
            origins[("properties", "size")] = (src, rpath + ("class",))
        self.components.append((comp, origins))
        return Binding("provisioned", component=name, renames=kind.renames)

    def local_resource(self, d: _Declared, rname: str, res: Resource, rpath: FieldPath) -> Binding | None:
        src = d.doc.source_map
        if res.class_ not in (None, "default"):
            self.error(
                src,
                rpath + ("class",),
                f"resource class {res.class_!r} is not known for type {res.type!r}",
                "expected default",
            )
            return None
        params = res.params or {}
        allowed = {
            "volume": {"size", "storageClassName", "accessModes"},
            "dns": {"host"},
            "route": {"host", "path", "port"},
            "environment": set(),
        }[res.type]
        for p in sorted(set(params) - allowed):
            self.error(
                src,
                rpath + ("params", p),
                f"param {p!r} is not read for a {res.type} resource",
                f"expected {', '.join(sorted(allowed)) or 'no params'}",
                key=True,
            )
        if res.type == "dns":
            host = params.get("host")
            if not isinstance(host, str) or not host:
                self.error(
                    src,
                    rpath,
                    "a dns resource needs params.host",
                    "Composer does not allocate host names: give the name, e.g. params: {host: shop.example.com}",
                )
                return None
            return Binding("dns", values={"host": host})
        if res.type == "volume":
            return self.volume(d, rname, res)
        return Binding(res.type)

    def volume(self, d: _Declared, rname: str, res: Resource) -> Binding:
        """A claim of the workload's own, or one claim shared by every workload naming the same id."""
        params = {k: str(v) if k == "size" else v for k, v in (res.params or {}).items()}
        if res.id is None:
            return Binding(
                "volume", values={**params, "claim": f"{d.workload.metadata.name}-{rname}", "create": "true"}
            )
        key = ("volume", res.class_, res.id)
        claim = res.id.replace(".", "-")
        create = key not in self.shared
        self.shared.setdefault(key, claim)
        return Binding("volume", values={**params, "claim": claim, "create": "true" if create else ""})

    def workload(self, d: _Declared) -> None:
        src = d.doc.source_map
        meta = d.doc.data.get("metadata", {})
        ph = Placeholders(src, meta, d.bindings, self.environ, self.errors)
        builder = WorkloadBuilder(d.workload, d.doc, ph, self.warnings)
        comp, origins = builder.build()
        for k in sorted(set(meta) - {"name", "annotations"}):
            self.warn(
                src,
                ("metadata", k),
                f"metadata.{k} is read only by ${{metadata.{k}}} placeholders",
                "Composer puts only metadata.annotations on the objects",
            )
        self.components.append((comp, {p: (src, o) for p, o in origins.items()}))


def import_score(docs: list[SourceDocument], environ: Mapping[str, str], app_name: str | None = None) -> ScoreApp:
    """Score documents -> Composer Application data (not yet validated against Application)."""
    errors: list[Diagnostic] = []
    declared = []
    for doc in docs:
        try:
            declared.append(_Declared(doc, load_workload(doc)))
        except DiagnosticError as exc:
            errors.extend(exc.diagnostics)
    if errors:
        raise DiagnosticError(errors)
    imp = _Importer(environ)
    _check_names(declared, imp)
    imp.resources(declared)
    for d in declared:
        imp.workload(d)
    _check_collisions(imp)
    if imp.errors:
        from composer.model.loader import by_line

        raise DiagnosticError(by_line(imp.errors))
    first = docs[0]
    source = ScoreSourceMap(first.file, dict(first.source_map.values), dict(first.source_map.keys))
    components = []
    for i, (comp, origins) in enumerate(imp.components):
        components.append(comp)
        for p, o in origins.items():
            source.origins[("spec", "components", i) + p] = o
    name = app_name or declared[0].workload.metadata.name
    source.origins[("metadata", "name")] = (first.source_map, ("metadata", "name"))
    data = {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {"components": components},
    }
    return ScoreApp(data, source, imp.warnings)


def _check_names(declared: list[_Declared], imp: _Importer) -> None:
    seen: dict[str, SourceDocument] = {}
    for d in declared:
        name = d.workload.metadata.name
        if name in seen:
            imp.error(
                d.doc.source_map,
                ("metadata", "name"),
                f"workload {name!r} is given twice",
                f"first in {seen[name].file}",
            )
        seen.setdefault(name, d.doc)


def _check_collisions(imp: _Importer) -> None:
    first: dict[str, tuple[SourceMap, FieldPath]] = {}
    for comp, origins in imp.components:
        src, path = origins[()]
        if comp["name"] in first:
            other_src, other = first[comp["name"]]
            imp.error(
                src,
                path,
                f"the name {comp['name']!r} is used twice in the application",
                f"also at {other_src.file}: {'.'.join(map(str, other))}; rename one of them",
            )
        first.setdefault(comp["name"], (src, path))


def merge_listed(
    doc: SourceDocument, base: Path, environ: Mapping[str, str]
) -> tuple[dict[str, Any], ScoreSourceMap, list[Diagnostic]]:
    """An app.yaml whose `spec.score` lists Score files: their workloads join its components."""
    spec = doc.data["spec"]
    listed = spec["score"]
    if not isinstance(listed, list):
        raise DiagnosticError(
            [doc.source_map.diagnostic(("spec", "score"), "expected a list of Score files, relative to app.yaml")]
        )
    docs: list[SourceDocument] = []
    errors: list[Diagnostic] = []
    for i, entry in enumerate(listed):
        rel = Path(entry) if isinstance(entry, str) and entry else None
        if rel is None or rel.is_absolute() or ".." in rel.parts:
            errors.append(
                doc.source_map.diagnostic(
                    ("spec", "score", i),
                    "expected the path of a Score file below app.yaml's directory",
                    "e.g. score: [services/api.score.yaml]",
                )
            )
            continue
        try:
            found = load_documents(base / rel, str(Path(doc.file).parent / rel))
        except DiagnosticError as exc:
            errors.extend(exc.diagnostics)
            continue
        if (
            len(found) != 1
            or not isinstance(found[0].data, dict)
            or found[0].data.get("apiVersion") != SCORE_API_VERSION
        ):
            errors.append(
                doc.source_map.diagnostic(("spec", "score", i), f"{entry} is not one {SCORE_API_VERSION} workload")
            )
            continue
        docs.append(found[0])
    if errors:
        raise DiagnosticError(errors)
    imported = import_score(docs, environ, app_name=None)
    own = spec.get("components") if isinstance(spec.get("components"), list) else []
    source = ScoreSourceMap(doc.file, dict(doc.source_map.values), dict(doc.source_map.keys))
    for p, o in imported.source.origins.items():
        if p[:2] == ("spec", "components"):
            source.origins[("spec", "components", int(p[2]) + len(own)) + p[3:]] = o
    data = {**doc.data, "spec": {**spec, "components": [*own, *imported.data["spec"]["components"]]}}
    return data, source, imported.warnings
