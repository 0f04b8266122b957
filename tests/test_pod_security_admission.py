"""Pod Security Admission: the stand-in's check (tests/support/kube_psa.py) and Composer against it.

The self-tests cite the control of the Kubernetes "Pod Security Standards" page each rule comes
from. The rendered examples are then checked by that independent implementation, and the
webshop's workloads are applied to a namespace that enforces `restricted`.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from kubernetes import client

from composer.project import compile_project, open_project
from tests.helpers import ROOT, appc, write
from tests.support import kube_psa as psa


def good_pod() -> dict:
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": "x",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


# (the page's control, a change that breaks it, the level it breaks, words the reason must hold)
CONTROLS = [
    ("baseline: Host Namespaces", lambda p: p.update(hostNetwork=True), "baseline", "hostNetwork=true"),
    (
        "baseline: Privileged Containers",
        lambda p: p["containers"][0]["securityContext"].update(privileged=True),
        "baseline",
        "securityContext.privileged=true",
    ),
    (
        "baseline: Capabilities (beyond the baseline list)",
        lambda p: p["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        "baseline",
        '"SYS_ADMIN"',
    ),
    (
        "baseline: HostPath Volumes",
        lambda p: p["volumes"].append({"name": "host", "hostPath": {"path": "/"}}),
        "baseline",
        'hostPath volumes (volume "host")',
    ),
    (
        "baseline: Host Ports",
        lambda p: p["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}]),
        "baseline",
        "hostPort 80",
    ),
    (
        "baseline: Seccomp (Unconfined)",
        lambda p: p["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "baseline",
        "Unconfined",
    ),
    (
        "restricted: Privilege Escalation",
        lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
        "restricted",
        "securityContext.allowPrivilegeEscalation=false",
    ),
    (
        "restricted: Running as Non-root",
        lambda p: p["securityContext"].pop("runAsNonRoot"),
        "restricted",
        "securityContext.runAsNonRoot=true",
    ),
    (
        "restricted: Running as Non-root user",
        lambda p: p["securityContext"].update(runAsUser=0),
        "restricted",
        "runAsUser=0",
    ),
    (
        "restricted: Seccomp (must be set)",
        lambda p: p["securityContext"].pop("seccompProfile"),
        "restricted",
        "seccompProfile.type",
    ),
    (
        "restricted: Capabilities (drop ALL)",
        lambda p: p["containers"][0]["securityContext"].pop("capabilities"),
        "restricted",
        'capabilities.drop=["ALL"]',
    ),
    (
        "restricted: Capabilities (add only NET_BIND_SERVICE)",
        lambda p: p["containers"][0]["securityContext"]["capabilities"].update(add=["CHOWN"]),
        "restricted",
        "NET_BIND_SERVICE",
    ),
    (
        "restricted: Volume Types",
        lambda p: p["volumes"].append({"name": "nfs", "nfs": {"server": "x", "path": "/"}}),
        "restricted",
        'restricted volume types (volume "nfs")',
    ),
]


@pytest.mark.parametrize("control,breaks,level,words", CONTROLS, ids=[c[0] for c in CONTROLS])
def test_standin_rule(control, breaks, level, words):
    assert psa.violations(good_pod(), "restricted") == []
    pod = good_pod()
    breaks(pod)
    found = " ".join(psa.violations(pod, "restricted"))
    assert words in found, (control, found)
    if level == "restricted":
        assert psa.violations(pod, "baseline") == [], control  # baseline allows it
    else:
        assert psa.violations(pod, "baseline"), control
    assert psa.violations(pod, "privileged") == []


@pytest.mark.parametrize(
    "example,env", [("webshop", "prod"), ("webshop", "dev"), ("platform-catalog", "staging"), ("oam", "dev")]
)
def test_rendered_examples_pass_restricted_by_the_independent_check(example, env, registry):
    files = compile_project(open_project(ROOT / "examples" / example / "app.yaml"), env, registry).rendered.files
    checked = 0
    for name, data in files.items():
        for obj in yaml.safe_load_all(data) if name.startswith("kubernetes/") else []:
            template = psa.pod_template(obj["kind"], obj)
            if template:
                assert psa.violations(template, "restricted") == [], (name, obj["kind"])
                checked += 1
    assert checked


def webshop_workloads(relax: dict | None = None) -> dict:
    """The webshop's workload components, without their cloud connections (no cloud here)."""
    doc = yaml.safe_load((ROOT / "examples" / "webshop" / "app.yaml").read_text())
    keep = []
    for c in doc["spec"]["components"]:
        if c["type"] not in ("webservice", "worker", "cron-task"):
            continue
        c.pop("connections", None)
        props = c["properties"]
        props["env"] = {k: v for k, v in (props.get("env") or {}).items() if "${" not in str(v)}
        props["cmd"] = [a for a in props.get("cmd") or [] if "${" not in a] or None
        props = {k: v for k, v in props.items() if v is not None}
        c["properties"] = props
        if relax and c["name"] == "api":
            c["traits"].append({"type": "security", "properties": relax})
        keep.append(c)
    doc["spec"]["components"] = keep
    return doc


def apply_to_restricted(tmp_path, kube, doc: dict):
    app = restricted_project(tmp_path, kube, doc)
    return appc("apply", "-f", str(app), "-e", "dev", "--auto-approve", "--json", "--timeout", "20")


def restricted_project(tmp_path, kube, doc: dict):
    """The app, and an environment whose namespace enforces `restricted`; the app file's path."""
    kube.set_auto_ready(True)
    core = client.CoreV1Api(kube.api())
    core.create_namespace({"metadata": {"name": "secure", "labels": {psa.ENFORCE_LABEL: "restricted"}}})
    env = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "dev"},
        "spec": {"kubernetes": {"context": "standin", "namespace": "secure"}},
    }
    write(tmp_path, {"app.yaml": yaml.safe_dump(doc, sort_keys=False), "environments/dev.yaml": yaml.safe_dump(env)})
    return tmp_path / "app.yaml"


def text_of(result) -> str:
    return result.err + "\n".join(json.dumps(e) for e in result.events)


def test_webshop_applies_to_a_restricted_namespace(tmp_path, kube_clean):
    r = apply_to_restricted(tmp_path, kube_clean, webshop_workloads())
    assert r.code == 0, text_of(r)
    api = kube_clean.get("/apis/apps/v1/namespaces/secure/deployments/api")
    assert api["status"]["readyReplicas"] == 2
    assert kube_clean.get("/apis/batch/v1/namespaces/secure/cronjobs/nightly-report") is not None


def test_a_relaxed_pod_is_refused_naming_the_component_and_the_field(tmp_path, kube_clean):
    r = apply_to_restricted(tmp_path, kube_clean, webshop_workloads({"runAsNonRoot": False}))
    assert r.code == 3
    refused = [
        d
        for e in r.events
        for d in ([e] if e.get("type") == "diagnostic" else e.get("diagnostics") or [])
        if "Pod Security" in d.get("summary", "") + d.get("detail", "")
    ]
    assert refused, text_of(r)
    d = refused[0]
    assert d.get("address") == "api", d
    assert "securityContext.runAsNonRoot=true" in d["summary"] + d["detail"]


def test_a_privileged_bare_pod_is_forbidden_naming_the_component_and_the_field(tmp_path, kube_clean):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "debug"},
        "spec": {
            **copy.deepcopy(good_pod()),
            "containers": [
                {
                    "name": "sh",
                    "image": "busybox",
                    "securityContext": {"privileged": True, "capabilities": {"drop": ["ALL"]}},
                }
            ],
        },
    }
    doc = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop"},
        "spec": {"components": [{"name": "toolbox", "type": "k8s-objects", "properties": {"objects": [pod]}}]},
    }
    r = apply_to_restricted(tmp_path, kube_clean, doc)
    assert r.code == 3
    text = text_of(r)
    assert "refused by the Pod Security admission of namespace secure" in text, text
    assert "securityContext.privileged=true" in text and '"address": "toolbox"' in text
    assert kube_clean.get("/api/v1/namespaces/secure/pods/debug") is None


# -- workload resources: admitted with a warning, their pods refused (the plugin's behaviour) ----------

WORKLOAD_KINDS = {
    # kind: (API path, body of the spec around a pod template)
    "StatefulSet": (
        "/apis/apps/v1",
        lambda t: {"serviceName": "w", "selector": {"matchLabels": {"app": "w"}}, "template": t},
    ),
    "DaemonSet": ("/apis/apps/v1", lambda t: {"selector": {"matchLabels": {"app": "w"}}, "template": t}),
    "ReplicaSet": ("/apis/apps/v1", lambda t: {"selector": {"matchLabels": {"app": "w"}}, "template": t}),
    "Job": ("/apis/batch/v1", lambda t: {"template": {**t, "spec": {**t["spec"], "restartPolicy": "Never"}}}),
    "CronJob": (
        "/apis/batch/v1",
        lambda t: {
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": {**t, "spec": {**t["spec"], "restartPolicy": "Never"}}}},
        },
    ),
}


def create(kube, namespace: str, kind: str, spec: dict) -> tuple[int, list[str], dict]:
    """POST an object through the official client; (status, Warning texts, body)."""
    from kubernetes.client.exceptions import ApiException

    from composer.runners.kube.client import warning_texts

    group = "/api/v1" if kind == "Pod" else WORKLOAD_KINDS[kind][0]
    plural = kind.lower() + "s"
    body = {
        "apiVersion": group.removeprefix("/apis/").removeprefix("/api/"),
        "kind": kind,
        "metadata": {"name": "w"},
        "spec": spec,
    }
    try:
        resp = kube.api().call_api(
            f"{group}/namespaces/{namespace}/{plural}",
            "POST",
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
        )
    except ApiException as exc:
        return exc.status, [], json.loads(exc.body)
    return resp.status, warning_texts(resp), json.loads(resp.data)


def relaxed_template() -> dict:
    pod = good_pod()
    pod["securityContext"].pop("runAsNonRoot")  # restricted: Running as Non-root
    return {"metadata": {"labels": {"app": "w"}}, "spec": pod}


def test_workload_resources_are_admitted_with_a_warning_and_their_pods_refused(kube_clean):
    kube_clean.set_auto_ready(True)
    core = client.CoreV1Api(kube_clean.api())
    field = "securityContext.runAsNonRoot=true"
    for kind, (group, spec) in WORKLOAD_KINDS.items():
        ns = kind.lower()
        core.create_namespace({"metadata": {"name": ns, "labels": {psa.ENFORCE_LABEL: "restricted"}}})
        code, warnings, obj = create(kube_clean, ns, kind, spec(relaxed_template()))
        # enforce never refuses a workload resource; warn (defaulting to the enforce level) warns
        assert code == 201, (kind, obj)
        assert len(warnings) == 1 and warnings[0].startswith('would violate PodSecurity "restricted:latest": '), (
            warnings
        )
        assert field in warnings[0], warnings
        live = kube_clean.get(f"{group}/namespaces/{ns}/{kind.lower()}s/w")
        events = [
            e for e in kube_clean.get(f"/api/v1/namespaces/{ns}/events")["items"] if e["reason"] == "FailedCreate"
        ]
        if kind == "CronJob":  # its pods are created on schedule: nothing is refused yet
            assert not events
            continue
        if kind == "ReplicaSet":  # a ReplicaSet says so in a condition, as a Deployment does
            (failure,) = live["status"]["conditions"]
            assert failure["type"] == "ReplicaFailure" and "violates PodSecurity" in failure["message"]
            continue
        # StatefulSets, DaemonSets and Jobs have no such condition: no pod, a FailedCreate event
        assert not live["status"].get("readyReplicas") and not live["status"].get("numberReady"), live["status"]
        assert not live["status"].get("succeeded"), live["status"]
        (event,) = events
        assert event["involvedObject"]["kind"] == kind and event["type"] == "Warning"
        assert (
            'is forbidden: violates PodSecurity "restricted:latest"' in event["message"] and field in event["message"]
        )
    # the same template as a bare Pod: enforce refuses it
    code, warnings, status = create(kube_clean, "job", "Pod", relaxed_template()["spec"])
    assert code == 403 and field in status["message"] and not warnings
    # a compliant template: no warning, and the controller's pods run
    compliant = WORKLOAD_KINDS["DaemonSet"][1]({"metadata": {"labels": {"app": "w"}}, "spec": good_pod()})
    core.create_namespace({"metadata": {"name": "fine", "labels": {psa.ENFORCE_LABEL: "restricted"}}})
    code, warnings, _ = create(kube_clean, "fine", "DaemonSet", compliant)
    assert code == 201 and warnings == []
    assert kube_clean.get("/apis/apps/v1/namespaces/fine/daemonsets/w")["status"]["numberReady"] == 1


def test_the_warn_label_sets_its_own_level(kube_clean):
    core = client.CoreV1Api(kube_clean.api())
    labels = {psa.ENFORCE_LABEL: "baseline", psa.WARN_LABEL: "restricted"}
    core.create_namespace({"metadata": {"name": "audit-me", "labels": labels}})
    code, warnings, _ = create(kube_clean, "audit-me", "Pod", relaxed_template()["spec"])
    assert code == 201 and len(warnings) == 1 and "runAsNonRoot" in warnings[0]  # baseline admits, restricted warns
    labels = {psa.ENFORCE_LABEL: "restricted", psa.WARN_LABEL: "privileged"}
    core.create_namespace({"metadata": {"name": "quiet", "labels": labels}})
    code, warnings, _ = create(kube_clean, "quiet", "Job", WORKLOAD_KINDS["Job"][1](relaxed_template()))
    assert code == 201 and warnings == []  # an explicit warn level replaces the enforce default


def test_a_relaxed_statefulset_and_job_fail_naming_the_component_and_the_field(tmp_path, kube_clean):
    relax = {"type": "security", "properties": {"runAsNonRoot": False}}
    doc = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop"},
        "spec": {
            "components": [
                {
                    "name": "ledger",
                    "type": "statefulset",
                    "properties": {"image": "ghcr.io/acme/ledger:1", "cpu": "100m", "memory": "64Mi"},
                    "traits": [relax],
                },
                {
                    "name": "migrate",
                    "type": "task",
                    "properties": {"image": "ghcr.io/acme/migrate:1", "cpu": "100m", "memory": "64Mi"},
                    "traits": [relax],
                },
            ]
        },
    }
    app = restricted_project(tmp_path, kube_clean, doc)
    # plan already knows: the server's dry run warns (nothing is written)
    r = appc("plan", "-f", str(app), "-e", "dev", "--json")
    assert r.code in (0, 2), text_of(r)
    warned = {
        d.get("address"): d
        for e in r.events
        for d in ([e] if e.get("type") == "diagnostic" else e.get("diagnostics") or [])
        if "would violate the Pod Security level" in d.get("summary", "")
    }
    assert set(warned) == {"ledger", "migrate"}, text_of(r)
    assert all("securityContext.runAsNonRoot=true" in d["detail"] for d in warned.values()), warned
    assert kube_clean.get("/apis/apps/v1/namespaces/secure/statefulsets/ledger") is None
    r = appc("apply", "-f", str(app), "-e", "dev", "--auto-approve", "--json", "--timeout", "20")
    assert r.code == 3, text_of(r)
    refused = {
        d.get("address"): d
        for e in r.events
        for d in ([e] if e.get("type") == "diagnostic" else e.get("diagnostics") or [])
        if "Pod Security admission" in d.get("summary", "")
    }
    assert set(refused) == {"ledger", "migrate"}, text_of(r)
    for d in refused.values():
        assert "securityContext.runAsNonRoot=true" in d["detail"], d
        assert "security trait" in d["detail"], d
    assert (
        "StatefulSet secure/ledger" in refused["ledger"]["summary"]
        and "Job secure/migrate" in refused["migrate"]["summary"]
    )
