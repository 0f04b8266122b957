"""Whether a unit needs work: its hash, and the one skip decision plan, apply and `pending` share.

A unit's hash covers what would be applied: its rendered files, its module package's digest,
and what it sees of its dependencies (their non-secret outputs and secret digests, from
state). A unit whose hash equals the one of its last successful apply is skipped: no
Terraform process, no object written.

`SkipInputs` is everything the decision reads. A new reason not to skip (a reality probe
that found the cloud differs from state, issue 13) is one more field here and one more
clause in `unchanged`, and plan and apply both get it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from composer.state.model import StateDoc, UnitState

if TYPE_CHECKING:  # the no-op fast path hashes units without loading the graph (composer/cli/fastpath.py)
    from composer.graph import Graph

Upstream = dict[str, dict[str, Any]]  # dependency -> {"outputs": ..., "secrets": digests}


@dataclass(frozen=True)
class SkipInputs:
    """What the skip decision of one unit reads."""

    previous: UnitState | None  # the unit as state records it (None: never applied)
    current_hash: str  # unit_hash of what would be applied now
    refresh: bool = False  # `--refresh`: run every unit, whatever state says


def unchanged(inputs: SkipInputs) -> bool:
    """True when the unit may be skipped: its last apply succeeded with exactly these inputs."""
    previous = inputs.previous
    return (
        not inputs.refresh
        and previous is not None
        and previous.status == "applied"
        and previous.hash == inputs.current_hash
    )


def upstream_view(graph: Graph, state: StateDoc | None, name: str) -> Upstream:
    """What a unit sees of its dependencies: non-secret outputs and secret digests."""
    return upstream_of(graph.dependencies(name), state)


def upstream_of(dependencies: Iterable[str], state: StateDoc | None) -> Upstream:
    """`upstream_view` for a unit with these dependencies."""
    out: Upstream = {}
    for dep in dependencies:
        unit = state.units.get(dep) if state else None
        if unit is not None:
            out[dep] = {"outputs": unit.outputs, "secrets": unit.secret_digests}
    return out


def unit_hash(files: Mapping[str, bytes], paths: Iterable[str], module_digest: str | None, upstream: Upstream) -> str:
    """sha256 over the unit's rendered files (path and content digest), its module digest and
    its upstream view; equal hashes mean an apply would change nothing Composer controls.
    A manifest file's digest is over its objects, not its YAML (composer/render/files.py)."""
    from composer.render.files import file_digest  # not at import: the no-op fast path uses hash_of_digests only

    return hash_of_digests([(path, file_digest(files, path)) for path in paths], module_digest, upstream)


def hash_of_digests(files: Iterable[tuple[str, bytes]], module_digest: str | None, upstream: Upstream) -> str:
    """`unit_hash` from the digest of each rendered file (the compiled-model cache keeps those)."""
    h = hashlib.sha256()
    for path, digest in files:
        h.update(path.encode() + b"\0" + digest)
    if module_digest is not None:
        h.update(b"module\0" + module_digest.encode())
    h.update(json.dumps(upstream, sort_keys=True, default=str).encode())
    return h.hexdigest()
