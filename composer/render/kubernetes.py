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
from dataclasses import dataclass, field
from typing import Any

from composer.diagnostics import Diagnostic, FieldPath, Severity
from composer.graph import Graph
from composer.model import refs
from composer.render.bindings import EnvBuilder, secret_name
from composer.render.security import harden
from composer.render.workload_defaults import default_probes, default_requests
from composer.resolve import Resolved, ResolvedComponent
from composer.template_yaml import render_yaml_documents
from composer.templates import TemplateFailure

CLUSTER_SCOPED = {
    "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "IngressClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService", "RuntimeClass", "CSIDriver", "ClusterIssuer",
    "ClusterSecretStore",
}  # fmt: skip

KIND_ORDER = ["Namespace", "ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Deployment",
              "StatefulSet", "DaemonSet", "Job", "CronJob", "Service", "Ingress", "HorizontalPodAutoscaler"]  # fmt: skip

PATCH_LAST = ("json-patch", "json-merge-patch")
MAX_OBJECT_BYTES = 1024 * 1024  # the API server's limit for a Secret or ConfigMap
POD_OWNERS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")


class RenderFailure(Exception):
    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("render failed")
        self.diagnostics = diagnostics


def label_value(text: str) -> str:
    if len(text) <= 63:
        return text
    return text[:54].rstrip("-.") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]


def standard_labels(app: str, env: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/instance": label_value(f"{app}-{component}"),
        "app.kubernetes.io/part-of": app,
        "app.kubernetes.io/managed-by": "appc",
        "composer.dev/app": app,
        "composer.dev/env": env,
        "composer.dev/component": component,
    }


def selector_labels(app: str, component: str) -> dict[str, str]:
    return {"composer.dev/app": app, "composer.dev/component": component}


def target_namespace(resolved: Resolved) -> str | None:
    k = resolved.environment.spec.kubernetes
    namespaces = {t.namespace for t in k.resolved_targets()} if not k.directory else {k.namespace}
    return namespaces.pop() if len(namespaces) == 1 else None


@dataclass
class Workload:
    """A workload being rendered: its objects and handles on the parts traits change."""

    resolved: Resolved
    component: ResolvedComponent
    namespace: str | None
    objects: list[dict] = field(default_factory=list)
    main: dict | None = None
    pod_meta: dict | None = None
    pod_spec: dict | None = None
    envs: dict[str, EnvBuilder] = field(default_factory=dict)  # container name -> env
    extra_labels: dict[str, str] = field(default_factory=dict)
    extra_annotations: dict[str, str] = field(default_factory=dict)
    security: dict[str, Any] = field(default_factory=dict)  # the `security` trait's relaxations
    errors: list[Diagnostic] = field(default_factory=list)

    @property
    def app(self) -> str:
        return self.resolved.name

    @property
    def name(self) -> str:
        return self.component.name

    def fail(self, path: FieldPath, summary: str, detail: str = "", severity: Severity = Severity.ERROR) -> None:
        self.errors.append(self.resolved.source.diagnostic(path, summary, detail, address=self.name, severity=severity))

    def metadata(self, name: str | None = None) -> dict:
        meta: dict[str, Any] = {"name": name or self.name}
        if self.namespace:
            meta["namespace"] = self.namespace
        meta["labels"] = standard_labels(self.app, self.resolved.environment.name, self.name)
        return meta

    def add(self, obj: dict) -> dict:
        self.objects.append(obj)
        return obj

    def container(self, name: str | None = None) -> dict | None:
        if self.pod_spec is None:
            return None
        for c in self.pod_spec.get("containers", []):
            if name is None or c.get("name") == name:
                return c
        return None

    def env(self, container: str) -> EnvBuilder:
        return self.envs.setdefault(container, EnvBuilder(self.app))

    def expand(self, container: str, values: list) -> list[str]:
        """cmd/args entries with references turned into $(VAR), the vars bound on `container`."""
        return [self.env(container).expand(str(v)) if refs.has_refs(str(v)) else str(v) for v in values]


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
    volumes = w.pod_spec.setdefault("volumes", [])
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
        del w.pod_spec["volumes"]
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
    for target in c.connections:
        t = w.resolved.component(target)
        if t is not None:
            env.connect(target, list(t.outputs))
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
        w.add(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": w.metadata(),
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
    annotation included (composer/engine/run.py stamped_objects)."""
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
    for i, obj in enumerate(w.component.parameters["objects"]):
        obj = {**obj, "metadata": dict(obj["metadata"])}
        meta = obj["metadata"]
        if w.namespace and "namespace" not in meta and obj["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = w.namespace
        meta["labels"] = {**meta.get("labels", {}), **standard_labels(w.app, w.resolved.environment.name, w.name)}
        w.add(obj)


def template_workload(w: Workload) -> None:
    impl = w.component.implementation.implementation
    env = w.env(w.name)
    for target in w.component.connections:
        t = w.resolved.component(target)
        if t is not None:
            env.connect(target, list(t.outputs))
    context = {
        "app": w.app,
        "env": w.resolved.environment.name,
        "component": w.name,
        "namespace": w.namespace,
        "parameters": w.component.parameters,
        "labels": standard_labels(w.app, w.resolved.environment.name, w.name),
        "selector": selector_labels(w.app, w.name),
        "connection_env": env.entries(),
        "connection_secret": secret_name(w.app, w.name),
    }
    try:
        docs = render_yaml_documents(impl.manifests.template, context)
    except TemplateFailure as exc:
        w.fail(
            w.component.path + ("type",),
            f"the manifest template of {w.component.type!r} failed",
            f"{exc}{exc.where} (in {w.component.implementation.origin})",
        )
        return
    for d in docs:
        if not isinstance(d, dict) or not {"apiVersion", "kind", "metadata"} <= set(d):
            w.fail(
                w.component.path + ("type",),
                f"the manifest template of {w.component.type!r} produced something that is not a Kubernetes object",
                f"in {w.component.implementation.origin}",
            )
            return
        meta = d["metadata"] = dict(d["metadata"] or {})
        if w.namespace and "namespace" not in meta and d["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = w.namespace
        meta["labels"] = {**(meta.get("labels") or {}), **standard_labels(w.app, w.resolved.environment.name, w.name)}
        w.add(d)
    w.envs.clear()  # the template placed connection_env itself
    # Patch traits and pod-level built-in traits need a main object and its pod template:
    # the first object that owns pods, else the first object.
    owners = [o for o in w.objects if o["kind"] in POD_OWNERS]
    w.main = owners[0] if owners else (w.objects[0] if w.objects else None)
    pod = _dig(w.main, "spec", "template") or _dig(w.main, "spec", "jobTemplate", "spec", "template")
    if isinstance(pod, dict) and isinstance(pod.get("spec"), dict):
        if not isinstance(pod.get("metadata"), dict):
            pod["metadata"] = {}
        if not isinstance(pod["metadata"].get("labels"), dict):
            pod["metadata"]["labels"] = {}
        w.pod_meta, w.pod_spec = pod["metadata"], pod["spec"]


def _dig(value: Any, *keys: str) -> Any:
    for k in keys:
        value = value.get(k) if isinstance(value, dict) else None
    return value


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


def guard(w: Workload) -> None:
    """Refuse manifests that would carry an unresolved reference or exceed the API's size limit."""
    import json

    for i, obj in enumerate(w.objects):
        for path, text in refs.walk_strings(obj):
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


def render_workload(resolved: Resolved, graph: Graph, c: ResolvedComponent) -> tuple[list[dict], list[Diagnostic]]:
    from composer.render.traits import apply_trait

    w = Workload(resolved, c, target_namespace(resolved))
    impl = c.implementation.implementation
    if impl.manifests is not None:
        template_workload(w)
    else:
        BUILDERS[impl.builtin](w)
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
    guard(w)
    objects = [refs.unescape_all(o) for o in w.objects]  # `$${` was a literal `${`
    objects.sort(key=_rank)
    return objects, w.errors
