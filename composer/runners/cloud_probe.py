"""The cloud side of the reality probe: which resources a Terraform run saw, and one batched
probe per provider plugin before an apply skips anything.

Resource ids come from Terraform's own `-json` stream (`refresh_complete` and `apply_complete`
carry `id_value`), so recording them costs no process. The probe asks each provider plugin once
(`Provider.probe`, e.g. providers/aws/probe.py over the Resource Groups Tagging API), whatever
the unit count; composer/engine/probes.py compares and decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from composer.diagnostics import DiagnosticError
from composer.engine.probes import Finding, cloud_findings, probe_requests
from composer.model.environment import Environment
from composer.plugins import PluginRegistry, ProbedResource, ProbeRequest, ProbeResult
from composer.state.model import UnitState

_KEPT_ACTIONS = {"create", "update", "read", "replace", "noop", None}


def resource_events(messages: Iterable[Mapping[str, Any]]) -> tuple[tuple[tuple[str, str, str], ...], tuple[str, ...]]:
    """(address, type, id) of each managed resource the run refreshed, created or updated, and
    the addresses it deleted. Data sources and ephemeral resources are not kept."""
    seen: dict[str, tuple[str, str, str]] = {}
    deleted: list[str] = []
    for m in messages:
        if m.get("type") not in ("refresh_complete", "apply_complete"):
            continue
        hook = m.get("hook") or {}
        resource = hook.get("resource") or {}
        address, type_ = str(resource.get("addr") or ""), str(resource.get("resource_type") or "")
        if not address or not type_ or _is_data(address):
            continue
        if hook.get("action") == "delete":
            deleted.append(address)
            continue
        if hook.get("action") in _KEPT_ACTIONS and hook.get("id_value"):
            seen[address] = (address, type_, str(hook["id_value"]))
    return tuple(seen.values()), tuple(deleted)


def _is_data(address: str) -> bool:
    return address.startswith("data.") or ".data." in address


@dataclass
class CloudProbe:
    """What the cloud probes found, and how many API calls they made (per provider)."""

    findings: list[Finding]
    api_calls: dict[str, int]


def probe_clouds(
    registry: PluginRegistry,
    environment: Environment,
    app: str,
    units: Mapping[str, UnitState],
) -> CloudProbe:
    """One ProbeRequest per provider plugin for the Terraform units about to be skipped."""
    wanted, findings = probe_requests(units)
    fallback = environment.spec.cloud.provider if environment.spec.cloud else "unknown"  # state before `provider`
    by_provider: dict[str, list[ProbedResource]] = {}
    for r in wanted:
        by_provider.setdefault(units[r.unit].provider or fallback, []).append(r)
    calls: dict[str, int] = {}
    for provider, asked in sorted(by_provider.items()):
        plugin = registry.get(provider)
        if plugin is None:
            result = ProbeResult(False, reason=f"provider plugin {provider!r} is not installed")
        else:
            result = _ask(plugin, ProbeRequest(environment, app, tuple(asked)))
        calls[provider] = result.api_calls
        findings += cloud_findings(asked, result)
    return CloudProbe(findings, calls)


def _ask(plugin: Any, request: ProbeRequest) -> ProbeResult:
    """A plugin without a probe, or one that raises, cannot answer: never "unchanged"."""
    probe = getattr(plugin, "probe", None)
    if probe is None:
        return ProbeResult(False, reason=f"provider {plugin.name} has no reality probe")
    try:
        return probe(request)
    except DiagnosticError as exc:
        return ProbeResult(False, reason="; ".join(d.summary for d in exc.diagnostics)[:300])
