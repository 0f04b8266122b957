"""What the state document remembers of the last checks against reality, for `appc status`:
per unit, the last reality probe an apply ran (composer/engine/probes.py), and per
environment, the last `appc drift` run (composer/engine/drift.py).

Facts only: verdicts, resource addresses and ids, counts and times. Never a value: a probe
names what it looked for, and a drift check keeps counts, not the live or desired values it
compared (those may be secret). Both are optional fields of the state document, so a state
written before them still loads. `appc plan` never writes them (a plan leaves state byte for
byte as it was); `appc apply` writes the probe's, `appc drift` its own (docs/reliability.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from composer.model.base import Name

# present: every resource or object looked for was found as the last apply left it;
# missing / foreign-modified: the unit ran to repair it; unrecorded: state had no ids to look
# for (written before probes); unanswerable: the probe could not tell (no permission, API down).
ProbeVerdict = Literal["present", "missing", "foreign-modified", "unrecorded", "unanswerable"]
RecordedMode = Literal["strict", "lenient"]
Detail = Annotated[str, StringConstraints(max_length=1000)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitProbe(_Record):
    """The last reality probe of one unit, by an apply: when, in which mode, and what it found."""

    at: str
    mode: RecordedMode
    verdict: ProbeVerdict
    detail: Detail = ""  # which resources are missing or changed, or why the probe could not answer


class DriftCheck(_Record):
    """The last `appc drift` run of the environment: when, and how many attributes drifted where."""

    at: str
    drift: bool  # any attribute drifted that policies.ignoreDrift does not cover
    checked: tuple[Name, ...] = ()  # units compared
    drifted: dict[Name, Annotated[int, Field(ge=0)]] = {}  # unit -> drifted attributes (only units with some)
    ignored: dict[Name, Annotated[int, Field(ge=0)]] = {}  # unit -> drift left to others by ignoreDrift
    not_compared: tuple[Name, ...] = ()  # units the check could not compare (the command said why)

    @property
    def drifted_total(self) -> int:
        return sum(self.drifted.values())

    @property
    def ignored_total(self) -> int:
        return sum(self.ignored.values())
