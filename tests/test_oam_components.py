"""KubeVela component types and traits added for issue 14: helmchart (as FluxCD objects), nocalhost,
startup-probe on a sidecar, k8s-objects naming its workload, and the refusals that say what to write.
Each renders a corpus file of tests/corpus/kubevela/ (also counted and field-walked by
test_kubevela_corpus.py) or a small app, and compares the objects KubeVela's definition describes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from composer.diagnostics import Diagnostic, DiagnosticError, Severity, format_path
from composer.project import compile_project, open_project
from tests.helpers import ROOT, write

CORPUS = ROOT / "tests" / "corpus" / "kubevela"
ENV = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: test}\nspec:\n  kubernetes: {context: test, namespace: shop}\n"


def _render(path: Path, registry) -> tuple[dict[str, list[dict[str, Any]]], list[Diagnostic]]:
    project = open_project(path)
    compiled = compile_project(project, "test", registry)
    docs = {
        name: [d for d in yaml.safe_load_all(body) if d]
        for name, body in compiled.rendered.files.items()
        if name.startswith("kubernetes/")
    }
    return docs, [*project.app.warnings, *compiled.warnings]


def _objects(docs: dict[str, list[dict[str, Any]]], unit: str) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in docs[f"kubernetes/{unit}.yaml"]}


def _errors(tmp_path: Path, app: str, registry) -> list[tuple[int | None, str, str, str]]:
    write(tmp_path, {"app.yaml": app, "environments/test.yaml": ENV})
    with pytest.raises(DiagnosticError) as caught:
        compile_project(open_project(tmp_path / "app.yaml"), "test", registry)
    return [(d.line, format_path(d.path), d.summary, d.detail) for d in caught.value.diagnostics]


def test_helmchart_becomes_a_flux_helm_repository_and_release_field_by_field(registry):
    docs, warnings = _render(CORPUS / "37-helmchart.yaml", registry)
    objects = _objects(docs, "podinfo")
    assert objects["HelmRepository"]["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert objects["HelmRepository"]["metadata"]["namespace"] == "corpus"  # the environment's, like any component
    assert objects["HelmRepository"]["spec"] == {
        "interval": "5m",
        "url": "https://stefanprodan.github.io/podinfo",
        "secretRef": {"name": "charts-login"},
    }
    release = objects["HelmRelease"]
    assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
    assert release["spec"] == {
        "interval": "5m",
        "releaseName": "podinfo-layered",
        "chart": {
            "spec": {
                "chart": "podinfo",
                "version": "6.11.1",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
            }
        },
        "values": {"replicaCount": 2, "resources": {"limits": {"cpu": "100m", "memory": "256Mi"}}},
        "valuesFrom": [
            {"kind": "ConfigMap", "name": "podinfo-base", "valuesKey": "values.yaml"},
            {"kind": "Secret", "name": "podinfo-overlay", "valuesKey": "overlay.yaml", "optional": True},
        ],
        "timeout": "10m",
        "maxHistory": 3,
        "install": {"crds": "Skip", "createNamespace": False, "disableHooks": True, "disableWait": False},
        "upgrade": {
            "crds": "Skip",
            "force": True,
            "cleanupOnFail": True,
            "disableHooks": True,
            "disableWait": False,
        },
        "test": {"enable": True},
    }
    [flux] = [w for w in warnings if "FluxCD" in w.summary]
    assert (flux.severity, format_path(flux.path), flux.line) == (Severity.WARNING, "spec.components[0].type", 10)


def test_helmchart_from_oci_with_defaults_and_the_warnings_in_line_order(registry):
    docs, warnings = _render(CORPUS / "38-helmchart-oci.yaml", registry)
    objects = _objects(docs, "redis")
    assert objects["HelmRepository"]["spec"] == {
        "type": "oci",
        "interval": "5m",
        "url": "oci://registry-1.docker.io/bitnamicharts",
    }
    spec = objects["HelmRelease"]["spec"]
    assert spec["chart"]["spec"]["chart"] == "redis" and spec["releaseName"] == "redis"
    assert (spec["timeout"], spec["maxHistory"], spec["test"]) == ("5m", 10, {"enable": False})  # the definition's
    assert spec["install"] == {"crds": "Create", "createNamespace": True, "disableHooks": False, "disableWait": False}
    said = [(w.line, format_path(w.path)) for w in warnings if w.severity == Severity.WARNING and w.line]
    assert said == [
        (10, "spec.components[0].type"),
        (16, "spec.components[0].properties.release.namespace"),  # the environment decides
        (19, "spec.components[0].properties.healthStatus"),  # read as wait: true
        (23, "spec.components[0].properties.options.cache"),
    ]


HELM = "    - name: chart\n      type: helmchart\n      properties:\n        chart: {CHART}\n{EXTRA}"
APP = "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  components:\n{}"


@pytest.mark.parametrize(
    "chart, extra, line, path, summary",
    [
        ("{source: 'https://x.example/c-1.0.0.tgz'}", "", 9, "chart.source", "a chart from a direct URL"),
        ("{source: podinfo}", "", 9, "chart.source", "chart 'podinfo' needs chart.repoURL"),
        ("{source: 'oci://r.example/c/app', repoURL: 'https://r'}", "", 9, "chart.repoURL", "repoURL is not used"),
        ("{source: a, repoURL: 'https://r'}", "        options: {atomic: true}\n", 10, "options.atomic", "atomic"),
        ("{source: a, repoURL: 'https://r'}", "        options: {wait: 'yes'}\n", 10, "options.wait", "expected a bo"),
        ("{source: a, repoURL: 'https://r'}", "        option: {}\n", 10, "option", "unknown field 'option'"),
        (
            "{source: a, repoURL: 'https://r'}",
            "        valuesFrom: [{kind: Secret, name: v, namespace: other}]\n",
            10,
            "valuesFrom[0].namespace",
            "a namespace for the Secret",
        ),
        (
            "{source: a, repoURL: 'https://r', auth: {secretRef: {name: s, namespace: o}}}",
            "",
            9,
            "chart.auth.secretRef.namespace",
            "a namespace for the credentials Secret",
        ),
    ],
)
def test_helmchart_refuses_what_flux_cannot_do_at_its_line(tmp_path, registry, chart, extra, line, path, summary):
    errors = _errors(tmp_path, APP.format(HELM.replace("{CHART}", chart).replace("{EXTRA}", extra)), registry)
    hits = [e for e in errors if e[1] == f"spec.components[0].properties.{path}" and summary in e[2]]
    assert hits, errors
    assert hits[0][0] == line and hits[0][3], hits  # at its line, saying what to do


def test_nocalhost_writes_the_definitions_dev_annotation_and_exposes_the_port(registry):
    docs, warnings = _render(CORPUS / "39-nocalhost.yaml", registry)
    objects = _objects(docs, "productpage")
    annotations = objects["Deployment"]["metadata"]["annotations"]
    assert annotations["dev.nocalhost/application-name"] == "bookinfo"
    assert json.loads(annotations["dev.nocalhost"]) == {
        "name": "productpage",
        "serviceType": "deployment",
        "containers": [
            {
                "name": "productpage",
                "dev": {
                    "gitUrl": "https://example.com/acme/productpage.git",
                    "image": "nocalhost-docker.pkg.coding.net/nocalhost/dev-images/python:latest",
                    "shell": "zsh",
                    "workDir": "/opt/work",
                    "storageClass": "fast",
                    "resources": {
                        "limits": {"memory": "1Gi", "cpu": "1"},
                        "requests": {"memory": "512Mi", "cpu": "0.5"},
                    },
                    "persistentVolumeDirs": [{"path": "/home/dev/.cache", "capacity": "1Gi"}],
                    "command": {"run": ["python", "app.py"], "debug": ["sh", "debug.sh"]},
                    "debug": {"remoteDebugPort": 9009},
                    "hotReload": False,
                    "sync": {"type": "sendReceive", "filePattern": ["./"], "ignoreFilePattern": [".git"]},
                    "env": [{"name": "FLASK_ENV", "value": "development"}],
                    "portForward": ["39080:9080"],
                },
            }
        ],
    }
    assert "dev.nocalhost" not in objects["Service"]["metadata"].get("annotations", {})  # the workload only
    assert [(p["port"], p["targetPort"]) for p in objects["Service"]["spec"]["ports"]] == [(9080, 9080)]
    assert objects["Service"]["spec"]["type"] == "ClusterIP"
    assert any("application-namespace" in w.summary for w in warnings)


def test_nocalhost_with_bad_shapes_is_refused_not_a_crash(tmp_path, registry):
    web = "    - name: web\n      type: webservice\n      properties: {image: nginx}\n      traits:\n"
    trait = "        - type: nocalhost\n          properties: {port: 9080, image: go, env: 5, resources: {limits: 1}}\n"
    errors = _errors(tmp_path, APP.format(web + trait), registry)
    assert {e[1] for e in errors} >= {
        "spec.components[0].traits[0].properties.env",
        "spec.components[0].traits[0].properties.resources.limits",
    }


def test_startup_probe_by_container_name_reaches_the_sidecar(registry):
    docs, _ = _render(CORPUS / "40-startup-probe-sidecar.yaml", registry)
    containers = {
        c["name"]: c for c in _objects(docs, "runner")["Deployment"]["spec"]["template"]["spec"]["containers"]
    }
    assert containers["runner"]["startupProbe"] == {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 4}
    assert containers["proxy"]["startupProbe"] == {
        "httpGet": {"path": "/healthz", "port": 15021},
        "failureThreshold": 30,
    }


def test_k8s_objects_names_its_workload_after_the_component_as_kubevela_does(tmp_path, registry):
    docs, _ = _render(CORPUS / "41-k8s-objects-unnamed.yaml", registry)
    assert [d["metadata"]["name"] for d in docs["kubernetes/settings.yaml"]] == ["settings", "settings-extra"]
    objects = "{objects: [{apiVersion: v1, kind: ConfigMap}, {apiVersion: v1, kind: Secret, type: Opaque}]}"
    app = APP.format(f"    - name: raw\n      type: k8s-objects\n      properties: {objects}\n")
    [(line, path, summary, _)] = _errors(tmp_path, app, registry)  # the second object has no generated name
    assert (line, path) == (8, "spec.components[0].properties.objects[1]") and "metadata" in summary


@pytest.mark.parametrize(
    "trait, path, words",
    [
        (
            "{type: init-container, properties: {name: i, image: busybox, command: [ls], appMountPath: /a, initMountPath: /b}}",
            "traits[0].properties.command",
            "takes the command as cmd",
        ),
        ("{type: expose, properties: {http: {svc: 8080}}}", "traits[0].properties.http", "ports: [{port: 8080}]"),
    ],
)
def test_fields_from_older_docs_say_what_to_write_instead(tmp_path, registry, trait, path, words):
    web = f"    - name: web\n      type: webservice\n      properties: {{image: nginx}}\n      traits: [{trait}]\n"
    errors = _errors(tmp_path, APP.format(web), registry)
    assert any(e[1] == f"spec.components[0].{path}" and words in e[3] for e in errors), errors


def test_host_path_refusal_says_why_and_what_to_use(tmp_path, registry):
    web = "    - name: web\n      type: daemon\n      properties:\n        image: nginx\n"
    mounts = "        volumeMounts:\n          hostPath: [{name: sys, path: /sys, mountPath: /host/sys}]\n"
    [(line, path, _, detail)] = _errors(tmp_path, APP.format(web + mounts), registry)
    assert (line, path) == (11, "spec.components[0].properties.volumeMounts.hostPath")
    assert "Pod Security" in detail and "emptyDir" in detail and "k8s-objects" in detail


def test_cron_task_job_settings_and_host_aliases_land_where_kubevela_puts_them(registry):
    docs, _ = _render(CORPUS / "42-cron-task-job-settings.yaml", registry)
    job = _objects(docs, "nightly")["CronJob"]["spec"]["jobTemplate"]["spec"]
    assert (job["ttlSecondsAfterFinished"], job["activeDeadlineSeconds"]) == (600, 300)
    assert job["template"]["spec"]["hostAliases"] == [{"ip": "10.0.0.10", "hostnames": ["warehouse.internal"]}]
    pod = _objects(docs, "api")["Deployment"]["spec"]["template"]["spec"]
    assert pod["hostAliases"] == [{"ip": "10.0.0.10", "hostnames": ["warehouse.internal", "dw.internal"]}]


def test_task_probes_that_kubevela_ignores_are_a_warning(tmp_path, registry):
    task = "    - name: once\n      type: task\n      properties:\n        image: busybox\n        readinessProbe: {exec: {command: [ls]}}\n"
    write(tmp_path, {"app.yaml": APP.format(task), "environments/test.yaml": ENV})
    _, warnings = _render(tmp_path / "app.yaml", registry)
    said = [(w.line, format_path(w.path)) for w in warnings if "is not used on a task" in w.summary]
    assert said == [(10, "spec.components[0].properties.readinessProbe")]


def test_a_security_context_of_the_wrong_shape_is_an_error_at_the_users_field_not_a_crash(tmp_path, registry):
    """seccompProfile: x once reached the pod hardening and ended in exit 70."""
    web = "    - name: web\n      type: webservice\n      properties: {image: nginx}\n      traits:\n"
    traits = (
        "        - {type: podsecuritycontext, properties: {seccompProfile: x}}\n"
        "        - {type: hostalias, properties: {hostAliases: [{ip: 1, hostnames: [a]}]}}\n"
    )
    errors = _errors(tmp_path / "both", APP.format(web + traits), registry)
    assert sorted((e[0], e[1]) for e in errors) == [
        (10, "spec.components[0].traits[0].properties.seccompProfile"),
        (11, "spec.components[0].traits[1].properties.hostAliases[0].ip"),
    ]
    alone = _errors(tmp_path / "alone", APP.format(web + traits.splitlines(keepends=True)[0]), registry)
    assert [(e[0], e[1]) for e in alone] == [(10, "spec.components[0].traits[0].properties.seccompProfile")]


def test_service_account_privileges_become_a_role_and_binding_in_the_apps_namespace(tmp_path, registry):
    docs, _ = _render(CORPUS / "43-service-account-privileges.yaml", registry)
    objects = _objects(docs, "reader")
    assert objects["Role"]["metadata"]["name"] == "config-reader"
    assert objects["Role"]["rules"] == [
        {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["configmaps"]},
        {"verbs": ["get"], "resources": ["secrets"], "resourceNames": ["reader-token"]},
    ]
    binding = objects["RoleBinding"]
    assert binding["metadata"]["namespace"] == "corpus"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "config-reader"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "config-reader", "namespace": "corpus"}]
    cluster = (CORPUS / "43-service-account-privileges.yaml").read_text().replace("scope: namespace", "scope: cluster")
    errors = _errors(tmp_path, cluster, registry)
    assert [(e[0], e[1]) for e in errors] == [(25, "spec.components[0].traits[0].properties.privileges[1].scope")]
    assert "cluster admin" in errors[0][3]


def test_probes_and_security_contexts_in_their_several_containers_shapes(registry):
    docs, _ = _render(CORPUS / "44-multi-container-traits.yaml", registry)
    pod = _objects(docs, "web")["Deployment"]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert containers["web"]["startupProbe"] == {"tcpSocket": {"port": 8080}, "failureThreshold": 20}
    assert containers["proxy"]["startupProbe"] == {"httpGet": {"path": "/ready", "port": 9901}, "periodSeconds": 2}
    security = containers["web"]["securityContext"]
    assert (security["readOnlyRootFilesystem"], security["runAsUser"], security["capabilities"]) == (
        True,
        10001,
        {"drop": ["ALL"]},
    )


def test_expose_annotations_go_on_the_service_only(registry):
    docs, _ = _render(CORPUS / "12-expose.yaml", registry)
    objects = _objects(docs, "hello-world")
    assert objects["Service"]["metadata"]["annotations"] == {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    assert objects["Service"]["spec"]["type"] == "LoadBalancer"
    assert "service.beta.kubernetes.io/aws-load-balancer-type" not in objects["Deployment"]["metadata"].get(
        "annotations", {}
    )


@pytest.mark.parametrize(
    "mount, path",
    [
        ("mountToEnvs: 5", "mountToEnvs"),
        ("mountToEnv: text", "mountToEnv"),
        ("mountToEnvs: [{envName: A, secretKey: a, secretKeys: b}]", "mountToEnvs[0].secretKeys"),
    ],
)
def test_storage_mount_to_env_of_the_wrong_shape_is_an_error_not_a_crash_or_a_drop(tmp_path, registry, mount, path):
    web = "    - name: web\n      type: webservice\n      properties: {image: nginx}\n      traits:\n"
    trait = f"        - type: storage\n          properties:\n            secret: [{{name: s, mountPath: /s, mountOnly: true, {mount}}}]\n"
    errors = _errors(tmp_path, APP.format(web + trait), registry)
    assert any(e[1] == f"spec.components[0].traits[0].properties.secret[0].{path}" and e[3] for e in errors), errors


@pytest.mark.parametrize(
    "trait, path",
    [
        ("{type: command, properties: {args: [a]}, propertise: {}}", "traits[0].propertise"),
        (
            "{type: k8s-update-strategy, properties: {strategy: {type: RollingUpdate, rollingStrategy: {maxSurg: 1}}}}",
            "traits[0].properties.strategy.rollingStrategy.maxSurg",
        ),
        (
            "{type: service-binding, properties: {envMappings: {A: {secret: s, kye: k}}}}",
            "traits[0].properties.envMappings.A.kye",
        ),
        (
            "{type: container-ports, properties: {ports: [{containerPort: 80, protocl: UDP}]}}",
            "traits[0].properties.ports[0].protocl",
        ),
        ("{type: env, properties: {containers: [{env: {A: b}}], replace: true}}", "traits[0].properties.replace"),
        (
            "{type: hpa, properties: {max: 3, podCustomMetrics: [{name: rps, value: '10', type: x}]}}",
            "traits[0].properties.podCustomMetrics[0].type",
        ),
    ],
)
def test_an_unknown_key_inside_a_translated_trait_is_an_error_not_a_silent_drop(tmp_path, registry, trait, path):
    web = f"    - name: web\n      type: webservice\n      properties: {{image: nginx}}\n      traits: [{trait}]\n"
    errors = _errors(tmp_path, APP.format(web), registry)
    assert any(e[1] == f"spec.components[0].{path}" and e[3] for e in errors), errors


def test_expose_annotations_that_are_not_a_mapping_are_an_error_not_a_crash(tmp_path, registry):
    web = "    - name: web\n      type: webservice\n      properties: {image: nginx}\n      traits: [{type: expose, properties: {port: [80], annotations: 5}}]\n"
    errors = _errors(tmp_path, APP.format(web), registry)
    assert [(e[0], e[1]) for e in errors] == [(9, "spec.components[0].traits[0].properties.annotations")]


@pytest.mark.parametrize(
    "trait",
    [
        "{type: json-merge-patch, properties: {metadata: 5}}",
        "{type: json-merge-patch, properties: {metadata: null}}",
        "{type: json-patch, properties: {operations: [{op: replace, path: /metadata, value: x}]}}",
    ],
)
def test_a_patch_that_breaks_the_objects_identity_is_an_error_not_a_crash(tmp_path, registry, trait):
    web = f"    - name: web\n      type: webservice\n      properties: {{image: nginx}}\n      traits: [{trait}]\n"
    errors = _errors(tmp_path, APP.format(web), registry)
    assert errors and all(e[1].startswith("spec.components[0].traits[0].properties") and e[3] for e in errors), errors


def test_k8s_objects_labels_that_are_not_a_mapping_are_an_error_not_a_crash(tmp_path, registry):
    objects = "{objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: c, labels: x}}]}"
    errors = _errors(
        tmp_path, APP.format(f"    - name: raw\n      type: k8s-objects\n      properties: {objects}\n"), registry
    )
    assert [(e[0], e[1]) for e in errors] == [(8, "spec.components[0].properties.objects[0].metadata.labels")]


@pytest.mark.parametrize(
    "trait",
    ["{type: expose, properties: {port: [80]}}", "{type: container-ports, properties: {ports: [{containerPort: 80}]}}"],
)
def test_port_traits_on_a_worker_are_refused_at_the_trait_not_at_a_field_the_user_never_wrote(
    tmp_path, registry, trait
):
    worker = f"    - name: jobs\n      type: worker\n      properties: {{image: busybox}}\n      traits: [{trait}]\n"
    [(line, path, summary, detail)] = _errors(tmp_path, APP.format(worker), registry)
    assert (line, path) == (9, "spec.components[0].traits[0].type") and "use type webservice" in detail


def test_daemon_port_and_expose_type_as_daemon_cue_has_them(tmp_path, registry):
    daemon = (
        "    - name: agent\n      type: daemon\n      properties:\n        image: ghcr.io/acme/agent:1.0.0\n"
        "        port: 9100\n    - name: edge\n      type: daemon\n      properties:\n"
        "        image: ghcr.io/acme/edge:1.0.0\n        exposeType: NodePort\n        ports: [{port: 8080, expose: true}]\n"
    )
    write(tmp_path, {"app.yaml": APP.format(daemon), "environments/test.yaml": ENV})
    docs, _ = _render(tmp_path / "app.yaml", registry)
    agent = _objects(docs, "agent")
    assert "Service" not in agent  # the deprecated port is the container's only
    assert agent["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 9100, "protocol": "TCP"}
    ]
    assert _objects(docs, "edge")["Service"]["spec"]["type"] == "NodePort"


def test_a_webservice_limit_that_is_not_a_mapping_is_said_so(tmp_path, registry):
    web = "    - name: web\n      type: webservice\n      properties: {image: nginx, limit: 2}\n"
    [(line, path, summary, _)] = _errors(tmp_path, APP.format(web), registry)
    assert (line, path, summary) == (8, "spec.components[0].properties.limit", "expected limit: {cpu, memory}")
