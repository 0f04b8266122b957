"""Update validation of the stand-in: which fields a real API server refuses to change, and
with which 422 causes (tests/support/kube_standin.py calls ``immutable_causes`` on every
update, after the merge).

Each rule names the validation function of kubernetes/kubernetes it follows:

* Job (``pkg/apis/batch/validation/validation.go``, ``ValidateJobSpecUpdate``):
  ``spec.selector``, ``spec.template``, ``spec.completionMode`` and ``spec.completions``
  (outside elastic indexed Jobs) are immutable: ``spec.template: Invalid value: ...: field is immutable``.
* StatefulSet (``pkg/apis/apps/validation/validation.go``, ``ValidateStatefulSetUpdate``): only
  replicas, ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy and
  minReadySeconds may change; anything else is ``spec: Forbidden: updates to statefulset spec
  for fields other than ... are forbidden``.
* PersistentVolumeClaim (``pkg/apis/core/validation/validation.go``,
  ``ValidatePersistentVolumeClaimUpdate``): the spec is immutable except
  ``resources.requests`` (and volumeAttributesClassName) of a bound claim; storage may grow,
  never shrink: ``spec.resources.requests.storage: Forbidden: field can not be less than previous value``.
* Service (``ValidateServiceUpdate``): ``spec.clusterIP`` may not change once set.
* Secret (``ValidateSecretUpdate``): ``type`` is immutable; Secret and ConfigMap with
  ``immutable: true`` may not change data nor go back to mutable (``ValidateConfigMapUpdate``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

Cause = tuple[str, str, str]  # reason, field, message

STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
STATEFULSET_FORBIDDEN = (
    "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
PVC_FORBIDDEN = "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
JOB_IMMUTABLE = ("selector", "template", "completionMode", "completions")

_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def quantity(text: Any) -> Decimal | None:
    """A resource.Quantity's value ("10Gi" -> 10737418240), or None if it does not parse."""
    s = str(text).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and s.endswith(suffix):
            number, factor = s[: -len(suffix)], _SUFFIXES[suffix]
            break
    else:
        number, factor = s, 1
    try:
        return Decimal(number) * Decimal(factor)
    except InvalidOperation:
        return None


def _invalid(field: str, value: Any) -> Cause:
    return ("FieldValueInvalid", field, f"Invalid value: {json.dumps(value, sort_keys=True)}: field is immutable")


def _job(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Cause]:
    ospec, nspec = old.get("spec") or {}, new.get("spec") or {}
    return [_invalid(f"spec.{k}", nspec.get(k)) for k in JOB_IMMUTABLE if ospec.get(k) != nspec.get(k)]


def _statefulset(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Cause]:
    def strip(spec: Mapping[str, Any] | None) -> dict[str, Any]:
        return {k: v for k, v in (spec or {}).items() if k not in STATEFULSET_MUTABLE}

    return (
        [("FieldValueForbidden", "spec", STATEFULSET_FORBIDDEN)]
        if strip(old.get("spec")) != strip(new.get("spec"))
        else []
    )


def _pvc(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Cause]:
    ospec, nspec = dict(old.get("spec") or {}), dict(new.get("spec") or {})
    o_req = (ospec.pop("resources", None) or {}).get("requests") or {}
    n_req = (nspec.pop("resources", None) or {}).get("requests") or {}
    ospec.pop("volumeAttributesClassName", None)
    nspec.pop("volumeAttributesClassName", None)
    if ospec != nspec:
        return [("FieldValueForbidden", "spec", PVC_FORBIDDEN)]
    before, after = quantity(o_req.get("storage", "0")), quantity(n_req.get("storage", "0"))
    if before is not None and after is not None and after < before:
        return [
            (
                "FieldValueForbidden",
                "spec.resources.requests.storage",
                "Forbidden: field can not be less than previous value",
            )
        ]
    if o_req != n_req and (old.get("status") or {}).get("phase") != "Bound":
        return [("FieldValueForbidden", "spec", PVC_FORBIDDEN)]
    return []


def _service(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Cause]:
    before, after = (old.get("spec") or {}).get("clusterIP"), (new.get("spec") or {}).get("clusterIP")
    if before and before != "None" and after != before:
        return [("FieldValueInvalid", "spec.clusterIP", f"Invalid value: {json.dumps(after)}: field is immutable")]
    return []


def _config(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    if kind == "Secret" and old.get("type", "Opaque") != new.get("type", "Opaque"):
        out.append(_invalid("type", new.get("type")))
    if old.get("immutable"):
        if not new.get("immutable"):
            out.append(("FieldValueForbidden", "immutable", "Forbidden: field is immutable when `immutable` is set"))
        if old.get("data") != new.get("data") or old.get("binaryData") != new.get("binaryData"):
            out.append(("FieldValueForbidden", "data", "Forbidden: field is immutable when `immutable` is set"))
    return out


def immutable_causes(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Cause]:
    """The 422 causes a real API server gives for this update (empty: allowed)."""
    if kind == "Job":
        return _job(old, new)
    if kind == "StatefulSet":
        return _statefulset(old, new)
    if kind == "PersistentVolumeClaim":
        return _pvc(old, new)
    if kind == "Service":
        return _service(old, new)
    if kind in ("Secret", "ConfigMap"):
        return _config(kind, old, new)
    return []
