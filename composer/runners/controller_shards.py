"""Dividing Applications among controller replicas: each Application belongs to one of a fixed
number of shards (a hash of namespace/name), and each shard is held by one replica through a
Lease (`appc-shard-<n>` in the controller's namespace). Every replica renews a member Lease
(`appc-member-<identity>`) and aims at its fair share of the shards among the live members: it takes free or expired shards up to that share and
gives back what is over it, so a dead replica's shards move to the others within one lease
duration. Pure decisions here (no I/O); the Lease I/O is controller_leases.py.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass


def shard_of(namespace: str, name: str, shards: int) -> int:
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def lease_name(shard: int) -> str:
    return f"appc-shard-{shard}"


@dataclass(frozen=True)
class LeaseView:
    """One shard's Lease as this replica sees it (`holder` None: nobody, or expired)."""

    shard: int
    holder: str | None


@dataclass(frozen=True)
class Moves:
    take: tuple[int, ...]
    give: tuple[int, ...]
    keep: tuple[int, ...]


def member_lease_name(identity: str) -> str:
    return f"appc-member-{identity}"


def plan_moves(me: str, leases: list[LeaseView], shards: int, members: frozenset[str] = frozenset()) -> Moves:
    """Which shards `me` should take, give back and renew, given who holds what now and which
    replicas are alive (their member Leases), so that a new replica gets its share."""
    holders = {view.shard: view.holder for view in leases}
    live = {h for h in holders.values() if h} | set(members) | {me}
    share = math.ceil(shards / len(live))
    mine = sorted(s for s, h in holders.items() if h == me)
    free = sorted(s for s in range(shards) if not holders.get(s))
    keep = mine[:share]
    give = mine[share:]
    take = free[: max(0, share - len(keep))]
    return Moves(take=tuple(take), give=tuple(give), keep=tuple(keep))
