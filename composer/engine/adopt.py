"""Adoption: bringing an existing cloud resource into a unit's Terraform state.

`appc import COMPONENT ID ADDRESS` runs the unit once with a Terraform `import` block beside
its rendered root (`appc_import.tf.json`, this run only), so Terraform adopts the resource and
the next apply shows no create. The ID is data, never code: it is checked (printable, bounded)
and written as a JSON string value with Terraform's template sequences escaped; the address
must be one the unit's module declares (`expected_addresses`, read with python-hcl2).

Orphans of a lost response: an apply failing with "already exists" names the resource. When
its ownership tags name this app, environment and component, the resource is Composer's own
(created by a run whose response was lost): the failure says so with the exact `appc import`
command, and with `--adopt-owned` the engine adopts it and runs the unit again. Untagged or
foreign-tagged resources are never adopted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from composer.catalog import ModuleSource
from composer.catalog.hcl import resource_blocks
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.render.terraform import literal_tree

IMPORT_FILE = "appc_import.tf.json"
MAX_ID = 1024
# A static resource address inside the unit's module call: module.<component>[.module.<name>]*.<type>.<name>[index]
_ADDRESS = re.compile(
    r"^module\.[A-Za-z][A-Za-z0-9_-]*(\.module\.[A-Za-z_][A-Za-z0-9_-]*)*"
    r"\.[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*(\[(\d{1,6}|\"[A-Za-z0-9_./:@-]{1,128}\")\])?$"
)
_EXISTS = re.compile(r"already exists|AlreadyExists|AlreadyOwnedByYou|ResourceExistsException|EntityAlreadyExists")
_CREATING = re.compile(r"creating [^()]{1,80}\(([^()\s]{1,512})\)")
# Ownership tags every implementation stamps (providers' implementations.yaml: tags).
OWNER_KEYS = ("app", "env", "component")

OwnershipReader = Callable[[str, str, str], Mapping[str, str] | None]
"""(provider, resource type, id) -> the resource's tags, None when it has none or cannot be read."""


@dataclass(frozen=True)
class ImportTarget:
    address: str  # a resource address in the unit's root (module.<component>.<type>.<name>)
    id: str  # the cloud's id for it, as the resource type's import documents

    @property
    def resource_type(self) -> str:
        return self.address.split("[", 1)[0].split(".")[-2]


def check_target(component: str, address: str, resource_id: str) -> ImportTarget:
    """An import target from user input, or a diagnostic saying what is expected."""
    problems = []
    if not _ADDRESS.match(address) or not address.startswith(f"module.{component}."):
        problems.append(
            Diagnostic(
                f"{address!r} is not a resource address of {component}",
                f"expected module.{component}.<resource type>.<name>[index]; run `appc import` without ADDRESS to list them",
                address=component,
            )
        )
    if (
        not resource_id
        or len(resource_id) > MAX_ID
        or not resource_id.isprintable()
        or resource_id != resource_id.strip()
    ):
        problems.append(
            Diagnostic(
                "the resource ID is not usable",
                f"expected 1-{MAX_ID} printable characters without leading or trailing blanks",
                address=component,
            )
        )
    if problems:
        raise DiagnosticError(problems)
    return ImportTarget(address, resource_id)


def import_file(targets: Iterable[ImportTarget]) -> bytes | None:
    """Terraform JSON with one import block per target (None: no file). The ID is a string
    value with `${`/`%{` escaped: Terraform reads it as literal text."""
    blocks = [{"to": t.address, "id": literal_tree(t.id)} for t in targets]
    if not blocks:
        return None
    return json.dumps({"//": "written by appc import; this run only", "import": blocks}, indent=2).encode() + b"\n"


def expected_addresses(component: str, module: ModuleSource | None) -> list[str]:
    """The resource addresses the unit's module declares, as import targets (`[0]` for count,
    `["KEY"]` for for_each, where the key is whatever the configuration makes it)."""
    if module is None:
        return []
    out = []
    for type_, name, repeat in resource_blocks(module.module_files()):
        suffix = {"count": "[0]", "for_each": '["KEY"]'}.get(repeat, "")
        out.append(f"module.{component}.{type_}.{name}{suffix}")
    return sorted(out)


@dataclass(frozen=True)
class Orphan:
    """A resource a failed apply found already existing, and whose it is."""

    target: ImportTarget
    owner: Literal["this unit", "untagged", "foreign"]
    tags: Mapping[str, str]


def orphans_in(diagnostics: Iterable[Diagnostic]) -> list[ImportTarget]:
    """The resources an apply failed to create because they already exist: address from the
    diagnostic's detail (`module.x.type.name: ...`), id from the provider's "creating ... (id)"."""
    found = []
    for d in diagnostics:
        text = f"{d.summary}\n{d.detail or ''}"
        if not _EXISTS.search(text):
            continue
        address = (d.detail or "").split(":", 1)[0].strip()
        created = _CREATING.search(text)
        if _ADDRESS.match(address) and created:
            found.append(ImportTarget(address, created.group(1)))
    return found


def classify(
    target: ImportTarget, provider: str, read_tags: OwnershipReader | None, app: str, env: str, component: str
) -> Orphan:
    tags = dict((read_tags(provider, target.resource_type, target.id) if read_tags else None) or {})
    if not any(k in tags for k in OWNER_KEYS):
        return Orphan(target, "untagged", tags)
    mine = {"app": app, "env": env, "component": component}
    return Orphan(target, "this unit" if all(tags.get(k) == v for k, v in mine.items()) else "foreign", tags)


def import_command(app_file: str, env: str, component: str, target: ImportTarget) -> str:
    import shlex

    return " ".join(
        shlex.quote(p) for p in ("appc", "import", "-f", app_file, "-e", env, component, target.id, target.address)
    )


def orphan_diagnostic(orphan: Orphan, app_file: str, env: str, component: str) -> Diagnostic:
    t = orphan.target
    if orphan.owner == "this unit":
        return Diagnostic(
            f"{t.address} ({t.id}) already exists and its tags name this app, environment and component",
            "It was most likely created by an earlier run whose response was lost. Adopt it with "
            f"`{import_command(app_file, env, component, t)}`, or re-run with --adopt-owned.",
            address=component,
        )
    why = (
        "carries no ownership tags"
        if orphan.owner == "untagged"
        else "is tagged for another app, environment or component"
    )
    return Diagnostic(
        f"{t.address} ({t.id}) already exists and {why}: appc will not adopt it",
        "Choose another name for the component, or if it really is this unit's, "
        f"import it deliberately: `{import_command(app_file, env, component, t)}`",
        address=component,
    )
