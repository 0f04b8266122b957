"""Secret values a run holds in memory: generated inputs and secret outputs read upstream.

A generated input (an implementation's `generated_inputs`, e.g. a database password) is made
once, on a unit's first apply, and from then on read back from the unit's secret store entry,
never generated again over an existing resource. Secret outputs of upstream units are read
from the secret store (or Terraform's outputs) once per run. Nothing here is written to
state, logs or files: state keeps digests only. One value per unit per run, so a preview
plan and its apply agree.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.ports import SecretReader
from composer.model.refs import OutputRef
from composer.resolve import ResolvedComponent
from composer.state.model import UnitState

Values = Mapping[str, Any]


def generate_secret(length: int = 32) -> str:
    """A random password: letters and digits (no character needs quoting in a URL or a shell),
    with at least one upper-case letter, one lower-case letter and one digit, as Azure and most
    database engines demand."""
    alphabet = string.ascii_letters + string.digits
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(ch.islower() for ch in value)
            and any(ch.isupper() for ch in value)
            and any(ch.isdigit() for ch in value)
        ):
            return value


@dataclass
class RunSecrets:
    """The secret values of one engine, memory only; thread-safe."""

    read_secret: SecretReader
    read: dict[str, Values] = field(default_factory=dict)  # unit -> secret values read this run
    generated: dict[str, dict[str, str]] = field(default_factory=dict)  # unit -> generated inputs
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def upstream_value(
        self,
        ref: OutputRef,
        provider: str | None,
        stored: UnitState | None,
        terraform_outputs: Callable[[], Values],
    ) -> str:
        """The value of a secret output of an upstream unit: from its secret store entry when
        it has one, else from its Terraform outputs."""
        values = self.read.get(ref.component)
        if values is None:
            if stored is not None and stored.secret_ref and provider:
                values = self.read_secret(provider, stored.secret_ref)
            else:
                values = terraform_outputs()
            self.read[ref.component] = values
        if ref.key not in values:
            raise DiagnosticError(
                [Diagnostic(f"upstream {ref.component} has no value for {ref.key}", address=ref.component)]
            )
        return str(values[ref.key])

    def generated_inputs(self, c: ResolvedComponent | None, stored: UnitState | None) -> dict[str, str]:
        """The values of the unit's generated inputs: read back from its secret store entry once
        it has one, else generated (first apply)."""
        tf = c.implementation.implementation.terraform if c is not None else None
        if c is None or tf is None or not tf.generated_inputs:
            return {}
        with self._lock:
            if c.name in self.generated:
                return dict(self.generated[c.name])
        if stored is not None and stored.secret_ref:
            found = self._stored_inputs(c, tf.generated_inputs, stored.secret_ref)
        else:
            found = {k: generate_secret() for k in tf.generated_inputs}
        with self._lock:
            self.generated[c.name] = found
        return dict(found)

    def _stored_inputs(
        self, c: ResolvedComponent, names: tuple[str, ...] | list[str], secret_ref: str
    ) -> dict[str, str]:
        values = self.read.get(c.name)
        if values is None:
            values = self.read_secret(c.provider or "", secret_ref)
            self.read[c.name] = values
        missing = [k for k in names if not values.get(k)]
        if missing:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"the secret store entry of {c.name} has no {', '.join(missing)}",
                        f"{secret_ref} must hold the generated input(s) it was created with; restore them there "
                        "(never generate a new one over an existing resource)",
                        address=c.name,
                    )
                ]
            )
        return {k: str(values[k]) for k in names}
