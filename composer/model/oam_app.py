"""KubeVela Application-level fields: metadata, `spec.policies` and `spec.workflow`.

What KubeVela's controller does with them, Composer does at apply time where it can:
- `metadata.namespace` is where workloads land unless the environment names a namespace
  (composer/model/placement.py warns when both do);
- `topology` policies name the clusters (kube contexts) of `deploy` steps, `override`
  policies patch components (vela-templates/definitions/internal/policy/*.cue);
- workflow steps order components (`apply-component`, `deploy`, `step-group`), and a
  `suspend` step (or `deploy` with `auto: false`) is an approval gate: `appc apply`
  stops there until `--approve STEP` (…/workflowstep/*.cue).
- policies with resource rules (garbage-collect, apply-once, take-over, resource-update) are
  read by oam_policy_rules.py into the app's protect / ignoreDrift / takeOver / recreate / readOnly / shared;
  `workflow.ref` is resolved before this by oam_refs.py.
Everything else is refused at its line with what to do instead. docs/oam.md has the table.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from composer.diagnostics import FieldPath
from composer.model.oam_policy_rules import RuleReader
from composer.model.oam_topology import TopologyReading
from composer.model.oam_workflow import StepWalker

# Application annotations that steer KubeVela's controller rather than describe objects.
PAUSE = "controller.core.oam.dev/pause"
SERVICE_ACCOUNT = "app.oam.dev/service-account-name"
PUBLISH_VERSION = "app.oam.dev/publishVersion"
BEHAVIOUR_MARK = "oam.dev/"

# Policies with resource rules that Composer reads as its closest behaviour (oam_policy_rules.py).
RULE_POLICIES = {
    "garbage-collect": "garbage_collect",
    "apply-once": "apply_once",
    "take-over": "take_over",
    "resource-update": "resource_update",
    "read-only": "read_only",
    "shared-resource": "shared_resource",
}
POLICY_REFUSALS = {
    "replication": "replicating components across clusters is environment targets in Composer: list the clusters in "
    "spec.kubernetes.targets of environments/<env>.yaml",
    "env-binding": "env-binding is KubeVela's older multi-environment policy: make one environments/<env>.yaml per environment",
    "health": "Composer waits for rollouts itself (appc apply, appc status)",
}


@dataclass
class Plan:
    """What the policies and workflow ask for, in Composer's terms."""

    overrides: list[tuple[dict, FieldPath]] = field(default_factory=list)  # (patch, its path)
    targets: list[str] = field(default_factory=list)  # cluster names -> kube contexts
    target_paths: list[FieldPath] = field(default_factory=list)
    namespace: tuple[str, FieldPath] | None = None  # from a topology policy
    after: dict[str, set[str]] = field(default_factory=dict)  # component -> components applied before it
    gates: list[dict] = field(default_factory=list)  # {name, components, message}
    gate_paths: list[FieldPath] = field(default_factory=list)
    objects: list[tuple[str, dict, FieldPath]] = field(default_factory=list)  # apply-object: (step, object, step path)
    copies: list[Any] = field(default_factory=list)  # promoted copies (oam_promotion.Copy)


def merge(base: Any, patch: Any) -> Any:
    """KubeVela's override merge: maps merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(patch)


def patch_traits(traits: list, patches: list) -> list:
    """Override traits by type: merge properties, `disable: true` removes, a new type is added."""
    out = [dict(t) if isinstance(t, dict) else t for t in traits]
    for p in patches if isinstance(patches, list) else []:
        if not isinstance(p, dict):
            continue
        same = [t for t in out if isinstance(t, dict) and t.get("type") == p.get("type")]
        if p.get("disable") is True:
            out = [t for t in out if t not in same]
        elif same:
            same[0]["properties"] = merge(same[0].get("properties", {}), p.get("properties", {}))
        else:
            out.append({k: v for k, v in p.items() if k != "disable"})
    return out


class AppLevel(TopologyReading):
    """Reads metadata, policies and workflow for one Application; reports through the converter."""

    def __init__(self, converter: Any):
        self.c = converter
        self.plan = Plan()
        self.rules = RuleReader(converter, [])

    # -- metadata ---------------------------------------------------------------------

    def metadata(self, meta: dict) -> dict:
        out = dict(meta)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            for key in sorted(annotations):
                if key == PUBLISH_VERSION:
                    self.c.warn(
                        ("metadata", "annotations", key),
                        f"{key} is not used",
                        "Composer applies when you run appc apply and records each apply as a revision in its state",
                    )
                elif BEHAVIOUR_MARK in key and key not in (PAUSE, SERVICE_ACCOUNT):
                    self.c.error(
                        ("metadata", "annotations", key),
                        f"KubeVela controller annotation {key!r} has no counterpart in Composer",
                        "Composer keeps its own revision history and applies on appc apply: remove the annotation",
                        key=True,
                    )
            pause = annotations.get(PAUSE)
            if pause is not None and pause not in ("true", "false"):
                self.c.error(("metadata", "annotations", PAUSE), f'{PAUSE} must be "true" or "false"')
        return out

    # -- policies -----------------------------------------------------------------------

    def policies(self, raw: Any, components: list[str]) -> dict[str, tuple[dict, FieldPath]]:
        out: dict[str, tuple[dict, FieldPath]] = {}
        self.rules = RuleReader(self.c, components)
        if raw is None:
            return out
        if not isinstance(raw, list):
            self.c.error(("spec", "policies"), "expected a list of policies")
            return out
        for i, p in enumerate(raw):
            ppath = ("spec", "policies", i)
            if not isinstance(p, dict) or not isinstance(p.get("type"), str) or not isinstance(p.get("name", ""), str):
                self.c.error(
                    ppath,
                    "a policy needs a type",
                    "e.g. {name: where, type: topology, properties: {clusters: [local]}}",
                )
                continue
            p = {"name": f"<policy {i}>", **p}  # KubeVela allows a policy without a name
            if not isinstance(p.get("properties") or {}, dict):
                self.c.error(ppath + ("properties",), f"expected the properties of policy {p['name']!r} as a mapping")
                continue
            for extra in sorted(set(p) - {"name", "type", "properties"}):
                self.c.error(
                    ppath + (extra,), f"unknown policy field {extra!r}", "expected name, type and properties", key=True
                )
            ptype = p["type"]
            if ptype in POLICY_REFUSALS:
                self.c.error(ppath + ("type",), f"policy type {ptype!r} is not supported", POLICY_REFUSALS[ptype])
            elif ptype in RULE_POLICIES:
                getattr(self.rules, RULE_POLICIES[ptype])(p.get("properties") or {}, ppath + ("properties",))
            elif ptype not in ("topology", "override"):
                self.c.error(
                    ppath + ("type",),
                    f"unknown policy type {ptype!r}",
                    "Composer maps topology, override, garbage-collect, apply-once, take-over and resource-update (see docs/oam.md)",
                )
            if p["name"] in out:
                self.c.error(ppath + ("name",), f"policy {p['name']!r} is given twice")
            out[p["name"]] = (p, ppath)
        return out

    # -- workflow -----------------------------------------------------------------------

    def workflow(self, raw: Any, policies: dict[str, tuple[dict, FieldPath]], components: list[str]) -> None:
        if raw is None:
            # Without a workflow KubeVela deploys to every topology with every override.
            for p, ppath in policies.values():
                self.use_policy(p, ppath)
            return
        wpath = ("spec", "workflow")
        if not isinstance(raw, dict):
            self.c.error(wpath, "expected a workflow with steps")
            return
        for key in sorted(set(raw) - {"steps", "mode"}):  # ref is read by oam_refs.inline
            self.c.error(
                wpath + (key,), f"workflow field {key!r} is not supported", "expected steps and mode", key=True
            )
        mode = raw.get("mode") if isinstance(raw.get("mode"), dict) else {}
        for key in sorted(mode):
            if key not in ("steps", "subSteps"):
                self.c.error(
                    wpath + ("mode", key), f"unknown workflow mode {key!r}", "expected steps and subSteps", key=True
                )
            elif mode[key] not in ("StepByStep", "DAG"):
                self.c.error(
                    wpath + ("mode", key), f"workflow mode {mode[key]!r} is not known", "expected StepByStep or DAG"
                )
        steps = raw.get("steps") or []
        if not isinstance(steps, list):
            self.c.error(wpath + ("steps",), "expected a list of steps")
            return
        walker = StepWalker(self, policies, components)
        walker.walk(steps, wpath + ("steps",), mode.get("steps", "StepByStep"), mode.get("subSteps", "DAG"), outer=())
        walker.finish()
        used = walker.used_policies
        for name, (p, ppath) in policies.items():
            if p.get("type") in ("topology", "override") and name not in used:
                self.c.warn(
                    ppath,
                    f"policy {name!r} is used by no deploy step",
                    "KubeVela ignores it too: remove it, or list it in a deploy step's policies",
                )

    def use_policy(self, p: dict, ppath: FieldPath) -> None:
        if p.get("type") == "topology":
            self.topology(p, ppath)
        elif p.get("type") == "override":
            self.override(p, ppath)

    def override(self, p: dict, ppath: FieldPath) -> None:
        props = p.get("properties") or {}
        for key in sorted(set(props) - {"components", "selector"}):
            self.c.error(
                ppath + ("properties", key),
                f"override {key!r} is not supported",
                "expected components and selector",
                key=True,
            )
        patches = props.get("components", [])
        if not isinstance(patches, list):
            self.c.error(ppath + ("properties", "components"), "expected a list of component patches")
            return
        selector = props.get("selector")
        if selector is not None and (not isinstance(selector, list) or not all(isinstance(x, str) for x in selector)):
            self.c.error(ppath + ("properties", "selector"), "expected a list of component names")
            return
        for j, patch in enumerate(patches):
            jpath = ppath + ("properties", "components", j)
            if not isinstance(patch, dict):
                self.c.error(jpath, "expected {name, type, properties, traits}")
                continue
            for key in sorted(set(patch) - {"name", "type", "properties", "traits"}):
                self.c.error(
                    jpath + (key,),
                    f"unknown override field {key!r}",
                    "expected name, type, properties or traits",
                    key=True,
                )
            for key, shape in (("properties", dict), ("traits", list)):
                if key in patch and not isinstance(patch[key], shape):
                    self.c.error(
                        jpath + (key,), f"expected override {key} as a {'mapping' if shape is dict else 'list'}"
                    )
                    patch = {k: v for k, v in patch.items() if k != key}
            self.plan.overrides.append(({**patch, "selector": selector, "policy": p.get("name")}, jpath))

    def trait_overrides(self, traits: list, patch: dict, cpath: FieldPath) -> None:
        """Say which of the component's trait settings an override replaces or removes."""
        for j, t in enumerate(traits):
            if not isinstance(t, dict):
                continue
            for p in patch["traits"] if isinstance(patch["traits"], list) else []:
                if not isinstance(p, dict) or p.get("type") != t.get("type"):
                    continue
                if p.get("disable") is True:
                    self.c.warn(
                        cpath + ("traits", j),
                        f"trait {t['type']!r} is removed by override policy {patch.get('policy')!r}",
                        "as in KubeVela (disable: true)",
                    )
                    continue
                own = t.get("properties") if isinstance(t.get("properties"), dict) else {}
                theirs = p.get("properties") if isinstance(p.get("properties"), dict) else {}
                for key in sorted(set(own) & set(theirs)):
                    if not isinstance(own[key], dict):
                        self.c.warn(
                            cpath + ("traits", j, "properties", key),
                            f"{key} is replaced by override policy {patch.get('policy')!r}",
                            "the override's value is used, as in KubeVela",
                        )

    # -- results ------------------------------------------------------------------------

    def apply_overrides(self, components: list, start: int = 0, overrides: list | None = None) -> list:
        out = list(components)
        for patch, ppath in self.plan.overrides if overrides is None else overrides:
            for i, comp in enumerate(out, start):
                if not isinstance(comp, dict):
                    continue
                if patch.get("selector") is not None and (
                    not isinstance(patch["selector"], list) or comp.get("name") not in patch["selector"]
                ):
                    continue
                if patch.get("name") not in (None, comp.get("name")) or patch.get("type") not in (
                    None,
                    comp.get("type"),
                ):
                    continue
                comp = dict(comp)
                cpath = ("spec", "components", i)
                if "properties" in patch:
                    own = comp.get("properties") if isinstance(comp.get("properties"), dict) else {}
                    for key in sorted(
                        set(own) & set(patch["properties"]) if isinstance(patch["properties"], dict) else ()
                    ):
                        if not isinstance(own[key], dict):
                            self.c.warn(
                                cpath + ("properties", key),
                                f"{key} is replaced by override policy {patch.get('policy')!r}",
                                "the override's value is used, as in KubeVela",
                            )
                    comp["properties"] = merge(comp.get("properties") or {}, patch["properties"])
                    self.c.carry(ppath + ("properties",), cpath + ("properties",), patch["properties"])
                if "traits" in patch and isinstance(comp.get("traits") or [], list):
                    self.trait_overrides(comp.get("traits") or [], patch, cpath)
                    comp["traits"] = patch_traits(comp.get("traits") or [], patch["traits"])
                out[i - start] = comp
        return out

    def step_components(self, start: int, originals: list) -> list[dict]:
        """apply-object steps as k8s-objects components, appended at index `start` on, then the
        copies of components that later deploy steps deliver again (oam_promotion.py)."""
        out = []
        for i, (name, obj, spath) in enumerate(self.plan.objects, start):
            cpath = ("spec", "components", i)
            for key, origin in (
                (cpath, spath),
                (cpath + ("name",), spath + ("name",)),
                (cpath + ("type",), spath + ("type",)),
            ):
                self.c.pin(key, origin)
            self.c.pin(cpath + ("properties",), spath + ("properties",))
            self.c.relocate(spath + ("properties", "value"), cpath + ("properties", "objects", 0))
            out.append({"name": name, "type": "k8s-objects", "properties": {"objects": [obj]}})
        from composer.model.oam_promotion import promoted_components

        return out + promoted_components(self, originals, start + len(out))

    def finish(self, data: dict, components: list) -> dict:
        """Ordering, service account, targets, gates and namespace onto the converted app."""
        meta = dict(data["metadata"]) if isinstance(data.get("metadata"), dict) else data.get("metadata")
        if not isinstance(meta, dict):
            return data  # validation reports the shape
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
        account = annotations.get(SERVICE_ACCOUNT)
        for comp in components:
            if not isinstance(comp, dict):
                continue
            before = self.plan.after.get(comp["name"], set()) if isinstance(comp.get("name"), str) else set()
            if before and isinstance(comp.get("dependsOn", []), list):
                own = list(comp.get("dependsOn") or [])
                comp["dependsOn"] = own + sorted(before - set(own))
            if account and comp.get("type") in ("webservice", "worker", "task", "cron-task", "daemon", "statefulset"):
                traits = list(comp.get("traits") or []) if isinstance(comp.get("traits") or [], list) else None
                if traits is not None and not any(
                    isinstance(t, dict) and t.get("type") == "service-account" for t in traits
                ):
                    comp["traits"] = traits + [{"type": "service-account", "properties": {"name": account}}]
        spec = dict(data["spec"])
        spec["components"] = components
        if self.plan.targets:
            spec["targets"] = [{"context": t} for t in self.plan.targets]
            for j, p in enumerate(self.plan.target_paths):
                self.c.pin(("spec", "targets", j), p)
        asks = {
            "protect": self.rules.protect,
            "ignoreDrift": self.rules.ignore_drift,
            "takeOver": self.rules.taken_over,
            "recreate": self.rules.recreated,
            "readOnly": self.rules.read_only_objects,
            "shared": self.rules.shared_objects,
        }
        for key, asked in asks.items():
            if asked:
                spec[key] = list(dict.fromkeys(value for value, _ in asked))
                for j, value in enumerate(spec[key]):
                    self.c.pin((("spec", key, j)), next(p for v, p in asked if v == value))
        if self.plan.gates:
            spec["gates"] = self.plan.gates
            for j, p in enumerate(self.plan.gate_paths):
                self.c.pin(("spec", "gates", j), p)
        if self.plan.namespace is not None:
            own = meta.get("namespace")
            if own is not None and own != self.plan.namespace[0]:
                self.c.warn(
                    ("metadata", "namespace"),
                    f"metadata.namespace {own!r} is not used: the topology deploys to {self.plan.namespace[0]!r}",
                    "as in KubeVela, the topology's namespace wins",
                )
            meta["namespace"] = self.plan.namespace[0]
            self.c.pin(("metadata", "namespace"), self.plan.namespace[1])
        spec.pop("policies", None)
        spec.pop("workflow", None)
        return {**data, "metadata": meta, "spec": spec}
