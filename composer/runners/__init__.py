"""Runners: the only code that does I/O against the outside world (files, terraform, Kubernetes)."""
