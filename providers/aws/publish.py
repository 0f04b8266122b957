"""Connection publishing on AWS: the connection document as one Secrets Manager secret.

`write_secret` creates the secret (or puts a new version when it exists, so a re-apply
updates it in place) and returns its name, which `read_secret` and an ExternalSecret's
key both take. `delete_secret` removes it without a recovery window when the unit is
destroyed or pruned: the name is Composer's, and a re-create must not hit a pending deletion.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.environment import Environment
from composer.plugins import SecretWritten

TAGS = [{"Key": "managed-by", "Value": "appc"}]


def store_problems(environment: Environment) -> list[Diagnostic]:
    return []  # the region comes from the environment or the SDK's own configuration


def _client(environment: Environment):
    import boto3

    cloud = environment.spec.cloud
    return boto3.session.Session(region_name=(cloud.region if cloud else None)).client("secretsmanager")


def write_secret(environment: Environment, name: str, values: Mapping[str, str]) -> SecretWritten:
    from botocore.exceptions import BotoCoreError, ClientError

    from providers.aws import aws_error

    document = json.dumps(dict(sorted(values.items())))
    client = _client(environment)
    try:
        try:
            client.put_secret_value(SecretId=name, SecretString=document)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            client.create_secret(
                Name=name, SecretString=document, Description="Connection details published by appc", Tags=TAGS
            )
    except (BotoCoreError, ClientError) as exc:
        raise DiagnosticError(
            [aws_error(exc, f"cannot publish connection details to Secrets Manager secret {name}")]
        ) from None
    return SecretWritten(name)


def delete_secret(environment: Environment, name: str) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    from providers.aws import aws_error

    try:
        _client(environment).delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise DiagnosticError([aws_error(exc, f"cannot delete Secrets Manager secret {name}")]) from None
    except BotoCoreError as exc:
        raise DiagnosticError([aws_error(exc, f"cannot delete Secrets Manager secret {name}")]) from None
    return True
