"""The objects of one Terraform unit Job, built from values (pure): the unit's root and the
modules it calls as a ConfigMap (rendered roots hold no secret: secret inputs travel as
variables), its input variables and the result key as a Secret, and the Job itself: the
project's image running `appc runner terraform-unit` (an argument list, never a shell), under
the Environment's ServiceAccount, meeting the `restricted` Pod Security level, with resource
requests, `activeDeadlineSeconds`, no retries and a TTL. docs/controller.md, "The job runner".
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_CONFIG_MAP_BYTES = 1024 * 1024 - 16 * 1024  # a ConfigMap's 1 MiB, less room for its metadata
INPUTS = "/composer/inputs"
SECRETS = "/composer/secrets"
WORK = "/composer/work"
TOKEN_DIR = "/var/run/secrets/composer.dev/identity"
TOKEN_PATH = f"{TOKEN_DIR}/token"
RESULT_PATH = "/dev/termination-log"
VARIABLES_KEY = "variables.json"
RESULT_KEY_KEY = "result.key"
UID = 10001
TTL_SECONDS = 600
TOKEN_SECONDS = 3600  # the kubelet refreshes a projected token before it expires
REQUESTS = {"cpu": "500m", "memory": "512Mi"}
LIMITS = {"memory": "2Gi"}
LABEL_APP = "composer.dev/application"
LABEL_UNIT = "composer.dev/unit"
MANAGED_BY = {"app.kubernetes.io/managed-by": "appc", "composer.dev/runner": "terraform-unit"}


@dataclass(frozen=True)
class JobRequest:
    """One unit's run: where and as whom, what it reads, and for how long."""

    name: str  # of the Job, its ConfigMap and its Secret
    namespace: str
    app: str
    unit: str
    verb: str  # apply | destroy
    image: str
    service_account: str
    deadline_s: int
    files: Mapping[str, bytes]  # path below INPUTS -> content
    env: Mapping[str, str] = field(default_factory=dict)  # identity and cloud settings (no secret)
    token_audience: str | None = None  # a projected ServiceAccount token for the identity


def inputs_size(files: Mapping[str, bytes]) -> int:
    return sum(len(k) + len(v) for k, v in files.items())


def _labels(req: JobRequest) -> dict[str, str]:
    return {**MANAGED_BY, LABEL_APP: req.app[:63], LABEL_UNIT: req.unit[:63]}


def config_map(req: JobRequest, owner: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The files under keys f0, f1, ... (a key cannot hold a '/'); the volume's items put each
    at its path. Bytes that are not UTF-8 go to binaryData."""
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for i, (_, content) in enumerate(sorted(req.files.items())):
        try:
            data[f"f{i}"] = content.decode()
        except UnicodeDecodeError:
            binary[f"f{i}"] = base64.b64encode(content).decode()
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(req, owner), "data": data}
    if binary:
        doc["binaryData"] = binary
    return doc


def secret(req: JobRequest, variables_json: bytes, result_key: bytes, owner: Mapping[str, Any]) -> dict[str, Any]:
    data = {VARIABLES_KEY: variables_json, RESULT_KEY_KEY: result_key}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _meta(req, owner),
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def _meta(req: JobRequest, owner: Mapping[str, Any] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": req.name, "namespace": req.namespace, "labels": _labels(req)}
    if owner is not None:  # removed with the Job (its TTL, or a delete)
        meta["ownerReferences"] = [
            {"apiVersion": "batch/v1", "kind": "Job", "name": owner["name"], "uid": owner["uid"], "controller": True}
        ]
    return meta


def _volumes(req: JobRequest) -> list[dict[str, Any]]:
    items = [{"key": f"f{i}", "path": path} for i, path in enumerate(sorted(req.files))]
    volumes: list[dict[str, Any]] = [
        {"name": "inputs", "configMap": {"name": req.name, "items": items}},
        {"name": "secrets", "secret": {"secretName": req.name, "defaultMode": 0o400}},
        {"name": "work", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if req.token_audience:
        token = {"audience": req.token_audience, "expirationSeconds": TOKEN_SECONDS, "path": "token"}
        volumes.append({"name": "identity", "projected": {"sources": [{"serviceAccountToken": token}]}})
    return volumes


def _container(req: JobRequest) -> dict[str, Any]:
    mounts = [
        {"name": "inputs", "mountPath": INPUTS, "readOnly": True},
        {"name": "secrets", "mountPath": SECRETS, "readOnly": True},
        {"name": "work", "mountPath": WORK},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if req.token_audience:
        mounts.append({"name": "identity", "mountPath": TOKEN_DIR, "readOnly": True})
    args = ["runner", "terraform-unit", "--unit", req.unit, "--verb", req.verb, "--inputs", INPUTS]
    args += ["--secrets", SECRETS, "--work", WORK, "--result", RESULT_PATH, "--timeout", str(req.deadline_s)]
    env = {"HOME": WORK, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", **req.env}
    return {
        "name": "terraform",
        "image": req.image,
        "command": ["appc"],
        "args": args,
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "resources": {"requests": dict(REQUESTS), "limits": dict(LIMITS)},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "terminationMessagePath": RESULT_PATH,
        "terminationMessagePolicy": "File",
        "volumeMounts": mounts,
    }


def job(req: JobRequest) -> dict[str, Any]:
    """Created suspended: its ConfigMap and Secret are created owned by it, then it starts."""
    pod_spec = {
        "restartPolicy": "Never",
        "serviceAccountName": req.service_account,
        "automountServiceAccountToken": False,  # the pod needs no API access; its cloud token is projected
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(req)],
        "volumes": _volumes(req),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(req, None),
        "spec": {
            "suspend": True,
            "backoffLimit": 0,
            "activeDeadlineSeconds": req.deadline_s,
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "template": {"metadata": {"labels": _labels(req)}, "spec": pod_spec},
        },
    }
