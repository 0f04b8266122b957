"""File operations that no planted link, FIFO or foreign file can redirect.

Everything under `.composer/`, a render output, a GitOps directory and a plan file may be
hostile (a fork's pull request can commit any of them). Every helper here starts from a
*base* directory the caller has vetted (see `vetted_directory`) and walks to its target one
component at a time through directory file descriptors opened with `O_NOFOLLOW`, so:

- a symbolic link anywhere below the base is never followed: the operation is refused with
  a diagnostic naming the path (appc creates no links of its own there);
- a file is written as a fresh temp file with a random name (`O_EXCL`) in its target
  directory, then renamed over the old name: never written in place, so a hard link to a
  file elsewhere is replaced, not modified;
- only regular files are read, and never by blocking on a FIFO;
- a directory tree is removed only when a marker file inside it proves appc made it, and
  through `shutil.rmtree` with a directory fd, which does not follow links either.

Errors are diagnostics (exit 1), never tracebacks. What the helpers create is private when
asked (0600 files, 0700 directories): Terraform state, plan files and roots can hold secrets.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import cast

from composer.compile_inputs import note_file, note_listing, seam
from composer.diagnostics import Diagnostic, DiagnosticError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PUBLIC_FILE = 0o644
OUTSIDE_ENV = "COMPOSER_ALLOW_OUTSIDE_PROJECT"
MAX_READ = 1 << 30  # a planted sparse file must not become a MemoryError (plans of big roots are tens of MB)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def refusal(path: Path | str, why: str, fix: str = "") -> DiagnosticError:
    fix = fix or "remove it (or move it aside) and run again; appc never follows a link it did not create"
    return DiagnosticError([Diagnostic(f"refusing to use {path}: {why}", fix)])


def _os_error(path: Path, action: str, exc: OSError) -> DiagnosticError:
    if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and os.path.islink(path)):
        return refusal(path, "it is a symbolic link")
    if exc.errno == errno.ENOTDIR:
        return refusal(path, "a part of this path is a symbolic link or a file where appc expects a directory")
    return DiagnosticError(
        [Diagnostic(f"cannot {action} {path}: {exc.strerror}", "check the path's permissions and free space")]
    )


def _parts(rel: str | Path) -> list[str]:
    parts = [p for p in str(rel).split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or str(rel).startswith("/"):
        raise refusal(rel, "the path leaves its directory")
    return parts


def _open_base(base: Path, create: bool, mode: int) -> int:
    if create:
        try:
            os.makedirs(base, mode=mode, exist_ok=True)
        except OSError as exc:
            raise _os_error(base, "create", exc) from None
    try:
        return os.open(base, _DIR_FLAGS)
    except OSError as exc:
        raise _os_error(base, "open", exc) from None


@contextmanager
def opened_dir(
    base: Path, rel: str | Path = "", *, create: bool = False, mode: int = PRIVATE_DIR
) -> Iterator[int | None]:
    """A directory fd for base/rel, or None when (without `create`) it does not exist.
    Directories made on the way get `mode`."""
    if not create and not os.path.lexists(base):
        yield None
        return
    fd = _open_base(base, create, mode)
    path = base
    try:
        for part in _parts(rel):
            path = path / part
            if create:
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise _os_error(path, "create", exc) from None
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError as exc:
                if create:
                    raise _os_error(path, "open", exc) from None
                os.close(fd)
                fd = -1
                yield None
                return
            except OSError as exc:
                raise _os_error(path, "open", exc) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        if fd >= 0:
            os.close(fd)


def created_dir(base: Path, rel: str | Path = "", *, mode: int = PRIVATE_DIR) -> AbstractContextManager[int]:
    """`opened_dir` with create=True, which never yields None."""
    return cast(AbstractContextManager[int], opened_dir(base, rel, create=True, mode=mode))


def private_dir(base: Path, rel: str | Path = "") -> None:
    """Create base/rel (0700 on the way) and make the directory itself 0700, even if it was not."""
    with created_dir(base, rel) as fd:
        try:
            os.fchmod(fd, PRIVATE_DIR)
        except OSError as exc:
            raise _os_error(base / rel, "protect", exc) from None


def _split(rel: str | Path) -> tuple[str, str]:
    parts = _parts(rel)
    if not parts:
        raise refusal(rel, "no file name")
    return "/".join(parts[:-1]), parts[-1]


def _read_at(dir_fd: int, name: str, path: Path, limit: int = MAX_READ) -> bytes | None:
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _os_error(path, "read", exc) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refusal(path, "it is not a regular file (a FIFO, device or directory)")
        if st.st_size > limit:
            raise refusal(path, f"it is larger ({st.st_size:,} bytes) than any file appc writes there ({limit:,})")
        chunks: list[bytes] = []
        while (chunk := os.read(fd, 1 << 20)) and sum(map(len, chunks)) <= limit:
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _lstat(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def read_file(base: Path, rel: str | Path) -> bytes | None:
    """The bytes of a regular file base/rel, None when it does not exist."""
    parent, name = _split(rel)
    with seam() as inputs, opened_dir(base, parent) as fd:  # a compile's read, recorded (compile_inputs.py)
        data = None if fd is None else _read_at(fd, name, base / rel)
        note_file(inputs, base / rel, data)
        return data


def _write_at(dir_fd: int, name: str, data: bytes | Iterable[bytes], mode: int, path: Path, sync: bool = True) -> None:
    """mkstemp in the target directory (random name, O_EXCL, O_NOFOLLOW), fsync, rename.
    `data` is the bytes, or chunks of them (a bundle's provider binaries are hundreds of MB)."""
    for _ in range(100):
        tmp = f".{name[:64]}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _os_error(path, "write", exc) from None
    else:
        raise DiagnosticError([Diagnostic(f"cannot create a temporary file beside {path}")])
    try:
        try:
            os.fchmod(fd, mode)  # exactly `mode`, whatever the umask
            for chunk in [data] if isinstance(data, bytes) else data:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError as exc:
        _unlink_quietly(dir_fd, tmp)
        raise _os_error(path, "write", exc) from None
    except BaseException:
        _unlink_quietly(dir_fd, tmp)
        raise


def _unlink_quietly(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def write_file(
    base: Path,
    rel: str | Path,
    data: bytes,
    *,
    mode: int = PUBLIC_FILE,
    dir_mode: int = PRIVATE_DIR,
    if_changed: bool = True,
) -> bool:
    """Write base/rel atomically; False when it already held exactly `data` (and its mode)."""
    parent, name = _split(rel)
    path = base / rel
    with created_dir(base, parent, mode=dir_mode) as fd:
        st = _lstat(fd, name)
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise refusal(path, "it is not a regular file (a link, FIFO, device or directory)")
        if (
            if_changed
            and st is not None
            and st.st_size == len(data)
            and stat.S_IMODE(st.st_mode) == mode
            and _read_at(fd, name, path) == data
        ):
            return False
        _write_at(fd, name, data, mode, path)
        return True


def write_path(path: Path, data: bytes, *, mode: int = PUBLIC_FILE) -> None:
    """A file at an operator's path (`--markdown-out`, `schema -o`): written atomically,
    never through a link at `path` itself; its parents are the operator's and may be links."""
    path = path.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(Path(os.path.realpath(path.parent)), path.name, data, mode=mode, if_changed=False)


def write_stream(
    base: Path, rel: str | Path, chunks: Iterable[bytes], *, mode: int = PUBLIC_FILE, sync: bool = True
) -> None:
    """Write base/rel atomically from chunks (a temp file renamed into place, never in place);
    `sync=False` for scratch copies that need no durability (a bundle unpacked to a temp dir)."""
    parent, name = _split(rel)
    with created_dir(base, parent) as fd:
        st = _lstat(fd, name)
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise refusal(base / rel, "it is not a regular file (a link, FIFO, device or directory)")
        _write_at(fd, name, chunks, mode, base / rel, sync)


def write_private(path: Path, data: bytes) -> None:
    """A file that may hold a secret (a saved plan): 0600, never through a link at `path`."""
    write_path(path, data, mode=PRIVATE_FILE)


def read_path(path: Path) -> bytes:
    """The bytes of the regular file at an operator's path (a saved plan); FileNotFoundError
    when there is none. A link, FIFO or device at `path` is refused."""
    path = path.absolute()
    data = read_file(Path(os.path.realpath(path.parent)), path.name) if path.parent.is_dir() else None
    if data is None:
        raise FileNotFoundError(path)
    return data


def make_private(base: Path, rel: str | Path) -> None:
    """chmod 0600 the regular file base/rel if it exists (never through a link)."""
    parent, name = _split(rel)
    with opened_dir(base, parent) as dir_fd:
        if dir_fd is None:
            return
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _os_error(base / rel, "protect", exc) from None
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.fchmod(fd, PRIVATE_FILE)
        finally:
            os.close(fd)


@contextmanager
def _entry(base: Path, rel: str | Path) -> Iterator[tuple[int, str, os.stat_result] | None]:
    """(parent directory fd, name, lstat) of base/rel, or None when it does not exist."""
    parent, name = _split(rel)
    with opened_dir(base, parent) as fd:
        st = None if fd is None else _lstat(fd, name)
        yield None if fd is None or st is None else (fd, name, st)


def remove_file(base: Path, rel: str | Path) -> bool:
    """Unlink base/rel if it is a regular file; a link, FIFO or directory there is refused."""
    path = base / rel
    with _entry(base, rel) as entry:
        if entry is None:
            return False
        fd, name, st = entry
        if not stat.S_ISREG(st.st_mode):
            raise refusal(path, "it is not a regular file appc wrote")
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _os_error(path, "remove", exc) from None
        return True


def open_append(base: Path, rel: str | Path, mode: int = PRIVATE_FILE) -> int:
    """An fd appending to the regular file base/rel (created `mode`), for a child's log."""
    parent, name = _split(rel)
    path = base / rel
    with opened_dir(base, parent, create=True) as dir_fd:
        try:
            fd = os.open(
                name,
                os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                mode,
                dir_fd=dir_fd,
            )
        except OSError as exc:
            raise _os_error(path, "open", exc) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        raise refusal(path, "it is not a regular file of its own (a FIFO, device or hard link)")
    return fd


def list_dir(base: Path, rel: str | Path = "") -> list[str]:
    """Names in base/rel (empty when it does not exist); the directory is never a link."""
    with seam() as inputs, opened_dir(base, rel) as fd:
        note_listing(inputs, base / rel)
        return [] if fd is None else sorted(os.listdir(fd))


def walk(base: Path, rel: str | Path = "") -> list[str]:
    """Every entry below base/rel, relative to it, depth first; directories end in "/" and
    links, FIFOs and other non-files are listed but never entered or followed."""
    out: list[str] = []

    def visit(fd: int, prefix: str) -> None:
        for name in sorted(os.listdir(fd)):
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                out.append(f"{prefix}{name}/")
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                try:
                    visit(child, f"{prefix}{name}/")
                finally:
                    os.close(child)
            else:
                out.append(f"{prefix}{name}")

    with opened_dir(base, rel) as fd:
        if fd is not None:
            try:
                visit(fd, "")
            except OSError as exc:
                raise _os_error(base / rel, "read", exc) from None
    return out


def remove_owned_tree(base: Path, rel: str | Path, marker: str) -> bool:
    """Remove the directory base/rel only when it holds `marker` (a regular file appc
    wrote when it made the directory). Links in it are removed, never followed. A link,
    a file or an unmarked directory at base/rel is left alone (False)."""
    with _entry(base, rel) as entry:
        if entry is None or not stat.S_ISDIR(entry[2].st_mode):
            return False
        fd, name, _ = entry
        try:
            owned = read_file(base, f"{rel}/{marker}") is not None
        except DiagnosticError:
            owned = False
        if not owned:
            return False
        try:
            shutil.rmtree(name, dir_fd=fd)
        except OSError as exc:
            raise _os_error(base / rel, "remove", exc) from None
        return True


def check_plain(base: Path, rels: Iterable[str], *, dirs: Iterable[str] = ()) -> None:
    """Before a tool that writes in place (Terraform) runs: each of `rels` under base is
    absent or a regular file with one link, each of `dirs` absent or a real directory."""
    for rel, want_dir in [*((r, False) for r in rels), *((d, True) for d in dirs)]:
        with _entry(base, rel) as entry:
            if entry is None:
                continue
            st = entry[2]
        path = base / rel
        if stat.S_ISLNK(st.st_mode):
            raise refusal(path, "it is a symbolic link")
        if want_dir and not stat.S_ISDIR(st.st_mode):
            raise refusal(path, "it is not a directory")
        if not want_dir and not stat.S_ISREG(st.st_mode):
            raise refusal(path, "it is not a regular file")
        if not want_dir and st.st_nlink > 1:
            raise refusal(path, "it is a hard link to another file, which a write here would change too")


def vetted_directory(
    project: Path, directory: Path, what: str, *, allow_outside: bool = False, may_link: bool = True
) -> Path:
    """The real path of a directory appc writes (`.composer`, state.path, kubernetes.directory),
    refused when it lies outside the project unless the operator allowed it explicitly
    (--allow-outside-project / COMPOSER_ALLOW_OUTSIDE_PROJECT). A link at `directory` itself is
    refused unless `may_link` (then its target must be inside the project)."""
    project_real = Path(os.path.realpath(project))
    path = directory if directory.is_absolute() else project / directory
    if os.path.islink(path) and not may_link:
        raise refusal(path, f"the {what} is a symbolic link")
    real = Path(os.path.realpath(path))
    inside = real == project_real or project_real in real.parents
    if not inside and not allow_outside:
        link = f" (a link to {real})" if os.path.islink(path) else ""
        raise DiagnosticError(
            [
                Diagnostic(
                    f"the {what} {path}{link} is outside the project {project_real}",
                    f"appc writes only inside the project unless told otherwise: pass --allow-outside-project (or set {OUTSIDE_ENV}=1) "
                    "if this directory is meant to be used",
                )
            ]
        )
    return real
