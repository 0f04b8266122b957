"""Traits: operational add-ons that patch a rendered workload or add objects to it.

Built-in traits are functions here; platform traits render a `patch` template (merged
into the workload's main object, containers and other named lists merged by name)
and/or an `objects` template (extra documents).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from composer.render.kubernetes import Workload, add_volumes, probe, selector_labels
from composer.render.rbac import privileges
from composer.resolve import ResolvedTrait, deep_merge
from composer.template_yaml import render_yaml_documents
from composer.templates import TemplateFailure


def scaler(w: Workload, t: ResolvedTrait) -> None:
    if w.main and w.main["kind"] in ("Deployment", "StatefulSet"):
        w.main["spec"]["replicas"] = t.parameters["replicas"]


def ingress(w: Workload, t: ResolvedTrait) -> None:
    p = t.parameters
    services = [o for o in w.objects if o["kind"] == "Service"]
    if not services:
        w.fail(t.path, "ingress needs the webservice to expose a port", "set properties.port on the component")
        return
    default_port = services[0]["spec"]["ports"][0]["port"]
    paths = p.get("paths") or {p.get("path", "/"): p.get("port", default_port)}
    exposed = {x["port"] for x in services[0]["spec"]["ports"]}
    for path, port in paths.items():
        if port not in exposed:
            w.fail(
                t.path + ("properties",),
                f"ingress routes {path} to port {port}, which the service does not expose",
                f"exposed ports: {', '.join(map(str, sorted(exposed)))}",
            )
            return
    spec: dict[str, Any] = {}
    if p.get("className"):
        spec["ingressClassName"] = p["className"]
    spec["rules"] = [
        {
            "host": p["host"],
            "http": {
                "paths": [
                    {
                        "path": path,
                        "pathType": p.get("pathType", "Prefix"),
                        "backend": {"service": {"name": w.name, "port": {"number": port}}},
                    }
                    for path, port in sorted(paths.items())
                ]
            },
        }
    ]
    if p.get("tlsSecretName"):
        spec["tls"] = [{"hosts": [p["host"]], "secretName": p["tlsSecretName"]}]
    meta = w.metadata(p.get("name"))
    if p.get("labels"):
        meta["labels"] = {**p["labels"], **meta["labels"]}
    if p.get("annotations"):
        meta["annotations"] = dict(p["annotations"])
    w.add({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec})


def resources(w: Workload, t: ResolvedTrait) -> None:
    p = t.parameters
    c = w.container(w.name)
    res = c.setdefault("resources", {})
    for section in ("requests", "limits"):
        q = dict(res.get(section, {}))
        for k in ("cpu", "memory"):
            if k in p:
                q[k] = str(p[k])
            if k in p.get(section, {}):
                q[k] = str(p[section][k])
        if q:
            res[section] = q


def probes(w: Workload, t: ResolvedTrait) -> None:
    c = w.container(w.name)
    for key, field in (("liveness", "livenessProbe"), ("readiness", "readinessProbe"), ("startup", "startupProbe")):
        if key in t.parameters:
            c[field] = probe(t.parameters[key])


def env(w: Workload, t: ResolvedTrait) -> None:
    name = t.parameters.get("containerName") or w.name
    if w.container(name) is None:
        w.fail(t.path + ("properties", "containerName"), f"no container named {name!r}")
        return
    builder = w.env(name)
    for k, v in t.parameters["env"].items():
        builder.set(k, v)


def labels(w: Workload, t: ResolvedTrait) -> None:
    w.extra_labels.update(t.parameters)


def annotations(w: Workload, t: ResolvedTrait) -> None:
    w.extra_annotations.update(t.parameters)


def sidecar(w: Workload, t: ResolvedTrait) -> None:
    p = t.parameters
    if w.container(p["name"]) is not None:
        w.fail(t.path + ("properties", "name"), f"a container named {p['name']!r} already exists")
        return
    c: dict[str, Any] = {"name": p["name"], "image": p["image"]}
    if p.get("cmd"):
        c["command"] = w.expand(p["name"], p["cmd"])
    if p.get("args"):
        c["args"] = w.expand(p["name"], p["args"])
    if p.get("volumes"):
        c["volumeMounts"] = [{"name": v["name"], "mountPath": v["path"]} for v in p["volumes"]]
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if p.get(key):
            c[key] = probe(p[key])
    w.pod_spec["containers"].append(c)
    builder = w.env(p["name"])
    for k, v in (p.get("env") or {}).items():
        builder.set(k, v)


def volume(w: Workload, t: ResolvedTrait) -> None:
    add_volumes(w, t.parameters, w.container(w.name))


def _resource_metric(name: str, average: Any, util: Any) -> dict:
    target = (
        {"type": "AverageValue", "averageValue": average}
        if average is not None
        else {"type": "Utilization", "averageUtilization": util}
    )
    return {"type": "Resource", "resource": {"name": name, "target": target}}


def hpa(w: Workload, t: ResolvedTrait) -> None:
    p = t.parameters
    if p["max"] < p["min"]:
        w.fail(t.path + ("properties", "max"), f"max ({p['max']}) is below min ({p['min']})")
        return
    metrics = [_resource_metric("cpu", p.get("cpuAverageValue"), p["cpuUtil"])]
    if p.get("memUtil") or "memAverageValue" in p:
        metrics.append(_resource_metric("memory", p.get("memAverageValue"), p.get("memUtil")))
    for m in p.get("podMetrics") or []:
        metrics.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": m["name"]},
                    "target": {"type": "AverageValue", "averageValue": m["averageValue"]},
                },
            }
        )
    w.add(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": w.metadata(),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": w.name},
                "minReplicas": p["min"],
                "maxReplicas": p["max"],
                "metrics": metrics,
            },
        }
    )
    if w.main is not None:
        w.main["spec"].pop("replicas", None)  # the autoscaler owns the replica count


def service_account(w: Workload, t: ResolvedTrait) -> None:
    p = t.parameters
    w.pod_spec["serviceAccountName"] = p["name"]
    if p.get("create"):
        meta = w.metadata(p["name"])
        if p.get("annotations"):
            meta["annotations"] = dict(p["annotations"])
        w.add({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
    w.pod_spec["automountServiceAccountToken"] = p.get("automountToken", True)
    privileges(w, p["name"], p.get("privileges") or [], t.path)


def security(w: Workload, t: ResolvedTrait) -> None:
    """Relaxes the secure pod defaults (composer/render/security.py), each setting explicitly."""
    p = t.parameters
    if p.get("runAsUser") == 0 and p.get("runAsNonRoot", True):
        w.fail(
            t.path + ("properties", "runAsUser"),
            "runAsUser 0 is root, and the pod runs as non-root",
            "set runAsNonRoot: false as well to run as root",
        )
        return
    if p.get("privileged") and p.get("allowPrivilegeEscalation") is False:
        w.fail(
            t.path + ("properties", "allowPrivilegeEscalation"),
            "a privileged container always allows privilege escalation",
            "drop allowPrivilegeEscalation or privileged",
        )
        return
    w.security.update(p)


def pod(w: Workload, t: ResolvedTrait) -> None:
    """Pod-level settings in Kubernetes' shapes; lists add up and maps merge across several pod traits."""
    p = t.parameters
    spec = w.pod_spec
    if spec is None:
        w.fail(t.path, "the pod trait needs a workload with a pod template")
        return
    if "affinity" in p:
        spec["affinity"] = deep_merge(spec.get("affinity", {}), p["affinity"])
    for key in ("tolerations", "topologySpreadConstraints", "hostAliases", "initContainers"):
        if key in p:
            spec[key] = [*spec.get(key, []), *copy.deepcopy(p[key])]
    if "securityContext" in p:
        spec["securityContext"] = deep_merge(spec.get("securityContext", {}), p["securityContext"])
    main = w.container(w.name)
    for key, field in (("containerSecurityContext", "securityContext"), ("lifecycle", "lifecycle")):
        if key in p and main is not None:
            main[field] = deep_merge(main.get(field, {}), p[key])
    if "strategy" in p and w.main is not None:
        field = "updateStrategy" if w.main["kind"] in ("DaemonSet", "StatefulSet") else "strategy"
        w.main["spec"][field] = copy.deepcopy(p["strategy"])


def json_patch(w: Workload, t: ResolvedTrait) -> None:
    from composer.render.jsonpatch import PatchError, apply_patch

    try:
        patched = apply_patch(w.main, t.parameters["operations"])
    except PatchError as exc:
        w.fail(t.path + ("properties", "operations", exc.index), f"json-patch operation {exc.index} failed: {exc}")
        return
    if _keeps_identity(w, t, patched):
        w.main.update(patched)


def json_merge_patch(w: Workload, t: ResolvedTrait) -> None:
    from composer.render.jsonpatch import merge_patch as rfc7386

    merged = rfc7386(w.main, t.parameters)
    if _keeps_identity(w, t, merged):
        w.main.clear()
        w.main.update(merged)


def _keeps_identity(w: Workload, t: ResolvedTrait, patched: Any) -> bool:
    """A patched object still has its apiVersion, kind, metadata.name and label / annotation maps."""
    meta = patched.get("metadata") if isinstance(patched, dict) else None
    ok = (
        isinstance(meta, dict)
        and isinstance(meta.get("name"), str)
        and all(isinstance(patched.get(k), str) for k in ("apiVersion", "kind"))
        and all(isinstance(meta.get(k, {}), dict) for k in ("labels", "annotations"))
    )
    if not ok:
        w.fail(
            t.path + ("properties",),
            f"{t.name} leaves the {w.main.get('kind')} without its apiVersion, kind, metadata.name or label maps",
            "patch fields inside the object; its name and kind come from the component",
        )
    return ok


BUILTIN: dict[str, Callable[[Workload, ResolvedTrait], None]] = {
    "scaler": scaler,
    "ingress": ingress,
    "resources": resources,
    "probes": probes,
    "env": env,
    "labels": labels,
    "annotations": annotations,
    "sidecar": sidecar,
    "volume": volume,
    "hpa": hpa,
    "service-account": service_account,
    "security": security,
    "pod": pod,
    "json-patch": json_patch,
    "json-merge-patch": json_merge_patch,
}


def merge_patch(base: Any, patch: Any) -> Any:
    """A trait's patch: deep merge, containers and other named lists merged by name."""
    return deep_merge(base, patch, by_name=True)


def template_trait(w: Workload, t: ResolvedTrait) -> None:
    spec = t.definition.spec
    context = {
        "app": w.app,
        "env": w.resolved.environment.name,
        "component": w.name,
        "namespace": w.namespace,
        "parameters": t.parameters,
        "workload": {"name": w.name, "type": w.component.type, "kind": w.main["kind"] if w.main else None},
        "selector": selector_labels(w.app, w.name),
    }
    try:
        if spec.patch:
            if w.main is None:
                w.fail(
                    t.path + ("type",), f"trait {t.name!r} patches the main object, and {w.component.type!r} has none"
                )
                return
            docs = render_yaml_documents(spec.patch, context)
            if len(docs) != 1 or not isinstance(docs[0], dict):
                w.fail(t.path + ("type",), f"the patch template of trait {t.name!r} must give one mapping")
                return
            patched = merge_patch(w.main, docs[0])
            w.main.clear()
            w.main.update(patched)
            spec_tpl = w.main.get("spec", {}).get("template") or w.main.get("spec", {}).get("jobTemplate", {}).get(
                "spec", {}
            ).get("template")
            if spec_tpl:
                w.pod_meta, w.pod_spec = spec_tpl.get("metadata"), spec_tpl.get("spec")
        if spec.objects:
            for d in render_yaml_documents(spec.objects, context):
                if not isinstance(d, dict) or not {"apiVersion", "kind", "metadata"} <= set(d):
                    w.fail(
                        t.path + ("type",),
                        f"the objects template of trait {t.name!r} produced something that is not a Kubernetes object",
                    )
                    return
                d["metadata"] = {
                    **w.metadata(d["metadata"].get("name")),
                    **{k: v for k, v in d["metadata"].items() if k != "name"},
                }
                w.add(d)
    except TemplateFailure as exc:
        w.fail(t.path + ("type",), f"trait {t.name!r} failed to render", f"{exc}{exc.where}")


def apply_trait(w: Workload, t: ResolvedTrait) -> None:
    builtin = t.definition.spec.builtin
    if builtin:
        fn = BUILTIN.get(builtin)
        if fn is None:
            w.fail(t.path + ("type",), f"trait {t.name!r} names an unknown built-in {builtin!r}")
            return
        if w.pod_spec is None and builtin not in ("labels", "annotations"):
            w.fail(t.path + ("type",), f"trait {t.name!r} needs a pod template, and {w.component.type!r} has none")
            return
        fn(w, t)
    else:
        template_trait(w, t)
