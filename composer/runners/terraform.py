"""Terraform as a subprocess: CLI configuration, provider mirror discovery, and (engine) runs.

Terraform is always run with `TF_IN_AUTOMATION=1` and a CLI config that, when a
local provider mirror is known, installs providers from it and shares one plugin
cache across all units, so N units never cost N provider downloads.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

MIRROR_ENV = "COMPOSER_PROVIDER_MIRROR"

# Where filesystem mirrors are usually kept (Terraform's implied mirror directories,
# and images that unpack one under /opt). The first that holds registry.terraform.io wins.
_MIRROR_CANDIDATES = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt/*",
    "/opt/*/*",
)


def find_provider_mirror() -> Path | None:
    """The root of a local provider mirror (the directory holding registry.terraform.io)."""
    env = os.environ.get(MIRROR_ENV)
    if env:
        return Path(env) if (Path(env) / "registry.terraform.io").is_dir() else None
    for pattern in _MIRROR_CANDIDATES:
        for candidate in sorted(glob.glob(os.path.expanduser(pattern))):
            if Path(candidate, "registry.terraform.io").is_dir():
                return Path(candidate)
    return None


def cli_config_text(mirror: Path | None, plugin_cache: Path) -> str:
    lines = [f'plugin_cache_dir = "{plugin_cache.as_posix()}"', "plugin_cache_may_break_dependency_lock_file = true"]
    if mirror is not None:
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror.as_posix()}"',
            '    include = ["registry.terraform.io/*/*"]',
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"


def write_cli_config(path: Path, mirror: Path | None, plugin_cache: Path) -> Path:
    """Write a Terraform CLI config that uses `mirror` (if any) and a shared plugin cache."""
    plugin_cache.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cli_config_text(mirror, plugin_cache), encoding="utf-8")
    return path


def terraform_binary() -> str | None:
    return shutil.which(os.environ.get("COMPOSER_TERRAFORM", "terraform"))
