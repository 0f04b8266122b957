"""One Score workload's containers and service as one Composer workload component.

The first container is the main one (a `webservice` when `service.ports` is given, else a
`worker`, named after the workload); each further container is a `sidecar` trait. Files
become ConfigMaps mounted at their paths, volumes become claims, routes an `ingress`
trait, container resources a `resources` trait. Each value built records the Score path
it came from, so diagnostics point at the user's lines.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from composer.diagnostics import Diagnostic, DiagnosticError, FieldPath, Severity
from composer.model.score import Container, ContainerFile, ContainerProbe, ContainerVolume, Workload
from composer.model.score_placeholders import Placeholders
from composer.model.source import SourceDocument
from composer.model.source_text import read_text

DEFAULT_MODES = ("644", "0644")
VOLUME_SOURCE = "${resources."


class WorkloadBuilder:
    def __init__(self, workload: Workload, doc: SourceDocument, ph: Placeholders, warnings: list[Diagnostic]):
        self.w = workload
        self.doc = doc
        self.src = doc.source_map
        self.ph = ph
        self.warnings = warnings
        self.origins: dict[FieldPath, FieldPath] = {}
        self.traits: list[dict[str, Any]] = []

    @property
    def name(self) -> str:
        return self.w.metadata.name

    def error(self, path: FieldPath, summary: str, detail: str = "", *, key: bool = False) -> None:
        self.ph.errors.append(self.src.diagnostic(path, summary, detail, key=key))

    def build(self) -> tuple[dict[str, Any], dict[FieldPath, FieldPath]]:
        ports = self.w.service.ports if self.w.service else {}
        ctype = "webservice" if ports else "worker"
        self.origins[()] = ("metadata", "name")
        self.origins[("type",)] = ("service",) if ports else ("containers",)
        cname, main = next(iter(self.w.containers.items()))
        props = self.container(main, ("containers", cname))
        if ports:
            props["ports"] = self.ports(ports)
        if self.w.metadata.annotations:
            props["annotations"] = dict(self.w.metadata.annotations)
            self.origins[("properties", "annotations")] = ("metadata", "annotations")
        for sname, side in list(self.w.containers.items())[1:]:
            self.sidecar(sname, side, ("containers", sname))
        self.routes()
        comp: dict[str, Any] = {"name": self.name, "type": ctype, "properties": props}
        if self.traits:
            comp["traits"] = self.traits
        return comp, self.origins

    # -- the main container ------------------------------------------------------------

    def container(self, c: Container, cpath: FieldPath) -> dict[str, Any]:
        props: dict[str, Any] = {}
        self.origins[("properties",)] = cpath
        if c.image == ".":
            self.error(
                cpath + ("image",),
                "image '.' (built by the Score tool) has no counterpart in Composer",
                "give the image reference to deploy, e.g. ghcr.io/acme/api:1.2.0",
            )
        props["image"] = c.image
        for field, key in (("command", "cmd"), ("args", "args")):
            values = getattr(c, field)
            if values is not None:
                props[key] = [self.ph.expand(v, cpath + (field, i)) for i, v in enumerate(values)]
                self.origins[("properties", key)] = cpath + (field,)
        if c.variables:
            props["env"] = {k: self.ph.expand(v, cpath + ("variables", k)) for k, v in c.variables.items()}
            self.origins[("properties", "env")] = cpath + ("variables",)
        for field, key in (("liveness_probe", "livenessProbe"), ("readiness_probe", "readinessProbe")):
            probe = getattr(c, field)
            if probe is not None:
                props[key] = self.probe(probe, cpath + (key,))
                self.origins[("properties", key)] = cpath + (key,)
        if c.before:
            self.error(
                cpath + ("before",),
                "container start order (before) is not supported",
                "Kubernetes starts a pod's containers together: drop before, or run the earlier step as an init container through a TraitDefinition",
                key=True,
            )
        if c.resources is not None:
            self.resources(c, cpath)
        mounts = self.mounts(c, cpath)
        if mounts:
            props["volumeMounts"] = mounts
        return props

    def probe(self, p: ContainerProbe, path: FieldPath) -> dict[str, Any]:
        if p.exec is not None:
            if p.http_get is not None:
                self.warnings.append(
                    self.src.diagnostic(
                        path + ("httpGet",),
                        "httpGet is not used: the probe runs exec",
                        "a Kubernetes probe has one handler; Score prefers exec when both are given",
                        key=True,
                        severity=Severity.WARNING,
                    )
                )
            return {"exec": {"command": list(p.exec.command)}}
        h = p.http_get
        assert h is not None  # the model requires one of them
        out: dict[str, Any] = {"path": h.path, "port": h.port}
        if h.host is not None:
            out["host"] = h.host
        if h.scheme is not None:
            out["scheme"] = h.scheme
        if h.http_headers:
            out["httpHeaders"] = [{"name": x.name, "value": x.value} for x in h.http_headers]
        return {"httpGet": out}

    def resources(self, c: Container, cpath: FieldPath) -> None:
        props: dict[str, Any] = {}
        for field in ("requests", "limits"):
            q = getattr(c.resources, field)
            if q is not None:
                props[field] = {k: v for k, v in (("cpu", q.cpu), ("memory", q.memory)) if v is not None}
        self.origins[("traits", len(self.traits))] = cpath + ("resources",)
        self.traits.append({"type": "resources", "properties": props})

    def ports(self, ports: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for i, (pname, sp) in enumerate(ports.items()):
            entry: dict[str, Any] = {"name": pname, "port": sp.port, "expose": True}
            if sp.protocol:
                entry["protocol"] = sp.protocol
            if sp.target_port is not None and sp.target_port != sp.port:
                entry["containerPort"] = sp.target_port
            out.append(entry)
            self.origins[("properties", "ports", i)] = ("service", "ports", pname)
        return out

    # -- files and volumes -------------------------------------------------------------

    def mounts(self, c: Container, cpath: FieldPath) -> dict[str, list[dict[str, Any]]]:
        mounts: dict[str, list[dict[str, Any]]] = {}
        for i, (target, f, fpath) in enumerate(self.items(c.files, cpath + ("files",), ContainerFile)):
            entry = self.file(f, target, fpath, i)
            if entry is not None:
                self.origins[("properties", "volumeMounts", "configMap", len(mounts.get("configMap", [])))] = fpath
                mounts.setdefault("configMap", []).append(entry)
        for target, v, vpath in self.items(c.volumes, cpath + ("volumes",), ContainerVolume):
            entry = self.volume(v, target, vpath)
            if entry is not None:
                self.origins[("properties", "volumeMounts", "pvc", len(mounts.get("pvc", [])))] = vpath
                mounts.setdefault("pvc", []).append(entry)
        return mounts

    def items(self, raw: Any, path: FieldPath, model: type[BaseModel]) -> list[tuple[str, Any, FieldPath]]:
        """The map form {target: item}, or the deprecated list form [{target, ...}], validated."""
        if raw is None:
            return []
        pairs: list[tuple[str | None, Any, FieldPath]]
        if isinstance(raw, dict):
            pairs = [(str(k), v, path + (k,)) for k, v in raw.items()]
        elif isinstance(raw, list):
            pairs = [(v.get("target") if isinstance(v, dict) else None, v, path + (i,)) for i, v in enumerate(raw)]
        else:
            self.error(path, f"expected a map of target paths, got {type(raw).__name__}")
            return []
        out = []
        for target, value, vpath in pairs:
            checked = self.validate(model, value, vpath)
            if checked is None:
                continue
            if isinstance(raw, dict) and getattr(checked, "target", None) is not None:
                self.error(
                    vpath + ("target",),
                    "target is given by the map key here",
                    "remove target (it belongs to the deprecated list form)",
                    key=True,
                )
                continue
            if not target or not target.startswith("/"):
                self.error(
                    vpath,
                    "expected an absolute target path in the container",
                    "e.g. /etc/app/config.yaml",
                    key=isinstance(raw, dict),
                )
                continue
            out.append((target, checked, vpath))
        return out

    def validate(self, model: type[BaseModel], value: Any, path: FieldPath) -> Any:
        from composer.model.loader import translate

        try:
            return model.model_validate(value)
        except ValidationError as exc:
            self.ph.errors.extend(translate(exc, model, self.src, path))
            return None

    def file(self, f: ContainerFile, target: str, fpath: FieldPath, i: int) -> dict[str, Any] | None:
        if f.mode is not None and f.mode not in DEFAULT_MODES:
            self.error(
                fpath + ("mode",), f"file mode {f.mode} is not supported", "Composer mounts files with mode 0644"
            )
            return None
        if f.binary_content is not None:
            self.error(
                fpath + ("binaryContent",),
                "binaryContent is not supported",
                "give the file as text (content or source)",
                key=True,
            )
            return None
        if f.source is not None:
            text = self.read_source(f.source, fpath + ("source",))
            if text is None:
                return None
        else:
            text = f.content or ""
        if f.no_expand:
            text = text.replace("${", "$${")
        else:
            text = self.ph.expand(text, fpath + ("content" if f.source is None else "source",), refs=False)
        key = posixpath.basename(target.rstrip("/")) or "file"
        return {"name": f"file-{i}", "mountPath": target, "subPath": key, "data": {key: text}, "readOnly": True}

    def read_source(self, source: str, path: FieldPath) -> str | None:
        """A file beside the Score file, never outside its directory, never through a symlink."""
        base = Path(self.doc.file).parent
        rel = Path(source)
        if rel.is_absolute() or ".." in rel.parts:
            self.error(
                path,
                f"file source {source!r} is outside the Score file's directory",
                "give a path relative to the Score file, below its directory",
            )
            return None
        full = base
        for part in rel.parts:
            full = full / part
            if full.is_symlink():
                break
        if full.is_symlink():
            self.error(
                path,
                f"file source {source!r} is a symbolic link",
                "Composer does not follow links it did not create: copy the file",
            )
            return None
        try:
            return read_text(full)
        except DiagnosticError as exc:
            self.error(
                path, f"cannot read file source {source!r}", exc.diagnostics[0].summary if exc.diagnostics else ""
            )
            return None

    def volume(self, v: ContainerVolume, target: str, vpath: FieldPath) -> dict[str, Any] | None:
        src = v.source.strip()
        name = src[len(VOLUME_SOURCE) : -1] if src.startswith(VOLUME_SOURCE) and src.endswith("}") else None
        binding = self.ph.bindings.get(name) if name else None
        if binding is None or binding.kind != "volume":
            self.error(
                vpath + ("source",),
                "a volume source must be ${resources.<name>} of a volume resource",
                "declare resources.<name>: {type: volume} and write source: ${resources.<name>}",
            )
            return None
        entry: dict[str, Any] = {"name": name, "mountPath": target, "claimName": binding.values["claim"]}
        if binding.values.get("create"):
            entry["create"] = True
            entry["resources"] = {"requests": {"storage": binding.values.get("size", "1Gi")}}
            for key in ("storageClassName", "accessModes"):
                if key in binding.values:
                    entry[key] = binding.values[key]
        if v.path:
            entry["subPath"] = v.path
        if v.read_only is not None:
            entry["readOnly"] = v.read_only
        return entry

    # -- further containers and routes ---------------------------------------------------

    def sidecar(self, name: str, c: Container, cpath: FieldPath) -> None:
        for field, key in (
            ("files", "files"),
            ("volumes", "volumes"),
            ("liveness_probe", "livenessProbe"),
            ("readiness_probe", "readinessProbe"),
            ("resources", "resources"),
            ("before", "before"),
        ):
            if getattr(c, field):
                self.error(
                    cpath + (key,),
                    f"{key} on a second container is not supported",
                    f"Composer runs containers after the first as sidecars, which take image, command, args and variables; move {key} to the first container ({next(iter(self.w.containers))})",
                    key=True,
                )
        props: dict[str, Any] = {"name": name, "image": c.image}
        if c.command is not None:
            props["cmd"] = [self.ph.expand(v, cpath + ("command", i)) for i, v in enumerate(c.command)]
        if c.args is not None:
            props["args"] = [self.ph.expand(v, cpath + ("args", i)) for i, v in enumerate(c.args)]
        if c.variables:
            props["env"] = {k: self.ph.expand(v, cpath + ("variables", k)) for k, v in c.variables.items()}
        j = len(self.traits)
        self.origins[("traits", j)] = cpath
        self.origins[("traits", j, "properties", "cmd")] = cpath + ("command",)
        self.origins[("traits", j, "properties", "env")] = cpath + ("variables",)
        self.traits.append({"type": "sidecar", "properties": props})

    def routes(self) -> None:
        """Score route resources -> one ingress trait (one host, a path -> port map)."""
        host: str | None = None
        paths: dict[str, int] = {}
        first: FieldPath | None = None
        ports = {sp.port for sp in (self.w.service.ports.values() if self.w.service else [])}
        for rname, res in self.w.resources.items():
            if res.type != "route":
                continue
            rpath = ("resources", rname, "params")
            params = res.params or {}
            missing = [k for k in ("host", "path", "port") if k not in params]
            if missing:
                self.error(rpath, f"a route needs params {', '.join(missing)}")
                continue
            h = self.ph.expand(str(params["host"]), rpath + ("host",), refs=False)
            port = params["port"]
            if not isinstance(port, int) or isinstance(port, bool) or port not in ports:
                self.error(
                    rpath + ("port",),
                    f"route port {port!r} is not a port of the workload's service",
                    f"expected one of: {', '.join(map(str, sorted(ports))) or 'none (declare service.ports)'}",
                )
                continue
            if host is not None and h != host:
                self.error(
                    rpath + ("host",),
                    "routes of one workload to different hosts are not supported",
                    f"Composer's ingress routes one host; the first route uses {host}",
                )
                continue
            host = host or h
            first = first or ("resources", rname)
            paths[str(params["path"])] = port
        if host is None or first is None:  # first is set with host
            return
        self.origins[("traits", len(self.traits))] = first
        self.traits.append({"type": "ingress", "properties": {"host": host, "paths": paths}})
