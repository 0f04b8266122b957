"""Bundles (issue 16): deterministic archives, signatures, verification, requirements, and
installs from a bundle. The fast tests bundle a tiny fake provider from a temporary mirror;
the offline install with the real AWS provider is marked slow."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from composer.bundle.requirements import satisfies
from composer.diagnostics import DiagnosticError
from composer.runners.bundle_install import verify
from composer.runners.bundles import open_bundle
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


def _repack(layout: Path, out: Path) -> Path:
    """The OCI layout directory packed again with GNU tar, as docs/packaging.md says."""
    blobs = sorted(p.relative_to(layout).as_posix() for p in (layout / "blobs" / "sha256").iterdir())
    flags = ["--format=ustar", "-b", "1", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "--mode=0644"]
    subprocess.run(["tar", *flags, "-cf", str(out), *blobs, "index.json", "oci-layout"], cwd=layout, check=True)
    return out


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs GNU tar")
def test_repacked_layout_verifies_and_an_added_or_removed_file_is_named(shop, tmp_path):
    bundle = _bundle(shop, "r.bundle", "--sign", shop / "keys" / "vendor")
    layout = tmp_path / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-xf", str(bundle), "-C", str(layout)], check=True)
    assert _repack(layout, tmp_path / "same.bundle").read_bytes() == bundle.read_bytes()
    extra = b"planted"
    (layout / "blobs" / "sha256" / hashlib.sha256(extra).hexdigest()).write_bytes(extra)
    r = appc("verify", _repack(layout, tmp_path / "added.bundle"), "--key", shop / "keys" / "vendor.pub")
    assert r.code == 1 and "a file was added" in r.err, r.err
    (layout / "blobs" / "sha256" / hashlib.sha256(extra).hexdigest()).unlink()
    opened = open_bundle(bundle)
    app_digest = opened.layout.file("app.yaml").digest  # type: ignore[union-attr]
    opened.cleanup()
    (layout / "blobs" / "sha256" / app_digest.removeprefix("sha256:")).unlink()
    r = appc("verify", _repack(layout, tmp_path / "removed.bundle"), "--key", shop / "keys" / "vendor.pub")
    assert r.code == 1 and "file app.yaml is missing" in r.err, r.err


def test_a_bundle_for_another_platform_is_refused(shop, tmp_path):
    arm = shop / "mirror" / PROVIDER.replace("linux_amd64", "plan9_mips")
    arm.parent.mkdir(parents=True)
    arm.write_bytes(b"other")
    bundle = _bundle(shop, "arm.bundle", "--platform", "plan9_mips")
    r = appc("check", bundle, "-e", "local")
    assert r.code == 1 and "platform" in r.out
    r = appc("render", "-f", bundle, "-e", "local", "-o", tmp_path / "r")
    assert r.code == 1 and "the bundle is for plan9_mips" in r.err and not (tmp_path / "r").exists()


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
    assert any(row["kind"] == "aws_s3_bucket" and "eng-test-files" in row["name"] for row in rows), rows
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
    assert {"aws_s3_bucket", "aws_sqs_queue", "aws_db_instance", "Deployment"} <= {row["kind"] for row in rows}
    deployed = (tmp_path / "site" / "deploy" / "local").rglob("*.yaml")
    assert any(f"composer.dev/bundle-digest: {digest}" in p.read_text() for p in deployed)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_state_records_the_source_commit_of_units_a_write_changes(tmp_path):
    from composer.runners.bundle_install import RecordingStore, source_provenance
    from composer.state.local import LocalStore
    from composer.state.model import UnitState, new_state

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "app.yaml").write_text("x")
    subprocess.run([*git, "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "c"], check=True)
    commit = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    store = RecordingStore(LocalStore(tmp_path / ".composer", "a", "e"), lambda: source_provenance(tmp_path))
    assert store.read() is None
    unit = UnitState(kind="terraform", type="bucket", hash="h", status="applied")
    first = store.write(new_state("a", "e").with_unit("u", unit))
    stamped = first.units["u"].installed
    assert stamped is not None and stamped.source is not None and stamped.source.endswith(f"@{commit}")
    again = store.write(first.with_unit("v", UnitState(kind="terraform", type="bucket", hash="h", status="failed")))
    assert again.units["u"].installed == stamped and again.units["v"].installed is None


def test_check_reads_the_clusters_version_and_api_groups(kube, tmp_path, monkeypatch):
    from tests.support.projects import cluster_env

    mirror = tmp_path / "mirror"
    (mirror / PROVIDER).parent.mkdir(parents=True)
    (mirror / PROVIDER).write_bytes(b"fake")
    monkeypatch.setenv("COMPOSER_PROVIDER_MIRROR", str(mirror))
    (tmp_path / "p" / "environments").mkdir(parents=True)
    (tmp_path / "p" / "environments" / "test.yaml").write_text(cluster_env("shop"))
    (tmp_path / "p" / "app.yaml").write_text(
        "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  components:\n"
        "    - {name: files, type: bucket}\n    - {name: web, type: webservice, properties: {image: a/b:1, port: 80}}\n"
    )
    (tmp_path / "p" / "requirements.yaml").write_text(
        "apiVersion: composer.dev/v1alpha1\nkind: Requirements\nspec: {apis: [no-such-group.example.com], regions: [us-east-1]}\n"
    )
    out = tmp_path / "shop.bundle"
    assert appc("bundle", "-f", tmp_path / "p" / "app.yaml", "-e", "test", "-o", out).code == 0
    r = appc("check", out, "-e", "test", "--json")
    rows = {e["requirement"]: e for e in map(json.loads, r.out.splitlines()) if e.get("type") == "requirement"}
    assert rows["kubernetes"]["ok"] in ("yes", "no") and rows["kubernetes"]["found"] != "unknown"
    assert rows["api no-such-group.example.com"]["ok"] == "no" and rows["region"]["ok"] == "yes"
    assert r.code == 1
