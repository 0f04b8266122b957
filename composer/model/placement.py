"""Where an application lands when the app file says so too (KubeVela's metadata.namespace, topology).

The environment decides: its namespace and cluster targets win over the app's, and a warning
names both when they differ. When the environment names no namespace (or no cluster), the
app's are used, as KubeVela would use them.
"""

from __future__ import annotations

from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError, Severity
from composer.model.app import Application
from composer.model.environment import Environment, Policies
from composer.model.loader import Loaded


def place(app: Loaded[Application], env: Loaded[Environment]) -> tuple[Loaded[Environment], list[Diagnostic]]:
    """The environment with the app's namespace and targets filled in where it names none."""
    k = env.model.spec.kubernetes
    warnings: list[Diagnostic] = []
    updates: dict[str, Any] = {}
    ns = app.model.metadata.namespace
    if ns:
        if k.namespace is None:
            updates["namespace"] = ns
        elif k.namespace != ns:
            warnings.append(
                app.source.diagnostic(
                    ("metadata", "namespace"),
                    f"namespace {k.namespace!r} of environment {env.model.name!r} is used, not the app's {ns!r}",
                    f"the environment decides ({env.path.name}: spec.kubernetes.namespace); remove one of them to silence this",
                    severity=Severity.WARNING,
                )
            )
    targets = app.model.spec.targets
    if targets:
        if not (k.context or k.directory or k.targets):
            updates["targets"] = targets
        elif tuple(t.context for t in k.resolved_targets()) != tuple(t.context for t in targets):
            named = ", ".join(t.context or "?" for t in targets)
            warnings.append(
                app.source.diagnostic(
                    ("spec", "targets"),
                    f"the clusters of environment {env.model.name!r} are used, not the app's ({named})",
                    f"the environment decides ({env.path.name}: spec.kubernetes)",
                    severity=Severity.WARNING,
                )
            )
    if k.directory:
        _refuse_hands_off(app, env)
    policies = _joined_policies(app.model, env.model)
    if not updates and policies is env.model.spec.policies:
        return env, warnings
    kube = k.model_copy(update=updates)
    spec = env.model.spec.model_copy(update={"kubernetes": kube, "policies": policies})
    return Loaded(env.model.model_copy(update={"spec": spec}), env.source, env.path), warnings


def _joined_policies(app: Application, env: Environment) -> Policies:
    """The environment's protect and ignoreDrift, plus what the app asks of every environment."""
    own = env.spec.policies
    if not (app.spec.protect or app.spec.ignore_drift):
        return own
    return own.model_copy(
        update={
            "protect": tuple(dict.fromkeys(own.protect + app.spec.protect)),
            "ignore_drift": tuple(dict.fromkeys(own.ignore_drift + app.spec.ignore_drift)),
        }
    )


def _refuse_hands_off(app: Loaded[Application], env: Loaded[Environment]) -> None:
    """readOnly and shared objects need appc apply to read the cluster: a GitOps tool applying a
    directory writes every object in it."""
    asked = [
        field for field, value in (("readOnly", app.model.spec.read_only), ("shared", app.model.spec.shared)) if value
    ]
    if asked:
        raise DiagnosticError(
            [
                app.source.diagnostic(
                    ("spec", field, 0),
                    f"environment {env.model.name!r} delivers to a directory, which cannot keep objects {field}",
                    "the tool that applies the directory writes every object in it; deliver this environment to a "
                    "cluster (kubernetes.context), or take the read-only / shared-resource policy off",
                )
                for field in asked
            ]
        )
