"""What a real API server refuses or needs in a particular order, known before writing: pure
functions of the rendered objects and the live ones, used by the cluster sink
(composer/runners/kubernetes.py).

- **PersistentVolumeClaims**: the spec of a claim is immutable but for a growing storage
  request (Kubernetes `ValidatePersistentVolumeClaimUpdate`). A shrink or a storage-class change
  is refused here, naming the component, before anything of the unit is written.
- **hpa ownership**: when a HorizontalPodAutoscaler starts to manage a workload whose
  `spec.replicas` appc applied so far, appc stops applying `replicas`. Applied alone, that would
  reset the field to its default (1) until the autoscaler acts. The Server-Side Apply docs
  ("Transferring ownership") hand the field over first: apply only `replicas`, at its live value,
  with a separate field manager, then drop it from appc's configuration; the autoscaler takes
  the field over from that manager without a scale-down.
- **typed-patch errors**: the paths and problems of a "failed to create typed patch object"
  answer, for a diagnostic per component and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from composer.diagnostics import Diagnostic

HANDOVER_MANAGER = "appc-handover-to-hpa"
SCALABLE = ("Deployment", "StatefulSet")

_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


def quantity(text: Any) -> Decimal | None:
    """A Kubernetes quantity's value ("10Gi" -> 10737418240); None when it does not parse."""
    s = str(text).strip()
    number, factor = s, Decimal(1)
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if s.endswith(suffix):
            number, factor = s[: -len(suffix)], Decimal(_SUFFIXES[suffix])
            break
    try:
        return Decimal(number) * factor
    except InvalidOperation:
        return None


def _storage(obj: Mapping[str, Any]) -> str | None:
    return (((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")


def pvc_refusals(component: str, label: str, desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[Diagnostic]:
    """Why the cluster would refuse to update a live claim to `desired` (empty: it would not)."""
    out = []
    want, have = (desired.get("spec") or {}).get("storageClassName"), (live.get("spec") or {}).get("storageClassName")
    if want is not None and want != have:
        out.append(
            Diagnostic(
                f"component {component}: {label} cannot change its storage class from {have!r} to {want!r}",
                "a claim's storage class is fixed once it is created. Keep the old class, or give the volume a new claim name (the data is not moved).",
                address=component,
            )
        )
    new_size, old_size = _storage(desired), _storage(live)
    new_q, old_q = quantity(new_size), quantity(old_size)
    if new_q is not None and old_q is not None and new_q < old_q:
        out.append(
            Diagnostic(
                f"component {component}: {label} cannot shrink from {old_size} to {new_size}",
                "Kubernetes lets a claim's storage request grow, never shrink. Keep the size at least "
                f"{old_size}, or give the volume a new claim name (the data is not moved).",
                address=component,
            )
        )
    return out


def hpa_targets(objects: list[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(kind, name) of the workloads an autoscaler among `objects` scales."""
    out = set()
    for o in objects:
        if o.get("kind") == "HorizontalPodAutoscaler":
            ref = (o.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind") in SCALABLE and ref.get("name"):
                out.add((ref["kind"], ref["name"]))
    return out


def owns_replicas(live: Mapping[str, Any], manager: str) -> bool:
    """Whether `manager`'s Apply entry owns spec.replicas of the live object."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
                return True
    return False


def handover_body(live: Mapping[str, Any]) -> dict:
    """The replicas-only configuration the handover manager applies."""
    meta = live.get("metadata") or {}
    body: dict[str, Any] = {
        "apiVersion": live.get("apiVersion"),
        "kind": live.get("kind"),
        "metadata": {"name": meta.get("name")},
    }
    if meta.get("namespace"):
        body["metadata"]["namespace"] = meta["namespace"]
    body["spec"] = {"replicas": (live.get("spec") or {}).get("replicas", 1)}
    return body


def typed_patch_diagnostic(component: str | None, label: str, problems: list[str]) -> Diagnostic:
    fields = sorted({p.split(": ", 1)[0] for p in problems if ": " in p})
    return Diagnostic(
        f"component {component}: {label} does not match the API schema"
        + (f" (field {', '.join(fields)})" if fields else ""),
        "; ".join(problems) + ". The API server could not read the object (a typed-patch error; not retried): "
        "fix the field name, its type, or the duplicate list entry in the component's manifest.",
        address=component,
    )
