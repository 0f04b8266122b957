"""Terraform's commands for the engine (the `TerraformPort`), and its errors in diagnostics.

Terraform runs with `-json` UI output, parsed line by line into events and Diagnostics; a
failure is a `TerraformError` (a `DiagnosticError`) with Terraform's own diagnostics, or its
error text when it wrote none, and the module outputs it found missing. The process itself
(own session, timeouts, clean interrupts, output through files) is terraform_process.py; its
environment (an allowlist, the CLI config with the provider mirror and a shared plugin cache)
is terraform_env.py. Both are re-exported here.

Input variables (upstream outputs) travel as TF_VAR_* environment variables, never on
the command line, so secret values do not show in process listings.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from composer.diagnostics import Diagnostic
from composer.engine.ports import TerraformFailure
from composer.runners.terraform_env import (
    MIRROR_ENV,
    PASS_ENV,
    allowed_variable,
    cli_config_text,
    default_plugin_cache,
    environment_warnings,
    find_provider_mirror,
    terraform_binary,
    terraform_environment,
    write_cli_config,
)
from composer.runners.terraform_process import (
    interrupt_all,
    interrupted,
    reset_interrupt,
    run_process,
)
from composer.runners.terraform_providers import Lease, ProviderPool
from composer.runners.terraform_stream import Changes, _changes

__all__ = [
    "Changes",
    "TerraformError",
    "TerraformRunner",
    "interrupt_all",
    "interrupted",
    "reset_interrupt",
    "MIRROR_ENV",
    "PASS_ENV",
    "allowed_variable",
    "cli_config_text",
    "default_plugin_cache",
    "environment_warnings",
    "find_provider_mirror",
    "terraform_binary",
    "terraform_environment",
    "write_cli_config",
]


# -- running -------------------------------------------------------------------------------


class TerraformError(TerraformFailure):
    """A failed terraform run, in diagnostics: Terraform's `-json` diagnostics as they are, or
    its error text when it wrote none, and the module outputs it found missing."""

    def __init__(
        self,
        unit: str,
        command: str,
        diagnostics: list[Diagnostic] | None = None,
        interrupted: bool = False,
        timed_out: bool = False,
    ):
        self.unit = unit
        self.command = command
        self.interrupted = interrupted
        self.timed_out = timed_out
        diags = list(diagnostics or [])
        super().__init__(diags, missing_module_outputs(diags))

    def __str__(self) -> str:
        first = self.diagnostics[0].summary if self.diagnostics else "failed"
        return f"terraform {self.command} failed for unit {self.unit}: {first}"


Event = Callable[[str, dict], None]  # (type, fields)
_PROVIDER_COMMANDS = ("plan", "apply", "show")  # the commands that start providers


@contextmanager
def _no_lease() -> Iterator[Lease]:
    yield Lease({})


_LOG_LINE = re.compile(r"^\S+ \[(TRACE|DEBUG|INFO|WARN|ERROR)\]")


def _provider_set(workdir: Path) -> str | None:
    """The root's required providers, as a key (None: unreadable, so init takes the lock)."""
    try:
        doc = json.loads((workdir / "main.tf.json").read_bytes())
        return json.dumps((doc.get("terraform") or {}).get("required_providers"), sort_keys=True)
    except (OSError, ValueError, AttributeError):
        return None


_UNSUPPORTED_ATTRIBUTE = re.compile(r'attribute named "([a-z_0-9]+)"')


def missing_module_outputs(diagnostics: list[Diagnostic]) -> tuple[str, ...]:
    """Module outputs the rendered root reads that the module lacks: Terraform reports them
    as "Unsupported attribute" in main.tf.json, naming the attribute in its detail."""
    found = []
    for d in diagnostics:
        m = _UNSUPPORTED_ATTRIBUTE.search(d.detail or "")
        if d.summary == "Unsupported attribute" and d.file == "main.tf.json" and m:
            found.append(m.group(1))
    return tuple(found)


def _diag_from_json(unit: str, d: Mapping[str, Any]) -> Diagnostic:
    rng = d.get("range") or {}
    start = rng.get("start") or {}
    detail = d.get("detail") or ""
    if d.get("address"):
        detail = f"{d['address']}: {detail}" if detail else d["address"]
    return Diagnostic(
        summary=d.get("summary") or "terraform error",
        detail=detail[:2000],
        file=rng.get("filename"),
        line=start.get("line"),
        column=start.get("column"),
        address=unit,
    )


class TerraformRunner:
    """Runs terraform for one unit at a time; safe to use from several threads."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        binary: str | None = None,
        timeout: float = 3600.0,
        on_event: Event | None = None,
        lock_timeout: str = "120s",
        provider_processes: int = 0,
        provider_cwd: Path | None = None,
    ):
        self.binary = binary or terraform_binary()
        self.env = dict(env)
        self.timeout = timeout
        self.on_event = on_event or (lambda t, f: None)
        self.lock_timeout = lock_timeout
        self.runs = 0
        self._count_lock = threading.Lock()
        self._init_lock = threading.Lock()  # the plugin cache is not safe for concurrent installs
        self._warm: set[str] = set()  # provider sets one init of this run put in the cache: later inits only link
        # plan, apply and show attach to pooled provider processes (terraform_providers.py);
        # 0: every run starts its own.
        self.providers = ProviderPool(self.env, provider_processes, provider_cwd or Path.cwd())
        if provider_processes <= 0:
            self.providers.disabled = "no provider processes asked for"

    def close(self) -> None:
        """Stop the pooled provider processes; the engine's owner calls it when a command ends."""
        self.providers.close()

    def _binary_to_start(self, unit: str, command: str) -> str:
        """The terraform binary, unless none is installed or an interrupt came first."""
        if self.binary is None:
            raise TerraformError(
                unit,
                command,
                [
                    Diagnostic(
                        "terraform is not installed",
                        "install Terraform >= 1.11 and put it on PATH (or set COMPOSER_TERRAFORM)",
                        address=unit,
                    )
                ],
            )
        if interrupted():
            raise TerraformError(
                unit, command, [Diagnostic("interrupted before terraform started", address=unit)], interrupted=True
            )
        return self.binary

    def _run(
        self,
        unit: str,
        command: str,
        args: list[str],
        cwd: Path,
        variables: Mapping[str, str] | None = None,
        json_ui: bool = True,
    ) -> tuple[int, list[dict], str, str]:
        binary = self._binary_to_start(unit, command)
        env = dict(self.env)
        for k, v in (variables or {}).items():
            env[f"TF_VAR_{k}"] = v
        with self._count_lock:
            self.runs += 1
        messages: list[dict] = []
        raw_out: list[str] = []

        def on_line(line: str) -> None:
            if json_ui and line.startswith("{"):
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError:
                    raw_out.append(line)
                    return
                messages.append(msg)
                self._emit(unit, command, msg)
            else:
                raw_out.append(line)

        # Output goes to files, not pipes (except `output` and `show`: they print secret values
        # and change nothing); terraform_process.py says why.
        with self.providers.lease(cwd) if command in _PROVIDER_COMMANDS else _no_lease() as lease:
            env.update(lease.env)
            finished = run_process(
                [binary, *args],
                cwd,
                env,
                self.timeout,
                on_line,
                to_files=command not in ("output", "show"),
                on_start=lease.started,
            )
            lease.reusable = not (finished.timed_out or interrupted())
        if finished.timed_out:
            raise TerraformError(
                unit,
                command,
                [
                    Diagnostic(
                        f"terraform {command} timed out after {self.timeout:.0f} s",
                        "it was asked to stop; raise --timeout if the resource is slow to converge",
                        address=unit,
                    )
                ],
                timed_out=True,
            )
        return finished.code, messages, "".join(raw_out), finished.stderr

    def _emit(self, unit: str, command: str, msg: dict) -> None:
        mtype = msg.get("type")
        if mtype in (
            "apply_start",
            "apply_progress",
            "apply_complete",
            "apply_errored",
            "planned_change",
            "change_summary",
            "refresh_start",
            "refresh_complete",
        ):
            hook = msg.get("hook") or msg.get("change") or {}
            resource = (hook.get("resource") or {}).get("addr")
            self.on_event(
                "terraform",
                {
                    "unit": unit,
                    "command": command,
                    "kind": mtype,
                    "resource": resource,
                    "action": hook.get("action"),
                    "elapsed_s": hook.get("elapsed_seconds"),
                    "message": msg.get("@message", "")[:300],
                },
            )

    def _fail(self, unit: str, command: str, code: int, messages: list[dict], out: str, err: str) -> TerraformError:
        diags = [
            _diag_from_json(unit, m["diagnostic"])
            for m in messages
            if m.get("type") == "diagnostic" and (m.get("diagnostic") or {}).get("severity") == "error"
        ]
        if not diags:
            text = (err or out).strip()
            # Never quote Terraform's debug log (TF_LOG): its lines carry request bodies.
            lines = [
                line.strip()
                for line in text.splitlines()
                if line.strip() and not set(line.strip()) <= set("╷╵│─") and not _LOG_LINE.match(line)
            ]
            summary = next(
                (line.removeprefix("│").strip().removeprefix("Error:").strip() for line in lines if "Error" in line),
                lines[0] if lines else f"exit code {code}",
            )
            diags = [Diagnostic(summary[:300], "\n".join(lines[:30])[:2000], address=unit)]
        return TerraformError(unit, command, diags, interrupted=interrupted())

    # -- commands ------------------------------------------------------------------------
    def init(self, unit: str, workdir: Path, backend_config: Mapping[str, str] | None = None) -> None:
        args = ["init", "-input=false", "-no-color", f"-lock-timeout={self.lock_timeout}"]
        for k, v in (backend_config or {}).items():
            args.append(f"-backend-config={k}={v}")
        # Installs into the shared plugin cache run one at a time; once a provider set is in the
        # cache, inits of roots needing the same set only link it and run in parallel.
        key = _provider_set(workdir)
        if key is not None and key in self._warm:
            code, messages, out, err = self._run(unit, "init", args, workdir, json_ui=False)
        else:
            with self._init_lock:
                code, messages, out, err = self._run(unit, "init", args, workdir, json_ui=False)
                if code == 0 and key is not None:
                    self._warm.add(key)
        if code != 0:
            raise self._fail(unit, "init", code, messages, out, err)

    def plan(
        self,
        unit: str,
        workdir: Path,
        planfile: Path,
        variables: Mapping[str, str] | None = None,
        *,
        destroy: bool = False,
        refresh: bool = True,
        refresh_only: bool = False,
    ) -> Changes:
        args = [
            "plan",
            "-json",
            "-input=false",
            "-detailed-exitcode",
            f"-lock-timeout={self.lock_timeout}",
            f"-out={planfile}",
        ]
        if destroy:
            args.append("-destroy")
        if not refresh:
            args.append("-refresh=false")
        if refresh_only:  # appc drift: what changed outside Terraform, nothing planned to change it back
            args.append("-refresh-only")
        code, messages, out, err = self._run(unit, "plan", args, workdir, variables)
        if code not in (0, 2):
            raise self._fail(unit, "plan", code, messages, out, err)
        return _changes(messages)

    def apply(
        self,
        unit: str,
        workdir: Path,
        planfile: Path | None = None,
        variables: Mapping[str, str] | None = None,
        *,
        destroy: bool = False,
    ) -> Changes:
        """Apply a saved plan, or (no planfile) plan and apply in one process: the provider
        starts once instead of twice, which is most of a unit's time with large providers."""
        args = ["apply", "-json", "-input=false", "-auto-approve", f"-lock-timeout={self.lock_timeout}"]
        if planfile is not None:
            # A saved plan carries its variables, except ephemeral ones, which Terraform requires
            # again at apply: callers pass exactly those.
            args.append(str(planfile))
        elif destroy:
            args.append("-destroy")
        code, messages, out, err = self._run(unit, "apply", args, workdir, variables)
        if code != 0:
            raise self._fail(unit, "apply", code, messages, out, err)
        return _changes(messages)

    def show(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]:
        """`terraform show -json PLANFILE`: the saved plan as JSON (resource_changes, ...)."""
        code, _, out, err = self._run(
            unit, "show", ["show", "-json", "-no-color", str(planfile)], workdir, json_ui=False
        )
        if code != 0:
            raise self._fail(unit, "show", code, [], out, err)
        try:
            return json.loads(out or "{}")
        except json.JSONDecodeError:
            raise TerraformError(
                unit, "show", [Diagnostic("terraform show -json returned unreadable output", address=unit)]
            ) from None

    def outputs(self, unit: str, workdir: Path) -> dict[str, tuple[Any, bool]]:
        """name -> (value, sensitive). Values stay in memory; callers must not log them."""
        data = self._run_json(unit, "output", ["output", "-json", "-no-color"], workdir, quote_stdout=True)
        return {k: (v.get("value"), bool(v.get("sensitive"))) for k, v in data.items()}

    def show_json(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]:
        """`terraform show -json PLANFILE`: the plan's resource changes. It holds sensitive
        values in clear (marked in `*_sensitive`): callers redact before showing anything."""
        data = self._run_json(unit, "show", ["show", "-json", "-no-color", str(planfile)], workdir, quote_stdout=False)
        return data if isinstance(data, dict) else {}

    def _run_json(self, unit: str, verb: str, args: list[str], workdir: Path, *, quote_stdout: bool) -> Any:
        """`terraform VERB -json`'s stdout, parsed. A failure may quote stdout only when
        `quote_stdout` (a plan's `show -json` holds sensitive values in clear)."""
        code, _, out, err = self._run(unit, verb, args, workdir, json_ui=False)
        if code != 0:
            raise self._fail(unit, verb, code, [], out if quote_stdout else "", err)
        try:
            return json.loads(out or "{}")
        except json.JSONDecodeError:
            raise TerraformError(
                unit, verb, [Diagnostic(f"terraform {verb} -json returned unreadable output", address=unit)]
            ) from None

    def resources(self, unit: str, workdir: Path) -> list[str] | None:
        """Addresses in the unit's Terraform state, or None when there is no state at all."""
        code, _, out, err = self._run(unit, "state list", ["state", "list", "-no-color"], workdir, json_ui=False)
        if code != 0:
            if "No state file was found" in err or "No state file was found" in out:
                return None
            raise self._fail(unit, "state list", code, [], out, err)
        return [line for line in out.splitlines() if line.strip()]
