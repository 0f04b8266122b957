"""KubeVela's storage trait (vela-templates/definitions/internal/trait/storage.cue) as Composer's
volume trait: claim, ConfigMap and Secret names and creation as KubeVela makes them, mountToEnv
as env vars, and a clear error for what Composer lacks. Mixed into the OAM converter
(composer/model/oam.py), whose error / warn / relocate it uses."""

from __future__ import annotations

from typing import Any

from composer.diagnostics import FieldPath

VOLUME_MOUNT_HINTS = {
    "hostPath": "a hostPath volume hands the pod the node's files, which Pod Security 'restricted' (Composer's "
    "default for every pod, docs/security.md) forbids: use a pvc, configMap, secret or emptyDir volume, or give a "
    "node agent that must read the node as a k8s-objects component, in a namespace whose Pod Security level allows it",
}

STORAGE_KEYS = {
    "pvc": {"name", "mountOnly", "mountPath", "subPath", "accessModes", "storageClassName", "resources", "volumeMode"},
    "configMap": {
        "name",
        "mountOnly",
        "mountPath",
        "subPath",
        "readOnly",
        "data",
        "defaultMode",
        "items",
        "mountToEnv",
        "mountToEnvs",
    },
    "secret": {
        "name",
        "mountOnly",
        "mountPath",
        "subPath",
        "readOnly",
        "defaultMode",
        "items",
        "mountToEnv",
        "mountToEnvs",
    },
    "emptyDir": {"name", "mountPath", "subPath", "medium"},
}
STORAGE_VOLUME_PREFIX = {"pvc": "pvc", "configMap": "configmap", "secret": "secret", "emptyDir": "emptydir"}
STORAGE_HINTS = {
    **VOLUME_MOUNT_HINTS,
    "data": "Composer writes no Secret data from app.yaml: create the Secret outside (or bind it with a connection) and mount it",
    "stringData": "Composer writes no Secret data from app.yaml: create the Secret outside (or bind it with a connection) and mount it",
}
DEFAULT_FILE_MODE = 420  # 0644, Kubernetes' own default for configMap/secret volumes


def kind_of(value: Any) -> str:
    return {str: "text", list: "a list", dict: "a mapping", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "nothing" if value is None else type(value).__name__
    )


class StorageTranslation:
    """The storage part of the converter; `self` also has error, warn, relocate and storage_env."""

    error: Any
    warn: Any
    relocate: Any
    storage_env: dict[str, Any]

    def storage(self, props: dict[str, Any], ppath: FieldPath) -> dict[str, Any]:
        """KubeVela's storage trait -> Composer's volume trait (names and creation as KubeVela does them)."""
        out: dict[str, Any] = {}
        for kind, items in props.items():
            kpath = ppath + (kind,)
            if kind not in STORAGE_KEYS:
                self.error(
                    kpath,
                    f"storage type {kind!r} is not supported",
                    STORAGE_HINTS.get(kind, "expected pvc, configMap, secret or emptyDir"),
                    key=True,
                )
                continue
            out[kind] = (
                [e for e in (self.storage_entry(kind, v, kpath + (i,)) for i, v in enumerate(items)) if e is not None]
                if isinstance(items, list)
                else items
            )
        return out

    def storage_entry(self, kind: str, v: Any, vpath: FieldPath) -> Any:
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            return v  # the volume schema reports the shape
        mount_only = self.check_storage_fields(kind, v, vpath)
        name = v["name"]
        self.mount_to_env(kind, v, vpath)
        entry: dict[str, Any] = {"name": f"{STORAGE_VOLUME_PREFIX[kind]}-{name}"}
        for key in ("mountPath", "subPath"):
            if key in v:
                entry[key] = v[key]
        if isinstance(v.get("items"), list):  # KubeVela's default mode for an item is 511 (0777)
            entry["items"] = [{**i, "mode": i.get("mode", 511)} if isinstance(i, dict) else i for i in v["items"]]
        if "mountPath" not in v and kind != "configMap":
            if kind == "secret" and not mount_only:
                self.secret_not_created(name, vpath)
            return None  # nothing to mount: only env (mountToEnv) or nothing at all
        if kind == "pvc":
            self.claim_entry(entry, v, vpath, mount_only)
        elif kind == "configMap":
            self.config_map_entry(entry, v, vpath, mount_only)
        elif kind == "secret":
            entry["secretName"] = name
            self.relocate(vpath + ("name",), vpath + ("secretName",))
            if not mount_only:
                self.secret_not_created(name, vpath)
            if "readOnly" in v:
                entry["readOnly"] = v["readOnly"]
        elif "medium" in v:
            entry["medium"] = v["medium"]
        return entry

    def check_storage_fields(self, kind: str, v: dict[str, Any], vpath: FieldPath) -> bool:
        """Refuse the fields Composer does not read; returns mountOnly."""
        for key in sorted(set(v) - STORAGE_KEYS[kind]):
            hint = STORAGE_HINTS.get(key) if key not in ("data", "stringData") or kind == "secret" else None
            self.error(
                vpath + (key,),
                f"storage {kind} field {key!r} is not supported",
                hint or "see docs/oam.md for the storage fields Composer reads",
                key=True,
            )
        if v.get("defaultMode", DEFAULT_FILE_MODE) != DEFAULT_FILE_MODE:
            self.error(vpath + ("defaultMode",), "a defaultMode other than 420 (0644) is not supported")
        mount_only = v.get("mountOnly", False)
        if not isinstance(mount_only, bool):
            self.error(vpath + ("mountOnly",), f"mountOnly must be true or false, got {kind_of(mount_only)}")
        return mount_only is True

    def secret_not_created(self, name: str, vpath: FieldPath) -> None:
        self.warn(
            vpath,
            f"Secret {name!r} is not created",
            "KubeVela creates it (empty) unless mountOnly: true; Composer writes no Secret from app.yaml: create it outside, or set mountOnly: true",
        )

    def claim_entry(self, entry: dict[str, Any], v: dict[str, Any], vpath: FieldPath, mount_only: bool) -> None:
        entry["claimName"] = v["name"]
        self.relocate(vpath + ("name",), vpath + ("claimName",))
        if v.get("volumeMode", "Filesystem") != "Filesystem":
            self.error(
                vpath + ("volumeMode",),
                f"volumeMode {v['volumeMode']!r} is not supported",
                "Composer mounts claims as file systems",
            )
        if mount_only:
            for key in ("accessModes", "storageClassName", "resources"):
                if key in v:
                    self.error(
                        vpath + (key,),
                        f"{key} has no effect with mountOnly: true",
                        "the claim exists already; remove it",
                        key=True,
                    )
            return
        entry["create"] = True
        entry["accessModes"] = v.get("accessModes", ["ReadWriteOnce"])
        if "storageClassName" in v:
            entry["storageClassName"] = v["storageClassName"]
        entry["resources"] = self.pvc_resources(v.get("resources", {}), vpath + ("resources",))

    def config_map_entry(self, entry: dict[str, Any], v: dict[str, Any], vpath: FieldPath, mount_only: bool) -> None:
        entry["cmName"] = v["name"]
        self.relocate(vpath + ("name",), vpath + ("cmName",))
        if "readOnly" in v:
            entry["readOnly"] = v["readOnly"]
        if not mount_only:
            entry["data"] = v.get("data", {})  # KubeVela creates the ConfigMap, empty without data
        elif "data" in v:
            self.error(
                vpath + ("data",),
                "data has no effect with mountOnly: true",
                "remove mountOnly to create the ConfigMap, or remove data",
                key=True,
            )

    def mount_to_env(self, kind: str, v: dict[str, Any], vpath: FieldPath) -> None:
        """storage mountToEnv(s): env vars read from the ConfigMap or Secret (valueFrom), as KubeVela sets them."""
        ref, key_field = ("configMapKeyRef", "configMapKey") if kind == "configMap" else ("secretKeyRef", "secretKey")
        shape = f"expected {{envName: NAME, {key_field}: KEY}}"
        entries: list[tuple[Any, FieldPath]] = []
        if "mountToEnv" in v:
            entries.append((v["mountToEnv"], vpath + ("mountToEnv",)))
        if "mountToEnvs" in v and not isinstance(v["mountToEnvs"], list):
            self.error(
                vpath + ("mountToEnvs",), f"expected a list for mountToEnvs, got {kind_of(v['mountToEnvs'])}", shape
            )
        elif "mountToEnvs" in v:
            entries += [(e, vpath + ("mountToEnvs", i)) for i, e in enumerate(v["mountToEnvs"])]
        for e, epath in entries:
            if (
                not isinstance(e, dict)
                or not isinstance(e.get("envName"), str)
                or not isinstance(e.get(key_field), str)
            ):
                self.error(epath, f"mountToEnv needs envName and {key_field}", shape)
                continue
            for extra in sorted(set(e) - {"envName", key_field}):
                self.error(epath + (extra,), f"unknown field {extra!r} of mountToEnv", shape, key=True)
            self.storage_env[e["envName"]] = {"valueFrom": {ref: {"name": v["name"], "key": e[key_field]}}}

    def pvc_resources(self, res: Any, rpath: FieldPath) -> Any:
        if not isinstance(res, dict):
            return res  # the volume schema reports the shape
        for key in sorted(set(res) - {"requests"}):
            self.error(
                rpath + (key,),
                f"pvc resources.{key} is not supported",
                "Composer sets resources.requests.storage only",
                key=True,
            )
        requests = res.get("requests", {})
        if isinstance(requests, dict):
            for key in sorted(set(requests) - {"storage"}):
                self.error(
                    rpath + ("requests", key),
                    f"pvc resources.requests.{key} is not supported",
                    "expected storage",
                    key=True,
                )
            return {"requests": {"storage": requests.get("storage", "8Gi")}}  # KubeVela's default size
        return {"requests": requests}


def pod_metrics(c: Any, metrics: Any, mpath: FieldPath) -> Any:
    """hpa podCustomMetrics [{name, value}] -> Composer's podMetrics [{name, averageValue}] (hpa.cue)."""
    if not isinstance(metrics, list):
        return metrics  # the hpa schema reports the shape
    out = []
    for i, m in enumerate(metrics):
        if isinstance(m, dict):
            for extra in sorted(set(m) - {"name", "value"}):
                c.error(
                    mpath + (i, extra),
                    f"unknown field {extra!r} of podCustomMetrics",
                    "expected name and value",
                    key=True,
                )
            m = {"name": m.get("name"), "averageValue": m.get("value")}
        out.append(m)
    return out
