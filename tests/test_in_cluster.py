"""In-cluster implementations (providers/kubernetes): postgres and redis as StatefulSets on
the Kubernetes API stand-in, honouring the same output contract as the cloud modules."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.helpers import appc, write

APP = """
apiVersion: composer.dev/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  components:
    - {name: db, type: postgres, properties: {version: "16"}}
    - {name: cache, type: redis}
    - name: api
      type: webservice
      properties: {image: acme/api:1, port: 8080, env: {DATABASE_URL: "${db.url}"}}
      connections: [db, cache]
"""
ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  kubernetes: {context: standin, namespace: dev}
  implementations: {postgres: in-cluster, redis: in-cluster}
"""


def secret(kube, name: str) -> dict[str, str] | None:
    obj = kube.get(f"/api/v1/namespaces/dev/secrets/{name}")
    return {k: base64.b64decode(v).decode() for k, v in obj["data"].items()} if obj else None


def test_in_cluster_postgres_and_redis_bind_like_the_cloud_ones(tmp_path: Path, kube_clean):
    kube_clean.set_auto_ready(True)
    write(tmp_path, {"app.yaml": APP, "environments/dev.yaml": ENV})
    app = tmp_path / "app.yaml"
    r = appc("apply", "-f", app, "-e", "dev", "--auto-approve", "--json")
    assert r.code == 0, r.out[-2000:] + r.err
    assert r.events[-1]["terraform_runs"] == 0  # no cloud at all
    db = secret(kube_clean, "shop-db-conn")
    assert set(db) == {"host", "port", "database", "username", "password", "url"}
    assert db["host"] == "db.dev.svc.cluster.local" and db["port"] == "5432"
    assert (
        db["url"] == f"postgresql://app:{db['password']}@db.dev.svc.cluster.local:5432/app"
        and len(db["password"]) >= 24
    )
    cache = secret(kube_clean, "shop-cache-conn")
    assert cache["url"] == f"redis://:{cache['password']}@cache.dev.svc.cluster.local:6379"
    sts = kube_clean.get("/apis/apps/v1/namespaces/dev/statefulsets/db")
    env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "shop-db-conn", "key": "password"}
    api_env = {
        e["name"]: e
        for e in kube_clean.get("/apis/apps/v1/namespaces/dev/deployments/api")["spec"]["template"]["spec"][
            "containers"
        ][0]["env"]
    }
    assert api_env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "shop-db-conn", "key": "password"}
    assert api_env["CACHE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "shop-cache-conn", "key": "url"}

    state_file = tmp_path / ".composer" / "dev.state.json"
    state = json.loads(state_file.read_text())
    assert state["units"]["db"]["outputs"] == {
        "host": "db.dev.svc.cluster.local",
        "port": "5432",
        "database": "app",
        "username": "app",
    }
    assert set(state["units"]["db"]["secret_digests"]) == {"password", "url"}
    for text in (state_file.read_text(), r.out, r.err):
        assert db["password"] not in text and cache["password"] not in text

    # a change elsewhere re-binds the resource with the password it already has
    r = appc("apply", "-f", app, "-e", "dev", "--auto-approve", "--refresh", "--json")
    assert r.code == 0
    assert secret(kube_clean, "shop-db-conn")["password"] == db["password"]

    r = appc("destroy", "-f", app, "-e", "dev", "--auto-approve", "--json")
    assert r.code == 0, r.out[-2000:]
    assert secret(kube_clean, "shop-db-conn") is None
    assert kube_clean.get("/apis/apps/v1/namespaces/dev/statefulsets/db") is None


def test_a_gitops_directory_refuses_generated_secrets(tmp_path: Path):
    env = ENV.replace(
        "kubernetes: {context: standin, namespace: dev}",
        "kubernetes: {directory: deploy, namespace: dev, secretStore: {name: s}}",
    )
    write(tmp_path, {"app.yaml": APP, "environments/dev.yaml": env})
    r = appc("apply", "-f", tmp_path / "app.yaml", "-e", "dev", "--auto-approve")
    assert r.code == 3
    assert "generated secrets, which a GitOps directory cannot hold" in r.out + r.err
    assert all("password" not in p.read_text() for p in tmp_path.rglob("*.yaml") if "deploy" in p.parts)
