"""gcp provider plugin (implementations arrive with the providers issue)."""

from __future__ import annotations

from pathlib import Path

from providers.base import ShippedProvider


class Provider(ShippedProvider):
    name = "gcp"
    package_dir = Path(__file__).parent


plugin = Provider()
