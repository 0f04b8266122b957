"""`appc env list` and `env show`: the environments of an application, as Composer reads them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from composer.cli.common import EXIT_OK, FileOpt, JsonOpt, command, env_app
from composer.cli.views import Record

if TYPE_CHECKING:
    from composer.project import Project


def _environment_records(project: Project) -> list[Record]:
    records = []
    for name in project.environment_names():
        e = project.environment(name).model.spec
        cloud = f"{e.cloud.provider} {e.cloud.region or ''}".strip() if e.cloud else "-"
        k = e.kubernetes
        target = (
            f"dir:{k.directory}"
            if k.directory
            else ", ".join(f"{t.context or '(current)'}/{t.namespace or 'default'}" for t in k.resolved_targets())
        )
        fields = dict(name=name, cloud=cloud, kubernetes=target, state=e.state.backend)
        records.append(Record(fields, [name, cloud, target, e.state.backend]))
    return records


@env_app.command("list")
def env_list(file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """List the environments of the application."""
    from composer.project import open_project

    with command("env list", json_mode) as view:
        records = _environment_records(open_project(file))
        view.records("environment", None, ["environment", "cloud", "kubernetes", "state"], records)
        view.summary(True, EXIT_OK, environments=len(records))


@env_app.command("show")
def env_show(name: str, file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """Show one environment as Composer reads it (defaults filled in)."""
    from composer.project import open_project

    with command("env show", json_mode) as view:
        env = open_project(file).environment(name).model
        doc = env.model_dump(by_alias=True, mode="json", exclude_none=True)
        view.document("environment", doc, yaml.safe_dump(doc, sort_keys=False))
