"""The stand-in behaves like a real API server where Composer depends on it (issue 20).

Each test states the real server's rule and where it comes from (a Kubernetes doc page or a
source file of kubernetes/kubernetes or structured-merge-diff). The stand-in modules:
tests/support/kube_standin.py (SSA), kube_schema.py (typed patch), kube_immutable.py
(update validation), kube_lifecycle.py (time: CRDs, namespaces, rollouts)."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.test_kube_standin import APPLY, create_namespace, kube, standin  # noqa: F401 - fixtures

NS = "shop"


@pytest.fixture
def api(kube):
    """A clean stand-in (module-scoped, from tests/test_kube_standin.py) with namespace `shop`."""
    create_namespace(kube, NS)
    return kube


def apply(api, path: str, body: dict, manager: str = "appc", **query) -> dict:
    q = [("fieldManager", manager)] + [(k, str(v).lower() if isinstance(v, bool) else v) for k, v in query.items()]
    r = api.call_api(
        path,
        "PATCH",
        query_params=q,
        body=body,
        header_params={"Content-Type": APPLY, "Accept": "application/json"},
        _preload_content=False,
        auth_settings=["BearerToken"],
    )
    return json.loads(r.data)


def get(api, path: str) -> dict:
    r = api.call_api(
        path, "GET", header_params={"Accept": "application/json"}, _preload_content=False, auth_settings=["BearerToken"]
    )
    return json.loads(r.data)


def status_of(call) -> tuple[int, dict]:
    with pytest.raises(ApiException) as exc:
        call()
    return exc.value.status, json.loads(exc.value.body)


DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments/web"


def web(env=("A", "B"), sidecar=True, ports=(80, 81), volumes=("cache", "tmp")) -> dict:
    main = {
        "name": "web",
        "image": "nginx:1.27",
        "env": [{"name": n, "value": n.lower()} for n in env],
        "ports": [{"containerPort": p} for p in ports],
        "volumeMounts": [{"name": v, "mountPath": f"/{v}"} for v in volumes],
    }
    containers = [main] + (
        [{"name": "proxy", "image": "envoy:1", "env": [{"name": "X", "value": "1"}]}] if sidecar else []
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers, "volumes": [{"name": v, "emptyDir": {}} for v in volumes]},
            },
        },
    }


def test_removing_keyed_list_items_removes_the_whole_items(api):
    """Rule: an applier that stops applying an item of an associative list
    (x-kubernetes-list-type: map; env by name, containers by name, ports by containerPort+protocol,
    volumes by name, volumeMounts by mountPath) removes the item, keys included, when no other
    manager owns part of it (docs: Server-Side Apply, "Field management": "the same rule applies to
    associative lists"; structured-merge-diff merge/update.go prunes the removed set)."""
    apply(api, DEPLOY, web())
    out = apply(api, DEPLOY, web(env=("A",), sidecar=False, ports=(80,), volumes=("cache",)))
    pod = out["spec"]["template"]["spec"]
    assert pod["containers"] == [
        {
            "name": "web",
            "image": "nginx:1.27",
            "env": [{"name": "A", "value": "a"}],
            "ports": [{"containerPort": 80}],
            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
        }
    ]
    assert pod["volumes"] == [{"name": "cache", "emptyDir": {}}]
    client.AppsV1Api(api).read_namespaced_deployment("web", NS)  # the typed client reads it back

    svc = f"/api/v1/namespaces/{NS}/services/web"
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "admin", "port": 81}],
        },
    }
    apply(api, svc, body)
    body["spec"]["ports"] = body["spec"]["ports"][:1]
    assert apply(api, svc, body)["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080}]


def test_an_item_another_manager_owns_part_of_stays(api):
    """Rule: a field another manager owns is not removed (docs: Server-Side Apply, "Field
    management": removed only "if no other field managers own it")."""
    apply(api, DEPLOY, web(env=("A", "B")))
    other = web(env=("B",))
    other["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "b"
    apply(
        api,
        DEPLOY,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "b"}]}]}}},
        },
        manager="ops",
    )
    out = apply(api, DEPLOY, web(env=("A",)))
    assert out["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "a"},
        {"name": "B", "value": "b"},
    ]


def test_job_template_and_selector_are_immutable(api):
    """Rule: ValidateJobSpecUpdate (pkg/apis/batch/validation/validation.go): spec.selector,
    spec.template, spec.completions and spec.completionMode are immutable; 422 Invalid. The
    Job's selector and pod labels are generated from its uid (pkg/registry/batch/job/strategy.go)."""
    path = f"/apis/batch/v1/namespaces/{NS}/jobs/migrate"
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "tool:1"}]}}},
    }
    created = apply(api, path, job)
    uid = created["metadata"]["uid"]
    assert created["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert created["spec"]["template"]["metadata"]["labels"]["job-name"] == "migrate"
    assert apply(api, path, job)["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    job["spec"]["template"]["spec"]["containers"][0]["image"] = "tool:2"
    code, st = status_of(lambda: apply(api, path, job))
    assert code == 422 and st["reason"] == "Invalid"
    assert [c["field"] for c in st["details"]["causes"]] == ["spec.template"]
    assert "field is immutable" in st["message"]


def test_statefulset_spec_is_immutable_but_for_a_few_fields(api):
    """Rule: ValidateStatefulSetUpdate (pkg/apis/apps/validation/validation.go): only replicas,
    ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy and minReadySeconds change."""
    path = f"/apis/apps/v1/namespaces/{NS}/statefulsets/db"
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "pg:16"}]},
            },
        },
    }
    apply(api, path, sts)
    sts["spec"]["replicas"] = 2
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "pg:17"
    assert apply(api, path, sts)["spec"]["replicas"] == 2
    sts["spec"]["serviceName"] = "db2"
    code, st = status_of(lambda: apply(api, path, sts))
    assert code == 422 and "updates to statefulset spec for fields other than 'replicas'" in st["message"]


def test_pvc_storage_grows_but_never_shrinks_and_the_class_is_fixed(api, standin):
    """Rule: ValidatePersistentVolumeClaimUpdate (pkg/apis/core/validation/validation.go): the spec
    is immutable but for resources.requests of a bound claim; storage may not decrease."""
    standin.auto_ready = True  # the claim binds
    path = f"/api/v1/namespaces/{NS}/persistentvolumeclaims/data"

    def pvc(size: str, cls: str = "standard") -> dict:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": cls,
                "resources": {"requests": {"storage": size}},
            },
        }

    apply(api, path, pvc("1Gi"))
    assert apply(api, path, pvc("2Gi"))["spec"]["resources"]["requests"]["storage"] == "2Gi"
    code, st = status_of(lambda: apply(api, path, pvc("1500Mi")))
    assert code == 422 and st["details"]["causes"][0]["field"] == "spec.resources.requests.storage"
    code, st = status_of(lambda: apply(api, path, pvc("2Gi", "fast")))
    assert code == 422 and "spec is immutable after creation" in st["message"]


def test_service_cluster_ip_secret_type_and_immutable_configmaps(api):
    """Rule: ValidateServiceUpdate (clusterIP may not change once set), ValidateSecretUpdate
    (type is immutable), ValidateConfigMapUpdate (an immutable ConfigMap's data is frozen)."""
    svc = f"/api/v1/namespaces/{NS}/services/web"
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    ip = apply(api, svc, body)["spec"]["clusterIP"]
    body["spec"]["clusterIP"] = "10.96.99.99" if ip != "10.96.99.99" else "10.96.99.98"
    code, st = status_of(lambda: apply(api, svc, body))
    assert code == 422 and st["details"]["causes"][0]["field"] == "spec.clusterIP"

    sec = f"/api/v1/namespaces/{NS}/secrets/tls"
    apply(
        api,
        sec,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"}, "type": "Opaque", "data": {"a": "eA=="}},
    )
    code, st = status_of(
        lambda: apply(
            api,
            sec,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "tls"},
                "type": "example.com/other",
                "data": {"a": "eA=="},
            },
        )
    )
    assert code == 422 and st["details"]["causes"][0]["field"] == "type"

    cm = f"/api/v1/namespaces/{NS}/configmaps/frozen"
    apply(
        api,
        cm,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "frozen"},
            "immutable": True,
            "data": {"a": "1"},
        },
    )
    code, st = status_of(
        lambda: apply(
            api,
            cm,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "frozen"},
                "immutable": True,
                "data": {"a": "2"},
            },
        )
    )
    assert code == 422 and st["details"]["causes"][0]["field"] == "data"


@pytest.mark.parametrize(
    "mutate, path_and_message",
    [
        (lambda d: d["spec"].update(replica=2), ".spec.replica: field not declared in schema"),
        (lambda d: d["spec"].update(replicas="two"), ".spec.replicas: expected numeric (int or float), got string"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "A", "value": "again"}),
            '.spec.template.spec.containers[name="web"].env: duplicate entries for key [name="A"]',
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(resources={"requests": {"memory": "2 Gi"}}),
            '.spec.template.spec.containers[name="web"].resources.requests.memory: quantities must match the regular expression',
        ),
    ],
    ids=["unknown-field", "wrong-type", "duplicate-key", "bad-quantity"],
)
def test_strict_schema_answers_the_typed_patch_500(api, standin, mutate, path_and_message):
    """Rule: SSA converts the applied object to a typed value first (apimachinery
    pkg/util/managedfields/internal/structuredmerge.go); a failure is a plain error, so HTTP 500,
    no reason, "failed to create typed patch object (NS/NAME; GV, Kind=K): PATH: ..."
    (kubernetes/kubernetes#122480; messages from structured-merge-diff typed/)."""
    standin.set_knobs(strict_schema=True)
    body = web()
    mutate(body)
    code, st = status_of(lambda: apply(api, DEPLOY, body))
    assert code == 500 and "reason" not in st
    assert st["message"].startswith(f"failed to create typed patch object ({NS}/web; apps/v1, Kind=Deployment): ")
    assert path_and_message in st["message"]
    assert standin.get_object("deployments", NS, "web") is None


def test_a_new_crd_is_served_only_once_established(api, standin):
    """Rule: a CRD's resources are served once its Established condition is True
    (apiextensions-apiserver pkg/controller/establish); before, 404."""
    standin.set_knobs(crd_establish_seconds=0.6)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    out = apply(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", crd)
    assert {c["type"]: c["status"] for c in out["status"]["conditions"]}["Established"] == "False"
    cr_path = f"/apis/example.com/v1/namespaces/{NS}/widgets/w"
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    code, _ = status_of(lambda: apply(api, cr_path, cr))
    assert code == 404
    time.sleep(0.8)
    crd_now = get(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    assert {c["type"]: c["status"] for c in crd_now["status"]["conditions"]}["Established"] == "True"
    assert apply(api, cr_path, cr)["spec"] == {"size": 1}


def test_a_deleted_namespace_is_terminating_for_a_while(api, standin):
    """Rule: a deleted namespace is Terminating until emptied; creating content in it answers 403
    with cause NamespaceTerminating (plugin/pkg/admission/namespace/lifecycle/admission.go)."""
    standin.set_knobs(namespace_terminating_seconds=0.6)
    client.CoreV1Api(api).delete_namespace(NS)
    assert client.CoreV1Api(api).read_namespace(NS).status.phase == "Terminating"
    code, st = status_of(
        lambda: apply(
            api,
            f"/api/v1/namespaces/{NS}/configmaps/c",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
        )
    )
    assert code == 403 and st["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    assert "because it is being terminated" in st["message"]
    time.sleep(0.8)
    code, _ = status_of(lambda: client.CoreV1Api(api).read_namespace(NS))
    assert code == 404


def test_rollout_status_lags_the_generation_and_can_fail(api, standin):
    """Rule: a spec write bumps metadata.generation; the controller reports observedGeneration
    later (docs: Deployments, "Deployment status"); a stuck rollout gets Progressing=False,
    ProgressDeadlineExceeded (docs: Deployments, "Failed Deployment"); a failing Job, Failed=True."""
    standin.auto_ready = True
    standin.set_knobs(rollout_seconds=0.4)
    first = apply(api, DEPLOY, web())
    assert first["metadata"]["generation"] == 1 and not (first.get("status") or {}).get("observedGeneration")
    time.sleep(0.6)
    assert get(api, DEPLOY)["status"]["observedGeneration"] == 1
    changed = web()
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    second = apply(api, DEPLOY, changed)
    assert second["metadata"]["generation"] == 2 and second["status"]["observedGeneration"] == 1
    standin.set_knobs(rollout_outcome="fail")
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.29"
    apply(api, DEPLOY, changed)
    time.sleep(0.6)
    conds = {c["type"]: c for c in get(api, DEPLOY)["status"]["conditions"]}
    assert conds["Progressing"]["reason"] == "ProgressDeadlineExceeded"
    job_path = f"/apis/batch/v1/namespaces/{NS}/jobs/j"
    apply(
        api,
        job_path,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j"},
            "spec": {
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "j", "image": "tool:1"}]}}
            },
        },
    )
    time.sleep(0.6)
    conds = {c["type"]: c for c in get(api, job_path)["status"]["conditions"]}
    assert (conds["Failed"]["status"], conds["Failed"]["reason"]) == ("True", "BackoffLimitExceeded")


def test_generation_moves_on_spec_changes_only(api):
    """Rule: metadata.generation is incremented on changes to the spec, not to metadata or status
    (docs: API conventions, "Metadata": generation "a sequence number representing a specific
    generation of the desired state"; pkg/registry/apps/deployment/strategy.go PrepareForUpdate)."""
    apply(api, DEPLOY, web())
    labelled = web()
    labelled["metadata"]["labels"] = {"team": "a"}
    assert apply(api, DEPLOY, labelled)["metadata"]["generation"] == 1
    labelled["spec"]["replicas"] = 3
    assert apply(api, DEPLOY, labelled)["metadata"]["generation"] == 2


def test_lists_page_with_limit_and_continue(api):
    """Rule: limit/continue return chunks with an opaque continue token and remainingItemCount
    (docs: API concepts, "Retrieving large results sets in chunks")."""
    for i in range(5):
        apply(
            api,
            f"/api/v1/namespaces/{NS}/configmaps/c{i}",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}},
        )
    core = client.CoreV1Api(api)
    names, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map(NS, limit=2, _continue=token)
        names += [i.metadata.name for i in page.items]
        pages += 1
        if pages == 1:
            assert page.metadata.remaining_item_count == 3
        token = page.metadata._continue
        if not token:
            break
    assert names == ["c0", "c1", "c2", "c3", "c4"] and pages == 3
