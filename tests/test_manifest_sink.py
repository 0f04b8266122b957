"""The plain-manifest sink (composer/runners/manifests.py, `kubernetes: {directory, format:
plain}`) and the sink registry that chooses it (composer/runners/sinks.py).

Outcomes only: the files on disk afterwards, what they hold, and what is refused."""

from __future__ import annotations

import base64
import os
import typing
from pathlib import Path

import pytest
import yaml

from composer.diagnostics import DiagnosticError
from composer.model.environment import DirectoryFormat
from composer.render.connection import Connection
from composer.runners.manifests import MARKER, ManifestSink
from composer.runners.sinks import SINKS
from tests.test_kubernetes import app_doc, apply, messages, project, summary

PLAIN = {"directory": "deploy", "namespace": "shop", "format": "plain"}
VALUE = "s3cr3t-Value-4711"


def api_with_a_connection() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "api",
                            "image": "ghcr.io/acme/api:1.0",
                            "env": [
                                {
                                    "name": "DB_PASSWORD",
                                    "valueFrom": {"secretKeyRef": {"name": "shop-db-conn", "key": "password"}},
                                }
                            ],
                        }
                    ]
                }
            }
        },
    }


def no_value_anywhere(directory: Path) -> None:
    for p in directory.rglob("*"):
        data = p.read_bytes()
        assert VALUE.encode() not in data and base64.b64encode(VALUE.encode()) not in data, p


def test_every_registered_directory_format_is_a_choice_of_the_environment():
    assert set(SINKS) == {"cluster", *typing.get_args(DirectoryFormat)}


def test_apply_writes_one_plain_file_per_component_and_a_second_apply_writes_nothing(tmp_path):
    app = project(tmp_path, PLAIN)
    r = apply(app, None)
    assert r.code == 0, messages(r)
    deploy = tmp_path / "deploy"
    assert sorted(p.name for p in deploy.iterdir()) == [
        MARKER,
        "api.yaml",
        "report.yaml",
        "settings.yaml",
        "worker.yaml",
    ]
    docs = list(yaml.safe_load_all((deploy / "api.yaml").read_text()))
    assert {d["kind"] for d in docs} >= {"Deployment", "Service"}
    assert all(d["metadata"]["namespace"] == "shop" for d in docs)
    before = {p.name: p.read_bytes() for p in deploy.iterdir()}
    again = apply(app, None)
    assert again.code == 0 and summary(again)["k8s_writes"] == 0, messages(again)
    assert {p.name: p.read_bytes() for p in deploy.iterdir()} == before

    doc = app_doc()
    doc["spec"]["components"] = [c for c in doc["spec"]["components"] if c["name"] != "settings"]
    project(tmp_path, PLAIN, doc)
    assert apply(app, None).code == 0
    assert not (deploy / "settings.yaml").exists() and (deploy / "api.yaml").exists()


def test_connections_stay_references_and_no_secret_value_reaches_a_file(tmp_path):
    sink = ManifestSink(tmp_path / "deploy", "shop", "dev")
    connection = Connection("shop", "dev", "db", None, {"host": "db.internal", "password": VALUE})
    assert sink.write_connection(connection) == 0
    items, writes = sink.apply("api", [api_with_a_connection()], ())
    assert writes == 1 and [i.kind for i in items] == ["Deployment"]
    (dep,) = yaml.safe_load_all((tmp_path / "deploy" / "api.yaml").read_text())
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-db-conn", "key": "password"}}}]
    assert sink.apply("api", [api_with_a_connection()], items) == (items, 0)  # idempotent
    raw = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"}, "stringData": {"key": VALUE}}
    with pytest.raises(DiagnosticError) as exc:
        sink.apply("keys", [{"apiVersion": "v1", "kind": "List", "items": [raw]}], ())
    assert "Secret k" in exc.value.diagnostics[0].summary
    assert not (tmp_path / "deploy" / "keys.yaml").exists()
    no_value_anywhere(tmp_path / "deploy")


def test_a_planted_link_and_a_foreign_directory_are_refused(tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("mine\n")
    deploy = tmp_path / "deploy"
    sink = ManifestSink(deploy, "shop", "dev")
    sink.apply("worker", [api_with_a_connection()], ())
    os.symlink(outside, deploy / "api.yaml")
    with pytest.raises(DiagnosticError) as exc:
        sink.apply("api", [api_with_a_connection()], ())
    assert "api.yaml" in exc.value.diagnostics[0].summary + exc.value.diagnostics[0].detail
    assert outside.read_text() == "mine\n" and (deploy / "api.yaml").is_symlink()

    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "app.yaml").write_text("kind: ConfigMap\n")
    with pytest.raises(DiagnosticError) as exc:
        ManifestSink(foreign, "shop", "dev").apply("api", [api_with_a_connection()], ())
    assert "did not write" in exc.value.diagnostics[0].summary
    assert sorted(p.name for p in foreign.iterdir()) == ["app.yaml"]
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / ".gitkeep").write_text("")
    assert ManifestSink(kept, "shop", "dev").apply("api", [api_with_a_connection()], ())[1] == 1
    assert sorted(p.name for p in kept.iterdir()) == [".appc-manifests", ".gitkeep", "api.yaml"]


def test_format_needs_a_directory(tmp_path):
    app = project(tmp_path, {"context": "standin", "format": "plain"})
    r = apply(app, None)
    assert r.code == 1 and "format applies to a directory" in messages(r)
