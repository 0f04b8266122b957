"""Shared fixtures.

No fakes of our own code live here. Rendering tests run the real pipeline; the CLI is
driven in-process through the same entry point the `appc` script uses (see appc()).

Under pytest-xdist (scripts/test runs workers by default, docs/testing.md) every worker has its
own moto server, its own Kubernetes API stand-in and its own Terraform plugin cache: the fixtures
below only ever reset the servers of their own worker.
"""

from __future__ import annotations

import os

import pytest

from composer.plugins import PluginRegistry


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite the expected files of golden cases")
    parser.addoption("--long", action="store_true", help="run the long variants (fuzzing, kill -9 loops)")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


@pytest.fixture
def registry() -> PluginRegistry:
    """A fresh registry per test, discovered through the real entry points."""
    return PluginRegistry.discover()


def started_server(name: str) -> str | None:
    """A setting of a server scripts/test started for this process: `NAME` in a plain run, and
    `NAME_GW<n>` in pytest-xdist worker gw<n>. Workers never share `NAME` (one worker's reset
    would wipe what another's test just created): without their own they start one here."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return os.environ.get(f"{name}_{worker.upper()}" if worker else name) or None


@pytest.fixture(scope="session", autouse=True)
def own_plugin_cache(tmp_path_factory):
    """A Terraform plugin cache for this session (this worker, under xdist): Terraform's cache is
    not safe for concurrent installs, and composer only serializes the inits of one process
    (runners/terraform.py). With the machine's unpacked provider mirror, filling it is one
    symlink per provider, so a fresh cache costs nothing. Composer's runs read TF_PLUGIN_CACHE_DIR,
    tests/support/terraform_env.py reads COMPOSER_PLUGIN_CACHE."""
    cache = tmp_path_factory.getbasetemp() / "terraform-plugin-cache"
    cache.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TF_PLUGIN_CACHE_DIR", str(cache))
        mp.setenv("COMPOSER_PLUGIN_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="session")
def moto_url():
    """A real AWS API endpoint on loopback (moto server), configured the way production is:
    through environment variables only. scripts/test starts one per worker and passes
    APPC_TEST_MOTO_URL (started_server()); otherwise it runs in this process
    (tests/support/moto_server.py explains its patches)."""
    from tests.support.moto_server import start_moto

    url, stop = started_server("APPC_TEST_MOTO_URL"), None
    if not url:
        url, stop = start_moto(port=0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", url)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_REGION", "us-east-1")
        try:
            yield url
        finally:
            if stop is not None:
                stop()


@pytest.fixture
def moto(moto_url):
    """The moto server, wiped before the test (POST /moto-api/reset)."""
    from tests.support.moto_server import reset

    reset(moto_url)
    return moto_url


@pytest.fixture(scope="session")
def kube():
    """The Kubernetes API stand-in (tests/support/kube_standin.py explains what it is and why:
    there is no API server here), served over HTTP and driven by the official client. One per
    session (per worker), or the one scripts/test started for it (APPC_TEST_KUBE_URL +
    APPC_TEST_KUBECONFIG, see started_server()). KUBECONFIG points at it for the session
    (contexts `standin` and `standin-b`)."""
    from tests.support.kube_handle import KubeHandle

    handle = KubeHandle(started_server("APPC_TEST_KUBE_URL"), started_server("APPC_TEST_KUBECONFIG"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUBECONFIG", handle.kubeconfig_path)
        try:
            yield handle
        finally:
            handle.close()


@pytest.fixture
def kube_clean(kube):
    """The stand-in, wiped before the test: no objects, faults or delays, counters at zero,
    workloads never become ready on their own."""
    kube.reset()
    return kube
