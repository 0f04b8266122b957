"""The Leases behind shards (composer/runners/controller_shards.py): read every shard's Lease, take,
renew and give back with the API server's optimistic concurrency (a replace carries the
resourceVersion it read, so two replicas never both win a shard), on a loop in a thread."""

from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from composer.runners import controller_shards as sharding
from composer.runners.kube_login import configuration

log = logging.getLogger("composer.runners.controller_leases")
_UTC = datetime.UTC


@dataclass
class ShardKeeper:
    identity: str
    namespace: str
    shards: int
    lease_seconds: int = 15
    renew_seconds: float = 5.0
    owned: frozenset[int] = frozenset()
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _api: Any = None

    def owns(self, namespace: str, name: str) -> bool:
        return sharding.shard_of(namespace, name, self.shards) in self.owned

    def _coordination(self) -> Any:
        if self._api is None:
            from kubernetes import client

            self._api = client.CoordinationV1Api(client.ApiClient(configuration()))
        return self._api

    def _current(self) -> tuple[dict[int, Any], dict[str, Any]]:
        """Shard Leases by shard, member Leases by name."""
        items = self._coordination().list_namespaced_lease(self.namespace).items
        names = {sharding.lease_name(s): s for s in range(self.shards)}
        shards = {names[i.metadata.name]: i for i in items if i.metadata.name in names}
        members = {i.metadata.name: i for i in items if i.metadata.name.startswith("appc-member-")}
        return shards, members

    def _holder(self, lease: Any, now: datetime.datetime) -> str | None:
        spec = lease.spec
        if not spec.holder_identity or spec.renew_time is None:
            return None
        expires = spec.renew_time + datetime.timedelta(seconds=spec.lease_duration_seconds or self.lease_seconds)
        return spec.holder_identity if expires > now else None

    def _write(self, name: str, lease: Any, holder: str | None, now: datetime.datetime) -> bool:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        spec = client.V1LeaseSpec(
            holder_identity=holder, lease_duration_seconds=self.lease_seconds, renew_time=now, acquire_time=now
        )
        meta = client.V1ObjectMeta(name=name, namespace=self.namespace)
        try:
            if lease is None:
                self._coordination().create_namespaced_lease(self.namespace, client.V1Lease(metadata=meta, spec=spec))
            else:
                meta.resource_version = lease.metadata.resource_version
                body = client.V1Lease(metadata=meta, spec=spec)
                self._coordination().replace_namespaced_lease(meta.name, self.namespace, body)
            return True
        except ApiException as exc:
            if exc.status in (409, 422):  # another replica was first
                return False
            raise

    def step(self) -> frozenset[int]:
        """One round: renew, take and give back; returns the shards held afterwards."""
        now = datetime.datetime.now(_UTC)
        current, members = self._current()
        me = sharding.member_lease_name(self.identity)
        self._write(me, members.get(me), self.identity, now)
        alive = frozenset(h for lease in members.values() if (h := self._holder(lease, now)))
        views = [sharding.LeaseView(s, self._holder(current[s], now)) for s in current]
        moves = sharding.plan_moves(self.identity, views, self.shards, alive)
        name = sharding.lease_name
        held = {s for s in (*moves.keep, *moves.take) if self._write(name(s), current.get(s), self.identity, now)}
        for s in moves.give:
            self._write(name(s), current.get(s), None, now)
        with self._lock:
            self.owned = frozenset(held)
        return self.owned

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception as exc:  # the API is down: hold nothing rather than act on stale leases
                log.warning("shard leases: %s", exc)
                with self._lock:
                    self.owned = frozenset()
            stop.wait(self.renew_seconds)
