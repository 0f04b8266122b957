"""KubeVela's resource-rule policies, read as Composer's closest behaviour.

`garbage-collect`, `apply-once`, `take-over` and `resource-update`
(vela-templates/definitions/internal/policy/*.cue) each take `rules`: a selector (component
names or types, trait types, resource kinds or names) and what to do with the objects it
selects. A rule on components and kinds is mapped to what the app asks of every environment
(composer/model/placement.py joins it): garbage-collect `never` → `protect`, apply-once paths →
`ignoreDrift`, take-over → `takeOver` (a scoped --force-conflicts), resource-update
`recreateFields` → `recreate` (recreate when a change is refused as immutable). Every rule is
also a warning at its line saying what Composer does with it, since the effects differ in
detail; a rule Composer has no counterpart for is a warning that says so. Every selector and
strategy field is checked, so a typo is an error, not a silent no-op. `read-only` → `readOnly`
(apply reads the objects, never writes or deletes them) and `shared-resource` → `shared` (written
only when absent or this app's, never deleted); a rule Composer cannot scope to components and
kinds is an error there, since writing what the user asked to keep is no safe fallback. Used by
oam_app.AppLevel; docs/oam.md has the table.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from composer.diagnostics import FieldPath
from composer.model.environment import DRIFT_PATTERN

SELECTOR_KEYS = ("componentNames", "componentTypes", "oamTypes", "traitTypes", "resourceTypes", "resourceNames")
DRIFT_PATH = re.compile(DRIFT_PATTERN)  # an environment's policies.ignoreDrift entry
KIND = re.compile(r"^([A-Za-z][A-Za-z0-9]*|\*)$")
GC_STRATEGIES = ("onAppUpdate", "onAppDelete", "never")
GC_PROPAGATIONS = ("orphan", "cascading")
UPDATE_OPS = ("patch", "replace")


class Reporter(Protocol):
    """The converter's error and warning sinks (oam._Converter)."""

    def error(self, path: FieldPath, summary: str, detail: str = "", *, key: bool = False) -> None: ...

    def warn(self, path: FieldPath, summary: str, detail: str = "") -> None: ...


class RuleReader:
    """Checks and maps the `rules` (and the other properties) of one resource-rule policy."""

    def __init__(self, reporter: Reporter, components: list[str]):
        self.c = reporter
        self.components = components
        # What the rules ask of every environment, joined to its policies (composer/model/placement.py).
        self.protect: list[tuple[str, FieldPath]] = []  # (component, the rule asking for it)
        self.ignore_drift: list[tuple[str, FieldPath]] = []  # ([COMPONENT/]KIND.path, the rule)
        self.taken_over: list[tuple[str, FieldPath]] = []  # ([COMPONENT/]KIND, COMPONENT/* or *, the rule)
        self.recreated: list[tuple[str, FieldPath]] = []  # (the same, the rule)
        self.read_only_objects: list[tuple[str, FieldPath]] = []  # (the same, the rule)
        self.shared_objects: list[tuple[str, FieldPath]] = []  # (the same, the rule)

    def rules(
        self, props: dict[str, Any], ppath: FieldPath, keeps: bool = False
    ) -> list[tuple[dict[str, Any], FieldPath]]:
        """The well-formed rules, each with its path; malformed ones are errors."""
        raw = props.get("rules", [])
        if not isinstance(raw, list):
            self.c.error(ppath + ("rules",), "expected a list of rules", "each rule: {selector: {...}, strategy: ...}")
            return []
        out = []
        for i, rule in enumerate(raw):
            rpath = ppath + ("rules", i)
            if not isinstance(rule, dict):
                self.c.error(rpath, "expected a rule as a mapping", "{selector: {componentNames: [...]}, ...}")
                continue
            gone_ok = keeps and rule.get("strategy") == "never"  # protects what an earlier apply made
            if self.selector(rule.get("selector"), rpath + ("selector",), gone_ok):
                out.append((rule, rpath))
        return out

    def selector(self, sel: Any, spath: FieldPath, gone_ok: bool = False) -> bool:
        if sel is None:
            return True  # an empty selector selects every object, as in KubeVela
        if not isinstance(sel, dict):
            self.c.error(spath, "expected a selector as a mapping", f"keys: {', '.join(SELECTOR_KEYS)}")
            return False
        good = True
        for key, values in sel.items():
            if key not in SELECTOR_KEYS:
                self.c.error(
                    spath + (key,), f"unknown selector {key!r}", f"expected {', '.join(SELECTOR_KEYS)}", key=True
                )
                good = False
            elif not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                self.c.error(spath + (key,), f"expected {key} as a list of names")
                good = False
            elif key == "componentNames":
                for j, name in enumerate(values):
                    if name not in self.components and gone_ok:
                        self.c.warn(
                            spath + (key, j),
                            f"the app has no component {name!r}",
                            "its objects from an earlier apply stay protected: appc apply refuses to delete them",
                        )
                    elif name not in self.components:
                        self.c.error(
                            spath + (key, j),
                            f"the rule selects no component {name!r}",
                            f"components: {', '.join(self.components)}",
                        )
                        good = False
        return good

    def unknown(self, rule: dict[str, Any], rpath: FieldPath, allowed: tuple[str, ...], policy: str) -> None:
        for key in sorted(set(rule) - set(allowed)):
            self.c.error(
                rpath + (key,), f"unknown {policy} rule field {key!r}", f"expected {', '.join(allowed)}", key=True
            )

    # -- garbage-collect ----------------------------------------------------------------

    def garbage_collect(self, props: dict[str, Any], ppath: FieldPath) -> None:
        """Composer's prune is KubeVela's default collection: what leaves the app is deleted after a good apply."""
        for key in sorted(
            set(props) - {"keepLegacyResource", "continueOnFailure", "applicationRevisionLimit", "rules"}
        ):
            self.c.error(
                ppath + (key,),
                f"unknown garbage-collect field {key!r}",
                "expected rules, keepLegacyResource, continueOnFailure, applicationRevisionLimit",
                key=True,
            )
        self.gc_flags(props, ppath)
        for rule, rpath in self.rules(props, ppath, keeps=True):
            self.unknown(rule, rpath, ("selector", "strategy", "propagation"), "garbage-collect")
            strategy = rule.get("strategy", "onAppUpdate")
            if strategy not in GC_STRATEGIES:
                self.c.error(
                    rpath + ("strategy",), f"unknown strategy {strategy!r}", f"expected {', '.join(GC_STRATEGIES)}"
                )
            elif strategy != "onAppUpdate":
                self.keep(rule, rpath, strategy)
            propagation = rule.get("propagation", "cascading")
            if propagation not in GC_PROPAGATIONS:
                self.c.error(
                    rpath + ("propagation",),
                    f"unknown propagation {propagation!r}",
                    f"expected {', '.join(GC_PROPAGATIONS)}",
                )
            elif propagation == "orphan":
                self.c.warn(
                    rpath,
                    "orphan propagation is not used: Composer deletes with background propagation",
                    "the objects a deleted object owns (a Deployment's ReplicaSets and pods) are deleted with it",
                )
            if strategy == "onAppUpdate" and propagation == "cascading":
                self.default_rule(rpath, "garbage-collect", "what leaves the app is deleted after a good apply")

    def gc_flags(self, props: dict[str, Any], ppath: FieldPath) -> None:
        if props.get("keepLegacyResource", False) not in (True, False):
            self.c.error(ppath + ("keepLegacyResource",), "expected keepLegacyResource as true or false")
        elif props.get("keepLegacyResource") is True:
            self.c.warn(
                ppath + ("keepLegacyResource",),
                "keepLegacyResource is not used: Composer deletes what leaves the app after a good apply",
                "objects of an earlier revision are kept only for components listed under policies.protect in "
                "environments/<env>.yaml (appc apply then refuses to delete them)",
            )
        if props.get("continueOnFailure", False) is not False:
            self.c.error(
                ppath + ("continueOnFailure",),
                "garbage-collect continueOnFailure is not supported",
                "Composer stops at the first failed deletion and reports it; appc apply retries it",
            )
        if "applicationRevisionLimit" in props:
            self.c.warn(
                ppath + ("applicationRevisionLimit",),
                "applicationRevisionLimit is not used",
                "Composer records each apply as a revision in its state and keeps them",
            )

    def keep(self, rule: dict[str, Any], rpath: FieldPath, strategy: str) -> None:
        """`never` on whole components is Composer's protect: apply and destroy refuse to delete them
        (rather than leave them behind). Other selections, and onAppDelete, have no counterpart."""
        sel = _selector(rule)
        names = sel.get("componentNames")
        if strategy == "never" and names and set(sel) == {"componentNames"}:
            self.protect += [(n, rpath) for n in names]
            self.c.warn(
                rpath,
                f"garbage-collect strategy 'never' is Composer's protect for {', '.join(names)}",
                "appc apply and appc destroy refuse to delete their objects, instead of leaving them behind as "
                "KubeVela does: to delete them, remove the rule first",
            )
            return
        self.c.warn(
            rpath,
            f"garbage-collect strategy {strategy!r} is not Composer's: it deletes what leaves the app after a good apply",
            "Composer keeps whole components only: strategy never with only componentNames protects them "
            "(appc apply and appc destroy refuse to delete them)",
        )

    # -- apply-once ---------------------------------------------------------------------

    def apply_once(self, props: dict[str, Any], ppath: FieldPath) -> None:
        """Composer applies only on appc apply and skips units whose model did not change: drift stays
        until the model changes (or --refresh). Per-field rules are the environment's ignoreDrift."""
        for key in sorted(set(props) - {"enable", "rules"}):
            self.c.error(ppath + (key,), f"unknown apply-once field {key!r}", "expected enable and rules", key=True)
        if props.get("enable") is True:
            self.c.warn(
                ppath + ("enable",),
                "apply-once is Composer's way already",
                "appc apply changes a unit only when its model changed; appc apply --refresh re-applies and reverts drift",
            )
        for rule, rpath in self.rules(props, ppath):
            self.unknown(rule, rpath, ("selector", "strategy"), "apply-once")
            strategy = rule.get("strategy")
            if not isinstance(strategy, dict) or not isinstance(strategy.get("path"), list):
                self.c.error(
                    rpath + ("strategy",), "expected strategy: {path: [field paths]}", "e.g. path: [spec.replicas]"
                )
                continue
            for key in sorted(set(strategy) - {"path", "affect"}):
                self.c.error(
                    rpath + ("strategy", key), f"unknown strategy field {key!r}", "expected path, affect", key=True
                )
            self.drift(rule, rpath)

    def drift(self, rule: dict[str, Any], rpath: FieldPath) -> None:
        """Rules on kinds (and components) are the environment's ignoreDrift: `[COMPONENT/]KIND.path`,
        drift Composer's drift check reports but does not revert."""
        sel = _selector(rule)
        paths = [p for p in rule["strategy"]["path"] if isinstance(p, str)]
        entries = [
            f"{c + '/' if c else ''}{k}.{p}"
            for c in sel.get("componentNames") or [""]
            for k in sel.get("resourceTypes") or []
            for p in paths
        ]
        if entries and set(sel) <= {"componentNames", "resourceTypes"} and all(DRIFT_PATH.match(e) for e in entries):
            self.ignore_drift += [(e, rpath) for e in entries]
            self.c.warn(
                rpath,
                f"apply-once rule is Composer's ignoreDrift: {', '.join(entries)}",
                "appc apply takes back drifted fields except these, and appc drift reports them as ignored"
                + ("" if "affect" not in rule["strategy"] else "; affect is not used"),
            )
            return
        self.c.warn(
            rpath,
            "this apply-once rule has no counterpart in Composer",
            "Composer's ignoreDrift names a kind and a dotted path ([COMPONENT/]KIND.path): select resourceTypes "
            "(and componentNames) with plain field paths such as spec.replicas",
        )

    # -- take-over, resource-update, read-only, shared-resource ---------------------------

    def take_over(self, props: dict[str, Any], ppath: FieldPath) -> None:
        self.only_rules(props, ppath, "take-over")
        for rule, rpath in self.rules(props, ppath):
            self.unknown(rule, rpath, ("selector",), "take-over")
            self.ask(
                rule,
                rpath,
                self.taken_over,
                (
                    "take-over is a scoped --force-conflicts in Composer: {}",
                    "appc apply takes the fields it writes "
                    "on these objects from any other field manager; the objects are Composer's from then on, and "
                    "deleted with the component",
                ),
                (
                    "this take-over rule has no counterpart in Composer",
                    "Composer takes over by component and kind "
                    "(componentNames, resourceTypes); appc apply --force-conflicts takes over every object of the apply",
                ),
            )

    def resource_update(self, props: dict[str, Any], ppath: FieldPath) -> None:
        self.only_rules(props, ppath, "resource-update")
        for rule, rpath in self.rules(props, ppath):
            self.unknown(rule, rpath, ("selector", "strategy"), "resource-update")
            strategy = rule.get("strategy", {})
            if not isinstance(strategy, dict):
                self.c.error(rpath + ("strategy",), "expected strategy: {op, recreateFields}")
                continue
            for key in sorted(set(strategy) - {"op", "recreateFields"}):
                self.c.error(
                    rpath + ("strategy", key),
                    f"unknown strategy field {key!r}",
                    "expected op, recreateFields",
                    key=True,
                )
            op = strategy.get("op", "patch")
            if op not in UPDATE_OPS:
                self.c.error(rpath + ("strategy", "op"), f"unknown op {op!r}", f"expected {', '.join(UPDATE_OPS)}")
            elif op == "replace":
                self.c.warn(
                    rpath,
                    "op replace is Composer's server-side apply",
                    "fields Composer set before and no longer renders are removed; fields other managers set are kept",
                )
            if "recreateFields" in strategy:
                self.recreate(rule, rpath)
            if op == "patch" and "recreateFields" not in strategy:
                self.default_rule(rpath, "resource-update", "objects are updated in place with server-side apply")

    def recreate(self, rule: dict[str, Any], rpath: FieldPath) -> None:
        """recreateFields: Composer recreates the selected objects when the API server refuses a change
        as immutable (as it does for Jobs), rather than on a list of fields."""
        self.ask(
            rule,
            rpath,
            self.recreated,
            (
                "recreateFields is Composer's recreate-on-immutable for {}",
                "when the API server refuses a change to "
                "one of these objects as immutable, appc apply deletes it and creates it again; a change it accepts is "
                "applied in place, whichever fields changed",
            ),
            (
                "recreateFields of this rule has no counterpart in Composer",
                "Composer recreates by component and kind (componentNames, resourceTypes)",
            ),
        )

    def read_only(self, props: dict[str, Any], ppath: FieldPath) -> None:
        self.keep_hands_off(
            props,
            ppath,
            "read-only",
            self.read_only_objects,
            (
                "read-only is Composer's readOnly for {}",
                "appc apply reads these objects and refuses, before it writes anything, when one does not exist; "
                "it never writes or deletes them",
            ),
        )

    def shared_resource(self, props: dict[str, Any], ppath: FieldPath) -> None:
        self.keep_hands_off(
            props,
            ppath,
            "shared-resource",
            self.shared_objects,
            (
                "shared-resource is Composer's shared for {}",
                "appc apply creates these objects when they are absent and updates them while this app made them; "
                "one another app made is only read. Prune and destroy never delete them (KubeVela deletes one when "
                "the last app sharing it goes): delete it by hand once no app uses it",
            ),
        )

    def keep_hands_off(
        self,
        props: dict[str, Any],
        ppath: FieldPath,
        policy: str,
        into: list[tuple[str, FieldPath]],
        mapped: tuple[str, str],
    ) -> None:
        """read-only and shared-resource: objects Composer must not write freely. A rule it cannot
        scope is an error, since writing them anyway is what the user asked to avoid."""
        self.only_rules(props, ppath, policy)
        rules = self.rules(props, ppath)
        if not props.get("rules"):
            self.c.warn(ppath, f"this {policy} policy has no rules", "it selects no object: add rules, or remove it")
        for rule, rpath in rules:
            self.unknown(rule, rpath, ("selector",), policy)
            entries = self.scoped(rule)
            if entries is None:
                self.c.error(
                    rpath + ("selector",),
                    f"this {policy} rule selects objects Composer cannot tell apart",
                    "select componentNames and/or resourceTypes (kinds such as ConfigMap)",
                )
                continue
            into += [(e, rpath) for e in entries]
            self.c.warn(rpath, mapped[0].format(", ".join(entries)), mapped[1])

    def ask(
        self,
        rule: dict[str, Any],
        rpath: FieldPath,
        into: list[tuple[str, FieldPath]],
        mapped: tuple[str, str],
        unmapped: tuple[str, str],
    ) -> None:
        """A rule on components and kinds asks for `into` (a warning names the entries); any other
        selector has no counterpart (a warning says so)."""
        entries = self.scoped(rule)
        if entries is None:
            self.c.warn(rpath, *unmapped)
            return
        into += [(e, rpath) for e in entries]
        self.c.warn(rpath, mapped[0].format(", ".join(entries)), mapped[1])

    def scoped(self, rule: dict[str, Any]) -> list[str] | None:
        """The objects a rule selects as `[COMPONENT/]KIND` / `COMPONENT/*` / `*`, or None when its
        selector is more than component names and kinds."""
        sel = _selector(rule)
        kinds = sel.get("resourceTypes") or ["*"]
        if not set(sel) <= {"componentNames", "resourceTypes"} or not all(KIND.match(k) for k in kinds):
            return None
        return [f"{c + '/' if c else ''}{k}" for c in sel.get("componentNames") or [""] for k in kinds]

    def default_rule(self, rpath: FieldPath, policy: str, what: str) -> None:
        """A rule that asks for what Composer does anyway: said, so that its selector is not a silent no-op."""
        self.c.warn(rpath, f"this {policy} rule is Composer's own behaviour", f"{what}, for every object of the app")

    def only_rules(self, props: dict[str, Any], ppath: FieldPath, policy: str) -> None:
        for key in sorted(set(props) - {"rules"}):
            self.c.error(ppath + (key,), f"unknown {policy} field {key!r}", "expected rules", key=True)


def _selector(rule: dict[str, Any]) -> dict[str, Any]:
    sel = rule.get("selector")
    return sel if isinstance(sel, dict) else {}
