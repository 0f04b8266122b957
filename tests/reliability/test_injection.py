"""Injection: HCL, JSON, YAML, Jinja and shell syntax in names, property values and template
parameters renders as inert data or is rejected; it is never executed and never breaks out of
the generated file (docs/security.md).

- Values: rendered, then parsed back (json.loads of main.tf.json, yaml.safe_load_all of the
  manifests); every value comes back exactly as written, and no key, object or document
  appears that the model did not ask for.
- Terraform: `${`/`%{` in strings are escaped, checked by Terraform itself: the rendered root
  passes `terraform validate`, and applying it (a module with no resources that echoes its
  inputs) returns every string unchanged.
- Names, input and output keys, and references that could be syntax are rejected (exit 1,
  with file and line).
- A platform template that pastes a parameter unquoted cannot be made to emit other YAML.
- No shell: nothing in composer/ or providers/ calls a shell (AST scan).
- Module sources with `..` or absolute paths outside the allowed roots are refused: see
  tests/test_definitions.py (test_definition_module_outside_the_definition_directory_is_refused,
  test_terraform_module_source_outside_the_app_directory_is_refused).
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, appc, write
from tests.support.terraform_env import terraform_env

PAYLOADS = {
    "hcl_interpolation": '${file("/etc/passwd")}',
    "hcl_directive": '%{ for x in ["a"] }${x}%{ endfor }',
    "hcl_escaped": "$${db.url} is text, and so is ${HOME}",
    "json": '"}, "provisioner": {"local-exec": {"command": "touch /tmp/pwned"}}, "x": {"',
    "yaml_document": "x\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: evil}\n",
    "yaml_flow": "a: b, c: [d, {e: f}] # not a comment",
    "yaml_tag": "!!python/object/apply:os.system ['touch /tmp/pwned']",
    "shell": "$(touch /tmp/pwned); `touch /tmp/pwned` && rm -rf / | cat ; echo '\"\\ > /tmp/x",
    "jinja": "{{ 7*7 }} {% raw %} {# c #} {{ ''.__class__ }}",
    "control": "tab\there\r\nline\u2028sep\u202eeol\u0085",
    "unicode": "Ünïcode 😀 \U00010000",
}


def literal(text: str) -> str:
    """What a string means in the model: `$${` is Composer's escape for a literal `${`."""
    return text.replace("$${", "${")


EXPECTED = {k: literal(v) for k, v in PAYLOADS.items()}
KEYED = {v: k for k, v in PAYLOADS.items()}  # the payloads as map keys (Terraform evaluates keys too)
EXPECTED_KEYED = {literal(v): k for k, v in PAYLOADS.items()}

TEMPLATE_DEF = """
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: echo-config}
spec:
  category: workload
  parameters:
    type: object
    additionalProperties: {type: string}
  implementations:
    cm:
      provider: kubernetes
      default: true
      manifests:
        template: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: {{ component }}}
          data:
          {%- for k, v in parameters | dictsort %}
            {{ k | tojson }}: {{ v | tojson }}
          {%- endfor %}
"""
UNQUOTED_DEF = """
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: careless}
spec:
  category: workload
  parameters:
    type: object
    properties:
      note: {type: string}
  implementations:
    cm:
      provider: kubernetes
      default: true
      manifests:
        template: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: {{ component }}}
          data:
            note: {{ parameters.note }}
"""
UNQUOTED_TRAIT = """
apiVersion: composer.dev/v1alpha1
kind: TraitDefinition
metadata: {name: careless-note}
spec:
  parameters:
    type: object
    properties:
      note: {type: string}
  patch: |
    metadata:
      annotations:
        example.com/note: {{ parameters.note }}
"""
ECHO_MODULE = 'variable "v" {\n  type = any\n}\nvariable "l" {\n  type = any\n}\nvariable "k" {\n  type = any\n}\noutput "v" { value = var.v }\noutput "l" { value = var.l }\noutput "k" { value = var.k }\n'
ENV = {
    "apiVersion": "composer.dev/v1alpha1",
    "kind": "Environment",
    "metadata": {"name": "test"},
    "spec": {"cloud": {"provider": "aws", "region": "us-east-1"}, "kubernetes": {"namespace": "inj"}},
}


def _project(root: Path, components: list[dict]) -> Path:
    app = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "inj"},
        "spec": {"components": components},
    }
    write(root, {
        "app.yaml": yaml.safe_dump(app, sort_keys=False, allow_unicode=True),
        "environments/test.yaml": yaml.safe_dump(ENV, sort_keys=False),
        "definitions/echo-config.yaml": TEMPLATE_DEF, "definitions/careless.yaml": UNQUOTED_DEF, "definitions/careless-note.yaml": UNQUOTED_TRAIT,
        "modules/echo/main.tf": ECHO_MODULE,
    })  # fmt: skip
    return root / "app.yaml"


HOSTILE_APP = [
    {
        "name": "mod",
        "type": "terraform-module",
        "properties": {
            "source": "modules/echo",
            "inputs": {"v": PAYLOADS, "l": list(PAYLOADS.values()), "k": KEYED},
            "outputs": {"v": {}, "l": {}, "k": {}},
        },
    },
    {
        "name": "api",
        "type": "webservice",
        "properties": {
            "image": "ghcr.io/acme/api:1.0",
            "port": 8080,
            "env": {k.upper(): v for k, v in PAYLOADS.items()},
            "cmd": ["sh", "-c", PAYLOADS["shell"]],
            "args": list(PAYLOADS.values()),
        },
        "traits": [
            {
                "type": "annotations",
                "properties": {f"example.com/{k.replace('_', '-')}": v for k, v in PAYLOADS.items()},
            }
        ],
    },
    {
        "name": "cfg",
        "type": "k8s-objects",
        "properties": {
            "objects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": PAYLOADS}]
        },
    },
    {"name": "tpl", "type": "echo-config", "properties": {k.replace("_", "-"): v for k, v in PAYLOADS.items()}},
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inj")
    app = _project(root, HOSTILE_APP)
    r = appc("render", "-f", app, "-e", "test", "-o", root / "out", "--json")
    assert r.code == 0, r.out[-3000:] + r.err[-3000:]
    return root / "out"


def _terraform_literal(text):
    """What Terraform makes of a JSON-syntax string: `$${` and `%%{` are its escapes."""
    if isinstance(text, str):
        return text.replace("$${", "${").replace("%%{", "%{")
    if isinstance(text, dict):
        return {_terraform_literal(k): _terraform_literal(v) for k, v in text.items()}
    if isinstance(text, list):
        return [_terraform_literal(v) for v in text]
    return text


def _manifests(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def test_terraform_values_round_trip_and_add_nothing(rendered):
    root = json.loads((rendered / "terraform" / "mod" / "main.tf.json").read_text(encoding="utf-8"))
    assert set(root) <= {"//", "terraform", "provider", "variable", "module", "output"}  # no resource, no provisioner
    module = root["module"]["mod"]
    assert set(module) == {"source", "v", "l", "k"}
    assert _terraform_literal(module["v"]) == EXPECTED and _terraform_literal(module["l"]) == list(EXPECTED.values())
    assert _terraform_literal(module["k"]) == EXPECTED_KEYED
    for text in json.dumps(module).split('"'):  # every ${ / %{ Terraform would read is escaped
        assert "${" not in text.replace("$${", "") and "%{" not in text.replace("%%{", "")
    assert "variable" not in root  # no reference was read into the payloads


def test_manifest_values_round_trip_and_add_nothing(rendered):
    api = _manifests(rendered / "kubernetes" / "api.yaml")
    assert [(d["kind"], d["metadata"]["name"]) for d in api] == [("Deployment", "api"), ("Service", "api")]
    container = api[0]["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"]: e["value"] for e in container["env"]} == {k.upper(): v for k, v in EXPECTED.items()}
    assert container["command"] == ["sh", "-c", EXPECTED["shell"]] and container["args"] == list(EXPECTED.values())
    for obj in api:
        notes = {k: v for k, v in obj["metadata"]["annotations"].items() if k.startswith("example.com/")}
        assert notes == {f"example.com/{k.replace('_', '-')}": v for k, v in EXPECTED.items()}
    cfg = _manifests(rendered / "kubernetes" / "cfg.yaml")
    assert len(cfg) == 1 and cfg[0]["data"] == EXPECTED
    tpl = _manifests(rendered / "kubernetes" / "tpl.yaml")
    assert (
        len(tpl) == 1
        and tpl[0]["kind"] == "ConfigMap"
        and tpl[0]["data"] == {k.replace("_", "-"): v for k, v in EXPECTED.items()}
    )


def test_terraform_reads_the_escaped_strings_back_unchanged(rendered, tmp_path, moto):
    env = terraform_env(tmp_path)
    work = rendered / "terraform" / "mod"

    def tf(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["terraform", *args], cwd=work, env=env, capture_output=True, text=True, timeout=300)

    r = tf("init", "-input=false", "-no-color", f"-backend-config=path={tmp_path / 'mod.tfstate'}")
    assert r.returncode == 0, r.stdout + r.stderr
    r = tf("validate", "-json", "-no-color")
    assert json.loads(r.stdout)["valid"], r.stdout
    r = tf("apply", "-auto-approve", "-input=false", "-no-color")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(tf("output", "-json").stdout)
    assert out["v"]["value"] == EXPECTED and out["l"]["value"] == list(EXPECTED.values())
    assert out["k"]["value"] == EXPECTED_KEYED
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize(
    "component,summary",
    [
        ({"name": 'a"b', "type": "worker", "properties": {"image": "x"}}, "name"),
        ({"name": "a${x}", "type": "worker", "properties": {"image": "x"}}, "name"),
        ({"name": "a\nb: c", "type": "worker", "properties": {"image": "x"}}, "name"),
        ({"name": "../up", "type": "worker", "properties": {"image": "x"}}, "name"),
        ({"name": "a;rm -rf /", "type": "worker", "properties": {"image": "x"}}, "name"),
        (
            {"name": "m", "type": "terraform-module", "properties": {"source": "modules/echo", "inputs": {"count": 2}}},
            "count",
        ),
        (
            {
                "name": "m",
                "type": "terraform-module",
                "properties": {"source": "modules/echo", "inputs": {"depends_on": []}},
            },
            "depends_on",
        ),
        (
            {
                "name": "m",
                "type": "terraform-module",
                "properties": {"source": "modules/echo", "inputs": {"providers": {}}},
            },
            "providers",
        ),
        (
            {
                "name": "m",
                "type": "terraform-module",
                "properties": {"source": "modules/echo", "inputs": {'v" = 1 #': 1}},
            },
            "inputs",
        ),
        (
            {
                "name": "m",
                "type": "terraform-module",
                "properties": {"source": "modules/echo", "outputs": {'v} ${file("x")': {}}},
            },
            "outputs",
        ),
        ({"name": "w", "type": "worker", "properties": {"image": "x", "env": {"A": "${var.x}"}}}, "var"),
        (
            {"name": "w", "type": "worker", "properties": {"image": "x", "env": {"A": "${aws_instance.x.id}"}}},
            "aws_instance",
        ),
        (
            {
                "name": "w",
                "type": "careless",
                "properties": {"note": "x\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: evil}"},
            },
            "parameters.note",
        ),
        ({"name": "w", "type": "careless", "properties": {"note": "x\nextra: key"}}, "parameters.note"),
        (
            {
                "name": "w",
                "type": "worker",
                "properties": {"image": "x"},
                "traits": [{"type": "careless-note", "properties": {"note": "x\n  other.io/y: z"}}],
            },
            "parameters.note",
        ),
    ],
    ids=[
        "quote",
        "interpolation",
        "newline",
        "dotdot",
        "shell",
        "count",
        "depends_on",
        "providers",
        "input-key",
        "output-key",
        "ref-var",
        "ref-resource",
        "template-document",
        "template-key",
        "trait-key",
    ],
)
def test_hostile_names_keys_references_and_unquoted_parameters_are_rejected(tmp_path, component, summary):
    app = _project(tmp_path, [component])
    r = appc("validate", "-f", app, "-e", "test", "--json")
    assert r.code == 1, r.out[-2000:] + r.err[-2000:]
    diags = [e for e in r.events if e["type"] == "diagnostic"]
    assert diags and all(d["file"] and d["line"] for d in diags), diags
    assert any(summary in f"{d['summary']} {d.get('detail')} {d.get('path')}" for d in diags), diags
    assert "Traceback" not in r.err


def test_an_unquoted_parameter_without_yaml_syntax_still_renders(tmp_path):
    app = _project(tmp_path, [{"name": "w", "type": "careless", "properties": {"note": "plain words, and a:colon"}}])
    r = appc("render", "-f", app, "-e", "test", "-o", tmp_path / "out")
    assert r.code == 0, r.err
    assert _manifests(tmp_path / "out" / "kubernetes" / "w.yaml")[0]["data"] == {"note": "plain words, and a:colon"}


SHELL_CALLS = {("os", "system"), ("os", "popen"), ("subprocess", "getoutput"), ("subprocess", "getstatusoutput"), ("pty", "spawn")} | {("os", f) for f in ("execl", "execlp", "execle", "execv", "execvp", "execvpe", "spawnl", "spawnlp", "spawnv", "spawnvp")}  # fmt: skip


def test_nothing_calls_a_shell():
    """Values reach Terraform as TF_VAR_* environment variables and clusters over HTTP: no
    command line is ever built from text, and no process is started through a shell."""
    found = []
    files = sorted((ROOT / "composer").rglob("*.py")) + sorted((ROOT / "providers").rglob("*.py"))
    assert len(files) > 20
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            for kw in node.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"{where}: shell=...")
            f = node.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and (f.value.id, f.attr) in SHELL_CALLS:
                found.append(f"{where}: {f.value.id}.{f.attr}")
            if (
                isinstance(f, ast.Attribute)
                and f.attr in ("Popen", "run", "call", "check_call", "check_output")
                and node.args
                and isinstance(node.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp))
            ):
                found.append(f"{where}: a command given as one string")
    assert found == []
