"""The appc process loads what its command needs (issue 13: the process's own start-up time).

A command that works on no project (`appc --help`, `appc --version`, a command's --help) never
imports the Kubernetes client, a cloud SDK, jsonschema or the engine; the cluster sink loads the
official Kubernetes client by the parts it uses, and the rest of the client still works after.
Each check runs in a fresh interpreter and reads its `sys.modules`: outcomes, not timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

HEAVY = (
    "kubernetes",
    "boto3",
    "botocore",
    "jsonschema",
    "google",
    "azure",
    "hcl2",
    "cryptography",
    "kopf",
    "composer.engine",
    "composer.catalog",
    "composer.render",
)


def modules_after(code: str, env: dict[str, str] | None = None) -> list[str]:
    """Run `code` in a fresh interpreter; the modules it had loaded at the end."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["apply", "--help"]],  # every command module is imported for each of them
)
def test_cheap_commands_load_no_sdk(argv):
    code = (
        "import sys\nfrom composer.cli import main\n"
        f"sys.argv = ['appc', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
    )
    loaded = modules_after(code)
    assert "composer.cli.app" in loaded  # the command line itself did load
    assert heavy(loaded) == []


def test_the_kube_client_loads_by_parts_and_still_works_whole(kube):
    """KubeClient.for_context, as the cluster sink builds it, skips the client's API and model
    modules; a later ordinary use of the client (CoreV1Api, a model, __version__) still works."""
    code = f"""
import sys
from composer.runners.kube.client import KubeClient
kc = KubeClient.for_context({kube.kubeconfig_path!r}, "standin", 2)
assert kc.request("GET", "/api/v1/namespaces") is not None
assert "kubernetes.client.models.v1_pod" not in sys.modules, "the models were imported"
assert "kubernetes.client.api.core_v1_api" not in sys.modules, "the API classes were imported"
from kubernetes import dynamic, utils, watch  # their imports read the package (`__version__`) mid-import
from kubernetes import client
names = [n.metadata.name for n in client.CoreV1Api(kc.api).list_namespace().items]
assert "default" in names, names
import kubernetes
assert kubernetes.__version__ and client.V1ConfigMap and dynamic.DynamicClient and utils.create_from_dict and watch.Watch
"""
    loaded = modules_after(code)
    assert "kubernetes.client.api.core_v1_api" in loaded


AUTH_LIBRARIES = ("google.auth", "google.oauth2", "requests", "requests_oauthlib", "oauthlib.oauth2")


def test_the_kubeconfig_loader_imports_its_auth_libraries_on_first_use(kube):
    """A client from a token kubeconfig works without google-auth, requests-oauthlib, oauthlib
    and requests (issue 13: ~60 ms of every apply); the loader's gcp and oidc code and the REST
    layer's proxy check still reach the real libraries, and a later import gets the real ones."""
    code = f"""
import sys
from composer.runners.kube.client import KubeClient
kc = KubeClient.for_context({kube.kubeconfig_path!r}, "standin", 2)
assert kc.request("GET", "/api/v1/namespaces") is not None
early = [m for m in sys.modules if m.split(".")[0] in ("requests", "requests_oauthlib") or m.startswith(("google.auth", "google.oauth2", "oauthlib.oauth2"))]
assert early == [], early
from kubernetes.client import rest
from kubernetes.config import kube_config
assert kube_config.google_auth_available
session = kube_config.OAuth2Session(client_id="appc", auto_refresh_url="https://issuer.invalid/token")
import requests_oauthlib, google.auth.transport.requests, oauthlib.oauth2.rfc6749.errors as errors
assert isinstance(session, requests_oauthlib.OAuth2Session), type(session)
assert kube_config.google.auth.transport.requests.Request is google.auth.transport.requests.Request
assert kube_config.google.auth.default is google.auth.default
assert kube_config.oauthlib.oauth2.rfc6749.errors.InvalidClientIdError is errors.InvalidClientIdError
assert rest.should_bypass_proxies("http://10.0.0.1:6443", no_proxy="10.0.0.1")
assert type(sys.modules["requests_oauthlib"]).__name__ == "module" and sys.modules["google.auth"].__file__
assert "dateutil.parser" not in sys.modules and "multiprocessing.pool" not in sys.modules
from kubernetes.client import api_client
import datetime
assert api_client.parse("2026-11-29T21:00:00Z") == datetime.datetime(2026, 11, 29, 21, tzinfo=datetime.timezone.utc)
pool = kc.api.pool  # the typed API's async_req pool: the real ThreadPool
assert pool.apply(lambda: 42) == 42
kc.api.close()
"""
    loaded = modules_after(code)
    assert all(name in loaded for name in AUTH_LIBRARIES), [n for n in AUTH_LIBRARIES if n not in loaded]


def test_a_group_already_imported_is_left_alone_and_the_others_still_deferred(kube):
    """dateutil imported before (botocore does that in a cloud project): the client binds the
    real `parse`, and the auth libraries are still deferred."""
    code = f"""
import sys
import dateutil.parser
from composer.runners.kube.client import KubeClient
kc = KubeClient.for_context({kube.kubeconfig_path!r}, "standin", 2)
assert kc.request("GET", "/api/v1/namespaces") is not None
from kubernetes.client import api_client
assert api_client.parse is dateutil.parser.parse
assert "requests_oauthlib" not in sys.modules and "google.auth" not in sys.modules
"""
    modules_after(code)


# (typer's own click is typer._click.) jsonschema and RE2 load for a value the quick check cannot
# vouch for, Jinja for a template with an expression, the Score model for a Score file.
VALID_VALUES_NEED_NONE = (
    "jsonschema",
    "referencing",
    "re2",
    "jinja2",
    "composer.template_sandbox",
    "composer.model.score",
)
APPLY_NEVER = ("rich", "click", "cryptography", "composer.runners.bundles", *AUTH_LIBRARIES, *VALID_VALUES_NEED_NONE)
NO_OP_NEVER = (*APPLY_NEVER, "composer.render", "composer.catalog", "composer.model.definitions")


def test_an_apply_to_a_cluster_and_its_no_op_load_only_what_they_use(tmp_path, kube_clean):
    """`appc apply --json` of a Kubernetes project imports no people's view (rich), no bundle
    verifier (cryptography), no kubeconfig auth library its kubeconfig does not use, and no
    jsonschema, Jinja or Score model that its valid, template-free values do not need; the
    no-op re-apply served from the compiled-model cache does not even load the compiler."""
    from tests.test_compiled_cache import project

    app = project(tmp_path)
    run = (
        "import sys\nfrom composer.cli import main\n"
        f"sys.argv = ['appc', 'apply', '-f', {str(app)!r}, '-e', 'test', '--auto-approve', '--json']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
    )
    env = {"KUBECONFIG": kube_clean.kubeconfig_path, "CACHED_NS": "imports"}
    applied = modules_after(run, env)
    assert "composer.runners.kube.client" in applied and "composer.render" in applied
    assert [m for m in applied if m.split(".")[0] in APPLY_NEVER or m.startswith(APPLY_NEVER)] == []
    no_op = modules_after(run, env)
    assert "composer.cli.fastpath" in no_op and "composer.runners.kube.client" in no_op
    assert [m for m in no_op if m.split(".")[0] in NO_OP_NEVER or m.startswith(NO_OP_NEVER)] == []


def test_a_command_collects_cycles_less_often():
    """The young generation's threshold is raised for the command (issue 13: ~90 ms of
    collections in a 1,000-object apply); collection stays on."""
    code = (
        "import gc, sys\nfrom composer.cli import main\nsys.argv = ['appc', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert gc.isenabled() and gc.get_threshold()[0] == 10_000, gc.get_threshold()\n"
    )
    modules_after(code)
