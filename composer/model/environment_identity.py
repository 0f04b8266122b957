"""The identity an Environment's cloud work runs under (`spec.identity`): a Kubernetes
ServiceAccount of the Environment's namespace whose short-lived token the cloud trusts (AWS
web identity, GCP workload identity federation, Azure workload identity). The controller holds
no cloud credentials: each reconcile runs with a token of this ServiceAccount only
(composer/runners/web_identity.py, docs/controller.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from composer.model.base import Name, Strict

AwsRoleArn = Annotated[
    str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
]
Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")]
GcpPoolProvider = Annotated[
    str,
    StringConstraints(
        pattern=r"^projects/[0-9]{1,20}/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}$"
    ),
]
GcpServiceAccountEmail = Annotated[
    str,
    StringConstraints(
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$"
    ),
]


class AwsIdentity(Strict):
    """An IAM role assumed with `AssumeRoleWithWebIdentity` from the ServiceAccount's token."""

    role_arn: AwsRoleArn = Field(alias="roleArn")
    service_account: Name = Field(alias="serviceAccount")


class GcpIdentity(Strict):
    """Workload identity federation: the token is exchanged at Google's STS through the pool
    provider, then (when `impersonate` names one) a Google service account is impersonated."""

    workload_identity_provider: GcpPoolProvider = Field(alias="workloadIdentityProvider")
    service_account: Name = Field(alias="serviceAccount")
    impersonate: GcpServiceAccountEmail | None = None


class AzureIdentity(Strict):
    """Azure workload identity: an app registration (or managed identity) with a federated
    credential trusting the ServiceAccount's token."""

    client_id: Uuid = Field(alias="clientId")
    tenant_id: Uuid = Field(alias="tenantId")
    service_account: Name = Field(alias="serviceAccount")


class Identity(Strict):
    aws: AwsIdentity | None = None
    gcp: GcpIdentity | None = None
    azure: AzureIdentity | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Identity:
        named = [cloud for cloud in ("aws", "gcp", "azure") if getattr(self, cloud) is not None]
        if len(named) != 1:
            raise ValueError(f"identity names exactly one of aws, gcp, azure (got {', '.join(named) or 'none'})")
        return self

    @property
    def service_account(self) -> str:
        chosen = self.aws or self.gcp or self.azure
        assert chosen is not None  # _exactly_one
        return chosen.service_account
