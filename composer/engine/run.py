"""Plan, apply and destroy: the engine proper.

For each unit, in dependency order and in parallel where independent:

- **hash** = sha256(rendered files + module digest + upstream output digests). A unit
  whose hash matches its last successful apply is skipped: no Terraform process.
- **terraform units**: init (once per backend/module fingerprint), plan, apply when the
  plan has changes, read outputs, bind (fail closed on a missing declared output), write
  the connection Secret to the sink, record the unit in state *at once*, so an interrupted
  run leaves state a re-run converges from.
- **kubernetes units**: stamp the bindings hash on pod templates, hand the objects to the
  sink (it skips unchanged ones), record the inventory.
- **prune**: units in state that the model no longer has are removed in reverse
  dependency order (Terraform destroys through a root without the module call).
- **protect**: a protected unit is never destroyed or pruned; the request is refused
  before anything runs.

Secret values live only in memory between `terraform output` / `read_secret` and the
sink. State keeps non-secret outputs and secret digests.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Mapping

from composer.catalog import ModuleSource
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine import adopt, preview, replacements, rotate
from composer.engine.changes import ResourceChange, counts
from composer.engine.ports import PartialApply, SecretReader, TerraformPort, WorkloadSink, Workspace
from composer.engine.scheduler import OK, run_dag
from composer.graph import Graph
from composer.model.refs import OutputRef
from composer.render import Rendered
from composer.render.bindings import BINDINGS_HASH_ANNOTATION, bindings_hash, secret_name
from composer.render.kubernetes import content_named_job
from composer.render.terraform import SECRET_ID_OUTPUT, provider_plugin, ref_variable, state_key
from composer.resolve import Resolved
from composer.engine.publishing import SecretPublisher, needs_publishing, published_name, publishing_provider
from composer.state.model import Revision, StateDoc, UnitState, now, secret_digest
from composer.state.protocol import StateStore

Emit = Callable[..., None]
PLANFILE = "appc.tfplan"
PLAN_FORMAT = 1


@dataclass
class Outcome:
    name: str
    kind: str
    status: str  # applied | unchanged | failed | blocked | pruned | destroyed | planned | refused
    changes: dict[str, int] | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    duration_s: float = 0.0
    k8s_writes: int = 0
    k8s_changed: int = 0
    action: str = ""  # for plans: create | update | prune | none
    resources: tuple[ResourceChange, ...] = ()  # for plans: what changes, resource by resource

    def to_json(self) -> dict:
        return {
            "unit": self.name,
            "kind": self.kind,
            "status": self.status,
            "changes": self.changes,
            "duration_s": round(self.duration_s, 3),
            "k8s_writes": self.k8s_writes,
            **({"action": self.action} if self.action else {}),
            **({"resources": [r.to_json() for r in self.resources]} if self.resources else {}),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


@dataclass
class RunResult:
    command: str
    outcomes: dict[str, Outcome]
    state: StateDoc
    terraform_runs: int
    duration_s: float
    interrupted: bool = False

    @property
    def failed(self) -> list[str]:
        return [n for n, o in self.outcomes.items() if o.status in ("failed", "blocked", "refused")]

    @property
    def units_changed(self) -> int:
        return sum(
            o.status in ("applied", "pruned", "destroyed")
            or (o.status == "planned" and (bool(o.changes) or o.action == "prune"))
            for o in self.outcomes.values()
        )

    @property
    def units_skipped(self) -> int:
        return sum(o.status == "unchanged" for o in self.outcomes.values())

    @property
    def k8s_writes(self) -> int:
        return sum(o.k8s_writes for o in self.outcomes.values())

    def summary(self) -> dict:
        return {
            "units_changed": self.units_changed,
            "units_skipped": self.units_skipped,
            "terraform_runs": self.terraform_runs,
            "k8s_writes": self.k8s_writes,
            "units_failed": len(self.failed),
        }


def _mapping_hint(c, keys: list[str]) -> str:
    """Which module output each missing contract key reads (the definition's words, not the copy's)."""
    tf = c.implementation.implementation.terraform
    mapping = tf.outputs if tf is not None else {}
    read = [f"{k} <- module output {mapping.get(k, k)!r}" for k in keys if "(" not in k]
    return f"{'; '.join(read)}: null or absent; " if read else ""


class UnitFailure(Exception):
    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__(diagnostics[0].summary if diagnostics else "failed")
        self.diagnostics = diagnostics


@dataclass
class Engine:
    resolved: Resolved
    graph: Graph
    rendered: Rendered
    modules: Mapping[str, ModuleSource]
    store: StateStore
    terraform: TerraformPort
    workspace: Workspace
    sinks: tuple[WorkloadSink, ...]  # one per Kubernetes target (or a GitOps directory)
    read_secret: SecretReader
    emit: Emit = lambda *a, **k: None
    parallelism: int = 4
    refresh: bool = False
    should_stop: Callable[[], bool] = lambda: False
    # (unit, provider plugin) -> the backend + provider root that prunes a removed unit
    prune_root: Callable[[str, str | None], bytes] = lambda name, provider: b"{}"
    publisher: SecretPublisher | None = None  # connection documents a GitOps directory reads from the cloud
    imports: Mapping[str, tuple[adopt.ImportTarget, ...]] = field(default_factory=dict)  # appc import: this run only
    read_tags: adopt.OwnershipReader | None = None  # tags of a resource an apply found existing (orphans)
    adopt_owned: bool = False  # adopt an orphan whose ownership tags name this unit, and run it again
    app_file: str = "app.yaml"  # as the user named it, for the commands diagnostics suggest

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._state: StateDoc | None = None
        self._key: bytes | None = None
        self._outcomes: dict[str, Outcome] = {}
        self._secrets: dict[str, Mapping[str, str]] = {}  # unit -> secret values read this run (memory only)
        self._generated: dict[str, dict[str, str]] = {}  # unit -> generated input values this run (memory only)
        self._fresh: set[str] = set()  # units whose generated values were made this run (sealed before use)

    # -- helpers ---------------------------------------------------------------------------
    @property
    def app(self) -> str:
        return self.resolved.name

    @property
    def env_name(self) -> str:
        return self.resolved.environment.name

    def _unit_files(self, name: str) -> tuple[str, ...]:
        for u in self.rendered.units:
            if u.name == name:
                return u.files
        return ()

    def _kind(self, name: str) -> str:
        c = self.resolved.component(name)
        return "terraform" if c is not None and c.is_terraform else "kubernetes"

    def _upstream(self, name: str) -> dict[str, dict]:
        """What this unit sees of its dependencies: non-secret outputs and secret digests."""
        state = self._state
        out = {}
        for dep in self.graph.dependencies(name):
            u = state.units.get(dep) if state else None
            if u is not None:
                out[dep] = {"outputs": u.outputs, "secrets": u.secret_digests}
        return out

    def unit_hash(self, name: str) -> str:
        h = hashlib.sha256()
        for path in self._unit_files(name):
            h.update(path.encode() + b"\0" + hashlib.sha256(self.rendered.files[path]).digest())
        module = self.modules.get(name)
        if module is not None:
            h.update(b"module\0" + module.digest.encode())
        h.update(json.dumps(self._upstream(name), sort_keys=True, default=str).encode())
        return h.hexdigest()

    def _state_key(self) -> bytes:
        """The state's key (created with the state): secret digests are keyed with it."""
        with self._lock:
            if self._key is None:
                self._key = self.store.signing_key()
            return self._key

    def _save(self, update: Callable[[StateDoc], StateDoc]) -> None:
        with self._lock:
            self._state = self.store.write(update(self._state))

    def _outcome(self, o: Outcome) -> None:
        with self._lock:
            self._outcomes[o.name] = o
        self.emit("unit", **o.to_json())

    def _backend_config(self, name: str) -> dict[str, str]:
        if self.resolved.environment.spec.state.backend != "local":
            return {}
        return {"path": str(self.workspace.state_path(state_key(self.app, self.env_name, name)))}

    def _workdir(self, name: str) -> Path:
        return self.workspace.workdir(name)

    def _init(self, name: str) -> None:
        """terraform init, skipped when backend and module are as at the last init."""
        root = json.loads(
            self.rendered.files.get(f"terraform/{name}/main.tf.json")
            or self.workspace.read(f"terraform/{name}/main.tf.json")
            or b"{}"
        )
        fingerprint = hashlib.sha256(
            json.dumps(
                {
                    "terraform": root.get("terraform"),
                    "modules": {k: v.get("source") for k, v in (root.get("module") or {}).items()},
                    "backend": self._backend_config(name),
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()
        self._write_overlays(name)
        if not self.workspace.init_needed(name, fingerprint):
            return
        self.terraform.init(name, self._workdir(name), self._backend_config(name))
        self.workspace.initialized(name, fingerprint)

    def _write_overlays(self, name: str) -> None:
        """Files beside the rendered root for this run only: rotation versions (engine/rotate.py)
        and import blocks (engine/adopt.py). Rewritten or removed before every Terraform run."""
        prev = self._state.units.get(name) if self._state else None
        in_model = name in self.graph.order
        for file, data in (
            (rotate.OVERRIDE_FILE, rotate.override(name, prev) if in_model else None),
            (adopt.IMPORT_FILE, adopt.import_file(self.imports.get(name, ())) if in_model else None),
        ):
            if data is None:
                self.workspace.remove(f"terraform/{name}/{file}")
            else:
                self.workspace.write(f"terraform/{name}/{file}", data)

    def _scope(self, name: str) -> rotate.Scope:
        return rotate.Scope(self.app, self.env_name, name, self._state_key())

    def _seal_before_use(self, name: str) -> None:
        """Generated values made this run are sealed into state before Terraform sends them anywhere."""
        values = self._generated_inputs(name)
        with self._lock:
            fresh = name in self._fresh
            self._fresh.discard(name)
        if fresh and values:
            note = "generated inputs sealed before first use; not applied yet"
            c_type = self.resolved.component(name).type
            self._save(
                lambda s: s.with_unit(
                    name, rotate.sealed_record(s.units.get(name), c_type, values, self._scope(name), note)
                )
            )

    def _secret_value(self, ref: OutputRef) -> str:
        """The value of a secret output of an upstream unit (memory only)."""
        if ref.component in self._secrets:
            values = self._secrets[ref.component]
        else:
            up = self._state.units.get(ref.component)
            if up is not None and up.secret_ref:
                provider = self.resolved.component(ref.component).implementation.implementation.provider
                values = self.read_secret(provider, up.secret_ref)
            else:
                outs = self.terraform.outputs(ref.component, self._workdir(ref.component))
                values = {k: v for k, (v, _) in outs.items()}
            self._secrets[ref.component] = values
        if ref.key not in values:
            raise UnitFailure(
                [Diagnostic(f"upstream {ref.component} has no value for {ref.key}", address=ref.component)]
            )
        return str(values[ref.key])

    def _variables(self, name: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for _, ref in self.graph.refs.get(name, ()):
            up = self._state.units.get(ref.component)
            if ref.secret:
                out[ref_variable(ref)] = self._secret_value(ref)
            elif up is not None and ref.key in up.outputs:
                v = up.outputs[ref.key]
                out[ref_variable(ref)] = v if isinstance(v, str) else json.dumps(v)
        out.update(self._generated_inputs(name))
        return out

    def _generated_inputs(self, name: str) -> dict[str, str]:
        """Values of the implementation's generated_inputs (e.g. a database password), memory only:
        read back from the unit's secret store entry once it has one, else generated (first apply).
        One value per unit per run, so a preview plan and its apply agree."""
        c = self.resolved.component(name)
        tf = c.implementation.implementation.terraform if c is not None else None
        if tf is None or not tf.generated_inputs:
            return {}
        with self._lock:
            if name in self._generated:
                return dict(self._generated[name])
        prev = self._state.units.get(name) if self._state else None
        sealed = rotate.opened(prev, tuple(tf.generated_inputs), self._scope(name))
        if sealed is not None:
            found = sealed
        elif prev is not None and prev.secret_ref:
            values = self._secrets.get(name)
            if values is None:
                values = self.read_secret(c.implementation.implementation.provider, prev.secret_ref)
                self._secrets[name] = values
            missing = [k for k in tf.generated_inputs if not values.get(k)]
            if missing:
                raise UnitFailure(
                    [
                        Diagnostic(
                            f"the secret store entry of {name} has no {', '.join(missing)}",
                            f"{prev.secret_ref} must hold the generated input(s) it was created with; restore them there (never generate a new one over an existing resource)",
                            address=name,
                        )
                    ]
                )
            found = {k: str(values[k]) for k in tf.generated_inputs}
        else:
            found = {k: generate_secret() for k in tf.generated_inputs}
            with self._lock:
                self._fresh.add(name)
        with self._lock:
            self._generated[name] = found
        return dict(found)

    # -- terraform units -------------------------------------------------------------------
    def _bind(
        self, name: str, outs: Mapping[str, tuple[Any, bool]]
    ) -> tuple[dict[str, Any], dict[str, str], str | None, dict[str, str]]:
        """(non-secret outputs, secret digests, secret ref, all values as text for the Secret). Fails closed."""
        c = self.resolved.component(name)
        impl = c.implementation.implementation
        store = bool(impl.terraform and impl.terraform.secrets == "store")
        missing = []
        values: dict[str, Any] = {}
        secret_ref = None
        store_values: Mapping[str, str] = {}
        if store:
            if SECRET_ID_OUTPUT not in outs or not outs[SECRET_ID_OUTPUT][0]:
                raise UnitFailure(
                    [
                        Diagnostic(
                            f"{name}: implementation {c.implementation.name!r} of {c.type!r} did not output {SECRET_ID_OUTPUT}",
                            f"implementation {c.implementation.name} keeps secrets in the cloud secret store and must output where",
                            address=name,
                        )
                    ]
                )
            secret_ref = str(outs[SECRET_ID_OUTPUT][0])
            try:
                store_values = self.read_secret(impl.provider, secret_ref)
            except DiagnosticError as exc:
                raise UnitFailure(
                    [
                        Diagnostic(
                            f"cannot read the connection details of {name} from the secret store",
                            "; ".join(d.summary for d in exc.diagnostics),
                            address=name,
                        )
                    ]
                ) from None
            self._secrets[name] = store_values
        for key, spec in c.outputs.items():
            if store and key not in store_values:
                # The store entry is what an ExternalSecret delivers: it must hold every contract key.
                missing.append(f"{key} (in secret store entry {secret_ref})")
                continue
            if spec.secret and store:
                values[key] = store_values[key]
            elif key in outs and outs[key][0] is not None:
                values[key] = outs[key][0]
            else:
                missing.append(key)
        if missing:
            raise UnitFailure(
                [
                    Diagnostic(
                        f"{name}: implementation {c.implementation.name!r} of {c.type!r} gave no value for contract key {', '.join(missing)}",
                        f"{_mapping_hint(c, missing)}nothing was bound for {name} (fail closed)",
                        address=name,
                    )
                ]
            )
        public = {k: v for k, v in values.items() if not c.outputs[k].secret}
        digests = {k: secret_digest(v, self._state_key()) for k, v in values.items() if c.outputs[k].secret}
        text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
        return public, digests, secret_ref, text

    def _provider(self, name: str) -> str | None:
        c = self.resolved.component(name)
        return provider_plugin(self.resolved, c) if c is not None else None

    def _stateful_check(self, name: str, found: list[replacements.StatefulChange]) -> list[Diagnostic]:
        """A warning naming the stateful resources a plan replaces or destroys; for a protected
        unit, the refusal (raised, so nothing is applied)."""
        if not found:
            return []
        if name in self._protected():
            raise UnitFailure([replacements.refusal(name, self.env_name, found)])
        return [replacements.warning(name, found)]

    def _apply_terraform(self, name: str, planned: bytes | None = None) -> Outcome:
        c = self.resolved.component(name)
        workdir = self._workdir(name)
        self._init(name)
        self._seal_before_use(name)
        planfile, rel = workdir / PLANFILE, f"terraform/{name}/{PLANFILE}"
        warnings: list[Diagnostic] = []
        self.workspace.remove(rel)  # a leftover of a killed run; Terraform must not write through it
        try:  # a plan file holds secrets: 0600, and gone on every exit path
            if planned is None and name in self._protected():
                # Protected units plan first (a second Terraform process), so that a replacement
                # of their data is refused before anything changes.
                preview = self.terraform.plan(name, workdir, planfile, self._variables(name))
                warnings = self._stateful_check(name, replacements.from_actions(preview.resource_actions))
                planned = self.workspace.read(rel) or b""
            elif planned is not None:
                self.workspace.write_private(rel, planned)
                if name in self._protected():
                    warnings = self._stateful_check(
                        name, replacements.from_plan(self.terraform.show(name, workdir, planfile))
                    )
            if planned is not None:
                changes = self.terraform.apply(name, workdir, planfile, self._generated_inputs(name))
            else:
                changes = self.terraform.apply(name, workdir, None, self._variables(name))
                warnings = self._stateful_check(name, replacements.from_actions(changes.resource_actions))
        finally:
            self.workspace.remove(rel)
        # Outputs come from the apply's own -json stream when it carries them all (no third process).
        streamed = getattr(changes, "outputs", None)
        outs = streamed if streamed is not None else self.terraform.outputs(name, workdir)
        public, digests, secret_ref, text = self._bind(name, outs)
        conn_ref = secret_ref or self._publish(name, text)
        writes = sum(s.write_connection(name, secret_name(self.app, name), text, conn_ref) for s in self.sinks)
        unit = UnitState(
            kind="terraform",
            type=c.type,
            hash=self.unit_hash(name),
            status="applied",
            outputs=public,
            secret_digests=digests,
            secret_ref=secret_ref,
            dependencies=self.graph.dependencies(name),
            provider=self._provider(name),
            **rotate.carried(self._state.units.get(name), keep_sealed=False),
        )
        self._save(lambda s: s.with_unit(name, unit))
        return Outcome(
            name,
            "terraform",
            "applied",
            {"add": changes.add, "change": changes.change, "remove": changes.remove},
            diagnostics=warnings,
            k8s_writes=writes,
        )

    def _apply_terraform_adopting(self, name: str, planned: bytes | None) -> Outcome:
        """An apply that failed on resources that already exist (engine/adopt.py): explained,
        and with --adopt-owned, those whose tags name this unit are imported and the unit re-run."""
        try:
            outcome = self._apply_terraform(name, planned)
            self._drop_imports(name)
            return outcome
        except Exception as exc:  # the Terraform runner's error carries diagnostics too (not ours to type here)
            self._drop_imports(name)
            diagnostics = list(getattr(exc, "diagnostics", None) or [])
            provider = self.resolved.component(name).implementation.implementation.provider
            found = [
                adopt.classify(t, provider, self.read_tags, self.app, self.env_name, name)
                for t in adopt.orphans_in(diagnostics)
            ]
            if not found:
                raise
            if self.adopt_owned and planned is None and all(o.owner == "this unit" for o in found):
                self.emit("adopt", unit=name, resources=[o.target.address for o in found])
                self.imports = {**self.imports, name: tuple(o.target for o in found)}
                try:
                    return self._apply_terraform(name, None)
                finally:
                    self._drop_imports(name)
            explained = [adopt.orphan_diagnostic(o, self.app_file, self.env_name, name) for o in found]
            raise UnitFailure(explained + diagnostics) from None

    def _drop_imports(self, name: str) -> None:
        """Import blocks are for one run: gone from the root whether it adopted or failed."""
        if name in self.imports:
            self.imports = {k: v for k, v in self.imports.items() if k != name}
            self.workspace.remove(f"terraform/{name}/{adopt.IMPORT_FILE}")

    def _sinks_read_the_store(self) -> bool:
        """A sink that reads connections from the cloud secret store (a GitOps directory)."""
        return any(getattr(s, "needs_secret_store", False) for s in self.sinks)

    def _publish(self, name: str, text: Mapping[str, str]) -> str | None:
        """Publish the connection document for a GitOps directory (engine/publishing.py)."""
        c = self.resolved.component(name)
        if c is None or not self._sinks_read_the_store() or not needs_publishing(c):
            return None
        provider = publishing_provider(self.resolved, c)
        if self.publisher is None or provider is None:
            raise UnitFailure(
                [
                    Diagnostic(
                        f"the connection of {name} cannot be published: no secret store is wired",
                        "deliver to a cluster, or use an environment with a cloud",
                        address=name,
                    )
                ]
            )
        try:
            return self.publisher.write(provider, published_name(self.app, self.env_name, name), dict(text))
        except DiagnosticError as exc:
            raise UnitFailure([Diagnostic(d.summary, d.detail, address=name) for d in exc.diagnostics]) from None

    def _unpublish(self, name: str, unit: UnitState) -> None:
        """A destroyed or pruned unit's published connection document goes with it."""
        if not self._sinks_read_the_store() or unit.secret_ref or self.publisher is None:
            return
        provider = publishing_provider(self.resolved, self.resolved.component(name))
        if provider is not None:
            self.publisher.delete(provider, published_name(self.app, self.env_name, name))

    # -- kubernetes units ------------------------------------------------------------------
    def stamped_objects(self, name: str) -> list[dict]:
        objects = copy.deepcopy(self.rendered.manifests.get(name, []))
        upstream = self._upstream(name)
        if upstream:
            digest = bindings_hash(upstream)
            for obj in objects:
                for tpl in _pod_templates(obj):
                    tpl.setdefault("metadata", {}).setdefault("annotations", {})[BINDINGS_HASH_ANNOTATION] = digest
        c = self.resolved.component(name)
        if c is not None and c.type == "task":
            content_named_job(objects)
        return objects

    def _bind_in_cluster(self, name: str) -> tuple[dict[str, Any], dict[str, str], int]:
        """A resource served by manifests: its contract values come from the implementation's
        output templates; secret values it generates are made once and kept in the connection
        Secret (read back from the cluster on later runs, never stored elsewhere)."""
        import secrets as random_source

        from composer.render.kubernetes import target_namespace
        from composer.templates import TemplateFailure, evaluate

        c = self.resolved.component(name)
        manifests = c.implementation.implementation.manifests
        conn = secret_name(self.app, name)
        existing: Mapping[str, str] = {}
        for sink in self.sinks:
            existing = sink.read_connection(name, conn) or {}
            if existing:
                break
        generated = {k: existing.get(k) or random_source.token_urlsafe(24) for k in manifests.generate}
        context = {
            "app": self.app,
            "env": self.env_name,
            "component": name,
            "namespace": target_namespace(self.resolved),
            "parameters": c.parameters,
            "generated": generated,
        }
        try:
            values = {k: evaluate(manifests.outputs[k], context) for k in c.outputs}
        except TemplateFailure as exc:
            raise UnitFailure(
                [Diagnostic(f"the output templates of {c.implementation.name!r} failed", str(exc), address=name)]
            ) from None
        text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
        writes = sum(s.write_connection(name, conn, {**generated, **text}, None) for s in self.sinks)
        public = {k: v for k, v in values.items() if not c.outputs[k].secret}
        digests = {k: secret_digest(v, self._state_key()) for k, v in text.items() if c.outputs[k].secret}
        return public, digests, writes

    def _apply_kubernetes(self, name: str) -> Outcome:
        c = self.resolved.component(name)
        public: dict[str, Any] = {}
        digests: dict[str, str] = {}
        writes = 0
        if c.is_resource:  # served in-cluster: bind before the pods that read the Secret start
            public, digests, writes = self._bind_in_cluster(name)
        objects = self.stamped_objects(name)
        applied: dict[str, tuple] = {}
        failure: PartialApply | None = None
        for sink in self.sinks:  # every cluster target gets the workload; cloud units ran once
            previous = tuple(i for i in self._state.inventory.get(sink.target, ()) if i.component == name)
            try:
                items, n = sink.apply(name, copy.deepcopy(objects), previous)
            except PartialApply as exc:
                applied[sink.target] = exc.items
                failure = failure or exc
                continue
            applied[sink.target] = tuple(items)
            writes += n
        if failure is not None:
            self._save(
                lambda s: s.model_copy(
                    update={
                        "inventory": {
                            **s.inventory,
                            **{
                                t: tuple(i for i in s.inventory.get(t, ()) if i.component != name) + items
                                for t, items in applied.items()
                            },
                        }
                    }
                )
            )
            raise UnitFailure(failure.diagnostics)
        unit = UnitState(
            kind="kubernetes",
            type=c.type,
            hash=self.unit_hash(name),
            status="applied",
            outputs=public,
            secret_digests=digests,
            dependencies=self.graph.dependencies(name),
        )

        def update(s: StateDoc) -> StateDoc:
            inv = dict(s.inventory)
            for target, items in applied.items():
                inv[target] = tuple(i for i in inv.get(target, ()) if i.component != name) + items
            return s.with_unit(name, unit).model_copy(update={"inventory": inv})

        self._save(update)
        return Outcome(name, "kubernetes", "applied", k8s_writes=writes, k8s_changed=writes)

    # -- one unit --------------------------------------------------------------------------
    def _work(self, name: str, planned: Mapping[str, bytes | None] | None = None) -> bool:
        kind = self._kind(name)
        started = time.monotonic()
        prev = self._state.units.get(name)
        h = self.unit_hash(name)
        if not self.refresh and prev is not None and prev.status == "applied" and prev.hash == h:
            self._outcome(Outcome(name, kind, "unchanged"))
            return True
        self.emit("unit_start", unit=name, kind=kind)
        try:
            if kind == "terraform":
                o = self._apply_terraform_adopting(name, (planned or {}).get(name))
            else:
                o = self._apply_kubernetes(name)
        except (UnitFailure, DiagnosticError) as exc:
            self._fail(name, kind, exc.diagnostics, started)
            return False
        except Exception as exc:  # a runner error that is not ours to interpret: still isolate the unit
            self._fail(name, kind, _diagnostics_of(exc, name), started)
            return False
        o.duration_s = time.monotonic() - started
        self._outcome(o)
        return True

    def _explain(self, name: str, diags: list[Diagnostic]) -> list[Diagnostic]:
        """Terraform's words for a contract output the module lacks, in the contract's words."""
        import re

        c = self.resolved.component(name)
        out = []
        for d in diags:
            m = re.search(r'attribute named "([a-z_0-9]+)"', d.detail or "")
            if (
                c is not None
                and d.summary == "Unsupported attribute"
                and d.file == "main.tf.json"
                and m
                and m.group(1) in c.outputs
            ):
                out.append(
                    Diagnostic(
                        f"{name}: implementation {c.implementation.name!r} of {c.type!r} gave no value for contract key {m.group(1)}",
                        f"{_mapping_hint(c, [m.group(1)])}nothing was bound for {name} (fail closed)",
                        address=name,
                    )
                )
            out.append(d)
        return out

    def _fail(self, name: str, kind: str, diags: list[Diagnostic], started: float) -> None:
        diags = self._explain(name, diags)
        prev = self._state.units.get(name)
        c = self.resolved.component(name)
        failed = UnitState(
            kind=kind,
            type=c.type if c else (prev.type if prev else "unknown"),
            hash="",
            status="failed",
            outputs=prev.outputs if prev else {},
            secret_digests=prev.secret_digests if prev else {},
            secret_ref=prev.secret_ref if prev else None,
            dependencies=self.graph.dependencies(name) if c else (prev.dependencies if prev else ()),
            provider=self._provider(name) if c else (prev.provider if prev else None),
            error=diags[0].summary[:300] if diags else None,
            **rotate.carried(prev, keep_sealed=True),
        )
        try:
            self._save(lambda s: s.with_unit(name, failed))
        except DiagnosticError as exc:
            diags = diags + exc.diagnostics
        self._outcome(Outcome(name, kind, "failed", diagnostics=diags, duration_s=time.monotonic() - started))

    # -- prune / destroy -------------------------------------------------------------------
    def _protected(self) -> set[str]:
        spec = self.resolved.environment.spec
        protected = set(spec.policies.protect)
        if spec.tier == "production":  # the production tier protects every stateful (Terraform) unit, removed ones too
            protected |= {c.name for c in self.resolved.components if c.is_terraform}
            protected |= {n for n, u in (self._state.units if self._state else {}).items() if u.kind == "terraform"}
        return protected

    def refuse_protected(self, names: list[str], verb: str) -> None:
        hit = sorted(set(names) & self._protected())
        if hit:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"refusing to {verb} protected unit{'s' if len(hit) > 1 else ''} {', '.join(hit)}",
                        f"environment {self.env_name} lists {', '.join(hit)} under policies.protect; remove {'them' if len(hit) > 1 else 'it'} from that list to allow this",
                        address=hit[0],
                    )
                ]
            )

    def removed_units(self) -> list[str]:
        """Units in state the model no longer has, dependents first."""
        gone = [n for n in self._state.units if n not in set(self.graph.order)]
        deps = {n: [d for d in self._state.units[n].dependencies if d in gone] for n in gone}
        order: list[str] = []
        seen: set[str] = set()

        def visit(n: str) -> None:
            if n in seen:
                return
            seen.add(n)
            for d in deps[n]:
                visit(d)
            order.append(n)

        for n in sorted(gone):
            visit(n)
        return list(reversed(order))

    def _destroy_unit(self, name: str, verb: str) -> bool:
        started = time.monotonic()
        unit = self._state.units[name]
        self.emit(
            "unit_start",
            unit=name,
            kind=unit.kind,
            action={"pruned": "pruning", "destroyed": "destroying"}.get(verb, verb),
        )
        try:
            if unit.kind == "terraform":
                changes = self._destroy_terraform(name, unit)
                writes = sum(s.delete_connection(name, secret_name(self.app, name)) for s in self.sinks)
                self._unpublish(name, unit)
            else:
                changes = None
                writes = sum(
                    s.delete(tuple(i for i in self._state.inventory.get(s.target, ()) if i.component == name))
                    for s in self.sinks
                )
                if unit.outputs or unit.secret_digests:  # an in-cluster resource: its Secret goes too
                    writes += sum(s.delete_connection(name, secret_name(self.app, name)) for s in self.sinks)
        except (UnitFailure, DiagnosticError) as exc:
            self._outcome(
                Outcome(name, unit.kind, "failed", diagnostics=exc.diagnostics, duration_s=time.monotonic() - started)
            )
            return False
        except Exception as exc:
            self._outcome(
                Outcome(
                    name,
                    unit.kind,
                    "failed",
                    diagnostics=_diagnostics_of(exc, name),
                    duration_s=time.monotonic() - started,
                )
            )
            return False

        def update(s: StateDoc) -> StateDoc:
            inv = {t: tuple(i for i in items if i.component != name) for t, items in s.inventory.items()}
            return s.with_unit(name, None).model_copy(update={"inventory": inv})

        self._save(update)
        self._outcome(Outcome(name, unit.kind, verb, changes, duration_s=time.monotonic() - started, k8s_writes=writes))
        return True

    def state_addresses(self, name: str, unit: UnitState) -> list[str] | None:
        """The addresses in a unit's Terraform state (None: no state), its root ready to destroy."""
        if name not in self.graph.order:
            # The model no longer has it: a root with backend and provider but no module call
            # makes Terraform destroy everything the unit's state holds. Composer renders that
            # root itself; nothing executable is taken from state.
            cloud = self.resolved.environment.spec.cloud
            self.workspace.write(
                f"terraform/{name}/main.tf.json",
                self.prune_root(name, unit.provider or (cloud.provider if cloud else None)),
            )
        self._init(name)
        return self.terraform.resources(name, self._workdir(name))

    def _destroy_terraform(self, name: str, unit: UnitState) -> dict[str, int]:
        workdir = self._workdir(name)
        resources = self.state_addresses(name, unit)
        if resources is None:
            raise UnitFailure(
                [
                    Diagnostic(
                        f"no Terraform state found for unit {name}; refusing to report it destroyed",
                        f"the state for key {state_key(self.app, self.env_name, name)} is missing from the {self.resolved.environment.spec.state.backend} backend. "
                        "If its resources still exist, restore the state (or import them) and run again; nothing was deleted.",
                        address=name,
                    )
                ]
            )
        variables = self._variables(name) if name in self.graph.order else {}
        changes = self.terraform.apply(name, workdir, None, variables, destroy=name in self.graph.order)
        return {"add": changes.add, "change": changes.change, "remove": changes.remove}

    def pending(self, state: StateDoc) -> list[str]:
        """Units an apply would touch, judged from state alone (no I/O): changed hashes, failed
        or never applied units, and removed ones. Empty means a no-op."""
        self._state = state
        out = [
            n
            for n in self.graph.order
            if self.refresh or (u := state.units.get(n)) is None or u.status != "applied" or u.hash != self.unit_hash(n)
        ]
        return out + self.removed_units()

    # -- commands --------------------------------------------------------------------------
    def _begin(self, state: StateDoc) -> None:
        self._state = state
        self._outcomes = {}
        self._started = time.monotonic()

    def _finish(self, command: str, stopped: bool) -> RunResult:
        changed = tuple(n for n, o in self._outcomes.items() if o.status in ("applied",))
        removed = tuple(n for n, o in self._outcomes.items() if o.status in ("pruned", "destroyed"))
        failed = tuple(n for n, o in self._outcomes.items() if o.status in ("failed", "blocked"))
        if changed or removed or failed:
            self._save(
                lambda s: s.with_revision(
                    Revision(
                        serial=s.serial + 1, at=now(), command=command, changed=changed, removed=removed, failed=failed
                    )
                )
            )
        return RunResult(
            command, dict(self._outcomes), self._state, self.terraform.runs, time.monotonic() - self._started, stopped
        )

    def apply(
        self,
        state: StateDoc,
        planned: Mapping[str, bytes | None] | None = None,
        prune: bool = True,
        hold: Collection[str] = (),
    ) -> RunResult:
        """`hold`: units behind an approval gate, left as they are (neither applied nor pruned)."""
        self._begin(state)
        removed = self.removed_units() if prune else []
        self.refuse_protected(removed, "prune")
        self.workspace.sync({k: v for k, v in self.rendered.files.items() if k.startswith(("terraform/", "modules/"))})
        order = [n for n in self.graph.order if n not in hold]
        deps = {n: self.graph.dependencies(n) for n in order}
        results = run_dag(order, deps, lambda n: self._work(n, planned), self.parallelism, self.should_stop)
        for name, status in results.items():
            if status != OK and name not in self._outcomes:
                self._outcome(
                    Outcome(
                        name,
                        self._kind(name),
                        "blocked",
                        diagnostics=[
                            Diagnostic("not applied: a dependency failed or the run was interrupted", address=name)
                        ],
                    )
                )
        stopped = self.should_stop()
        for name in removed:
            if stopped or self.should_stop():
                break
            self._destroy_unit(name, "pruned")
        return self._finish("apply", self.should_stop())

    def destroy(self, state: StateDoc) -> RunResult:
        self._begin(state)
        names = [n for n in reversed(self.graph.order) if n in state.units] + [n for n in self.removed_units()]
        self.refuse_protected(names, "destroy")
        self.workspace.sync({k: v for k, v in self.rendered.files.items() if k.startswith(("terraform/", "modules/"))})
        # Reverse order: a unit goes once everything that depends on it is gone.
        dependents = {n: [m for m in names if n in state.units[m].dependencies] for n in names}
        results = run_dag(
            names, dependents, lambda n: self._destroy_unit(n, "destroyed"), self.parallelism, self.should_stop
        )
        for name, status in results.items():
            if status != OK and name not in self._outcomes:
                self._outcome(
                    Outcome(
                        name,
                        state.units[name].kind,
                        "blocked",
                        diagnostics=[
                            Diagnostic("not destroyed: a unit that depends on it was not destroyed", address=name)
                        ],
                    )
                )
        return self._finish("destroy", self.should_stop())

    def plan(self, state: StateDoc, planfiles: dict[str, bytes] | None = None) -> RunResult:
        """Per-unit terraform plans for changed units; kubernetes diffs against the inventory."""
        self._begin(state)
        self.workspace.sync({k: v for k, v in self.rendered.files.items() if k.startswith(("terraform/", "modules/"))})
        deps = {n: self.graph.dependencies(n) for n in self.graph.order}

        def work(name: str) -> bool:
            kind = self._kind(name)
            prev = self._state.units.get(name)
            if not self.refresh and prev is not None and prev.status == "applied" and prev.hash == self.unit_hash(name):
                self._outcome(Outcome(name, kind, "unchanged"))
                return True
            started = time.monotonic()
            try:
                if kind == "terraform":
                    self._init(name)
                    workdir = self._workdir(name)
                    rel = f"terraform/{name}/{PLANFILE}"
                    self.workspace.remove(rel)  # a leftover of a killed run; Terraform must not write through it
                    try:  # a plan file holds secrets: gone on every exit path, failed plans too
                        changes = self.terraform.plan(
                            name, workdir, workdir / PLANFILE, self._variables(name), refresh=True
                        )
                        warnings = list(self._stateful_check(name, replacements.from_actions(changes.resource_actions)))
                        resources, shown = (
                            preview.terraform_resources(self, name, workdir, workdir / PLANFILE)
                            if changes.any
                            else ((), [])
                        )
                        warnings += shown
                        if planfiles is not None:
                            planfiles[name] = (self.workspace.read(rel) or b"") if changes.any else b""
                    finally:
                        self.workspace.remove(rel)
                    counted = (
                        {"add": changes.add, "change": changes.change, "remove": changes.remove}
                        if changes.any
                        else None
                    )
                    self._outcome(
                        Outcome(
                            name, kind, "planned", counted, warnings, time.monotonic() - started, resources=resources
                        )
                    )
                else:
                    objects = self.stamped_objects(name)
                    for sink in self.sinks:
                        if hasattr(sink, "check"):  # what the cluster would refuse (a claim shrunk)
                            refusals = sink.check(
                                name,
                                objects,
                                tuple(i for i in self._state.inventory.get(sink.target, ()) if i.component == name),
                            )
                            if refusals:
                                raise DiagnosticError(refusals)
                    # New objects (a replaced Job: its new name) are creates, removed ones destroys.
                    resources, warnings = preview.kubernetes_resources(self, name, objects)
                    self._outcome(
                        Outcome(
                            name,
                            kind,
                            "planned",
                            counts(resources) if resources else None,
                            warnings,
                            time.monotonic() - started,
                            k8s_changed=len(resources),
                            resources=resources,
                        )
                    )
            except (UnitFailure, DiagnosticError) as exc:
                self._outcome(Outcome(name, kind, "failed", diagnostics=exc.diagnostics))
                return False
            except Exception as exc:
                self._outcome(Outcome(name, kind, "failed", diagnostics=_diagnostics_of(exc, name)))
                return False
            return True

        run_dag(self.graph.order, deps, work, self.parallelism, self.should_stop)
        for name in self.removed_units():
            unit = self._state.units[name]
            try:
                resources = preview.pruned_resources(self, name, unit)
            except Exception as exc:  # UnitFailure, DiagnosticError, a runner error: this unit's plan failed
                self._outcome(
                    Outcome(name, unit.kind, "failed", diagnostics=_diagnostics_of(exc, name), action="prune")
                )
                continue
            self._outcome(
                Outcome(
                    name,
                    unit.kind,
                    "planned",
                    counts(resources) if resources else None,
                    action="prune",
                    resources=resources,
                )
            )
        return RunResult(
            "plan", dict(self._outcomes), self._state, self.terraform.runs, time.monotonic() - self._started
        )


def _diagnostics_of(exc: Exception, unit: str) -> list[Diagnostic]:
    """A runner error we do not interpret (e.g. TerraformError): its own diagnostics, or one
    naming its type. It still fails only its unit."""
    return list(getattr(exc, "diagnostics", None) or [Diagnostic(f"{type(exc).__name__}: {exc}"[:300], address=unit)])


def _pod_templates(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    out = []
    if isinstance(spec.get("template"), dict):
        out.append(spec["template"])
    jt = (spec.get("jobTemplate") or {}).get("spec") or {}
    if isinstance(jt.get("template"), dict):
        out.append(jt["template"])
    return out


def generate_secret(length: int = 32) -> str:
    """A random password: letters and digits (no character needs quoting in a URL or a shell),
    with at least one upper-case letter, one lower-case letter and one digit, as Azure and most
    database engines demand."""
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(ch.islower() for ch in value)
            and any(ch.isupper() for ch in value)
            and any(ch.isdigit() for ch in value)
        ):
            return value
