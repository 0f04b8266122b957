"""The pure core, called directly: load an app and an environment written as text, resolve them with
the built-in catalog and build the graph. No CLI, no Terraform, no servers: the unit-test layer."""

from __future__ import annotations

from pathlib import Path

from composer.catalog import Catalog
from composer.graph import Graph, build_graph
from composer.model.loader import load_application, load_environment
from composer.plugins import PluginRegistry
from composer.resolve import Resolved, resolve

ENV = """\
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  cloud: {provider: aws, region: us-east-1}
  kubernetes: {namespace: units}
"""

_CATALOG: Catalog | None = None


def builtin_catalog() -> Catalog:
    """The built-in catalog with the installed provider plugins; built once, it is immutable."""
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = Catalog.build(PluginRegistry.discover(), [])
    return _CATALOG


def app_yaml(components: str, name: str = "shop") -> str:
    body = "".join(f"    {line}\n" for line in components.strip("\n").splitlines())
    return (
        f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\n"
        f"spec:\n  components:\n{body}"
    )


def resolve_text(tmp_path: Path, components: str, env: str = ENV) -> Resolved:
    """resolve() on an app whose `spec.components` list is `components` (YAML, one item a line)."""
    (tmp_path / "app.yaml").write_text(app_yaml(components))
    (tmp_path / "test.yaml").write_text(env)
    app = load_application(tmp_path / "app.yaml", "app.yaml")
    environment = load_environment(tmp_path / "test.yaml", "environments/test.yaml")
    return resolve(app.model, app.source, environment.model, environment.source, builtin_catalog(), tmp_path)


def graph_of(tmp_path: Path, components: str) -> Graph:
    return build_graph(resolve_text(tmp_path, components))
