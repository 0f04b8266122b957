"""KubeVela's `helmchart` component (vela-templates/definitions/internal/component/helmchart.cue),
read as FluxCD objects in a `k8s-objects` component.

KubeVela's controller fetches and renders the chart itself. Composer runs no Helm: it renders
the chart's source (a `HelmRepository`, `type: oci` for an `oci://` source) and a `HelmRelease`
that FluxCD's source- and helm-controllers install, with every parameter mapped field by field
(a warning says Flux must run in the cluster). Defaults follow the definition: chart version
`latest`, release name the component's, `maxHistory: 10`, `timeout: 5m`, no waiting, no tests.
The release lands in the app's namespace, like every Composer component, so `release.namespace`
is a warning; what has no Flux counterpart (a direct `.tgz` URL, `atomic`, `recreatePods`,
cross-namespace references) is an error at its line. docs/oam.md has the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from composer.diagnostics import FieldPath
from composer.model.oam_storage import kind_of

if TYPE_CHECKING:
    from composer.model.oam import _Converter

SOURCE_API = "source.toolkit.fluxcd.io/v1"
RELEASE_API = "helm.toolkit.fluxcd.io/v2"
SHAPE = "as KubeVela's helmchart definition has it (docs/oam.md, helmchart)"
INTERVAL = "5m"  # KubeVela re-renders a chart about every five minutes; Flux reconciles as often

TOP = {"chart", "release", "values", "valuesFrom", "healthStatus", "options"}
CHART = {"source", "repoURL", "version", "auth"}
OPTIONS = {
    "includeCRDs",
    "skipTests",
    "skipHooks",
    "createNamespace",
    "timeout",
    "maxHistory",
    "atomic",
    "wait",
    "force",
    "recreatePods",
    "cleanupOnFail",
    "cache",
}
NO_FLUX_COUNTERPART = {
    "atomic": "Flux remediates a failed release with spec.upgrade.remediation: write the HelmRelease "
    "yourself in a k8s-objects component",
    "recreatePods": "Helm 3 and Flux have no recreate-pods: roll the pods with a changed value instead",
}


class HelmChart:
    """One helmchart component, translated; `c` is the converter (error, warn, relocate, pin)."""

    def __init__(self, c: _Converter, comp: dict[str, Any], cpath: FieldPath):
        self.c = c
        self.comp = comp
        self.cpath = cpath
        self.ppath = cpath + ("properties",)
        self.name: str = comp["name"] if isinstance(comp.get("name"), str) else "chart"

    def run(self) -> dict[str, Any]:
        props = self.comp.get("properties")
        if not isinstance(props, dict):
            self.c.error(self.ppath, f"expected helmchart properties as a mapping, got {kind_of(props)}", SHAPE)
            return self.comp
        self.known(props, self.ppath, TOP, "helmchart")
        chart = props.get("chart")
        if not isinstance(chart, dict) or not isinstance(chart.get("source"), str) or not chart["source"]:
            self.c.error(
                self.ppath + ("chart",) if "chart" in props else self.ppath,
                "a helmchart needs chart.source",
                "the chart's name (with chart.repoURL) or an oci:// reference",
            )
            return self.comp
        self.known(chart, self.ppath + ("chart",), CHART, "helmchart chart")
        self.c.warn(
            self.cpath + ("type",),
            "helmchart is installed by FluxCD: Composer renders a HelmRepository and a HelmRelease",
            "the cluster needs Flux's source-controller and helm-controller (flux install); "
            "KubeVela renders the chart in its own controller",
        )
        repo = self.repository(chart)
        release = self.release(props, chart)
        objects = [repo, release] if repo else [release]
        self.c.pin(self.ppath + ("objects",), self.ppath)
        for i in range(len(objects)):
            self.c.pin(self.ppath + ("objects", i), self.ppath)
        return {**self.comp, "type": "k8s-objects", "properties": {"objects": objects}}

    def known(self, value: dict[str, Any], path: FieldPath, known: set[str], what: str) -> None:
        for key in sorted(set(value) - known):
            self.c.error(
                path + (key,),
                f"unknown field {key!r} of {what}",
                f"expected one of: {', '.join(sorted(known))}",
                key=True,
            )

    # -- the chart's source ----------------------------------------------------------

    def repository(self, chart: dict[str, Any]) -> dict[str, Any] | None:
        cpath = self.ppath + ("chart",)
        source: str = chart["source"]
        spec: dict[str, Any] = {"interval": INTERVAL}
        if source.startswith("oci://"):
            base, _, _name = source.rpartition("/")
            spec = {"type": "oci", **spec, "url": base}
            if "repoURL" in chart:
                self.c.error(cpath + ("repoURL",), "repoURL is not used with an oci:// source", "remove it", key=True)
        elif source.startswith(("https://", "http://")):
            self.c.error(
                cpath + ("source",),
                "a chart from a direct URL is not supported",
                "Flux installs charts from a Helm repository or an OCI registry: give the chart's name in "
                "source and the repository in repoURL",
            )
            return None
        elif not isinstance(chart.get("repoURL"), str) or not chart["repoURL"]:
            self.c.error(
                cpath + ("source",),
                f"chart {source!r} needs chart.repoURL",
                "the Helm repository that serves it, e.g. https://charts.example.com",
            )
            return None
        else:
            spec["url"] = chart["repoURL"]
            self.c.relocate(cpath + ("repoURL",), self.ppath + ("objects", 0, "spec", "url"))
        secret = self.secret_ref(chart.get("auth"), cpath + ("auth",))
        if secret:
            spec["secretRef"] = secret
        return {"apiVersion": SOURCE_API, "kind": "HelmRepository", "metadata": {"name": self.name}, "spec": spec}

    def secret_ref(self, auth: Any, apath: FieldPath) -> dict[str, Any] | None:
        if auth is None:
            return None
        if not isinstance(auth, dict):
            self.c.error(apath, f"expected auth as {{secretRef: {{name}}}}, got {kind_of(auth)}", SHAPE)
            return None
        self.known(auth, apath, {"secretRef"}, "helmchart chart.auth")
        ref = auth.get("secretRef")
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
            self.c.error(apath + ("secretRef",), "expected secretRef: {name: SECRET}", SHAPE)
            return None
        self.known(ref, apath + ("secretRef",), {"name", "namespace"}, "helmchart chart.auth.secretRef")
        self.same_namespace(ref, apath + ("secretRef",), "the credentials Secret")
        return {"name": ref["name"]}

    def same_namespace(self, ref: dict[str, Any], path: FieldPath, what: str) -> None:
        if "namespace" in ref:
            self.c.error(
                path + ("namespace",),
                f"a namespace for {what} is not supported",
                "Flux reads it from the release's namespace, which is the app's: remove namespace",
                key=True,
            )

    # -- the release ------------------------------------------------------------------

    def release(self, props: dict[str, Any], chart: dict[str, Any]) -> dict[str, Any]:
        index = 1 if chart["source"].startswith("oci://") or chart.get("repoURL") else 0
        opath = self.ppath + ("objects", index, "spec")
        source = chart["source"].rpartition("/")[2] if chart["source"].startswith("oci://") else chart["source"]
        version = chart.get("version", "latest")
        spec: dict[str, Any] = {
            "interval": INTERVAL,
            "releaseName": self.release_name(props.get("release")),
            "chart": {
                "spec": {
                    "chart": source,
                    "version": "*" if version == "latest" else version,
                    "sourceRef": {"kind": "HelmRepository", "name": self.name},
                }
            },
        }
        if "values" in props:
            spec["values"] = props["values"]
            self.c.relocate(self.ppath + ("values",), opath + ("values",))
        if "valuesFrom" in props:
            spec["valuesFrom"] = self.values_from(props["valuesFrom"])
        spec.update(self.options(props.get("options"), props.get("healthStatus")))
        meta = {"name": self.name}
        return {"apiVersion": RELEASE_API, "kind": "HelmRelease", "metadata": meta, "spec": spec}

    def release_name(self, release: Any) -> str:
        rpath = self.ppath + ("release",)
        if release is None:
            return self.name
        if not isinstance(release, dict):
            self.c.error(rpath, f"expected release as {{name, namespace}}, got {kind_of(release)}", SHAPE)
            return self.name
        self.known(release, rpath, {"name", "namespace"}, "helmchart release")
        if "namespace" in release:
            self.c.warn(
                rpath + ("namespace",),
                f"release namespace {release['namespace']!r} is not used: the chart is installed in the app's namespace",
                "the environment decides the namespace of every component (spec.kubernetes.namespace)",
            )
        name = release.get("name", self.name)
        if isinstance(name, str) and name:
            return name
        self.c.error(rpath + ("name",), f"expected the release name as text, got {kind_of(name)}", SHAPE)
        return self.name

    def values_from(self, sources: Any) -> Any:
        vpath = self.ppath + ("valuesFrom",)
        if not isinstance(sources, list):
            self.c.error(vpath, f"expected a list of {{kind, name}}, got {kind_of(sources)}", SHAPE)
            return []
        out = []
        for i, s in enumerate(sources):
            spath = vpath + (i,)
            if not isinstance(s, dict) or s.get("kind") not in ("ConfigMap", "Secret") or "name" not in s:
                self.c.error(spath, "expected {kind: ConfigMap | Secret, name: NAME}", SHAPE)
                continue
            self.known(s, spath, {"kind", "name", "namespace", "key", "optional"}, "helmchart valuesFrom")
            self.same_namespace(s, spath, f"the {s['kind']}")
            entry = {"kind": s["kind"], "name": s["name"], "valuesKey": s.get("key", "values.yaml")}
            if s.get("optional", False):
                entry["optional"] = s["optional"]
            out.append(entry)
        return out

    def health_status(self, health: Any) -> None:
        """healthStatus: [{resource: {kind, name}, condition: {type, status}}], checked though Flux decides health."""
        hpath = self.ppath + ("healthStatus",)
        for i, h in enumerate(health if isinstance(health, list) else [health]):
            if (
                not isinstance(h, dict)
                or not isinstance(h.get("resource"), dict)
                or not isinstance(h.get("condition"), dict)
            ):
                self.c.error(hpath + (i,), "expected {resource: {kind, name}, condition: {type, status}}", SHAPE)
                continue
            self.known(h, hpath + (i,), set(HEALTH_SHAPE), "helmchart healthStatus")
            for part, keys in HEALTH_SHAPE.items():
                self.known(h[part], hpath + (i, part), keys, f"helmchart healthStatus {part}")

    def options(self, options: Any, health: Any) -> dict[str, Any]:
        """KubeVela's options onto Flux's install / upgrade / test settings, defaults included."""
        opath = self.ppath + ("options",)
        if options is not None and not isinstance(options, dict):
            self.c.error(opath, f"expected options as a mapping, got {kind_of(options)}", SHAPE)
            options = {}
        o = {**DEFAULTS, **(options or {})}
        if options:
            self.known(options, opath, OPTIONS, "helmchart options")
        for key, default in DEFAULTS.items():
            if not isinstance(o[key], type(default)) or isinstance(o[key], bool) != isinstance(default, bool):
                self.c.error(
                    opath + (key,),
                    f"expected {kind_of(default)} for {key}, got {kind_of(o[key])}",
                    f"{SHAPE}; default {default!r}",
                )
                o[key] = default
        for key, why in NO_FLUX_COUNTERPART.items():
            if o[key]:
                self.c.error(opath + (key,), f"{key} is not supported", why)
        if isinstance((options or {}).get("cache"), dict):
            self.known(
                options["cache"], opath + ("cache",), {"key", "ttl", "immutableTTL", "mutableTTL"}, "helmchart cache"
            )
        if "cache" in (options or {}):
            self.c.warn(
                opath + ("cache",),
                "cache settings are not used",
                "Flux's source-controller keeps the chart and fetches it again every interval",
            )
        wait = bool(o["wait"])
        if health is not None:
            self.health_status(health)
            self.c.warn(
                self.ppath + ("healthStatus",),
                "healthStatus is read as wait: true",
                "Flux's helm-controller waits until every object of the release is ready, not only the named ones",
            )
            wait = True
        crds = "Create" if o["includeCRDs"] else "Skip"
        install: dict[str, Any] = {"crds": crds, "createNamespace": o["createNamespace"]}
        upgrade: dict[str, Any] = {"crds": crds, "force": o["force"], "cleanupOnFail": o["cleanupOnFail"]}
        for part in (install, upgrade):
            part["disableHooks"] = o["skipHooks"]
            part["disableWait"] = not wait
        return {
            "timeout": o["timeout"],
            "maxHistory": o["maxHistory"],
            "install": install,
            "upgrade": upgrade,
            "test": {"enable": not o["skipTests"]},
        }


HEALTH_SHAPE = {"resource": {"kind", "name"}, "condition": {"type", "status"}}


# The definition's defaults (helmchart.cue, parameter.options).
DEFAULTS: dict[str, Any] = {
    "includeCRDs": True,
    "skipTests": True,
    "skipHooks": False,
    "createNamespace": True,
    "timeout": "5m",
    "maxHistory": 10,
    "atomic": False,
    "wait": False,
    "force": False,
    "recreatePods": False,
    "cleanupOnFail": False,
}
