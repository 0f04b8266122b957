"""Static checks of a definition against the module it calls (no Terraform run needed).

- every `inputs` key (and generated input) is a variable of the module;
- every variable without a default is supplied;
- every `outputs` mapping target is an output of the module;
- every contract key is an output (under its own name or mapped), comes from the secret
  store (`secrets: store`), or is listed in `omits`.

Each problem is (path inside the implementation, summary, detail), with a did-you-mean,
so callers place it at the definition's own line.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from composer.catalog.hcl import ModuleInterface
from composer.catalog.modules import ModuleSource, module_interface, read_package
from composer.catalog.policy import UNPARSEABLE, Violation
from composer.catalog.sources import AddressError, parse_address
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.definitions import OutputSpec, TerraformImplementation

SECRET_ID_OUTPUT = "connection_secret_id"
Problem = tuple[tuple, str, str]


def _hint(name: str, known: Iterable[str], what: str) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    listed = ", ".join(known[:40]) + (", …" if len(known) > 40 else "")
    return (f"did you mean {close[0]!r}? " if close else "") + (
        f"the module's {what}: {listed}" if known else f"the module declares no {what}"
    )


def input_problems(
    inputs: Iterable[str],
    supplied_elsewhere: Iterable[str],
    iface: ModuleInterface,
    prefix: tuple = ("terraform", "inputs"),
) -> list[Problem]:
    out: list[Problem] = []
    given = set(inputs) | set(supplied_elsewhere)
    for key in inputs:
        if key not in iface.variables:
            out.append(
                (
                    prefix + (key,),
                    f"input {key!r} is not a variable of the module",
                    _hint(key, iface.variables, "variables"),
                )
            )
    missing = [v.name for v in iface.variables.values() if v.required and v.name not in given]
    if missing:
        out.append(
            (
                prefix,
                f"the module's required variable{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} {'are' if len(missing) > 1 else 'is'} not supplied",
                ("they have" if len(missing) > 1 else "it has")
                + " no default; add "
                + ("them" if len(missing) > 1 else "it")
                + " under inputs",
            )
        )
    return out


def implementation_problems(
    tf: TerraformImplementation, contract: Mapping[str, OutputSpec], iface: ModuleInterface
) -> list[Problem]:
    """How a Terraform implementation disagrees with its module's interface."""
    out = input_problems(tf.inputs, tf.generated_inputs, iface)
    for key in tf.generated_inputs:
        if key not in iface.variables:
            out.append(
                (
                    ("terraform", "generated_inputs"),
                    f"generated input {key!r} is not a variable of the module",
                    _hint(key, iface.variables, "variables"),
                )
            )
    store = tf.secrets == "store"
    for key, target in tf.outputs.items():
        if target not in iface.outputs:
            out.append(
                (
                    ("terraform", "outputs", key),
                    f"maps {key!r} to {target!r}, which is not an output of the module",
                    _hint(target, iface.outputs, "outputs"),
                )
            )
    for key, spec in contract.items():
        if key in tf.omits or key in tf.outputs or (store and spec.secret):
            continue
        if key not in iface.outputs:
            opt = " or list it in omits" if spec.optional else ""
            out.append(
                (
                    ("terraform", "outputs"),
                    f"contract key {key!r} is not an output of the module",
                    f"map it to one: outputs: {{{key}: OUTPUT}}{opt}. " + _hint(key, iface.outputs, "outputs"),
                )
            )
    if store and SECRET_ID_OUTPUT not in iface.outputs:
        out.append(
            (
                ("terraform", "secrets"),
                f"secrets: store needs the module to output {SECRET_ID_OUTPUT!r}",
                _hint(SECRET_ID_OUTPUT, iface.outputs, "outputs"),
            )
        )
    return out


def declared_output_problems(declared: Iterable[str], iface: ModuleInterface, prefix: tuple) -> list[Problem]:
    """The terraform-module type: every output the component declares is one of the module's."""
    return [
        (prefix + (key,), f"output {key!r} is not an output of the module", _hint(key, iface.outputs, "outputs"))
        for key in declared
        if key not in iface.outputs
    ]


def local_module(base: Path, module: str) -> Path | None:
    """base/module when it is a local source that stays inside base and exists."""
    try:
        address = parse_address(module, None)
    except AddressError:
        return None
    if address.remote or Path(module).is_absolute():
        return None
    root = base.resolve()
    target = (root / module).resolve()
    if (target != root and root not in target.parents) or not target.is_dir():
        return None
    return target


def implementation_diagnostics(
    module: ModuleSource,
    tf: TerraformImplementation,
    contract: Mapping[str, OutputSpec],
    where: Callable[[tuple, str, str], Diagnostic],
    name: str,
    iname: str,
) -> list[Diagnostic]:
    """The interface problems of implementation `iname` of definition `name`, placed under
    spec.implementations.INAME by `where(path, summary, detail)`."""
    label = f"implementation {iname!r} of {name!r}"

    def under(sub: tuple, summary: str, detail: str) -> Diagnostic:
        return where(("spec", "implementations", iname) + sub, f"{label}: {summary}", detail)

    try:
        iface = module_interface(module)
    except DiagnosticError as exc:
        return [
            under(("terraform", "module"), f"the module does not parse: {d.summary}", d.detail) for d in exc.diagnostics
        ]
    return [under(sub, summary, detail) for sub, summary, detail in implementation_problems(tf, contract, iface)]


def local_definition_diagnostics(
    name: str,
    base: Path,
    contract: Mapping[str, OutputSpec],
    impls: Mapping[str, TerraformImplementation],
    where: Callable[[tuple, str, str], Diagnostic],
    remote: bool = False,
) -> list[Diagnostic]:
    """Check the local modules of one definition's implementations. Remote ones are checked
    once locked, when a unit renders from them; with `remote`, also here when the lock of the
    project holding the definition records them (def validate)."""
    out: list[Diagnostic] = []
    for iname, tf in sorted(impls.items()):
        path = local_module(base, tf.module)
        if path is None:
            cached = _locked_remote(base, tf) if remote else None
            if cached is not None:
                out.extend(implementation_diagnostics(cached, tf, contract, where, name, iname))
            continue
        try:
            module = read_package(path, "check", base)
        except DiagnosticError as exc:
            out.extend(
                where(("spec", "implementations", iname, "terraform", "module"), d.summary, d.detail)
                for d in exc.diagnostics
            )
            continue
        out.extend(implementation_diagnostics(module, tf, contract, where, name, iname))
    return out


def _locked_remote(base: Path, tf: TerraformImplementation) -> ModuleSource | None:
    from composer.catalog.cache import locked_module_near

    try:
        address = parse_address(tf.module, tf.version)
    except AddressError:
        return None
    return locked_module_near(base, address, tf.version, "check") if address.remote else None


def policy_message(module: str, v: Violation, allow_where: str) -> tuple[str, str]:
    """(summary, detail) of a module policy violation; `allow_where` says where to opt in."""
    at = f"{v.file}:{v.line}" if v.line else v.file
    how = (
        " (no opt-in lifts this: make the file parse)"
        if v.rule == UNPARSEABLE
        else f"; to allow it, add {v.rule!r} to {allow_where}"
    )
    return (
        f"module {module} breaks the module policy ({v.rule}): {v.summary}",
        f"at {module}/{at}. Composer refuses it before Terraform runs{how}",
    )
