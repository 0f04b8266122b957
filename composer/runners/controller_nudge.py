"""Nudging an Application so that kopf reconciles it again: a merge patch of one annotation
(`env.composer.dev/revision`, the digest of its Environment) on the custom resource. The
controller's Environment handler (composer/controller/operator.py) calls it for every bound
Application when that Environment changes; the Application's update handler watches the
annotation. One PATCH per Application, with the controller's own credentials."""

from __future__ import annotations

import logging
from typing import Any

from composer.model.base import API_VERSION
from composer.runners.kube_login import configuration

log = logging.getLogger("composer.runners.controller_nudge")
GROUP, VERSION = API_VERSION.split("/")


class Nudger:
    """A lazily built CustomObjectsApi; `annotate` never raises (a failed nudge leaves the
    Application to the resync tick, which compares the same digest)."""

    def __init__(self) -> None:
        self._api: Any = None

    def _custom(self) -> Any:
        if self._api is None:
            from kubernetes import client

            self._api = client.CustomObjectsApi(client.ApiClient(configuration()))
        return self._api

    def annotate(self, namespace: str, name: str, key: str, value: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        body = {"metadata": {"annotations": {key: value}}}
        try:
            self._custom().patch_namespaced_custom_object(GROUP, VERSION, namespace, "applications", name, body)
            return True
        except ApiException as exc:
            log.warning("could not nudge application %s/%s: %s %s", namespace, name, exc.status, exc.reason)
            return False
