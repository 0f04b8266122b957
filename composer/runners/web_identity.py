"""No god keys: a reconcile's cloud credentials come from the Environment's own identity
(`spec.identity`, composer/model/environment_identity.py), never from the controller.

`identity_environment` renders what each cloud's SDKs and Terraform providers read to exchange
a Kubernetes ServiceAccount token for cloud credentials: AWS web identity (`AWS_ROLE_ARN`,
`AWS_WEB_IDENTITY_TOKEN_FILE`), a GCP `external_account` credential configuration, Azure workload
identity (`AZURE_*` for the SDKs, `ARM_*` OIDC for azurerm). `without_cloud_credentials` drops
every credential the controller's own environment could hand down, keeping only settings
(regions, endpoints). `request_token` asks the API server for a short-lived token of the
ServiceAccount (the TokenRequest API). docs/controller.md, "Identity".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from composer.diagnostics import MessageError
from composer.model.environment_identity import Identity

AWS_AUDIENCE = "sts.amazonaws.com"
AZURE_AUDIENCE = "api://AzureADTokenExchange"
GCP_STS = "https://sts.googleapis.com/v1/token"
GCP_IMPERSONATION = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{}:generateAccessToken"
MIN_TOKEN_SECONDS = 600  # the API server's minimum
MAX_TOKEN_SECONDS = 24 * 3600

_CLOUD_PREFIXES = ("AWS_", "GOOGLE_", "CLOUDSDK_", "AZURE_", "ARM_")
# Settings, not credentials: where the clouds are and how to reach them.
_SETTINGS = frozenset(
    {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "AZURE_AUTHORITY_HOST",
        "ARM_ENVIRONMENT",
    }
)
# With an identity, nothing on disk of the controller's may stand in for it.
_NO_FALLBACK = {
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class IdentityFiles:
    """What the identity needs on disk: the token, and (GCP) the credential configuration."""

    token_path: str
    gcp_config_path: str = ""


def audience(identity: Identity) -> str:
    """The audience the token is requested for: the one the cloud's token exchange accepts."""
    if identity.aws is not None:
        return AWS_AUDIENCE
    if identity.gcp is not None:
        return f"https://iam.googleapis.com/{identity.gcp.workload_identity_provider}"
    return AZURE_AUDIENCE


def is_setting(name: str) -> bool:
    return name in _SETTINGS or name.startswith("AWS_ENDPOINT_URL")


def without_cloud_credentials(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without any cloud variable but the settings (regions, endpoints)."""
    return {k: v for k, v in env.items() if not k.startswith(_CLOUD_PREFIXES) or is_setting(k)}


def gcp_credential_config(identity: Identity, token_path: str) -> str:
    """The `external_account` credential configuration Google's client libraries and the
    google provider read from GOOGLE_APPLICATION_CREDENTIALS (no secret in it: a file path)."""
    gcp = identity.gcp
    assert gcp is not None
    config: dict[str, object] = {
        "type": "external_account",
        "audience": f"//iam.googleapis.com/{gcp.workload_identity_provider}",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": GCP_STS,
        "credential_source": {"file": token_path},
    }
    if gcp.impersonate:
        config["service_account_impersonation_url"] = GCP_IMPERSONATION.format(gcp.impersonate)
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def identity_environment(identity: Identity, files: IdentityFiles, session_name: str) -> dict[str, str]:
    """The variables that make the SDKs and providers use `identity` (and nothing else)."""
    if identity.aws is not None:
        return {
            **_NO_FALLBACK,
            "AWS_ROLE_ARN": identity.aws.role_arn,
            "AWS_WEB_IDENTITY_TOKEN_FILE": files.token_path,
            "AWS_ROLE_SESSION_NAME": session_name[:64],
        }
    if identity.gcp is not None:
        return {**_NO_FALLBACK, "GOOGLE_APPLICATION_CREDENTIALS": files.gcp_config_path}
    azure = identity.azure
    assert azure is not None
    return {
        **_NO_FALLBACK,
        "AZURE_CLIENT_ID": azure.client_id,
        "AZURE_TENANT_ID": azure.tenant_id,
        "AZURE_FEDERATED_TOKEN_FILE": files.token_path,
        "ARM_USE_OIDC": "true",
        "ARM_CLIENT_ID": azure.client_id,
        "ARM_TENANT_ID": azure.tenant_id,
        "ARM_OIDC_TOKEN_FILE_PATH": files.token_path,
    }


def token_seconds(timeout_s: float) -> int:
    """A token that outlives the run (the SDKs re-read it to refresh), within the API's bounds."""
    return int(min(MAX_TOKEN_SECONDS, max(MIN_TOKEN_SECONDS, timeout_s + 300)))


def request_token(namespace: str, service_account: str, token_audience: str, seconds: int) -> str:
    """A TokenRequest for the ServiceAccount: the token only (never logged by the caller). An
    answer other than a token is a MessageError with the API server's status and reason."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from composer.runners.kube_login import configuration

    api = client.CoreV1Api(client.ApiClient(configuration()))
    body = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[token_audience], expiration_seconds=seconds)
    )
    try:
        answer = api.create_namespaced_service_account_token(service_account, namespace, body)
    except ApiException as exc:
        raise MessageError(f"{exc.status} {exc.reason}") from None
    return str(answer.status.token)
