"""The exception tree of docs/architecture.md ("Errors"): every exception class in composer/ is a
DiagnosticError, except the listed value-parse errors (caught at their one call site) and the CLI's
control flow. One that reaches a command uncaught reports as a diagnostic (exit 1), never as a bug."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import typer

import composer
from composer.cli.common import EXIT_INVALID, command
from composer.diagnostics import DiagnosticError, MessageError
from composer.runners.kube.client import ApiError, Unreachable
from composer.state.protocol import LockHeld
from composer.templates import TemplateFailure

# Not DiagnosticErrors, each with the reason (docs/architecture.md draws them outside the tree).
OUTSIDE_THE_TREE = {
    "composer.catalog.sources.AddressError": "a module address, parsed; the caller adds the file and field",
    "composer.render.jsonpatch.PatchError": "a JSON patch, applied; the trait adds the field",
    "composer.state.keys.BadKey": "a key's text, decoded; the store names the file",
    "composer.state.sealed.Unsealable": "a sealed value, opened; rotation names the unit",
    "composer.template_budget.BudgetExceeded": "a template over its budget, turned into a TemplateFailure as jinja's SecurityError is",
    "composer.runners.kube.transport.TransportFailure": "a request with no HTTP answer (TLS); the client makes it Unreachable",
    "composer.state.jsontext.Unusual": "control flow: a value the fast encoder leaves to json.dumps",
    "composer.model.source_plain.Unusual": "control flow: a document the full source builder makes and reports",
    "composer.cli.common.Exit": "control flow: a command's exit code",
    "composer.cli.common.Cancelled": "control flow: a prompt declined",
}


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(composer.__path__, "composer."):
        if info.name.endswith("__main__"):  # runs the CLI when imported
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == info.name:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def test_every_exception_class_is_a_diagnostic_error_or_listed_with_its_reason():
    classes = _exception_classes()
    outside = {name for name, cls in classes.items() if not issubclass(cls, DiagnosticError)}
    assert outside == set(OUTSIDE_THE_TREE), sorted(outside ^ set(OUTSIDE_THE_TREE))
    assert {"LockHeld", "TemplateFailure", "ApiError", "Unreachable"} <= {
        cls.__name__ for cls in classes.values() if issubclass(cls, MessageError)
    }


def test_message_errors_keep_their_one_line_and_carry_it_as_a_diagnostic():
    cases = [
        (LockHeld(None, ".composer/dev.lock"), "state is locked by an unknown holder at .composer/dev.lock"),
        (TemplateFailure("x is undefined", 3, ("env", 0)), "x is undefined"),
        (ApiError(404, "NotFound", 'secrets "db" not found', None, None), '404 NotFound: secrets "db" not found'),
        (Unreachable("https://k8s:6443", "connection refused"), "https://k8s:6443: connection refused"),
    ]
    for exc, line in cases:
        assert (str(exc), exc.args) == (line, (line,))
        assert [d.summary for d in exc.diagnostics] == [line]
    assert TemplateFailure("x", 3, ("env", 0)).diagnostics[0].path == ("env", 0)


@pytest.mark.parametrize("exc", [LockHeld(None, "s3://b/k.lock"), TemplateFailure("x is undefined")])
def test_an_uncaught_one_is_exit_1_with_its_words_not_a_bug(exc, capsys):
    with pytest.raises(typer.Exit) as done:
        with command("plan", json_mode=False):
            raise exc
    assert done.value.exit_code == EXIT_INVALID
    err = capsys.readouterr().err
    assert str(exc) in err and "bug" not in err.lower()
