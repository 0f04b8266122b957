"""The controller's log: by default one line per reconcile from `composer.controller` (what ran,
its outcome and how long it took) and kopf's warnings and errors; kopf's own per-handler INFO
lines ("Handler ... succeeded", "Timer ... succeeded") only with `--verbose` (docs/controller.md)."""

from __future__ import annotations

import logging

import kopf

CONTROLLER_LOGGER = "composer.controller"


def configure(verbose: bool) -> None:
    """kopf's handler on the root logger, at INFO with `verbose`, else WARNING with our own
    logger kept at INFO (a handler hears every record that propagates to it, whatever the
    root's level)."""
    if verbose:
        kopf.configure()
    else:
        kopf.configure(quiet=True)
    logging.getLogger(CONTROLLER_LOGGER).setLevel(logging.INFO)


def outcome_words(ok: bool, reason: str, message: str) -> str:
    """The end of a reconcile's line: `Ready`, or `Degraded (REASON): first error`."""
    return "Ready" if ok else f"Degraded ({reason}): {message}"
