"""The service-account trait's `privileges`: a Role and a RoleBinding for the account, in the
app's namespace, as KubeVela's service-account trait (vela-templates/definitions/internal/trait/
service-account.cue) writes them for namespace-scoped privileges. Cluster-scoped ones would
grant rights beyond the app's namespace from an app file: they are refused, with what to do.
"""

from __future__ import annotations

from typing import Any

from composer.render.workload import Workload

RBAC_API = "rbac.authorization.k8s.io"
RULE_KEYS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


def privileges(w: Workload, account: str, granted: list[dict[str, Any]], path: tuple[Any, ...]) -> None:
    for i, p in enumerate(granted):
        if p.get("scope", "namespace") == "cluster":
            w.fail(
                path + ("properties", "privileges", i, "scope"),
                "cluster-scoped privileges are not supported",
                "a ClusterRole reaches beyond the app's namespace: have a cluster admin create it and bind it "
                "to the account, or grant namespace-scoped privileges",
            )
            return
    rules = [{k: p[k] for k in RULE_KEYS if k in p} for p in granted]
    if not rules:
        return
    w.add({"apiVersion": f"{RBAC_API}/v1", "kind": "Role", "metadata": w.metadata(account), "rules": rules})
    subject: dict[str, Any] = {"kind": "ServiceAccount", "name": account}
    if w.namespace:
        subject["namespace"] = w.namespace
    w.add(
        {
            "apiVersion": f"{RBAC_API}/v1",
            "kind": "RoleBinding",
            "metadata": w.metadata(account),
            "roleRef": {"apiGroup": RBAC_API, "kind": "Role", "name": account},
            "subjects": [subject],
        }
    )
