#!/usr/bin/env python3
"""Generate docs/cli.md from the CLI itself: every command's usage, help, arguments and
options (with their COMPOSER_* environment variable and default), plus the exit codes,
the --json event contract and shell completion.

    python scripts/gen_cli_docs.py           # rewrite docs/cli.md
    python scripts/gen_cli_docs.py --check   # exit 1 when docs/cli.md is stale

tests/test_cli_docs.py compares the committed file with this output
(`pytest --update-golden` rewrites it).
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import typer  # noqa: E402

from composer.cli import app as cli  # noqa: E402
from composer.cli.views import SUMMARY_KEYS  # noqa: E402

OUTPUT = ROOT / "docs" / "cli.md"
# Typer's own options, documented once under "Shell completion" and at the top.
ROOT_ONLY = {"--install-completion", "--show-completion"}

EXIT_CODES = [
    (cli.EXIT_OK, "ok"),
    (
        cli.EXIT_INVALID,
        "invalid input: diagnostics printed (file:line:column, field path), also usage errors and refusals such as a stale saved plan; "
        "and every refusal to confirm (`n`, Ctrl-D or Ctrl-C at a prompt: nothing was changed), like Terraform's *Apply cancelled*",
    ),
    (cli.EXIT_CHANGES, "changes present (`plan --detailed-exitcode`)"),
    (
        cli.EXIT_APPLY_FAILED,
        "apply/destroy failed or was interrupted: partial, state saved; run the same command again to resume",
    ),
    (cli.EXIT_LOCKED, "the environment's state lock is held by another run (the message names the holder)"),
    (cli.EXIT_INTERNAL, "internal error: a bug; a short report is printed (APPC_DEBUG=1 for the traceback)"),
]

EVENTS = [
    (
        "summary",
        "always the last line: `command`, `ok`, `exit_code`, "
        + ", ".join(f"`{k}`" for k in SUMMARY_KEYS)
        + ", `duration_s`, plus command-specific keys (`units_failed`, `interrupted` for plan/apply/destroy, `changes_present` and the resource totals `to_add`, `to_change`, `to_destroy` for plan)",
    ),
    ("diagnostic", "an error or warning: `severity`, `summary`, `detail`, `file`, `line`, `column`, `path`, `address`"),
    ("unit_start", "plan/apply/destroy: a unit starts (`unit`, `kind`, `action`)"),
    (
        "terraform",
        "a Terraform progress message of a unit (`unit`, `command`, `kind`, `resource`, `action`, `message`)",
    ),
    (
        "unit",
        "a unit finished: `unit`, `kind`, `status` (applied, unchanged, planned, failed, blocked, pruned, destroyed), `changes` (add/change/remove), `k8s_writes`, `duration_s`, `diagnostics`; "
        "for plan also `action` (prune) and `resources`: each `address` (a Terraform address, or `Kind namespace/name`) with its `action` (create, update, replace, destroy, read), "
        "a `reason` for replaces, and `attributes` (`path`, `old`, `new`; sensitive values read `(sensitive)`, unknown ones `(known after apply)`)",
    ),
    (
        "where",
        "apply: where things went: `manifests` (directories), `clusters` (context/namespace), `state` (its location), `next` (commands to run next)",
    ),
    (
        "interrupted",
        "Ctrl-C or SIGTERM stopped the run: `command`, `resume` (the command to run next), `unfinished` units",
    ),
    ("internal_error", "a bug: `error`, `where`, `message`"),
]


def _value(p) -> str:
    if getattr(p, "is_flag", False):
        return "flag"
    annotation = getattr(getattr(p, "type_descriptor", None), "annotation", None)
    if getattr(p, "multiple", False):
        annotation = next(iter(typing.get_args(annotation)), None)
    name = getattr(annotation, "__name__", None) or "value"
    if getattr(p, "multiple", False):
        name += ", repeatable"
    lo, hi = getattr(p, "min", None), getattr(p, "max", None)
    if lo is not None or hi is not None:
        name += f" {lo if lo is not None else ''}..{hi if hi is not None else ''}"
    return name.lower()


def _default(p) -> str:
    d = p.default
    if getattr(p, "required", False):
        return "required"
    if d is None or d == [] or d is False or d == ():
        return ""
    if isinstance(d, (list, tuple)):
        d = " ".join(map(str, d))
    return f"`{d}`"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ").strip()


def _commands(cmd, path: tuple[str, ...] = ()):
    subs = getattr(cmd, "commands", None)
    if path:
        yield path, cmd
    for name, sub in (subs or {}).items():  # in the order the CLI registers them
        yield from _commands(sub, (*path, name))


def _usage(cmd, path: tuple[str, ...]) -> str:
    pieces = []
    if getattr(cmd, "commands", None):
        pieces.append("COMMAND [ARGS]...")
    else:
        pieces.append("[OPTIONS]")
        for p in cmd.params:
            if p.param_type_name == "argument":
                arg = p.name.upper() + ("..." if p.nargs == -1 else "")
                pieces.append(arg if p.required else f"[{arg}]")
    return " ".join(["appc", *path, *pieces])


def command_section(path: tuple[str, ...], cmd) -> list[str]:
    out = [f"### appc {' '.join(path)}", "", "```", _usage(cmd, path), "```", "", _cell(cmd.help) or "", ""]
    subs = getattr(cmd, "commands", None)
    if subs:
        out += ["| command | what it does |", "|---|---|"]
        out += [f"| `appc {' '.join(path)} {n}` | {_cell(s.help)} |" for n, s in subs.items()]
        return out + [""]
    args = [p for p in cmd.params if p.param_type_name == "argument"]
    if args:
        out += ["| argument | required | description |", "|---|---|---|"]
        out += [
            f"| `{p.name.upper()}{'...' if p.nargs == -1 else ''}` | {'yes' if p.required else 'no'} | {_cell(getattr(p, 'help', ''))} |"
            for p in args
        ]
        out.append("")
    opts = [p for p in cmd.params if p.param_type_name == "option"]
    out += ["| option | environment variable | value | default | description |", "|---|---|---|---|---|"]
    for p in opts:
        names = ", ".join(f"`{o}`" for o in sorted(p.opts, key=len))
        env = p.envvar if isinstance(p.envvar, str) else ", ".join(p.envvar or [])
        out.append(
            f"| {names} | {f'`{env}`' if env else ''} | {_value(p)} | {_default(p)} | {_cell(getattr(p, 'help', ''))} |"
        )
    out.append("| `-h`, `--help` |  | flag |  | Show the help and exit. |")
    return out + [""]


def generate() -> str:
    root = typer.main.get_command(cli.app)
    lines = [
        "# The appc command line",
        "",
        "<!-- Generated from the CLI by scripts/gen_cli_docs.py: do not edit by hand. -->",
        "<!-- Regenerate: python scripts/gen_cli_docs.py (or pytest tests/test_cli_docs.py --update-golden). -->",
        "",
        _cell(root.help),
        "",
        "```",
        "appc [--version] [-h] COMMAND [ARGS]...",
        "```",
        "",
        "Every option can also be set through the environment variable beside it, for CI: a flag",
        "reads `1`/`true`/`yes`/`on` as set (`COMPOSER_JSON=1`), a repeatable path option reads a",
        "`:`-separated list (`COMPOSER_CATALOG=defs/a:defs/b`). The command line wins over the",
        "variable. `appc` runs non-interactively when stdin or stdout is not a terminal or",
        "`CI` is set: `apply` and `destroy` then refuse to run without `--auto-approve` (or, for",
        "apply, a saved plan file) and exit 1 saying so.",
        "",
        "## Exit codes",
        "",
        "| code | meaning |",
        "|---|---|",
        *[f"| {code} | {meaning} |" for code, meaning in EXIT_CODES],
        "",
        "## `--json` events",
        "",
        "With `--json`, stdout carries one JSON object per line, each with a `type`; people-facing",
        "text is not printed. The last line is always the `summary`. Diagnostics are `diagnostic`",
        "events. No event ever carries a secret value (outputs marked secret are masked, Terraform's",
        "sensitive values never leave it).",
        "",
        "| type | when and what |",
        "|---|---|",
        *[f"| `{t}` | {d} |" for t, d in EVENTS],
        "",
        "Commands add their own events (`validated`, `rendered`, `status`, `outputs`, `definition`,",
        "`environment`, `sandbox`, ...) before the summary; consumers should ignore types they do",
        "not know.",
        "",
        "## Shell completion",
        "",
        "```bash",
        "appc --install-completion      # installs completion for the shell you run (bash, zsh, fish, PowerShell)",
        "appc --show-completion         # prints the script instead, to install it yourself",
        "```",
        "",
        "Restart the shell afterwards. Completion covers commands and options.",
        "",
        "## Commands",
        "",
    ]
    for path, cmd in _commands(root):
        lines += command_section(path, cmd)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
