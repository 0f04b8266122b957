"""`appc controller run --runner job`: the Terraform port of a reconcile's child `appc apply`
whose unit applies and destroys run as Kubernetes Jobs (composer/runners/controller_job_spec.py
builds them), so that Terraform's work spreads over the cluster's nodes and the controller only
orchestrates. Everything else the engine asks of Terraform (a saved plan's apply, a protected
unit's plan, `state list` before a destroy, `output` when a result had no room for them) runs in
the child through the local runner, initialised only when first needed.

One Job per unit run: created suspended, then its ConfigMap (the root and its modules) and Secret
(input variables, the one-time result key) are created owned by it, then it starts. The child
waits for its pod to terminate (bounded by the Job's deadline plus a grace), reads the encrypted
result from the termination message (controller_job_result.py) and deletes all three.
docs/controller.md, "The job runner".
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer import safefs
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.ports import Changes, TerraformFailure
from composer.model.environment import Environment
from composer.model.environment_identity import Identity
from composer.runners import controller_job_logs as logs
from composer.runners import controller_job_spec as spec
from composer.runners.terraform import TerraformRunner
from composer.runners.web_identity import (
    IdentityFiles,
    audience,
    gcp_credential_config,
    identity_environment,
    is_setting,
)

if TYPE_CHECKING:  # the result's module (cryptography) loads only when a Job runs
    from composer.runners.controller_job_result import UnitResult

RUNNER_ENV = "COMPOSER_RUNNER"  # "job": the controller asks its child for this runner
IMAGE_ENV = "COMPOSER_RUNNER_IMAGE"
NAMESPACE_ENV = "COMPOSER_RUNNER_NAMESPACE"
GRACE_S = 120.0  # past the Job's deadline: the pod's termination is reported within this


@dataclass(frozen=True)
class JobSettings:
    image: str
    namespace: str
    app: str
    identity: Identity | None = None
    poll_s: float = 1.0
    settings_env: Mapping[str, str] = field(default_factory=dict)  # regions, endpoints: handed to the pod


def settings_from(env: Mapping[str, str], app: str, identity: Identity | None) -> JobSettings | None:
    """The job runner's settings when the controller asked for it (None: run Terraform here)."""
    if env.get(RUNNER_ENV) != "job":
        return None
    passed = {k: v for k, v in env.items() if is_setting(k)}
    return JobSettings(env.get(IMAGE_ENV) or "", env.get(NAMESPACE_ENV) or "default", app, identity, 1.0, passed)


def port_for(local: TerraformRunner, app: str, environment: Environment, timeout: float) -> Any:
    """The child's Terraform port: the job runner when the controller asked for it, else `local`.
    Jobs need the state in a shared backend: refused before anything runs, with the reason."""
    settings = settings_from(os.environ, app, environment.spec.identity)
    if settings is None:
        return local
    if environment.spec.state.backend == "local":
        raise DiagnosticError(
            [
                Diagnostic(
                    "the job runner needs the Environment's state in a shared backend",
                    "a unit's Job runs in its own pod, which cannot reach this process's disk: set spec.state "
                    "to s3, gcs or azurerm, or run the controller with --runner process",
                    path=("spec", "state", "backend"),
                )
            ]
        )
    return JobTerraform(local, settings, timeout)


def _failure(unit: str, summary: str, detail: str = "") -> TerraformFailure:
    return TerraformFailure([Diagnostic(summary, detail, address=unit)])


def pack(workdir: Path) -> dict[str, bytes]:
    """The unit's root (its own files, no Terraform cache, state or plan) and the modules it
    calls by relative path, keyed by their path below the workspace root."""
    base = workdir.parent.parent
    unit_rel = f"{workdir.parent.name}/{workdir.name}"
    files: dict[str, bytes] = {}
    for name in safefs.list_dir(base, unit_rel):
        if name.startswith((".appc", ".terraform/")) or name == ".terraform" or ".tfstate" in name:
            continue
        if name.endswith(".tfplan"):
            continue
        data = safefs.read_file(base, f"{unit_rel}/{name}")
        if data is not None:
            files[f"{unit_rel}/{name}"] = data
    root = json.loads(files.get(f"{unit_rel}/main.tf.json") or b"{}")
    for call in (root.get("module") or {}).values():
        source = str(call.get("source") or "")
        module_rel = source.removeprefix("../../")
        if source.startswith("../../modules/") and ".." not in module_rel.split("/"):
            for rel in safefs.walk(base, module_rel):
                data = None if rel.endswith("/") else safefs.read_file(base, f"{module_rel}/{rel}")
                if data is not None:
                    files[f"{module_rel}/{rel}"] = data
    return files


class JobTerraform:
    """The TerraformPort whose unit applies and destroys are Jobs (see the module's docstring)."""

    def __init__(self, local: TerraformRunner, settings: JobSettings, timeout: float) -> None:
        self.local = local
        self.settings = settings
        self.timeout = timeout
        self.jobs = 0
        self._initialised: set[str] = set()
        self._backend: dict[str, Mapping[str, str] | None] = {}
        self._api: tuple[Any, Any] | None = None

    @property
    def runs(self) -> int:
        return self.local.runs + self.jobs

    def close(self) -> None:
        self.local.close()

    def init(self, unit: str, workdir: Path, backend_config: Mapping[str, str] | None = None) -> None:
        self._backend[unit] = backend_config  # a Job inits in its pod; here only when a local step needs it
        self._initialised.discard(unit)

    def _local(self, unit: str, workdir: Path) -> TerraformRunner:
        if unit not in self._initialised:
            self.local.init(unit, workdir, self._backend.get(unit))
            self._initialised.add(unit)
        return self.local

    def plan(
        self, unit: str, workdir: Path, planfile: Path, variables: Mapping[str, str] | None = None, **kw: Any
    ) -> Changes:
        return self._local(unit, workdir).plan(unit, workdir, planfile, variables, **kw)

    def show(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]:
        return self._local(unit, workdir).show(unit, workdir, planfile)

    def show_json(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]:
        return self._local(unit, workdir).show_json(unit, workdir, planfile)

    def outputs(self, unit: str, workdir: Path) -> dict[str, tuple[Any, bool]]:
        return self._local(unit, workdir).outputs(unit, workdir)

    def resources(self, unit: str, workdir: Path) -> list[str] | None:
        return self._local(unit, workdir).resources(unit, workdir)

    def apply(
        self,
        unit: str,
        workdir: Path,
        planfile: Path | None = None,
        variables: Mapping[str, str] | None = None,
        *,
        destroy: bool = False,
    ) -> Changes:
        if planfile is not None:  # a saved plan is bound to this directory's init: applied here
            return self._local(unit, workdir).apply(unit, workdir, planfile, variables, destroy=destroy)
        result = self._run_job(unit, workdir, dict(variables or {}), "destroy" if destroy else "apply")
        if not result.ok:
            raise TerraformFailure(list(result.diagnostics) or [Diagnostic("the unit's Job failed", address=unit)])
        return result.changes

    def request(self, unit: str, workdir: Path, verb: str) -> spec.JobRequest:
        files = pack(workdir)
        env: dict[str, str] = dict(self.settings.settings_env)
        token_audience = None
        identity = self.settings.identity
        if identity is not None:
            token_audience = audience(identity)
            gcp_path = f"{spec.INPUTS}/gcp-credentials.json" if identity.gcp is not None else ""
            files_for = IdentityFiles(spec.TOKEN_PATH, gcp_path)
            env.update(identity_environment(identity, files_for, f"{self.settings.app}.{unit}"))
            if gcp_path:
                files["gcp-credentials.json"] = gcp_credential_config(identity, spec.TOKEN_PATH).encode()
        size = spec.inputs_size(files)
        if size > spec.MAX_CONFIG_MAP_BYTES:
            raise _failure(
                unit,
                f"the root and modules of unit {unit} are {size} bytes, over what a ConfigMap holds",
                f"a Job's inputs travel in one ConfigMap (at most {spec.MAX_CONFIG_MAP_BYTES} bytes); "
                "run this Environment's Applications with the process runner",
            )
        return spec.JobRequest(
            name=f"appc-{self.settings.app[:20]}-{unit[:20]}-{secrets.token_hex(4)}".replace("--", "-"),
            namespace=self.settings.namespace,
            app=self.settings.app,
            unit=unit,
            verb=verb,
            image=self.settings.image,
            service_account=identity.service_account if identity is not None else "default",
            deadline_s=int(self.timeout),
            files=files,
            env=env,
            token_audience=token_audience,
        )

    def _clients(self) -> tuple[Any, Any]:
        if self._api is None:
            from kubernetes import client

            from composer.runners.kube_login import configuration

            api = client.ApiClient(configuration())
            self._api = (client.BatchV1Api(api), client.CoreV1Api(api))
        return self._api

    def _run_job(self, unit: str, workdir: Path, variables: dict[str, str], verb: str) -> UnitResult:
        from kubernetes.client.exceptions import ApiException

        from composer.runners.controller_job_result import decode, new_key

        req = self.request(unit, workdir, verb)
        key = new_key()
        secret_values = [*variables.values(), key.decode()]
        batch, core = self._clients()
        self.jobs += 1
        try:
            created = batch.create_namespaced_job(req.namespace, spec.job(req))
            owner = {"name": req.name, "uid": created.metadata.uid}
            core.create_namespaced_config_map(req.namespace, spec.config_map(req, owner))
            core.create_namespaced_secret(req.namespace, spec.secret(req, json.dumps(variables).encode(), key, owner))
            batch.patch_namespaced_job(req.name, req.namespace, {"spec": {"suspend": False}})
            end = self._wait(unit, req)
            result = decode(end.message, key)
            if result is None:  # the pod died before writing one: its log says why (read before the clean-up)
                tail = logs.log_tail(core, req.namespace, end.pod, secret_values)
                raise _failure(unit, *logs.no_result(f"{req.namespace}/{req.name}", unit, end, tail))
        except ApiException as exc:
            raise _failure(unit, f"the Job for unit {unit} could not be run: {exc.status} {exc.reason}") from None
        finally:
            self._clean_up(req)
        return result

    def _wait(self, unit: str, req: spec.JobRequest) -> logs.PodEnd:
        """How the Job's pod ended, once it terminated. A Job that failed without a pod (its
        deadline passed) fails with the Job's reason and what kept its container from starting."""
        batch, core = self._clients()
        deadline = time.monotonic() + req.deadline_s + GRACE_S
        waiting = ""
        while time.monotonic() < deadline:
            pods = core.list_namespaced_pod(req.namespace, label_selector=f"job-name={req.name}").items
            for pod in pods:
                end = logs.pod_end(pod)
                if end is not None:
                    return end
            waiting = logs.waiting_reason(pods) or waiting
            job = batch.read_namespaced_job(req.name, req.namespace)
            for cond in (job.status and job.status.conditions) or []:
                if cond.type == "Failed" and cond.status == "True" and not pods:
                    why = f"; its container never started: {waiting}" if waiting else ""
                    raise _failure(
                        unit, f"the Job {req.namespace}/{req.name} failed: {cond.reason}: {cond.message}{why}"
                    )
            time.sleep(self.settings.poll_s)
        why = f": its container never started: {waiting}" if waiting else ""
        raise _failure(
            unit, f"the Job {req.namespace}/{req.name} did not finish within {req.deadline_s + GRACE_S:.0f}s{why}"
        )

    def _clean_up(self, req: spec.JobRequest) -> None:
        """The Job (its pods with it), its ConfigMap and Secret; a leftover goes with the Job's TTL."""
        from kubernetes.client.exceptions import ApiException

        batch, core = self._clients()
        for delete in (
            lambda: batch.delete_namespaced_job(req.name, req.namespace, propagation_policy="Background"),
            lambda: core.delete_namespaced_secret(req.name, req.namespace),
            lambda: core.delete_namespaced_config_map(req.name, req.namespace),
        ):
            try:
                delete()
            except ApiException:
                pass
