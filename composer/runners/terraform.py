"""Terraform as a subprocess: CLI configuration, provider mirror discovery, and runs.

Terraform runs with `-json` UI output, parsed line by line into events and
Diagnostics. Every call has a timeout. Processes run in their own session, so the
terminal's Ctrl-C does not reach them twice: `interrupt_all()` (called from the CLI's
signal handler) sends terraform one SIGINT, which makes it stop cleanly and save its
state; a process group still running after the grace period is killed. A --timeout
stops a run the same way. The environment
is an allowlist (provider credentials, proxies, PATH, HOME, locale; see
`terraform_environment`), never the whole parent environment, and always carries
TF_IN_AUTOMATION=1 and a shared plugin cache, so N units never cost N
provider downloads; when a local provider mirror is known (and TF_CLI_CONFIG_FILE
does not name an existing config of the user's), a CLI config pointing at it is used.

Input variables (upstream outputs) travel as TF_VAR_* environment variables, never on
the command line, so secret values do not show in process listings.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from composer import safefs
from composer.diagnostics import Diagnostic

MIRROR_ENV = "COMPOSER_PROVIDER_MIRROR"
GRACE_SECONDS = 60.0

# Where filesystem mirrors are usually kept (Terraform's implied mirror directories,
# and images that unpack one under /opt). The first that holds registry.terraform.io wins.
_MIRROR_CANDIDATES = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt/*",
    "/opt/*/*",
)


def find_provider_mirror() -> Path | None:
    """The root of a local provider mirror (the directory holding registry.terraform.io)."""
    env = os.environ.get(MIRROR_ENV)
    if env:
        return Path(env) if (Path(env) / "registry.terraform.io").is_dir() else None
    for pattern in _MIRROR_CANDIDATES:
        for candidate in sorted(glob.glob(os.path.expanduser(pattern))):
            if Path(candidate, "registry.terraform.io").is_dir():
                return Path(candidate)
    return None


def cli_config_text(mirror: Path | None, plugin_cache: Path) -> str:
    lines = [f'plugin_cache_dir = "{plugin_cache.as_posix()}"', "plugin_cache_may_break_dependency_lock_file = true"]
    if mirror is not None:
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror.as_posix()}"',
            '    include = ["registry.terraform.io/*/*"]',
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"


def write_cli_config(path: Path, mirror: Path | None, plugin_cache: Path) -> Path:
    """Write a Terraform CLI config that uses `mirror` (if any) and a shared plugin cache."""
    plugin_cache.mkdir(parents=True, exist_ok=True)
    # A temp file with a random name in the (vetted) directory, renamed over the config: a
    # link planted at the config's name, or at a fixed temp name, is never written through.
    safefs.write_file(path.parent, path.name, cli_config_text(mirror, plugin_cache).encode())
    return path


def terraform_binary() -> str | None:
    return shutil.which(os.environ.get("COMPOSER_TERRAFORM", "terraform"))


def default_plugin_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "appc" / "plugin-cache"


# Terraform's environment is an allowlist, not the parent's: a module can read its own process
# environment (file("/proc/self/environ")), so a CI token or any unrelated secret must not be in it.
PASS_ENV = "COMPOSER_TERRAFORM_PASS_ENV"  # extra names, comma-separated (e.g. VAULT_TOKEN for a vault provider)
_ALLOWED_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TMP", "TEMP", "LANG", "LANGUAGE", "TZ", "KUBECONFIG",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy",
        "SSL_CERT_FILE", "SSL_CERT_DIR",
        "SYSTEMROOT", "WINDIR", "APPDATA", "LOCALAPPDATA", "USERPROFILE", "PROGRAMDATA",  # Terraform on Windows
        # the TF_* Composer reads or sets; TF_LOG* pass so that debugging works (with a warning)
        "TF_IN_AUTOMATION", "TF_INPUT", "TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_DIR", "CHECKPOINT_DISABLE",
        "TF_LOG", "TF_LOG_PATH", "TF_LOG_CORE", "TF_LOG_PROVIDER",
    }
)  # fmt: skip
# Provider credentials and settings: AWS, Google, Azure, Kubernetes; LC_* locales; TF_TOKEN_<host>
# (registry and module credentials).
_ALLOWED_PREFIXES = ("AWS_", "GOOGLE_", "CLOUDSDK_", "ARM_", "AZURE_", "KUBE_", "LC_", "TF_TOKEN_")


def allowed_variable(name: str, extra: frozenset[str] = frozenset()) -> bool:
    return name in _ALLOWED_NAMES or name in extra or name.startswith(_ALLOWED_PREFIXES)


def terraform_environment(config_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment for terraform runs: the allowlisted part of `base` (the process
    environment by default) plus what Composer sets."""
    source = dict(os.environ if base is None else base)
    extra = frozenset(n.strip() for n in source.get(PASS_ENV, "").split(",") if n.strip())
    env = {k: v for k, v in source.items() if allowed_variable(k, extra)}
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env["CHECKPOINT_DISABLE"] = "1"
    user_cfg = env.get("TF_CLI_CONFIG_FILE")
    cache = Path(env.get("TF_PLUGIN_CACHE_DIR") or default_plugin_cache())
    if user_cfg and Path(user_cfg).is_file():
        env.setdefault("TF_PLUGIN_CACHE_DIR", str(cache))
        cache.mkdir(parents=True, exist_ok=True)
    else:
        env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(config_dir / "terraform.rc", find_provider_mirror(), cache))
    return env


def environment_warnings(env: Mapping[str, str] | None = None) -> list[str]:
    """What a person should know about the environment Terraform will get."""
    env = os.environ if env is None else env
    if env.get("TF_LOG", "").strip():
        where = "to the file TF_LOG_PATH names" if env.get("TF_LOG_PATH") else "to Terraform's stderr"
        return [
            f"TF_LOG is set: Terraform writes a debug log {where} that holds API request "
            "and response bodies, secret values included (a database password). Unset it unless you are "
            "debugging, and never keep that log as a CI artifact"
        ]
    return []


# -- running -------------------------------------------------------------------------------


@dataclass
class Changes:
    add: int = 0
    change: int = 0
    remove: int = 0
    # (address, resource type, action) of every planned_change the run streamed
    resource_actions: tuple[tuple[str, str, str], ...] = ()
    # An apply's root outputs from its own -json stream (name -> (value, sensitive)); None when
    # a sensitive output's value is not in the stream, so `terraform output -json` must run.
    outputs: dict[str, tuple[Any, bool]] | None = None

    @property
    def any(self) -> bool:
        return bool(self.add or self.change or self.remove)


@dataclass
class TerraformError(Exception):
    unit: str
    command: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    interrupted: bool = False
    timed_out: bool = False

    def __str__(self) -> str:
        first = self.diagnostics[0].summary if self.diagnostics else "failed"
        return f"terraform {self.command} failed for unit {self.unit}: {first}"


Event = Callable[[str, dict], None]  # (type, fields)
_LOG_LINE = re.compile(r"^\S+ \[(TRACE|DEBUG|INFO|WARN|ERROR)\]")

_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()
_interrupted = threading.Event()


def interrupt_all() -> int:
    """Ask every running terraform to stop cleanly (one SIGINT each). Returns how many."""
    _interrupted.set()
    with _running_lock:
        procs = list(_running)
    for p in procs:
        _ask_to_stop(p)
    return len(procs)


def _ask_to_stop(proc: subprocess.Popen) -> None:
    """SIGINT to terraform itself, not its process group: terraform stops its provider plugins
    and saves state; a plugin that got the signal too could die mid-handshake or mid-create.
    If it is still running after the grace period, the whole group is killed, so no wait
    (an interrupt, a --timeout) is ever unbounded."""
    try:
        os.kill(proc.pid, signal.SIGINT)
    except (ProcessLookupError, PermissionError):
        return
    killer = threading.Timer(GRACE_SECONDS, lambda: _signal(proc, signal.SIGKILL) if proc.poll() is None else None)
    killer.daemon = True
    killer.start()


def interrupted() -> bool:
    return _interrupted.is_set()


def reset_interrupt() -> None:
    _interrupted.clear()


def _changes(messages: list[dict]) -> Changes:
    """The last change summary of a -json run (plan or apply), and its planned resource actions."""
    counts: dict = {}
    actions = []
    for m in messages:
        if m.get("type") == "change_summary":
            counts = m.get("changes") or {}
        elif m.get("type") == "planned_change":
            change = m.get("change") or {}
            resource = change.get("resource") or {}
            actions.append(
                (str(resource.get("addr", "")), str(resource.get("resource_type", "")), str(change.get("action", "")))
            )
    return Changes(
        counts.get("add", 0),
        counts.get("change", 0),
        counts.get("remove", 0),
        tuple(actions),
        _streamed_outputs(messages),
    )


def _provider_set(workdir: Path) -> str | None:
    """The root's required providers, as a key (None: unreadable, so init takes the lock)."""
    try:
        doc = json.loads((workdir / "main.tf.json").read_bytes())
        return json.dumps((doc.get("terraform") or {}).get("required_providers"), sort_keys=True)
    except (OSError, ValueError, AttributeError):
        return None


def _streamed_outputs(messages: list[dict]) -> dict[str, tuple[Any, bool]] | None:
    """The values of the last `outputs` message (sent after an apply), when every output has
    its value there: the JSON UI leaves sensitive values out, and then None says so."""
    last = next((m for m in reversed(messages) if m.get("type") == "outputs"), None)
    outputs = last.get("outputs") if last else None
    if not isinstance(outputs, dict) or not all(isinstance(o, dict) and "value" in o for o in outputs.values()):
        return None
    return {k: (o["value"], bool(o.get("sensitive"))) for k, o in outputs.items()}


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

    def close(self) -> None:
        """Nothing to release today; the engine's owner calls it when a command ends."""

    def _run(
        self,
        unit: str,
        command: str,
        args: list[str],
        cwd: Path,
        variables: Mapping[str, str] | None = None,
        json_ui: bool = True,
    ) -> tuple[int, list[dict], str, str]:
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
        env = dict(self.env)
        for k, v in (variables or {}).items():
            env[f"TF_VAR_{k}"] = v
        with self._count_lock:
            self.runs += 1
        # Output goes to files, not pipes (except `output` and `show`: they print secret values
        # and change nothing). Terraform prints a JSON line after each resource it creates and only then
        # saves its state; with a pipe, a killed appc (kill -9) takes terraform down with SIGPIPE
        # between the two, and the resource is left in the cloud with no state knowing it.
        logs = _OutputFiles(cwd) if command not in ("output", "show") else None
        try:
            proc = subprocess.Popen(
                [self.binary, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=logs.stdout if logs else subprocess.PIPE,
                stderr=logs.stderr if logs else subprocess.PIPE,
                text=True,
                start_new_session=True,
                umask=0o077,  # state, plan files and .terraform/ it creates are the user's alone
            )
        except BaseException:
            if logs:
                logs.opened()
                logs.remove()
            raise
        if logs:
            logs.opened()
        with _running_lock:
            _running.add(proc)
        messages: list[dict] = []
        raw_out: list[str] = []
        err_chunks: list[str] = []
        timed_out = threading.Event()

        def drain_stderr() -> None:
            for line in logs.follow(logs.stderr_path, proc) if logs else proc.stderr:
                if sum(map(len, err_chunks)) < 100_000:
                    err_chunks.append(line)

        t_err = threading.Thread(target=drain_stderr, daemon=True)
        t_err.start()
        timer = threading.Timer(self.timeout, lambda: (timed_out.set(), _ask_to_stop(proc)))
        timer.daemon = True
        timer.start()
        try:
            for line in logs.follow(logs.stdout_path, proc) if logs else proc.stdout:
                if json_ui and line.startswith("{"):
                    try:
                        msg = json.loads(line)
                    except json.JSONDecodeError:
                        raw_out.append(line)
                        continue
                    messages.append(msg)
                    self._emit(unit, command, msg)
                else:
                    raw_out.append(line)
            try:
                code = proc.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                code = proc.wait()
        finally:
            timer.cancel()
            t_err.join(timeout=5)
            with _running_lock:
                _running.discard(proc)
            if logs:
                logs.remove()
        stderr = "".join(err_chunks)
        if timed_out.is_set():
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
        return code, messages, "".join(raw_out), stderr

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
                l.strip()
                for l in text.splitlines()
                if l.strip() and not set(l.strip()) <= set("╷╵│─") and not _LOG_LINE.match(l)
            ]
            summary = next(
                (l.removeprefix("│").strip().removeprefix("Error:").strip() for l in lines if "Error" in l),
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
        code, _, out, err = self._run(unit, "output", ["output", "-json", "-no-color"], workdir, json_ui=False)
        if code != 0:
            raise self._fail(unit, "output", code, [], out, err)
        try:
            data = json.loads(out or "{}")
        except json.JSONDecodeError:
            raise TerraformError(
                unit, "output", [Diagnostic("terraform output -json returned unreadable output", address=unit)]
            ) from None
        return {k: (v.get("value"), bool(v.get("sensitive"))) for k, v in data.items()}

    def show_json(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]:
        """`terraform show -json PLANFILE`: the plan's resource changes. It holds sensitive
        values in clear (marked in `*_sensitive`): callers redact before showing anything."""
        code, _, out, err = self._run(
            unit, "show", ["show", "-json", "-no-color", str(planfile)], workdir, json_ui=False
        )
        if code != 0:
            raise self._fail(unit, "show", code, [], "", err)
        try:
            data = json.loads(out or "{}")
        except json.JSONDecodeError:
            raise TerraformError(
                unit, "show", [Diagnostic("terraform show -json returned unreadable output", address=unit)]
            ) from None
        return data if isinstance(data, dict) else {}

    def resources(self, unit: str, workdir: Path) -> list[str] | None:
        """Addresses in the unit's Terraform state, or None when there is no state at all."""
        code, _, out, err = self._run(unit, "state list", ["state", "list", "-no-color"], workdir, json_ui=False)
        if code != 0:
            if "No state file was found" in err or "No state file was found" in out:
                return None
            raise self._fail(unit, "state list", code, [], out, err)
        return [l for l in out.splitlines() if l.strip()]


class _OutputFiles:
    """A terraform run's stdout and stderr as files in its working directory, read while it
    runs (see TerraformRunner._run for why not pipes). Removed when the run ends; a run whose
    appc was killed leaves them behind (they hold Terraform's -json UI, which redacts
    sensitive values)."""

    def __init__(self, cwd: Path) -> None:
        import tempfile

        fd, out = tempfile.mkstemp(dir=cwd, prefix=".appc-terraform-", suffix=".out")
        self.stdout, self.stdout_path = os.fdopen(fd, "wb"), Path(out)
        fd, err = tempfile.mkstemp(dir=cwd, prefix=".appc-terraform-", suffix=".err")
        self.stderr, self.stderr_path = os.fdopen(fd, "wb"), Path(err)

    def opened(self) -> None:
        """The child holds its own copies now."""
        self.stdout.close()
        self.stderr.close()

    @staticmethod
    def follow(path: Path, proc: subprocess.Popen, poll: float = 0.02):
        """Lines of a file another process is writing, until that process has exited."""
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            partial = ""
            while True:
                line = fh.readline()
                if line:
                    partial += line
                    if partial.endswith("\n"):
                        yield partial
                        partial = ""
                    continue
                if proc.poll() is not None:
                    rest = partial + fh.read()
                    yield from rest.splitlines(keepends=True)
                    return
                time.sleep(poll)

    def remove(self) -> None:
        for path in (self.stdout_path, self.stderr_path):
            try:
                path.unlink()
            except OSError:
                pass


def _signal(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
