"""OAM input: KubeVela core.oam.dev/v1beta1 Applications load as they are (docs/oam.md).

- An OAM app renders byte-identical manifests to the equivalent composer.dev app.
- Every unsupported OAM feature is exit 1 with a diagnostic naming file:line and the
  field path the user wrote; nothing is dropped silently.
- Errors inside translated parts (env lists, gateway, storage, hpa, volumes) still
  point at the original line and path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from composer.project import compile_project, open_project
from tests.helpers import appc, write

ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  kubernetes: {context: test, namespace: shop}
"""

OAM_APP = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - name: web
      type: webservice
      properties:
        image: nginx:1.27
        ports:
          - {port: 8080, name: http}
          - {port: 9090, name: metrics}
        exposeType: LoadBalancer
        env:
          - {name: MODE, value: production}
          - {name: WORKERS, value: 4}
          - name: TOKEN
            valueFrom: {secretKeyRef: {name: web-token, key: token}}
        cpu: "0.5"
        memory: 256Mi
        volumes:
          - {name: cache, mountPath: /cache, type: emptyDir}
          - {name: conf, mountPath: /etc/conf, type: configMap, cmName: web-conf-base, defaultMode: 420}
      traits:
        - type: gateway
          properties: {domain: web.example.com, http: {"/": 8080}, secretName: web-tls}
        - type: storage
          properties:
            pvc: [{name: web-data, mountPath: /data}]
            configMap: [{name: web-conf, mountPath: /etc/web, data: {a: b}}]
            secret: [{name: web-certs, mountPath: /certs, mountOnly: true}]
            emptyDir: [{name: tmp, mountPath: /tmp, medium: Memory}]
        - type: cpuscaler
          properties: {min: 2, max: 5, cpuPercent: 60}
        - type: resource
          properties: {requests: {cpu: 250m}, limits: {memory: 512Mi}}
        - type: sidecar
          properties: {name: proxy, image: envoyproxy/envoy:v1.31.0, env: [{name: LEVEL, value: warn}], volumes: [{name: emptydir-tmp, path: /tmp}]}
        - {type: labels, properties: {tier: web}}
        - {type: annotations, properties: {owner: team-web}}
    - name: jobs
      type: worker
      dependsOn: [web]
      properties: {image: busybox:1.36, cmd: [sleep, "1000"]}
      traits:
        - type: scaler
        - type: env
          properties: {env: {QUEUE: orders}}
    - name: burst
      type: worker
      properties: {image: busybox:1.36}
      traits:
        - type: hpa
          properties: {min: 1, max: 4, cpu: {type: Utilization, value: 70}, mem: {value: 80}}
    - name: once
      type: task
      properties: {image: busybox:1.36, count: 2, restart: OnFailure, env: [{name: A, value: "1"}]}
    - name: nightly
      type: cron-task
      properties:
        image: busybox:1.36
        schedule: "@daily"
        volumes: [{name: out, mountPath: /out, type: pvc, claimName: reports}]
    - name: extra
      type: k8s-objects
      properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: extra}, data: {k: v}}]}
"""

NATIVE_APP = """
apiVersion: composer.dev/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  components:
    - name: web
      type: webservice
      properties:
        image: nginx:1.27
        ports:
          - {port: 8080, name: http, expose: true}
          - {port: 9090, name: metrics, expose: false}
        exposeType: LoadBalancer
        env:
          MODE: production
          WORKERS: "4"
          TOKEN: {valueFrom: {secretKeyRef: {name: web-token, key: token}}}
        cpu: "0.5"
        memory: 256Mi
        volumeMounts:
          emptyDir: [{name: cache, mountPath: /cache}]
          configMap: [{name: conf, mountPath: /etc/conf, cmName: web-conf-base}]
      traits:
        - type: ingress
          properties: {host: web.example.com, paths: {"/": 8080}, tlsSecretName: web-tls, annotations: {kubernetes.io/ingress.class: nginx}}
        - type: volume
          properties:
            pvc: [{name: pvc-web-data, mountPath: /data, claimName: web-data, create: true, accessModes: [ReadWriteOnce], resources: {requests: {storage: 8Gi}}}]
            configMap: [{name: configmap-web-conf, mountPath: /etc/web, cmName: web-conf, data: {a: b}}]
            secret: [{name: secret-web-certs, mountPath: /certs, secretName: web-certs}]
            emptyDir: [{name: emptydir-tmp, mountPath: /tmp, medium: Memory}]
        - type: hpa
          properties: {min: 2, max: 5, cpuUtil: 60}
        - type: resources
          properties: {requests: {cpu: 250m}, limits: {memory: 512Mi}}
        - type: sidecar
          properties: {name: proxy, image: envoyproxy/envoy:v1.31.0, env: {LEVEL: warn}, volumes: [{name: emptydir-tmp, path: /tmp}]}
        - {type: labels, properties: {tier: web}}
        - {type: annotations, properties: {owner: team-web}}
    - name: jobs
      type: worker
      dependsOn: [web]
      properties: {image: busybox:1.36, cmd: [sleep, "1000"]}
      traits:
        - {type: scaler, properties: {replicas: 1}}
        - type: env
          properties: {env: {QUEUE: orders}}
    - name: burst
      type: worker
      properties: {image: busybox:1.36}
      traits:
        - type: hpa
          properties: {min: 1, max: 4, cpuUtil: 70, memUtil: 80}
    - name: once
      type: task
      properties: {image: busybox:1.36, count: 2, restart: OnFailure, env: {A: "1"}}
    - name: nightly
      type: cron-task
      properties:
        image: busybox:1.36
        schedule: "@daily"
        volumeMounts: {pvc: [{name: out, mountPath: /out, claimName: reports}]}
    - name: extra
      type: k8s-objects
      properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: extra}, data: {k: v}}]}
"""


def _render(root: Path, app: str, registry) -> dict[str, bytes]:
    write(root, {"app.yaml": app, "environments/test.yaml": ENV})
    return compile_project(open_project(root / "app.yaml"), "test", registry).rendered.files


def test_oam_app_renders_like_the_native_app(tmp_path, registry):
    oam = _render(tmp_path / "oam", OAM_APP, registry)
    native = _render(tmp_path / "native", NATIVE_APP, registry)
    assert sorted(oam) == sorted(native)
    for name in sorted(native):
        assert oam[name] == native[name], name
    # The KubeVela semantics a user relies on, as the manifests show them.
    web = {d["kind"]: d for d in yaml.safe_load_all(oam["kubernetes/web.yaml"]) if d}
    assert web["PersistentVolumeClaim"]["metadata"]["name"] == "web-data"  # storage keeps KubeVela's claim name
    assert web["PersistentVolumeClaim"]["spec"]["resources"] == {"requests": {"storage": "8Gi"}}  # and its default size
    assert [p["port"] for p in web["Service"]["spec"]["ports"]] == [8080]  # 9090 has no expose: not on the LoadBalancer
    assert web["Ingress"]["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "nginx"
    assert "replicas" not in web["Deployment"]["spec"]  # cpuscaler owns the replica count


def _diagnostics(tmp_path: Path, app: str) -> list[dict]:
    write(tmp_path, {"app.yaml": app, "environments/test.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "--json")
    assert r.code == 1, (r.code, r.out, r.err)
    assert "Traceback" not in r.out + r.err
    assert r.events[-1]["type"] == "summary" and r.events[-1]["exit_code"] == 1
    return [e for e in r.events if e["type"] == "diagnostic"]


def _expect(diags: list[dict], summary: str, line: int, path: str) -> dict:
    match = [d for d in diags if re.search(summary, d["summary"]) and d["line"] == line and d["path"] == path]
    assert match, f"no diagnostic {summary!r} at app.yaml:{line} {path}; got:\n" + "\n".join(
        f"{d['file']}:{d['line']} {d['path']} {d['summary']}" for d in diags
    )
    assert Path(match[0]["file"]).name == "app.yaml"
    return match[0]


def oam(components: str, spec_extra: str = "", metadata: str = "{name: shop}") -> str:
    return f"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {metadata}\nspec:\n  components:\n{components}{spec_extra}"


WEB = "    - name: web\n      type: webservice\n      properties: {image: nginx}\n"


# (summary regex, line, path) per unsupported feature; line 6 is the first component.
UNSUPPORTED = {
    "policy-read-only": (
        oam(
            WEB,
            "  policies:\n    - {name: hands-off, type: read-only, properties: {rules: [{selector: {oamTypes: [TRAIT]}}]}}\n",
        ),
        [
            (
                r"this read-only rule selects objects Composer cannot tell apart",
                10,
                "spec.policies[0].properties.rules[0].selector",
            )
        ],
    ),
    "workflow-notification": (
        oam(
            WEB,
            "  workflow:\n    steps:\n      - {name: deploy, type: deploy}\n      - {name: tell, type: notification, properties: {slack: {url: {value: x}}}}\n",
        ),
        [(r"workflow step 'tell' \(notification\) is not supported", 12, "spec.workflow.steps[1].type")],
    ),
    "inputs-outputs": (
        oam(
            WEB + "      outputs: [{name: host, valueFrom: output.status.host}]\n"
            "    - name: job\n      type: task\n      properties: {image: busybox}\n      inputs: [{from: host, parameterKey: env}]\n"
        ),
        [
            (r"unsupported OAM field 'outputs'", 9, "spec.components[0].outputs"),
            (r"unsupported OAM field 'inputs'", 13, "spec.components[1].inputs"),
        ],
    ),
    "unknown-trait": (
        oam(WEB + "      traits:\n        - type: kruise-rollout\n          properties: {port: 9080}\n"),
        [(r"unknown trait 'kruise-rollout'", 10, "spec.components[0].traits[0].type")],
    ),
    "nocalhost-without-image": (
        oam(WEB + "      traits:\n        - type: nocalhost\n          properties: {port: 9080}\n"),
        [(r"nocalhost needs image", 11, "spec.components[0].traits[0].properties")],
    ),
    "unknown-type": (
        oam("    - name: chart\n      type: helm\n      properties: {chart: podinfo}\n"),
        [(r"unknown component type 'helm'", 7, "spec.components[0].type")],
    ),
    "redeploy-after-approval": (
        oam(
            WEB,
            "  workflow:\n    steps:\n      - {name: dev, type: deploy}\n      - {name: ok, type: suspend}\n      - {name: prod, type: deploy}\n",
        ),
        [
            (
                r"step 'prod' deploys the components again to the namespace they are already in",
                13,
                "spec.workflow.steps[2]",
            )
        ],
    ),
    "scopes": (
        oam(WEB + "      scopes: {healthscopes.core.oam.dev: health}\n"),
        [(r"unsupported OAM field 'scopes'", 9, "spec.components[0].scopes")],
    ),
    "gateway-without-domain": (
        oam(
            WEB.replace("{image: nginx}", "{image: nginx, port: 80}")
            + "      traits:\n        - type: gateway\n          properties:\n            http: {/: 80}\n"
        ),
        [(r"gateway without a domain", 12, "spec.components[0].traits[0].properties")],
    ),
    "storage-hostPath-and-friends": (
        oam(
            WEB + "      traits:\n        - type: storage\n          properties:\n"
            "            hostPath: [{name: h, path: /var, mountPath: /h}]\n"
            "            configMap: [{name: c, mountPath: /c, defaultMode: 384}]\n"
            "            secret: [{name: s, mountPath: /s, stringData: {pw: hunter2}}]\n"
            "            pvc: [{name: p, mountPath: /p, volumeMode: Block}]\n"
        ),
        [
            (r"storage type 'hostPath' is not supported", 12, "spec.components[0].traits[0].properties.hostPath"),
            (r"a defaultMode other than 420", 13, "spec.components[0].traits[0].properties.configMap[0].defaultMode"),
            (
                r"storage secret field 'stringData' is not supported",
                14,
                "spec.components[0].traits[0].properties.secret[0].stringData",
            ),
            (r"volumeMode 'Block' is not supported", 15, "spec.components[0].traits[0].properties.pvc[0].volumeMode"),
        ],
    ),
    "hpa-unknown-metric-type": (
        oam(
            WEB + "      traits:\n        - type: hpa\n          properties:\n"
            "            cpu: {type: Value, value: 200}\n"
        ),
        [(r"cpu.type 'Value' is not supported", 12, "spec.components[0].traits[0].properties.cpu.type")],
    ),
    "cpuscaler-other-target": (
        oam(WEB + "      traits:\n        - type: cpuscaler\n          properties: {targetKind: StatefulSet}\n"),
        [
            (
                r"targetKind other than 'Deployment' is not supported",
                11,
                "spec.components[0].traits[0].properties.targetKind",
            )
        ],
    ),
    "unknown-property": (
        oam(
            "    - name: web\n      type: worker\n      properties:\n        image: nginx\n        hostAliases: [{ip: 127.0.0.1, hostnames: [x]}]\n"
        ),
        [(r"KubeVela property 'hostAliases' is not supported", 10, "spec.components[0].properties.hostAliases")],
    ),
    "nodePort-hostPath": (
        oam(
            "    - name: web\n      type: webservice\n      properties:\n        image: nginx\n"
            "        ports: [{port: 80, expose: true, nodePort: 30080}]\n"
            "        volumeMounts:\n          hostPath: [{name: h, path: /var, mountPath: /h}]\n"
            "          pvc:\n            - {name: p, mountPath: /p, claimName: c, subPath: sub}\n"
            "        volumes:\n          - {name: v, mountPath: /v, type: secret, secretName: s, items: [{key: a, path: b}]}\n"
        ),
        [
            (r"nodePort is not supported", 10, "spec.components[0].properties.ports[0].nodePort"),
            (r"hostPath volumes are not supported", 12, "spec.components[0].properties.volumeMounts.hostPath"),
            (r"give volumeMounts or the older volumes list, not both", 15, "spec.components[0].properties.volumes"),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_oam_feature_is_a_clear_error(tmp_path, name):
    app, expected = UNSUPPORTED[name]
    diags = _diagnostics(tmp_path, app)
    for summary, line, path in expected:
        d = _expect(diags, summary, line, path)
        assert d["detail"], "an unsupported feature says what to do instead"


def test_metadata_namespace_is_used_unless_the_environment_names_one_then_a_warning_names_both(tmp_path, registry):
    write(
        tmp_path,
        {
            "app.yaml": oam(WEB, metadata="\n  name: shop\n  namespace: prod"),
            "environments/test.yaml": ENV,
            "environments/bare.yaml": ENV.replace("name: test", "name: bare").replace(", namespace: shop", ""),
        },
    )
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "test", "--json")
    assert r.code == 0, r.err
    [w] = [
        e for e in r.events if e["type"] == "diagnostic" and "no CPU or memory limits" not in e["summary"]
    ]  # that one is issue 18's
    assert (w["severity"], w["line"], w["path"]) == ("warning", 5, "metadata.namespace")
    assert "'shop'" in w["summary"] and "'prod'" in w["summary"]
    project = open_project(tmp_path / "app.yaml")
    assert (
        yaml.safe_load(compile_project(project, "test", registry).rendered.files["kubernetes/web.yaml"])["metadata"][
            "namespace"
        ]
        == "shop"
    )
    bare = compile_project(project, "bare", registry)
    assert (
        bare.warnings == ()
        and yaml.safe_load(bare.rendered.files["kubernetes/web.yaml"])["metadata"]["namespace"] == "prod"
    )


# Errors inside translated parts: the original line, and the path as the user wrote it.
CONVERTED = {
    "env-entry-without-name": (
        "        env:\n          - {name: A, value: x}\n          - {value: y}\n",
        [(r"an env entry needs a name", 12, "spec.components[0].properties.env[1]")],
    ),
    "env-entry-unknown-field": (
        "        env:\n          - {name: A, valu: x}\n",
        [(r"unknown field 'valu' in env entry", 11, "spec.components[0].properties.env[0].valu")],
    ),
    "env-duplicate-name": (
        "        env:\n          - {name: A, value: x}\n          - {name: A, value: y}\n",
        [(r"env var 'A' is given twice", 12, "spec.components[0].properties.env[1].name")],
    ),
    "env-value-not-text": (
        "        env:\n          - name: A\n            value: {nested: true}\n",
        [(r"value of env var 'A' must be text", 12, "spec.components[0].properties.env[0].value")],
    ),
    "env-valueFrom-wrong-type": (
        "        env:\n          - name: A\n            value: x\n          - name: B\n            valueFrom: [secretKeyRef]\n",
        [(r"does not match any of the allowed forms", 13, "spec.components[0].properties.env[1]")],
    ),
    "env-malformed-reference": (
        "        env:\n          - name: A\n            value: x\n          - name: B\n            value: ${DB.url}\n",
        [(r"malformed reference", 14, "spec.components[0].properties.env[1].value")],
    ),
    "legacy-volume-type": (
        "        volumes:\n          - {name: v, mountPath: /v, type: pvc, claimName: c}\n          - name: w\n            mountPath: /w\n            type: nfs\n",
        [(r"unknown volume type 'nfs'", 14, "spec.components[0].properties.volumes[1].type")],
    ),
    "legacy-volume-bad-field": (
        "        volumes:\n          - {name: v, mountPath: /v, type: pvc, claimName: c}\n          - name: w\n            mountPath: w\n            type: emptyDir\n",
        [(r"does not match the pattern", 13, "spec.components[0].properties.volumes[1].mountPath")],
    ),
}

TRAIT_CONVERTED = {
    "gateway-class-wrong-type": (
        "        - type: gateway\n          properties:\n            domain: web.example.com\n            http: {/: 80}\n            class: 5\n",
        [(r"expected string, got integer", 14, "spec.components[0].traits[0].properties.class")],
    ),
    "gateway-bad-domain": (
        "        - type: gateway\n          properties:\n            domain: Web_Example\n            http: {/: 80}\n",
        [(r"does not match the pattern", 12, "spec.components[0].traits[0].properties.domain")],
    ),
    "gateway-port-wrong-type": (
        "        - type: gateway\n          properties:\n            domain: web.example.com\n            http:\n              /: eighty\n",
        [(r"expected integer", 14, "spec.components[0].traits[0].properties.http./")],
    ),
    "storage-relative-mount": (
        "        - type: storage\n          properties:\n            pvc:\n              - name: data\n                mountPath: data\n",
        [(r"does not match the pattern", 14, "spec.components[0].traits[0].properties.pvc[0].mountPath")],
    ),
    "storage-name-wrong-type": (
        "        - type: storage\n          properties:\n            secret:\n              - name: 5\n                mountPath: /s\n",
        [(r"expected string, got integer", 13, "spec.components[0].traits[0].properties.secret[0].name")],
    ),
    "hpa-value-out-of-range": (
        "        - type: hpa\n          properties:\n            cpu:\n              type: Utilization\n              value: 500\n",
        [(r"maximum is 100", 14, "spec.components[0].traits[0].properties.cpu.value")],
    ),
    "sidecar-env-entry": (
        "        - type: sidecar\n          properties:\n            name: proxy\n            image: envoy\n            env:\n              - name: X\n                value: [1]\n",
        [(r"value of env var 'X' must be text", 16, "spec.components[0].traits[0].properties.env[0].value")],
    ),
}


@pytest.mark.parametrize("name", sorted(CONVERTED))
def test_errors_in_converted_properties_point_at_the_original(tmp_path, name):
    props, expected = CONVERTED[name]
    app = oam("    - name: web\n      type: webservice\n      properties:\n        image: nginx\n" + props)
    diags = _diagnostics(tmp_path, app)
    for summary, line, path in expected:
        _expect(diags, summary, line, path)


@pytest.mark.parametrize("name", sorted(TRAIT_CONVERTED))
def test_errors_in_converted_traits_point_at_the_original(tmp_path, name):
    traits, expected = TRAIT_CONVERTED[name]
    app = oam(
        "    - name: web\n      type: webservice\n      properties: {image: nginx, port: 80}\n      traits:\n" + traits
    )
    diags = _diagnostics(tmp_path, app)
    for summary, line, path in expected:
        _expect(diags, summary, line, path)


def test_renamed_trait_errors_say_what_they_were_read_as(tmp_path):
    traits = "        - type: gateway\n          properties:\n            domain: web.example.com\n            http: {/: 80}\n            class: 5\n"
    app = oam(
        "    - name: web\n      type: webservice\n      properties: {image: nginx, port: 80}\n      traits:\n" + traits
    )
    (d,) = _diagnostics(tmp_path, app)
    assert "OAM trait 'gateway' is read as Composer's 'ingress'" in d["detail"]


def test_gateway_on_a_port_the_service_does_not_expose(tmp_path):
    """A gateway routes to an explicitly unexposed port: a render error at the trait, not a broken Ingress."""
    app = oam(
        "    - name: web\n      type: webservice\n      properties:\n        image: nginx\n        ports: [{port: 80, expose: false}, {port: 81, expose: true}]\n"
        "      traits:\n        - type: gateway\n          properties: {domain: web.example.com, http: {/: 80}}\n"
    )
    write(tmp_path, {"app.yaml": app, "environments/test.yaml": ENV})
    r = appc("render", "-f", tmp_path / "app.yaml", "-o", tmp_path / "out", "--json")
    assert r.code == 1
    diags = [e for e in r.events if e["type"] == "diagnostic"]
    _expect(
        diags, r"routes / to port 80, which the service does not expose", 13, "spec.components[0].traits[0].properties"
    )
    assert not (tmp_path / "out").exists()
