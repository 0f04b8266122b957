"""Terraform for tests: a CLI config pointing at the machine's provider mirror.

CI must exercise the Terraform path: when terraform or the mirror is missing and
CI is set, tests fail loudly instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from composer.runners.terraform import find_provider_mirror, terraform_binary, write_cli_config


def require_terraform() -> tuple[str, Path]:
    exe = terraform_binary()
    mirror = find_provider_mirror()
    problem = None
    if exe is None:
        problem = "terraform is not on PATH"
    elif mirror is None:
        problem = "no Terraform provider mirror found (set COMPOSER_PROVIDER_MIRROR to the directory holding registry.terraform.io)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Terraform tests: {problem}")
        pytest.skip(problem)
    return exe, mirror


def terraform_env(tmp: Path) -> dict[str, str]:
    """Environment for running terraform: CLI config with mirror + shared plugin cache."""
    exe, mirror = require_terraform()
    cache = Path(os.environ.get("COMPOSER_PLUGIN_CACHE", Path.home() / ".cache" / "appc-test-plugins"))
    cfg = write_cli_config(tmp / "terraform.rc", mirror, cache)
    env = dict(os.environ)
    env.update({"TF_CLI_CONFIG_FILE": str(cfg), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"})
    return env
