"""Bundles (issue 16): deterministic archives, signatures, verification, requirements, and
installs from a bundle. The fast tests bundle a tiny fake provider from a temporary mirror;
the offline install with the real AWS provider is marked slow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from composer.bundle.requirements import satisfies
from composer.runners.bundle_install import verify
from composer.runners.bundles import open_bundle
from composer.diagnostics import DiagnosticError
from tests.helpers import ROOT, appc

PROVIDER = "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws_v5.100.0_x5"


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """The webshop example, a fake one-file provider mirror, and a key pair."""
    mirror = tmp_path / "mirror"
    (mirror / PROVIDER).parent.mkdir(parents=True)
    (mirror / PROVIDER).write_bytes(b"#!/bin/sh\nexit 1\n")
    (mirror / PROVIDER).chmod(0o755)
    monkeypatch.setenv("COMPOSER_PROVIDER_MIRROR", str(mirror))
    shutil.copytree(ROOT / "examples" / "webshop", tmp_path / "webshop")
    assert appc("keygen", "-o", tmp_path / "keys" / "vendor").code == 0
    assert appc("keygen", "-o", tmp_path / "keys" / "other").code == 0
    return tmp_path


def _bundle(shop: Path, name: str, *extra: str) -> Path:
    out = shop / "out" / name
    r = appc("bundle", "-f", shop / "webshop" / "app.yaml", "-e", "local", "-o", out, *extra)
    assert r.code == 0, r.err
    return out


def test_bundle_is_deterministic_signed_and_verifies(shop):
    a = _bundle(shop, "a.bundle", "--sign", shop / "keys" / "vendor")
    b = _bundle(shop, "b.bundle", "--sign", shop / "keys" / "vendor")
    assert a.read_bytes() == b.read_bytes()
    assert (shop / "keys" / "vendor").stat().st_mode & 0o777 == 0o600
    r = appc("verify", a, "--key", shop / "keys" / "vendor.pub", "--json")
    assert r.code == 0, r.err
    summary = json.loads(r.out.splitlines()[-1])
    assert summary["signer"].startswith("sha256:") and summary["digest"].startswith("sha256:")
    opened = open_bundle(a)
    try:
        paths = {f.path: f.kind for f in opened.layout.files}
        inventory = json.loads(opened.read("inventory.json") or b"{}")
        requirements = json.loads(opened.read("requirements.json") or b"{}")
    finally:
        opened.cleanup()
    assert paths["app.yaml"] == "app" and paths["environments/local.yaml"] == "environment"
    assert paths["composer.lock"] == "lock" and paths[f"providers/{PROVIDER}"] == "provider"
    rows = {c["component"]: c for c in inventory["environments"]["local"]}
    assert "aws_s3_bucket" in rows["uploads"]["resourceTypes"] and rows["uploads"]["moduleDigest"].startswith("sha256:")
    assert rows["api"]["kinds"] == ["Deployment", "Ingress", "Service"] or "Deployment" in rows["api"]["kinds"]
    assert [i["pinned"] for i in inventory["images"]] == [False, False, False]
    assert requirements["cloud"] == "aws" and "external-secrets.io" in requirements["apis"]
    assert requirements["providers"]["registry.terraform.io/hashicorp/aws"] == ">= 5.100, < 6.0"


def test_flipping_any_byte_fails_verification_naming_where(shop):
    bundle = _bundle(shop, "s.bundle", "--sign", shop / "keys" / "vendor")
    data = bundle.read_bytes()
    key = [shop / "keys" / "vendor.pub"]
    # a stride through headers, JSON, contents and the trailer (scripts or a long run can use stride 1)
    positions = sorted({*range(0, len(data), 181), *range(len(data) - 1024, len(data), 67)})
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 0x01
        target = shop / "flipped.bundle"
        target.write_bytes(bytes(bad))
        with pytest.raises(DiagnosticError) as exc:
            opened = open_bundle(target)
            try:
                verify(opened, key, require_signature=True)
            finally:
                opened.cleanup()
        message = exc.value.diagnostics[0].summary
        assert any(
            w in message
            for w in ("altered", "unexpected entry", "not JSON", "truncated", "missing", "out of order", "damaged")
        ), (pos, message)


def test_bad_bundles_are_refused_naming_what_failed(shop, tmp_path):
    bundle = _bundle(shop, "g.bundle", "--sign", shop / "keys" / "vendor")
    data = bundle.read_bytes()
    (tmp_path / "cut.bundle").write_bytes(data[: len(data) // 2])
    r = appc("verify", tmp_path / "cut.bundle", "--key", shop / "keys" / "vendor.pub")
    assert r.code == 1 and "truncated" in r.err + r.out
    r = appc("verify", bundle, "--key", shop / "keys" / "other.pub")
    assert r.code == 1 and "unknown key" in r.err + r.out
    unsigned = _bundle(shop, "u.bundle")
    r = appc("verify", unsigned, "--key", shop / "keys" / "vendor.pub")
    assert r.code == 1 and "not signed" in r.err + r.out
    (tmp_path / "junk").write_bytes(b"not a bundle at all" * 100)
    r = appc("verify", tmp_path / "junk")
    assert r.code == 1 and "Traceback" not in r.err


def test_check_reports_requirements_and_an_unmet_one(shop):
    bundle = _bundle(shop, "c.bundle")
    r = appc("check", bundle, "-e", "local", "--json")
    assert r.code == 0, r.out + r.err
    rows = {e["requirement"]: e for e in map(json.loads, r.out.splitlines()) if e.get("type") == "requirement"}
    assert rows["cloud"]["ok"] == "yes" and rows["provider registry.terraform.io/hashicorp/aws"]["ok"] == "yes"
    # the installer's own environment beside the bundle names another cloud: unmet, exit 1
    own = bundle.parent / "environments" / "local.yaml"
    own.parent.mkdir()
    own.write_text(
        "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: local}\n"
        "spec:\n  cloud: {provider: gcp, project: p, region: europe-west1}\n  kubernetes: {directory: deploy, namespace: w}\n"
    )
    r = appc("check", bundle, "-e", "local")
    assert r.code == 1 and "unmet" in r.out and "cloud" in r.out


def test_policy_demands_a_signature_and_render_from_a_bundle_is_stamped(shop):
    unsigned = _bundle(shop, "p.bundle")
    r = appc("render", "-f", unsigned, "-e", "local", "-o", shop / "r")
    assert r.code == 0, r.err
    api = (shop / "r" / "kubernetes" / "api.yaml").read_text()
    assert "composer.dev/bundle-digest: sha256:" in api and "composer.dev/source: bundle:webshop" in api
    env = (ROOT / "examples" / "webshop" / "environments" / "local.yaml").read_text()
    own = unsigned.parent / "environments" / "local.yaml"
    own.parent.mkdir()
    shutil.copy(shop / "keys" / "vendor.pub", unsigned.parent / "environments" / "vendor.pub")
    own.write_text(env.replace("spec:\n", "spec:\n  policies: {requireSignedBundles: [vendor.pub]}\n"))
    for verb in (["render", "-o", shop / "r2"], ["plan"]):
        r = appc(verb[0], "-f", unsigned, "-e", "local", *verb[1:])
        assert r.code == 1 and "not signed" in r.err + r.out
    assert not (shop / "r2").exists()


def test_version_ranges():
    assert satisfies("5.100.0", ">= 5.100, < 6.0") and not satisfies("6.0.0", ">= 5.100, < 6.0")
    assert satisfies("1.11.4", "~> 1.11") and not satisfies("2.0.0", "~> 1.11")


@pytest.mark.slow  # ~160 s here: the 700 MB AWS provider is bundled, unpacked and installed
def test_offline_install_from_the_bundle_alone_records_provenance(tmp_path, moto, monkeypatch):
    """A bundle made with the machine's real AWS provider applies where the bundle is the only
    provider source (no mirror, an empty plugin cache), and inventory shows its digest."""
    from tests.support.projects import make_project
    from tests.support.terraform_env import require_terraform

    require_terraform()
    app = make_project(tmp_path / "vendor", "    - {name: files, type: bucket, properties: {force_destroy: true}}\n")
    assert appc("keygen", "-o", tmp_path / "vendor.key").code == 0
    out = tmp_path / "site" / "eng.bundle"
    r = appc("bundle", "-f", app, "-e", "test", "-o", out, "--sign", tmp_path / "vendor.key", "--json")
    assert r.code == 0, r.err
    digest = json.loads(r.out.splitlines()[-1])["digest"]
    # the installer's own environment: the vendor's key is required
    site_env = tmp_path / "site" / "environments"
    site_env.mkdir()
    shutil.copy(tmp_path / "vendor.key.pub", site_env / "vendor.pub")
    env_text = (tmp_path / "vendor" / "environments" / "test.yaml").read_text()
    (site_env / "test.yaml").write_text(
        env_text.replace("spec:\n", "spec:\n  policies: {requireSignedBundles: [vendor.pub]}\n")
    )
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("COMPOSER_PROVIDER_MIRROR", str(tmp_path / "empty"))  # no mirror but the bundle's
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", str(tmp_path / "plugins"))  # nothing cached either
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    assert appc("verify", out, "--key", tmp_path / "vendor.key.pub").code == 0
    assert appc("check", out, "-e", "test").code == 0
    r = appc("apply", "-f", out, "-e", "test", "--auto-approve")
    assert r.code == 0, r.out + r.err
    state = json.loads((tmp_path / "site" / ".composer" / "test.state.json").read_text())
    assert state["units"]["files"]["installed"]["bundle_digest"] == digest
    assert state["units"]["files"]["installed"]["signer"].startswith("sha256:")
    r = appc("inventory", "-f", out, "-e", "test", "--json")
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in r.out.splitlines() if '"installed"' in line]
    assert rows and all(row["bundle_digest"] == digest for row in rows)
    r = appc("inventory", "-f", out, "-e", "test", "--format", "spdx-json")
    assert json.loads(r.out)["spdxVersion"] == "SPDX-2.3"
    # a second apply from the same bundle changes nothing
    r = appc("apply", "-f", out, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0 and json.loads(r.out.splitlines()[-1])["units_changed"] == 0


@pytest.mark.slow  # RDS and ElastiCache on the embedded emulator, and the 700 MB provider
def test_webshop_bundled_verified_checked_and_installed_offline(tmp_path, monkeypatch):
    """Issue 16's "done when": the webshop example, bundled and signed with the machine's mirror,
    verified, checked against `local`, applied from the bundle alone; inventory shows its digest."""
    from tests.support.terraform_env import require_terraform

    require_terraform()
    shutil.copytree(ROOT / "examples" / "webshop", tmp_path / "webshop")
    assert appc("keygen", "-o", tmp_path / "vendor.key").code == 0
    out = tmp_path / "site" / "webshop.bundle"
    r = appc(
        "bundle",
        "-f",
        tmp_path / "webshop" / "app.yaml",
        "-e",
        "local",
        "-o",
        out,
        "--sign",
        tmp_path / "vendor.key",
        "--json",
    )
    assert r.code == 0, r.err
    digest = json.loads(r.out.splitlines()[-1])["digest"]
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("COMPOSER_PROVIDER_MIRROR", str(tmp_path / "empty"))
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", str(tmp_path / "plugins"))
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    assert appc("verify", out, "--key", tmp_path / "vendor.key.pub").code == 0
    assert appc("check", out, "-e", "local").code == 0
    r = appc("apply", "-f", out, "-e", "local", "--auto-approve")
    assert r.code == 0, r.out + r.err
    r = appc("inventory", "-f", out, "-e", "local", "--json")
    rows = [json.loads(line) for line in r.out.splitlines() if '"installed"' in line]
    assert {row["component"] for row in rows} == {"db", "cache", "uploads", "orders", "api", "worker", "nightly-report"}
    assert all(row["bundle_digest"] == digest for row in rows)
    deployed = (tmp_path / "site" / "deploy" / "local").rglob("*.yaml")
    assert any(f"composer.dev/bundle-digest: {digest}" in p.read_text() for p in deployed)
