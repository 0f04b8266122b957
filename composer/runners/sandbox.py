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
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

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


def _need_local_extra() -> None:
    try:
        import moto  # noqa: F401
    except ImportError:
        raise DiagnosticError(
            [Diagnostic("the embedded AWS emulator is not installed", "install the local extra: pip install 'appcomposer[local]'")]
        ) from None


def _responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as resp:
            return resp.status == 200
    except Exception:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def current(state_dir: Path) -> Sandbox | None:
    """The long-lived sandbox of this project, if it is up and answering."""
    path = state_dir / SANDBOX_FILE
    try:
        sb = Sandbox(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return sb if _alive(sb.pid) and _responds(sb.url) else None


def up(state_dir: Path, timeout: float = 60.0) -> tuple[Sandbox, bool]:
    """Start the long-lived emulator unless one is up. Returns (sandbox, started_now)."""
    _need_local_extra()
    existing = current(state_dir)
    if existing:
        return existing, False
    state_dir.mkdir(parents=True, exist_ok=True)
    port_file = state_dir / "sandbox.port"
    port_file.unlink(missing_ok=True)
    log = state_dir / "sandbox.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "providers.aws.emulator", "--port", "0", "--port-file", str(port_file), "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # outlives this command: that is the point
        )
    deadline = time.monotonic() + timeout
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise DiagnosticError([Diagnostic("the sandbox emulator did not start", f"see {log}")])
        time.sleep(0.1)
    url = f"http://127.0.0.1:{port_file.read_text().strip()}"
    sb = Sandbox(url=url, pid=proc.pid, instance=str(uuid.uuid4()), started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), log=str(log))
    tmp = state_dir / f".{SANDBOX_FILE}.tmp"
    tmp.write_text(json.dumps(asdict(sb), indent=2), encoding="utf-8")
    tmp.replace(state_dir / SANDBOX_FILE)
    return sb, True


def down(state_dir: Path, timeout: float = 20.0) -> Sandbox | None:
    path = state_dir / SANDBOX_FILE
    try:
        sb = Sandbox(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if _alive(sb.pid):
        os.kill(sb.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(sb.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(sb.pid):
            os.kill(sb.pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    (state_dir / "sandbox.port").unlink(missing_ok=True)
    return sb


def client_environment(url: str) -> dict[str, str]:
    """What points every AWS client at the emulator, and nowhere else."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")


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
