"""Shared fixtures.

No fakes of our own code live here. Rendering tests run the real pipeline; the CLI is
driven in-process through the same entry point the `appc` script uses (see appc()).
"""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def moto_url():
    """A real AWS API endpoint on loopback (moto server), configured the way production is:
    through environment variables only. CI may start one and pass APPC_TEST_MOTO_URL;
    otherwise it runs in this process (tests/support/moto_server.py explains its patches)."""
    import os

    from tests.support.moto_server import start_moto

    url, stop = os.environ.get("APPC_TEST_MOTO_URL"), None
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
    session, or the one CI started (APPC_TEST_KUBE_URL + APPC_TEST_KUBECONFIG). KUBECONFIG
    points at it for the session (contexts `standin` and `standin-b`)."""
    from tests.support.kube_handle import KubeHandle

    handle = KubeHandle()
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
