"""Connection publishing on Google Cloud: the connection document as a Secret Manager secret.

Through the Secret Manager REST API, like `read_secret` (providers/gcp/sdk.py): create the
secret (automatic replication) when missing, add a version with the document, and return
`projects/<project>/secrets/<name>`. Deleting removes the secret with all its versions.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.environment import Environment
from composer.plugins import SecretWritten


def store_problems(environment: Environment) -> list[Diagnostic]:
    cloud = environment.spec.cloud
    if cloud is None or not cloud.project:
        return [
            Diagnostic(
                f"environment {environment.name} names no GCP project for Secret Manager",
                "set cloud.project: Composer publishes connection details there",
            )
        ]
    return []


def _session(what: str) -> Any:
    from google.auth.transport.requests import AuthorizedSession

    from providers.gcp.sdk import NoCredentials, _no_credentials, credentials

    try:
        creds, _ = credentials()
    except NoCredentials as exc:
        raise DiagnosticError([_no_credentials(what, str(exc))]) from None
    return AuthorizedSession(creds)


def _call(session: Any, method: str, url: str, what: str, **kwargs: Any) -> Any:
    from providers.gcp.sdk import TIMEOUT, _api_error, _expected_errors

    try:
        return session.request(method, url, timeout=TIMEOUT, **kwargs)
    except _expected_errors() as exc:
        raise DiagnosticError([_api_error(exc, what)]) from None


def write_secret(environment: Environment, name: str, values: Mapping[str, str]) -> SecretWritten:
    from providers.gcp.sdk import SECRET_MANAGER_ENDPOINT, _endpoint, _http_error

    problems = store_problems(environment)
    if problems:
        raise DiagnosticError(problems)
    project = environment.spec.cloud.project  # type: ignore[union-attr]
    secret = f"projects/{project}/secrets/{name}"
    what = f"cannot publish connection details to {secret}"
    base = f"{_endpoint(SECRET_MANAGER_ENDPOINT, 'https://secretmanager.googleapis.com')}/v1"
    session = _session(what)
    try:
        made = _call(
            session,
            "POST",
            f"{base}/projects/{project}/secrets",
            what,
            params={"secretId": name},
            json={"replication": {"automatic": {}}, "labels": {"managed-by": "appc"}},
        )
        if made.status_code not in (200, 409):
            raise DiagnosticError(
                [_http_error(made, what, "the credentials need secretmanager.secrets.create on the project")]
            )
        data = base64.b64encode(json.dumps(dict(sorted(values.items()))).encode()).decode()
        added = _call(session, "POST", f"{base}/{secret}:addVersion", what, json={"payload": {"data": data}})
        if added.status_code != 200:
            raise DiagnosticError([_http_error(added, what, "the credentials need secretmanager.versions.add on it")])
    finally:
        session.close()
    return SecretWritten(secret)


def delete_secret(environment: Environment, name: str) -> bool:
    from providers.gcp.sdk import SECRET_MANAGER_ENDPOINT, _endpoint, _http_error

    if store_problems(environment):
        return False
    secret = f"projects/{environment.spec.cloud.project}/secrets/{name}"  # type: ignore[union-attr]
    what = f"cannot delete {secret}"
    session = _session(what)
    try:
        resp = _call(
            session,
            "DELETE",
            f"{_endpoint(SECRET_MANAGER_ENDPOINT, 'https://secretmanager.googleapis.com')}/v1/{secret}",
            what,
        )
    finally:
        session.close()
    if resp.status_code == 404:
        return False
    if resp.status_code != 200:
        raise DiagnosticError([_http_error(resp, what, "the credentials need secretmanager.secrets.delete on it")])
    return True
