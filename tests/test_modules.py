"""Platform teams' own modules: git and registry sources through `appc lock`, the module
cache, composer.lock digests, sibling submodules, and static checks against the module.

The module under test is tests/support/modules/s3-bucket, written for these tests in
the style of the popular registry modules (two dozen variables, optional outputs,
nested submodules, examples/ and a README). It is served from a local git repository
(`git::file://`) and from tests/support/module_registry.py, a registry stand-in that
Terraform reaches through a `host` block in its CLI config. Fetching is Terraform's own
installer (`terraform get`), as in production.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from composer.runners.terraform import cli_config_text, default_plugin_cache
from tests.helpers import ROOT, appc, write
from tests.support.module_registry import ModuleRegistry
from tests.support.terraform_env import require_terraform

MODULE = ROOT / "tests" / "support" / "modules" / "s3-bucket"

# The trimmed definition (scaffolded, then edited by hand): 22 lines.
DEFINITION = """\
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: s3v4}
spec:
  category: resource
  parameters:
    type: object
    additionalProperties: false
    properties:
      versioning: {type: boolean, default: true}
  outputs: {arn: {}, name: {}, region: {}}
  implementations:
    aws:
      provider: aws
      terraform:
        module: SOURCE
        inputs:
          bucket: "{{ name }}"
          force_destroy: true
          versioning: {enabled: "{{ parameters.versioning }}"}
          tags: "{{ tags }}"
        outputs: {arn: s3_bucket_arn, name: s3_bucket_id, region: s3_bucket_region}
"""

APP = """\
apiVersion: composer.dev/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  components:
    - {name: files, type: s3v4}
    - name: api
      type: worker
      properties: {image: acme/api:1, env: {BUCKET_ARN: "${files.arn}"}}
      connections: [files]
"""

ENV = """\
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  cloud: {provider: aws, region: us-east-1}
  kubernetes: {context: standin, namespace: shop}
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(autouse=True)
def module_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "module-cache"
    monkeypatch.setenv("COMPOSER_MODULE_CACHE", str(cache))
    monkeypatch.delenv("CI", raising=False)
    return cache


@pytest.fixture
def repo(tmp_path) -> Path:
    """The module in a git repository, tagged v1."""
    require_terraform()
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    path = tmp_path / "upstream"
    shutil.copytree(MODULE, path)
    git(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "v1")
    git(path, "tag", "v1")
    return path


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """The registry stand-in, answering for registry.terraform.io (so addresses are NS/NAME/PROVIDER)."""
    _, mirror = require_terraform()
    reg = ModuleRegistry()
    cfg = tmp_path / "terraform.rc"
    cfg.write_text(reg.cli_config("registry.terraform.io", cli_config_text(mirror, default_plugin_cache())))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cfg))
    try:
        yield reg
    finally:
        reg.close()


def project(root: Path, source: str, version: str | None = None) -> Path:
    definition = DEFINITION.replace("SOURCE", json.dumps(source))
    if version:
        definition = definition.replace(
            "        inputs:", f"        version: {json.dumps(version)}\n        inputs:", 1
        )
    write(root, {"app.yaml": APP, "environments/test.yaml": ENV, "definitions/s3v4.yaml": definition})
    return root / "app.yaml"


def lock_of(root: Path) -> dict:
    return json.loads((root / "composer.lock").read_text())


def rendered_module(out: Path) -> Path:
    (module,) = [p for p in (out / "modules").iterdir()]
    return module


def test_trimmed_definition_is_at_most_25_lines():
    assert len(DEFINITION.splitlines()) <= 25


def test_git_source_is_locked_rendered_from_the_cache_and_a_moved_tag_is_caught(tmp_path, repo, module_cache):
    app = project(tmp_path / "p", f"git::file://{repo}?ref=v1")
    r = appc("validate", "-f", app, "--json")
    assert r.code == 1 and "is not locked" in r.out and "appc lock" in r.out

    r = appc("lock", "-f", app, "--json")
    assert r.code == 0, r.out + r.err
    (entry,) = lock_of(app.parent)["modules"]
    assert entry["source"] == f"git::file://{repo}?ref=v1" and entry["version"] == "v1"
    assert entry["resolved"] == git(repo, "rev-parse", "v1")
    assert (module_cache / entry["digest"].removeprefix("sha256:") / "modules" / "controls" / "main.tf").is_file()
    assert "registry.terraform.io/hashicorp/aws" in lock_of(app.parent)["providers"]

    r = appc("render", "-f", app, "-o", tmp_path / "out")
    assert r.code == 0, r.err
    module = rendered_module(tmp_path / "out")
    assert module.name == f"platform-upstream-{entry['digest'][7:19]}"
    files = sorted(p.relative_to(module).as_posix() for p in module.rglob("*") if p.is_file())
    assert files == [
        "main.tf",
        "modules/controls/main.tf",
        "modules/naming/main.tf",
        "modules/versioning/main.tf",
        "outputs.tf",
        "variables.tf",
        "versions.tf",
    ]
    root = json.loads((tmp_path / "out" / "terraform" / "files" / "main.tf.json").read_text())
    assert root["module"]["files"]["source"] == f"../../modules/{module.name}"
    # the module's own constraint, not the provider plugin's default
    assert root["terraform"]["required_providers"]["aws"]["version"] == ">= 5.90"

    # upstream moves the tag: rendering still uses the locked copy; `appc lock` refuses
    (repo / "main.tf").write_text((repo / "main.tf").read_text() + "\n# moved\n")
    git(repo, "commit", "-qam", "v1 again")
    git(repo, "tag", "-f", "v1")
    before = (app.parent / "composer.lock").read_bytes()
    r = appc("lock", "-f", app)
    assert r.code == 1
    assert f"now resolves to {git(repo, 'rev-parse', 'v1')}, composer.lock has {entry['resolved']}" in r.err
    assert (app.parent / "composer.lock").read_bytes() == before
    assert appc("validate", "-f", app).code == 0

    r = appc("lock", "-f", app, "--upgrade")
    assert r.code == 0, r.err
    assert lock_of(app.parent)["modules"][0]["resolved"] == git(repo, "rev-parse", "v1")


def test_registry_source_with_a_version_constraint_and_a_subdir(tmp_path, registry, module_cache):
    registry.publish("acme/s3-bucket/aws", "4.10.0", MODULE)
    registry.publish("acme/s3-bucket/aws", "4.11.2", MODULE)
    registry.publish("acme/s3-bucket/aws", "5.0.0", MODULE)
    app = project(tmp_path / "p", "acme/s3-bucket/aws", "~> 4.11")
    r = appc("lock", "-f", app)
    assert r.code == 0, r.out + r.err
    (entry,) = lock_of(app.parent)["modules"]
    assert (entry["source"], entry["version"], entry["resolved"]) == ("acme/s3-bucket/aws", "~> 4.11", "4.11.2")
    assert "/v1/modules/acme/s3-bucket/aws/4.11.2/download" in registry.requests

    # offline afterwards: the registry is gone, rendering uses lock + cache
    registry.close()
    r = appc("render", "-f", app, "-o", tmp_path / "out")
    assert r.code == 0, r.err

    # a //subdir of a registry package
    write(tmp_path / "p", {"definitions/naming.yaml": NAMING_DEF})
    registry2 = ModuleRegistry()
    try:
        registry2.publish("acme/s3-bucket/aws", "4.11.2", MODULE)
        cfg = Path(__import__("os").environ["TF_CLI_CONFIG_FILE"])
        cfg.write_text(cfg.read_text().split('host "')[0] + registry2.cli_config("registry.terraform.io"))
        r = appc("lock", "-f", app)
        assert r.code == 0, r.out + r.err
    finally:
        registry2.close()
    naming = next(m for m in lock_of(app.parent)["modules"] if m["source"].endswith("//modules/naming"))
    assert naming["entry"] == "" and naming["resolved"] == "4.11.2"


NAMING_DEF = """\
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: tagset}
spec:
  category: resource
  outputs: {tags: {}}
  implementations:
    aws:
      provider: aws
      terraform:
        module: acme/s3-bucket/aws//modules/naming
        version: "4.11.2"
        inputs: {tags: "{{ tags }}"}
"""


def test_unreachable_sources_say_what_failed_and_the_offline_path(tmp_path, registry):
    app = project(tmp_path / "p", "acme/nothing/aws", "~> 1.0")
    r = appc("lock", "-f", app)
    assert r.code == 1
    assert "cannot fetch module acme/nothing/aws" in r.err and "appc lock" in r.err and "module cache" in r.err
    assert not (tmp_path / "p" / "composer.lock").exists()

    app = project(tmp_path / "q", f"git::file://{tmp_path}/no-such-repo?ref=v1")
    r = appc("lock", "-f", app)
    assert r.code == 1 and f"cannot fetch module git::file://{tmp_path}/no-such-repo?ref=v1" in r.err


def test_vendored_module_edit_is_refused_naming_both_digests_and_readme_edits_change_nothing(tmp_path):
    root = tmp_path / "p"
    app = project(root, "./modules/s3-bucket")
    shutil.copytree(MODULE, root / "definitions" / "modules" / "s3-bucket")
    assert appc("lock", "-f", app).code == 0
    (entry,) = lock_of(root)["modules"]
    assert entry["source"] == "definitions/modules/s3-bucket" and entry["resolved"] is None
    assert appc("render", "-f", app, "-o", tmp_path / "a").code == 0

    (root / "definitions" / "modules" / "s3-bucket" / "README.md").write_text("# edited\n")
    (root / "definitions" / "modules" / "s3-bucket" / "examples" / "complete" / "main.tf").write_text("# edited\n")
    assert appc("render", "-f", app, "-o", tmp_path / "b").code == 0
    assert sorted(p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()) == sorted(
        p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()
    )

    main = root / "definitions" / "modules" / "s3-bucket" / "main.tf"
    main.write_text(main.read_text() + '\nresource "aws_s3_bucket" "extra" {}\n')
    r = appc("validate", "-f", app, "--json")
    assert r.code == 1
    (d,) = [e for e in r.events if e["type"] == "diagnostic"]
    assert (
        f"locked {entry['digest']}, found sha256:" in d["summary"] and "definitions/modules/s3-bucket" in d["summary"]
    )
    assert appc("plan", "-f", app, "-e", "test").code == 1


def test_locked_requires_every_module_in_the_lock_and_never_changes_it(tmp_path):
    root = tmp_path / "p"
    app = project(root, "./modules/s3-bucket")
    shutil.copytree(MODULE, root / "definitions" / "modules" / "s3-bucket")
    assert appc("validate", "-f", app).code == 0  # local modules need no lock by default
    r = appc("validate", "-f", app, "--locked")
    assert r.code == 1 and "is not locked" in r.err and "--locked refuses" in r.err
    r = appc("lock", "-f", app, "--locked")
    assert r.code == 1 and "composer.lock is out of date" in r.err and not (root / "composer.lock").exists()
    assert appc("lock", "-f", app).code == 0
    assert appc("validate", "-f", app, "--locked").code == 0
    assert appc("lock", "-f", app, "--locked").code == 0


def test_a_lock_from_a_newer_format_is_refused(tmp_path):
    root = tmp_path / "p"
    app = project(root, "./modules/s3-bucket")
    shutil.copytree(MODULE, root / "definitions" / "modules" / "s3-bucket")
    (root / "composer.lock").write_text(json.dumps({"format": 99, "modules": []}))
    r = appc("validate", "-f", app)
    assert r.code == 1 and "written by a newer appc (lock format 99" in r.err


SIBLING_DEF = """\
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: tagged}
spec:
  category: resource
  outputs: {tags: {}}
  implementations:
    aws:
      provider: aws
      terraform:
        module: ./modules/tagged
        inputs: {tags: "{{ tags }}"}
"""


TAGGED_PROJECT = {
    "app.yaml": "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  components:\n    - {name: t, type: tagged}\n",
    "environments/test.yaml": ENV,
}


def test_a_module_calling_a_sibling_module_renders_its_package(tmp_path):
    root = tmp_path / "p"
    write(
        root,
        {
            **TAGGED_PROJECT,
            "definitions/tagged.yaml": SIBLING_DEF,
            "definitions/modules/tagged/main.tf": 'variable "tags" { type = map(string) }\nmodule "shared" {\n  source = "../shared"\n  tags   = var.tags\n}\noutput "tags" { value = module.shared.tags }\n',
            "definitions/modules/shared/main.tf": 'variable "tags" { type = map(string) }\noutput "tags" { value = merge(var.tags, { shared = "yes" }) }\n',
            "definitions/modules/unrelated/main.tf": "# not part of the call tree\n",
        },
    )
    r = appc("render", "-f", root / "app.yaml", "-o", tmp_path / "out")
    assert r.code == 0, r.err
    module = rendered_module(tmp_path / "out")
    assert sorted(p.relative_to(module).as_posix() for p in module.rglob("*.tf")) == [
        "shared/main.tf",
        "tagged/main.tf",
    ]
    root_tf = json.loads((tmp_path / "out" / "terraform" / "t" / "main.tf.json").read_text())
    assert root_tf["module"]["t"]["source"] == f"../../modules/{module.name}/tagged"
    exe, _ = require_terraform()
    r = subprocess.run(
        [exe, "init", "-backend=false", "-input=false", "-no-color"],
        cwd=tmp_path / "out" / "terraform" / "t",
        capture_output=True,
        text=True,
        env=_tf_env(tmp_path),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "- t.shared in ../../modules/" in r.stdout


def _tf_env(tmp_path: Path) -> dict:
    from tests.support.terraform_env import terraform_env

    return terraform_env(tmp_path)


def test_typos_in_an_input_and_an_output_mapping_are_reported_at_the_definition_line(tmp_path):
    root = tmp_path / "p"
    app = project(root, "./modules/s3-bucket")
    shutil.copytree(MODULE, root / "definitions" / "modules" / "s3-bucket")
    path = root / "definitions" / "s3v4.yaml"
    path.write_text(
        path.read_text()
        .replace("force_destroy: true", "force_destroy: true\n          versoning: {}")
        .replace("arn: s3_bucket_arn", "arn: s3_bucket_arnn")
    )
    for args in (("def", "validate", path), ("validate", "-f", app), ("plan", "-f", app, "-e", "test")):
        r = appc(*args, "--json")
        assert r.code == 1, args
        got = sorted(
            (d["file"].rsplit("/", 1)[-1], d["line"], d["path"], d["summary"], d["detail"].split("?")[0])
            for d in r.events
            if d["type"] == "diagnostic"
        )
        assert got == [
            (
                "s3v4.yaml",
                20,
                "spec.implementations.aws.terraform.inputs.versoning",
                "implementation 'aws' of 's3v4': input 'versoning' is not a variable of the module",
                "did you mean 'versioning'",
            ),
            (
                "s3v4.yaml",
                23,
                "spec.implementations.aws.terraform.outputs.arn",
                "implementation 'aws' of 's3v4': maps 'arn' to 's3_bucket_arnn', which is not an output of the module",
                "did you mean 's3_bucket_arn'",
            ),
        ], args


def test_required_variables_and_contract_keys_are_checked(tmp_path):
    root = tmp_path / "p"
    write(
        root,
        {
            **TAGGED_PROJECT,
            "definitions/tagged.yaml": SIBLING_DEF.replace(
                "outputs: {tags: {}}", "outputs: {tags: {}, id: {}, extra: {optional: true}}"
            ).replace('inputs: {tags: "{{ tags }}"}', "inputs: {}"),
            "definitions/modules/tagged/main.tf": 'variable "tags" { type = map(string) }\noutput "tags" { value = var.tags }\n',
        },
    )
    r = appc("def", "validate", root / "definitions" / "tagged.yaml", "--json")
    assert r.code == 1
    summaries = sorted(d["summary"] for d in r.events if d["type"] == "diagnostic")
    assert summaries == [
        "implementation 'aws' of 'tagged': contract key 'extra' is not an output of the module",
        "implementation 'aws' of 'tagged': contract key 'id' is not an output of the module",
        "implementation 'aws' of 'tagged': the module's required variable 'tags' is not supplied",
    ]


def test_a_module_that_does_not_parse_is_a_diagnostic(tmp_path):
    root = tmp_path / "p"
    write(
        root,
        {
            **TAGGED_PROJECT,
            "definitions/tagged.yaml": SIBLING_DEF,
            "definitions/modules/tagged/main.tf": 'variable "tags" {\n',
        },
    )
    r = appc("validate", "-f", root / "app.yaml")
    assert r.code == 1 and "main.tf is not valid Terraform" in r.err and "Traceback" not in r.err


@pytest.mark.slow
def test_scaffold_validate_lock_apply_and_destroy_on_moto(tmp_path, repo, moto, kube_clean):
    """The Done-when path: scaffold from the module, trim by hand (DEFINITION), lock from git,
    apply with the bucket's outputs in a workload's env, destroy, nothing left."""
    import base64

    import boto3

    kube_clean.set_auto_ready(True)
    source = f"git::file://{repo}?ref=v1"
    r = appc("def", "scaffold", source, "--name", "s3v4", "-o", tmp_path / "scaffold" / "s3v4.yaml")
    assert r.code == 0, r.err
    scaffolded = yaml.safe_load((tmp_path / "scaffold" / "s3v4.yaml").read_text())["spec"]
    assert len(scaffolded["parameters"]["properties"]) == 26 and "required" not in scaffolded["parameters"]
    assert scaffolded["outputs"]["s3_bucket_arn"] == {
        "description": "The ARN of the bucket. Will be of format arn:aws:s3:::bucketname."
    }
    assert scaffolded["implementations"]["aws"]["terraform"]["module"] == source
    assert appc("def", "validate", tmp_path / "scaffold" / "s3v4.yaml").code == 0

    app = project(tmp_path / "p", source)
    assert appc("def", "validate", tmp_path / "p" / "definitions" / "s3v4.yaml").code == 0
    assert appc("lock", "-f", app).code == 0
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.out[-3000:] + r.err
    (bucket,) = boto3.client("s3").list_buckets()["Buckets"]
    assert bucket["Name"] == "shop-test-files"
    assert boto3.client("s3").get_bucket_versioning(Bucket="shop-test-files")["Status"] == "Enabled"
    conn = kube_clean.get("/api/v1/namespaces/shop/secrets/shop-files-conn")
    assert base64.b64decode(conn["data"]["arn"]).decode() == "arn:aws:s3:::shop-test-files"
    env = {
        e["name"]: e
        for e in kube_clean.get("/apis/apps/v1/namespaces/shop/deployments/api")["spec"]["template"]["spec"][
            "containers"
        ][0]["env"]
    }
    assert env["FILES_ARN"]["valueFrom"]["secretKeyRef"] == {"name": "shop-files-conn", "key": "arn"}
    assert env["BUCKET_ARN"]["valueFrom"]["secretKeyRef"] == {"name": "shop-files-conn", "key": "arn"}

    r = appc("destroy", "-f", app, "-e", "test", "--auto-approve")
    assert r.code == 0, r.out[-2000:] + r.err
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    assert kube_clean.get("/api/v1/namespaces/shop/secrets/shop-files-conn") is None


@pytest.mark.parametrize(
    "source,version,expected",
    [
        ("./modules/s3", None, ("local", "./modules/s3", "")),
        ("modules/s3", None, ("local", "modules/s3", "")),
        (
            "git::https://example.com/acme/s3.git?ref=v4.11.0",
            None,
            ("git", "git::https://example.com/acme/s3.git?ref=v4.11.0", ""),
        ),
        (
            "git::https://example.com/acme/mono.git//modules/s3?ref=v1",
            None,
            ("git", "git::https://example.com/acme/mono.git?ref=v1", "modules/s3"),
        ),
        ("git::file:///srv/repo//sub/dir?ref=abc123", None, ("git", "git::file:///srv/repo?ref=abc123", "sub/dir")),
        ("terraform-aws-modules/s3-bucket/aws", "~> 4.11", ("registry", "terraform-aws-modules/s3-bucket/aws", "")),
        (
            "terraform-aws-modules/s3-bucket/aws//modules/notification",
            "4.11.0",
            ("registry", "terraform-aws-modules/s3-bucket/aws", "modules/notification"),
        ),
        ("registry.example.com:8443/acme/s3/aws", ">= 1.0", ("registry", "registry.example.com:8443/acme/s3/aws", "")),
    ],
)
def test_module_addresses_as_terraform_writes_them(source, version, expected):
    from composer.catalog.sources import parse_address

    a = parse_address(source, version)
    assert (a.kind, a.package, a.subdir) == expected


@pytest.mark.parametrize(
    "source,version,words",
    [
        ("git::https://example.com/acme/s3.git", None, "names no ref; pin a tag or commit with ?ref=TAG"),
        ("git::https://example.com/acme/s3.git?ref=v1", "1.0", "version applies to registry sources only"),
        ("./modules/s3", "1.0", "is not a registry address (NS/NAME/PROVIDER)"),
        ("https://example.com/s3.zip", None, "this kind of source is not supported"),
        ("git::https://example.com/r.git//../../etc?ref=v1", None, "cannot leave it"),
    ],
)
def test_unusable_module_addresses_say_what_would_work(source, version, words):
    from composer.catalog.sources import AddressError, parse_address

    with pytest.raises(AddressError, match=re.escape(words)):
        parse_address(source, version)


def test_an_unusable_source_in_a_definition_is_reported_at_its_line(tmp_path):
    app = project(tmp_path / "p", "git::https://example.com/acme/s3.git")
    r = appc("def", "validate", tmp_path / "p" / "definitions" / "s3v4.yaml", "--json")
    (d,) = [e for e in r.events if e["type"] == "diagnostic"]
    assert (d["line"], d["path"], d["summary"]) == (
        16,
        "spec.implementations.aws.terraform.module",
        "unusable module source",
    )
    r = appc("validate", "-f", app, "--json")
    assert r.code == 1 and "names no ref" in r.out


def test_a_tampered_lock_is_refused(tmp_path):
    root = tmp_path / "p"
    app = project(root, "./modules/s3-bucket")
    shutil.copytree(MODULE, root / "definitions" / "modules" / "s3-bucket")
    (root / "composer.lock").write_text(
        json.dumps({"format": 1, "modules": [{"source": "definitions/modules/s3-bucket", "digest": "sha256:nothex"}]})
    )
    r = appc("validate", "-f", app)
    assert (
        r.code == 1
        and "composer.lock is not a valid lock file" in r.err
        and "digest must be sha256:<64 hex digits>" in r.err
    )


def test_a_republished_registry_version_is_caught(tmp_path, registry):
    first = tmp_path / "v1"
    shutil.copytree(MODULE, first)
    registry.publish("acme/s3-bucket/aws", "4.11.2", first)
    app = project(tmp_path / "p", "acme/s3-bucket/aws", "~> 4.11")
    assert appc("lock", "-f", app).code == 0
    locked = lock_of(app.parent)["modules"][0]["digest"]
    (first / "main.tf").write_text((first / "main.tf").read_text() + "\n# changed under the same version\n")
    r = appc("lock", "-f", app)
    assert (
        r.code == 1 and f"module acme/s3-bucket/aws 4.11.2 changed upstream: locked {locked}, fetched sha256:" in r.err
    )
    assert lock_of(app.parent)["modules"][0]["digest"] == locked
