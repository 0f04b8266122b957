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
