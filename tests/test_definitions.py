"""Platform definitions: the catalog commands, parameter schemas, the template sandbox,
provider plugins, re-defined built-in types and module containment.

Outcomes are asserted: exit codes, whole documents, and diagnostics with file:line and
field path. The sandbox cases run real templates through the real CLI; none of them may
execute anything, hang, or end in a traceback.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from composer.catalog import Catalog
from composer.model.definitions import ComponentDefinition, Implementation, TraitDefinition
from composer.plugins import BaseProvider, ImplementationOffer, PluginRegistry, TerraformProviderBlocks
from composer.project import compile_project, open_project
from tests.helpers import ROOT, appc, write

EXAMPLE = ROOT / "examples" / "platform-catalog"
DEFS = EXAMPLE / "definitions"

ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  cloud: {provider: aws, region: us-east-1}
  kubernetes: {namespace: t}
"""


def app(components: str, name: str = "shop") -> str:
    return f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  components:\n{components}"


def diagnostics(result) -> list[dict]:
    return [e for e in result.events if e["type"] == "diagnostic"]


def where(d: dict) -> str:
    return f"{Path(d['file']).name}:{d['line']}"


def expect_invalid(result) -> list[dict]:
    """Exit 1, diagnostics that all carry file and line, a summary last, no traceback."""
    assert result.code == 1, (result.code, result.out, result.err)
    assert "Traceback" not in result.out + result.err
    assert result.events[-1]["type"] == "summary" and result.events[-1]["exit_code"] == 1
    diags = diagnostics(result)
    assert diags and all(d["file"] and d["line"] for d in diags), diags
    return diags


def one(diags: list[dict], summary: str) -> dict:
    match = [d for d in diags if re.search(summary, d["summary"])]
    assert len(match) == 1, f"{summary!r} in:\n" + "\n".join(f"{where(d)} {d['path']} {d['summary']}" for d in diags)
    return match[0]


# -- appc def list / show / validate --------------------------------------------------


def test_def_list_shows_builtins_provider_implementations_and_platform_definitions():
    r = appc("def", "list", "-f", EXAMPLE / "app.yaml", "--json")
    assert r.code == 0, r.err
    events = {e["name"]: e for e in r.events if e["type"] == "definition"}
    assert r.events[-1]["type"] == "summary" and r.events[-1]["definitions"] == len(events)

    postgres = events["postgres"]
    assert "aws-rds" in postgres["implementations"]  # offered by the aws provider plugin
    assert {k: v for k, v in postgres.items() if k != "implementations"} == {
        "type": "definition",
        "kind": "ComponentDefinition",
        "name": "postgres",
        "category": "resource",
        "origin": "builtin",
        "outputs": ["host", "port", "database", "username", "password", "url"],
    }
    assert events["webservice"]["origin"] == "builtin"
    assert events["scaler"]["origin"] == "builtin"

    assert events["object-store"] == {
        "type": "definition",
        "kind": "ComponentDefinition",
        "name": "object-store",
        "category": "resource",
        "implementations": ["aws-s3-user"],
        "origin": str(DEFS / "object-store.yaml"),
        "outputs": ["name", "region", "endpoint", "access_key_id", "secret_access_key"],
    }
    assert events["static-site"] == {
        "type": "definition",
        "kind": "ComponentDefinition",
        "name": "static-site",
        "category": "workload",
        "implementations": ["deployment"],
        "origin": str(DEFS / "static-site.yaml"),
        "outputs": [],
    }
    assert events["pdb"] == {
        "type": "definition",
        "kind": "TraitDefinition",
        "name": "pdb",
        "appliesTo": ["webservice", "worker", "static-site"],
        "origin": str(DEFS / "traits.yaml"),
    }
    assert events["team-owner"] == {
        "type": "definition",
        "kind": "TraitDefinition",
        "name": "team-owner",
        "appliesTo": [],
        "origin": str(DEFS / "traits.yaml"),
    }


def test_def_list_with_extra_catalog_dir(tmp_path):
    write(tmp_path, {"app.yaml": app("    - {name: db, type: postgres}\n")})
    r = appc("def", "list", "-f", tmp_path / "app.yaml", "--catalog", DEFS, "--json")
    assert r.code == 0, r.err
    origins = {e["name"]: e["origin"] for e in r.events if e["type"] == "definition"}
    assert origins["object-store"] == str(DEFS / "object-store.yaml")
    assert origins["pod-security"] == str(DEFS / "traits.yaml")


def test_def_show_postgres_shows_the_output_contract():
    r = appc("def", "show", "postgres", "--json")
    assert r.code == 0, r.err
    doc = r.events[0]
    assert doc["origin"] == "builtin" and doc["metadata"] == {"name": "postgres"}
    assert doc["spec"]["outputs"] == {
        "host": {},
        "port": {},
        "database": {},
        "username": {},
        "password": {"secret": True},
        "url": {"secret": True},
    }
    assert doc["spec"]["implementations"]["aws-rds"]["terraform"]["secrets"] == "store"
    text = appc("def", "show", "postgres")
    assert text.code == 0 and text.out.startswith("# origin: builtin\n")
    assert "    password:\n      secret: true\n" in text.out


def test_def_show_unknown_name_suggests():
    r = appc("def", "show", "postgress", "--json")
    diags = diagnostics(r)
    assert r.code == 1 and diags[0]["summary"] == "no definition named 'postgress'"
    assert diags[0]["detail"].startswith("did you mean 'postgres'?")


def test_def_validate_passes_on_the_example():
    r = appc("def", "validate", *sorted(DEFS.glob("*.yaml")), "--json")
    assert r.code == 0, r.out + r.err
    assert [e["type"] for e in r.events] == ["summary"] and r.events[0]["definitions"] == 5


BAD_DEFS = {
    # a template syntax error on line 3 of the template (file line 8)
    "syntax.yaml": """
        apiVersion: composer.dev/v1alpha1
        kind: TraitDefinition
        metadata: {name: broken}
        spec:
          patch: |
            metadata:
              labels: {team: x}
            {% if %}
        """,
    "schema.yaml": """
        apiVersion: composer.dev/v1alpha1
        kind: ComponentDefinition
        metadata: {name: bad-schema}
        spec:
          category: workload
          parameters:
            type: object
            properties:
              size: {type: sizes}
        """,
    "both.yaml": """
        apiVersion: composer.dev/v1alpha1
        kind: ComponentDefinition
        metadata: {name: both}
        spec:
          category: resource
          implementations:
            x:
              provider: aws
              terraform: {module: m}
              manifests: {template: "a: b"}
        """,
    "default.yaml": """
        apiVersion: composer.dev/v1alpha1
        kind: ComponentDefinition
        metadata: {name: bad-default}
        spec:
          category: workload
          parameters:
            type: object
            properties:
              size: {enum: [small, large], default: medium}
        """,
    "contract.yaml": """
        apiVersion: composer.dev/v1alpha1
        kind: ComponentDefinition
        metadata: {name: cache}
        spec:
          category: resource
          outputs:
            host: {}
            password: {secret: true}
          implementations:
            tf:
              provider: aws
              terraform:
                module: mod
                omits: [password]
                outputs: {hostname: endpoint}
                inputs:
                  name: "{{ name }}"
                  nested: {deep: ["{{ parameters.x "]}
        """,
    "outside.yaml": """
        apiVersion: composer.dev/v1alpha1
        kind: ComponentDefinition
        metadata: {name: outside}
        spec:
          category: resource
          implementations:
            up: {provider: aws, terraform: {module: ../elsewhere}}
            abs: {provider: aws, terraform: {module: /etc}}
            missing: {provider: aws, terraform: {module: nowhere}}
        """,
}


def test_def_validate_reports_each_problem_at_its_line(tmp_path):
    module = (
        'variable "name" {}\nvariable "nested" {}\noutput "endpoint" { value = "e" }\noutput "host" { value = "h" }\n'
    )
    write(tmp_path, {**{f"defs/{k}": v for k, v in BAD_DEFS.items()}, "defs/mod/main.tf": module})
    r = appc("def", "validate", *sorted((tmp_path / "defs").glob("*.yaml")), "--json")
    diags = expect_invalid(r)
    got = sorted((where(d), d["path"], d["summary"], d["detail"]) for d in diags)
    assert got == sorted(
        [
            (
                "syntax.yaml:5",
                "spec.patch",
                "template syntax error",
                "line 3 of the template: Expected an expression, got 'end of statement block'",
            ),
            (
                "schema.yaml:9",
                "spec.parameters.properties.size.type",
                "definition 'bad-schema' has an invalid parameter schema",
                "'sizes' is not valid under any of the given schemas",
            ),
            (
                "both.yaml:8",
                "spec.implementations.x",
                "an implementation has exactly one of terraform, manifests or builtin",
                "",
            ),
            (
                "default.yaml:9",
                "spec.parameters.properties.size.default",
                "definition 'bad-default' has an invalid parameter schema",
                "the default does not match its own schema: expected one of: 'small', 'large'",
            ),
            (
                "contract.yaml:18",
                "spec.implementations.tf.terraform.inputs.nested.deep[0]",
                "template syntax error",
                "line 1 of the template: unexpected end of template, expected 'end of print statement'.",
            ),
            (
                "contract.yaml:14",
                "spec.implementations.tf.terraform.omits[0]",
                "implementation 'tf' omits 'password', which the contract requires",
                "only keys marked optional: true may be omitted",
            ),
            (
                "contract.yaml:15",
                "spec.implementations.tf.terraform.outputs.hostname",
                "implementation 'tf' maps 'hostname', which is not in the output contract",
                "contract keys: host, password",
            ),
            (
                "outside.yaml:7",
                "spec.implementations.up.terraform.module",
                "the module must be a directory inside the definition's directory",
                f"'../elsewhere' leaves {tmp_path / 'defs'}; no absolute paths or '..' out of it",
            ),
            (
                "outside.yaml:8",
                "spec.implementations.abs.terraform.module",
                "the module must be a directory inside the definition's directory",
                f"'/etc' leaves {tmp_path / 'defs'}; no absolute paths or '..' out of it",
            ),
            (
                "outside.yaml:9",
                "spec.implementations.missing.terraform.module",
                f"module directory not found: {tmp_path / 'defs' / 'nowhere'}",
                "",
            ),
        ]
    )


REMOTE_REF_DEF = """
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: remote}
spec:
  category: workload
  parameters:
    type: object
    properties:
      size: {$ref: "http://127.0.0.1:9/size.json"}
"""


def test_schema_refs_never_leave_the_schema(tmp_path):
    """jsonschema would fetch an unknown $ref over HTTP while validating; the catalog refuses it."""
    write(
        tmp_path,
        {
            "app.yaml": app("    - {name: w, type: remote, properties: {size: 1}}\n"),
            "environments/test.yaml": ENV,
            "definitions/remote.yaml": REMOTE_REF_DEF,
        },
    )
    diags = expect_invalid(appc("def", "validate", tmp_path / "definitions" / "remote.yaml", "--json"))
    assert [(where(d), d["path"], d["summary"], d["detail"]) for d in diags] == [
        (
            "remote.yaml:9",
            "spec.parameters.properties.size.$ref",
            "definition 'remote' has an invalid parameter schema",
            "$ref 'http://127.0.0.1:9/size.json' does not resolve inside the schema (remote references are not fetched)",
        )
    ]
    diags = expect_invalid(appc("validate", "-f", tmp_path / "app.yaml", "--json"))
    assert [(where(d), d["path"], d["summary"]) for d in diags] == [
        ("remote.yaml:7", "spec.parameters", "definition 'remote' has an invalid parameter schema")
    ]


def test_catalog_refuses_an_invalid_definition_when_the_app_loads_it(tmp_path):
    write(
        tmp_path,
        {
            "app.yaml": app("    - {name: db, type: postgres}\n"),
            "environments/test.yaml": ENV,
            "definitions/contract.yaml": BAD_DEFS["contract.yaml"],
            "definitions/mod/main.tf": "",
        },
    )
    diags = expect_invalid(appc("validate", "-f", tmp_path / "app.yaml", "--json"))
    d = one(diags, "omits 'password'")
    assert (where(d), d["path"], d["summary"]) == (
        "contract.yaml:14",
        "spec.implementations.tf.terraform.omits[0]",
        "implementation 'tf' of 'cache' omits 'password', which the contract requires",
    )


# -- parameters: defaults and enums ---------------------------------------------------


def test_the_example_renders_the_module_inputs_from_parameters(tmp_path):
    r = appc("render", "-f", EXAMPLE / "app.yaml", "-o", tmp_path / "out", "--json")
    assert r.code == 0, r.err
    root = json.loads((tmp_path / "out" / "terraform" / "assets" / "main.tf.json").read_text())
    module = root["module"]["assets"]
    assert module.pop("source").startswith("../../modules/platform-object-store-")
    assert module == {
        "expiration_days": 3650,  # retention: long, through the mapping expression
        "name": "catalog-staging-assets",
        "read_only": False,  # access defaults to read-write
        "tags": {"app": "catalog", "env": "staging", "component": "assets", "managed-by": "appc", "retention": "long"},
        "versioning": True,  # default
    }
    assert root["output"] == {
        "name": {"value": "${module.assets.bucket_name}", "description": "Bucket name"},
        "region": {"value": "${module.assets.region}"},
        "endpoint": {"value": "${module.assets.endpoint}"},
        "access_key_id": {"value": "${module.assets.access_key_id}"},
        "secret_access_key": {"value": "${module.assets.secret_access_key}", "sensitive": True},
    }


def test_parameter_defaults_are_applied(tmp_path):
    write(tmp_path, {"app.yaml": app("    - {name: files, type: object-store}\n"), "environments/test.yaml": ENV})
    r = appc("render", "-f", tmp_path / "app.yaml", "--catalog", DEFS, "-o", tmp_path / "out")
    assert r.code == 0, r.err
    module = json.loads((tmp_path / "out" / "terraform" / "files" / "main.tf.json").read_text())["module"]["files"]
    del module["source"]
    assert module == {
        "expiration_days": 365,  # retention defaults to standard
        "name": "shop-test-files",
        "read_only": False,
        "tags": {"app": "shop", "env": "test", "component": "files", "managed-by": "appc", "retention": "standard"},
        "versioning": True,
    }


def test_enum_violation_is_rejected_at_validate(tmp_path):
    write(
        tmp_path,
        {
            "app.yaml": app("    - {name: files, type: object-store, properties: {retention: forever}}\n"),
            "environments/test.yaml": ENV,
        },
    )
    r = appc("validate", "-f", tmp_path / "app.yaml", "--catalog", DEFS, "--json")
    diags = expect_invalid(r)
    assert [(where(d), d["path"], d["summary"], d["address"]) for d in diags] == [
        (
            "app.yaml:6",
            "spec.components[0].properties.retention",
            "invalid property of object-store: expected one of: 'short', 'standard', 'long'",
            "files",
        )
    ]


def test_trait_parameters_are_checked_against_the_trait_schema(tmp_path):
    comps = "    - name: web\n      type: static-site\n      properties: {image: nginx}\n      traits: [{type: team-owner, properties: {team: Web Team}}]\n"
    write(tmp_path, {"app.yaml": app(comps), "environments/test.yaml": ENV})
    diags = expect_invalid(appc("validate", "-f", tmp_path / "app.yaml", "--catalog", DEFS, "--json"))
    assert [(where(d), d["path"], d["summary"]) for d in diags] == [
        (
            "app.yaml:9",
            "spec.components[0].traits[0].properties.team",
            "invalid property of trait team-owner: does not match the pattern '^[a-z][a-z0-9-]{0,30}$'",
        )
    ]


# -- the template sandbox -------------------------------------------------------------

WORKLOAD_DEF = """\
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: probe}
spec:
  category: workload
  parameters: {type: object, properties: {x: {type: string, default: hello}}}
  implementations:
    k8s:
      provider: kubernetes
      manifests:
        template: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: probe}
          data: {value: "TEMPLATE"}
"""

RESOURCE_DEF = """\
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: probe}
spec:
  category: resource
  parameters: {type: object, properties: {x: {type: string, default: hello}}}
  implementations:
    tf:
      provider: aws
      terraform:
        module: mod
        inputs: {value: "TEMPLATE"}
"""

TRAIT_DEF = """\
apiVersion: composer.dev/v1alpha1
kind: TraitDefinition
metadata: {name: probe}
spec:
  parameters: {type: object, properties: {x: {type: string, default: hello}}}
  patch: |
    metadata:
      annotations: {value: "TEMPLATE"}
"""

# (template, what the diagnostic's detail must say)
SANDBOX_CASES = [
    (
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        r"blocked by the template sandbox: access to attribute '__class__' of 'str' object is unsafe",
    ),
    (
        "{{ parameters.__class__ }}",
        r"blocked by the template sandbox: access to attribute '__class__' of 'dict' object is unsafe",
    ),
    ("{{ cycler.__init__.__globals__.os.system('touch MARKER') }}", r"'cycler' is undefined"),
    ("{{ joiner.__init__.__globals__.os.popen('touch MARKER') }}", r"'joiner' is undefined"),
    ("{{ lipsum.__globals__['os'].system('touch MARKER') }}", r"'lipsum' is undefined"),
    (
        "{{ self.__dict__ }}",
        r"blocked by the template sandbox: access to attribute '__dict__' of 'TemplateReference' object is unsafe",
    ),
    (
        "{{ self._TemplateReference__context }}",
        r"blocked by the template sandbox: access to attribute '_TemplateReference__context'",
    ),
    # workload templates have a `namespace` (a string); resource templates do not
    (
        "{{ namespace.__init__.__globals__ }}",
        r"'namespace' is undefined|access to attribute '__init__' of 'str' object is unsafe",
    ),
    (
        "{{ range.__globals__ }}",
        r"blocked by the template sandbox: access to attribute '__globals__' of 'function' object is unsafe",
    ),
    ("{{ parameters | attr('__class__') }}", r"blocked by the template sandbox: access to attribute '__class__'"),
    (
        "{{ parameters.update({'x': 'changed'}) }}",
        r"blocked by the template sandbox: access to attribute 'update' of 'dict' object is unsafe",
    ),
    ("{{ '{0.__class__}'.format(parameters) }}", r"blocked by the template sandbox: access to attribute '__class__'"),
    ("{{ context.parent }}", r"'context' is undefined"),
    ("{{ parameters.nope }}", r"'dict object' has no attribute 'nope'"),
    ("{{ config.items() }}", r"'config' is undefined"),
    (
        "{{ range(10**9) | list | length }}",
        r"Range too big. The sandbox blocks ranges larger than MAX_RANGE \(100000\)",
    ),
    ("{{ 'x' * 10**9 }}", r"blocked by the template sandbox: repetition would give more than 1,000,000 items"),
    ("{{ ['x'] * 10**8 }}", r"blocked by the template sandbox: repetition would give more than 1,000,000 items"),
    ("{{ 2 ** 1000000 }}", r"blocked by the template sandbox: the power is too large"),
    ("{{ 'x' | center(10**9) }}", r"blocked by the template sandbox: argument 1000000000 is larger than 1,000,000"),
    (
        "{{ parameters.x.ljust(10**9) }}",
        r"blocked by the template sandbox: argument 1000000000 is larger than 1,000,000",
    ),
    ("{{ '%999999999s' % parameters.x }}", r"blocked by the template sandbox: format width is too large"),
    ("{{ '{:>999999999}'.format(parameters.x) }}", r"blocked by the template sandbox: format width is too large"),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        r"blocked by the template sandbox: template loops ran more than 200,000 iterations",
    ),
    (
        "{% for i in range(1000) %}{% for j in range(100) %}{{ parameters.x * 200 }}{% endfor %}{% endfor %}",
        r"template output exceeds 1,000,000 characters",
    ),
    ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", r"macros call each other more than 50 levels deep"),
    ("{{ self | toyaml }}", r"toyaml cannot represent a TemplateReference"),
]

WHERE = {
    "workload": (
        "    - {name: c, type: probe}\n",
        "definitions/probe.yaml",
        WORKLOAD_DEF,
        "spec.components[0].type",
        r"the manifest template of 'probe' failed",
    ),
    "resource": (
        "    - {name: c, type: probe}\n",
        "definitions/probe.yaml",
        RESOURCE_DEF,
        "spec.components[0].type",
        r"implementation 'tf' of 'probe' failed to evaluate its module inputs",
    ),
    "trait": (
        "    - {name: c, type: worker, properties: {image: x}, traits: [{type: probe}]}\n",
        "definitions/probe.yaml",
        TRAIT_DEF,
        "spec.components[0].traits[0].type",
        r"trait 'probe' failed to render",
    ),
}


def _sandbox_project(tmp_path: Path, kind: str, template: str) -> tuple[Path, Path]:
    components, def_path, definition, _, _ = WHERE[kind]
    marker = tmp_path / "pwned"
    template = template.replace("MARKER", str(marker))
    # The template sits in a double-quoted YAML scalar: escape it as JSON does.
    body = definition.replace('"TEMPLATE"', json.dumps(template))
    write(
        tmp_path,
        {
            "app.yaml": app(components),
            "environments/test.yaml": ENV,
            "definitions/mod/main.tf": 'variable "value" {}\n',
        },
    )
    (tmp_path / def_path).write_text(body, encoding="utf-8")
    return tmp_path / "app.yaml", marker


@pytest.mark.parametrize("kind", sorted(WHERE))
@pytest.mark.parametrize("template,detail", SANDBOX_CASES, ids=[t[:48] for t, _ in SANDBOX_CASES])
def test_sandbox_refuses(tmp_path, kind, template, detail):
    app_file, marker = _sandbox_project(tmp_path, kind, template)
    started = time.monotonic()
    r = appc("validate", "-f", app_file, "--json")
    elapsed = time.monotonic() - started
    diags = expect_invalid(r)
    _, _, _, path, summary = WHERE[kind]
    assert len(diags) == 1, diags
    d = diags[0]
    assert (where(d), d["path"], d["address"]) == ("app.yaml:6", path, "c")
    assert re.fullmatch(summary, d["summary"]), d["summary"]
    assert re.search(detail, d["detail"]), d["detail"]
    assert not marker.exists(), "a template executed a command"
    assert elapsed < 20, f"the sandbox took {elapsed:.1f}s"


def test_sandbox_still_allows_ordinary_templates(tmp_path):
    template = (
        "{% for k, v in dict(b=2, a=1) | dictsort %}{{ loop.index }}:{{ k }}={{ v }};{% endfor %}"
        "{{ '%s-%03d' % (parameters.x, 7) }} {{ '{:>6}'.format(parameters.x) }} {{ parameters.x | center(9) }}|"
        "{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ range(3) | list }} {{ [parameters.x, 'b'] | join(',') }}"
    )
    app_file, _ = _sandbox_project(tmp_path, "workload", template)
    r = appc("render", "-f", app_file, "-o", tmp_path / "out")
    assert r.code == 0, r.err
    text = (tmp_path / "out" / "kubernetes" / "c.yaml").read_text()
    assert "  value: 1:a=1;2:b=2;hello-007  hello   hello  |1024 ababab [0, 1, 2] hello,b\n" in text


# -- Python provider plugins ----------------------------------------------------------

PLUGIN_MODULE = """\
resource "terraform_data" "this" {
  input = { name = var.name, tier = var.tier }
}

variable "name" {
  type = string
}

variable "tier" {
  type = string
}

output "host" {
  value = "${var.name}.acme.internal"
}

output "port" {
  value = 5432
}

output "database" {
  value = "app"
}

output "username" {
  value = "app"
}

output "password" {
  value     = "not-a-real-password"
  sensitive = true
}

output "url" {
  value     = "postgres://app@${var.name}.acme.internal/app"
  sensitive = true
}

output "topic" {
  value = var.name
}
"""


class AcmeCloud(BaseProvider):
    """A third-party provider as a plugin package would ship it: an implementation of the
    built-in postgres type, a type of its own, and its Terraform provider block."""

    name = "acme"

    def __init__(self, module_root: Path):
        self.module_root = module_root

    def offers(self):
        # Implementations carry the directory their module paths are relative to.
        db = Implementation.model_validate(
            {
                "provider": "acme",
                "default": True,
                "terraform": {
                    "module": "db",
                    "inputs": {
                        "name": "{{ name }}",
                        "tier": "{{ {'small': 'bronze', 'medium': 'silver', 'large': 'gold'}[parameters.size] }}",
                    },
                },
            }
        )
        bus = Implementation.model_validate(
            {
                "provider": "acme",
                "terraform": {"module": "db", "inputs": {"name": "{{ name }}", "tier": "{{ parameters.tier }}"}},
            }
        )
        return [
            ImplementationOffer("postgres", "acme-db", db, self.module_root),
            ImplementationOffer("acme-bus", "acme", bus, self.module_root),
        ]

    def definitions(self):
        bus = ComponentDefinition.model_validate(
            {
                "kind": "ComponentDefinition",
                "metadata": {"name": "acme-bus"},
                "spec": {
                    "category": "resource",
                    "parameters": {
                        "type": "object",
                        "properties": {"tier": {"enum": ["bronze", "gold"], "default": "bronze"}},
                    },
                    "outputs": {"topic": {}},
                },
            }
        )
        stamp = TraitDefinition.model_validate(
            {
                "kind": "TraitDefinition",
                "metadata": {"name": "acme-stamp"},
                "spec": {"patch": "metadata:\n  annotations: {acme.example/stamp: '{{ app }}-{{ env }}'}\n"},
            }
        )
        return [bus, stamp]

    def template_context(self, environment):
        return {"region": environment.spec.cloud.region}

    def terraform_provider(self, request):
        return TerraformProviderBlocks(required_providers={}, provider={})


def test_a_registered_plugin_provides_implementations_and_definitions(tmp_path):
    write(tmp_path, {"plugin/modules/db/main.tf": PLUGIN_MODULE})
    registry = PluginRegistry()
    registry.register(AcmeCloud(tmp_path / "plugin" / "modules"))
    assert registry.names() == ["acme"]

    catalog = Catalog.build(registry)
    assert sorted(catalog.component("postgres").implementations) == ["acme-db"]
    assert catalog.component("acme-bus").origin == "provider:acme"
    assert catalog.trait("acme-stamp").origin == "provider:acme"

    env = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: test}\nspec:\n  cloud: {provider: acme, region: north-1}\n  kubernetes: {namespace: t}\n"
    comps = (
        "    - {name: db, type: postgres, properties: {size: medium}}\n"
        "    - {name: bus, type: acme-bus}\n"
        "    - {name: api, type: worker, properties: {image: x}, connections: [db, bus], traits: [{type: acme-stamp}]}\n"
    )
    write(tmp_path, {"app/app.yaml": app(comps), "app/environments/test.yaml": env})
    compiled = compile_project(open_project(tmp_path / "app" / "app.yaml"), "test", registry, catalog=catalog)
    files = compiled.rendered.files
    db = json.loads(files["terraform/db/main.tf.json"])
    module_dir = db["module"]["db"]["source"].removeprefix("../../modules/")
    assert module_dir.startswith("acme-db-")
    assert db == {
        "//": "Rendered by appc from shop/test/db; do not edit.",
        "terraform": {"required_version": ">= 1.11", "backend": {"local": {"path": "shop/test/db.tfstate"}}},
        "module": {"db": {"source": f"../../modules/{module_dir}", "name": "shop-test-db", "tier": "silver"}},
        "output": {
            "host": {"value": "${module.db.host}"},
            "port": {"value": "${module.db.port}"},
            "database": {"value": "${module.db.database}"},
            "username": {"value": "${module.db.username}"},
            "password": {"value": "${module.db.password}", "sensitive": True},
            "url": {"value": "${module.db.url}", "sensitive": True},
        },
    }
    assert files[f"modules/{module_dir}/main.tf"] == PLUGIN_MODULE.encode()
    bus = json.loads(files["terraform/bus/main.tf.json"])
    assert bus["module"]["bus"]["tier"] == "bronze" and bus["output"] == {"topic": {"value": "${module.bus.topic}"}}
    worker = compiled.rendered.manifests["api"][0]
    assert worker["metadata"]["annotations"] == {"acme.example/stamp": "shop-test"}
    env_names = [e["name"] for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert env_names == ["DB_HOST", "DB_PORT", "DB_DATABASE", "DB_USERNAME", "DB_PASSWORD", "DB_URL", "BUS_TOPIC"]


def test_discover_finds_the_shipped_providers():
    registry = PluginRegistry.discover()
    assert {"aws", "gcp", "azure", "kubernetes"} <= set(registry.names())
    assert all(registry.get(n).name == n for n in registry.names())


ENTRY_POINT_PLUGIN = """\
from composer.plugins import BaseProvider


class Provider(BaseProvider):
    name = "acme"

    def definitions(self):
        from composer.model.definitions import TraitDefinition

        return [TraitDefinition.model_validate({"kind": "TraitDefinition", "metadata": {"name": "acme-stamp"}, "spec": {"patch": "metadata: {annotations: {stamped: 'yes'}}"}})]


plugin = Provider()
"""


def _fake_distribution(site: Path, module: str, body: str, target: str) -> None:
    """What `pip install` leaves on sys.path for a plugin package: its module and a
    dist-info whose entry_points.txt registers it in the composer.providers group."""
    write(
        site,
        {
            f"{module}.py": body,
            f"{module}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n",
            f"{module}-1.0.dist-info/entry_points.txt": f"[composer.providers]\nacme = {target}\n",
        },
    )


def test_an_installed_plugin_is_found_through_the_entry_point(tmp_path, monkeypatch):
    _fake_distribution(tmp_path / "site", "acme_composer_plugin", ENTRY_POINT_PLUGIN, "acme_composer_plugin:plugin")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    registry = PluginRegistry.discover()
    assert {"acme", "aws", "gcp", "azure", "kubernetes"} <= set(registry.names())
    write(
        tmp_path,
        {"app/app.yaml": app("    - {name: w, type: worker, properties: {image: x}, traits: [{type: acme-stamp}]}\n")},
    )
    r = appc("def", "list", "-f", tmp_path / "app" / "app.yaml", "--json")
    origins = {e["name"]: e["origin"] for e in r.events if e["type"] == "definition"}
    assert r.code == 0 and origins["acme-stamp"] == "provider:acme"


def test_a_broken_plugin_is_a_diagnostic_not_a_crash(tmp_path, monkeypatch):
    _fake_distribution(
        tmp_path / "site", "acme_broken_plugin", "raise ImportError('needs acme-sdk')\n", "acme_broken_plugin:plugin"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    r = appc("def", "list", "--json")
    assert r.code == 1 and "Traceback" not in r.out + r.err
    assert [(d["summary"], d["detail"]) for d in diagnostics(r)] == [
        ("provider plugin 'acme' failed to load", "acme_broken_plugin:plugin: ImportError: needs acme-sdk")
    ]


# -- re-defining a built-in type --------------------------------------------------------

OWN_POSTGRES = """
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: postgres}
spec:
  category: resource
  description: PostgreSQL the Acme way (backups are mandatory).
  parameters:
    type: object
    additionalProperties: false
    required: [backup_retention_days]
    properties:
      version: {enum: ["16", "17"], default: "17"}
      size: {enum: [small, medium, large], default: small}
      storage_gb: {type: integer, minimum: 10, default: 50}
      high_availability: {type: boolean, default: true}
      database: {type: string, default: app}
      username: {type: string, default: app}
      backup_retention_days: {type: integer, minimum: 7, maximum: 35}
  outputs:
    host: {}
    port: {}
    database: {}
    username: {}
    password: {secret: true}
    url: {secret: true}
"""


def test_a_platform_definition_of_a_builtin_type_keeps_the_provider_implementations(tmp_path):
    write(
        tmp_path,
        {
            "app.yaml": app("    - {name: db, type: postgres, properties: {backup_retention_days: 14}}\n"),
            "environments/test.yaml": ENV,
            "definitions/postgres.yaml": OWN_POSTGRES,
        },
    )
    r = appc("def", "list", "-f", tmp_path / "app.yaml", "--json")
    postgres = next(e for e in r.events if e.get("name") == "postgres")
    assert postgres["origin"] == str(tmp_path / "definitions" / "postgres.yaml")
    assert "aws-rds" in postgres["implementations"]

    out = tmp_path / "out"
    r = appc("render", "-f", tmp_path / "app.yaml", "-o", out)
    assert r.code == 0, r.err
    module = json.loads((out / "terraform" / "db" / "main.tf.json").read_text())["module"]["db"]
    assert module["source"].startswith("../../modules/aws-database-") and module["engine"] == "postgres"
    assert {k: module[k] for k in ("engine_version", "allocated_storage", "multi_az")} == {
        "engine_version": "17",
        "allocated_storage": 50,
        "multi_az": True,
    }

    # the platform's schema is the one applied: its required parameter, its enum
    write(tmp_path, {"app.yaml": app("    - {name: db, type: postgres, properties: {version: '15'}}\n")})
    diags = expect_invalid(appc("validate", "-f", tmp_path / "app.yaml", "--json"))
    assert sorted((where(d), d["path"], d["summary"]) for d in diags) == [
        (
            "app.yaml:6",
            "spec.components[0].properties",
            "invalid property of postgres: 'backup_retention_days' is required",
        ),
        (
            "app.yaml:6",
            "spec.components[0].properties.version",
            "invalid property of postgres: expected one of: '16', '17'",
        ),
    ]


# -- module sources stay inside their directory -------------------------------------------


def _resource_def(module: str) -> str:
    return RESOURCE_DEF.replace("module: mod", f"module: {json.dumps(module)}").replace(
        '"TEMPLATE"', '"{{ parameters.x }}"'
    )


@pytest.mark.parametrize("module", ["../outside", "mod/../../outside", "/etc", "link"])
def test_definition_module_outside_the_definition_directory_is_refused(tmp_path, module):
    write(
        tmp_path,
        {
            "app.yaml": app("    - {name: c, type: probe}\n"),
            "environments/test.yaml": ENV,
            "definitions/probe.yaml": _resource_def(module),
            "outside/main.tf": "",
        },
    )
    (tmp_path / "definitions" / "link").symlink_to(tmp_path / "outside")
    diags = expect_invalid(appc("validate", "-f", tmp_path / "app.yaml", "--json"))
    assert [(where(d), d["path"], d["summary"], d["detail"]) for d in diags] == [
        (
            "app.yaml:6",
            "spec.components[0].type",
            "implementation 'tf' names a module outside its definition directory",
            f"module {module!r} (from {tmp_path / 'definitions' / 'probe.yaml'})",
        )
    ]


@pytest.mark.parametrize("source", ["../outside", "./mods/../../outside", "/etc", "link"])
def test_terraform_module_source_outside_the_app_directory_is_refused(tmp_path, source):
    root = tmp_path / "app"
    comps = f"    - name: m\n      type: terraform-module\n      properties: {{source: {json.dumps(source)}, outputs: {{id: {{}}}}}}\n"
    write(tmp_path, {"app/app.yaml": app(comps), "app/environments/test.yaml": ENV, "outside/main.tf": ""})
    (root / "link").symlink_to(tmp_path / "outside")
    diags = expect_invalid(appc("validate", "-f", root / "app.yaml", "--json"))
    assert [(where(d), d["path"], d["summary"], d["detail"]) for d in diags] == [
        (
            "app.yaml:8",
            "spec.components[0].properties.source",
            "module source must be a directory inside the application directory",
            f"{source!r} leaves {root}; copy the module next to app.yaml",
        )
    ]


def test_module_inside_the_directory_is_accepted(tmp_path):
    write(
        tmp_path,
        {
            "app.yaml": app("    - {name: c, type: probe}\n"),
            "environments/test.yaml": ENV,
            "definitions/probe.yaml": _resource_def("./mod/../mod"),
            "definitions/mod/main.tf": 'variable "value" {}\n',
        },
    )
    r = appc("render", "-f", tmp_path / "app.yaml", "-o", tmp_path / "out")
    assert r.code == 0, r.err
    assert (
        json.loads((tmp_path / "out" / "terraform" / "c" / "main.tf.json").read_text())["module"]["c"]["value"]
        == "hello"
    )
