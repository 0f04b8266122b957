"""What the shipped provider plugins share: where their modules live, their offers file."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from types import ModuleType

from composer.diagnostics import Diagnostic
from composer.plugins import (
    BaseProvider,
    DeleteSecretRequest,
    ImplementationOffer,
    PreflightRequest,
    SecretWritten,
    WriteSecretRequest,
    load_offers,
)


def modules_root() -> Path:
    """The directory holding modules/<cloud>/<type>.

    COMPOSER_MODULES_DIR wins; then the source checkout (editable installs); then the
    data directory that a wheel install puts under sys.prefix.
    """
    env = os.environ.get("COMPOSER_MODULES_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[1] / "modules"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "appcomposer" / "modules"


class ShippedProvider(BaseProvider):
    """A provider whose implementations are listed in implementations.yaml beside its code."""

    name = "shipped"
    package_dir: Path

    @cached_property
    def _offers(self) -> list[ImplementationOffer]:
        path = self.package_dir / "implementations.yaml"
        return load_offers(path, modules_root() / self.name) if path.exists() else []

    def offers(self) -> Sequence[ImplementationOffer]:
        return self._offers

    # Connection publishing lives in providers/<name>/publish.py (store_problems, write_secret,
    # delete_secret); a provider without one keeps BaseProvider's "no secret store".
    def _publish(self) -> ModuleType | None:
        import importlib

        try:
            return importlib.import_module(f"providers.{self.name}.publish")
        except ModuleNotFoundError:
            return None

    def secret_store_problems(self, request: PreflightRequest) -> Sequence[Diagnostic]:
        publish = self._publish()
        return publish.store_problems(request.environment) if publish else super().secret_store_problems(request)

    def write_secret(self, request: WriteSecretRequest) -> SecretWritten:
        publish = self._publish()
        return (
            publish.write_secret(request.environment, request.name, request.values)
            if publish
            else super().write_secret(request)
        )

    def delete_secret(self, request: DeleteSecretRequest) -> bool:
        publish = self._publish()
        return publish.delete_secret(request.environment, request.name) if publish else super().delete_secret(request)
