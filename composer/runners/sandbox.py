"""The local sandbox: Composer's embedded AWS emulator, per command or long-lived.

An environment with `cloud: {provider: aws, emulator: embedded}` never reaches real AWS:
every AWS client of the command (Terraform's provider, boto3) is pointed at the emulator
through environment variables, with throw-away credentials.

- `appc sandbox up` starts a long-lived emulator (a background process) and records it in
  `.composer/sandbox.json`; later commands use it, so resources persist between runs.
- Without one, each command starts an emulator for its own duration.

Each emulator has an instance id. Composer state remembers the id it was made against;
when the emulator is a different one (restarted, or per-command), the sandbox's state
is reset before anything runs, so state never points at resources the emulator forgot.

`.composer/sandbox.json` may be stale or hostile, so a pid in it is trusted only when that
process is still the emulator appc started: its command line runs providers.aws.emulator
with this project's port file, and its start time (from /proc) is the one recorded at
`up`. `down` signals nothing else; files here are written through composer/safefs.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from composer import safefs
from composer.diagnostics import Diagnostic, DiagnosticError

SANDBOX_FILE = "sandbox.json"
DUMMY_KEY = "sandbox"


@dataclass(frozen=True)
class Sandbox:
    url: str
    pid: int
    instance: str
    started: str
    log: str = ""
    start_ticks: int = 0  # the process's start time in clock ticks after boot (/proc/PID/stat)


@dataclass(frozen=True)
class Stopped:
    sandbox: Sandbox | None  # what sandbox.json named, if anything
    stopped: bool  # an emulator appc started was signalled
    note: str = ""


def _need_local_extra() -> None:
    try:
        import moto  # noqa: F401
    except ImportError:
        raise DiagnosticError(
            [
                Diagnostic(
                    "the embedded AWS emulator is not installed",
                    "install the local extra: pip install 'appcomposer[local]'",
                )
            ]
        ) from None


def _responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as resp:
            return resp.status == 200
    except Exception:
        return False


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (after the parenthesised command name, which may hold spaces)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _is_ours(sb: Sandbox, state_dir: Path) -> bool:
    """Whether pid is still the emulator `up` started for this project: the same start time
    and a command line running providers.aws.emulator with this project's port file."""
    if sb.pid <= 1 or not sb.start_ticks or _start_ticks(sb.pid) != sb.start_ticks:
        return False
    try:
        argv = Path(f"/proc/{sb.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"providers.aws.emulator" in argv and str(state_dir / "sandbox.port").encode() in argv


def _recorded(state_dir: Path) -> Sandbox | None:
    try:
        data = safefs.read_file(state_dir, SANDBOX_FILE)
        sb = Sandbox(**json.loads(data)) if data is not None else None
    except (DiagnosticError, ValueError, TypeError):
        return None
    if (
        sb is None
        or not isinstance(sb.pid, int)
        or not isinstance(sb.start_ticks, int)
        or not str(sb.url).startswith("http://127.0.0.1:")
    ):
        return None
    return sb


def current(state_dir: Path) -> Sandbox | None:
    """The long-lived sandbox of this project, if it is up, ours and answering."""
    sb = _recorded(state_dir)
    return sb if sb is not None and _is_ours(sb, state_dir) and _responds(sb.url) else None


def up(state_dir: Path, timeout: float = 60.0) -> tuple[Sandbox, bool]:
    """Start the long-lived emulator unless one is up. Returns (sandbox, started_now)."""
    _need_local_extra()
    existing = current(state_dir)
    if existing:
        return existing, False
    safefs.private_dir(state_dir)
    port_file = state_dir / "sandbox.port"
    safefs.remove_file(state_dir, port_file.name)
    log = state_dir / "sandbox.log"
    out = safefs.open_append(state_dir, log.name)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "providers.aws.emulator", "--port", "0", "--port-file", str(port_file), "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # outlives this command: that is the point
        )
    finally:
        os.close(out)
    deadline = time.monotonic() + timeout
    while not (port := (safefs.read_file(state_dir, port_file.name) or b"").decode().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise DiagnosticError([Diagnostic("the sandbox emulator did not start", f"see {log}")])
        time.sleep(0.1)
    sb = Sandbox(
        url=f"http://127.0.0.1:{int(port)}",
        pid=proc.pid,
        instance=str(uuid.uuid4()),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        log=str(log),
        start_ticks=_start_ticks(proc.pid) or 0,
    )
    safefs.write_file(state_dir, SANDBOX_FILE, json.dumps(asdict(sb), indent=2).encode(), mode=safefs.PRIVATE_FILE)
    return sb, True


def down(state_dir: Path, timeout: float = 20.0) -> Stopped:
    """Stop the emulator sandbox.json names, only if it is the one appc started (_is_ours)."""
    sb = _recorded(state_dir)
    if sb is None:
        return Stopped(None, False)
    if not _is_ours(sb, state_dir):
        note = f"pid {sb.pid} is not the emulator appc started (it exited, or the pid now belongs to another process); nothing was signalled"
    else:
        note = ""
        os.kill(sb.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _is_ours(sb, state_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_ours(sb, state_dir):
            os.kill(sb.pid, signal.SIGKILL)
    for name in (SANDBOX_FILE, "sandbox.port"):
        try:
            safefs.remove_file(state_dir, name)
        except DiagnosticError:
            pass  # a link or FIFO planted there is left alone, never followed
    return Stopped(sb, not note, note)


def client_environment(url: str) -> dict[str, str]:
    """What points every AWS client at the emulator, and nowhere else."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


_CLEARED = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


@contextmanager
def session(state_dir: Path) -> Iterator[tuple[str, str]]:
    """(url, instance) of the emulator this command uses; the process environment points
    every AWS client at it until the block ends."""
    sb = current(state_dir)
    stop = None
    if sb is not None:
        url, instance = sb.url, sb.instance
    else:
        _need_local_extra()
        from providers.aws.emulator import start_moto

        url, stop = start_moto(port=0)
        instance = f"ephemeral-{uuid.uuid4()}"
    saved = {k: os.environ.get(k) for k in (*client_environment(url), *_CLEARED)}
    try:
        for k in _CLEARED:
            os.environ.pop(k, None)
        os.environ.update(client_environment(url))
        yield url, instance
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if stop is not None:
            stop()
