"""A workload sink that records what the engine hands it (a fake at the sink seam only).

Engine tests use it where a cluster would be, so they can assert what was bound into
connection Secrets (including secret values, which must reach the sink and nothing else).
The real sinks (cluster, GitOps directory) have their own tests.
"""

from __future__ import annotations

from composer.diagnostics import Diagnostic
from composer.render.connection import Connection
from composer.state.model import InventoryItem, object_digest


class RecordingSink:
    needs_secret_store = False

    def __init__(self, target: str = "test:sink"):
        self.target = target
        self.connections: dict[str, dict[str, str]] = {}
        self.secret_refs: dict[str, str | None] = {}
        self.handed: dict[str, Connection] = {}  # the connection last handed per Secret name
        self.objects: dict[str, list[dict]] = {}
        self.writes = 0

    def write_connection(self, connection: Connection) -> int:
        data, name = dict(connection.values), connection.name
        if self.connections.get(name) == data:
            return 0
        self.connections[name] = data
        self.secret_refs[name] = connection.secret_ref
        self.handed[name] = connection
        self.writes += 1
        return 1

    def read_connection(self, component: str, secret_name: str):
        return self.connections.get(secret_name)

    def delete_connection(self, component: str, secret_name: str) -> int:
        return 1 if self.connections.pop(secret_name, None) is not None else 0

    def apply(self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]):
        old = {(i.kind, i.name): i.hash for i in previous}
        writes = sum(old.get((o["kind"], o["metadata"]["name"])) != object_digest(o) for o in objects)
        self.objects[component] = objects
        self.writes += writes
        items = tuple(
            InventoryItem(
                apiVersion=o["apiVersion"],
                kind=o["kind"],
                name=o["metadata"]["name"],
                namespace=o["metadata"].get("namespace"),
                component=component,
                hash=object_digest(o),
            )
            for o in objects
        )
        return items, writes

    def delete(self, items: tuple[InventoryItem, ...]) -> int:
        n = 0
        for c in {i.component for i in items}:
            n += len(self.objects.pop(c, []))
        return n

    def missing(self, component: str, objects: list[dict]) -> int:
        return 0

    def preview(self, component: str, objects: list[dict]) -> None:
        return None  # no live side: the plan lists objects from the inventory

    def admission_warnings(self, component: str) -> list[str]:
        return []

    def check(self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]) -> list[Diagnostic]:
        return []
