"""The environment contract a bundle carries, and its check against a target.

Derived from the compiled application: the component types, traits and implementations it
uses, the cloud (provider plugin) and its services (from the resource types the modules
declare), the platforms whose provider binaries are bundled, the Terraform and provider version
ranges (the modules' own constraints and Composer's floor), the Kubernetes API groups the
sinks need (`external-secrets.io` when a GitOps directory reads connections from the cloud
secret store). The author adds to them in `requirements.yaml` beside app.yaml (a
`kind: Requirements` document, docs/packaging.md): version ranges are intersected, lists
joined, and `regions` (empty: any) restricts where the application may land.

`check_rows` compares the contract with facts gathered about a target (composer/runners/
bundles.py gathers them) and gives one row per requirement: what, required, found, ok.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Literal

from pydantic import Field

from composer.model.base import Strict

TERRAFORM_FLOOR = ">= 1.11"  # -json UI, write-only arguments, ephemeral values (DESIGN.md)
KUBERNETES_FLOOR = ">= 1.27"  # server-side apply, autoscaling/v2, Pod Security admission
SECRET_STORE_API = "external-secrets.io"


class AuthorRequirements(Strict):
    """`requirements.yaml`'s spec: what the author adds to the derived contract."""

    terraform: str | None = None
    kubernetes: str | None = None
    providers: dict[str, str] = {}
    apis: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


class RequirementsFile(Strict):
    api_version: Literal["composer.dev/v1alpha1"] = Field("composer.dev/v1alpha1", alias="apiVersion")
    kind: Literal["Requirements"]
    spec: AuthorRequirements = AuthorRequirements()


@dataclass(frozen=True)
class Requirements:
    cloud: str | None
    platforms: tuple[str, ...]
    types: tuple[str, ...]
    traits: tuple[str, ...]
    implementations: dict[str, str]  # component type -> implementation name
    terraform: str
    providers: dict[str, str]  # provider address -> version range
    kubernetes: str
    apis: tuple[str, ...]
    services: tuple[str, ...]
    regions: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"format": 1, **asdict(self)}

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Requirements:
        names = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in doc.items() if k in names}
        for k in ("platforms", "types", "traits", "apis", "services", "regions"):
            listed = values.get(k)
            values[k] = tuple(str(x) for x in listed) if isinstance(listed, (list, tuple)) else ()
        return cls(**values)  # type: ignore[arg-type]


def join_ranges(*ranges: str | None) -> str:
    parts: list[str] = []
    for r in ranges:
        for p in (r or "").split(","):
            p = p.strip()
            if p and p not in parts:
                parts.append(p)
    return ", ".join(parts)


def merged(derived: Requirements, author: AuthorRequirements) -> Requirements:
    providers = dict(derived.providers)
    for address, constraint in author.providers.items():
        providers[address] = join_ranges(providers.get(address), constraint)
    return Requirements(
        cloud=derived.cloud,
        platforms=derived.platforms,
        types=derived.types,
        traits=derived.traits,
        implementations=derived.implementations,
        terraform=join_ranges(derived.terraform, author.terraform),
        providers=dict(sorted(providers.items())),
        kubernetes=join_ranges(derived.kubernetes, author.kubernetes),
        apis=tuple(sorted(set(derived.apis) | set(author.apis))),
        services=tuple(sorted(set(derived.services) | set(author.services))),
        regions=tuple(sorted(set(author.regions))),
    )


def service_of(resource_type: str) -> str:
    """The cloud service of a Terraform resource type: aws_s3_bucket -> aws:s3."""
    cloud, _, rest = resource_type.partition("_")
    return f"{cloud}:{rest.split('_')[0]}" if rest else resource_type


# -- version ranges (Terraform's constraint syntax) ----------------------------------------------

_CONSTRAINT = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?([0-9]+(?:\.[0-9]+){0,2})(?:[-+][0-9A-Za-z.-]+)?\s*$")


def _version(text: str) -> tuple[int, ...] | None:
    m = re.match(r"^v?([0-9]+(?:\.[0-9]+){0,2})", text.strip())
    return tuple(int(x) for x in m.group(1).split(".")) if m else None


def satisfies(version: str, constraints: str) -> bool | None:
    """Does `version` meet every comma-separated constraint? None when either is unreadable."""
    have = _version(version)
    if have is None:
        return None
    for part in [p for p in constraints.split(",") if p.strip()]:
        m = _CONSTRAINT.match(part)
        if m is None:
            return None
        op, want_text = m.group(1) or "=", m.group(2)
        want = tuple(int(x) for x in want_text.split("."))
        padded = have + (0,) * (3 - len(have))
        target = want + (0,) * (3 - len(want))
        ok = {
            "=": padded == target,
            "!=": padded != target,
            ">": padded > target,
            ">=": padded >= target,
            "<": padded < target,
            "<=": padded <= target,
            "~>": padded >= target and padded[: max(len(want) - 1, 1)] == target[: max(len(want) - 1, 1)],
        }[op]
        if not ok:
            return False
    return True


# -- the check ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetFacts:
    """What is known about the target: gathered before anything is touched."""

    cloud: str | None
    region: str | None
    platform: str
    terraform: str | None  # version, None when terraform is missing
    bundled_providers: dict[str, tuple[str, ...]]  # address -> versions for this platform
    types: frozenset[str]  # what the target's catalog offers
    traits: frozenset[str]
    implementations: dict[str, frozenset[str]]  # type -> implementations available for its cloud
    kubernetes: str | None  # cluster version; None when no cluster is reachable (GitOps directory)
    apis: frozenset[str] | None  # API groups served; None when unknown
    compile_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    requirement: str
    required: str
    found: str
    ok: Literal["yes", "no", "unchecked"]


def _row(what: str, required: str, found: str | None, ok: bool | None) -> Row:
    return Row(
        what,
        required,
        found if found is not None else "unknown",
        "unchecked" if ok is None else ("yes" if ok else "no"),
    )


def check_rows(req: Requirements, facts: TargetFacts) -> list[Row]:
    """Every requirement against what the target has: the `appc check` table."""
    return [*_platform_rows(req, facts), *_catalog_rows(req, facts), *_cluster_rows(req, facts)]


def _platform_rows(req: Requirements, facts: TargetFacts) -> list[Row]:
    platforms = " | ".join(req.platforms) or "any"
    rows = [
        _row("platform", platforms, facts.platform, not req.platforms or facts.platform in req.platforms),
        _row("cloud", req.cloud or "none", facts.cloud or "none", req.cloud == facts.cloud),
    ]
    if req.regions:
        rows.append(_row("region", " | ".join(req.regions), facts.region, facts.region in req.regions))
    tf_ok = satisfies(facts.terraform, req.terraform) if facts.terraform else False
    rows.append(_row("terraform", req.terraform, facts.terraform or "missing", tf_ok))
    for address, constraint in req.providers.items():
        versions = facts.bundled_providers.get(address, ())
        good = [v for v in versions if satisfies(v, constraint)]
        found = ", ".join(versions) or f"none for {facts.platform}"
        rows.append(_row(f"provider {address}", constraint or "any", found, bool(good)))
    return rows


def _catalog_rows(req: Requirements, facts: TargetFacts) -> list[Row]:
    rows = [
        _row(f"type {t}", "available", "yes" if t in facts.types else "missing", t in facts.types) for t in req.types
    ]
    rows += [
        _row(f"trait {t}", "available", "yes" if t in facts.traits else "missing", t in facts.traits)
        for t in req.traits
    ]
    for ctype, impl in req.implementations.items():
        offered = facts.implementations.get(ctype, frozenset())
        rows.append(_row(f"implementation of {ctype}", impl, ", ".join(sorted(offered)) or "none", impl in offered))
    return rows


def _cluster_rows(req: Requirements, facts: TargetFacts) -> list[Row]:
    kube_ok = satisfies(facts.kubernetes, req.kubernetes) if facts.kubernetes else None
    rows = [_row("kubernetes", req.kubernetes, facts.kubernetes, kube_ok)]
    for api in req.apis:
        served = None if facts.apis is None else api in facts.apis
        rows.append(_row(f"api {api}", "served", None if served is None else ("yes" if served else "no"), served))
    rows += [_row("services", s, facts.cloud, None) for s in req.services]
    rows += [
        _row("compiles", "the application resolves against the environment", p, False) for p in facts.compile_problems
    ]
    return rows


@dataclass
class DerivedParts:
    """What the bundler collected, for `derive`."""

    cloud: str | None
    platforms: list[str] = field(default_factory=list)
    types: set[str] = field(default_factory=set)
    traits: set[str] = field(default_factory=set)
    implementations: dict[str, str] = field(default_factory=dict)
    providers: dict[str, list[str]] = field(default_factory=dict)
    resource_types: set[str] = field(default_factory=set)
    gitops_secret_store: bool = False


def derive(parts: DerivedParts) -> Requirements:
    return Requirements(
        cloud=parts.cloud,
        platforms=tuple(sorted(parts.platforms)),
        types=tuple(sorted(parts.types)),
        traits=tuple(sorted(parts.traits)),
        implementations=dict(sorted(parts.implementations.items())),
        terraform=TERRAFORM_FLOOR,
        providers={a: join_ranges(*c) for a, c in sorted(parts.providers.items())},
        kubernetes=KUBERNETES_FLOOR,
        apis=(SECRET_STORE_API,) if parts.gitops_secret_store else (),
        services=tuple(sorted({service_of(t) for t in parts.resource_types})),
    )
