"""Why a unit's Job failed when its pod left no result (`--runner job`): the container's end as
the kubelet reported it (reason, exit code), what kept it from starting (an image that cannot be
pulled, a missing volume), and a bounded tail of the pod's log with the Job's secret values
masked. The child puts this into the unit's diagnostic, so the Application's Degraded condition
and its event say why without `kubectl logs`. docs/controller.md, "The job runner".

Masking: every value the Job was given in its Secret (the input variables, secret ones included,
and the one-time result key) is replaced by "(sensitive)" wherever it appears in the log, as
the rest of Composer shows secret values; values shorter than MIN_MASKED characters are too
common to mask without garbling the log and too short to be a credential.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from composer.engine.changes import SENSITIVE
from composer.runners.controller_job_spec import LIMITS

TAIL_LINES = 20  # asked of the API server
TAIL_CHARS = 600  # kept for the condition and the event (kopf cuts events at 1024 characters)
READ_BYTES = 64 * 1024  # a log line can be long: the API server sends at most this
MIN_MASKED = 4


@dataclass(frozen=True)
class PodEnd:
    """The first container of a Job's pod, terminated."""

    pod: str
    message: str  # the termination message: the encrypted result, or empty
    reason: str = ""  # Completed, Error, OOMKilled, ...
    exit_code: int | None = None


def pod_end(pod: Any) -> PodEnd | None:
    for status in (pod.status and pod.status.container_statuses) or []:
        terminated = status.state and status.state.terminated
        if terminated is not None:
            code = terminated.exit_code
            return PodEnd(pod.metadata.name, str(terminated.message or ""), str(terminated.reason or ""), code)
    return None


def waiting_reason(pods: Iterable[Any]) -> str:
    """Why a pod's container has not started (ImagePullBackOff: ..., CreateContainerConfigError: ...)."""
    for pod in pods:
        for status in (pod.status and pod.status.container_statuses) or []:
            waiting = status.state and status.state.waiting
            if waiting is not None and waiting.reason and waiting.reason != "ContainerCreating":
                return f"{waiting.reason}: {waiting.message}" if waiting.message else str(waiting.reason)
    return ""


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value (and its JSON-escaped form) replaced, longest first."""
    forms: set[str] = set()
    for value in secrets:
        if len(value) >= MIN_MASKED:
            forms.update({value, json.dumps(value)[1:-1]})
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, SENSITIVE)
    return text


def log_tail(core: Any, namespace: str, pod: str, secrets: Iterable[str]) -> str:
    """The last lines of the pod's log, masked and bounded ("" when the API server has none)."""
    from kubernetes.client.exceptions import ApiException

    try:
        raw = core.read_namespaced_pod_log(
            pod, namespace, tail_lines=TAIL_LINES, limit_bytes=READ_BYTES, _preload_content=False
        )
        text = raw.data.decode("utf-8", errors="replace")
    except (ApiException, OSError):
        return ""
    lines = [line.rstrip() for line in mask(text, secrets).splitlines() if line.strip()]
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) + 1 > TAIL_CHARS:
            if not kept:  # one long line: its end
                kept.append("…" + line[-(TAIL_CHARS - 1) :])
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(reversed(kept))


def no_result(job: str, unit: str, end: PodEnd, tail: str) -> tuple[str, str]:
    """The summary and detail of a unit whose pod ended without a readable result."""
    how = end.reason or "terminated"
    if end.exit_code is not None:
        how += f", exit {end.exit_code}"
    summary = f"the Job {job} of unit {unit} ended without a result ({how})"
    if end.reason == "OOMKilled":
        summary += f": the pod ran out of memory (the Job's limit is {LIMITS['memory']})"
    detail = f"its log ends:\n{tail}" if tail else "its pod left no log"
    return summary, detail
