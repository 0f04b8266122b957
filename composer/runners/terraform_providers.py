"""Pooled provider processes: one provider process serves many terraform runs, one run at a time.

Every terraform process that plans or applies starts its providers; the AWS provider is a
700 MB binary that spends ~2.8 s of CPU loading, which is most of a small unit's cost. Here a
provider is started once in its debug mode (`-debug`: it serves on a unix socket and prints the
`TF_REATTACH_PROVIDERS` value that lets Terraform attach to it instead of starting its own), and
lent to one terraform run at a time: a pool of at most `size` processes per provider binary.
Each run configures the provider afresh (ConfigureProvider with the unit's own provider block:
region, default_tags), so two runs never share one at the same time.

Soundness, and when the plain per-run provider is used instead (`unsound_reason`):
- only providers known to reconfigure cleanly in one process are pooled (`POOLED`);
- not with a custom CA bundle (AWS_CA_BUNDLE, `ca_bundle` in the shared config, or a provider
  block's `custom_ca_bundle`): the AWS provider fails its second ConfigureProvider then;
- not when the user set TF_REATTACH_PROVIDERS, not off Linux, not with COMPOSER_PROVIDER_POOL=0;
- a provider that does not come up in debug mode is not tried again in this run.

Lifetime: each provider runs under a small guard process (provider_guard.py) in its own
session, so the terminal's Ctrl-C reaches only terraform (which stops its calls cleanly
first). `close()`, at the end of every command, ends them; when appc dies (kill -9), the guard
sees its stdin close, waits for the terraform run it was lent to (if any) to finish, then stops
the provider: a provider killed under a running terraform would leave a created resource outside
its state. Their sockets live in a private 0700 directory, removed by `close()`. They get
terraform's allowlisted environment, never a unit's TF_VAR_* inputs, and their output goes
nowhere (it may hold request bodies).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

POOL_ENV = "COMPOSER_PROVIDER_POOL"  # "0": never pool (plain per-run providers)
POOLED = ("registry.terraform.io/hashicorp/aws",)
READY_SECONDS = 120.0
_GUARD = Path(__file__).with_name("provider_guard.py")
_CA_BUNDLE = "custom_ca_bundle"


def unsound_reason(env: Mapping[str, str]) -> str | None:
    """Why providers must not be pooled for runs in `env` (None: pooling is sound)."""
    if not sys.platform.startswith("linux"):
        return "not Linux"
    if os.environ.get(POOL_ENV, env.get(POOL_ENV, "")).strip() == "0":  # appc's own switch, not terraform's
        return f"{POOL_ENV}=0"
    if env.get("TF_REATTACH_PROVIDERS"):
        return "TF_REATTACH_PROVIDERS is set by the user"
    if env.get("AWS_CA_BUNDLE"):
        return "AWS_CA_BUNDLE is set (the AWS provider cannot be configured twice in one process with it)"
    shared = Path(env.get("AWS_CONFIG_FILE") or Path(env.get("HOME") or "~").expanduser() / ".aws" / "config")
    with contextlib.suppress(OSError):
        if "ca_bundle" in shared.read_text(errors="replace"):
            return f"{shared} sets a ca_bundle"
    return None


@dataclass
class Lease:
    """What one terraform run gets: extra environment (TF_REATTACH_PROVIDERS, or nothing), and
    whether its providers may serve another run afterwards (not after a timeout or interrupt:
    a call may still be in flight)."""

    env: dict[str, str]
    reusable: bool = True
    served: tuple[_Served, ...] = ()

    def started(self, pid: int) -> None:
        """The terraform run's pid, for the guards (they outlive a dead appc while it runs)."""
        for s in self.served:
            s.tell(pid)


@dataclass
class _Served:
    """One provider process in debug mode and the reattach entry Terraform needs for it."""

    proc: subprocess.Popen[bytes]  # the guard; the provider is its child, in its process group
    address: str
    reattach: dict[str, object]

    def tell(self, pid: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write(f"{pid}\n".encode())
            self.proc.stdin.flush()


def _installed_binary(workdir: Path, address: str) -> Path | None:
    """The provider binary `terraform init` installed (and checked against the lock file) for
    the root, when exactly one version of it is there."""
    found = sorted((workdir / ".terraform" / "providers" / address).glob("*/*/terraform-provider-*"))
    found = [p for p in found if p.is_file() and os.access(p, os.X_OK)]
    return found[0].resolve() if len(found) == 1 else None


def _root_sets_ca_bundle(workdir: Path) -> bool:
    for path in [*workdir.glob("*.tf"), *workdir.glob("*.tf.json")]:
        with contextlib.suppress(OSError):
            if _CA_BUNDLE in path.read_text(errors="replace"):
                return True
    return False


class ProviderPool:
    """At most `size` debug-mode processes per provider binary, each lent to one run at a time."""

    def __init__(self, env: Mapping[str, str], size: int, cwd: Path) -> None:
        self.env = {k: v for k, v in env.items() if not k.startswith("TF_VAR_")}
        self.size = max(1, size)
        self.cwd = cwd
        self.disabled = unsound_reason(env)
        self.starts = 0
        self._idle: dict[Path, list[_Served]] = {}
        self._count: dict[Path, int] = {}
        self._all: list[_Served] = []
        self._broken: set[Path] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._dir: Path | None = None

    @contextlib.contextmanager
    def lease(self, workdir: Path) -> Iterator[Lease]:
        """Providers for one terraform run in `workdir`, lent to it alone: TF_REATTACH_PROVIDERS
        naming them, or no extra environment (the run starts its own providers)."""
        taken: list[tuple[Path, _Served]] = []
        lease = Lease({}, reusable=False)
        try:
            for address, binary in self._poolable(workdir):
                served = self._checkout(binary, address)
                if served is not None:
                    taken.append((binary, served))
            attach = {s.address: s.reattach for _, s in taken}
            extra = {"TF_REATTACH_PROVIDERS": json.dumps(attach)} if attach else {}
            lease = Lease(extra, served=tuple(s for _, s in taken))
            try:
                yield lease
            except BaseException:
                lease.reusable = False
                raise
        finally:
            for binary, served in taken:
                self._checkin(binary, served, reuse=lease.reusable)

    def _poolable(self, workdir: Path) -> list[tuple[str, Path]]:
        if self.disabled or self._closed or _root_sets_ca_bundle(workdir):
            return []
        out = []
        for address in POOLED:
            binary = _installed_binary(workdir, address)
            if binary is not None and binary not in self._broken:
                out.append((address, binary))
        return out

    def _checkout(self, binary: Path, address: str) -> _Served | None:
        with self._cond:
            while True:
                if self._closed or binary in self._broken:
                    return None
                idle = self._idle.setdefault(binary, [])
                while idle:
                    ready = idle.pop()
                    if ready.proc.poll() is None:
                        return ready
                    self._count[binary] -= 1
                if self._count.get(binary, 0) < self.size:
                    self._count[binary] = self._count.get(binary, 0) + 1
                    break
                self._cond.wait()
        served = self._start(binary, address)
        if served is None:
            with self._cond:
                self._count[binary] -= 1
                self._broken.add(binary)
                self._cond.notify_all()
        return served

    def _checkin(self, binary: Path, served: _Served, *, reuse: bool) -> None:
        served.tell(0)
        with self._cond:
            kept = reuse and not self._closed and served.proc.poll() is None
            if kept:
                self._idle.setdefault(binary, []).append(served)
            else:
                self._count[binary] -= 1
            self._cond.notify_all()
        if not kept:
            _stop(served.proc)

    def _start(self, binary: Path, address: str) -> _Served | None:
        """A provider process in debug mode, under its guard, once it has said where it listens
        (None: it did not)."""
        with self._cond:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="appc-providers-"))  # 0700: its sockets are ours alone
            sockets = self._dir
            self.starts += 1
        fd, out_name = tempfile.mkstemp(dir=sockets, prefix="provider-", suffix=".out")
        with os.fdopen(fd, "wb") as out:
            guard = subprocess.Popen(
                [sys.executable, str(_GUARD), str(binary), "-debug"],
                cwd=self.cwd,
                env={**self.env, "TMPDIR": str(sockets)},
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                umask=0o077,
            )
        with self._cond:
            self._all.append(_Served(guard, address, {}))
        reattach = _wait_for_reattach(Path(out_name), guard, address, sockets)
        if reattach is None:
            _stop(guard)
            return None
        return _Served(guard, address, reattach)

    def close(self) -> None:
        """Stop every provider process and remove their sockets. Safe to call twice."""
        with self._cond:
            self._closed = True
            procs = [s.proc for s in self._all]
            self._cond.notify_all()
        for proc in procs:
            _stop(proc)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


def _wait_for_reattach(
    out: Path, proc: subprocess.Popen[bytes], address: str, sockets: Path
) -> dict[str, object] | None:
    """The provider's reattach entry from its first lines, checked: a unix socket in our own
    directory. None when it exits or says nothing in time."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            for line in out.read_text(errors="replace").splitlines():
                entry = _reattach_entry(line, address)
                if entry is not None:
                    addr = entry.get("Addr")
                    path = addr.get("String") if isinstance(addr, dict) else None
                    sound = isinstance(path, str) and Path(path).parent == sockets
                    return entry if sound and isinstance(addr, dict) and addr.get("Network") == "unix" else None
        time.sleep(0.05)
    return None


def _reattach_entry(line: str, address: str) -> dict[str, object] | None:
    start = line.find("TF_REATTACH_PROVIDERS='")
    if start < 0:
        return None
    text = line[start + len("TF_REATTACH_PROVIDERS='") :].rstrip().removesuffix("'")
    try:
        entry = json.loads(text).get(address)
    except (ValueError, AttributeError):
        return None
    return entry if isinstance(entry, dict) else None


def _stop(guard: subprocess.Popen[bytes]) -> None:
    """End a guard and its provider: the end of its stdin asks it to stop the provider and exit;
    the whole process group is killed when it does not."""
    with contextlib.suppress(OSError, ValueError):
        if guard.stdin is not None:
            guard.stdin.close()
    proc = guard
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
