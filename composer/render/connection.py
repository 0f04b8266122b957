"""A unit's connection Secret, rendered once for every sink.

A resource's bound values reach workloads through the Secret `<app>-<component>-conn`
(composer/render/bindings.py makes the secretKeyRefs that read it). A cluster gets that
Secret itself (`Connection.secret`); a GitOps directory, which never holds a secret value,
gets an ExternalSecret (external-secrets.io) that makes the same Secret from the cloud secret
store entry (`Connection.external_secret`). Both have the same name and the same labels, the
standard ones every rendered object carries. The sinks deliver these objects; they build none.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.environment import SecretStoreRef
from composer.render.bindings import secret_name
from composer.render.workload import standard_labels, target_namespace
from composer.resolve import Resolved


@dataclass(frozen=True)
class Connection:
    """The bound values of one unit, and where they are kept. Values live in memory only."""

    app: str
    environment: str
    component: str
    namespace: str | None  # None: the sink's own namespace (several cluster targets)
    values: Mapping[str, str] = field(repr=False)  # every contract key (and generated ones) as text
    secret_ref: str | None = None  # the cloud secret store entry holding them, if any
    secret_store: SecretStoreRef | None = None  # the external-secrets.io store that reads that entry

    @classmethod
    def of(cls, resolved: Resolved, component: str, values: Mapping[str, str], secret_ref: str | None) -> Connection:
        env = resolved.environment
        return cls(
            resolved.name,
            env.name,
            component,
            target_namespace(resolved),
            dict(values),
            secret_ref,
            env.spec.kubernetes.secret_store,
        )

    @property
    def name(self) -> str:
        return secret_name(self.app, self.component)

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **({"namespace": self.namespace} if self.namespace else {}),
            "labels": standard_labels(self.app, self.environment, self.component),
        }

    def secret(self) -> dict[str, Any]:
        """The v1 Secret holding the values (base64, keys sorted): what a cluster gets."""
        encoded = {k: base64.b64encode(str(v).encode()).decode() for k, v in sorted(self.values.items())}
        return {"apiVersion": "v1", "kind": "Secret", "metadata": self.metadata(), "type": "Opaque", "data": encoded}

    def external_secret(self) -> dict[str, Any]:
        """The ExternalSecret that makes the same Secret from the cloud secret store: what a
        GitOps directory gets. Refused when the values are in no store, or no store reads it."""
        if self.secret_ref is None:
            raise _refusal(
                f"cannot write the connection Secret of {self.component} to a GitOps directory",
                "GitOps output never holds secret values, and this unit's implementation keeps its outputs in Terraform "
                "instead of a cloud secret store. Choose an implementation with `secrets: store`, or deliver to a cluster "
                "(kubernetes.context) instead of a directory.",
                self.component,
            )
        if self.secret_store is None:
            raise _refusal(
                f"environment {self.environment} writes manifests to a directory but names no secret store",
                "connection Secrets become ExternalSecrets there; set kubernetes.secretStore: "
                "{name: STORE, kind: ClusterSecretStore} to the external-secrets.io store that reads your cloud secret store",
                self.component,
            )
        return {
            "apiVersion": self.secret_store.api_version,
            "kind": "ExternalSecret",
            "metadata": self.metadata(),
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"name": self.secret_store.name, "kind": self.secret_store.kind},
                "target": {"name": self.name, "creationPolicy": "Owner"},
                "dataFrom": [{"extract": {"key": self.secret_ref}}],
            },
        }


def _refusal(summary: str, detail: str, component: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(summary, detail, address=component)])
