"""KubeVela component properties that Composer reads as traits: `hostAliases` (webservice,
daemon, statefulset, cron-task) becomes the `pod` trait, as the hostalias trait does; cron-task's
`ttlSecondsAfterFinished` and `activeDeadlineSeconds` go into the CronJob's job template through
a json-merge-patch, where cron-task.cue puts them; and the probes that task.cue and cron-task.cue
accept but never apply are taken out with a warning that says so; daemon's deprecated `port`
is its container port. Each follows the component
definition under vela-templates/definitions/internal/component/. See oam_traits.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from composer.diagnostics import FieldPath
from composer.model.oam_storage import kind_of

if TYPE_CHECKING:
    from composer.model.oam_traits import TraitRewriter

HOST_ALIASES = ("webservice", "daemon", "statefulset", "cron-task")
JOB_SPEC = ("ttlSecondsAfterFinished", "activeDeadlineSeconds")
UNUSED_PROBES = ("task", "cron-task")


def read_properties(r: TraitRewriter) -> None:
    ctype = r.comp.get("type")
    ppath = r.cpath + ("properties",)
    if ctype in HOST_ALIASES and "hostAliases" in r.props:
        r.add({"type": "pod", "properties": {"hostAliases": r.props.pop("hostAliases")}}, ppath + ("hostAliases",))
    if ctype == "cron-task":
        job: dict[str, Any] = {}
        for key in JOB_SPEC:
            if key not in r.props:
                continue
            value = r.props.pop(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                r.c.error(ppath + (key,), f"expected a number of seconds for {key}, got {kind_of(value)}", "e.g. 600")
                continue
            job[key] = value
        if job:
            patch = {"spec": {"jobTemplate": {"spec": job}}}
            r.add({"type": "json-merge-patch", "properties": patch}, ppath + (sorted(job)[0],))
    if ctype == "daemon" and "port" in r.props:
        _daemon_port(r, ppath)
    if ctype in UNUSED_PROBES:
        for key in ("livenessProbe", "readinessProbe"):
            if key in r.props:
                r.props.pop(key)
                r.c.warn(
                    ppath + (key,),
                    f"{key} is not used on a {ctype}",
                    f"KubeVela's {ctype} definition accepts it but does not apply it either: remove it",
                )


def _daemon_port(r: TraitRewriter, ppath: FieldPath) -> None:
    """daemon.cue's deprecated `port`: the container's port (not exposed), unless `ports` is given."""
    port = r.props.pop("port")
    if "ports" in r.props:
        r.c.warn(ppath + ("port",), "port is not used next to ports", "as in KubeVela's daemon: move it into ports")
    elif isinstance(port, bool) or not isinstance(port, int):
        r.c.error(ppath + ("port",), f"expected a port number, got {kind_of(port)}", "e.g. port: 9100")
    else:
        r.props["ports"] = [{"port": port, "expose": False}]
        r.c.relocate(ppath + ("port",), ppath + ("ports", 0, "port"))
