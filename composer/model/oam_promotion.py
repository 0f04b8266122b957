"""KubeVela promotion: a workflow whose later `deploy` steps deliver the same components again,
each to its own `topology` namespace with its own `override` policies
(vela-templates/definitions/internal/workflowstep/deploy.cue, policy/topology.cue,
policy/override.cue). Each component a later step deploys becomes a promoted copy
(composer/model/promotion.py): a component `<name>-<namespace>` with
`promotion: {of, namespace}`, its own unit, applied after the steps before it and held by
their gates. The first deploy stays the component itself, placed as any app is (the
environment's namespace wins). Used by oam_workflow.StepWalker.deploy and oam.convert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from composer.diagnostics import FieldPath
from composer.model import refs
from composer.model.base import _LABEL
from composer.model.oam_sourcemap import _move
from composer.model.source import SourceMap

if TYPE_CHECKING:
    from composer.model.oam_app import AppLevel, Plan
    from composer.model.oam_workflow import StepWalker

LABEL_SELECTORS = ("clusterLabelSelector", "clusterSelector")
ENVIRONMENTS_HINT = (
    "write environments/<env>.yaml for each stage (kubernetes.context and namespace) and run appc apply -e <env> "
    "for each, or give this step a topology with a namespace of its own"
)


@dataclass
class Copy:
    """A component a later deploy step delivers again."""

    of: str
    name: str
    namespace: str
    overrides: list[tuple[dict[str, Any], FieldPath]]  # the step's own override patches
    step: str
    step_path: FieldPath
    namespace_path: FieldPath


def promote(
    walker: StepWalker, policies: list[tuple[str, tuple[dict[str, Any], FieldPath]]], spath: FieldPath, step: str
) -> set[str]:
    """A deploy step that delivers every component again: its copies, or an error at the step."""
    app, c = walker.app, walker.c
    fresh = [comp for comp in walker.components if comp not in walker.applied]
    if fresh:
        c.error(
            spath,
            f"step {step!r} deploys {', '.join(fresh)} for the first time and the others again",
            "deploy every component in the first deploy step; a later step deploys them all again elsewhere",
        )
        return set()
    for pname, _ in policies:
        walker.used_policies.add(pname)
    scoped = _scoped_plan(app, [hit for _, hit in policies])
    by_label = [
        path + ("properties", key)
        for (policy, path) in (hit for _, hit in policies)
        for key in LABEL_SELECTORS
        if isinstance(policy.get("properties"), dict) and key in policy["properties"]
    ]
    if by_label and scoped.namespace is None:
        c.error(
            by_label[0],
            f"step {step!r} deploys the components again to clusters chosen by label",
            "Composer has no cluster registry to select them, so the copies would land where the first deploy did; "
            "a promotion to other clusters is another environment: " + ENVIRONMENTS_HINT,
        )
        return set()
    ns = _namespace(walker, scoped, spath, step)
    if ns is None:
        return set()
    copies = [Copy(comp, f"{comp}-{ns[0]}", ns[0], scoped.overrides, step, spath, ns[1]) for comp in walker.components]
    for copy in copies:
        if len(copy.name) > 63 or not _LABEL.match(copy.name) or copy.name in walker.applied:
            c.error(
                ns[1],
                f"the copy of {copy.of!r} for namespace {copy.namespace!r} would be named {copy.name!r}, "
                "which is taken or too long",
                "rename the component or the namespace",
            )
            return set()
    app.plan.copies.extend(copies)
    return walker.claim({copy.name for copy in copies}, spath)


def _scoped_plan(app: AppLevel, hits: list[tuple[dict[str, Any], FieldPath]]) -> Plan:
    """The step's topology and overrides, read (and checked) as a plan of their own."""
    from composer.model.oam_app import Plan

    outer, app.plan = app.plan, Plan()
    try:
        for hit in hits:
            app.use_policy(*hit)
        return app.plan
    finally:
        app.plan = outer


def _namespace(walker: StepWalker, scoped: Plan, spath: FieldPath, step: str) -> tuple[str, FieldPath] | None:
    """Where the step's copies land: its topology's namespace, in the clusters of the first deploy."""
    app, c = walker.app, walker.c
    if sorted(scoped.targets) != sorted(app.plan.targets):
        named = ", ".join(scoped.targets) or "local"
        c.error(
            scoped.target_paths[0] if scoped.target_paths else spath,
            f"step {step!r} deploys the components again to cluster(s) {named}, not those of the first deploy",
            "Composer deploys an app to its environment's clusters; a promotion to another cluster is another "
            "environment: " + ENVIRONMENTS_HINT,
        )
        return None
    first = app.plan.namespace[0] if app.plan.namespace else None
    taken = {copy.namespace for copy in app.plan.copies}
    if scoped.namespace is None or scoped.namespace[0] == first or scoped.namespace[0] in taken:
        c.error(
            scoped.namespace[1] if scoped.namespace else spath,
            f"step {step!r} deploys the components again to the namespace they are already in",
            "a component deployed again needs another place: " + ENVIRONMENTS_HINT,
        )
        return None
    return scoped.namespace


def promoted_components(app: AppLevel, originals: list[Any], start: int) -> list[dict[str, Any]]:
    """The copies as components at index `start` on: the original as written, the step's
    overrides merged in, dependsOn pointing at the same step's copies."""
    c = app.c
    out: list[dict[str, Any]] = []
    if app.plan.copies:
        source = SourceMap(c.src.file, dict(c.src.values), dict(c.src.keys))
        names = [comp.get("name") if isinstance(comp, dict) else None for comp in originals]
        index = {name: j for j, name in enumerate(names) if isinstance(name, str)}
        # a component without a name that is a string has no copy: validation reports it at its line
        copies = [copy for copy in app.plan.copies if copy.of in index]
        for i, copy in enumerate(copies, start):
            out.append(_copy(app, copy, originals[index[copy.of]], ("spec", "components", index[copy.of]), i, source))
        c.src = source
    return out


def _copy(
    app: AppLevel, copy: Copy, original: dict[str, Any], opath: FieldPath, i: int, source: SourceMap
) -> dict[str, Any]:
    c = app.c
    cpath = ("spec", "components", i)
    _move(c.src, source, opath, cpath)
    _move(c.src, c.dst, opath, cpath)
    c.dst.origins[cpath] = opath
    c.dst.notes[cpath] = f"in the copy that step {copy.step!r} deploys to namespace {copy.namespace!r}"
    c.pin(cpath + ("promotion",), copy.step_path)
    c.pin(cpath + ("promotion", "namespace"), copy.namespace_path)
    _refuse_bindings(app, copy, original, opath)
    [comp] = app.apply_overrides([dict(original)], start=i, overrides=copy.overrides)
    same_step = {other.of for other in app.plan.copies if other.step == copy.step}
    deps = comp.get("dependsOn")
    if isinstance(deps, list):
        comp["dependsOn"] = [f"{d}-{copy.namespace}" if d in same_step else d for d in deps]
    return {**comp, "name": copy.name, "promotion": {"of": copy.of, "namespace": copy.namespace}}


def _refuse_bindings(app: AppLevel, copy: Copy, original: dict[str, Any], opath: FieldPath) -> None:
    """A copy leaves the environment's namespace, where connection Secrets are written."""
    why = (
        f"its connection Secrets are written to the environment's namespace, not to {copy.namespace!r} "
        f"where step {copy.step!r} deploys it again: deploy it once, or give each stage its own environment"
    )
    if original.get("connections"):
        app.c.error(opath + ("connections",), f"component {copy.of!r} binds connections and is deployed again", why)
    for key in ("properties", "traits"):
        found: Any = next((text for _, text in refs.walk_strings(original.get(key)) if refs.REF.search(text)), None)
        if found is not None:
            app.c.error(opath + (key,), f"component {copy.of!r} uses reference {found!r} and is deployed again", why)
