"""Pooled provider processes on real Terraform against moto (composer/runners/terraform_providers.py).

The AWS provider here is the machine's, behind a wrapper in a mirror of the test's own that logs
every start of it (its arguments) before it execs the real binary: that log is the count of
provider processes, whoever started them (the pool, in debug mode, or Terraform itself).
"""

from __future__ import annotations

import shutil
import stat
import tempfile
from pathlib import Path

import boto3
import pytest

from tests.helpers import appc
from tests.reliability.support import wait_for_no_processes
from tests.support.terraform_env import require_terraform
from tests.test_providers import aws_project

BUCKET = "    - {{name: {0}, type: bucket, properties: {{force_destroy: true}}}}\n"


def counting_mirror(tmp_path: Path, mirror: Path) -> tuple[Path, Path]:
    """A provider mirror whose AWS provider logs each start to the returned file."""
    real = next((mirror / "registry.terraform.io" / "hashicorp" / "aws").glob("*/*/terraform-provider-aws*"))
    platform_dir = real.parent.relative_to(mirror)
    log = tmp_path / "provider-starts.log"
    wrapper = tmp_path / "mirror" / platform_dir / real.name
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f'#!/bin/sh\necho "start $*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return tmp_path / "mirror", log


def starts(log: Path) -> list[str]:
    return [line.strip() for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def short_tmp():
    """A temporary directory with a short path: a unix socket's path must fit in 108 bytes, and the
    provider's socket under an xdist worker's tmp_path does not (the pool then falls back)."""
    path = Path(tempfile.mkdtemp(prefix="pool-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_units_share_pooled_providers_and_fall_back_with_a_ca_bundle(tmp_path, short_tmp, moto, monkeypatch):
    _, mirror = require_terraform()
    fake_mirror, log = counting_mirror(tmp_path, mirror)
    monkeypatch.setenv("COMPOSER_PROVIDER_MIRROR", str(fake_mirror))
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", str(tmp_path / "plugin-cache"))  # never the shared cache
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    sockets = short_tmp
    monkeypatch.setattr(tempfile, "tempdir", str(sockets))
    project = tmp_path / "p"
    app = aws_project(project, components="".join(BUCKET.format(n) for n in ("a", "b", "c")))

    first = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--parallelism", "1", "--json")
    assert first.code == 0, first.out + first.err
    assert first.events[-1]["terraform_runs"] == 6  # init + apply per unit
    # One provider process served the three applies, in debug mode; Terraform started none.
    assert starts(log) == ["start -debug"]
    # Each run configured it afresh: every bucket carries its own unit's default tags.
    s3 = boto3.client("s3")
    for unit in ("a", "b", "c"):
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=f"shop-test-{unit}")["TagSet"]}
        assert tags["composer.dev/component"] == unit
    assert wait_for_no_processes(project, timeout=10) == []
    assert list(sockets.iterdir()) == []  # the pool's private socket directory is gone

    # A custom CA bundle: the provider cannot be configured twice in one process, so every
    # run starts its own (no debug mode), and the apply still works.
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    aws_project(project, components="".join(BUCKET.format(n) for n in ("a", "b", "c", "d", "e")))
    log.unlink()
    second = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--parallelism", "2", "--json")
    assert second.code == 0, second.out + second.err
    # d and e: each terraform apply starts its own provider (several times: one apply starts it
    # for validation, plan and apply), never in debug mode
    assert len(starts(log)) >= 2 and set(starts(log)) == {"start"}, starts(log)
    assert wait_for_no_processes(project, timeout=10) == []
