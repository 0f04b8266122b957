"""Bad input: exit 1, a diagnostic naming file:line and the field path, no traceback, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import appc, write

ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  cloud: {provider: aws, region: us-east-1}
  kubernetes: {namespace: t}
"""

GOOD_DB = "    - {name: db, type: postgres}\n"


def app(components: str, name: str = "shop") -> str:
    return f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  components:\n{components}"


def run_bad(tmp_path: Path, files: dict, expect: list[tuple[str, str | None, str | None]]):
    """Render; expect exit 1 and, for each (summary regex, 'file:line', field path), one matching diagnostic."""
    write(tmp_path, {"environments/test.yaml": ENV, **files})
    out = tmp_path / "out"
    r = appc("render", "-f", tmp_path / "app.yaml", "-e", "test", "-o", out)
    assert r.code == 1, (r.code, r.out, r.err)
    assert "Traceback" not in r.err + r.out
    assert not out.exists(), "nothing may be written on bad input"
    j = appc("validate", "-f", tmp_path / "app.yaml", "-e", "test", "--json")
    assert j.code == 1
    diags = [e for e in j.events if e["type"] == "diagnostic"]
    assert j.events[-1]["type"] == "summary" and j.events[-1]["exit_code"] == 1
    for summary, where, path in expect:
        match = [
            d
            for d in diags
            if re.search(summary, d["summary"])
            and (where is None or f"{Path(d['file']).name}:{d['line']}" == where)
            and (path is None or d["path"] == path)
        ]
        assert match, f"no diagnostic {summary!r} at {where} {path}; got:\n" + "\n".join(
            f"{d['file']}:{d['line']} {d['path']} {d['summary']}" for d in diags
        )
        assert all(d["file"] and d["line"] for d in match)
    return diags


def test_yaml_syntax_error(tmp_path):
    diags = run_bad(
        tmp_path, {"app.yaml": app("    - {name: db, type: postgres\n")}, [(r"invalid YAML", "app.yaml:7", None)]
    )
    assert "flow mapping (line 6)" in diags[0]["detail"]


def test_empty_file(tmp_path):
    run_bad(tmp_path, {"app.yaml": ""}, [(r"file is empty", "app.yaml:1", None)])


def test_binary_garbage(tmp_path):
    run_bad(tmp_path, {"app.yaml": bytes(range(256)) * 8}, [(r"binary", None, None)])


def test_invalid_utf8(tmp_path):
    run_bad(
        tmp_path,
        {"app.yaml": b"apiVersion: composer.dev/v1alpha1\nkind: \xff\xfe\n"},
        [(r"not valid UTF-8", "app.yaml:2", None)],
    )


def test_ten_megabyte_file(tmp_path):
    big = app(GOOD_DB) + "#" + "x" * (10 * 1024 * 1024) + "\n"
    diags = run_bad(tmp_path, {"app.yaml": big}, [(r"too large", None, None)])
    assert "MiB" in diags[0]["detail"]


def test_unknown_field_with_suggestion(tmp_path):
    diags = run_bad(
        tmp_path,
        {"app.yaml": app("    - {name: db, type: postgres, propertes: {}}\n")},
        [(r"unknown field 'propertes'", "app.yaml:6", "spec.components[0].propertes")],
    )
    assert "did you mean 'properties'" in diags[0]["detail"]


def test_wrong_types(tmp_path):
    run_bad(
        tmp_path,
        {
            "app.yaml": app(
                "    - {name: db, type: postgres, connections: db}\n    - {name: api, type: [webservice], properties: {image: x}}\n"
            )
        },
        [
            (r"valid tuple", "app.yaml:6", "spec.components[0].connections"),
            (r"valid string", "app.yaml:7", "spec.components[1].type"),
        ],
    )
    run_bad(
        tmp_path,
        {"app.yaml": app("    - {name: api, type: webservice, properties: {image: x, port: eighty, env: [1]}}\n")},
        [
            (r"expected integer, got string", "app.yaml:6", "spec.components[0].properties.port"),
            (r"expected object, got array", "app.yaml:6", "spec.components[0].properties.env"),
        ],
    )


def test_unknown_type_and_trait(tmp_path):
    diags = run_bad(
        tmp_path,
        {
            "app.yaml": app(
                "    - {name: db, type: postgress}\n    - name: api\n      type: webservice\n      properties: {image: x}\n      traits: [{type: scalar, properties: {replicas: 1}}]\n"
            )
        },
        [
            (r"unknown component type 'postgress'", "app.yaml:6", "spec.components[0].type"),
            (r"unknown trait 'scalar'", "app.yaml:10", "spec.components[1].traits[0].type"),
        ],
    )
    assert any("did you mean 'postgres'" in d["detail"] for d in diags)
    assert any("did you mean 'scaler'" in d["detail"] for d in diags)


def test_duplicate_component_names(tmp_path):
    run_bad(
        tmp_path,
        {"app.yaml": app(GOOD_DB + GOOD_DB)},
        [(r"duplicate component name 'db'", "app.yaml:7", "spec.components[1].name")],
    )


def test_duplicate_yaml_keys(tmp_path):
    run_bad(
        tmp_path,
        {"app.yaml": app("    - name: db\n      type: postgres\n      type: redis\n")},
        [(r"duplicate key 'type'", "app.yaml:8", "spec.components[0].type")],
    )


@pytest.mark.parametrize("name", ["Bad_Name", "9lives", "-db", "a" * 64, "db."])
def test_names_must_be_dns_labels(tmp_path, name):
    run_bad(
        tmp_path,
        {"app.yaml": app(f"    - {{name: '{name}', type: postgres}}\n")},
        [(r"not a valid name.*DNS-1123", "app.yaml:6", "spec.components[0].name")],
    )


def test_missing_component_and_undeclared_output(tmp_path):
    comps = (
        GOOD_DB
        + "    - name: api\n      type: webservice\n      properties: {image: x, env: {A: '${dbx.url}', B: '${db.passwrd}'}}\n      connections: [cache]\n"
    )
    diags = run_bad(
        tmp_path,
        {"app.yaml": app(comps)},
        [
            (
                r"reference \$\{dbx.url\} names unknown component 'dbx'",
                "app.yaml:9",
                "spec.components[1].properties.env.A",
            ),
            (r"has no output 'passwrd'", "app.yaml:9", "spec.components[1].properties.env.B"),
            (r"connection names unknown component 'cache'", "app.yaml:10", "spec.components[1].connections[0]"),
        ],
    )
    assert any("declared outputs: host, port, database, username, password, url" in d["detail"] for d in diags)


def test_cycle_is_named(tmp_path):
    comps = (
        "    - {name: a, type: worker, properties: {image: x}, dependsOn: [c]}\n"
        "    - {name: b, type: worker, properties: {image: x}, dependsOn: [a]}\n"
        "    - {name: c, type: worker, properties: {image: x}, dependsOn: [b]}\n"
    )
    diags = run_bad(tmp_path, {"app.yaml": app(comps)}, [(r"dependency cycle: a → b → c → a", "app.yaml:6", None)])
    assert len(diags) == 1


def test_parameters_violating_the_schema(tmp_path):
    run_bad(
        tmp_path,
        {"app.yaml": app("    - {name: db, type: postgres, properties: {size: huge, storage_gb: 1}}\n")},
        [
            (r"expected one of: 'small', 'medium', 'large'", "app.yaml:6", "spec.components[0].properties.size"),
            (r"minimum is 10", "app.yaml:6", "spec.components[0].properties.storage_gb"),
        ],
    )


BAD_SCHEMA_DEF = """
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: thing}
spec:
  category: workload
  parameters: {type: object, properties: {size: {type: enormous}}}
  implementations:
    k8s: {provider: kubernetes, manifests: {template: "apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: x}\\n"}}
"""


def test_definition_with_invalid_schema(tmp_path):
    run_bad(
        tmp_path,
        {"app.yaml": app(GOOD_DB), "definitions/thing.yaml": BAD_SCHEMA_DEF},
        [(r"invalid parameter schema", "thing.yaml:6", "spec.parameters")],
    )


ESCAPE_DEF = """
apiVersion: composer.dev/v1alpha1
kind: ComponentDefinition
metadata: {name: sneaky}
spec:
  category: workload
  parameters: {type: object, properties: {x: {type: string}}}
  implementations:
    k8s:
      provider: kubernetes
      default: true
      manifests:
        template: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: "{{ ''.__class__.__mro__[1].__subclasses__() }}"}
"""


def test_template_escaping_the_sandbox(tmp_path):
    diags = run_bad(
        tmp_path,
        {"app.yaml": app("    - {name: s, type: sneaky, properties: {x: y}}\n"), "definitions/sneaky.yaml": ESCAPE_DEF},
        [(r"manifest template of 'sneaky' failed", "app.yaml:6", "spec.components[0].type")],
    )
    assert "sandbox" in diags[0]["detail"] or "unsafe" in diags[0]["detail"]


def test_several_errors_in_one_file_are_all_reported(tmp_path):
    comps = (
        "    - {name: db, type: postgres, properties: {size: huge}}\n"
        "    - {name: cache, type: redi}\n"
        "    - {name: api, type: webservice, properties: {imag: x}}\n"
    )
    diags = run_bad(
        tmp_path,
        {"app.yaml": app(comps)},
        [
            (r"expected one of", "app.yaml:6", "spec.components[0].properties.size"),
            (r"unknown component type 'redi'.*", "app.yaml:7", "spec.components[1].type"),
            (
                r"unknown property 'imag'; did you mean 'image'",
                "app.yaml:8",
                "spec.components[2].properties.imag",
            ),  # at the key itself (issue 17)
        ],
    )
    assert len(diags) >= 3


def test_unknown_environment_lists_existing(tmp_path):
    write(
        tmp_path,
        {
            "environments/test.yaml": ENV,
            "environments/prod.yaml": ENV.replace("name: test", "name: prod"),
            "app.yaml": app(GOOD_DB),
        },
    )
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "tset")
    assert r.code == 1
    assert "unknown environment 'tset'" in r.err and "prod, test" in r.err and "did you mean 'test'" in r.err


def test_missing_env_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("APPC_TEST_ACCOUNT", raising=False)
    env = ENV.replace("region: us-east-1}", "region: us-east-1, account: '${env:APPC_TEST_ACCOUNT}'}")
    write(tmp_path, {"environments/test.yaml": env, "app.yaml": app(GOOD_DB)})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "test")
    assert r.code == 1 and "environment variable APPC_TEST_ACCOUNT is not set" in r.err and "test.yaml:5" in r.err
    monkeypatch.setenv("APPC_TEST_ACCOUNT", "123456789012")
    assert appc("validate", "-f", tmp_path / "app.yaml", "-e", "test").code == 0


def test_usage_error_is_exit_1(tmp_path):
    r = appc("render", "--no-such-flag")
    assert r.code == 1


def test_render_refuses_to_overwrite_a_foreign_directory(tmp_path):
    write(tmp_path, {"environments/test.yaml": ENV, "app.yaml": app(GOOD_DB), "out/precious.txt": "keep me"})
    r = appc("render", "-f", tmp_path / "app.yaml", "-o", tmp_path / "out")
    assert r.code == 1 and "holds no earlier render" in r.err
    assert (tmp_path / "out/precious.txt").read_text() == "keep me"
    # An earlier render is replaced whole, stale files removed.
    assert appc("render", "-f", tmp_path / "app.yaml", "-o", tmp_path / "r").code == 0
    (tmp_path / "r/kubernetes/stale.yaml").parent.mkdir(exist_ok=True)
    (tmp_path / "r/kubernetes/stale.yaml").write_text("x")
    assert appc("render", "-f", tmp_path / "app.yaml", "-o", tmp_path / "r").code == 0
    assert not (tmp_path / "r/kubernetes/stale.yaml").exists()
