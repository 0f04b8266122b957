"""Plan, apply and destroy: thin drivers over one per-unit step.

For each unit, in dependency order and in parallel where independent (engine/scheduler.py):

- **skip** (engine/skip.py): a unit whose hash matches its last successful apply is
  skipped, by plan and apply alike: no Terraform process.
- **terraform units** (engine/terraform_unit.py): init (once per backend/module
  fingerprint), apply (plans in the same process), read outputs, bind (fail closed on a
  missing declared output), write the connection Secret to the sinks, record the unit in
  state *at once*, so an interrupted run leaves state a re-run converges from.
- **kubernetes units** (engine/kube_unit.py): stamp the bindings hash on pod templates,
  hand the objects to the sinks (they skip unchanged ones), record the inventory.
- **prune / destroy** (engine/removal.py): units in state that the model no longer has are
  removed in reverse dependency order; a protected unit is refused before anything runs.

A step's failure is a `DiagnosticError` (Terraform's, a sink's, the engine's own); it fails
that unit only, and its dependents are blocked. Secret values live only in memory
(engine/generated.py) between `terraform output` / `read_secret` and the sinks; state
keeps non-secret outputs and secret digests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from composer.catalog import ModuleSource
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine import adopt, day2hooks, kube_unit, preview, removal, rotate, skip, terraform_unit
from composer.engine.changes import counts
from composer.engine.generated import RunSecrets
from composer.engine.outcome import Outcome, RunResult, UnitKind
from composer.engine.ports import SecretReader, TerraformPort, WorkloadSink, Workspace
from composer.engine.publishing import SecretPublisher
from composer.engine.recording import applied_unit, failed_unit, failure_diagnostics
from composer.engine.scheduler import OK, run_dag
from composer.graph import Graph
from composer.render import Rendered
from composer.resolve import Resolved
from composer.state.model import Revision, StateDoc, UnitState, now
from composer.state.protocol import StateStore

__all__ = ["Engine", "Outcome", "RunResult"]

Emit = Callable[..., None]
Step = Callable[[], Outcome]


@dataclass
class Engine:
    resolved: Resolved
    graph: Graph
    rendered: Rendered
    modules: Mapping[str, ModuleSource]
    store: StateStore | None  # None until the caller holds the environment's lock (cli/session.py)
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
    probe_reasons: Mapping[str, str] = field(default_factory=dict)  # unit -> why the reality probe runs it

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._state: StateDoc | None = None
        self._key: bytes | None = None
        self._outcomes: dict[str, Outcome] = {}
        self._started = time.monotonic()
        self.secrets = RunSecrets(lambda provider, ref: self.read_secret(provider, ref))
        self._secrets = self.secrets.read  # unit -> secret values read this run (memory only)

    # -- what the steps share --------------------------------------------------------------
    @property
    def app(self) -> str:
        return self.resolved.name

    @property
    def env_name(self) -> str:
        return self.resolved.environment.name

    @property
    def state(self) -> StateDoc:
        """The state as this run has written it so far."""
        assert self._state is not None, "a command sets the state first"
        return self._state

    def _kind(self, name: str) -> UnitKind:
        c = self.resolved.component(name)
        return "terraform" if c is not None and c.is_terraform else "kubernetes"

    def _upstream(self, name: str) -> dict[str, dict]:
        """What this unit sees of its dependencies: non-secret outputs and secret digests."""
        return skip.upstream_view(self.graph, self._state, name)

    def unit_hash(self, name: str) -> str:
        paths = next((u.files for u in self.rendered.units if u.name == name), ())
        module = self.modules.get(name)
        return skip.unit_hash(self.rendered.files, paths, module.digest if module else None, self._upstream(name))

    def unchanged(self, name: str) -> bool:
        """The skip decision (engine/skip.py), the same for plan, apply and `pending`."""
        previous = self._state.units.get(name) if self._state else None
        return skip.unchanged(skip.SkipInputs(previous, self.unit_hash(name), self.refresh))

    def applied_unit(
        self, name: str, outputs: dict[str, Any], digests: dict[str, str], secret_ref: str | None = None
    ) -> UnitState:
        """A unit as state records it after a successful apply of what is rendered now."""
        c = self.resolved.component(name)
        return applied_unit(self._kind(name), c, self.unit_hash(name), self.graph, outputs, digests, secret_ref)

    def _state_key(self) -> bytes:
        """The state's key (created with the state): secret digests are keyed with it."""
        with self._lock:
            if self._key is None:
                assert self.store is not None, "the engine reads state only under the lock"
                self._key = self.store.signing_key()
            return self._key

    def save(self, update: Callable[[StateDoc], StateDoc]) -> None:
        with self._lock:
            assert self.store is not None, "the engine writes state only under the lock"
            self._state = self.store.write(update(self.state))

    def _outcome(self, o: Outcome) -> None:
        with self._lock:
            self._outcomes[o.name] = o
        self.emit("unit", **o.to_json())

    def protected(self) -> set[str]:
        return removal.protected_units(self.resolved, self._state)

    def refuse_protected(self, names: list[str], verb: str) -> None:
        refused = removal.refusal(names, self.protected(), self.env_name, verb)
        if refused is not None:
            raise refused

    def removed_units(self) -> list[str]:
        """Units in state the model no longer has, dependents first."""
        return removal.removed_units(self.state.units, self.graph.order)

    def state_addresses(self, name: str, unit: UnitState) -> list[str] | None:
        """The addresses in a unit's Terraform state (None: no state), its root ready to destroy."""
        return terraform_unit.state_addresses(self, name, unit)

    # -- one unit --------------------------------------------------------------------------
    def _step(self, name: str, kind: UnitKind, work: Step, *, record: bool, action: str = "") -> bool:
        """Run one unit's work; a failure fails this unit only (its dependents are blocked).
        `record`: an apply's failure is written to state too (the unit must run again)."""
        started = time.monotonic()
        try:
            outcome = work()
        except Exception as exc:  # DiagnosticError, or a runner error that is not ours to interpret
            diagnostics = failure_diagnostics(name, self.resolved.component(name), exc)
            if record:
                self._fail(name, kind, diagnostics, started)
            else:
                self._outcome(
                    Outcome(
                        name,
                        kind,
                        "failed",
                        diagnostics=diagnostics,
                        duration_s=time.monotonic() - started,
                        action=action,
                    )
                )
            return False
        outcome.duration_s = time.monotonic() - started
        outcome.reason = outcome.reason or self.probe_reasons.get(name, "")
        self._outcome(outcome)
        return True

    def _fail(self, name: str, kind: UnitKind, diags: list[Diagnostic], started: float) -> None:
        previous = self.state.units.get(name)
        failed = failed_unit(kind, self.resolved.component(name), previous, self.graph, diags)
        failed = failed.model_copy(update=rotate.carried(previous, keep_sealed=True))
        try:
            self.save(lambda s: s.with_unit(name, failed))
        except DiagnosticError as exc:
            diags = diags + exc.diagnostics
        self._outcome(Outcome(name, kind, "failed", diagnostics=diags, duration_s=time.monotonic() - started))

    def _apply_step(self, name: str, planned: Mapping[str, bytes | None] | None) -> bool:
        kind = self._kind(name)
        if self.unchanged(name):
            self._outcome(Outcome(name, kind, "unchanged"))
            return True
        self.emit("unit_start", unit=name, kind=kind)
        if kind == "terraform":
            return self._step(
                name, kind, lambda: day2hooks.apply_adopting(self, name, (planned or {}).get(name)), record=True
            )
        return self._step(name, kind, lambda: kube_unit.apply_unit(self, name), record=True)

    def _plan_step(self, name: str, planfiles: dict[str, bytes] | None) -> bool:
        kind = self._kind(name)
        if self.unchanged(name):
            self._outcome(Outcome(name, kind, "unchanged"))
            return True
        if kind == "terraform":
            return self._step(name, kind, lambda: terraform_unit.plan_unit(self, name, planfiles), record=False)
        return self._step(name, kind, lambda: kube_unit.plan_unit(self, name), record=False)

    def _remove_step(self, name: str, verb: str) -> bool:
        kind = self.state.units[name].kind
        self.emit(
            "unit_start", unit=name, kind=kind, action={"pruned": "pruning", "destroyed": "destroying"}.get(verb, verb)
        )
        return self._step(name, kind, lambda: removal.remove_unit(self, name, verb), record=False)

    def _plan_prune_step(self, name: str) -> bool:
        unit = self.state.units[name]

        def work() -> Outcome:
            resources = preview.pruned_resources(self, name, unit)
            return Outcome(
                name,
                unit.kind,
                "planned",
                counts(resources) if resources else None,
                action="prune",
                resources=resources,
            )

        return self._step(name, unit.kind, work, record=False, action="prune")

    # -- commands --------------------------------------------------------------------------
    def pending(self, state: StateDoc) -> list[str]:
        """Units an apply would touch, judged from state alone (no I/O): changed hashes, failed
        or never applied units, and removed ones. Empty means a no-op."""
        self._state = state
        return [n for n in self.graph.order if not self.unchanged(n)] + self.removed_units()

    def _begin(self, state: StateDoc) -> None:
        self._state = state
        self._outcomes = {}
        self._started = time.monotonic()

    def _sync_workspace(self) -> None:
        """The rendered Terraform roots and module copies, into the workspace."""
        self.workspace.sync(self.rendered.files.under("terraform/", "modules/"))

    def _block(self, results: Mapping[str, str], kind_of: Callable[[str], UnitKind], why: str) -> None:
        for name, status in results.items():
            if status != OK and name not in self._outcomes:
                self._outcome(Outcome(name, kind_of(name), "blocked", diagnostics=[Diagnostic(why, address=name)]))

    def _finish(self, command: str, stopped: bool) -> RunResult:
        changed = tuple(n for n, o in self._outcomes.items() if o.status in ("applied",))
        removed = tuple(n for n, o in self._outcomes.items() if o.status in ("pruned", "destroyed"))
        failed = tuple(n for n, o in self._outcomes.items() if o.status in ("failed", "blocked"))
        if changed or removed or failed:
            self.save(
                lambda s: s.with_revision(
                    Revision(
                        serial=s.serial + 1, at=now(), command=command, changed=changed, removed=removed, failed=failed
                    )
                )
            )
        return RunResult(
            command, dict(self._outcomes), self.state, self.terraform.runs, time.monotonic() - self._started, stopped
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
        self._sync_workspace()
        order = [n for n in self.graph.order if n not in hold]
        deps = {n: self.graph.dependencies(n) for n in order}
        results = run_dag(order, deps, lambda n: self._apply_step(n, planned), self.parallelism, self.should_stop)
        self._block(results, self._kind, "not applied: a dependency failed or the run was interrupted")
        for name in removed:
            if self.should_stop():
                break
            self._remove_step(name, "pruned")
        return self._finish("apply", self.should_stop())

    def destroy(self, state: StateDoc) -> RunResult:
        self._begin(state)
        names = [n for n in reversed(self.graph.order) if n in state.units] + self.removed_units()
        self.refuse_protected(names, "destroy")
        self._sync_workspace()
        # Reverse order: a unit goes once everything that depends on it is gone.
        dependents = {n: [m for m in names if n in state.units[m].dependencies] for n in names}
        results = run_dag(
            names, dependents, lambda n: self._remove_step(n, "destroyed"), self.parallelism, self.should_stop
        )
        self._block(
            results, lambda n: state.units[n].kind, "not destroyed: a unit that depends on it was not destroyed"
        )
        return self._finish("destroy", self.should_stop())

    def plan(self, state: StateDoc, planfiles: dict[str, bytes] | None = None) -> RunResult:
        """Per-unit terraform plans for changed units; kubernetes diffs against the inventory."""
        self._begin(state)
        self._sync_workspace()
        deps = {n: self.graph.dependencies(n) for n in self.graph.order}
        run_dag(self.graph.order, deps, lambda n: self._plan_step(n, planfiles), self.parallelism, self.should_stop)
        for name in self.removed_units():
            self._plan_prune_step(name)
        return RunResult(
            "plan", dict(self._outcomes), self.state, self.terraform.runs, time.monotonic() - self._started
        )
