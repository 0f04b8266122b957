"""What the shipped implementations need from an environment's `network:` block.

Each cloud lists, per (type, implementation), the `spec.network` fields its modules take: a
database needs a private network to be reachable at all, so a missing field is an error at
validate naming it, unless the environment opts into public access (`publicAccess`) where the
service offers that. Fields of another cloud are refused, so a block copied from another
environment is not silently ignored. The template context gets the block as plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from composer.model.environment import Environment, Network
from composer.plugins import EnvironmentCheckRequest, EnvironmentProblem

PUBLIC = ("publicAccess", "allowedCidrs")


@dataclass(frozen=True)
class Need:
    fields: tuple[tuple[str, ...], ...]  # alias paths under spec.network
    what: str  # what the fields are for, said once in the diagnostic
    public_ok: bool = True  # publicAccess may stand in for them


# Every top-level field of the block, by the cloud it belongs to.
CLOUD_FIELDS = {
    "aws": {"vpcId", "subnetIds", "securityGroupIds"},
    "gcp": {"vpc", "allocatedIpRange"},
    "azure": {"delegatedSubnets", "privateEndpointSubnetId", "privateDnsZones"},
}


def network_values(environment: Environment) -> dict[str, Any]:
    """The block as plain values for module input templates (every field present, None if unset)."""
    network = environment.spec.network or Network()
    values = network.model_dump(mode="json", by_alias=True)
    values["public_cidrs"] = list(network.public_access.allowed_cidrs) if network.public_access else []
    return values


def _value(tree: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = tree
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def network_problems(
    cloud: str, request: EnvironmentCheckRequest, needs: Mapping[tuple[str, str], Need]
) -> Sequence[EnvironmentProblem]:
    network = request.environment.spec.network
    given = network.model_dump(by_alias=True, exclude_defaults=True) if network else {}
    problems = [
        EnvironmentProblem(
            ("spec", "network", key),
            f"spec.network.{key} is not used on {cloud}",
            f"the {cloud} modules take {', '.join(sorted(CLOUD_FIELDS[cloud]))} and publicAccess",
        )
        for key in sorted(given)
        if key != "publicAccess" and key not in CLOUD_FIELDS[cloud]
    ]
    public = _value(given, PUBLIC) is not None
    for use in request.components:
        need = needs.get((use.type, use.implementation))
        if need is None or (need.public_ok and public):
            continue
        for path in need.fields:
            if _value(given, path) in (None, [], ()):
                field = ".".join(("spec", "network") + path)
                alternative = (
                    " Or opt into public access with spec.network.publicAccess.allowedCidrs." if need.public_ok else ""
                )
                problems.append(
                    EnvironmentProblem(
                        ("spec", "network") + path,
                        f"component {use.component!r} ({use.type}, {use.implementation}) needs {field}",
                        f"{need.what}.{alternative}",
                        use.component,
                    )
                )
    return problems
