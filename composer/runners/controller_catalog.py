"""Reading an Environment's platform catalog from the cluster: one key of a ConfigMap in the
Environment's namespace (`spec.catalog.configMap`), read with the controller's credentials on
every reconcile (no cluster-wide ConfigMap watch); or a signed bundle (`spec.catalog.bundle`,
composer/runners/controller_catalog_bundle.py). The text is definitions YAML; the child
`appc` run loads and validates it like any `definitions/` file (docs/controller.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composer.runners.controller_catalog_bundle import BundleRef, BundleTrust, CatalogBundle, read_catalog_bundle
from composer.runners.kube_login import configuration

MAX_CATALOG_BYTES = 1024 * 1024  # a ConfigMap holds at most 1 MiB


@dataclass(frozen=True)
class CatalogText:
    """The definitions text, or why it could not be read (never both)."""

    text: str | None
    problem: str | None = None


class CatalogReader:
    """The catalogs of Environments: ConfigMap text, or a signed bundle verified against
    `trust` (the controller's keys; composer/runners/controller_catalog_bundle.py)."""

    def __init__(self, trust: BundleTrust | None = None) -> None:
        self._api: Any = None
        self.trust = trust or BundleTrust()

    def read_bundle(self, namespace: str, ref: BundleRef, project: Path) -> CatalogBundle:
        return read_catalog_bundle(
            self.trust, lambda ns, name: self._core().read_namespaced_secret(name, ns), namespace, ref, project
        )

    def _core(self) -> Any:
        if self._api is None:
            from kubernetes import client

            self._api = client.CoreV1Api(client.ApiClient(configuration()))
        return self._api

    def read(self, namespace: str, name: str, key: str) -> CatalogText:
        from kubernetes.client.exceptions import ApiException

        where = f"ConfigMap {namespace}/{name}"
        try:
            config_map = self._core().read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return CatalogText(None, f"the catalog {where} does not exist")
            return CatalogText(None, f"the catalog {where} could not be read: {exc.status} {exc.reason}")
        data = config_map.data or {}
        if key not in data:
            keys = ", ".join(sorted(data)) or "none"
            return CatalogText(None, f"the catalog {where} has no key {key!r} (keys: {keys})")
        text = str(data[key])
        if len(text.encode()) > MAX_CATALOG_BYTES:
            return CatalogText(None, f"the catalog {where} key {key!r} is over {MAX_CATALOG_BYTES} bytes")
        return CatalogText(text)
