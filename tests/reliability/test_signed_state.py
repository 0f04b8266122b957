"""Tampered state is never executed (issue 11, Medium 6, and the Low "secret digests").

Reproduced on the code before the fix:
- a unit added to `.composer/<env>.state.json` whose `skeleton` held a `terraform_data` with a
  `local-exec` provisioner ran that command during prune;
- a unit named `../../../../../escaped` made prune write files outside the project;
- a secret output's digest in state was a bare SHA-256 of the value: a short password is
  found from state by trying candidates.

Now: the state document is signed with the state's key (a foreign edit is exit 1 naming the
store); every name read from state follows the model's name rules; prune renders its own
root (backend + provider) and takes nothing executable from state; secret digests are HMACs
with the state's key.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

import pytest

from composer.state import keys
from tests.helpers import appc, write

SECRET = "hunter2"  # a short, guessable password: exactly what an unsalted digest gives away

DEFINITION = """
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: vault}
spec:
  category: resource
  outputs:
    name: {}
    password: {secret: true}
  implementations:
    aws-vault:
      provider: aws
      default: true
      terraform:
        module: modules/vault
        inputs: {}
"""
MODULE = f"""
resource "terraform_data" "v" {{
  input = "v"
}}
output "name" {{ value = "vault" }}
output "password" {{
  value     = "{SECRET}"
  sensitive = true
}}
"""


def applied_project(root: Path) -> Path:
    write(root, {
        "app.yaml": "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: st}\nspec:\n  components:\n    - {name: v, type: vault}\n",
        "environments/test.yaml": "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: test}\nspec:\n  cloud: {provider: aws, region: us-east-1}\n  kubernetes: {context: standin, namespace: st}\n",
        "definitions/vault.yaml": DEFINITION,
        "definitions/modules/vault/main.tf": MODULE,
    })  # fmt: skip
    r = appc("apply", "-f", root / "app.yaml", "-e", "test", "--auto-approve")
    assert r.code == 0, r.out[-2000:] + r.err[-2000:]
    return root / "app.yaml"


def state_path(root: Path) -> Path:
    return root / ".composer" / "test.state.json"


@pytest.fixture(scope="module")
def applied(moto_url, kube, tmp_path_factory):
    """One applied project for the module (an apply costs ~10 s); each test restores the
    state and key it tampers with (`restored`)."""
    from tests.support.moto_server import reset

    reset(moto_url)
    kube.reset()
    root = tmp_path_factory.mktemp("signed-state") / "a" / "b" / "c" / "p"
    return root, applied_project(root)


@contextmanager
def restored(root: Path):
    saved = {p: p.read_bytes() for p in (state_path(root), root / ".composer" / "test.key") if p.exists()}
    try:
        yield
    finally:
        for path, data in saved.items():
            path.write_bytes(data)


def edit_state(root: Path, change, resign: bool) -> None:
    """Change the stored document as an attacker would: with resign, one who can also read the key."""
    doc = json.loads(state_path(root).read_text())
    change(doc)
    key = root / ".composer" / "test.key"
    if resign and key.exists():  # (before signing there was no key: an edit was all it took)
        doc["signature"] = keys.sign(keys.decode_key(key.read_bytes()), "state", doc)
    state_path(root).write_text(json.dumps(doc, indent=2))


def plant_unit(name: str, marker: Path):
    """A unit the model does not have (so prune destroys it), with a hostile skeleton."""
    evil_root = {
        "terraform": {"backend": {"local": {"path": "evil.tfstate"}}},
        "resource": {"terraform_data": {"pwn": {"provisioner": [{"local-exec": {"command": f"touch {marker}"}}]}}},
    }

    def change(doc: dict) -> None:
        doc["units"][name] = {
            "kind": "terraform",
            "type": "vault",
            "hash": "x",
            "status": "applied",
            "skeleton": evil_root,
            "updated_at": "2026-01-01T00:00:00.000000Z",
        }

    return change


def empty_tfstate(root: Path, name: str) -> None:
    """What `terraform state list` needs to find for prune to go ahead."""
    path = root / ".composer" / "tfstate" / "st" / "test" / f"{name}.tfstate"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "version": 4,
                "terraform_version": "1.11.0",
                "serial": 1,
                "lineage": "planted",
                "outputs": {},
                "resources": [],
            }
        )
    )


def test_a_foreign_edit_of_state_is_refused_naming_the_store(applied, tmp_path):
    root, app = applied
    marker = tmp_path / "pwned"
    with restored(root):
        empty_tfstate(root, "evil")
        edit_state(root, plant_unit("evil", marker), resign=False)
        before = state_path(root).read_bytes()
        for command in (["plan"], ["apply", "--auto-approve"], ["status"]):
            r = appc(*command, "-f", app, "-e", "test", "--json")
            assert r.code == 1, (command, r.out[-1500:])
            diag = next(e for e in r.events if e.get("type") == "diagnostic")
            assert "modified outside appc" in diag["summary"] and diag["file"] == str(state_path(root)), diag
        assert not marker.exists()
        assert state_path(root).read_bytes() == before  # refused, never overwritten


def test_prune_runs_a_root_composer_renders_never_one_from_state(applied, tmp_path):
    root, app = applied
    marker = tmp_path / "pwned"
    with restored(root):
        empty_tfstate(root, "evil")
        edit_state(root, plant_unit("evil", marker), resign=True)  # the attacker holds the key
        r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
        assert not marker.exists(), "the provisioner from state ran"
        assert r.code == 0, r.out[-2000:]
        assert any(e.get("unit") == "evil" and e.get("status") == "pruned" for e in r.events)
        assert "evil" not in json.loads(state_path(root).read_text())["units"]


def test_a_unit_name_that_is_a_path_is_refused(applied):
    root, app = applied
    outside = root.parents[3]
    with restored(root):
        edit_state(root, plant_unit("../../../../../escaped", outside / "pwned"), resign=True)
        r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
        assert r.code == 1, r.out[-2000:]
        assert not list(outside.rglob("escaped")), "prune wrote outside the project"
        diag = next(e for e in r.events if e.get("type") == "diagnostic")
        assert diag["file"] == str(state_path(root)) and "units" in diag["detail"], diag


def test_secret_digests_are_keyed_with_the_state_key(applied):
    root, _ = applied
    digest = json.loads(state_path(root).read_text())["units"]["v"]["secret_digests"]["password"]
    assert digest != "sha256:" + hashlib.sha256(SECRET.encode()).hexdigest()  # what a dictionary attack needed
    key = keys.decode_key((root / ".composer" / "test.key").read_bytes())
    assert digest == keys.keyed_digest(key, SECRET)
    assert (root / ".composer" / "test.key").stat().st_mode & 0o777 == 0o600


def test_a_missing_key_or_a_stripped_signature_is_refused(applied):
    root, app = applied
    with restored(root):
        edit_state(root, lambda doc: doc.pop("signature"), resign=False)
        r = appc("plan", "-f", app, "-e", "test")
        assert r.code == 1 and "signature is missing" in r.err
    with restored(root):
        (root / ".composer" / "test.key").unlink()
        r = appc("plan", "-f", app, "-e", "test")
        assert r.code == 1 and "its key is missing" in r.err
    assert appc("plan", "-f", app, "-e", "test").code == 0  # restored: the state verifies again
