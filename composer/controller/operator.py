"""`appc controller run`: kopf handlers that reconcile Application resources in their
Environment with Composer's engine (composer/controller/reconcile.py), set status conditions,
post events, destroy on delete (a finalizer; `policies.protect` keeps it), and resync on a
timer per Environment (`resyncSeconds`, `suspend`). docs/controller.md.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf

from composer.controller import binding, logs, reconcile
from composer.controller.job_child import RunnerOptions
from composer.model.base import API_VERSION
from composer.runners import kube_login
from composer.runners.controller_catalog import CatalogReader
from composer.runners.controller_catalog_bundle import BundleTrust
from composer.runners.controller_leases import ShardKeeper
from composer.runners.controller_nudge import Nudger

GROUP, VERSION = API_VERSION.split("/")
FINALIZER = "composer.dev/destroy"
TICK_SECONDS = 30.0
log = logging.getLogger("composer.controller")  # not kopf's object logger: that one posts Events


@dataclass(frozen=True)
class ControllerOptions:
    state_root: Path
    workers: int = 2
    timeout_s: float = 1800.0
    retries: int = 5
    backoff_s: float = 30.0
    health_port: int | None = 8080
    namespaces: tuple[str, ...] = ()  # empty: every namespace
    shards: int = 0  # 0: this replica reconciles every Application (no Leases)
    identity: str = "appc-controller"  # this replica's name in the shard Leases (the pod name)
    lease_namespace: str = "composer-system"
    tick_s: float = TICK_SECONDS  # how often each Application is looked at (resync, take-over)
    lease_seconds: int = 15  # a shard's Lease lasts this long unless renewed (--lease-seconds)
    lease_renew_s: float = 5.0  # how often this replica renews its Leases (--lease-renew-seconds)
    catalog_keys: tuple[Path, ...] = ()  # trusted keys of catalog bundles (none: every bundle is refused)
    catalog_bundle_dir: Path | None = None  # where `catalog.bundle.path` references are read
    verbose: bool = False  # kopf's own INFO lines (composer/controller/logs.py)
    runner: RunnerOptions = RunnerOptions()  # process: Terraform in the child; job: a Job per unit run


def lease_problem(lease_seconds: int, renew_seconds: float) -> str | None:
    """Why the Lease timing cannot work (None: it can): a Lease that expires before its holder
    renews it lets the other replicas take the holder's shards while it works."""
    if renew_seconds <= 0:
        return f"--lease-renew-seconds must be more than 0, not {renew_seconds:g}"
    if lease_seconds <= renew_seconds:
        return (
            f"--lease-seconds {lease_seconds} is not longer than the renew interval (--lease-renew-seconds "
            f"{renew_seconds:g}): each shard's Lease would expire before its holder renews it and the other "
            "replicas would take the shards it is working on; use a lease of at least 3 renew intervals"
        )
    return None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Controller:
    """The handlers' shared state: the worker limit and one guard per app and environment."""

    def __init__(self, opts: ControllerOptions) -> None:
        self.opts = opts
        self.registry = kopf.OperatorRegistry()
        self._slots: asyncio.Semaphore | None = None
        self._guards: dict[tuple[str, str, str], asyncio.Lock] = {}
        self.runs: list[tuple[str, str, reconcile.Verb, reconcile.Outcome]] = []  # every child run, in order
        self._done: dict[tuple[str, str], int] = {}  # (namespace, app) -> the generation last reconciled here
        self._resynced: dict[tuple[str, str], float] = {}  # (namespace, app) -> time of its last quiet resync
        self.keeper: ShardKeeper | None = None
        self.nudger = Nudger()
        self.catalogs = CatalogReader(BundleTrust(opts.catalog_keys, opts.catalog_bundle_dir))
        if opts.shards > 0:
            self.keeper = ShardKeeper(opts.identity, opts.lease_namespace, opts.shards, opts.lease_seconds)
            self.keeper.renew_seconds = opts.lease_renew_s
        self._register()

    def mine(self, namespace: str, name: str) -> bool:
        return self.keeper is None or self.keeper.owns(namespace, name)

    def _guard(self, key: tuple[str, str, str]) -> asyncio.Lock:
        return self._guards.setdefault(key, asyncio.Lock())

    async def _run(self, job: reconcile.Job, verb: reconcile.Verb) -> reconcile.Outcome:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.opts.workers)
        async with self._guard((job.namespace, job.app, job.env)), self._slots:
            outcome = await asyncio.to_thread(reconcile.run, self.opts.state_root, job, verb, self.catalogs)
            self.runs.append((job.namespace, job.app, verb, outcome))
            return outcome

    def _job(self, body: Any, envs: Any) -> tuple[reconcile.Job | None, str | None, binding.EnvSettings]:
        meta, spec = body["metadata"], dict(body.get("spec") or {})
        ns, name = meta["namespace"], meta["name"]
        in_ns: dict[str, Any] = {}
        for env_body in envs.get(ns, []):
            in_ns[env_body["name"]] = env_body["spec"]
        chosen = binding.bind(spec, ns, sorted(in_ns))
        if chosen.environment is None:
            return None, chosen.problem, binding.EnvSettings()
        env_spec = dict(in_ns[chosen.environment])
        job = reconcile.Job(
            namespace=ns,
            app=name,
            env=chosen.environment,
            app_doc=binding.app_document(name, ns, meta, spec),
            env_doc=binding.environment_document(chosen.environment, env_spec),
            timeout_s=self.opts.timeout_s,
            env_revision=binding.environment_revision(chosen.environment, env_spec),
            catalog=binding.catalog_ref(env_spec),
            catalog_bundle=binding.bundle_ref(env_spec),
            runner=self.opts.runner,
        )
        return job, None, binding.env_settings(env_spec)

    async def reconcile(
        self, body: Any, patch: Any, envs: Any, logger: Any, retry: int = 0, resync: bool = False
    ) -> None:
        job, problem, settings = self._job(body, envs)
        generation = int(body["metadata"].get("generation") or 0)
        if settings.suspend:
            kopf.info(body, reason="Suspended", message="the Environment is suspended: nothing applied")
            return
        if job is None:
            log.info(
                "%s/%s: Degraded (NoEnvironment): %s", body["metadata"]["namespace"], body["metadata"]["name"], problem
            )
            patch.status["conditions"] = reconcile.conditions(None, problem, _now(), generation)
            kopf.warn(body, reason="NoEnvironment", message=problem or "")
            return
        finalizers = list(body["metadata"].get("finalizers") or [])
        if FINALIZER not in finalizers:  # before the first write: a delete from now on destroys
            patch.metadata["finalizers"] = [*finalizers, FINALIZER]
        started = time.monotonic()
        outcome = await self._run(job, "apply")
        self._done[(job.namespace, job.app)] = generation
        log.info(
            "%s/%s %s: exit %d, %d units, %d terraform runs, %d kubernetes writes, %.1f s: %s",
            job.namespace,
            job.app,
            "resync" if resync else "reconcile",
            outcome.exit_code,
            len(outcome.units),
            outcome.terraform_runs,
            outcome.k8s_writes,
            time.monotonic() - started,
            logs.outcome_words(outcome.ok, outcome.reason, outcome.message),
        )
        revisions = binding.revision(job.app_doc, job.env_doc, outcome.catalog), job.env_revision
        if resync and reconcile.quiet_resync(outcome, body.get("status") or {}, *revisions, generation):
            self._resynced[(job.namespace, job.app)] = time.time()
            return
        self._report(body, patch, job, outcome, generation)
        if outcome.ok:
            return
        if retry + 1 < self.opts.retries:
            raise kopf.TemporaryError(outcome.message, delay=self.opts.backoff_s * (2**retry))
        logger.error("giving up after %d attempts until the next change or resync: %s", retry + 1, outcome.message)

    def _report(self, body: Any, patch: Any, job: reconcile.Job, outcome: reconcile.Outcome, generation: int) -> None:
        patch.status["conditions"] = reconcile.conditions(outcome, None, _now(), generation)
        patch.status["units"] = {unit: {"status": status} for unit, status in sorted(outcome.units.items())}
        patch.status["observedGeneration"] = generation
        patch.status["lastReconcileTime"] = _now()
        patch.status["reconciledBy"] = self.opts.identity
        patch.status["environment"] = job.env
        patch.status["environmentRevision"] = job.env_revision
        if outcome.ok:
            patch.status["lastAppliedRevision"] = binding.revision(job.app_doc, job.env_doc, outcome.catalog)
            kopf.info(body, reason="Applied", message=f"{len(outcome.units)} units, {outcome.k8s_writes} writes")
        else:
            kopf.warn(body, reason=outcome.reason, message=outcome.message)

    async def destroy(self, body: Any, patch: Any, envs: Any) -> None:
        finalizers = list(body["metadata"].get("finalizers") or [])
        if FINALIZER not in finalizers:
            return  # never applied by a controller
        job, problem, _ = self._job(body, envs)
        if job is not None:
            outcome = await self._run(job, "destroy")
            if reconcile.protected_refusal(outcome):
                kopf.warn(body, reason="Protected", message=outcome.message)
                raise kopf.TemporaryError(f"protected: {outcome.message}", delay=300)
            if not outcome.ok:
                raise kopf.TemporaryError(outcome.message, delay=self.opts.backoff_s)
        else:
            kopf.warn(body, reason="NothingToDestroy", message=f"{problem}; the finalizer is removed")
        patch.metadata["finalizers"] = [f for f in finalizers if f != FINALIZER]

    async def tick(self, body: Any, patch: Any, envs: Any, logger: Any) -> None:
        """Every TICK_SECONDS: an Application whose last reconcile never finished (a replica
        died, a shard moved) runs now; any other one when its Environment's resync is due."""
        job, _, settings = self._job(body, envs)
        status = body.get("status") or {}
        last = status.get("lastReconcileTime")
        if settings.suspend or body["metadata"].get("deletionTimestamp"):
            return
        meta = body["metadata"]
        if any(lock.locked() for key, lock in self._guards.items() if key[:2] == (meta["namespace"], meta["name"])):
            return  # a reconcile is running; this body is older than its result
        generation = meta.get("generation")
        behind = (
            status.get("observedGeneration") != generation
            and self._done.get((meta["namespace"], meta["name"])) != generation
        )
        env_moved = job is not None and status.get("environmentRevision") not in (
            None,
            job.env_revision,
        )
        if behind or env_moved or not last:
            await self.reconcile(body, patch, envs, logger)
            return
        since = datetime.datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
        since = max(since, self._resynced.get((meta["namespace"], meta["name"]), 0.0))
        if time.time() - since >= settings.resync_seconds:
            await self.reconcile(body, patch, envs, logger, resync=True)

    async def environment_changed(self, namespace: str, name: str, spec: Any, envs: Any, apps: Any) -> None:
        """An Environment was created or edited: nudge every Application of this replica that
        is bound to it and was last reconciled with another revision of it (the annotation
        its update handler watches). The resync tick compares the same digest, so a nudge
        lost while no replica ran is still caught."""
        env_revision = binding.environment_revision(name, dict(spec or {}))
        env_names = sorted({e["name"] for e in envs.get(namespace, [])} | {name})
        stale = binding.stale_applications(list(apps.get(namespace, [])), name, env_names, env_revision)
        for app in stale:
            if self.mine(namespace, app):
                await asyncio.to_thread(
                    self.nudger.annotate, namespace, app, binding.ENV_REVISION_ANNOTATION, env_revision
                )

    def _register(self) -> None:
        self._register_environments()
        self._register_applications()
        self._register_settings()

    def _register_environments(self) -> None:
        reg, apps, envs = self.registry, (GROUP, VERSION, "applications"), (GROUP, VERSION, "environments")

        @kopf.index(*envs, id="environments", registry=reg)
        def environments(name: str, namespace: str, spec: Any, **_: Any) -> Any:
            return {namespace: {"name": name, "spec": dict(spec)}}

        @kopf.index(*apps, id="applications", registry=reg)
        def applications(name: str, namespace: str, spec: Any, status: Any, **_: Any) -> Any:
            bound = {"environment": spec.get("environment"), "environmentRevision": status.get("environmentRevision")}
            return {namespace: {"name": name, **bound}}

        # An event handler (no stored diff): every replica sees every change and nudges its own.
        @kopf.on.event(*envs, registry=reg)
        async def environment(
            type: str, name: str, namespace: str, spec: Any, environments: Any, applications: Any, **_: Any
        ) -> None:
            if type != "DELETED":
                await self.environment_changed(namespace, name, spec, environments, applications)

    def _register_applications(self) -> None:
        reg, apps = self.registry, (GROUP, VERSION, "applications")

        def mine(name: str, namespace: str, **_: Any) -> bool:
            return self.mine(namespace, name)

        @kopf.on.resume(*apps, when=mine, registry=reg)
        @kopf.on.create(*apps, when=mine, registry=reg)
        @kopf.on.update(*apps, field="spec", when=mine, registry=reg)
        async def applied(body: Any, patch: Any, environments: Any, logger: Any, retry: int, **_: Any) -> None:
            await self.reconcile(body, patch, environments, logger, retry)

        @kopf.on.update(
            *apps, field=("metadata", "annotations", binding.ENV_REVISION_ANNOTATION), when=mine, registry=reg
        )
        async def environment_moved(
            body: Any, patch: Any, environments: Any, logger: Any, retry: int, **_: Any
        ) -> None:
            await self.reconcile(body, patch, environments, logger, retry)

        # optional: kopf keeps no finalizer of its own (a replica that does not own the shard
        # would remove it); the controller adds and removes FINALIZER itself.
        @kopf.on.delete(*apps, when=mine, optional=True, registry=reg)
        async def deleted(body: Any, patch: Any, environments: Any, **_: Any) -> None:
            await self.destroy(body, patch, environments)

        # No `when` filter: kopf evaluates filters on changes only, and a shard that moves here
        # must be picked up without one.
        @kopf.timer(*apps, interval=self.opts.tick_s, initial_delay=self.opts.tick_s, registry=reg)
        async def tick(body: Any, patch: Any, environments: Any, logger: Any, **_: Any) -> None:
            if self.mine(body["metadata"]["namespace"], body["metadata"]["name"]):
                await self.tick(body, patch, environments, logger)

    def _register_settings(self) -> None:
        reg = self.registry
        kopf.on.login(registry=reg)(kube_login.login)

        @kopf.on.startup(registry=reg)
        def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.persistence.finalizer = "composer.dev/timers"  # kopf's own, to stop timers cleanly
            settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="composer.dev")
            settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
                prefix="composer.dev", key="last-handled"
            )
            settings.posting.level = 20  # info and up become Kubernetes events
            settings.watching.server_timeout = 300


async def serve(opts: ControllerOptions, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or the process is signalled), logging one line per reconcile
    to stderr (composer/controller/logs.py)."""
    logs.configure(opts.verbose)
    await serve_controller(Controller(opts), stop)


async def serve_controller(controller: Controller, stop: asyncio.Event | None = None) -> None:
    opts = controller.opts
    liveness = f"http://0.0.0.0:{opts.health_port}/healthz" if opts.health_port else None
    leases_done = threading.Event()
    if controller.keeper is not None:
        threading.Thread(target=controller.keeper.loop, args=(leases_done,), daemon=True).start()
    try:
        await kopf.operator(
            registry=controller.registry,
            clusterwide=not opts.namespaces,
            namespaces=list(opts.namespaces),
            standalone=True,
            liveness_endpoint=liveness,
            stop_flag=stop,
        )
    finally:
        leases_done.set()
