"""What the shipped provider plugins share: where their modules live, their offers file."""

from __future__ import annotations

import os
import sys
from functools import cached_property
from pathlib import Path
from typing import Sequence

from composer.plugins import BaseProvider, ImplementationOffer, load_offers


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
