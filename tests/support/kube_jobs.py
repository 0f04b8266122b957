"""A kubelet for the Kubernetes API stand-in's Jobs: the stand-in stores Jobs but runs no pods,
so this runs the container of each Job it is given (by label) as a local process, as a node
would: it creates the Job's Pod, lays out its volumes in a temporary directory (ConfigMap items,
Secret keys, emptyDirs, and a projected ServiceAccount token asked of the stand-in's
TokenRequest API), maps every mount path in the command's arguments and environment to that
directory (the process cannot see /composer/...), runs it with the Job's activeDeadlineSeconds,
and writes back what a node and the Job controller would: the pod's terminated state with its
termination message, and the Job's Complete or Failed condition. The container's `appc` is this
checkout's `python -m composer` (the project's image runs the same entrypoint). It stands in for
the cluster at an I/O seam only; what it cannot show (real scheduling, the kubelet's volume
layout, Pod Security on a real node) is listed in docs/controller.md.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SELECTOR = "composer.dev/runner=terraform-unit"


@dataclass(frozen=True)
class ContainerFault:
    """How a node reports a container that fails without a termination message: `reason`
    (OOMKilled, ...) with `exit_code` and `log` as its output; or, `waiting`, a container that
    never starts (ErrImagePull, ...) with `log` as the waiting message."""

    reason: str
    log: str = ""
    exit_code: int = 137
    waiting: bool = False


MAX_MESSAGE = 4096
IMAGE_ENV = ("PATH", "TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_DIR", "COMPOSER_PROVIDER_MIRROR", "LANG")


class JobExecutor:
    def __init__(self, api_client: Any, log_dir: Path, poll_s: float = 0.3) -> None:
        from kubernetes import client

        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.poll_s = poll_s
        self.log_dir = log_dir  # each pod's output, as it runs (`kubectl logs`)
        self.started: list[str] = []  # "namespace/job" in the order they ran
        self.environments: dict[str, dict[str, str]] = {}  # job -> the process environment it ran with
        self.logs: dict[str, str] = {}
        self._seen: set[str] = set()
        self._faults: list[ContainerFault] = []  # played by the next Jobs' containers, in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def fail_next(self, fault: ContainerFault) -> None:
        """The next Job's container does not run `appc`: it plays what a node reports when a
        container dies without a termination message (killed for memory) or never starts (an
        image that cannot be pulled: the Job's deadline then fails it and its pod is removed)."""
        self._faults.append(fault)

    def _post_log(self, ns: str, pod: str, text: str) -> None:
        """The container's output, served by the stand-in as `pods/POD/log` (`kubectl logs`)."""
        import json
        import urllib.request

        body = json.dumps({"namespace": ns, "name": pod, "text": text}).encode()
        host = self.core.api_client.configuration.host.rstrip("/")
        req = urllib.request.Request(
            f"{host}/standin/pod-log", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(req, timeout=10).read()  # noqa: S310 - the stand-in on loopback

    def __enter__(self) -> JobExecutor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as exc:  # a test's server went away; the next tick tries again
                self.logs.setdefault("executor", "")
                self.logs["executor"] += f"{type(exc).__name__}: {exc}\n"
            self._stop.wait(self.poll_s)

    def _tick(self) -> None:
        jobs = self.batch.list_job_for_all_namespaces(label_selector=SELECTOR).items
        live = set()
        for job in jobs:
            key = f"{job.metadata.namespace}/{job.metadata.name}"
            live.add(job.metadata.name)
            if key in self._seen or job.spec.suspend:
                continue
            self._seen.add(key)
            self.started.append(key)
            raw = self.batch.api_client.sanitize_for_serialization(job)
            threading.Thread(target=self._run_reporting, args=(raw,), daemon=True).start()
        for pod in self.core.list_pod_for_all_namespaces(label_selector=SELECTOR).items:
            if (pod.metadata.labels or {}).get("job-name") not in live:  # the garbage collector's part
                self.core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace)

    def _run_reporting(self, job: dict[str, Any]) -> None:
        try:
            self._run(job)
        except Exception:
            import traceback

            self.logs["executor"] = self.logs.get("executor", "") + traceback.format_exc()

    def _run(self, job: dict[str, Any]) -> None:
        meta, spec = job["metadata"], job["spec"]
        ns, name = meta["namespace"], meta["name"]
        pod_spec = spec["template"]["spec"]
        labels = {**(spec["template"]["metadata"].get("labels") or {}), "job-name": name}
        labels["batch.kubernetes.io/job-name"] = name
        pod_name = f"{name}-{secrets.token_hex(3)[:5]}"
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "labels": labels}, "spec": pod_spec}
        self.core.create_namespaced_pod(ns, pod)
        deadline = int(spec.get("activeDeadlineSeconds") or 600)
        fault = self._faults.pop(0) if self._faults else None
        if fault is not None and fault.waiting:
            self._never_started(ns, name, pod_name, pod_spec, fault, deadline)
            return
        if fault is not None:
            code, message, reason = fault.exit_code, "", fault.reason
            self._post_log(ns, pod_name, fault.log)
        else:
            with tempfile.TemporaryDirectory(prefix="appc-pod-") as tmp:
                code, message = self._container(ns, name, pod_spec, Path(tmp), deadline)
            reason = "Completed" if code == 0 else "Error"
            self._post_log(ns, pod_name, self.logs.get(f"{ns}/{name}", ""))
        terminated = {"exitCode": code, "reason": reason, "message": message}
        status = {
            "phase": "Succeeded" if code == 0 else "Failed",
            "containerStatuses": [
                {
                    "name": pod_spec["containers"][0]["name"],
                    "ready": False,
                    "restartCount": 0,
                    "image": "",
                    "imageID": "",
                    "state": {"terminated": terminated},
                }
            ],
        }
        self.core.patch_namespaced_pod_status(pod_name, ns, {"status": status})
        kind = "Complete" if code == 0 else "Failed"
        condition = {"type": kind, "status": "True", "reason": "Completed" if code == 0 else "BackoffLimitExceeded"}
        job_status = {"succeeded" if code == 0 else "failed": 1, "conditions": [condition]}
        try:
            self.batch.patch_namespaced_job_status(name, ns, {"status": job_status})
        except Exception:  # deleted meanwhile
            pass

    def _never_started(
        self, ns: str, job: str, pod: str, pod_spec: Mapping[str, Any], fault: ContainerFault, deadline: int
    ) -> None:
        """A container stuck waiting: at the Job's deadline the Job controller fails the Job
        (DeadlineExceeded) and removes its pod."""
        waiting = {"reason": fault.reason, "message": fault.log}
        container = {"name": pod_spec["containers"][0]["name"], "ready": False, "restartCount": 0, "image": ""}
        status = {
            "phase": "Pending",
            "containerStatuses": [{**container, "imageID": "", "state": {"waiting": waiting}}],
        }
        self.core.patch_namespaced_pod_status(pod, ns, {"status": status})
        time.sleep(deadline)
        self.core.delete_namespaced_pod(pod, ns)
        message = "Job was active longer than specified deadline"
        condition = {"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": message}
        try:
            self.batch.patch_namespaced_job_status(job, ns, {"status": {"failed": 1, "conditions": [condition]}})
        except Exception:  # deleted meanwhile
            pass

    def _volumes(self, ns: str, pod_spec: Mapping[str, Any], tmp: Path) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for volume in pod_spec.get("volumes") or []:
            where = tmp / "volumes" / volume["name"]
            where.mkdir(parents=True)
            out[volume["name"]] = where
            if "configMap" in volume:
                cm = self._wait_for(self.core.read_namespaced_config_map, volume["configMap"]["name"], ns)
                data = {k: v.encode() for k, v in (cm.data or {}).items()}
                data |= {k: base64.b64decode(v) for k, v in (cm.binary_data or {}).items()}
                for item in volume["configMap"].get("items") or [{"key": k, "path": k} for k in data]:
                    target = where / item["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data[item["key"]])
            elif "secret" in volume:
                secret = self._wait_for(self.core.read_namespaced_secret, volume["secret"]["secretName"], ns)
                for key, value in (secret.data or {}).items():
                    (where / key).write_bytes(base64.b64decode(value))
            elif "projected" in volume:
                for source in volume["projected"]["sources"]:
                    token = source["serviceAccountToken"]
                    body = {"spec": {"audiences": [token["audience"]], "expirationSeconds": token["expirationSeconds"]}}
                    answer = self.core.create_namespaced_service_account_token(pod_spec["serviceAccountName"], ns, body)
                    (where / token["path"]).write_text(answer.status.token)
        return out

    def _wait_for(self, read: Any, name: str, namespace: str) -> Any:
        """The kubelet retries a volume whose ConfigMap or Secret is not there yet."""
        from kubernetes.client.exceptions import ApiException

        for _ in range(100):
            try:
                return read(name, namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                time.sleep(0.1)
        return read(name, namespace)

    def _container(self, ns: str, job: str, pod_spec: Mapping[str, Any], tmp: Path, deadline: int) -> tuple[int, str]:
        container = pod_spec["containers"][0]
        volumes = self._volumes(ns, pod_spec, tmp)
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts") or []}
        message_file = tmp / "termination-log"
        message_file.touch()
        mounts[container.get("terminationMessagePath") or "/dev/termination-log"] = message_file

        def local(value: str) -> str:
            for path in sorted(mounts, key=len, reverse=True):
                if value == path or value.startswith(path + "/"):
                    return str(mounts[path]) + value[len(path) :]
            return value

        command = list(container.get("command") or ["appc"])
        assert command[0] == "appc", command
        argv = [sys.executable, "-m", "composer", *command[1:], *(local(a) for a in container.get("args") or [])]
        env = {k: v for k, v in os.environ.items() if k in IMAGE_ENV}
        env |= {e["name"]: local(e.get("value") or "") for e in container.get("env") or []}
        self.environments[f"{ns}/{job}"] = env
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{ns}.{job}.log"
        with log.open("wb") as out:
            try:
                code = subprocess.run(argv, env=env, cwd=tmp, stdout=out, stderr=out, timeout=deadline).returncode
            except subprocess.TimeoutExpired:
                code = 137
        self.logs[f"{ns}/{job}"] = log.read_text(errors="replace")[-4000:]
        return code, message_file.read_text()[:MAX_MESSAGE]
