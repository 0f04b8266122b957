"""Google Cloud API calls of the gcp provider: preflight, gcs state-bucket bootstrap, secret reads.

- Preflight asks Resource Manager (google-cloud-resource-manager's `ProjectsClient` over its REST
  transport) for the environment's project: it must exist, be visible to the credentials and be
  ACTIVE. Google's own reason is reported on 403/404/other states.
- `bootstrap_gcs_backend` creates the Terraform state bucket through the Cloud Storage JSON API
  when it is missing (versioning on, uniform bucket-level access, public access prevention
  enforced) and leaves a present one untouched.
- `read_secret` reads the latest version of a Secret Manager secret through its REST API
  (`.../versions/latest:access`). google-cloud-secret-manager would do the same call; one GET is
  not worth a further dependency, and `google.auth`'s AuthorizedSession (already installed with
  the resource-manager client) adds the credentials.

Credentials: `google.auth.default()` (GOOGLE_APPLICATION_CREDENTIALS, gcloud's application
default credentials, or the metadata server). Endpoints are the public ones; each can be pointed
elsewhere only through an environment variable, so the code is the same in production and tests:

| variable | default |
|---|---|
| COMPOSER_GCP_RESOURCE_MANAGER_ENDPOINT | https://cloudresourcemanager.googleapis.com |
| COMPOSER_GCP_STORAGE_ENDPOINT | https://storage.googleapis.com |
| COMPOSER_GCP_SECRET_MANAGER_ENDPOINT | https://secretmanager.googleapis.com |

The client libraries have no endpoint variable of their own (google-api-core reads only
GOOGLE_CLOUD_UNIVERSE_DOMAIN and the mTLS switches). `COMPOSER_GCP_ANONYMOUS=1` uses anonymous
credentials instead of `google.auth.default()`; it exists for tests against a local API stand-in
and is never right against Google.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.environment import Environment
from composer.plugins import BackendResource, PreflightResult

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
RESOURCE_MANAGER_ENDPOINT = "COMPOSER_GCP_RESOURCE_MANAGER_ENDPOINT"
STORAGE_ENDPOINT = "COMPOSER_GCP_STORAGE_ENDPOINT"
SECRET_MANAGER_ENDPOINT = "COMPOSER_GCP_SECRET_MANAGER_ENDPOINT"
ANONYMOUS = "COMPOSER_GCP_ANONYMOUS"
TIMEOUT = 30.0

# What google_secret_manager_secret.id looks like: projects/<project id or number>/secrets/<id>.
_SECRET_ID = re.compile(r"^projects/[A-Za-z0-9.:-]{1,100}/secrets/[A-Za-z0-9_-]{1,255}$")


def _endpoint(variable: str, default: str) -> str:
    return (os.environ.get(variable) or default).rstrip("/")


class NoCredentials(Exception):
    pass


def credentials() -> tuple[Any, str]:
    """(credentials, who they are). Raises NoCredentials with the fix."""
    if os.environ.get(ANONYMOUS) == "1":
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials(), f"anonymous ({ANONYMOUS}=1: for tests against a local stand-in only)"
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        creds, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as exc:
        raise NoCredentials(str(exc).splitlines()[0][:300]) from None
    who = (
        getattr(creds, "service_account_email", None)
        or getattr(creds, "signer_email", None)
        or "application default credentials"
    )
    return creds, str(who)


def _no_credentials(what: str, why: str) -> Diagnostic:
    return Diagnostic(
        f"{what}: no Google Cloud credentials found",
        f"{why}. Run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run on a workload with a service account.",
    )


def _api_error(exc: Exception, what: str) -> Diagnostic:
    """google-api-core / google-auth / requests errors at the edge -> one diagnostic, Google's own words."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as aexc

    if isinstance(exc, gexc.GoogleAPICallError):
        status = getattr(getattr(exc, "grpc_status_code", None), "name", None)
        response = getattr(exc, "response", None)
        try:  # the REST error envelope: {"error": {"code", "message", "status"}}
            status = status or (response.json().get("error") or {}).get("status")
        except Exception:  # not JSON, or no response object
            pass
        message = exc.message or str(exc)
        if re.match(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ", message):  # from_http_response prefixes the URL
            message = message.split(": ", 1)[1]
        return Diagnostic(f"{what}: {exc.code or ''} {status or type(exc).__name__}".strip(), message[:500])
    if isinstance(exc, aexc.RefreshError):
        return Diagnostic(f"{what}: the Google Cloud credentials were rejected", str(exc)[:500])
    if isinstance(exc, aexc.GoogleAuthError):
        return Diagnostic(f"{what}: {type(exc).__name__}", str(exc)[:500])
    return Diagnostic(f"{what}: cannot reach the API ({type(exc).__name__})", str(exc)[:500])


def _expected_errors() -> tuple[type[BaseException], ...]:
    import requests
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as aexc

    return (gexc.GoogleAPICallError, gexc.RetryError, aexc.GoogleAuthError, requests.RequestException)


# -- preflight ---------------------------------------------------------------------------------


def preflight(environment: Environment) -> PreflightResult:
    from google.cloud.resourcemanager_v3 import Project, ProjectsClient

    cloud = environment.spec.cloud
    project_id = cloud.project if cloud else None
    if not project_id:
        return PreflightResult(
            False,
            diagnostics=(
                Diagnostic(
                    "the gcp environment names no project",
                    f"set cloud.project in environment {environment.name!r} to the GCP project id",
                ),
            ),
        )
    try:
        creds, who = credentials()
    except NoCredentials as exc:
        return PreflightResult(False, diagnostics=(_no_credentials("Google Cloud preflight", str(exc)),))
    endpoint = os.environ.get(RESOURCE_MANAGER_ENDPOINT)
    client = ProjectsClient(
        credentials=creds, transport="rest", client_options={"api_endpoint": endpoint} if endpoint else None
    )
    try:
        project = client.get_project(name=f"projects/{project_id}", timeout=TIMEOUT)
    except _expected_errors() as exc:
        d = _api_error(exc, f"cannot use GCP project {project_id!r}")
        hint = "check cloud.project, and that the credentials may read it (resourcemanager.projects.get); Google answers 403 for projects that do not exist too"
        return PreflightResult(
            False, identity=who, diagnostics=(Diagnostic(d.summary, f"{d.detail} ({hint})" if d.detail else hint),)
        )
    finally:
        client.transport.close()
    if project.state != Project.State.ACTIVE:
        state = Project.State(project.state).name
        return PreflightResult(
            False,
            identity=who,
            diagnostics=(
                Diagnostic(
                    f"GCP project {project_id!r} is {state}, not ACTIVE",
                    "a project pending deletion accepts no new resources; restore it (gcloud projects undelete) or choose another cloud.project",
                ),
            ),
        )
    return PreflightResult(
        True, identity=f"{who} on project {project.project_id or project_id} ({project.display_name or project.name})"
    )


# -- gcs state bucket --------------------------------------------------------------------------


def bootstrap_gcs_backend(environment: Environment) -> PreflightResult:
    """Create the gcs state bucket when missing; a present one is reported and left as it is."""
    from google.auth.transport.requests import AuthorizedSession

    state = environment.spec.state
    cloud = environment.spec.cloud
    bucket = state.bucket
    project = cloud.project if cloud else None
    location = state.region or (cloud.region if cloud else None)
    try:
        creds, _ = credentials()
    except NoCredentials as exc:
        return PreflightResult(False, diagnostics=(_no_credentials("cannot prepare the gcs state backend", str(exc)),))
    base = _endpoint(STORAGE_ENDPOINT, "https://storage.googleapis.com") + "/storage/v1"
    session = AuthorizedSession(creds)
    try:
        got = session.get(f"{base}/b/{_path(bucket)}", params={"fields": "name,location,versioning"}, timeout=TIMEOUT)
        if got.status_code == 200:
            body = got.json()
            versioning = (
                "on"
                if (body.get("versioning") or {}).get("enabled")
                else "off (left as it is; turn it on to keep earlier Terraform states)"
            )
            return PreflightResult(
                True,
                resources=(
                    BackendResource(
                        "gcs bucket",
                        bucket,
                        "present",
                        f"location {str(body.get('location', '?')).lower()}, versioning {versioning}",
                    ),
                ),
            )
        if got.status_code != 404:
            return PreflightResult(
                False,
                diagnostics=(
                    _http_error(
                        got,
                        f"cannot use the state bucket {bucket!r}",
                        "GCS bucket names are global: another project may own it; otherwise grant storage.buckets.get",
                    ),
                ),
            )
        if not project or not location:
            return PreflightResult(
                False,
                diagnostics=(
                    Diagnostic(
                        f"the state bucket {bucket!r} does not exist and cannot be created",
                        "set cloud.project and cloud.region (or state.region) so that appc init can create it",
                    ),
                ),
            )
        body = {
            "name": bucket,
            "location": location,
            "versioning": {"enabled": True},
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True}, "publicAccessPrevention": "enforced"},
            "labels": {"managed-by": "appc"},
        }
        made = session.post(f"{base}/b", params={"project": project}, json=body, timeout=TIMEOUT)
        if made.status_code == 409:  # a concurrent init, or a name another project owns
            again = session.get(f"{base}/b/{_path(bucket)}", params={"fields": "name"}, timeout=TIMEOUT)
            if again.status_code == 200:
                return PreflightResult(
                    True, resources=(BackendResource("gcs bucket", bucket, "present", "created by a concurrent run"),)
                )
        if made.status_code not in (200, 201):
            return PreflightResult(
                False,
                diagnostics=(
                    _http_error(
                        made,
                        f"cannot create the state bucket {bucket!r}",
                        "the credentials need storage.buckets.create on the project; bucket names are global",
                    ),
                ),
            )
    except _expected_errors() as exc:
        return PreflightResult(False, diagnostics=(_api_error(exc, "cannot prepare the gcs state backend"),))
    finally:
        session.close()
    return PreflightResult(
        True,
        resources=(
            BackendResource(
                "gcs bucket",
                bucket,
                "created",
                f"in {location} (project {project}): versioning on, uniform access, public access prevented",
            ),
        ),
    )


def _path(segment: str) -> str:
    from urllib.parse import quote

    return quote(segment, safe="")


def _http_error(resp: Any, what: str, hint: str) -> Diagnostic:
    try:
        err = resp.json().get("error") or {}
        message = err.get("message") or resp.text
        status = err.get("status") or resp.reason
    except ValueError:
        message, status = resp.text, resp.reason
    return Diagnostic(f"{what}: {resp.status_code} {status or ''}".strip(), f"{str(message)[:400]} ({hint})")


# -- Secret Manager ----------------------------------------------------------------------------


def read_secret(secret_id: str) -> Mapping[str, str]:
    """The JSON document in the latest version of `projects/<p>/secrets/<name>`, as text values."""
    from google.auth.transport.requests import AuthorizedSession

    if not _SECRET_ID.match(secret_id or ""):
        raise DiagnosticError(
            [
                Diagnostic(
                    f"not a Secret Manager secret id: {secret_id!r}",
                    "expected projects/<project>/secrets/<name>, as the gcp modules output connection_secret_id",
                )
            ]
        )
    try:
        creds, _ = credentials()
    except NoCredentials as exc:
        raise DiagnosticError([_no_credentials(f"cannot read secret {secret_id}", str(exc))]) from None
    url = f"{_endpoint(SECRET_MANAGER_ENDPOINT, 'https://secretmanager.googleapis.com')}/v1/{secret_id}/versions/latest:access"
    session = AuthorizedSession(creds)
    try:
        resp = session.get(url, timeout=TIMEOUT)
    except _expected_errors() as exc:
        raise DiagnosticError([_api_error(exc, f"cannot read secret {secret_id}")]) from None
    finally:
        session.close()
    if resp.status_code != 200:
        raise DiagnosticError(
            [
                _http_error(
                    resp, f"cannot read secret {secret_id}", "the credentials need secretmanager.versions.access on it"
                )
            ]
        )
    try:
        raw = base64.b64decode((resp.json().get("payload") or {}).get("data") or "")
        data = json.loads(raw or b"{}")
    except (ValueError, TypeError):
        raise DiagnosticError(
            [
                Diagnostic(
                    f"secret {secret_id} does not hold a JSON document",
                    "connection details are stored as one JSON object",
                )
            ]
        ) from None
    if not isinstance(data, dict):
        raise DiagnosticError(
            [
                Diagnostic(
                    f"secret {secret_id} does not hold a JSON object",
                    "connection details are stored as one JSON object",
                )
            ]
        )
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
