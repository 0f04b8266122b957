"""What a newcomer meets (issue 17): progress in a CI log, prompts that cancel cleanly and name
what will be destroyed, property errors at the key's own line, foreign text printed as text,
ExternalSecrets of the API today's operators serve, secrets read from the sandbox."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import yaml

from composer.cli.views import View, middle_ellipsis
from composer.model.environment import SecretStoreRef
from composer.render.connection import Connection
from composer.runners.directory import DirectorySink
from tests.helpers import ROOT, appc, write
from tests.support.projects import cluster_env, make_project

WEB = "    - {name: web, type: webservice, properties: {image: 'nginx:1.25', port: 80}}\n"
CLUSTER_ENV = cluster_env("newcomer")


# -- progress without a terminal -------------------------------------------------------------


def _slow_terraform(tmp_path: Path, seconds: float, outputs: str) -> Path:
    wrapper = tmp_path / "bin" / "terraform"
    wrapper.parent.mkdir()
    script = ROOT / "tests" / "support" / "slow_terraform.py"
    wrapper.write_text(
        f"#!/bin/sh\nAPPC_FAKE_TF_SECONDS={seconds} APPC_FAKE_TF_OUTPUTS='{outputs}' exec {sys.executable} {script} \"$@\"\n"
    )
    wrapper.chmod(0o755)
    return wrapper


def test_a_log_without_a_terminal_hears_a_heartbeat_naming_the_unit_and_the_resource(
    tmp_path, moto, kube_clean, monkeypatch
):
    comp = "    - {name: slow, type: terraform-module, properties: {source: modules/token, inputs: {name: slow}, outputs: {arn: {}}}}\n"
    app = make_project(tmp_path, comp, env=CLUSTER_ENV)
    monkeypatch.setenv("COMPOSER_TERRAFORM", str(_slow_terraform(tmp_path, 2.5, '{"arn": "arn:aws:rds:x"}')))
    monkeypatch.setenv("COMPOSER_HEARTBEAT_SECONDS", "0.5")
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve")
    assert r.code == 0, r.err
    beats = [line for line in r.out.splitlines() if "still running" in line]
    assert beats and all(b.startswith("  … slow: still running (") for b in beats), beats
    # while terraform is silent on a resource, each beat names it (after it completes, outputs and
    # bind may still take a beat or two, with nothing to wait on: those lines name no resource)
    on_resource = [b for b in beats if b.endswith("waiting on module.slow.aws_db_instance.this (create)")]
    assert len(on_resource) >= 3, r.out  # 2.5 s of silence from terraform, a line every 0.5 s
    assert (
        "  slow: module.slow.aws_db_instance.this start" in r.out
        and "  slow: module.slow.aws_db_instance.this complete" in r.out
    )
    # The end says where things went and what to run next.
    assert "workloads applied to cluster context/namespace standin/newcomer" in r.out
    assert "state kept in " in r.out and "next: appc status" in r.out


def test_middle_ellipsis_keeps_both_ends_of_an_address():
    addr = "module.cache.aws_elasticache_cluster.this"
    assert middle_ellipsis(addr, 80) == addr
    cut = middle_ellipsis(addr, 21)
    assert len(cut) == 21 and cut.startswith("module.cac") and cut.endswith("ster.this") and "…" in cut


# -- prompts -----------------------------------------------------------------------------------


def _interactive(args: list, cwd: Path, keys: bytes, expect: bytes, timeout: float = 60) -> tuple[int, str]:
    """Run appc on a pseudo-terminal, wait for `expect`, type `keys`; (exit code, screen text)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["COLUMNS"] = "200"

    def controlling_terminal() -> None:  # so Ctrl-C on the terminal is a SIGINT, as for a person
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "appc"), *map(str, args)],
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    screen = b""
    sent = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        if not sent and expect in screen:
            time.sleep(0.2)
            os.write(master, keys)
            sent = True
        if proc.poll() is not None and not ready:
            break
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    os.close(master)
    assert sent, screen.decode(errors="replace")
    return code, screen.decode(errors="replace").replace("\r\n", "\n")


def test_ctrl_d_and_ctrl_c_at_the_prompt_cancel_with_one_exit_code_and_name_the_destroys(tmp_path):
    app = make_project(tmp_path, WEB)
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0
    app.write_text(
        app.read_text().replace(WEB, "    - {name: other, type: worker, properties: {image: 'busybox:1'}}\n")
    )
    for keys in (b"\x04", b"\x03", b"n\n"):
        code, screen = _interactive(["apply", "-e", "test"], tmp_path, keys, b"apply changes to")
        assert code == 1, (keys, screen)
        assert "web is removed from the model: apply DESTROYS Deployment t/web, Service t/web" in screen, screen
        assert "apply cancelled: nothing was changed" in screen and "internal error" not in screen
        assert (tmp_path / "deploy" / "web.yaml").exists() and not (tmp_path / "deploy" / "other.yaml").exists()
    code, screen = _interactive(["destroy", "-e", "test"], tmp_path, b"\x04", b"destroy every unit")
    assert code == 1 and "destroy cancelled: nothing was changed" in screen, screen
    assert "this DESTROYS web and everything in their Terraform state and inventory" in screen


# -- input errors ------------------------------------------------------------------------------


def test_a_misspelt_required_property_is_one_error_at_its_own_line(tmp_path):
    comps = "    - name: web\n      type: webservice\n      properties:\n        port: 80\n        imgae: nginx\n"
    app = make_project(tmp_path, comps)
    r = appc("validate", "-f", app, "-e", "test", "--json")
    diags = [e for e in r.events if e["type"] == "diagnostic"]
    assert r.code == 1 and len(diags) == 1, diags
    (d,) = diags
    assert d["line"] == 10 and d["path"] == "spec.components[0].properties.imgae", d  # line 10 holds `imgae:`
    assert d["summary"].endswith("unknown property 'imgae'; did you mean 'image' (required)?")


def test_foreign_text_is_printed_as_it_is(tmp_path, capsys):
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:webshop/db-[bold]x[/bold]"
    View(False, "outputs").table(None, ["unit", "output", "value"], [["db", "arn", arn]])
    assert arn in capsys.readouterr().out
    app = make_project(tmp_path, WEB)
    r = appc("validate", "-f", app, "-e", ":secret:[red]x")
    assert r.code == 1 and ":secret:[red]x" in r.err and "㊙" not in r.err


# -- GitOps ExternalSecrets --------------------------------------------------------------------


def test_external_secrets_use_v1_by_default_and_v1beta1_when_the_environment_says(tmp_path):
    arn = "arn:aws:secretsmanager:us-east-1:1:secret:x"
    for store, expected in (
        (SecretStoreRef(name="s"), "external-secrets.io/v1"),
        (
            SecretStoreRef.model_validate({"name": "s", "apiVersion": "external-secrets.io/v1beta1"}),
            "external-secrets.io/v1beta1",
        ),
    ):
        sink = DirectorySink(tmp_path / expected.replace("/", "_"), "shop", "dev", "shop", store)
        sink.write_connection(Connection("shop", "dev", "db", "shop", {"password": "p"}, arn, store))
        (doc,) = yaml.safe_load_all((sink.directory / "db-conn.yaml").read_text())
        assert doc["apiVersion"] == expected


# -- outputs --show-secrets in the sandbox -----------------------------------------------------

SANDBOX_ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: local}
spec:
  cloud: {provider: aws, region: us-east-1, emulator: embedded}
  kubernetes: {directory: deploy, namespace: shop, secretStore: {name: aws-secrets-manager}}
"""


# not `slow`: the only test of the sandbox emulator process (~40 s), a real path the default suite keeps
def test_show_secrets_reads_the_sandbox_emulator_and_says_why_when_it_is_gone(tmp_path):
    from tests.test_providers import ENTRY_DEFINITION, ENTRY_MODULE

    write(
        tmp_path,
        {
            "environments/local.yaml": SANDBOX_ENV,
            "definitions/entry.yaml": ENTRY_DEFINITION,
            "definitions/modules/entry/main.tf": ENTRY_MODULE,
        },
    )
    app = (
        write(
            tmp_path,
            {
                "app.yaml": "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  components:\n    - {name: vault, type: vault-entry}\n"
            },
        )
        / "app.yaml"
    )
    assert appc("sandbox", "up", "-f", app).code == 0
    try:
        assert appc("apply", "-f", app, "-e", "local", "--auto-approve").code == 0
        r = appc("outputs", "-f", app, "-e", "local", "--show-secrets", "vault", "--json")
        assert r.code == 0, r.err
        (shown,) = [e["outputs"] for e in r.events if e["type"] == "outputs"]
        assert len(shown["password"]) == 32 and shown["name"] == "shop-local-vault"
    finally:
        assert appc("sandbox", "down", "-f", app).code == 0
    r = appc("outputs", "-f", app, "-e", "local", "--show-secrets", "vault")
    assert (
        r.code == 1
        and "the secret values are gone with the emulator that applied them" in r.err
        and "appc sandbox up" in r.err
    )
    assert "credentials" not in r.err
