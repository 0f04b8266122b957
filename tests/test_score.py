"""Score workloads (score.dev/v1b1): applied for real, several files as one app, placeholders,
and bad input refused at the Score file's own lines (docs/score.md).

The example's golden renders (local: in-cluster databases; prod: RDS and ElastiCache) are
tests/golden/examples/score/, checked by tests/test_golden.py.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from composer.diagnostics import DiagnosticError
from composer.model.loader import load_application_files
from composer.project import compile_project, open_project
from tests.helpers import ROOT, appc, write

EXAMPLE = ROOT / "examples" / "score"

ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  cloud: {provider: aws, region: us-east-1}
  kubernetes: {context: dev, namespace: shop}
  implementations: {postgres: in-cluster, redis: in-cluster}
"""


def _secret(kube, ns: str, name: str) -> dict[str, str]:
    obj = kube.get(f"/api/v1/namespaces/{ns}/secrets/{name}")
    assert obj, f"no Secret {name}"
    return {k: base64.b64decode(v).decode() for k, v in obj["data"].items()}


def test_the_score_example_applies_and_its_env_holds_the_bound_values(tmp_path: Path, kube_clean):
    """examples/score through `appc apply` on the stand-in (its local environment, pointed at the stand-in's context)."""
    kube_clean.set_auto_ready(True)
    shutil.copytree(EXAMPLE, tmp_path / "score")
    env = tmp_path / "score" / "environments" / "local.yaml"
    env.write_text(env.read_text().replace("context: kind-bookshop", "context: standin"))
    r = appc("apply", "-f", tmp_path / "score" / "score.yaml", "-e", "local", "--auto-approve", "--json")
    assert r.code == 0, r.out[-2000:] + r.err
    dep = kube_clean.get("/apis/apps/v1/namespaces/bookshop/deployments/bookshop")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    env_vars = {e["name"]: e for e in container["env"]}
    db = _secret(kube_clean, "bookshop", "bookshop-db-conn")
    cache = _secret(kube_clean, "bookshop", "bookshop-cache-conn")

    def bound(name: str) -> str:
        ref = env_vars[name]["valueFrom"]["secretKeyRef"]
        return {"bookshop-db-conn": db, "bookshop-cache-conn": cache}[ref["name"]][ref["key"]]

    assert bound("DB_HOST") == "db.bookshop.svc.cluster.local" and bound("DB_PORT") == "5432"
    assert bound("DB_NAME") == "app" and bound("DB_USER") == "app" and len(bound("DB_PASSWORD")) >= 24
    assert bound("REDIS_HOST") == "cache.bookshop.svc.cluster.local" and bound("REDIS_URL").startswith("redis://:")
    assert (
        env_vars["DATABASE_URL"]["value"]
        == "postgresql://$(DB_USERNAME):$(DB_PASSWORD)@$(DB_HOST):$(DB_PORT)/$(DB_DATABASE)"
    )
    assert env_vars["APP_NAME"] == {"name": "APP_NAME", "value": "bookshop"}
    cm = kube_clean.get("/api/v1/namespaces/bookshop/configmaps/bookshop-file-0")
    assert cm["data"] == {"config.yaml": "service: bookshop\ncache_ttl_seconds: 60\n"}
    assert (
        kube_clean.get("/api/v1/namespaces/bookshop/persistentvolumeclaims/bookshop-covers")["spec"]["resources"][
            "requests"
        ]["storage"]
        == "5Gi"
    )
    svc = kube_clean.get("/api/v1/namespaces/bookshop/services/bookshop")
    assert svc["spec"]["ports"][0]["port"] == 80 and svc["spec"]["ports"][0]["targetPort"] == 8080


def test_prod_renders_rds_and_elasticache_from_the_same_file(registry):
    compiled = compile_project(open_project(EXAMPLE / "score.yaml"), "prod", registry)
    import json

    db = json.loads(compiled.rendered.files["terraform/db/main.tf.json"])["module"]
    cache = json.loads(compiled.rendered.files["terraform/cache/main.tf.json"])["module"]
    [db], [cache] = db.values(), cache.values()
    assert (db["engine"], db["instance_class"]) == ("postgres", "db.r6g.large")  # RDS, sized by prod's override
    assert (
        cache["source"].startswith("../../modules/aws-redis-") and cache["node_type"] == "cache.t3.micro"
    )  # ElastiCache
    assert {c.name: c.type for c in compiled.resolved.components} == {
        "db": "postgres",
        "cache": "redis",
        "bookshop": "webservice",
    }


MAILER = """
apiVersion: score.dev/v1b1
metadata: {name: mailer}
containers:
  main:
    image: ghcr.io/acme/mailer:1
    variables: {DB: "${resources.db.url}", SHARED: "${resources.files.name}"}
resources:
  db: {type: postgres}
  files: {type: s3, id: shared.files}
"""
API = """
apiVersion: score.dev/v1b1
metadata: {name: api}
containers:
  main:
    image: ghcr.io/acme/api:1
    variables: {DB: "${resources.db.url}", BUCKET: "${resources.uploads.bucket}"}
resources:
  db: {type: postgres, class: large}
  uploads: {type: s3, id: shared.files}
"""


def test_several_score_files_are_one_application(tmp_path: Path):
    write(tmp_path, {"api.yaml": API, "mailer.yaml": MAILER, "environments/dev.yaml": ENV})
    app = load_application_files([tmp_path / "api.yaml", tmp_path / "mailer.yaml"]).model
    comps = {c.name: c for c in app.spec.components}
    # the same resource name in two workloads is two databases; the same type+id is one bucket
    assert set(comps) == {"api-db", "mailer-db", "shared-files", "api", "mailer"}
    assert comps["api-db"].properties == {"size": "large"} and comps["shared-files"].type == "bucket"
    assert comps["api"].properties["env"] == {"DB": "${api-db.url}", "BUCKET": "${shared-files.name}"}
    assert comps["mailer"].properties["env"] == {"DB": "${mailer-db.url}", "SHARED": "${shared-files.name}"}
    assert app.name == "api"
    r = appc("validate", "-f", tmp_path / "api.yaml", "-f", tmp_path / "mailer.yaml", "-e", "dev")
    assert r.code == 0, r.err


def test_score_files_listed_in_app_yaml_join_its_components(tmp_path: Path):
    write(tmp_path, {
        "app.yaml": "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  score: [services/api.yaml]\n  components:\n    - {name: jobs, type: queue}\n",
        "services/api.yaml": API.replace("uploads: {type: s3, id: shared.files}", "uploads: {type: bucket}"),
    })  # fmt: skip
    app = load_application_files([tmp_path / "app.yaml"]).model
    assert app.name == "shop" and [c.name for c in app.spec.components] == ["jobs", "db", "uploads", "api"]


def test_placeholders_escapes_metadata_and_the_environment_resource(tmp_path: Path):
    write(tmp_path, {"score.yaml": """
apiVersion: score.dev/v1b1
metadata: {name: web, annotations: {example.com/tier: gold}, team: books}
containers:
  web:
    image: nginx:1
    args: ["--name=${metadata.name}"]
    variables:
      LITERAL: "$${not.a.placeholder} costs $$5"
      TIER: "${metadata.annotations.example\\\\.com/tier}"
      TEAM: ${metadata.team}
      REGION: ${resources.env.DEPLOY_REGION}
resources:
  env: {type: environment}
"""})  # fmt: skip
    loaded = load_application_files([tmp_path / "score.yaml"], environ={"DEPLOY_REGION": "eu-${x}"})
    props = loaded.model.spec.components[0].properties
    assert props["env"] == {
        "LITERAL": "$${not.a.placeholder} costs $5",
        "TIER": "gold",
        "TEAM": "books",
        "REGION": "eu-$${x}",
    }
    assert props["args"] == ["--name=web"]
    # metadata.team is read only by placeholders: reported, not silently kept
    assert [(w.severity.value, w.summary) for w in loaded.warnings] == [
        ("warning", "metadata.team is read only by ${metadata.team} placeholders")
    ]


BAD = [
    (
        "resources:\n  qq: {type: kafka-topic}\n",
        9,
        "Score resource type 'kafka-topic' is not supported",
        "resources.qq.type",
    ),
    (
        "resources:\n  db: {type: postgres, class: huge}\n",
        9,
        "resource class 'huge' is not known for type 'postgres'",
        "resources.db.class",
    ),
    ("resources:\n  dns: {type: dns}\n", 9, "a dns resource needs params.host", "resources.dns"),
    ("", 7, "${resources.db.host}: the workload declares no resource 'db'", "containers.main.variables.A"),
    ("", 7, "unknown placeholder ${db.host}", "containers.main.variables.B"),
]


@pytest.mark.parametrize("extra,line,summary,path", BAD, ids=[b[2][:40] for b in BAD])
def test_bad_score_input_is_refused_at_its_line(tmp_path: Path, extra: str, line: int, summary: str, path: str):
    variables = '{A: "${resources.db.host}", B: "${db.host}"}' if not extra else "{A: x}"
    text = f"apiVersion: score.dev/v1b1\nmetadata: {{name: web}}\ncontainers:\n  main:\n    image: nginx:1\n    variables:\n      {variables[1:-1].split(', ')[0]}\n"
    if not extra:
        text += f"      {variables[1:-1].split(', ')[1]}\n"
    write(tmp_path, {"score.yaml": text + extra})
    with pytest.raises(DiagnosticError) as exc:
        load_application_files([tmp_path / "score.yaml"])
    hit = [d for d in exc.value.diagnostics if d.summary == summary]
    assert hit, [d.text() for d in exc.value.diagnostics]
    from composer.diagnostics import format_path

    assert (hit[0].file, hit[0].line, format_path(hit[0].path)) == (
        str(tmp_path / "score.yaml"),
        line + (1 if "B" in path else 0),
        path,
    )


def test_container_fields_without_a_counterpart_are_refused_and_schema_errors_point_at_score_lines(tmp_path: Path):
    write(tmp_path, {"score.yaml": """apiVersion: score.dev/v1b1
metadata: {name: web}
containers:
  main:
    image: "."
    before: {init: {ready: complete}}
    files:
      /etc/a.bin: {binaryContent: AAAA}
      /etc/b.txt: {source: ../outside.txt}
      /etc/c.txt: {content: "${resources.db.password}"}
    variables: {PORT: 8080}
  second:
    image: busybox:1
    readinessProbe: {exec: {command: [\"true\"]}}
service:
  ports:
    a-very-long-port-name-indeed: {port: 80}
resources:
  db: {type: postgres}
  route: {type: route, params: {host: x.example.com, path: /, port: 81}}
"""})  # fmt: skip
    r = appc("validate", "-f", tmp_path / "score.yaml", "--json")
    assert r.code == 1
    got = {(d["line"], d["path"]) for d in r.events if d.get("type") == "diagnostic"}
    assert (11, "containers.main.variables.PORT") in got  # the schema says variables are text
    write(tmp_path, {"score.yaml": (tmp_path / "score.yaml").read_text().replace("PORT: 8080", "PORT: '8080'")})
    r = appc("validate", "-f", tmp_path / "score.yaml", "--json")
    diags = {(d["line"], d["path"]): d["summary"] for d in r.events if d.get("type") == "diagnostic"}
    assert diags == {
        (5, "containers.main.image"): "image '.' (built by the Score tool) has no counterpart in Composer",
        (6, "containers.main.before"): "container start order (before) is not supported",
        (8, "containers.main.files./etc/a.bin.binaryContent"): "binaryContent is not supported",
        (
            9,
            "containers.main.files./etc/b.txt.source",
        ): "file source '../outside.txt' is outside the Score file's directory",
        (10, "containers.main.files./etc/c.txt.content"): "${resources.db.password} cannot be expanded here",
        (14, "containers.second.readinessProbe"): "readinessProbe on a second container is not supported",
        (20, "resources.route.params.port"): "route port 81 is not a port of the workload's service",
    }, diags


def test_a_port_name_composer_cannot_use_is_reported_at_the_score_line(tmp_path: Path, registry):
    write(
        tmp_path,
        {
            "score.yaml": "apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers:\n  main: {image: nginx:1}\nservice:\n  ports:\n    a-very-long-port-name-indeed: {port: 80}\n"
        },
    )
    with pytest.raises(DiagnosticError) as exc:
        compile_project(open_project(tmp_path / "score.yaml"), None, registry)
    d = exc.value.diagnostics[0]
    assert (d.line, d.file) == (7, str(tmp_path / "score.yaml")), d.text()


def test_both_probe_handlers_run_exec_with_a_warning_in_json(tmp_path: Path):
    write(
        tmp_path,
        {
            "score.yaml": 'apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers:\n  main:\n    image: nginx:1\n    livenessProbe:\n      exec: {command: ["true"]}\n      httpGet: {path: /, port: 80}\n'
        },
    )
    r = appc("validate", "-f", tmp_path / "score.yaml", "--json")
    assert r.code == 0, r.err
    warnings = [
        e for e in r.events if e.get("type") == "diagnostic" and "no CPU or memory limits" not in e["summary"]
    ]  # that one is issue 18's
    assert [(w["severity"], w["line"], w["path"]) for w in warnings] == [
        ("warning", 8, "containers.main.livenessProbe.httpGet")
    ]
