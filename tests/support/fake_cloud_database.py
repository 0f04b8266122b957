"""A fake at the Terraform port (composer/engine/ports.py) standing for a cloud database module
with a generated password (modules/gcp/database: `password` in, `password_version` for rotation,
the connection document written to the secret store in the same run).

Why a fake: Google's and Azure's Terraform providers are not installed here, and an RDS apply
on moto takes ~80 s; the order of what the engine seals, sends, stores and binds is what these
tests check, at the seam where the engine meets Terraform. The real module has its own test
(tests/test_e2e_rds.py, slow). Failures can be injected before or after the database changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.runners.terraform import Changes  # the real port's result type


@dataclass
class FakeCloudDatabase:
    secret_id: str
    db_password: str | None = None  # what the database accepts
    db_version: int = 0
    store: dict[str, dict[str, str]] = field(default_factory=dict)  # the cloud secret store
    fail: str | None = None  # "before-db" | "after-db": the next apply fails there
    runs: int = 0
    sent: list[str] = field(default_factory=list)  # every password value Terraform was given

    def init(self, unit: str, workdir: Path, backend_config: Mapping[str, str] | None = None) -> None:
        pass

    def _version(self, workdir: Path) -> int:
        override = workdir / "appc_override.tf.json"
        if not override.exists():
            return 1
        return int(json.loads(override.read_text())["module"][workdir.name].get("password_version", 1))

    def _failure(self, where: str) -> None:
        if self.fail == where:
            self.fail = None
            raise DiagnosticError([Diagnostic(f"injected failure {where}", "the cloud API timed out")])

    def apply(
        self,
        unit: str,
        workdir: Path,
        planfile: Path | None = None,
        variables: Mapping[str, str] | None = None,
        *,
        destroy: bool = False,
    ) -> Changes:
        self.runs += 1
        password = (variables or {})["password"]
        self.sent.append(password)
        version = self._version(workdir)
        self._failure("before-db")
        created = self.db_password is None
        if created or version != self.db_version:  # write-only: sent on create and on a version change
            self.db_password, self.db_version = password, version
        self._failure("after-db")
        self.store[self.secret_id] = {"host": "10.0.0.5", "port": "5432", "database": "app", "username": "app",
                                      "password": password, "url": f"postgresql://app:{password}@10.0.0.5:5432/app"}  # fmt: skip
        return Changes(add=1 if created else 0, change=0 if created else 1)

    def plan(self, *args: Any, **kwargs: Any) -> Changes:
        return Changes()

    def show(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]:
        return {}

    def show_json(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]:
        return {}

    def outputs(self, unit: str, workdir: Path) -> dict[str, tuple[Any, bool]]:
        return {"host": ("10.0.0.5", False), "port": (5432, False), "database": ("app", False),
                "username": ("app", False), "connection_secret_id": (self.secret_id, False)}  # fmt: skip

    def resources(self, unit: str, workdir: Path) -> list[str] | None:
        return ["module.db.google_sql_database_instance.this"] if self.db_password else None

    def close(self) -> None:
        pass

    def read_secret(self, provider: str, secret_id: str) -> Mapping[str, str]:
        if secret_id not in self.store:
            raise DiagnosticError([Diagnostic(f"secret {secret_id} not found")])
        return dict(self.store[secret_id])
