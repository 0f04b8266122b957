"""The application model: what an app team writes in app.yaml."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from composer.model.base import Document, Metadata, Name, Properties, Strict
from composer.model.environment import DriftPath, KubeTarget

ObjectSelector = Annotated[
    str, StringConstraints(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?([A-Za-z][A-Za-z0-9]*|\*)$", max_length=128)
]


class Trait(Strict):
    type: str
    properties: Properties = {}


class Promotion(Strict):
    """A component deployed again by a later workflow step (KubeVela: one app promoted to a second
    namespace): its objects take the names of component `of` and land in `namespace`
    (composer/model/promotion.py, docs/oam.md)."""

    of: Name
    namespace: Name


class Component(Strict):
    name: Name
    type: str
    properties: Properties = {}
    traits: tuple[Trait, ...] = ()
    connections: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = Field((), alias="dependsOn")
    promotion: Promotion | None = None


class Gate(Strict):
    """An approval gate: `appc apply` applies nothing of `components` until `--approve NAME`."""

    name: str
    components: tuple[Name, ...] = ()
    message: str = ""


class AppMetadata(Metadata):
    # Where the workloads land when the environment names no namespace (the environment wins).
    namespace: Name | None = None


class ApplicationSpec(Strict):
    components: tuple[Component, ...] = Field(min_length=1)
    # Score files (score.dev/v1b1) whose workloads and resources join the components (docs/score.md).
    score: tuple[str, ...] = ()
    # Clusters (kube contexts) when the environment names none (KubeVela topology policies).
    targets: tuple[KubeTarget, ...] = ()
    gates: tuple[Gate, ...] = ()
    # Asked of every environment (KubeVela garbage-collect `never` and apply-once rules): joined to
    # the environment's policies.protect and policies.ignoreDrift (composer/model/placement.py).
    protect: tuple[Name, ...] = ()
    ignore_drift: tuple[DriftPath, ...] = Field((), alias="ignoreDrift")
    # Objects apply takes over from other field managers (KubeVela take-over): `[COMPONENT/]KIND`,
    # `COMPONENT/*` or `*`; a scoped --force-conflicts (composer/runners/kube/base.py).
    take_over: tuple[ObjectSelector, ...] = Field((), alias="takeOver")
    # Objects apply deletes and creates again when the API server refuses a change as immutable
    # (KubeVela resource-update recreateFields), as it does for Jobs.
    recreate: tuple[ObjectSelector, ...] = ()
    # Objects the app reads but never writes or deletes (KubeVela read-only): apply refuses when
    # one is missing, before it writes anything (composer/runners/kube/base.py).
    read_only: tuple[ObjectSelector, ...] = Field((), alias="readOnly")
    # Objects several apps share (KubeVela shared-resource): apply writes one only when it is
    # absent or this app's; prune and destroy leave it in place.
    shared: tuple[ObjectSelector, ...] = ()

    @model_validator(mode="after")
    def _promotions(self) -> ApplicationSpec:
        from composer.model.promotion import check_promotions

        check_promotions(self.components)
        return self


class Application(Document):
    kind: Literal["Application"]
    metadata: AppMetadata
    spec: ApplicationSpec

    def component(self, name: str) -> Component | None:
        for c in self.spec.components:
            if c.name == name:
                return c
        return None
