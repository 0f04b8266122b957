"""A tampered saved plan must not run (issue 11, High 3).

The attack, reproduced on the code before signing: `appc plan --out plan.json`, then replace
the embedded Terraform plan with one made from a module that has a `local-exec`
provisioner, and recompute the plain SHA-256 `digest` of the document: `appc apply plan.json`
ran the provisioner. Now the document is signed with an HMAC whose key is not in the file
(the state's key, or COMPOSER_PLAN_KEY), and even a correctly signed plan is refused when its
embedded Terraform plan's configuration is not the root Composer rendered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from composer.state import keys
from tests.helpers import appc
from tests.reliability.test_module_policy import project
from tests.support.terraform_env import terraform_env

BENIGN = 'resource "terraform_data" "x" {\n  input = "a"\n}\noutput "name" { value = "x" }\n'


def evil_tfplan(root: Path, work: Path, marker: Path) -> bytes:
    """A Terraform plan for unit x made by the attacker from the same rendered tree, with a
    provisioner added to the module; planned against the same (empty) state."""
    shutil.copytree(
        root / ".composer" / "roots" / "test", work, ignore=shutil.ignore_patterns(".terraform", "*.tfplan")
    )
    (module,) = (work / "modules").iterdir()
    (module / "main.tf").write_text(
        BENIGN
        + f'resource "terraform_data" "pwn" {{\n  provisioner "local-exec" {{ command = "touch {marker}" }}\n}}\n'
    )
    env = terraform_env(work)
    unit = work / "terraform" / "x"
    state = root / ".composer" / "tfstate" / "trust" / "test" / "x.tfstate"
    for args in (
        ["init", "-input=false", f"-backend-config=path={state}"],
        ["plan", "-input=false", "-out=evil.tfplan"],
    ):
        done = subprocess.run(["terraform", *args], cwd=unit, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not marker.exists()
    return (unit / "evil.tfplan").read_bytes()


def test_a_replaced_embedded_plan_is_refused_and_nothing_runs(tmp_path, moto, kube_clean):
    root = tmp_path / "project"
    app = project(root, BENIGN)
    plan = tmp_path / "plan.json"
    r = appc("plan", "-f", app, "-e", "test", "--out", plan)
    assert r.code == 0, r.out + r.err
    marker = tmp_path / "pwned"
    evil = evil_tfplan(root, tmp_path / "attacker", marker)

    doc = json.loads(plan.read_text())
    doc["units"]["x"]["tfplan"] = base64.b64encode(evil).decode()
    body = {k: v for k, v in doc.items() if k not in ("digest", "signature")}
    doc["digest"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()  # what sufficed before
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    r = appc("apply", "-f", app, "-e", "test", tampered, "--json")
    assert r.code == 1, r.out[-2000:]
    assert not marker.exists(), "the attacker's provisioner ran"
    assert any("signature does not match" in e.get("summary", "") for e in r.events), r.out[-2000:]

    # An attacker who can read the state key signs again: the configuration check still refuses.
    key = keys.decode_key((root / ".composer" / "test.key").read_bytes())
    doc.pop("digest")
    doc["signature"] = keys.sign(key, "plan", doc)
    tampered.write_text(json.dumps(doc))
    r = appc("apply", "-f", app, "-e", "test", tampered, "--json")
    assert r.code == 1, r.out[-2000:]
    assert not marker.exists(), "the attacker's provisioner ran"
    assert any("not for the rendered root" in e.get("summary", "") for e in r.events), r.out[-2000:]


def test_a_plan_key_from_the_environment_signs_and_is_required(tmp_path, moto, kube_clean, monkeypatch):
    app = project(tmp_path, BENIGN)
    plan = tmp_path / "plan.json"
    monkeypatch.setenv("COMPOSER_PLAN_KEY", base64.b64encode(b"p" * 32).decode())
    assert appc("plan", "-f", app, "-e", "test", "--out", plan).code == 0
    monkeypatch.delenv("COMPOSER_PLAN_KEY")
    r = appc("apply", "-f", app, "-e", "test", plan)  # the state's key is another key
    assert r.code == 1 and "signature does not match" in r.err
    monkeypatch.setenv("COMPOSER_PLAN_KEY", "too-short")
    r = appc("apply", "-f", app, "-e", "test", plan)
    assert r.code == 1 and "COMPOSER_PLAN_KEY is not a usable key" in r.err and "too-short" not in r.err
    monkeypatch.setenv("COMPOSER_PLAN_KEY", base64.b64encode(b"p" * 32).decode())
    r = appc("apply", "-f", app, "-e", "test", plan)
    assert r.code == 0, r.out[-2000:] + r.err[-2000:]
    assert "signature" in json.loads(plan.read_text()) and "p" * 8 not in plan.read_text()
