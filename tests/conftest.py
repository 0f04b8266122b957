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
