"""Composer: compose applications and the cloud resources they need."""

__version__ = "0.1.0"
