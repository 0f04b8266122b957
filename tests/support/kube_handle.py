"""One handle on the Kubernetes API stand-in for tests, whether it runs in this process or
was started as a process by scripts/test (its URL and kubeconfig come from tests/conftest.py, which
reads APPC_TEST_KUBE_URL + APPC_TEST_KUBECONFIG, or their per-worker variants under pytest-xdist).

Reading objects goes through the official client with the stand-in's kubeconfig, exactly
as a user's tooling would; the knobs (faults, readiness, request counters) go through the
stand-in's own helpers (tests/support/kube_standin.py)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.kube_standin import CONTEXT, CONTEXT_B, StandInRemote, start_standin


class KubeHandle:
    def __init__(self, url: str | None = None, kubeconfig: str | None = None) -> None:
        """Use the stand-in at `url` (with its `kubeconfig`) when both are given, else start one here."""
        self._local = None
        self._remote = None
        if url and kubeconfig:
            self._remote = StandInRemote(url)
            self.url, self.kubeconfig_path = url.rstrip("/"), kubeconfig
        else:
            self._local = start_standin()
            self.url, self.kubeconfig_path = self._local.url, self._local.kubeconfig_path
        self.context, self.context_b = CONTEXT, CONTEXT_B
        self._clients: dict[str, Any] = {}

    def close(self) -> None:
        if self._local is not None:
            self._local.stop()

    # -- knobs ---------------------------------------------------------------------------------
    @property
    def _s(self):
        return self._local if self._local is not None else self._remote

    def reset(self) -> None:
        """No objects, faults or delays; counters at zero; workloads never become ready."""
        self._s.reset()
        self.set_auto_ready(False)
        self.reset_counters()

    def reset_counters(self) -> None:
        self._s.reset_counters()

    def stats(self) -> dict:
        return self._s.stats()

    def request_log(self) -> list[dict]:
        """The stand-in's (bounded) request log, oldest first: verb, resource, namespace, name, status."""
        if self._local is not None:
            return [r._asdict() for r in self._local.requests]
        return self._remote.requests()

    def mutating(self) -> int:
        return int(self.stats()["mutating"])

    def fail_next(self, count: int = 1, status: int = 500, **kwargs: Any) -> None:
        self._s.fail_next(count, status, **kwargs)

    def set_delay(self, seconds: float, verbs: list[str] | None = None) -> None:
        """Every request (or only those of `verbs`) takes `seconds` longer; reset() clears it."""
        self._s.set_delay(seconds, verbs=verbs)

    def set_knobs(self, **values: Any) -> None:
        """strict_schema, crd_establish_seconds, namespace_terminating_seconds, rollout_seconds,
        rollout_outcome (tests/support/kube_lifecycle.py); reset() turns them off."""
        self._s.set_knobs(**values)

    def set_auto_ready(self, enabled: bool) -> None:
        if self._local is not None:
            self._local.auto_ready = enabled
        else:
            self._remote.set_auto_ready(enabled)

    # -- reading, through the official client -------------------------------------------------
    def api(self, context: str = CONTEXT):
        if context not in self._clients:
            from kubernetes import client, config

            cfg = client.Configuration()
            config.load_kube_config(
                config_file=self.kubeconfig_path, context=context, client_configuration=cfg, persist_config=False
            )
            self._clients[context] = client.ApiClient(configuration=cfg)
        return self._clients[context]

    def get(self, path: str) -> dict | None:
        """GET an API path (e.g. /apis/apps/v1/namespaces/shop/deployments/api); None on 404."""
        return get(self.api(), path)


def get(api, path: str) -> dict | None:
    from kubernetes.client.exceptions import ApiException

    try:
        resp = api.call_api(
            path,
            "GET",
            auth_settings=["BearerToken"],
            _preload_content=False,
            header_params={"Accept": "application/json"},
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return json.loads(resp.data)
