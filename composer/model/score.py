"""The Score workload model (score.dev/v1b1), field for field as its published JSON Schema.

Only the shape lives here: names, types, patterns and the one-of rules of the schema.
What each field becomes in Composer's model is decided in `composer/model/score_import.py`
(docs/score.md). Unknown fields are errors, as in the schema (`additionalProperties: false`),
except under `metadata`, which the schema leaves open for `${metadata.…}` placeholders.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# The schema's name rules.
Label = Annotated[str, StringConstraints(min_length=2, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")]
TypeName = Annotated[
    str, StringConstraints(min_length=2, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9]$")
]
ResourceId = Annotated[
    str,
    StringConstraints(
        min_length=2, max_length=63, pattern=r"^[a-z0-9]+(?:-+[a-z0-9]+)*(?:\.[a-z0-9]+(?:-+[a-z0-9]+)*)*$"
    ),
]
AnnotationKey = Annotated[
    str,
    StringConstraints(
        min_length=2,
        max_length=316,
        pattern=r"^(([a-z0-9][a-z0-9-]{0,61}[a-z0-9])(\.[a-z0-9][a-z0-9-]{0,61}[a-z0-9])*/)?[A-Za-z0-9][A-Za-z0-9._-]{0,61}[A-Za-z0-9]$",
    ),
]
PortNumber = Annotated[int, Field(strict=True, ge=1, le=65535)]
Quantity = Annotated[str, StringConstraints(pattern=r"^(0\.\d+|[1-9]\d*(\.\d+)?)(K|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")]
CpuQuantity = Annotated[str, StringConstraints(pattern=r"^\d+(?:m|\.\d+)?$")]


class ScoreStrict(BaseModel):
    """`additionalProperties: false`, as the schema says for every object but metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class WorkloadMetadata(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    name: Label
    annotations: dict[AnnotationKey, str] = {}


class ServicePort(ScoreStrict):
    port: PortNumber
    protocol: Literal["TCP", "UDP"] | None = None
    target_port: PortNumber | None = Field(None, alias="targetPort")


class Service(ScoreStrict):
    ports: dict[Label, ServicePort] = {}


class ResourceMetadata(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    annotations: dict[AnnotationKey, str] = {}


class Resource(ScoreStrict):
    type: TypeName
    class_: TypeName | None = Field(None, alias="class")
    id: ResourceId | None = None
    metadata: ResourceMetadata | None = None
    params: dict[str, Any] | None = None


class ResourcesLimits(ScoreStrict):
    memory: Quantity | None = None
    cpu: CpuQuantity | None = None


class ContainerResources(ScoreStrict):
    limits: ResourcesLimits | None = None
    requests: ResourcesLimits | None = None


class ContainerFile(ScoreStrict):
    target: Annotated[str, StringConstraints(min_length=1)] | None = None  # deprecated: the array form only
    mode: Annotated[str, StringConstraints(pattern=r"^0?[0-7]{3}$")] | None = None
    source: Annotated[str, StringConstraints(min_length=1)] | None = None
    content: str | None = None
    binary_content: str | None = Field(None, alias="binaryContent")
    no_expand: bool | None = Field(None, alias="noExpand")

    @model_validator(mode="after")
    def _one_of(self) -> ContainerFile:
        given = [
            k
            for k in ("content", "binaryContent", "source")
            if getattr(self, {"binaryContent": "binary_content"}.get(k, k)) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"a file needs exactly one of content, binaryContent or source, got {', '.join(given) or 'none'}"
            )
        return self


class ContainerVolume(ScoreStrict):
    source: str
    path: str | None = None
    target: str | None = None  # deprecated: the array form only
    read_only: bool | None = Field(None, alias="readOnly")


class HttpHeader(ScoreStrict):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]
    value: Annotated[str, StringConstraints(min_length=1)]


class HttpProbe(ScoreStrict):
    host: Annotated[str, StringConstraints(min_length=1)] | None = None
    scheme: Literal["HTTP", "HTTPS"] | None = None
    path: str
    port: PortNumber
    http_headers: tuple[HttpHeader, ...] | None = Field(None, alias="httpHeaders")


class ExecProbe(ScoreStrict):
    command: tuple[str, ...]


class ContainerProbe(ScoreStrict):
    http_get: HttpProbe | None = Field(None, alias="httpGet")
    exec: ExecProbe | None = None

    @model_validator(mode="after")
    def _any_of(self) -> ContainerProbe:
        if self.http_get is None and self.exec is None:
            raise ValueError("a probe needs httpGet or exec")
        return self


class Before(ScoreStrict):
    ready: Literal["started", "healthy", "complete"]


class Container(ScoreStrict):
    image: Annotated[str, StringConstraints(min_length=1)]
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    variables: dict[Annotated[str, StringConstraints(min_length=1, pattern=r"^[^=]+$")], str] = {}
    # A map of target path -> item, or the deprecated list of items with `target`: each item
    # is checked by the importer (ContainerFile / ContainerVolume) so errors name its path.
    files: Any = None
    volumes: Any = None
    before: dict[Label, Before] | None = None
    resources: ContainerResources | None = None
    liveness_probe: ContainerProbe | None = Field(None, alias="livenessProbe")
    readiness_probe: ContainerProbe | None = Field(None, alias="readinessProbe")


class Workload(ScoreStrict):
    api_version: Literal["score.dev/v1b1"] = Field(alias="apiVersion")
    metadata: WorkloadMetadata
    service: Service | None = None
    containers: Annotated[dict[Label, Container], Field(min_length=1)]
    resources: dict[Label, Resource] = {}
