"""Same-type Composer traits merged into one, in order (KubeVela may map several traits to one)."""

from __future__ import annotations

from typing import Any

# Composer traits several KubeVela traits may map to: merged in order, so each type appears once.
MERGEABLE = ("pod", "env", "labels", "annotations", "volume", "probes", "resources")


def merge_props(base: Any, more: Any) -> Any:
    """Maps merge key by key, lists add up, anything else: the later wins."""
    if isinstance(base, dict) and isinstance(more, dict):
        return {**base, **{k: merge_props(base[k], v) if k in base else v for k, v in more.items()}}
    if isinstance(base, list) and isinstance(more, list):
        return base + more
    return more


def merge_traits(traits: list[Any], main: str) -> tuple[list[Any], dict[int, int]]:
    """Same-type traits merged into the first (env for a sidecar into that sidecar); old index -> new."""
    sidecars = {
        t["properties"]["name"]: j
        for j, t in enumerate(traits)
        if isinstance(t, dict)
        and t.get("type") == "sidecar"
        and isinstance(t.get("properties"), dict)
        and isinstance(t["properties"].get("name"), str)
    }
    out: list[Any] = []
    mapping: dict[int, int] = {}
    first: dict[str, int] = {}
    pending: dict[int, dict[str, Any]] = {}  # sidecar old index -> env merged into it
    for j, t in enumerate(traits):
        props = t.get("properties") if isinstance(t, dict) else None
        ttype = t.get("type") if isinstance(t, dict) else None
        if (
            ttype == "env"
            and isinstance(props, dict)
            and isinstance(props.get("containerName"), str)
            and props["containerName"] in sidecars
            and isinstance(props.get("env"), dict)
        ):
            pending[sidecars[props["containerName"]]] = merge_props(
                pending.get(sidecars[props["containerName"]], {}), props["env"]
            )
            mapping[j] = -1 - sidecars[props["containerName"]]  # resolved below
            continue
        if ttype == "env" and isinstance(props, dict) and props.get("containerName") == main:
            props = {k: v for k, v in props.items() if k != "containerName"}
            t = {**t, "properties": props}
        if ttype in MERGEABLE and isinstance(props, dict) and not (ttype == "env" and props.get("containerName")):
            if ttype in first:
                k = first[ttype]
                out[k] = {**out[k], "properties": merge_props(out[k]["properties"], props)}
                mapping[j] = k
                continue
            first[ttype] = len(out)
        mapping[j] = len(out)
        out.append(t)
    for old, env in pending.items():
        k = mapping[old]
        side = out[k]["properties"]
        out[k] = {**out[k], "properties": {**side, "env": merge_props(side.get("env") or {}, env)}}
    return out, {j: (mapping[-1 - k] if k < 0 else k) for j, k in mapping.items()}
