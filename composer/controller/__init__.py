"""Composer as a Kubernetes controller (docs/controller.md)."""

from composer import __version__

DEFAULT_IMAGE = f"ghcr.io/composer-dev/appc:{__version__}"  # `appc controller manifests --image`'s default
