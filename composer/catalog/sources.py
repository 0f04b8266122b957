"""Module source addresses, as Terraform writes them.

A definition's `terraform.module` is one of:

    ./path or path          a local directory, relative to the definition (as before)
    git::URL?ref=REF        a git repository at a tag, branch or commit
    [HOST/]NS/NAME/PROVIDER a module registry address; needs `version` (a constraint)

Any of them may end in `//SUBDIR` (before a git query string), a module inside the
package. This module only classifies addresses; fetching is runners/modules.py and
Terraform's own installer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

LOCAL, GIT, REGISTRY = "local", "git", "registry"

_NAME = r"[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?"
_HOST = r"(?:[0-9A-Za-z.-]+(?::[0-9]+)?/)?"
REGISTRY_RE = re.compile(rf"^({_HOST}{_NAME}/{_NAME}/[0-9a-z]{{1,64}})(?://(.+))?$")
# Source forms Terraform knows that Composer does not fetch (yet): said so, with what to use.
_UNSUPPORTED = ("http://", "https://", "s3::", "gcs::", "hg::", "github.com/", "bitbucket.org/", "git@")


@dataclass(frozen=True)
class ModuleAddress:
    """A parsed `module` value: where the package comes from, and the module inside it."""

    kind: str  # local | git | registry
    source: str  # as written in the definition
    package: str  # the address without //SUBDIR (git keeps its ?ref=)
    subdir: str  # the module inside the package ("" for its root)
    ref: str | None = None  # git: the requested ref

    @property
    def remote(self) -> bool:
        return self.kind != LOCAL

    @property
    def leaf(self) -> str:
        """A short name for the render tree: the module directory's, or the package's."""
        if self.subdir:
            name = self.subdir.rsplit("/", 1)[-1]
        elif self.kind == REGISTRY:
            name = self.package.split("/")[-2]
        else:
            name = self.package.split("?")[0].rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:40] or "module"


class AddressError(ValueError):
    """A module address that cannot be used; the message says what would work."""


def parse_address(source: str, version: str | None) -> ModuleAddress:
    """Classify `source`. A remote source's package is what Terraform's installer fetches."""
    text = source.strip()
    if not text:
        raise AddressError("the module source is empty")
    if text.startswith("git::"):
        if version:
            raise AddressError("version applies to registry sources only; a git source pins with ?ref=TAG")
        return _git(text)
    if text.startswith(_UNSUPPORTED):
        raise AddressError(
            f"{text!r}: this kind of source is not supported; use git::https://HOST/REPO.git?ref=TAG, a registry address NS/NAME/PROVIDER with version, or a local directory"
        )
    match = REGISTRY_RE.match(text)
    if match and version is not None and not text.startswith((".", "/")):
        return ModuleAddress(REGISTRY, text, match.group(1), _subdir(match.group(2) or ""))
    if version is not None:
        raise AddressError(
            f"{text!r} is not a registry address (NS/NAME/PROVIDER); version applies to registry sources only"
        )
    return ModuleAddress(LOCAL, text, text, "")


def _git(text: str) -> ModuleAddress:
    url, _, query = text.partition("?")
    scheme_end = url.find("://")
    start = scheme_end + 3 if scheme_end >= 0 else len("git::")
    cut = url.find("//", start)
    subdir = ""
    if cut >= 0:
        url, subdir = url[:cut], url[cut + 2 :]
    refs = parse_qs(query).get("ref") if query else None
    ref = refs[0] if refs else None
    if not ref:
        raise AddressError(f"{text!r} names no ref; pin a tag or commit with ?ref=TAG (a branch moves under the lock)")
    package = url + (f"?{query}" if query else "")
    return ModuleAddress(GIT, text, package, _subdir(subdir), ref)


def _subdir(sub: str) -> str:
    parts = [p for p in sub.strip("/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise AddressError(f"//{sub}: a module inside a package cannot leave it ('..')")
    return "/".join(parts)


def contained_path(base: Path, rel: str) -> Path | None:
    """base/rel, if it stays inside base (no absolute paths, no escaping with ..)."""
    if Path(rel).is_absolute():
        return None
    root = base.resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        return None
    return target
