"""Render a resource component into a self-contained Terraform root (main.tf.json).

The root calls the component's module (copied into the render tree under a content
hash), configures the backend with the per-unit key and the provider block, and
declares one output per contract key; secret ones are `sensitive`. With
`secrets: store` the secret keys are not outputs at all: the module writes them to
the cloud secret store and outputs `connection_secret_id`.

User text is data, never Terraform syntax: every literal `${` and `%{` is escaped, in
values and in map keys alike (Terraform evaluates both), and in the provider and backend
blocks, whose values come from the environment file.
A reference to another unit's output becomes a variable (`ref_<component>_<key>`),
which the engine supplies at apply time, so rendering needs no output values. The
references come typed from the graph (composer/render/bindings.py): a reference to a
secret output makes a `sensitive` variable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from composer.catalog import ModuleSource
from composer.catalog.modules import provider_constraints
from composer.model.refs import OutputRef, Part
from composer.plugins import BackendRequest, PluginRegistry, TerraformRequest
from composer.render.bindings import Bindings, ref_variable
from composer.resolve import Resolved, ResolvedComponent

REQUIRED_VERSION = ">= 1.11"
SECRET_ID_OUTPUT = "connection_secret_id"


def state_key(app: str, env: str, component: str) -> str:
    return f"{app}/{env}/{component}.tfstate"


def _escape(text: str) -> str:
    return text.replace("${", "$${").replace("%{", "%%{")


def encode_key(key: str) -> str:
    """A map key is literal text: `$${` means `${` as in values, and a reference is not
    resolved in a key (it stays the text it is). Escaped, so Terraform never evaluates it.
    (A `$${` never overlaps a reference, so unescaping the whole key is unescaping its text.)"""
    if "${" not in key and "%{" not in key:
        return key
    return _escape(key.replace("$${", "${"))


def literal_tree(value: Any) -> Any:
    """Plain data (a plugin's provider or backend block) as Terraform JSON: every string,
    key or value, is literal text."""
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, dict):
        return {_escape(str(k)): literal_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [literal_tree(v) for v in value]
    return value


def encode_value(value: Any, variables: dict[str, OutputRef], parts: Callable[[str], tuple[Part, ...]]) -> Any:
    """A JSON value for a module argument: literal text escaped (keys too), references made
    variables. `parts` gives a text's literal parts and typed references, as the graph parsed it."""
    if isinstance(value, str):
        if "${" not in value and "%{" not in value:
            return value
        out = []
        for part in parts(value):
            if isinstance(part, OutputRef):
                name = ref_variable(part)
                variables[name] = part
                out.append(f"${{var.{name}}}")
            else:
                out.append(_escape(part.replace("$${", "${")))
        return "".join(out)
    if isinstance(value, dict):
        return {encode_key(str(k)): encode_value(v, variables, parts) for k, v in value.items()}
    if isinstance(value, list):
        return [encode_value(v, variables, parts) for v in value]
    return value


def required_providers(
    plugin: Mapping[str, Mapping[str, Any]], module: Mapping[str, tuple[str, ...]]
) -> dict[str, dict]:
    """The provider plugin's requirements, with the module's own version constraints in place
    of the plugin's default where the module states any (a module needing aws >= 6 gets it)."""
    out = {}
    for name, spec in plugin.items():
        spec = dict(spec)
        if module.get(name):
            spec["version"] = ", ".join(module[name])
        out[name] = spec
    return out


def backend_block(resolved: Resolved, component: str, registry: PluginRegistry) -> dict:
    env = resolved.environment
    key = state_key(resolved.name, env.name, component)
    if env.spec.state.backend == "local":
        # The engine points this at .composer/tfstate/<key> with -backend-config=path=...
        return {"local": {"path": literal_tree(key)}}
    request = BackendRequest(resolved.name, env, key)
    for provider in registry.providers.values():
        block = provider.backend(request)
        if block:
            return literal_tree(dict(block))
    raise ValueError(f"no provider plugin renders the {env.spec.state.backend!r} backend")


def _skeleton(
    resolved: Resolved,
    component: str,
    provider_name: str | None,
    registry: PluginRegistry,
    module: ModuleSource | None = None,
) -> dict[str, Any]:
    """The `//`, terraform (version, providers, backend) and provider blocks of a unit's root."""
    env = resolved.environment
    provider = registry.get(provider_name) if provider_name else None
    blocks = provider.terraform_provider(TerraformRequest(resolved.name, env, component)) if provider else None
    terraform: dict[str, Any] = {"required_version": REQUIRED_VERSION}
    if blocks and blocks.required_providers:
        constraints = provider_constraints(module) if module is not None else {}
        terraform["required_providers"] = literal_tree(required_providers(blocks.required_providers, constraints))
    terraform["backend"] = backend_block(resolved, component, registry)
    root: dict[str, Any] = {
        "//": f"Rendered by appc from {resolved.name}/{env.name}/{component}; do not edit.",
        "terraform": terraform,
    }
    if blocks and blocks.provider:
        root["provider"] = literal_tree({k: dict(v) for k, v in blocks.provider.items()})
    return root


def render_prune_root(resolved: Resolved, component: str, provider_name: str | None, registry: PluginRegistry) -> bytes:
    """The root that destroys a unit the model no longer has: backend and provider only, no
    module call, so Terraform destroys everything the unit's state holds. Rendered here from
    the environment, never taken from state (state may be hostile)."""
    return (
        json.dumps(_skeleton(resolved, component, provider_name, registry), indent=2, ensure_ascii=False) + "\n"
    ).encode()


def _variables(c: ResolvedComponent, bindings: Bindings, used: Mapping[str, OutputRef]) -> dict[str, Any]:
    """The root's variables: one per bound output its module inputs use (`sensitive` when the
    output is secret), and the implementation's generated inputs."""
    declared: dict[str, Any] = {
        b.name: {
            "type": "string",
            **({"sensitive": True} if b.secret else {}),
            "description": f"output {b.key} of unit {b.source}, supplied by appc at apply",
        }
        for b in bindings.of(c.name, "variable")
        if b.name in used
    }
    tf_impl = c.implementation.implementation.terraform
    for name in tf_impl.generated_inputs if tf_impl else ():
        # Ephemeral: the value never enters plan or state; appc supplies it as TF_VAR_<name>.
        declared[name] = {
            "type": "string",
            "sensitive": True,
            "ephemeral": True,
            "description": "generated by appc, kept only in the secret store; supplied at plan and apply",
        }
    return dict(sorted(declared.items()))


def _outputs(c: ResolvedComponent) -> dict[str, Any]:
    """One output per contract key (secret ones `sensitive`); with `secrets: store`, the store
    entry's id instead of the secret keys."""
    tf_impl = c.implementation.implementation.terraform
    mapping = tf_impl.outputs if tf_impl else {}
    store = bool(tf_impl and tf_impl.secrets == "store")
    outputs: dict[str, Any] = {}
    for key, spec in c.outputs.items():
        if spec.secret and store:
            continue
        out: dict[str, Any] = {"value": f"${{module.{c.name}.{mapping.get(key, key)}}}"}
        if spec.description:
            out["description"] = spec.description
        if spec.secret:
            out["sensitive"] = True
        outputs[key] = out
    if store:
        outputs[SECRET_ID_OUTPUT] = {
            "value": f"${{module.{c.name}.{SECRET_ID_OUTPUT}}}",
            "description": "secret store entry holding the connection details",
        }
    return outputs


def render_root(
    resolved: Resolved, c: ResolvedComponent, module: ModuleSource, registry: PluginRegistry, bindings: Bindings
) -> bytes:
    tf_impl = c.implementation.implementation.terraform
    root = _skeleton(resolved, c.name, c.provider, registry, module)
    used: dict[str, OutputRef] = {}
    parts = partial(bindings.parts, c.name)
    args = {k: encode_value(v, used, parts) for k, v in sorted(c.module_inputs.items())}
    for name in tf_impl.generated_inputs if tf_impl else ():
        args[name] = f"${{var.{name}}}"
    declared = _variables(c, bindings, used)
    if declared:
        root["variable"] = declared
    root["module"] = {c.name: {"source": f"../../modules/{module.call_path}", **dict(sorted(args.items()))}}
    root["output"] = _outputs(c)
    return (json.dumps(root, indent=2, ensure_ascii=False) + "\n").encode()
