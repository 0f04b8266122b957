"""The controller's credentials for kopf: in-cluster (its ServiceAccount), else the kubeconfig
that `KUBECONFIG` names when the controller starts (read now, not when the client library was
first imported), converted into kopf's connection info. No token is logged."""

from __future__ import annotations

import os
from typing import Any

import kopf


def configuration() -> Any:
    from kubernetes import client, config

    cfg = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=cfg)
        return cfg
    except config.ConfigException:
        pass
    try:
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None, client_configuration=cfg)
    except config.ConfigException as exc:
        raise kopf.LoginError(f"no in-cluster ServiceAccount and no usable kubeconfig: {exc}") from None
    return cfg


def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
    cfg = configuration()
    header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix("authorization")
    parts = header.split(" ", 1) if header else []
    scheme, token = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0] if parts else None)
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        username=cfg.username or None,
        password=cfg.password or None,
        scheme=scheme,
        token=token,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
        trust_env=settings.networking.trust_env,
    )
