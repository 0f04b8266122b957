"""One terraform process: its own session, a timeout, clean interrupts, output through files.

Processes run in their own session, so the terminal's Ctrl-C does not reach them twice:
`interrupt_all()` (called from the CLI's signal handler) sends terraform one SIGINT, which makes
it stop cleanly and save its state; a process group still running after the grace period is
killed. A --timeout stops a run the same way.

Output goes to files in the working directory, not to pipes: Terraform prints a JSON line after
each resource it creates and only then saves its state; with a pipe, a killed appc (kill -9)
takes terraform down with SIGPIPE between the two, and the resource is left in the cloud with no
state knowing it. Commands that print secret values and change nothing (`output`, `show`) use
pipes, so those values never touch the disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 60.0

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


@dataclass(frozen=True)
class Finished:
    code: int
    stderr: str
    timed_out: bool


def _start(argv: list[str], cwd: Path, env: Mapping[str, str], logs: _OutputFiles | None) -> subprocess.Popen:
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
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
    return proc


def run_process(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: Callable[[str], None],
    *,
    to_files: bool,
    on_start: Callable[[int], None] | None = None,
) -> Finished:
    """Run terraform, handing each stdout line to `on_line` as it comes; stderr is kept (100 kB).
    `on_start` hears the process id as soon as it runs."""
    logs = _OutputFiles(cwd) if to_files else None
    proc = _start(argv, cwd, env, logs)
    if on_start is not None:
        on_start(proc.pid)
    with _running_lock:
        _running.add(proc)
    err_chunks: list[str] = []
    timed_out = threading.Event()

    def drain_stderr() -> None:
        for line in logs.follow(logs.stderr_path, proc) if logs else proc.stderr or ():
            if sum(map(len, err_chunks)) < 100_000:
                err_chunks.append(line)

    t_err = threading.Thread(target=drain_stderr, daemon=True)
    t_err.start()

    def time_is_up() -> None:
        timed_out.set()
        _ask_to_stop(proc)

    timer = threading.Timer(timeout, time_is_up)
    timer.daemon = True
    timer.start()
    try:
        for line in logs.follow(logs.stdout_path, proc) if logs else proc.stdout or ():
            on_line(line)
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
    return Finished(code, "".join(err_chunks), timed_out.is_set())


class _OutputFiles:
    """A terraform run's stdout and stderr as files in its working directory, read while it
    runs. Removed when the run ends; a run whose appc was killed leaves them behind (they hold
    Terraform's -json UI, which redacts sensitive values)."""

    def __init__(self, cwd: Path) -> None:
        fd, out = tempfile.mkstemp(dir=cwd, prefix=".appc-terraform-", suffix=".out")
        self.stdout, self.stdout_path = os.fdopen(fd, "wb"), Path(out)
        fd, err = tempfile.mkstemp(dir=cwd, prefix=".appc-terraform-", suffix=".err")
        self.stderr, self.stderr_path = os.fdopen(fd, "wb"), Path(err)

    def opened(self) -> None:
        """The child holds its own copies now."""
        self.stdout.close()
        self.stderr.close()

    @staticmethod
    def follow(path: Path, proc: subprocess.Popen, poll: float = 0.02) -> Iterator[str]:
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
