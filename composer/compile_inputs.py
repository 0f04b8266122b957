"""What compiling a project read, recorded while it reads, so that an unchanged project can skip
compilation (composer/cli/fastpath.py) and a changed one never does.

Recording is by construction, not by a list of inputs kept by hand. While `recording()` is
active on a thread, everything that thread reads is recorded where Python reads it:

- every file opened (the interpreter's `open` audit event: builtins.open, io.open, os.open, the
  imports) is hashed at that moment; every directory listed (`os.listdir`, `os.scandir`: behind
  Path.iterdir, glob, os.walk) has its entries (name and type) hashed;
- every `os.stat` / `os.lstat` (behind Path.exists, is_dir, is_file, os.path.*) records what the
  path was: absent, a file, a directory, a link or something else;
- every environment variable read through `os.environ` (os.getenv, `${env:VAR}`) records a
  digest of its value (never the value);
- composer/safefs.py reads through directory descriptors, which the audit events cannot name: its
  readers are a seam (`seam()` with `note_file` / `note_listing`), and the events inside are theirs.

What the recorder cannot name makes the record `blind`, and no cache is written for that run: an
open or a listing by descriptor or relative name outside a seam, a write, a subprocess, a
socket, a read of the whole environment, a thread started. `Inputs.unchanged()` checks every record against the
disk and the environment as they are now. Composer's own code is keyed separately, by content
(`code_digest`), and every other module file loaded by size and mtime (`library_marks`), as
Python's own bytecode cache trusts them.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ABSENT, UNREADABLE = "-", "?"
STATE_DIR = ".composer"
_BLINDING_EVENTS = (
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.fork",
    "os.spawn",
    "socket.connect",
    "socket.getaddrinfo",
    "urllib.Request",
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str) -> str:
    """sha256 of a regular file's bytes ("l:" before it when the path is a link to one: a file
    swapped for a link to the same bytes, which safefs refuses, is a change); ABSENT, or
    UNREADABLE for anything else."""
    try:
        link = stat.S_ISLNK(_REAL_LSTAT(path).st_mode)
    except FileNotFoundError:
        return ABSENT
    except OSError:
        return UNREADABLE
    content = _content_digest(path)
    return "l:" + content if link and content not in (ABSENT, UNREADABLE) else content


def _content_digest(path: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return ABSENT
    except OSError:
        return UNREADABLE
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return UNREADABLE
        h = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        return h.hexdigest()
    except OSError:
        return UNREADABLE
    finally:
        os.close(fd)


def listing_digest(path: str) -> str:
    """sha256 over a directory's entries (name and kind), sorted; ABSENT or UNREADABLE. The state
    directory (`.composer/`, a directory) is not an entry here: the first apply creates it beside
    the app, whose folder compiling lists for YAML files, and no reader takes a directory of that
    name as input (what is read inside it is recorded as files)."""
    try:
        with os.scandir(path) as entries:
            names = sorted(
                f"{e.name}\0{kind}"
                for e in entries
                if (kind := "d" if e.is_dir(follow_symlinks=False) else "l" if e.is_symlink() else "f") != "d"
                or e.name != STATE_DIR
            )
    except FileNotFoundError:
        return ABSENT
    except OSError:
        return UNREADABLE
    return _digest("\n".join(names).encode("utf-8", "surrogateescape"))


def stat_kind(path: str, follow: bool) -> str:
    """What a path is: ABSENT, 'f' file, 'd' directory, 'l' link (not followed), 'o' other."""
    try:
        mode = _REAL_STAT(path, follow_symlinks=follow).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return ABSENT
    except OSError:
        return UNREADABLE
    return "f" if stat.S_ISREG(mode) else "d" if stat.S_ISDIR(mode) else "l" if stat.S_ISLNK(mode) else "o"


def env_digest(value: str | None) -> str:
    return ABSENT if value is None else _digest(value.encode("utf-8", "surrogateescape"))


@dataclass
class Inputs:
    """Everything one compilation read: path or name -> digest."""

    files: dict[str, str] = field(default_factory=dict)
    listings: dict[str, str] = field(default_factory=dict)
    stats: dict[str, str] = field(default_factory=dict)  # "L:" + path for a stat that follows no link
    env: dict[str, str] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)  # module files imported meanwhile: size:mtime
    blind: list[str] = field(default_factory=list)  # why the record is incomplete (empty: complete)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _PARTS}

    @classmethod
    def from_json(cls, doc: Any) -> Inputs | None:
        """None unless every part is a str -> str mapping (the file is untrusted)."""
        if not isinstance(doc, dict):
            return None
        parts = [doc.get(k) for k in _PARTS]
        for part in parts:
            if not isinstance(part, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in part.items()
            ):
                return None
        return cls(*parts)  # type: ignore[arg-type]

    def unchanged(self) -> bool:
        """Every recorded read would read the same now."""
        return (
            all(file_digest(p) == d for p, d in self.files.items())
            and all(listing_digest(p) == d for p, d in self.listings.items())
            and all(stat_kind(p.removeprefix("L:"), not p.startswith("L:")) == d for p, d in self.stats.items())
            and all(env_digest(_REAL_ENVIRON.get(n)) == d for n, d in self.env.items())
            and libraries_unchanged(self.code)
        )


_PARTS = ("files", "listings", "stats", "env", "code")


class _Thread(threading.local):
    inputs: Inputs | None = None
    busy: int = 0  # inside the recorder's own reads, or inside a seam that notes its reads itself


_THREAD = _Thread()
PACKAGE_ROOTS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "providers")
_OWN_PREFIXES = tuple(str(r) + os.sep for r in PACKAGE_ROOTS)
_CODE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")
_REAL_STAT = os.stat
_REAL_LSTAT = os.lstat
_REAL_ENVIRON = os.environ
_HOOK_LOCK = threading.Lock()
_HOOKED = False
_ACTIVE = 0  # recordings in progress, in all threads


def _recording() -> Inputs | None:
    return _THREAD.inputs if _THREAD.busy == 0 else None


@contextmanager
def seam() -> Iterator[Inputs | None]:
    """A reader that notes what it reads itself (composer/safefs.py); the events inside are its own."""
    inputs = _recording()
    _THREAD.busy += 1
    try:
        yield inputs
    finally:
        _THREAD.busy -= 1


def note_file(inputs: Inputs | None, path: Path | str, data: bytes | None) -> None:
    if inputs is not None:
        inputs.files[os.path.abspath(path)] = ABSENT if data is None else _digest(data)


def note_listing(inputs: Inputs | None, path: Path | str) -> None:
    if inputs is not None:
        _quietly(lambda: inputs.listings.__setitem__(os.path.abspath(path), listing_digest(os.path.abspath(path))))


def _quietly(action: Callable[[], None]) -> None:
    _THREAD.busy += 1
    try:
        action()
    finally:
        _THREAD.busy -= 1


def _named(path: Any, relative: bool = False) -> str | None:
    """The absolute path an event names, None when it names none: a descriptor, or a relative
    name that may be relative to a directory descriptor (`relative`: it is to the cwd, a key part)."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        return None
    return path if os.path.isabs(path) else os.path.abspath(path) if relative else None


def _import_probe(path: Any) -> bool:
    """The import system looking at a sys.path entry that is no directory (an editable install's
    path hook): code, keyed by the code digest and the library marks, not a read of the compile."""
    return isinstance(path, str) and not os.path.isabs(path) and path in sys.path


def _note_open(inputs: Inputs, path: str) -> None:
    if path.startswith(_OWN_PREFIXES):
        return  # Composer's own files: code_digest covers every one of them
    if path.endswith(_CODE_SUFFIXES):
        inputs.code.setdefault(path, _mark(path))
    elif path not in inputs.files:
        _quietly(lambda: inputs.files.__setitem__(path, file_digest(path)))


def _audit(event: str, args: tuple[Any, ...]) -> None:
    inputs = _recording()
    if inputs is None:
        return
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        named = _named(path, relative=isinstance(mode, str))  # open() takes no directory descriptor; os.open may
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if named is None and not writes and _import_probe(path):
            return
        if named is None or writes:
            inputs.blind.append(f"open {path!r} ({'write' if writes else 'no path'})")
        else:
            _note_open(inputs, named)
    elif event in ("os.listdir", "os.scandir"):
        target = args[0] if args and args[0] is not None else "."
        if _import_probe(target):
            return
        named = _named(target, relative=True)  # listings take no directory descriptor: relative is to the cwd
        if named is None:
            inputs.blind.append(f"{event} {args[0]!r}")
        elif named not in inputs.listings and not (named + os.sep).startswith(_OWN_PREFIXES):  # code_digest's
            _quietly(lambda: inputs.listings.__setitem__(named, listing_digest(named)))
    elif event.startswith(_BLINDING_EVENTS):
        inputs.blind.append(event)


def _noting_stat(real: Callable[..., os.stat_result], follow_default: bool) -> Callable[..., os.stat_result]:
    def observed(path: Any, *, dir_fd: int | None = None, follow_symlinks: bool = follow_default) -> os.stat_result:
        inputs = _recording()
        if inputs is not None and not isinstance(path, int):
            named = _named(path, relative=True) if dir_fd is None else None
            if dir_fd is None and _import_probe(path):
                pass
            elif named is None:
                inputs.blind.append(f"stat {path!r}")
            else:
                key = named if follow_symlinks else "L:" + named
                if key not in inputs.stats:
                    _quietly(lambda: inputs.stats.__setitem__(key, stat_kind(named, follow_symlinks)))
        return real(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)

    return observed


_REAL_THREAD_START = threading._start_new_thread  # type: ignore[attr-defined]


def _blinding_thread_start(*args: Any, **kwargs: Any) -> Any:
    """A thread started while compiling reads where this thread's record cannot see."""
    inputs = _recording()
    if inputs is not None:
        inputs.blind.append("a thread was started")
    return _REAL_THREAD_START(*args, **kwargs)


class _NotingEnviron(MutableMapping[str, str]):
    """os.environ while recording: each variable read is noted; reading them all blinds the record."""

    def __getitem__(self, name: str) -> str:
        inputs = _recording()
        if inputs is not None:
            inputs.env[name] = env_digest(_REAL_ENVIRON.get(name))
        return _REAL_ENVIRON[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            inputs = _recording()
            if inputs is not None:
                inputs.env[name] = env_digest(_REAL_ENVIRON.get(name))
        return name in _REAL_ENVIRON

    def _whole(self) -> None:
        inputs = _recording()
        if inputs is not None:
            inputs.blind.append("the whole environment was read")

    def __iter__(self) -> Iterator[str]:
        self._whole()
        return iter(_REAL_ENVIRON)

    def __len__(self) -> int:
        self._whole()
        return len(_REAL_ENVIRON)

    def copy(self) -> dict[str, str]:
        self._whole()
        return _REAL_ENVIRON.copy()

    def __setitem__(self, name: str, value: str) -> None:
        _REAL_ENVIRON[name] = value

    def __delitem__(self, name: str) -> None:
        del _REAL_ENVIRON[name]


def _install_hook() -> None:
    global _HOOKED
    with _HOOK_LOCK:
        if not _HOOKED:
            sys.addaudithook(_audit)  # for the rest of the process; idle unless a thread records
            _HOOKED = True


@contextmanager
def recording() -> Iterator[Inputs]:
    """Record what this thread reads until the block ends. Not reentrant: an inner recording
    makes the outer one blind (it would miss what the inner one saw)."""
    _install_hook()
    if _THREAD.inputs is not None:
        _THREAD.inputs.blind.append("a nested recording")
    outer, inputs = _THREAD.inputs, Inputs()
    _THREAD.inputs = inputs
    global _ACTIVE
    with _HOOK_LOCK:  # the observers stay while any thread records; other threads pass through them
        if _ACTIVE == 0:
            os.stat, os.lstat = _noting_stat(_REAL_STAT, True), _noting_stat(_REAL_STAT, False)
            os.environ = _NotingEnviron()  # type: ignore[assignment]  # noqa: B003 (restored below; nothing is cleared)
            threading._start_new_thread = _blinding_thread_start  # type: ignore[attr-defined]
        _ACTIVE += 1
    try:
        yield inputs
    finally:
        _THREAD.inputs = outer
        with _HOOK_LOCK:
            _ACTIVE -= 1
            if _ACTIVE == 0:
                os.stat, os.lstat, os.environ = _REAL_STAT, _REAL_LSTAT, _REAL_ENVIRON
                threading._start_new_thread = _REAL_THREAD_START  # type: ignore[attr-defined]


# -- code ----------------------------------------------------------------------------------------


def code_digest(roots: tuple[Path, ...] = PACKAGE_ROOTS) -> str:
    """sha256 over every file of Composer's own packages (code and the data shipped with it)."""
    h = hashlib.sha256()
    for root in roots:
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(directory, name)
                h.update(os.path.relpath(path, root.parent).encode() + b"\0" + file_digest(path).encode() + b"\n")
    return h.hexdigest()


def library_marks(roots: tuple[Path, ...] = PACKAGE_ROOTS) -> dict[str, str]:
    """size:mtime of every loaded module file outside Composer's packages (the libraries)."""
    out: dict[str, str] = {}
    prefixes = tuple(str(r) + os.sep for r in roots)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and os.path.isabs(path) and not path.startswith(prefixes):
            out[path] = _mark(path)
    return out


def _mark(path: str) -> str:
    try:
        st = _REAL_STAT(path)
    except OSError:
        return ABSENT
    return f"{st.st_size}:{st.st_mtime_ns}"


def libraries_unchanged(marks: dict[str, str]) -> bool:
    return all(_mark(p) == m for p, m in marks.items())
