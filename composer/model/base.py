"""Shared model plumbing: the strict base class and name rules."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

API_VERSION: Final = "composer.dev/v1alpha1"
SCORE_API_VERSION: Final = "score.dev/v1b1"  # a Score workload file (composer/model/score.py)

_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class Strict(BaseModel):
    """Frozen, and unknown fields are errors: a typo is never silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _check_name(value: str) -> str:
    if len(value) > 63 or not _LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use a DNS-1123 label "
            "(lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, "
            "at most 63 characters)"
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]

# Free-form values (properties, parameters) are checked against JSON Schemas in resolve.
Properties = dict[str, Any]


class Metadata(Strict):
    name: Name
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class Document(Strict):
    """A composer.dev/v1alpha1 document: apiVersion, its kind (a Literal in each subclass),
    metadata with a name, and a spec."""

    api_version: Literal["composer.dev/v1alpha1"] = Field(API_VERSION, alias="apiVersion")
    kind: str
    metadata: Metadata

    @property
    def name(self) -> str:
        return self.metadata.name
