"""Rendering promoted copies (composer/model/promotion.py): a copy renders as the component it
promotes (the same object names, selectors and pod labels) into its own namespace, and its
objects' `composer.dev/component` label names the copy's unit, so that the cluster sink finds,
inventories and prunes them per unit. Before rendering, what cannot be promoted soundly is
refused (a cloud resource, a kustomize directory that moves every object into one namespace);
after it, an object two units would both write is refused (docs/oam.md "Promotion").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from composer.diagnostics import Diagnostic, Severity
from composer.model.app import Promotion
from composer.render.workload import CLUSTER_SCOPED, target_namespace
from composer.resolve import Resolved, ResolvedComponent

COMPONENT_LABEL = "composer.dev/component"


def promotion_of(resolved: Resolved, unit: str) -> Promotion | None:
    own = resolved.app_component(unit)
    return own.promotion if own is not None else None


def as_rendered(resolved: Resolved, c: ResolvedComponent) -> tuple[ResolvedComponent, str | None]:
    """The component a unit renders as, and the namespace its objects land in."""
    promo = promotion_of(resolved, c.name)
    if promo is None:
        return c, target_namespace(resolved)
    return dataclasses.replace(c, name=promo.of), promo.namespace


def relabelled(objects: list[dict], unit: str, rendered_as: str) -> list[dict]:
    """A copy's objects carry its unit's name in their own component label (not in selectors or
    pod labels, which stay the promoted component's)."""
    if unit == rendered_as:
        return objects
    for obj in objects:
        labels = obj["metadata"].get("labels")
        if isinstance(labels, dict) and COMPONENT_LABEL in labels:
            labels[COMPONENT_LABEL] = unit
    return objects


def refusals(resolved: Resolved, warnings: list[Diagnostic]) -> list[Diagnostic]:
    """What stops a promotion before anything renders; `warnings` gets where each copy lands."""
    out: list[Diagnostic] = []
    k = resolved.environment.spec.kubernetes
    for c in resolved.components:
        promo = promotion_of(resolved, c.name)
        if promo is None:
            continue
        where = c.path + ("promotion", "namespace")
        if c.is_terraform:
            out.append(
                resolved.source.diagnostic(
                    c.path + ("promotion",),
                    f"cloud resource {promo.of!r} would be made a second time by its promotion {c.name!r}",
                    "a promotion deploys workloads again; a cloud resource is made once per environment: deploy it "
                    "in one step only, or give each stage its own environment (appc apply -e <env>)",
                    address=c.name,
                )
            )
        elif k.directory and k.delivery == "kustomize" and k.namespace:
            out.append(
                resolved.source.diagnostic(
                    where,
                    f"environment {resolved.environment.name!r} writes a kustomization with namespace {k.namespace!r}, "
                    f"which would move the copy for namespace {promo.namespace!r} there",
                    "deliver this environment with kubernetes.format: plain, or to a cluster (kubernetes.context)",
                    address=c.name,
                )
            )
        elif k.namespace and k.namespace != promo.namespace:
            warnings.append(
                resolved.source.diagnostic(
                    where,
                    f"{promo.of!r} is deployed again to namespace {promo.namespace!r} as the step says; environment "
                    f"{resolved.environment.name!r} names the namespace of its first deploy ({k.namespace!r})",
                    "the environment names one namespace; each later deploy step lands in its own",
                    address=c.name,
                    severity=Severity.WARNING,
                )
            )
    return out


def collisions(resolved: Resolved, manifests: Mapping[str, list[dict]]) -> list[Diagnostic]:
    """An object two units would both write (e.g. a copy landing in the namespace of the first
    deploy, or a cluster-scoped object of the promoted component): refused at the copy."""
    if not any(promotion_of(resolved, unit) for unit in manifests):
        return []
    home = target_namespace(resolved)
    owner: dict[tuple[str, str | None, str], str] = {}
    said: set[tuple[str, str]] = set()
    out: list[Diagnostic] = []
    for unit, objects in manifests.items():
        for obj in objects:
            meta = obj["metadata"]
            ns = None if obj["kind"] in CLUSTER_SCOPED else meta.get("namespace") or home
            key = (obj["kind"], ns, meta.get("name", ""))
            first = owner.setdefault(key, unit)
            if first == unit or (first, unit) in said:
                continue  # one diagnostic a pair of units: the first object they share
            said.add((first, unit))
            blamed = unit if promotion_of(resolved, unit) else first
            out.append(
                resolved.source.diagnostic(
                    resolved.require(blamed).path + ("promotion", "namespace"),
                    f"components {first!r} and {unit!r} both write {obj['kind']} "
                    f"{ns + '/' if ns else ''}{meta.get('name', '')}",
                    "each deploy of a component needs a namespace of its own (and no cluster-scoped objects): "
                    "deploy the steps to different namespaces",
                    address=blamed,
                )
            )
    return out
