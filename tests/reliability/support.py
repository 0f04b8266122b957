"""Shared pieces of the reliability suite: the mixed cloud + cluster project, appc as a
process, what moto and the cluster hold, and processes left behind in a directory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.helpers import write
from tests.support.projects import TOKEN_MODULE, token_component

APP = "k9"
TOKENS = ("a", "b", "c")
WORKLOADS = ("api", "worker")


def cluster_env(namespace: str, name: str = "test") -> str:
    """A cloud (moto) + cluster (stand-in) environment. A cluster, not a GitOps directory: the
    directory sink refuses units whose secrets are plain Terraform outputs (the token module)."""
    return yaml.safe_dump(
        {
            "apiVersion": "composer.dev/v1alpha1",
            "kind": "Environment",
            "metadata": {"name": name},
            "spec": {
                "cloud": {"provider": "aws", "region": "us-east-1"},
                "kubernetes": {"context": "standin", "namespace": namespace},
            },
        },
        sort_keys=False,
    )


def mixed_components(tokens=TOKENS, workloads=WORKLOADS, chain: bool = True) -> str:
    """Token units (a Secrets Manager secret each; with `chain`, b reads a's ARN, so it runs
    after a) and workloads bound to them (connections, and `${c.token}` as a secretKeyRef)."""
    out = ""
    for i, t in enumerate(tokens):
        out += token_component(t, upstream=f"${{{tokens[0]}.arn}}" if i == 1 and chain else "")
    if "api" in workloads:
        conns = ", ".join(tokens[:2])
        out += f"    - {{name: api, type: webservice, properties: {{image: 'ghcr.io/acme/api:1.0', port: 8080}}, connections: [{conns}]}}\n"
    if "worker" in workloads:
        out += f"    - {{name: worker, type: worker, properties: {{image: 'ghcr.io/acme/worker:1.0', env: {{TOKEN: '${{{tokens[-1]}.token}}'}}}}}}\n"
    return out


def make_mixed_project(root: Path, namespace: str, components: str | None = None, app: str = APP) -> Path:
    files = {
        "app.yaml": f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: {app}}}\nspec:\n  components:\n{components or mixed_components()}",
        "environments/test.yaml": cluster_env(namespace),
    }
    files.update({f"modules/token/{k}": v for k, v in TOKEN_MODULE.items()})
    write(root, files)
    return root / "app.yaml"


def appc_process(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """appc as its own process (what a kill -9 needs), with this process' environment
    (AWS_* for moto, KUBECONFIG for the stand-in) unless `env` is given."""
    return subprocess.Popen(
        [sys.executable, "-c", "from composer.cli import main; main()", *map(str, args)],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env if env is not None else dict(os.environ),
    )  # fmt: skip


def state_of(root: Path, env: str = "test") -> dict | None:
    path = root / ".composer" / f"{env}.state.json"
    return json.loads(path.read_text()) if path.exists() else None


def moto_secrets(client) -> dict[str, str]:
    """name -> ARN of every Secrets Manager secret moto holds."""
    out: dict[str, str] = {}
    for page in client.get_paginator("list_secrets").paginate():
        out.update({s["Name"]: s["ARN"] for s in page["SecretList"]})
    return out


def state_secrets(state: dict) -> dict[str, str]:
    """name -> ARN of every secret the Composer state knows (the token units' outputs)."""
    return {
        f"{n}-token": u["outputs"]["arn"]
        for n, u in state["units"].items()
        if u["kind"] == "terraform" and "arn" in u["outputs"]
    }


KINDS = {"Deployment": "/apis/apps/v1/namespaces/{ns}/deployments", "Service": "/api/v1/namespaces/{ns}/services", "Secret": "/api/v1/namespaces/{ns}/secrets", "ConfigMap": "/api/v1/namespaces/{ns}/configmaps", "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs", "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"}  # fmt: skip


def cluster_objects(kube, namespace: str, app: str = APP) -> set[tuple[str, str]]:
    """(kind, name) of every object of `app` in the namespace, connection Secrets included."""
    out = set()
    for kind, path in KINDS.items():
        doc = kube.get(path.format(ns=namespace)) or {"items": []}
        for obj in doc["items"]:
            labels = obj["metadata"].get("labels") or {}
            if labels.get("composer.dev/app") == app or (
                kind == "Secret" and obj["metadata"]["name"].startswith(f"{app}-")
            ):
                out.add((kind, obj["metadata"]["name"]))
    return out


def state_objects(state: dict, target: str, app: str = APP) -> set[tuple[str, str]]:
    """What the state says the cluster holds: the inventory, plus a connection Secret per
    applied resource unit."""
    inv = {(i["kind"], i["name"]) for i in state["inventory"].get(target, [])}
    conns = {
        ("Secret", f"{app}-{n}-conn")
        for n, u in state["units"].items()
        if u["kind"] == "terraform" and u["status"] == "applied"
    }
    return inv | conns


def processes_under(root: Path) -> list[tuple[int, str]]:
    """Processes whose working directory is inside `root` (terraform and its provider plugins
    run in the unit's work directory): (pid, command line)."""
    root_s = str(Path(root).resolve())
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cwd = os.readlink(d / "cwd")
            if cwd == root_s or cwd.startswith(root_s + "/"):
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                if cmd:  # zombies have no command line and hold nothing
                    out.append((int(d.name), cmd[:200]))
        except OSError:
            continue
    return out


def wait_for_no_processes(root: Path, timeout: float = 60.0) -> list[tuple[int, str]]:
    deadline = time.monotonic() + timeout
    while True:
        left = processes_under(root)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


class MotoProcess:
    """A moto server of a test's own, as a process on a fixed port, so that it can be stopped
    and started again on the same address. With `recording`, moto records every request it
    receives (headers and body) to that file: the evidence for what a client sent."""

    def __init__(self, port: int | None = None, recording: Path | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.recording = recording
        self.proc: subprocess.Popen | None = None

    def start(self) -> MotoProcess:
        from tests.helpers import ROOT

        env = dict(os.environ)
        if self.recording is not None:
            env.update(MOTO_ENABLE_RECORDING="1", MOTO_RECORDER_FILEPATH=str(self.recording))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.moto_server", "--port", str(self.port), "--quiet"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        assert self.proc.stdout.readline().strip() == str(self.port)  # printed once it listens
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def aws_environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def forget_recording(self) -> None:
        import urllib.request

        urllib.request.urlopen(
            urllib.request.Request(f"{self.url}/moto-api/recorder/reset-recording", data=b"", method="POST"), timeout=10
        ).read()

    def retried_creates(self) -> set[str]:
        """Names of secrets whose CreateSecret the AWS SDK sent more than once (one invocation,
        attempt 2 or later): the first attempt reached moto, its answer did not reach the client."""
        import base64

        out = set()
        if self.recording is None or not self.recording.exists():
            return out
        for line in self.recording.read_text().splitlines():
            entry = json.loads(line)
            headers = entry.get("headers") or {}
            if headers.get("X-Amz-Target") != "secretsmanager.CreateSecret" or (
                headers.get("Amz-Sdk-Request") or ""
            ).startswith("attempt=1;"):
                continue
            body = base64.b64decode(entry["body"]).decode() if entry.get("body_encoded") else entry.get("body") or "{}"
            out.add(json.loads(body).get("Name"))
        return out


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise Hang in this (main) thread after `seconds`: a test fails instead of hanging."""

    def alarm(signum, frame):
        raise Hang(f"one input took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
