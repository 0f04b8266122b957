"""The controller's child process: the same `appc` command CI runs (`apply` or `destroy`), in an
Application's project directory, with a timeout and an environment reduced to the cloud SDKs'
and Composer's settings. composer/controller/reconcile.py reads its JSON events."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from composer.runners.web_identity import without_cloud_credentials

_CHILD_ENV = (
    "PATH",
    "PYTHONPATH",
    "HOME",
    "KUBECONFIG",
    "XDG_CACHE_HOME",
    "TF_PLUGIN_CACHE_DIR",
    "TF_CLI_CONFIG_FILE",
    "CI",
)
_CHILD_PREFIXES = ("AWS_", "GOOGLE_", "AZURE_", "ARM_", "COMPOSER_", "KUBERNETES_", "SSL_", "REQUESTS_")


@dataclass(frozen=True)
class Finished:
    exit_code: int  # 124: it did not finish in time
    stdout: str = ""
    stderr: str = ""


def child_environment(extra: Mapping[str, str] | None = None, inherit_credentials: bool = True) -> dict[str, str]:
    """What the child may see: the cloud SDKs' and Composer's settings, nothing else; without
    `inherit_credentials` (an Environment with its own identity), no cloud credential of this
    process either, only regions and endpoints, and then `extra` (the identity's variables)."""
    env = {k: v for k, v in os.environ.items() if k in _CHILD_ENV or k.startswith(_CHILD_PREFIXES)}
    if not inherit_credentials:
        env = without_cloud_credentials(env)
    return {**env, **(extra or {}), "COMPOSER_JSON": "1", "PYTHONUNBUFFERED": "1"}


def run_appc(
    directory: Path,
    args: list[str],
    timeout_s: float,
    extra_env: Mapping[str, str] | None = None,
    inherit_credentials: bool = True,
) -> Finished:
    """`python -m composer ARGS` in `directory`; a run past `timeout_s` is stopped (exit 124)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "composer", *args],
            cwd=directory,
            env=child_environment(extra_env, inherit_credentials),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return Finished(124, stderr=f"appc {args[0]} did not finish within {int(timeout_s)}s")
    return Finished(done.returncode, done.stdout, done.stderr)
