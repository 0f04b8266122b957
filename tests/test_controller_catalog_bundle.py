"""An Environment's catalog from a signed bundle (`spec.catalog.bundle`): verified against the
controller's trusted keys before use. A signed bundle's definitions are applied; an unsigned,
foreign-signed or tampered one is refused with the reason (`Degraded`, `CatalogRefused`) and
nothing is written; there is no fallback to an unverified catalog."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from composer.controller.operator import ControllerOptions
from composer.runners.controller_catalog_bundle import BundleRef, BundleTrust, read_catalog_bundle
from tests.test_controller import _apply, _conditions, _install_crds, _ready, _start, _stop, _wait

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples/platform-catalog/definitions/static-site.yaml"
APP = """apiVersion: composer.dev/v1alpha1
kind: Application
metadata: {name: catalog}
spec:
  components:
    - {name: site, type: static-site, properties: {image: "nginx:1.27", replicas: 1}}
"""
ENV = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  kubernetes: {directory: out}\n"


def _appc(cwd: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "composer", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A platform catalog project (static-site) bundled signed, unsigned, and signed by another
    key; plus a copy of the signed one with one byte of a definition changed."""
    root = tmp_path_factory.mktemp("catalog")
    (root / "definitions").mkdir()
    (root / "environments").mkdir()
    shutil.copy(SITE, root / "definitions" / SITE.name)
    (root / "app.yaml").write_text(APP)
    (root / "environments/dev.yaml").write_text(ENV)
    for key in ("platform", "stranger"):
        _appc(root, "keygen", "-o", key)
    _appc(root, "bundle", "-e", "dev", "-o", "signed.bundle", "--sign", "platform")
    _appc(root, "bundle", "-e", "dev", "-o", "unsigned.bundle")
    _appc(root, "bundle", "-e", "dev", "-o", "stranger.bundle", "--sign", "stranger")
    data = (root / "signed.bundle").read_bytes()
    assert data.count(b"CACHE_SECONDS") >= 1
    (root / "tampered.bundle").write_bytes(data.replace(b"CACHE_SECONDS", b"CACHE_SECONDZ"))
    return root


class _Secrets:
    """The Secret read at the client seam: bundles as a Secret's base64 data."""

    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = {k: base64.b64encode(v).decode() for k, v in data.items()}

    def __call__(self, namespace: str, name: str) -> Any:
        from kubernetes.client import V1Secret

        return V1Secret(data=self.data)


def test_a_catalog_bundle_is_used_only_when_it_verifies(bundles: Path, tmp_path: Path) -> None:
    trust = BundleTrust((bundles / "platform.pub",), directory=bundles)
    by_path = read_catalog_bundle(trust, _Secrets({}), "team-a", BundleRef(path="signed.bundle"), tmp_path)
    assert by_path.problem is None and by_path.digest and by_path.signer
    assert by_path.definitions is not None and (by_path.definitions / SITE.name).read_bytes() == SITE.read_bytes()
    by_secret = read_catalog_bundle(
        trust,
        _Secrets({"catalog.bundle": (bundles / "signed.bundle").read_bytes()}),
        "team-a",
        BundleRef("p"),
        tmp_path,
    )
    assert by_secret.digest == by_path.digest and not (tmp_path / ".catalog.bundle").exists()

    def refused(ref: BundleRef, with_trust: BundleTrust = trust) -> str:
        got = read_catalog_bundle(with_trust, _Secrets({}), "team-a", ref, tmp_path / "other")
        assert got.definitions is None and got.digest is None and got.problem
        assert not (tmp_path / "other" / "catalog-bundle").exists()  # nothing unpacked
        return got.problem

    (tmp_path / "other").mkdir()
    assert "is not signed" in refused(BundleRef(path="unsigned.bundle"))
    assert "unknown key" in refused(BundleRef(path="stranger.bundle"))
    tampered = refused(BundleRef(path="tampered.bundle"))
    assert "file 'tampered.bundle' is refused" in tampered and "sha256" in tampered, tampered
    assert "trusts no catalog key" in refused(BundleRef(path="signed.bundle"), BundleTrust((), bundles))
    assert "plain and relative" in refused(BundleRef(path="../catalog/signed.bundle"))
    assert "no --catalog-bundle-dir" in refused(BundleRef(path="signed.bundle"), BundleTrust(trust.keys))
    missing = read_catalog_bundle(trust, _Secrets({"x": b""}), "team-a", BundleRef("p"), tmp_path)
    assert missing.problem == "the catalog bundle Secret team-a/p key 'catalog.bundle' is missing (keys: x)"


def test_an_environment_catalog_bundle_from_a_secret_is_verified_before_use(
    bundles: Path, kube_clean: Any, tmp_path: Path
) -> None:
    """On the stand-in: an unsigned bundle in the Secret is Degraded (CatalogRefused) and
    writes nothing; the platform-signed one replacing it is applied by the retry."""
    from composer.controller.operator import Controller, serve_controller

    kube = kube_clean
    kube.set_auto_ready(True)
    _install_crds(kube)
    (tmp_path / "state").mkdir()
    opts = ControllerOptions(
        state_root=tmp_path / "state",
        timeout_s=120,
        health_port=None,
        backoff_s=2,
        tick_s=600,
        catalog_keys=(bundles / "platform.pub",),
    )
    running = _start(Controller(opts), serve_controller)
    try:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "platform", "namespace": "team-a"},
            "data": {"catalog.bundle": base64.b64encode((bundles / "unsigned.bundle").read_bytes()).decode()},
        }
        env = {
            "apiVersion": "composer.dev/v1alpha1",
            "kind": "Environment",
            "metadata": {"name": "dev", "namespace": "team-a"},
            "spec": {"kubernetes": {"context": kube.context}, "catalog": {"bundle": {"secret": {"name": "platform"}}}},
        }
        app = {
            "apiVersion": "composer.dev/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "docs", "namespace": "team-a"},
            "spec": {"components": [{"name": "site", "type": "static-site", "properties": {"image": "nginx:1.27"}}]},
        }
        _apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}, secret, env, app)
        _wait("Degraded", lambda: _conditions(kube, "docs").get("Degraded", {}).get("status") == "True", 90)
        degraded = _conditions(kube, "docs")["Degraded"]
        assert degraded["reason"] == "CatalogRefused", degraded
        assert "Secret team-a/platform key 'catalog.bundle' is refused: the bundle is not signed" in degraded["message"]
        assert kube.get("/apis/apps/v1/namespaces/team-a/deployments/site") is None  # nothing written

        secret["data"] = {"catalog.bundle": base64.b64encode((bundles / "signed.bundle").read_bytes()).decode()}
        _apply(kube, secret)
        obj = _wait("Ready", lambda: _ready(kube, "docs"), 90)
        assert obj["status"]["units"] == {"site": {"status": "applied"}}
        dep = kube.get("/apis/apps/v1/namespaces/team-a/deployments/site")
        assert [e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]] == ["CACHE_SECONDS"]
    finally:
        _stop(running)
