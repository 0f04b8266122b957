"""Definitions: the types and traits a platform team publishes.

A `ComponentDefinition` gives a type its JSON-Schema parameters, its output contract
and one or more implementations (a Terraform module, a manifest template, or a
renderer built into Composer). A `TraitDefinition` patches a workload or adds objects.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from composer.model.base import Document, Strict
from composer.model.environment import PolicyRule


class OutputSpec(Strict):
    secret: bool = False
    optional: bool = False  # an implementation may omit it (listed in its `omits`)
    description: str = ""


class TerraformImplementation(Strict):
    # A directory relative to the definition file (or the provider's module root), `git::URL?ref=TAG`,
    # or a registry address NS/NAME/PROVIDER (with `version`); `//SUBDIR` on any (composer/catalog/sources.py).
    module: str
    version: str | None = None  # registry sources: a version constraint, e.g. "~> 4.11"
    inputs: dict[str, Any] = {}  # module variable -> template (sandboxed Jinja)
    outputs: dict[str, str] = {}  # contract key -> module output name, where they differ
    # How secret contract keys reach bind: "outputs" = sensitive Terraform outputs;
    # "store" = the module writes them to the cloud secret store and outputs connection_secret_id.
    secrets: Literal["outputs", "store"] = "outputs"
    omits: tuple[str, ...] = ()  # optional contract keys this implementation does not provide
    # Secret module inputs Composer supplies itself (e.g. a database password): the root declares
    # them as ephemeral sensitive variables; the engine generates them on the first apply and reads
    # them back from the secret store afterwards (needs secrets: store). Never templates.
    generated_inputs: tuple[str, ...] = ()
    # Parameters whose change replaces a stateful resource of the module (a ForceNew argument
    # follows them), e.g. [database, username] for RDS: said here so the catalog is honest about it,
    # and checked against the providers' recorded schemas (tests/test_module_schema.py).
    replaces_on_change: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _generated_inputs(self) -> TerraformImplementation:
        clash = sorted(set(self.generated_inputs) & set(self.inputs))
        if clash:
            raise ValueError(f"{', '.join(clash)} cannot be both an input template and a generated input")
        if self.generated_inputs and self.secrets != "store":
            raise ValueError("generated_inputs need secrets: store (they are read back from the secret store)")
        return self


class ManifestImplementation(Strict):
    template: str  # sandboxed Jinja producing one or more YAML documents
    # For resources served in-cluster: each contract key as a template, evaluated at apply with
    # `generated` (secret values Composer creates once and keeps in the connection Secret).
    outputs: dict[str, str] = {}
    generate: tuple[str, ...] = ()


class Implementation(Strict):
    provider: str  # aws | gcp | azure | kubernetes | any third-party provider plugin
    description: str = ""
    default: bool = False  # the one chosen for this provider when an environment does not say
    terraform: TerraformImplementation | None = None
    manifests: ManifestImplementation | None = None
    builtin: str | None = None  # a renderer that ships with Composer (built-in workloads)

    @model_validator(mode="after")
    def _exactly_one(self) -> Implementation:
        n = sum(x is not None for x in (self.terraform, self.manifests, self.builtin))
        if n != 1:
            raise ValueError("an implementation has exactly one of terraform, manifests or builtin")
        return self

    @property
    def kind(self) -> str:
        return "terraform" if self.terraform else "manifests" if self.manifests else "builtin"


class DefinitionPolicy(Strict):
    """Module policy rules the definition's own modules need (composer/catalog/policy.py)."""

    allow: tuple[PolicyRule, ...] = ()


class ComponentDefinitionSpec(Strict):
    category: Literal["workload", "resource"]
    description: str = ""
    parameters: dict[str, Any] = {"type": "object"}
    outputs: dict[str, OutputSpec] = {}
    implementations: dict[str, Implementation] = {}  # abstract types get theirs from providers
    policy: DefinitionPolicy = DefinitionPolicy()


class ComponentDefinition(Document):
    kind: Literal["ComponentDefinition"]
    spec: ComponentDefinitionSpec


class TraitDefinitionSpec(Strict):
    description: str = ""
    parameters: dict[str, Any] = {"type": "object"}
    applies_to: tuple[str, ...] = Field((), alias="appliesTo")  # empty: every workload type
    builtin: str | None = None
    patch: str | None = None  # template -> YAML mapping merged into the workload's main object
    objects: str | None = None  # template -> extra YAML documents

    @model_validator(mode="after")
    def _has_effect(self) -> TraitDefinitionSpec:
        if not (self.builtin or self.patch or self.objects):
            raise ValueError("a trait needs a patch or objects template")
        return self


class TraitDefinition(Document):
    kind: Literal["TraitDefinition"]
    spec: TraitDefinitionSpec
