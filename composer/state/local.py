"""The local state store: `<directory>/<environment>.state.json` and `<environment>.lock`.

Writes go the way Terraform's local state does: a temp file in the same directory,
fsync, rename over the old file, fsync the directory. A reader sees the old or the new
document, never a mix, and a crash leaves one of the two. The lineage/serial check reads
the file just before replacing it; it catches a stale document, and the lock (held by the
engine for every write) keeps two writers from racing between the check and the rename.
When the file holds exactly the bytes this store last read or wrote, the check uses the
document it already has instead of decoding them again (an apply writes state once per unit;
decoding and verifying a 1,000-object inventory each time was a sixth of its CPU).

The lock is a file holding the LockInfo record. It is created in one step (a complete
temp file hard-linked to the lock name, which fails if the name exists), so nobody ever
sees a half-written lock. Removing a lock "if it is still the one we read" is done by
renaming it aside, comparing the bytes and putting it back (link, which never clobbers)
when it was not. Stale takeover is remove-if-unchanged followed by create.
"""

from __future__ import annotations

import errno
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from composer import safefs
from composer.state import keys
from composer.state.model import StateDoc
from composer.state.protocol import (
    CellLock,
    LockInfo,
    StoreOptions,
    check_write,
    decode_state,
    encode_state,
    refused,
)


class LocalStore:
    def __init__(self, directory: Path, app: str, environment: str, options: StoreOptions | None = None) -> None:
        if not environment or environment.startswith(".") or "/" in environment or os.sep in environment:
            raise ValueError(f"environment name {environment!r} cannot name a state file")
        self.directory = Path(directory)
        self.app = app
        self.environment = environment
        self.options = options or StoreOptions()
        self.state_path = self.directory / f"{environment}.state.json"
        self.lock_path = self.directory / f"{environment}.lock"
        self.key_path = self.directory / f"{environment}.key"
        self.location = str(self.state_path)
        self._lock = CellLock(_FileCell(self.lock_path), environment, self.options)
        self._key: bytes | None = None
        self._known: tuple[bytes, StateDoc] | None = None  # the bytes last read or written, and their document

    # --- document -------------------------------------------------------------------

    def read(self) -> StateDoc | None:
        data = safefs.read_file(self.directory, self.state_path.name)  # no link followed, no FIFO waited on
        if data is None:
            return None
        doc = self._decode(data)
        self._known = (data, doc)
        return doc

    def _stored(self) -> StateDoc | None:
        """The stored document for the write check: decoded again only when the file is not
        byte for byte what this store last read or wrote."""
        data = safefs.read_file(self.directory, self.state_path.name)
        if data is None:
            return None
        known = self._known
        return known[1] if known is not None and known[0] == data else self._decode(data)

    def _decode(self, data: bytes) -> StateDoc:
        return decode_state(
            data,
            self.location,
            self.app,
            self.environment,
            self._read_key(),
            str(self.key_path),
            self.options.on_warning,
        )

    def write(self, doc: StateDoc) -> StateDoc:
        check_write(self._stored(), doc, self.location, self.app, self.environment)
        new = doc.model_copy(update={"serial": doc.serial + 1})
        key = self.signing_key()
        data = encode_state(new, key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._known = None  # until the new bytes are in place
            _replace_atomically(self.state_path, data)
        except OSError as e:
            raise refused(
                self.location,
                "cannot write the state file",
                f"{e.strerror}. The previous state is unchanged. Check free space and permissions of {self.directory}.",
            ) from None
        self._known = (data, new)
        return new

    # --- key ------------------------------------------------------------------------

    def signing_key(self) -> bytes:
        """The state key (`<environment>.key`, 0600), created on first use: a complete temp file
        hard-linked to the key's name, so two first writers agree on one key."""
        key = self._read_key()
        if key is not None:
            return key
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{self.key_path.name}.", suffix=".tmp")  # 0600
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(keys.encode_key(keys.new_key()))
                    fh.flush()
                    os.fsync(fh.fileno())
                try:
                    os.link(tmp, self.key_path)
                except FileExistsError:
                    pass  # another first writer won; use its key
            finally:
                _unlink_quietly(tmp)
            _fsync_dir(self.directory)
        except OSError as e:
            raise refused(
                str(self.key_path),
                "cannot create the state key",
                f"{e.strerror}. Check the permissions of {self.directory}.",
            ) from None
        key = self._read_key()
        assert key is not None
        return key

    def existing_key(self) -> bytes | None:
        """The state key when one exists (None: nothing signed here yet); never creates one."""
        return self._read_key()

    def _read_key(self) -> bytes | None:
        if self._key is not None:
            return self._key
        try:
            fd = os.open(self.key_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise refused(
                str(self.key_path),
                "cannot read the state key",
                f"{e.strerror}. It must be a regular file readable by appc (not a link).",
            ) from None
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(4096)
        try:
            self._key = keys.decode_key(data)
        except keys.BadKey as e:
            raise refused(
                str(self.key_path), "the state key is unreadable", f"{e}. Restore it from a backup."
            ) from None
        return self._key

    # --- lock -----------------------------------------------------------------------

    def lock(self, info: LockInfo, timeout: float = 0.0) -> LockInfo:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise refused(str(self.directory), "cannot create the state directory", f"{e.strerror}.") from None
        with _os_errors(self.lock_path, "lock"):
            return self._lock.lock(info, timeout)

    def unlock(self, info: LockInfo) -> None:
        with _os_errors(self.lock_path, "unlock"):
            self._lock.unlock(info)

    def current(self) -> LockInfo | None:
        with _os_errors(self.lock_path, "read the lock"):
            return self._lock.current()

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        with _os_errors(self.lock_path, "remove the lock"):
            return self._lock.force_unlock(lock_id)


def _replace_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable. Not every platform can open a directory (Windows): skip there."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


@contextmanager
def _os_errors(path: Path, action: str) -> Iterator[None]:
    """Turn an OSError on the lock file into a diagnostic (LockHeld and DiagnosticError pass)."""
    try:
        yield
    except OSError as e:
        raise refused(str(path), f"cannot {action}", f"{e.strerror}. Check the permissions of {path.parent}.") from None


_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV)


class _FileCell:
    """The LockCell of the local store. The version token is the record's bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def create(self, data: bytes) -> bool:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self.path)  # atomic, and fails when the lock exists
            except FileExistsError:
                return False
            except OSError as e:
                if e.errno not in _NO_LINKS:
                    raise
                return self._create_exclusive(data)  # a file system without hard links
        finally:
            _unlink_quietly(tmp)
        _fsync_dir(self.path.parent)
        return True

    def _create_exclusive(self, data: bytes) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:  # a reader may see it empty for a moment: an unknown holder
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return True

    def fetch(self) -> tuple[bytes, bytes] | None:
        data = safefs.read_file(self.path.parent, self.path.name)  # no link followed, no FIFO waited on
        return None if data is None else (data, data)

    def replace(self, token: bytes, data: bytes) -> bool:
        # Between the delete and the create another process may create the lock; then
        # create fails and the caller sees that process as the holder, which is right.
        return self.delete(token) and self.create(data)

    def delete(self, token: bytes) -> bool:
        aside = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.removed")
        try:
            os.rename(self.path, aside)  # atomic: from here on nobody else can remove it
        except FileNotFoundError:
            return False
        try:
            if aside.read_bytes() == token:
                return True
            # Not the record we read: put it back. link never replaces a lock created meanwhile.
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass  # someone locked in the instant it was aside; theirs stands
            except OSError as e:
                if e.errno not in _NO_LINKS:
                    raise
                if not self.path.exists():  # no hard links here: a small window remains
                    os.rename(aside, self.path)
            return False
        finally:
            _unlink_quietly(aside)
            _fsync_dir(self.path.parent)
