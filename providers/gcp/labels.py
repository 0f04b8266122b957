"""Composer's ownership labels on Google Cloud resources: one definition for the provider block
that stamps them, `appc status --cloud` and the reality probe that search by them.

GCP labels are not AWS tags: keys and values are lower case letters, digits, `_` and `-`, at
most 63 characters, and a key starts with a letter, so `composer.dev/app` cannot be a key. The
keys are the ones the gcp modules already put on every labelled resource from their `tags`
input (`app`, `env`, `component`, `managed-by`); the google provider's `default_labels` adds
the same labels to every resource of every module a unit calls (a `terraform-module`
component's own module included) that has a top-level `labels` field. Cloud SQL instances keep
theirs in `settings.user_labels`, which `default_labels` does not reach, so the database module
sets them there itself.
"""

from __future__ import annotations

import re

OWNER_KEYS = ("app", "env", "component")
MANAGED_BY = ("managed-by", "appc")
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]")


def label_value(text: str) -> str:
    """`text` as a GCP label value: lower case, other characters as `-`, at most 63 characters.
    Composer's names (DNS-1123 labels) pass through unchanged."""
    return _NOT_ALLOWED.sub("-", text.lower())[:63]


def ownership_labels(app: str, env: str, component: str | None = None) -> dict[str, str]:
    """The labels naming who owns a resource (app, env and, given one, component): what status
    and the probe search by. Without `component`, the app/env pair every unit shares."""
    labels = {"app": label_value(app), "env": label_value(env)}
    if component is not None:
        labels["component"] = label_value(component)
    return labels


def default_labels(app: str, env: str, component: str) -> dict[str, str]:
    """The google provider's `default_labels` of a unit: ownership, and that appc manages it."""
    return {**ownership_labels(app, env, component), MANAGED_BY[0]: MANAGED_BY[1]}


def label_query(labels: dict[str, str]) -> str:
    """A Cloud Asset Inventory query matching every label exactly (`labels.KEY=VALUE AND ...`)."""
    return " AND ".join(f"labels.{k}={v}" for k, v in labels.items() if v)
