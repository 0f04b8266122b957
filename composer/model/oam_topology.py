"""Where a KubeVela Application lands: `topology` policies (clusters, namespace, cluster label
selectors) and the namespace of `apply-component` steps, into the plan's targets and namespace
(vela-templates/definitions/internal/policy/topology.cue). One app lands in one namespace per
environment; the environment decides where both name one (composer/model/placement.py).
A mixin of oam_app.AppLevel, which owns the converter (`c`) and the plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from composer.diagnostics import FieldPath

if TYPE_CHECKING:
    from composer.model.oam_app import Plan


class TopologyReading:
    """Topology policies and step namespaces -> plan.targets and plan.namespace."""

    c: Any  # the converter (oam._Converter): error, warn
    plan: Plan

    def topology(self, policy: dict[str, Any], ppath: FieldPath) -> None:
        props = policy.get("properties") or {}
        for key in sorted(
            set(props) - {"clusters", "namespace", "clusterLabelSelector", "clusterSelector", "allowEmpty"}
        ):
            self.c.error(
                ppath + ("properties", key),
                f"topology {key!r} is not supported",
                "name the clusters: properties.clusters (each a kube context)",
                key=True,
            )
        self.cluster_labels(props, ppath + ("properties",))
        clusters = props.get("clusters", [])
        if not isinstance(clusters, list) or not all(isinstance(x, str) for x in clusters):
            self.c.error(ppath + ("properties", "clusters"), "expected a list of cluster names")
            return
        for j, cluster in enumerate(clusters):
            if cluster != "local" and cluster not in self.plan.targets:  # local: the environment's own cluster
                self.plan.targets.append(cluster)
                self.plan.target_paths.append(ppath + ("properties", "clusters", j))
        self.place_namespace(props.get("namespace"), ppath + ("properties", "namespace"))

    def place_namespace(self, ns: Any, path: FieldPath) -> None:
        """The namespace a topology policy or an apply-component step names: one per app."""
        if not isinstance(ns, str) or not ns:
            return
        if self.plan.namespace is not None and self.plan.namespace[0] != ns:
            first = self.plan.namespace[0]
            self.c.error(
                path,
                f"deploying to namespaces {first!r} and {ns!r} is two environments in Composer",
                f"write environments/<env>.yaml for each, with spec.kubernetes.namespace {first!r} and {ns!r} "
                "(an override policy of one becomes that environment's overrides), then run appc apply -e <env> for each",
            )
        self.plan.namespace = (ns, path)

    def cluster_labels(self, props: dict[str, Any], ppath: FieldPath) -> None:
        """Clusters chosen by label: Composer has no cluster registry, the environment's clusters are used."""
        for key in ("clusterLabelSelector", "clusterSelector"):
            if key not in props:
                continue
            labels = props[key]
            if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
                self.c.error(ppath + (key,), f"expected {key} as a mapping of label names to values")
                continue
            self.c.warn(
                ppath + (key,),
                f"{key} is not used: Composer has no cluster registry to select by label",
                "the app deploys to the environment's clusters (spec.kubernetes.context or targets in "
                "environments/<env>.yaml); name them in properties.clusters to deploy there when the environment names none",
            )
        if props.get("allowEmpty", False) not in (True, False):
            self.c.error(ppath + ("allowEmpty",), "expected allowEmpty as true or false")
        elif props.get("allowEmpty") is True:
            self.c.warn(
                ppath + ("allowEmpty",),
                "allowEmpty is not used",
                "Composer always deploys to at least the environment's own cluster",
            )
