"""The Terraform side of the no-op fast path (composer/cli/fastpath.py): whether the workspace
already holds what an apply would sync, and the cloud probe of the units it would skip.

The normal path's apply syncs the rendered roots and module copies into the workspace before it
decides anything (composer/runners/workspace.py): when that sync would write, remove or refuse
something, or Terraform is not installed (which the normal path refuses even for a no-op), the
fast path hands over. The cloud probe is the normal path's own (composer/runners/cloud_probe.py:
one batched request per provider plugin), given the environment read again from its file and
checked against the digest of the compiled one; it is never skipped, and any finding (missing,
unanswered) hands over too, so only a real answer says "unchanged".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from composer.cli.compiled_cache import CachedModel
    from composer.model.environment import Environment
    from composer.runners.cloud_probe import CloudProbe
    from composer.state.model import StateDoc


def terraform_ready(model: CachedModel, directory: Path) -> bool:
    """Terraform is installed and the workspace holds exactly the rendered roots and modules."""
    from composer.runners.terraform_env import terraform_binary
    from composer.runners.workspace import LocalWorkspace

    return terraform_binary() is not None and LocalWorkspace(directory, model.environment).holds(model.workspace)


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
    except Exception:  # unreadable or invalid now: the normal path says what is wrong
        return None
    return environment if environment_digest(environment) == model.environment_digest else None
