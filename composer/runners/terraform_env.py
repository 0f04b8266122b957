"""Terraform's process environment: the allowlist, the CLI configuration with a local provider
mirror and a shared plugin cache, and warnings about what the environment exposes.

The environment is an allowlist (provider credentials, proxies, PATH, HOME, locale), never the
whole parent environment, and always carries TF_IN_AUTOMATION=1 and a shared plugin cache, so
N units never cost N provider downloads; when a local provider mirror is known (and
TF_CLI_CONFIG_FILE does not name an existing config of the user's), a CLI config pointing at it
is used.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from composer import safefs

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
    # A temp file with a random name in the (vetted) directory, renamed over the config: a
    # link planted at the config's name, or at a fixed temp name, is never written through.
    safefs.write_file(path.parent, path.name, cli_config_text(mirror, plugin_cache).encode())
    return path


def terraform_binary() -> str | None:
    return shutil.which(os.environ.get("COMPOSER_TERRAFORM", "terraform"))


def default_plugin_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "appc" / "plugin-cache"


# Terraform's environment is an allowlist, not the parent's: a module can read its own process
# environment (file("/proc/self/environ")), so a CI token or any unrelated secret must not be in it.
PASS_ENV = "COMPOSER_TERRAFORM_PASS_ENV"  # extra names, comma-separated (e.g. VAULT_TOKEN for a vault provider)
_ALLOWED_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TMP", "TEMP", "LANG", "LANGUAGE", "TZ", "KUBECONFIG",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy",
        "SSL_CERT_FILE", "SSL_CERT_DIR",
        "SYSTEMROOT", "WINDIR", "APPDATA", "LOCALAPPDATA", "USERPROFILE", "PROGRAMDATA",  # Terraform on Windows
        # the TF_* Composer reads or sets; TF_LOG* pass so that debugging works (with a warning)
        "TF_IN_AUTOMATION", "TF_INPUT", "TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_DIR", "CHECKPOINT_DISABLE",
        "TF_LOG", "TF_LOG_PATH", "TF_LOG_CORE", "TF_LOG_PROVIDER",
    }
)  # fmt: skip
# Provider credentials and settings: AWS, Google, Azure, Kubernetes; LC_* locales; TF_TOKEN_<host>
# (registry and module credentials).
_ALLOWED_PREFIXES = ("AWS_", "GOOGLE_", "CLOUDSDK_", "ARM_", "AZURE_", "KUBE_", "LC_", "TF_TOKEN_")


def allowed_variable(name: str, extra: frozenset[str] = frozenset()) -> bool:
    return name in _ALLOWED_NAMES or name in extra or name.startswith(_ALLOWED_PREFIXES)


def terraform_environment(config_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment for terraform runs: the allowlisted part of `base` (the process
    environment by default) plus what Composer sets."""
    source = dict(os.environ if base is None else base)
    extra = frozenset(n.strip() for n in source.get(PASS_ENV, "").split(",") if n.strip())
    env = {k: v for k, v in source.items() if allowed_variable(k, extra)}
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env["CHECKPOINT_DISABLE"] = "1"
    cache, own = composer_cli_config(env)
    if not own:
        env.setdefault("TF_PLUGIN_CACHE_DIR", str(cache))
        cache.mkdir(parents=True, exist_ok=True)
    else:
        env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(config_dir / "terraform.rc", find_provider_mirror(), cache))
    return env


def composer_cli_config(env: Mapping[str, str]) -> tuple[Path, bool]:
    """The plugin cache Terraform gets, and whether Composer writes its CLI config (the user's
    TF_CLI_CONFIG_FILE, when it is a file, is used instead)."""
    user_cfg = env.get("TF_CLI_CONFIG_FILE")
    cache = Path(env.get("TF_PLUGIN_CACHE_DIR") or default_plugin_cache())
    return cache, not (user_cfg and Path(user_cfg).is_file())


def environment_warnings(env: Mapping[str, str] | None = None) -> list[str]:
    """What a person should know about the environment Terraform will get."""
    env = os.environ if env is None else env
    if env.get("TF_LOG", "").strip():
        where = "to the file TF_LOG_PATH names" if env.get("TF_LOG_PATH") else "to Terraform's stderr"
        return [
            f"TF_LOG is set: Terraform writes a debug log {where} that holds API request "
            "and response bodies, secret values included (a database password). Unset it unless you are "
            "debugging, and never keep that log as a CI artifact"
        ]
    return []
