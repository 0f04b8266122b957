"""KubeVela's `ref-objects` component type (vela-templates/definitions/internal/component/ref-objects.cue,
pkg/component/ref_objects.go), read as a `k8s-objects` component.

KubeVela reads the referenced objects (by `resource`, `group` and `name`, or by `labelSelector`;
no name and no selector means the component's name) when it parses the Application, keeps them
in the app revision, strips what the server set (resourceVersion, uid, status, …) and deploys
them as the component's objects. Composer has no cluster to read while it loads an app, so, as
for `workflow.ref` (oam_refs.py), it reads them from the YAML files beside the app: the
manifests one applies before the app (`kubectl apply -f deployment.yaml`) or `kubectl get -o
yaml` wrote. `appc plan` shows them, and a reference that matches nothing is an error at its
line before anything is written. The objects become the component's: applied with Composer's
labels, pruned and destroyed with it; a field of an existing object that another tool set to
another value is a conflict (plan and apply report it) unless the app takes the object over.
A warning at the component's `type` says so.

The `scaler` trait sets the workload's (the first object's) `spec.replicas`, as KubeVela's scaler
patches the workload. Other traits are those of `k8s-objects`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.diagnostics import FieldPath
from composer.model.oam_refs import documents_beside

if TYPE_CHECKING:
    from composer.model.oam import _Converter

SELECTOR_KEYS = ("resource", "group", "name", "namespace", "cluster", "labelSelector")
MAX_DOCUMENTS = 200  # documents read from one file beside the app
SERVER_SET = ("resourceVersion", "generation", "ownerReferences", "deletionTimestamp", "managedFields", "uid")
SCALED_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")


@dataclass(frozen=True)
class FoundObject:
    body: dict[str, Any]
    file: str  # the file's name beside the app
    line: int


def objects_beside(app_path: Path | None) -> list[FoundObject]:
    """The Kubernetes objects (apiVersion, kind, metadata.name; not KubeVela's own core.oam.dev
    kinds) of the YAML files beside the app. Files that are no YAML Composer reads are skipped,
    as for Workflow objects; symlinks are not followed."""
    out: list[FoundObject] = []
    for path, docs in documents_beside(app_path, MAX_DOCUMENTS):
        for doc in docs:
            data = doc.data
            meta = data.get("metadata") if isinstance(data, dict) else None
            if not (isinstance(meta, dict) and isinstance(meta.get("name"), str) and isinstance(data.get("kind"), str)):
                continue
            api = data.get("apiVersion")
            if isinstance(api, str) and api and not api.startswith("core.oam.dev/"):
                pos = doc.source_map.locate(())
                out.append(FoundObject(data, path.name, pos.line if pos else 1))
    return out


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _names_kind(resource: str, kind: str) -> bool:
    """`resource` as KubeVela's REST mapper reads it: the kind in lower case, or its plural."""
    k = kind.lower()
    if k.endswith("y") and k[-2:-1] not in tuple("aeiou"):
        plural = k[:-1] + "ies"  # networkpolicy -> networkpolicies, gateway -> gateways
    else:
        plural = k + "es" if k.endswith(("s", "x", "ch", "sh")) else k + "s"
    return resource.lower() in (k, plural)


def for_dispatch(body: dict[str, Any]) -> dict[str, Any]:
    """The object without what the server set, as KubeVela clears it before it deploys it
    (ClearRefObjectForDispatch); the namespace is the environment's, as for k8s-objects."""
    meta = {k: v for k, v in body["metadata"].items() if k not in (*SERVER_SET, "creationTimestamp", "namespace")}
    out = {k: v for k, v in body.items() if k != "status"}
    out["metadata"] = meta
    spec = out.get("spec")
    if body.get("kind") == "Service" and isinstance(spec, dict) and spec.get("clusterIP") not in (None, "None"):
        out["spec"] = {k: v for k, v in spec.items() if k not in ("clusterIP", "clusterIPs")}
    return out


class RefObjects:
    """One ref-objects component, read into a k8s-objects one."""

    def __init__(self, c: _Converter, comp: dict[str, Any], cpath: FieldPath, app_path: Path | None, namespace: str):
        self.c = c
        self.app_namespace = namespace  # the Application's metadata.namespace, where KubeVela reads
        self.comp = comp
        self.cpath = cpath
        self.ppath = cpath + ("properties",)
        self.app_path = app_path
        self._beside: list[FoundObject] | None = None

    def beside(self) -> list[FoundObject]:
        if self._beside is None:
            self._beside = objects_beside(self.app_path)
        return self._beside

    def run(self) -> dict[str, Any]:
        props = self.comp.get("properties")
        if not isinstance(props, dict) or not isinstance(props.get("objects"), list) or not props["objects"]:
            self.c.error(
                self.ppath if isinstance(props, dict) else self.cpath,
                "ref-objects needs properties.objects: a list of objects to read",
                "e.g. objects: [{resource: deployment, group: apps, name: web}]",
            )
            return self.comp
        for key in sorted(set(props) - {"objects"}):
            hint = (
                "Composer fetches nothing while it loads an app: save the objects in a file beside the app and "
                "select them under objects, or give them in a k8s-objects component"
                if key == "urls"
                else "expected objects"
            )
            self.c.error(self.ppath + (key,), f"unsupported field {key!r} of ref-objects", hint, key=True)
        picked: list[tuple[FoundObject, FieldPath]] = []  # every selector read (and reported) first
        for i, selector in enumerate(props["objects"]):
            for obj in self.select(selector, self.ppath + ("objects", i)):
                if not any(_same(obj.body, o.body) for o, _ in picked):  # as KubeVela keeps each object once
                    picked.append((obj, self.ppath + ("objects", i)))
        for j, (obj, spath) in enumerate(picked):
            self.place(j, obj, spath)
        found = [o for o, _ in picked]
        self.c.warn(
            self.cpath + ("type",),
            "ref-objects: the objects are read from the files beside the app, not from the cluster",
            f"read: {', '.join(sorted({o.file for o in found}))}. Composer applies them as this component's objects "
            "with its labels, and prune and destroy delete them with the component. Where one already exists in "
            "the cluster, a field another tool set to another value is a conflict that appc plan and apply report, "
            "unless the app takes it over (a take-over policy, or --force-conflicts)",
        )
        self.c.dst.notes[self.cpath] = "ref-objects is read as a k8s-objects component of the objects it references"
        objects = [for_dispatch(o.body) for o in found]
        out = {**self.comp, "type": "k8s-objects", "properties": {"objects": objects}}
        traits = self.comp.get("traits")
        if isinstance(traits, list) and objects:
            kept = [j for j, t in enumerate(traits) if not self.scaled(t, self.cpath + ("traits", j), objects[0])]
            out["traits"] = [traits[j] for j in kept]
            self.c.renumber(self.cpath + ("traits",), {j: n for n, j in enumerate(kept)})
        return out

    def place(self, j: int, obj: FoundObject, spath: FieldPath) -> None:
        opath = self.ppath + ("objects", j)
        for table in (self.c.dst.values, self.c.dst.keys):
            for p in [p for p in table if p[: len(opath)] == opath]:
                del table[p]
        self.c.pin(opath, spath)
        kind, name = obj.body["kind"], obj.body["metadata"]["name"]
        self.c.dst.notes[opath] = f"{kind} {name!r} is read from {obj.file} line {obj.line}"

    def select(self, selector: Any, spath: FieldPath) -> list[FoundObject]:
        if not isinstance(selector, dict):
            self.c.error(spath, "expected an object selector {resource, group, name | labelSelector}")
            return []
        bad = sorted(set(selector) - set(SELECTOR_KEYS))
        for key in bad:
            self.c.error(spath + (key,), f"unknown field {key!r} of a ref-objects selector", _KNOWN, key=True)
        for key in SELECTOR_KEYS[:5]:
            if key in selector and (not isinstance(selector[key], str) or not (selector[key] or key == "group")):
                self.c.error(spath + (key,), f"{key} must be {'a' if key == 'group' else 'a non-empty'} text")
                bad.append(key)
        labels = selector.get("labelSelector")
        if labels is not None and (
            not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values())
        ):
            self.c.error(spath + ("labelSelector",), "labelSelector must map label names to values", "e.g. {app: web}")
            bad.append("labelSelector")
        if bad:
            return []
        if "resource" not in selector:
            self.c.error(spath, "a ref-objects selector needs resource", "e.g. resource: deployment, group: apps")
            return []
        if "name" in selector and labels is not None:
            self.c.error(spath + ("labelSelector",), "name and labelSelector cannot be both set", "give one of them")
            return []
        if selector.get("cluster", "local") != "local":
            self.c.error(
                spath + ("cluster",),
                f"ref-objects cluster {selector['cluster']!r} is not supported",
                "Composer reads the objects from the files beside the app: remove cluster, and put the objects there",
            )
            return []
        return self.matching(selector, spath)

    def matching(self, selector: dict[str, Any], spath: FieldPath) -> list[FoundObject]:
        resource, group = selector["resource"], selector.get("group", "")  # no group: any, as KubeVela's mapper
        labels = selector.get("labelSelector")
        name = None if labels is not None else selector.get("name", self.comp.get("name"))
        namespace = selector.get("namespace") or self.app_namespace or None  # None: the app's is not known
        out = []
        for o in self.beside():
            meta = o.body["metadata"]
            if not _names_kind(resource, o.body["kind"]) or group not in ("", _group(str(o.body["apiVersion"]))):
                continue
            if namespace is not None and meta.get("namespace") not in (None, namespace):
                continue
            if name is not None and meta["name"] != name:
                continue
            own = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
            if labels is not None and any(own.get(k) != v for k, v in labels.items()):
                continue
            out.append(o)
        if not out:
            what = f"named {name!r}" if name is not None else f"with labels {labels}"
            self.c.error(
                spath,
                f"no {resource}{f' of group {group!r}' if group else ''} {what} in the files beside the app",
                "Composer reads ref-objects from the YAML files in the app's folder (e.g. kubectl get -o yaml > "
                "file.yaml), not from a cluster: put the object there, or give it in a k8s-objects component",
            )
        return out

    def scaled(self, trait: Any, tpath: FieldPath, first: dict[str, Any]) -> bool:
        """A scaler trait, written into the first object's spec.replicas as KubeVela's scaler patches
        the workload; other traits are those of k8s-objects."""
        if (
            not isinstance(trait, dict)
            or trait.get("type") != "scaler"
            or not isinstance(trait.get("properties"), dict)
        ):
            return False  # not a scaler, or the schema reports the shape
        props, ppath = trait["properties"], tpath + ("properties",)
        for key in sorted(set(trait) - {"type", "properties"}):
            self.c.error(tpath + (key,), f"unknown field {key!r} of a trait", "expected type and properties", key=True)
        for key in sorted(set(props) - {"replicas"}):
            self.c.error(ppath + (key,), f"unknown field {key!r} of trait scaler", "expected replicas", key=True)
        replicas = props.get("replicas", 1)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            self.c.error(ppath + ("replicas",), "replicas must be a whole number, 0 or more")
        elif first.get("kind") not in SCALED_KINDS or not isinstance(first.get("spec"), dict):
            self.c.error(
                tpath + ("type",),
                f"scaler needs a {', '.join(SCALED_KINDS)} as the first ref-objects object",
                f"the first object is a {first.get('kind')}: reference the workload first",
            )
        else:
            first["spec"] = {**first["spec"], "replicas": replicas}
            self.c.relocate(ppath + ("replicas",), self.ppath + ("objects", 0, "spec", "replicas"))
        return True


_KNOWN = "expected resource, group, name, namespace, cluster or labelSelector"


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a.get("apiVersion"), a.get("kind"), a["metadata"]["name"]) == (
        b.get("apiVersion"),
        b.get("kind"),
        b["metadata"]["name"],
    )


def ref_objects(c: _Converter, comp: dict[str, Any], cpath: FieldPath) -> dict[str, Any]:
    companions, app = c.read_from
    meta = app.get("metadata") if isinstance(app, dict) else None
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    app_path = companions.app_path if companions is not None else None
    return RefObjects(c, comp, cpath, app_path, namespace if isinstance(namespace, str) else "").run()
