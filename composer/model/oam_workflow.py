"""KubeVela workflow steps (`spec.workflow`): which components each step applies, what runs before
what, and the approval gates (`suspend`, `deploy` with `auto: false`, `depends-on-app`). Steps that need a running
controller are refused with what to do instead (docs/oam.md). Used by oam_app.AppLevel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from composer.diagnostics import FieldPath

if TYPE_CHECKING:
    from composer.model.oam_app import AppLevel

STEP_REFUSALS = {
    "notification": "needs a running controller to send messages",
    "webhook": "needs a running controller to call it",
    "export2config": "needs a running controller to write configs",
    "export2secret": "it writes a Secret of values read while the workflow runs (step inputs), and Composer writes no "
    "Secret values from the app: create the Secret outside, or bind values with connections",
    "export-data": "needs a running controller",
    "export-service": "needs a running controller",
    "read-object": "it reads an object while the workflow runs to pass its data to later steps: give the values in "
    "the component's properties, or read the ConfigMap or Secret from the pod (env valueFrom, a volume)",
    "request": "HTTP requests at deploy time need a running controller",
    "print-message-in-status": "Composer has no application status object to print into",
    "build-push-image": "build and push the image in CI before appc apply",
    "check-metrics": "needs a running controller and a metrics backend",
    "collect-service-endpoints": "it reads the endpoints Services got while the workflow runs: in the cluster, reach a "
    "Service by its name (COMPONENT.NAMESPACE.svc); from outside, give the gateway trait a domain",
    "vela-cli": "runs the vela CLI: there is no counterpart",
    "apply-terraform-config": "Composer runs Terraform itself: give the cloud resource as a component of a Composer "
    "type (docs/oam.md), not through KubeVela's Terraform controller",
    "apply-terraform-provider": "Composer configures Terraform providers from the environment (spec.cloud)",
    "deploy-cloud-resource": "Composer runs Terraform itself: give the cloud resource as a component of a Composer type",
    "share-cloud-resource": "a cloud resource's outputs reach other components as connections in Composer",
    "generate-jdbc-connection": "reading a Secret while the workflow runs needs a running controller: bind the database "
    "with a connection (its url and credentials arrive in a Secret)",
    "clean-jobs": "Composer replaces a Job when its spec changes and deletes Jobs a component no longer has",
    "create-config": "KubeVela configs live in vela-system and need a running controller: create the Secret outside",
    "delete-config": "KubeVela configs live in vela-system and need a running controller",
    "list-config": "KubeVela configs live in vela-system and need a running controller",
    "read-config": "reading a KubeVela config while the workflow runs needs a running controller",
    "restart-workflow": "Composer has no workflow that runs again by itself: run appc apply again",
}
APPLY_DEPLOYMENT_FIELDS = {"image", "replicas", "cluster", "cmd"}
STEP_FIELDS = {"name", "type", "properties", "dependsOn", "subSteps", "meta", "inputs", "outputs"}


class StepWalker:
    """Workflow steps -> which components each step applies, what runs before what, and gates."""

    def __init__(self, app: AppLevel, policies: dict[str, tuple[dict, FieldPath]], components: list[str]):
        self.app = app
        self.c = app.c
        self.policies = policies
        self.components = components
        self.used_policies: set[str] = set()
        self.applied: dict[str, FieldPath] = {}  # component -> the step that applies it
        self.steps: dict[str, tuple[set[str], set[str]]] = {}  # step -> (components, predecessor steps)
        self.gates: list[tuple[str, FieldPath, str, bool]] = []  # (step, path, message, holds its own components)
        self.outputs: dict[str, tuple[str, FieldPath]] = {}  # output name -> (step, its path)
        self.inputs: list[tuple[str, str, FieldPath]] = []  # (step, output it reads, its path)
        self.clusters: dict[str, tuple[str, FieldPath]] = {}  # component -> the cluster apply-component names

    def walk(self, steps: list, path: FieldPath, mode: str, sub_mode: str, outer: tuple[str, ...]) -> list[str]:
        """Each step's predecessors: every earlier step (StepByStep) or its dependsOn (DAG)."""
        names: list[str] = []
        for i, step in enumerate(steps):
            spath = path + (i,)
            if (
                not isinstance(step, dict)
                or not isinstance(step.get("name"), str)
                or not isinstance(step.get("type"), str)
            ):
                self.c.error(spath, "a workflow step needs a name and a type")
                continue
            deps = step.get("dependsOn") if isinstance(step.get("dependsOn"), list) else []
            preds = (
                set(outer) | (set(names) if mode == "StepByStep" else set()) | {d for d in deps if isinstance(d, str)}
            )
            for d in deps:
                if not isinstance(d, str) or (d not in self.steps and d not in names):
                    self.c.error(
                        spath + ("dependsOn",),
                        f"step {d!r} is not an earlier step",
                        "a step can depend on steps written before it",
                    )
            for key in sorted(set(step) - STEP_FIELDS):
                self.c.error(
                    spath + (key,),
                    f"workflow step field {key!r} is not supported",
                    "Composer runs every step once, in order, with no conditions, timeouts or data passing",
                    key=True,
                )
            self.data_passing(step, spath)
            if "meta" in step:
                self.c.warn(spath + ("meta",), "step meta (alias) is not used")
            name = step["name"]
            if step["type"] == "step-group":
                sub = self.walk(
                    step.get("subSteps") or [], spath + ("subSteps",), sub_mode, sub_mode, tuple(sorted(preds))
                )
                self.steps[name] = (set().union(*(self.steps[s][0] for s in sub)) if sub else set(), preds)
            else:
                self.steps[name] = (self.step(step, spath, name), preds)
            names.append(name)
        return names

    def step(self, step: dict, spath: FieldPath, name: str) -> set[str]:
        stype = step["type"]
        props = step.get("properties") or {}
        ppath = spath + ("properties",)
        if not isinstance(props, dict):
            self.c.error(ppath, f"expected the properties of step {name!r} as a mapping")
            return set()
        if stype == "deploy":
            return self.deploy(props, ppath, spath, name)
        if stype == "apply-component":
            return self.apply_component(props, ppath, spath)
        if stype == "apply-remaining":  # KubeVela's older step: every component no earlier step applied
            exceptions = props.get("exceptions") or {}
            for key in sorted(set(props) - {"exceptions"}):
                self.c.error(
                    ppath + (key,), f"apply-remaining {key!r} is not supported", "expected exceptions", key=True
                )
            for name, how in exceptions.items() if isinstance(exceptions, dict) else []:
                if how not in ({}, None):
                    self.c.error(
                        ppath + ("exceptions", name),
                        "skipping a component's workload or traits is not supported",
                        "list the component without settings to leave it out of this step",
                    )
            return self.claim({c for c in self.components if c not in self.applied and c not in exceptions}, spath)
        if stype == "suspend":
            for key in sorted(set(props) - {"message", "duration"}):
                self.c.error(ppath + (key,), f"suspend {key!r} is not supported", "expected message", key=True)
            if "duration" in props:
                self.c.warn(
                    ppath + ("duration",),
                    "a timed suspend waits for approval instead",
                    f"appc apply stops at this step until --approve {name}",
                )
            self.gates.append((name, spath, str(props.get("message", "")), False))
            return set()
        if stype == "apply-object":
            return self.apply_object(props, ppath, spath, name)
        if stype == "apply-deployment":
            return self.apply_deployment(props, ppath, spath, name)
        if stype == "depends-on-app":
            return self.depends_on_app(props, ppath, spath, name)
        if stype in STEP_REFUSALS:
            self.c.error(spath + ("type",), f"workflow step {name!r} ({stype}) is not supported", STEP_REFUSALS[stype])
            return set()
        self.c.error(
            spath + ("type",),
            f"unknown workflow step type {stype!r} in step {name!r}",
            "Composer maps deploy, apply-component, apply-object, apply-deployment, step-group, suspend and "
            "depends-on-app (see docs/oam.md)",
        )
        return set()

    def apply_component(self, props: dict, ppath: FieldPath, spath: FieldPath) -> set[str]:
        """One component, optionally to a cluster and namespace (the app's placement)."""
        comp = props.get("component")
        if comp not in self.components:
            self.c.error(
                ppath + ("component",),
                f"apply-component names no component {comp!r}",
                f"components: {', '.join(self.components)}",
            )
            return set()
        for key in sorted(set(props) - {"component", "cluster", "namespace"}):
            self.c.error(
                ppath + (key,),
                f"unknown apply-component field {key!r}",
                "expected component, cluster, namespace",
                key=True,
            )
        self.app.place_namespace(props.get("namespace"), ppath + ("namespace",))
        if props.get("cluster") not in (None, "", "local"):
            self.clusters[comp] = (props["cluster"], ppath + ("cluster",))
        return self.claim({comp}, spath)

    def apply_object(self, props: dict, ppath: FieldPath, spath: FieldPath, name: str) -> set[str]:
        """An inline object, applied in the step's place: a k8s-objects component named after the step."""
        for key in sorted(set(props) - {"value", "cluster"}):
            self.c.error(ppath + (key,), f"unknown apply-object field {key!r}", "expected value, cluster", key=True)
        if not isinstance(props.get("value"), dict):
            self.c.error(
                ppath + ("value",),
                "expected the object to apply as a mapping",
                "value: {apiVersion, kind, metadata, ...}",
            )
            return set()
        if name in self.components or any(n == name for n, _, _ in self.app.plan.objects):
            self.c.error(
                spath + ("name",),
                f"apply-object step {name!r} has the name of a component",
                "its object is applied as a component named after the step: rename the step",
            )
            return set()
        if props.get("cluster") not in (None, "", "local"):
            self.clusters[name] = (props["cluster"], ppath + ("cluster",))
        self.app.plan.objects.append((name, props["value"], spath))
        return self.claim({name}, spath)

    def deploy(self, props: dict, ppath: FieldPath, spath: FieldPath, name: str) -> set[str]:
        for key in sorted(set(props) - {"policies", "auto", "parallelism", "ignoreTerraformComponent"}):
            self.c.error(
                ppath + (key,), f"deploy {key!r} is not supported", "expected policies, auto, parallelism", key=True
            )
        if props.get("parallelism", 5) != 5:
            self.c.warn(
                ppath + ("parallelism",), "deploy parallelism is not used", "set it with appc apply --parallelism N"
            )
        if props.get("ignoreTerraformComponent", True) is not True:
            self.c.warn(
                ppath + ("ignoreTerraformComponent",),
                "ignoreTerraformComponent is not used",
                "Composer applies every component, cloud resources first",
            )
        if props.get("auto") is False:
            self.gates.append((name, spath, f"Waiting approval to the deploy step {name!r}", True))
        if any(comp in self.applied for comp in self.components):  # deployed again: a promotion
            from composer.model.oam_promotion import promote

            return promote(self, self.step_policies(props, ppath), spath, name)
        for pname, hit in self.step_policies(props, ppath):
            if pname not in self.used_policies:
                self.used_policies.add(pname)
                self.app.use_policy(*hit)
        return self.claim(set(self.components), spath)

    def step_policies(self, props: dict, ppath: FieldPath) -> list[tuple[str, tuple[dict, FieldPath]]]:
        """The topology and override policies a deploy step names; any other name is an error."""
        out = []
        for j, pname in enumerate(props.get("policies") if isinstance(props.get("policies"), list) else []):
            hit = self.policies.get(pname) if isinstance(pname, str) else None
            if hit is None:
                self.c.error(
                    ppath + ("policies", j),
                    f"deploy uses no policy named {pname!r}",
                    f"policies: {', '.join(self.policies) or 'none'}",
                )
            elif hit[0].get("type") not in ("topology", "override"):
                self.c.error(
                    ppath + ("policies", j),
                    f"deploy cannot use a {hit[0].get('type')} policy",
                    "a deploy step takes topology and override policies",
                )
            else:
                out.append((pname, hit))
        return out

    def claim(self, comps: set[str], spath: FieldPath) -> set[str]:
        for comp in sorted(comps):
            if comp in self.applied:
                self.c.error(
                    spath,
                    f"component {comp!r} is deployed again by this step",
                    "deploying the same components again (e.g. to another cluster after an approval) is Composer's environments: write environments/<env>.yaml for each and run appc apply -e <env> for each",
                    key=False,
                )
                return set()
            self.applied[comp] = spath
        return comps

    def apply_deployment(self, props: dict, ppath: FieldPath, spath: FieldPath, name: str) -> set[str]:
        """The Deployment workflowstep/apply-deployment.cue writes (named after the step), applied in
        the step's place as apply-object applies its object."""
        for key in sorted(set(props) - APPLY_DEPLOYMENT_FIELDS):
            self.c.error(
                ppath + (key,),
                f"unknown apply-deployment field {key!r}",
                "expected image, replicas, cmd, cluster",
                key=True,
            )
        image, replicas, cmd = props.get("image"), props.get("replicas", 1), props.get("cmd")
        good = isinstance(image, str) and bool(image)
        if not good:
            self.c.error(ppath + ("image",), "apply-deployment needs an image", "image: registry/name:tag")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            self.c.error(ppath + ("replicas",), "expected replicas as a whole number", "replicas: 1")
            good = False
        if cmd is not None and (not isinstance(cmd, list) or not all(isinstance(a, str) for a in cmd)):
            self.c.error(ppath + ("cmd",), "expected cmd as a list of strings", 'cmd: ["sleep", "3600"]')
            good = False
        if not good:
            return set()
        labels = {"workflow.oam.dev/step-name": f"{self.c.app_name}-{name}"}
        container = {"name": name, "image": image, **({"command": cmd} if cmd is not None else {})}
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "selector": {"matchLabels": labels},
                "replicas": replicas,
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        }
        return self.apply_object(
            {"value": deployment, **({"cluster": props["cluster"]} if "cluster" in props else {})}, ppath, spath, name
        )

    def depends_on_app(self, props: dict, ppath: FieldPath, spath: FieldPath, name: str) -> set[str]:
        """An approval gate: Composer cannot watch another app, so apply stops here until the
        user has applied it and approves (workflowstep/depends-on-app.cue waits for it to run)."""
        for key in sorted(set(props) - {"name", "namespace"}):
            self.c.error(
                ppath + (key,), f"depends-on-app {key!r} is not supported", "expected name, namespace", key=True
            )
        other, namespace = props.get("name"), props.get("namespace")
        for key, value in (("name", other), ("namespace", namespace)):
            if not isinstance(value, str) or not value:
                self.c.error(ppath + (key,), f"depends-on-app needs the {key} of the Application it waits for")
                return set()
        self.c.warn(
            spath + ("type",),
            f"depends-on-app is an approval gate in Composer: appc apply stops at step {name!r}",
            f"Composer does not watch Application {other!r} (nor create it from a ConfigMap): apply it, check it "
            f"runs, then appc apply --approve {name}",
        )
        self.gates.append((name, spath, f"Application {other!r} in namespace {namespace!r} must be running", False))
        return set()

    def finish(self) -> None:
        def closure(step: str, seen: set[str]) -> set[str]:
            for p in self.steps.get(step, (set(), set()))[1]:
                if p not in seen:
                    seen.add(p)
                    closure(p, seen)
            return seen

        for step, (comps, _) in self.steps.items():
            earlier = closure(step, set())
            before = set().union(*(self.steps[p][0] for p in earlier if p in self.steps)) - comps
            for comp in comps:
                self.app.plan.after.setdefault(comp, set()).update(before)
        for gate, gpath, message, own in self.gates:
            held = {c for s, (comps, _) in self.steps.items() if gate in closure(s, set()) for c in comps}
            if own:
                held |= self.steps.get(gate, (set(), set()))[0]
            self.app.plan.gates.append(
                {"name": gate, "components": sorted(held), **({"message": message} if message else {})}
            )
            self.app.plan.gate_paths.append(gpath)
        self.place_clusters()
        self.check_data_passing()
        missing = [c for c in self.components if c not in self.applied]
        if missing and self.steps:
            self.c.warn(
                ("spec", "workflow"),
                f"no workflow step deploys {', '.join(missing)}",
                "Composer applies every component; KubeVela would leave these out",
            )

    def place_clusters(self) -> None:
        """apply-component `cluster`: the app's cluster target when every component goes to the same one."""
        if not self.clusters:
            return
        named = {cluster for cluster, _ in self.clusters.values()}
        cluster, path = next(iter(self.clusters.values()))
        elsewhere = [c for c in self.components if c not in self.clusters]
        if len(named) > 1 or elsewhere or any(t != cluster for t in self.app.plan.targets):
            self.c.error(
                path,
                "apply-component puts components in different clusters",
                "Composer deploys all of an app's components to the same clusters: name them in a topology policy, "
                "or split the app into one app per cluster",
            )
            return
        if cluster not in self.app.plan.targets:
            self.app.plan.targets.append(cluster)
            self.app.plan.target_paths.append(path)

    def data_passing(self, step: dict, spath: FieldPath) -> None:
        """Collect a step's `outputs` and `inputs`; check_data_passing judges them once all are known."""
        for key, shape in (("outputs", "{name, valueFrom}"), ("inputs", "{from, parameterKey}")):
            entries = step.get(key, [])
            if not isinstance(entries, list):
                self.c.error(spath + (key,), f"expected {key} as a list of {shape}")
                continue
            for k, entry in enumerate(entries):
                ref = entry.get("name" if key == "outputs" else "from") if isinstance(entry, dict) else None
                if not isinstance(ref, str):
                    self.c.error(spath + (key, k), f"expected {shape}")
                elif key == "outputs":
                    self.outputs[ref] = (step["name"], spath + (key, k))
                else:
                    self.inputs.append((step["name"], ref, spath + (key, k)))

    def check_data_passing(self) -> None:
        """Values read from a running step need a controller; an output nobody reads is only said."""
        read = set()
        for step, ref, path in self.inputs:
            read.add(ref)
            producer = self.outputs.get(ref)
            self.c.error(
                path,
                f"step {step!r} reads {ref!r}"
                + (f" from step {producer[0]!r}" if producer else "")
                + " while the workflow runs, which needs a running controller",
                "Composer passes no values between steps: pass values between components with connections "
                "and ${component.key} references"
                if producer
                else f"no step has an output named {ref!r}",
            )
        for ref, (step, path) in self.outputs.items():
            if ref not in read:
                self.c.warn(path, f"output {ref!r} of step {step!r} is not used", "no step reads it")
