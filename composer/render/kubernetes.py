"""Render workload components into Kubernetes manifests.

`webservice` (Deployment + Service), `worker` (Deployment), `task` (Job),
`cron-task` (CronJob) and `k8s-objects` (passed through) are built here; platform
types render their manifest template. Traits then patch the result
(composer/render/traits.py). Every object carries the app.kubernetes.io/* and
composer.dev/* labels. Connections and references become secretKeyRefs to the
connection Secrets (composer/render/bindings.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from composer.diagnostics import Diagnostic, Severity
from composer.model import refs
from composer.render.bindings import Bindings
from composer.render.security import harden
from composer.render.template_workload import template_workload
from composer.render.workload import (  # noqa: F401 - re-exported: importers use these names from here
    CLUSTER_SCOPED,
    POD_OWNERS,
    Workload,
    label_value,
    selector_labels,
    standard_labels,
    target_namespace,
)
from composer.render.workload_defaults import default_probes, default_requests
from composer.resolve import Resolved, ResolvedComponent

KIND_ORDER = ["Namespace", "ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Deployment",
              "StatefulSet", "DaemonSet", "Job", "CronJob", "Service", "Ingress", "HorizontalPodAutoscaler"]  # fmt: skip

PATCH_LAST = ("json-patch", "json-merge-patch")
MAX_OBJECT_BYTES = 1024 * 1024  # the API server's limit for a Secret or ConfigMap


def _quantity(value: Any) -> str:
    return str(value)


def _resources(cpu: Any, memory: Any) -> dict:
    q = {}
    if cpu is not None:
        q["cpu"] = _quantity(cpu)
    if memory is not None:
        q["memory"] = _quantity(memory)
    return {"requests": dict(q), "limits": dict(q)} if q else {}


def probe(spec: dict) -> dict:
    out: dict[str, Any] = {}
    if "path" in spec or (
        "port" in spec
        and "command" not in spec
        and not any(k in spec for k in ("httpGet", "tcpSocket", "exec", "grpc"))
    ):
        if "path" in spec:
            out["httpGet"] = {"path": spec["path"], "port": spec.get("port", 80)}
        else:
            out["tcpSocket"] = {"port": spec["port"]}
    if "command" in spec:
        out["exec"] = {"command": list(spec["command"])}
    for k in ("httpGet", "tcpSocket", "exec", "grpc"):
        if k in spec:
            out[k] = spec[k]
    for k in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"):
        if k in spec:
            out[k] = spec[k]
    return out


def add_volumes(w: Workload, spec: dict, container: dict) -> None:
    """KubeVela's storage shape: pvc, configMap, secret and emptyDir lists."""
    volumes = w.pod.setdefault("volumes", [])
    mounts = container.setdefault("volumeMounts", [])
    for v in spec.get("pvc", []):
        claim = v.get("claimName")
        if not claim or v.get("create"):
            claim = claim or f"{w.name}-{v['name']}"
            pvc_spec: dict[str, Any] = {
                "accessModes": list(v.get("accessModes", ["ReadWriteOnce"])),
                "resources": {
                    "requests": {"storage": v.get("resources", {}).get("requests", {}).get("storage", "1Gi")}
                },
            }
            if v.get("storageClassName"):
                pvc_spec["storageClassName"] = v["storageClassName"]
            w.add(
                {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": w.metadata(claim), "spec": pvc_spec}
            )
        volumes.append({"name": v["name"], "persistentVolumeClaim": {"claimName": claim}})
        mounts.append(_mount(v))
    for v in spec.get("configMap", []):
        cm = v.get("cmName") or f"{w.name}-{v['name']}"
        if "data" in v:
            w.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": w.metadata(cm), "data": dict(v["data"])})
        if "mountPath" in v:
            volumes.append({"name": v["name"], "configMap": {"name": cm, **_items(v)}})
            mounts.append(_mount(v))
    for v in spec.get("secret", []):
        volumes.append({"name": v["name"], "secret": {"secretName": v.get("secretName") or v["name"], **_items(v)}})
        mounts.append(_mount(v))
    for v in spec.get("emptyDir", []):
        volumes.append({"name": v["name"], "emptyDir": {"medium": v["medium"]} if v.get("medium") else {}})
        mounts.append(_mount(v))
    if not volumes:
        del w.pod["volumes"]
    if not mounts:
        del container["volumeMounts"]


def _items(v: dict) -> dict:
    return {"items": [dict(i) for i in v["items"]]} if v.get("items") else {}


def _mount(v: dict) -> dict:
    """A volumeMount: name and path, and subPath / readOnly where given."""
    return {"name": v["name"], "mountPath": v["mountPath"], **{k: v[k] for k in ("subPath", "readOnly") if k in v}}


def _pod(w: Workload, p: dict, restart: str | None = None) -> dict:
    c = w.component
    container: dict[str, Any] = {"name": c.name, "image": p["image"]}
    if p.get("imagePullPolicy"):
        container["imagePullPolicy"] = p["imagePullPolicy"]
    if p.get("cmd"):
        container["command"] = w.expand(c.name, p["cmd"])
    if p.get("args"):
        container["args"] = w.expand(c.name, p["args"])
    ports = _ports(p)
    if ports:
        container["ports"] = [
            {
                **({"name": x["name"]} if x.get("name") else {}),
                "containerPort": x.get("containerPort", x["port"]),
                "protocol": x.get("protocol", "TCP"),
            }
            for x in ports
        ]
    res = _resources(p.get("cpu"), p.get("memory"))
    if res:
        container["resources"] = res
    for key in ("livenessProbe", "readinessProbe"):
        if p.get(key):
            container[key] = probe(p[key])
    env = w.env(c.name)
    env.connect()
    for k, v in (p.get("env") or {}).items():
        env.set(k, v)
    pod_spec: dict[str, Any] = {"containers": [container]}
    if restart:
        pod_spec["restartPolicy"] = restart
    if p.get("imagePullSecrets"):
        pod_spec["imagePullSecrets"] = [{"name": s} for s in p["imagePullSecrets"]]
    pod_meta: dict[str, Any] = {"labels": {**standard_labels(w.app, w.resolved.environment.name, c.name)}}
    w.pod_meta, w.pod_spec = pod_meta, pod_spec
    if p.get("volumeMounts"):
        add_volumes(w, p["volumeMounts"], container)
    return {"metadata": pod_meta, "spec": pod_spec}


def _ports(p: dict) -> list[dict]:
    ports = list(p.get("ports") or [])
    if p.get("port") and not any(x["port"] == p["port"] for x in ports):
        ports.insert(0, {"port": p["port"], "protocol": "TCP", "expose": True})
    return ports


def _common_meta(w: Workload, obj: dict, p: dict) -> None:
    if p.get("labels"):
        w.extra_labels.update(p["labels"])
    if p.get("annotations"):
        w.extra_annotations.update(p["annotations"])


def _deployment(w: Workload, p: dict) -> dict:
    template = _pod(w, p)
    dep = w.add(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": w.metadata(),
            "spec": {"replicas": 1, "selector": {"matchLabels": selector_labels(w.app, w.name)}, "template": template},
        }
    )
    w.main = dep
    _common_meta(w, dep, p)
    return dep


def webservice(w: Workload) -> None:
    p = w.component.parameters
    _deployment(w, p)
    _service(w, p, expose_default=True)


def daemon(w: Workload) -> None:
    """KubeVela's daemon: a DaemonSet, and a Service for the ports with expose: true."""
    p = w.component.parameters
    w.main = w.add(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": w.metadata(),
            "spec": {"selector": {"matchLabels": selector_labels(w.app, w.name)}, "template": _pod(w, p)},
        }
    )
    _common_meta(w, w.main, p)
    _service(w, p, expose_default=False)


def statefulset(w: Workload) -> None:
    """KubeVela's statefulset: a StatefulSet whose serviceName is its own Service."""
    p = w.component.parameters
    spec = {
        "serviceName": w.name,
        "replicas": 1,
        "selector": {"matchLabels": selector_labels(w.app, w.name)},
        "template": _pod(w, p),
    }
    w.main = w.add({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": w.metadata(), "spec": spec})
    _common_meta(w, w.main, p)
    _service(w, p, expose_default=False)


def _service(w: Workload, p: dict, expose_default: bool) -> None:
    exposed = [x for x in _ports(p) if x.get("expose", expose_default)]
    if exposed:
        meta = w.metadata()
        if p.get("serviceAnnotations"):
            meta["annotations"] = dict(p["serviceAnnotations"])
        w.add(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {
                    "type": p.get("exposeType", "ClusterIP"),
                    "selector": selector_labels(w.app, w.name),
                    "ports": [
                        {
                            "name": x.get("name") or f"port-{x['port']}",
                            "port": x["port"],
                            "targetPort": x.get("containerPort", x["port"]),
                            "protocol": x.get("protocol", "TCP"),
                        }
                        for x in exposed
                    ],
                },
            }
        )


def worker(w: Workload) -> None:
    _deployment(w, w.component.parameters)


def _job_spec(w: Workload, p: dict) -> dict:
    spec: dict[str, Any] = {}
    if p.get("count", 1) != 1:
        spec["parallelism"] = p["count"]
        spec["completions"] = p["count"]
    if "backoffLimit" in p:
        spec["backoffLimit"] = p["backoffLimit"]
    spec["template"] = _pod(w, p, restart=p.get("restart", "Never"))
    return spec


def task(w: Workload) -> None:
    p = w.component.parameters
    w.main = w.add({"apiVersion": "batch/v1", "kind": "Job", "metadata": w.metadata(), "spec": _job_spec(w, p)})
    _common_meta(w, w.main, p)


def content_named_job(objects: list[dict]) -> None:
    """Name a task's Job after its spec: a Job's pod template is immutable, so a changed task is
    a new Job (the old one is pruned after it). Called on the objects as finally sent, bindings
    annotation included (composer/engine/binding.py stamped_objects)."""
    for obj in objects:
        if obj.get("kind") == "Job" and obj.get("apiVersion") == "batch/v1":
            digest = hashlib.sha256(
                json.dumps(obj.get("spec"), sort_keys=True, separators=(",", ":")).encode()
            ).hexdigest()[:8]
            obj["metadata"]["name"] = (
                f"{obj['metadata']['name'][:54].rstrip('-')}-{digest}"  # 63 at most: it becomes the job-name label
            )


def cron_task(w: Workload) -> None:
    p = w.component.parameters
    spec: dict[str, Any] = {"schedule": p["schedule"]}
    for k in (
        "timeZone",
        "concurrencyPolicy",
        "suspend",
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ):
        if k in p:
            spec[k] = p[k]
    spec["jobTemplate"] = {"spec": _job_spec(w, p)}
    w.main = w.add({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": w.metadata(), "spec": spec})
    _common_meta(w, w.main, p)


def k8s_objects(w: Workload) -> None:
    for obj in w.component.parameters["objects"]:
        w.adopt({**obj, "metadata": dict(obj["metadata"])})


BUILDERS = {
    "webservice": webservice,
    "daemon": daemon,
    "statefulset": statefulset,
    "worker": worker,
    "task": task,
    "cron-task": cron_task,
    "k8s-objects": k8s_objects,
}


def _finish(w: Workload) -> None:
    for cname, builder in w.envs.items():
        container = w.container(cname)
        entries = builder.entries()
        if container is not None and entries:
            container["env"] = entries
    for obj in w.objects:
        meta = obj["metadata"]
        if w.extra_labels:
            meta["labels"] = {**w.extra_labels, **meta.get("labels", {})}
        if w.extra_annotations:
            meta["annotations"] = {**meta.get("annotations", {}), **w.extra_annotations}
    if w.pod_meta is not None:
        if w.extra_labels:
            w.pod_meta["labels"] = {**w.extra_labels, **w.pod_meta["labels"]}
        if w.extra_annotations:
            w.pod_meta["annotations"] = {**w.pod_meta.get("annotations", {}), **w.extra_annotations}


def _operational_defaults(w: Workload, builtin: str | None) -> None:
    if builtin == "webservice":
        default_probes(w.container(w.name) or {})
    for name in default_requests(w.pod_spec or {}):
        w.fail(
            w.component.path,
            f"container {name!r} has no CPU or memory limits",
            "set them with the resources trait (or cpu/memory), so one pod cannot starve its node",
            severity=Severity.WARNING,
        )


def _app_metadata(w: Workload) -> None:
    """The application's labels and annotations reach every object, as KubeVela propagates them;
    the component's own win, and controller annotations (`*.oam.dev/*`) stay on the app."""
    meta = w.resolved.app.metadata
    w.extra_labels = {**meta.labels, **w.extra_labels}
    w.extra_annotations = {**{k: v for k, v in meta.annotations.items() if "oam.dev/" not in k}, **w.extra_annotations}


def _rank(obj: dict) -> tuple:
    kind = obj.get("kind", "")
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind, obj["metadata"].get("name", ""))


def guarded_copies(w: Workload) -> list[dict]:
    """Refuse manifests that would carry an unresolved reference or exceed the API's size limit;
    the objects, copied with `$${` unescaped (it was a literal `${`)."""
    import json

    copies = []
    for obj in w.objects:
        dollars: list[str] = []
        copies.append(refs.unescaped_copy(obj, dollars))
        for path, text in refs.dollar_texts(obj) if dollars else ():
            m = refs.REF.search(text)
            if m:
                where = ".".join(str(p) for p in path)
                w.fail(
                    w.component.path,
                    f"reference {m.group(0)} would reach the manifest unresolved ({obj['kind']} {obj['metadata'].get('name')}: {where})",
                    "references are bound through the connection Secret: use them in env values, cmd or args only",
                )
        if obj.get("kind") in ("Secret", "ConfigMap"):
            size = len(json.dumps(obj, separators=(",", ":")))
            if size > MAX_OBJECT_BYTES:
                w.fail(
                    w.component.path,
                    f"{obj['kind']} {obj['metadata'].get('name')} is {size:,} bytes; the API server's limit is 1 MiB",
                    "move large data to a volume or an object store",
                )
    return copies


def render_workload(
    resolved: Resolved, bindings: Bindings, c: ResolvedComponent
) -> tuple[list[dict], list[Diagnostic]]:
    from composer.render.promotion import as_rendered, relabelled
    from composer.render.traits import apply_trait

    shown, namespace = as_rendered(resolved, c)  # a promoted copy renders as its component
    w = Workload(resolved, bindings, shown, namespace)
    impl = c.implementation.implementation
    if impl.manifests is not None:
        template_workload(w)
    else:
        BUILDERS[impl.builtin or ""](w)  # a definition has manifests or a builtin (model/definitions.py)
    late = [t for t in c.traits if t.definition.spec.builtin in PATCH_LAST]
    for t in c.traits:
        if t not in late:
            apply_trait(w, t)
    if w.pod_spec is not None and w.pod_meta is not None:
        harden(w.pod_spec, w.pod_meta, w.security)
    if w.pod_spec is not None:
        _operational_defaults(w, impl.builtin)
    _app_metadata(w)
    _finish(w)
    for t in late:  # JSON patches see the finished object, as KubeVela patches its rendered workload
        apply_trait(w, t)
    objects = guarded_copies(w)
    objects.sort(key=_rank)
    return relabelled(objects, c.name, shown.name), w.errors
