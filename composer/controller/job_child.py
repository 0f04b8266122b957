"""What a reconcile's child `appc` runs with besides its project files: the Environment's own
identity and the Terraform runner the controller was started with (`--runner`).

No god keys: for an Environment with `spec.identity`, the controller asks the API server for a
short-lived token of the identity's ServiceAccount (TokenRequest), writes it 0600 beside the
project, and starts the child with the variables that make the clouds' SDKs and Terraform's
providers exchange it (composer/runners/web_identity.py) and without any cloud credential of
the controller's own environment. The token file is removed when the child ends. With
`--runner job` the child runs its unit applies as Jobs under the same ServiceAccount
(composer/runners/controller_job.py). docs/controller.md, "Identity" and "The job runner".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from composer import safefs
from composer.diagnostics import MessageError
from composer.model.environment_identity import Identity
from composer.runners.controller_job import IMAGE_ENV, NAMESPACE_ENV, RUNNER_ENV
from composer.runners.web_identity import (
    IdentityFiles,
    audience,
    gcp_credential_config,
    identity_environment,
    request_token,
    token_seconds,
)

IDENTITY_DIR = ".appc-identity"
NO_IDENTITY_REASON = "IdentityUnavailable"  # the Degraded reason when the identity's token cannot be had
Runner = Literal["process", "job"]


@dataclass(frozen=True)
class RunnerOptions:
    kind: Runner = "process"
    image: str = ""  # the project's image, for the Jobs (--job-image)


@dataclass(frozen=True)
class ChildSetup:
    env: dict[str, str] = field(default_factory=dict)
    inherit_credentials: bool = True  # False: the controller's cloud credentials are withheld
    problem: str | None = None


def environment_identity(env_doc: Mapping[str, Any]) -> tuple[Identity | None, bool]:
    """The Environment's identity, and whether it names one at all (an invalid one still
    withholds the controller's credentials; the child's loader reports it)."""
    raw = (env_doc.get("spec") or {}).get("identity")
    if raw is None:
        return None, False
    try:
        return Identity.model_validate(raw), True
    except ValidationError:
        return None, True


def prepare(
    project: Path, namespace: str, app: str, env_doc: Mapping[str, Any], runner: RunnerOptions, timeout_s: float
) -> ChildSetup:
    """The child's extra environment; a token that cannot be had is a problem, before anything runs."""
    env: dict[str, str] = {RUNNER_ENV: runner.kind}
    if runner.kind == "job":
        env.update({IMAGE_ENV: runner.image, NAMESPACE_ENV: namespace})
    identity, named = environment_identity(env_doc)
    if identity is None:
        return ChildSetup(env, inherit_credentials=not named)
    account = f"ServiceAccount {namespace}/{identity.service_account}"
    try:
        token = request_token(namespace, identity.service_account, audience(identity), token_seconds(timeout_s))
    except MessageError as exc:
        return ChildSetup(env, False, f"no token for the Environment's identity ({account}): {exc}")
    safefs.private_dir(project, IDENTITY_DIR)
    safefs.write_file(project, f"{IDENTITY_DIR}/token", token.encode(), mode=0o600)
    files = IdentityFiles(str(project / IDENTITY_DIR / "token"))
    if identity.gcp is not None:
        files = IdentityFiles(files.token_path, str(project / IDENTITY_DIR / "gcp-credentials.json"))
        config = gcp_credential_config(identity, files.token_path).encode()
        safefs.write_file(project, f"{IDENTITY_DIR}/gcp-credentials.json", config, mode=0o600)
    env.update(identity_environment(identity, files, f"{namespace}.{app}"))
    return ChildSetup(env, inherit_credentials=False)


def clean_up(project: Path) -> None:
    for name in ("token", "gcp-credentials.json"):
        safefs.remove_file(project, f"{IDENTITY_DIR}/{name}")
