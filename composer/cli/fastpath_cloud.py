"""The Terraform side of the no-op fast path (composer/cli/fastpath.py): whether the workspace
already holds what an apply would sync, and the cloud probe of the units it would skip.

The normal path's engine writes Terraform's CLI config (`.composer/terraform.rc`) and its apply
syncs the rendered roots and module copies into the workspace before it decides anything
(composer/runners/workspace.py): when either would write, remove or refuse something, or
Terraform is not installed (which the normal path refuses even for a no-op), the fast path hands
over. The cloud probe is the normal path's own (composer/runners/cloud_probe.py:
one batched request per provider plugin), given the environment read again from its file, with
the blocks the app's placement fills in (namespace, targets, policies) from the cache, and
checked against the digest of the compiled one; it is never skipped, and any finding (missing,
unanswered) hands over too, so only a real answer says "unchanged".
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from composer.diagnostics import DiagnosticError

if TYPE_CHECKING:
    from composer.cli.compiled_cache import CachedModel
    from composer.model.environment import Environment
    from composer.runners.cloud_probe import CloudProbe
    from composer.state.model import StateDoc


def terraform_ready(model: CachedModel, directory: Path) -> bool:
    """Terraform is installed, its CLI config is written, and the workspace holds exactly the
    rendered roots and modules: the normal path's engine set-up would write nothing."""
    from composer.runners.terraform_env import terraform_binary
    from composer.runners.workspace import LocalWorkspace

    return (
        terraform_binary() is not None
        and _cli_config_written(directory)
        and LocalWorkspace(directory, model.environment).holds(model.workspace)
    )


def _cli_config_written(directory: Path) -> bool:
    """terraform_environment() (composer/runners/terraform_env.py) would leave the plugin cache
    and `.composer/terraform.rc` as they are."""
    from composer.runners.terraform_env import cli_config_text, composer_cli_config, find_provider_mirror
    from composer.runners.workspace import written_as

    cache, own = composer_cli_config(os.environ)
    if not cache.is_dir():
        return False
    if not own:
        return True
    text = cli_config_text(find_provider_mirror(), cache).encode()
    try:
        return written_as(directory, "terraform.rc", hashlib.sha256(text).hexdigest())
    except (DiagnosticError, OSError):
        return False


def probe_clouds(model: CachedModel, state: StateDoc) -> CloudProbe | None:
    """The cloud probe of the Terraform units, as the normal path makes it; None when the
    environment cannot be read back exactly as it was compiled."""
    from composer.cli.common import registry
    from composer.runners.cloud_probe import probe_clouds as probe

    environment = _environment(model)
    if environment is None:
        return None
    units = {u.name: state.units[u.name] for u in model.units if u.kind == "terraform"}
    return probe(registry(), environment, model.app, units)


def _environment(model: CachedModel) -> Environment | None:
    from composer.cli.compiled_cache import environment_digest
    from composer.model.loader import load_environment

    try:
        environment = load_environment(Path(model.environment_file)).model
        spec = environment.spec
        placed = spec.model_copy(  # the app's namespace, targets and policies, as compiling placed them
            update={
                "kubernetes": type(spec.kubernetes).model_validate(model.placed["kubernetes"]),
                "policies": type(spec.policies).model_validate(model.placed["policies"]),
            }
        )
        environment = environment.model_copy(update={"spec": placed})
    except Exception:  # unreadable or invalid now: the normal path says what is wrong
        return None
    return environment if environment_digest(environment) == model.environment_digest else None
