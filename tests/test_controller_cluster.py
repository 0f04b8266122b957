"""The controller on a real cluster (opt-in, the `cluster` marker): install the manifests of
`appc controller manifests`, create an Environment and an Application CR, see it `Ready` with its
Deployment, delete it and see the Deployment and the CR gone.

    KUBECONFIG=~/.kube/config APPC_TEST_REAL_CLUSTER=1 scripts/test tests/test_controller_cluster.py

Without `APPC_TEST_REAL_CLUSTER=1` and a KUBECONFIG the test is skipped with that reason (`-ra`
prints it in every run, CI's included). With `APPC_TEST_CONTROLLER_IMAGE` (an image of this
project the cluster can pull) the installed Deployment reconciles, in the cluster, under its
least-privilege RBAC; without it the Deployment is scaled to 0 and the controller runs in this
process with the kubeconfig's credentials (CRDs, the API server's schema checks and the
finalizer are then real; RBAC is not exercised). The test's namespaces are deleted at the end;
the CRDs and ClusterRoles stay (cluster-scoped, shared by any other install). Workloads only: no
cloud account is needed.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from composer.controller.manifests import InstallOptions, install_manifests
from composer.controller.operator import ControllerOptions
from tests.support.kube_handle import get
from tests.test_controller import _start, _stop, _wait

REAL_KUBECONFIG = os.environ.get("KUBECONFIG")  # read at import, before the stand-in fixture replaces it
REAL = os.environ.get("APPC_TEST_REAL_CLUSTER") == "1" and bool(REAL_KUBECONFIG)
IMAGE = os.environ.get("APPC_TEST_CONTROLLER_IMAGE")

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not REAL, reason="a real cluster is opt-in: set KUBECONFIG and APPC_TEST_REAL_CLUSTER=1"),
]


class Cluster:
    def __init__(self, kubeconfig: str) -> None:
        from kubernetes import client, config, dynamic

        _, current = config.list_kube_config_contexts(config_file=kubeconfig)
        self.context = os.environ.get("APPC_TEST_CONTEXT") or current["name"]
        cfg = client.Configuration()
        config.load_kube_config(
            config_file=kubeconfig, context=self.context, client_configuration=cfg, persist_config=False
        )
        self.api = client.ApiClient(configuration=cfg)
        self.dynamic = dynamic.DynamicClient(self.api)

    def get(self, path: str) -> dict | None:
        return get(self.api, path)

    def apply(self, doc: dict[str, Any]) -> None:
        resource = self.dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        namespace = doc["metadata"].get("namespace")
        self.dynamic.server_side_apply(resource, body=doc, namespace=namespace, field_manager="appc-test", force=True)

    def drop_finalizers(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        """So that deleting the namespace does not hang on a CR no controller will finalize."""
        resource = self.dynamic.resources.get(api_version=api_version, kind=kind)
        patch = {"metadata": {"finalizers": None}}
        self.dynamic.patch(resource, patch, name=name, namespace=namespace, content_type="application/merge-patch+json")

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.dynamic.delete(self.dynamic.resources.get(api_version=api_version, kind=kind), name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise


def _ready(cluster: Cluster, path: str) -> dict | None:
    obj = cluster.get(path) or {}
    conds = {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}
    return obj if conds.get("Ready", {}).get("status") == "True" else None


def test_the_controller_installs_reconciles_and_cleans_up_on_a_real_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from composer.controller.operator import Controller, serve_controller

    assert REAL_KUBECONFIG is not None
    monkeypatch.setenv("KUBECONFIG", REAL_KUBECONFIG)
    cluster = Cluster(REAL_KUBECONFIG)
    suffix = uuid.uuid4().hex[:6]
    system, team = f"appc-system-{suffix}", f"appc-team-{suffix}"
    install = install_manifests(InstallOptions(namespace=system, image=IMAGE or InstallOptions.image))
    running = None
    try:
        for doc in install:
            if doc["kind"] == "Deployment" and not IMAGE:
                doc["spec"]["replicas"] = 0  # the controller runs in this process instead
            cluster.apply(doc)
        kinds = {doc["kind"] for doc in install}
        assert {"CustomResourceDefinition", "Deployment", "ServiceAccount", "ClusterRole"} <= kinds
        _wait("the CRDs", lambda: cluster.get("/apis/composer.dev/v1alpha1") is not None, 60)
        if not IMAGE:
            (tmp_path / "state").mkdir()
            opts = ControllerOptions(state_root=tmp_path / "state", timeout_s=300, health_port=None, backoff_s=5)
            running = _start(Controller(opts), serve_controller)
        kubernetes = {"namespace": team} if IMAGE else {"context": cluster.context, "namespace": team}
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": team}})
        env_meta = {"name": "dev", "namespace": team}
        app_meta = {"name": "shop", "namespace": team}
        web = {"name": "web", "type": "webservice", "properties": {"image": "nginx:1.27", "port": 8080}}
        cluster.apply(
            {
                "apiVersion": "composer.dev/v1alpha1",
                "kind": "Environment",
                "metadata": env_meta,
                "spec": {"kubernetes": kubernetes},
            }
        )
        cluster.apply(
            {
                "apiVersion": "composer.dev/v1alpha1",
                "kind": "Application",
                "metadata": app_meta,
                "spec": {"components": [web]},
            }
        )
        app_path = f"/apis/composer.dev/v1alpha1/namespaces/{team}/applications/shop"
        obj = _wait("Ready", lambda: _ready(cluster, app_path), 600)
        assert obj["status"]["units"] == {"web": {"status": "applied"}}
        assert cluster.get(f"/apis/apps/v1/namespaces/{team}/deployments/web") is not None

        cluster.delete("composer.dev/v1alpha1", "Application", "shop", team)
        _wait("the CR gone", lambda: cluster.get(app_path) is None, 300)
        assert cluster.get(f"/apis/apps/v1/namespaces/{team}/deployments/web") is None
    finally:
        if running is not None:
            _stop(running)
        if cluster.get(f"/apis/composer.dev/v1alpha1/namespaces/{team}/applications/shop"):  # a failed run
            cluster.drop_finalizers("composer.dev/v1alpha1", "Application", "shop", team)
        for ns in (team, system):
            cluster.delete("v1", "Namespace", ns)
