"""Workloads whose definition renders a manifest template (platform types).

The template sees the component's parameters, its labels and selector, and its connections
as `connection_env` entries (the bindings of composer/render/bindings.py); whatever it
produces must be Kubernetes objects. Traits then find the main object and its pod template.
"""

from __future__ import annotations

from typing import Any

from composer.render.bindings import secret_name
from composer.render.workload import POD_OWNERS, Workload, selector_labels, standard_labels
from composer.template_yaml import render_yaml_documents
from composer.templates import TemplateFailure


def template_workload(w: Workload) -> None:
    impl = w.component.implementation.implementation
    assert impl.manifests is not None  # render_workload calls this for manifest implementations only
    env = w.env(w.name)
    env.connect()
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
        d["metadata"] = dict(d["metadata"] or {})
        w.adopt(d)
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
