"""KubeVela's `nocalhost` trait (vela-templates/definitions/internal/trait/nocalhost.cue).

The trait needs no controller at deploy time: it writes the development configuration that
the Nocalhost IDE plugin reads, as JSON in the workload's `dev.nocalhost` annotation (with
`dev.nocalhost/application-name`), and a ClusterIP Service for `port`. Composer does the same:
the annotations go on the main object through a json-merge-patch trait (the workload only, as
KubeVela patches it), and `port` is exposed on the component's own Service (webservice, daemon,
statefulset). The JSON follows the definition, defaults and language images included.
`dev.nocalhost/application-namespace` is the one value Composer cannot know while loading (the
environment decides the namespace): it is left out, and a warning says so.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from composer.diagnostics import FieldPath
from composer.model.oam_storage import kind_of
from composer.model.oam_trait_container import expose, has_ports

if TYPE_CHECKING:
    from composer.model.oam_traits import TraitRewriter

DEV_IMAGES = {
    lang: f"nocalhost-docker.pkg.coding.net/nocalhost/dev-images/{name}:latest"
    for lang, name in (("go", "golang"), ("java", "java"), ("python", "python"), ("node", "node"), ("ruby", "ruby"))
}
KNOWN = {
    "port",
    "serviceType",
    "gitUrl",
    "image",
    "shell",
    "workDir",
    "storageClass",
    "command",
    "debug",
    "hotReload",
    "sync",
    "env",
    "portForward",
    "persistentVolumeDirs",
    "resources",
}
# The definition's defaults, merged under what the user gives (nested mappings merge).
DEFAULTS: dict[str, Any] = {
    "serviceType": "deployment",
    "shell": "bash",
    "workDir": "/home/nocalhost-dev",
    "command": {"run": ["sh", "run.sh"], "debug": ["sh", "debug.sh"]},
    "hotReload": True,
    "sync": {
        "type": "send",
        "filePattern": ["./"],
        "ignoreFilePattern": [".git", ".vscode", ".idea", ".gradle", "build"],
    },
    "resources": {"limits": {"memory": "2Gi", "cpu": "2"}, "requests": {"memory": "512Mi", "cpu": "0.5"}},
}
SHAPE = "as KubeVela's nocalhost definition has it (docs/oam.md, traits)"
ENTRY_KEYS = {"env": {"name", "value"}, "persistentVolumeDirs": {"path", "capacity"}}


def _merged(default: Any, given: Any) -> Any:
    if isinstance(default, dict) and isinstance(given, dict):
        return {k: _merged(default.get(k), given[k]) if k in given else default[k] for k in {**default, **given}}
    return default if given is None else given


def _dev(p: dict[str, Any], name: str) -> dict[str, Any]:
    """The `dev` section of the one container the definition describes, in its field order."""
    o = _merged(DEFAULTS, p)
    dev: dict[str, Any] = {}
    if "gitUrl" in o:
        dev["gitUrl"] = o["gitUrl"]
    dev["image"] = DEV_IMAGES.get(o["image"], o["image"])
    dev["shell"] = o["shell"]
    dev["workDir"] = o["workDir"]
    if "storageClass" in o:
        dev["storageClass"] = o["storageClass"]
    dev["resources"] = {"limits": o["resources"]["limits"], "requests": o["resources"]["requests"]}
    if "persistentVolumeDirs" in o:
        dev["persistentVolumeDirs"] = [
            {"path": v.get("path"), "capacity": v.get("capacity")} for v in o["persistentVolumeDirs"]
        ]
    dev["command"] = o["command"]
    if "debug" in o:
        dev["debug"] = o["debug"]
    dev["hotReload"] = o["hotReload"]
    dev["sync"] = o["sync"]
    if "env" in o:
        dev["env"] = [{"name": v.get("name"), "value": v.get("value")} for v in o["env"]]
    dev["portForward"] = o.get("portForward", [f"{o['port']}:{o['port']}"])
    return {"name": name, "serviceType": o["serviceType"], "containers": [{"name": name, "dev": dev}]}


def _checked(r: TraitRewriter, p: dict[str, Any], ppath: FieldPath) -> bool:
    r.unknown(p, ppath, KNOWN, "nocalhost")
    ok = True
    if not isinstance(p.get("port"), int) or isinstance(p.get("port"), bool):
        r.c.error(ppath + ("port",) if "port" in p else ppath, "nocalhost needs port (a number)", "the port to forward")
        ok = False
    if not isinstance(p.get("image"), str):
        r.c.error(
            ppath + ("image",) if "image" in p else ppath,
            "nocalhost needs image",
            "a language (go, java, python, node, ruby) or a development image",
        )
        ok = False
    for key, kind in (
        ("env", list),
        ("persistentVolumeDirs", list),
        ("command", dict),
        ("sync", dict),
    ):
        if key in p and not isinstance(p[key], kind):
            r.c.error(ppath + (key,), f"expected {kind_of(kind())} for {key}, got {kind_of(p[key])}", SHAPE)
            ok = False
    resources = p.get("resources", {})
    parts = resources.items() if isinstance(resources, dict) else [((), resources)]
    for part, value in parts:
        if part not in ("limits", "requests") or not isinstance(value, dict):
            r.c.error(
                ppath + ("resources", *((part,) if part else ())),
                "expected resources: {limits: {...}, requests: {...}}",
                SHAPE,
            )
            ok = False
    for key in ("env", "persistentVolumeDirs"):
        if isinstance(p.get(key), list) and any(not isinstance(v, dict) for v in p[key]):
            r.c.error(ppath + (key,), f"expected a list of mappings for {key}", SHAPE)
            ok = False
        entries: list[Any] = p[key] if isinstance(p.get(key), list) else []
        for i, v in enumerate(entries):
            if isinstance(v, dict):
                r.unknown(v, ppath + (key, i), ENTRY_KEYS[key], "nocalhost")
    return ok


def nocalhost(r: TraitRewriter, p: dict[str, Any], ppath: FieldPath) -> dict[str, Any] | None:
    if not _checked(r, p, ppath):
        return None
    if not has_ports(r, ppath, "nocalhost"):
        return None
    name: str = r.comp["name"] if isinstance(r.comp.get("name"), str) else ""
    expose(r, {"port": [p["port"]]}, ppath)
    r.c.warn(
        ppath[:-1] + ("type",),
        "nocalhost: the dev.nocalhost/application-namespace annotation is not written",
        "the environment decides the namespace; point Nocalhost at it",
    )
    annotations = {
        "dev.nocalhost/application-name": r.c.app_name,
        "dev.nocalhost": json.dumps(_dev(p, name), separators=(",", ":")),
    }
    return {"type": "json-merge-patch", "properties": {"metadata": {"annotations": annotations}}}
