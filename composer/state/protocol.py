"""The state store protocol: read, write, lock. Every store passes one conformance suite.

Contract:
- `read()` returns the document or None when none exists yet. A document that does not
  parse, has an unknown format, or belongs to another app/environment raises
  DiagnosticError ("refused"), and the store never overwrites it.
- `write(doc)` persists atomically (a reader sees the old or the new document, never a
  mix) and returns the document with serial + 1. It refuses (DiagnosticError) when the
  stored document has another lineage or a serial different from `doc.serial` (someone
  else wrote in between).
- `lock(holder, timeout)` takes the environment's lock or raises LockHeld naming the
  holder; with timeout > 0 it retries until then. A lock whose holder pid is provably
  dead on this host may be taken over (a warning is reported through `on_warning`).
- `unlock(lock)` releases it; `current()` shows the holder; `force_unlock(lock_id)`
  removes a lock by id, like `terraform force-unlock`.
- `signing_key()` returns the environment's state key (composer/state/keys.py), creating it
  when there is none yet; it is stored beside the document, never in it. Every document
  written is signed with it, and `read()` refuses a document whose signature does not match
  (an edit outside appc), a signed document whose key is missing, and an unsigned document
  once a key exists. A document from before signing (no key, no signature) is read with a
  warning and signed at the next write.
- A lock that cannot be read counts as held by an unknown holder: `lock()` raises
  LockHeld(None), `current()` raises DiagnosticError, `unlock()` leaves it, and only
  `force_unlock()` without an id removes it. `unlock()` never removes someone else's lock.

The second half of this module is what every store shares, so that they all behave the
same: the strict codec for documents (`encode_state`, `decode_state`, `check_write`) and
for lock records, and the lock algorithm (`CellLock`) over a four-operation `LockCell`
(create if absent, fetch with a version token, replace and delete if unchanged), which each
store implements with its own atomic primitive.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from composer.diagnostics import Diagnostic, DiagnosticError, MessageError
from composer.state import keys
from composer.state.encoded import encoded
from composer.state.model import FORMAT, StateDoc, now


@dataclass(frozen=True)
class LockInfo:
    id: str
    holder: str  # user@host
    pid: int
    host: str
    operation: str  # apply, destroy, ...
    created: str

    def describe(self) -> str:
        return f"{self.holder} (pid {self.pid}, {self.operation}, since {self.created}, lock id {self.id})"

    def to_json(self) -> dict:
        return asdict(self)


def new_lock_info(operation: str) -> LockInfo:
    host = socket.gethostname()
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = str(os.getuid())
    return LockInfo(
        id=str(uuid.uuid4()), holder=f"{user}@{host}", pid=os.getpid(), host=host, operation=operation, created=now()
    )


class LockHeld(MessageError):
    """The environment's lock is held by another run (the CLI reports it as exit 4, naming the holder)."""

    def __init__(self, info: LockInfo | None, where: str):
        self.info = info
        self.where = where
        who = info.describe() if info else "an unknown holder"
        super().__init__(f"state is locked by {who} at {where}")


@dataclass
class StoreOptions:
    on_warning: Callable[[str], None] = field(default=lambda msg: None)


class StateStore(Protocol):
    location: str  # for messages, e.g. ".composer/local.state.json" or "s3://bucket/key"

    def read(self) -> StateDoc | None: ...

    def write(self, doc: StateDoc) -> StateDoc: ...

    def lock(self, info: LockInfo, timeout: float = 0.0) -> LockInfo: ...

    def unlock(self, info: LockInfo) -> None: ...

    def current(self) -> LockInfo | None: ...

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None: ...

    def signing_key(self) -> bytes: ...


# --- Shared by the stores: the strict codec ---------------------------------------------

_NOT_OVERWRITTEN = "appc will not overwrite it."
_RESTORE = "Restore it from a backup (on S3: from an earlier object version)."


def refused(where: str, summary: str, detail: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(summary=summary, detail=detail, file=where)])


def encode_state(doc: StateDoc, key: bytes) -> bytes:
    """The stored bytes: sorted keys, indent 2, so that diffs of state files stay readable;
    signed with the state key."""
    return encoded(doc, lambda canonical: keys.signature(key, "state", canonical))


def decode_state(
    data: bytes,
    where: str,
    app: str,
    environment: str,
    key: bytes | None = None,
    key_where: str = "",
    on_warning: Callable[[str], None] | None = None,
) -> StateDoc:
    """Parse stored bytes strictly and check their signature against `key` (None: the store
    has no key). Messages name positions and field paths, never contents."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise refused(where, "state file is corrupt", f"It is not UTF-8 text. {_NOT_OVERWRITTEN} {_RESTORE}") from None
    except json.JSONDecodeError as e:
        raise refused(
            where,
            "state file is corrupt",
            f"It is not valid JSON (line {e.lineno}, column {e.colno}). {_NOT_OVERWRITTEN} {_RESTORE}",
        ) from None
    if not isinstance(obj, dict):
        raise refused(where, "state file is corrupt", f"It is not a JSON object. {_NOT_OVERWRITTEN} {_RESTORE}")
    fmt = obj.get("format")
    if type(fmt) is not int:
        raise refused(
            where, "state file is corrupt", f"It has no integer `format` field. {_NOT_OVERWRITTEN} {_RESTORE}"
        )
    if fmt != FORMAT:
        newer = " It was written by a newer appc: upgrade appc to use it." if fmt > FORMAT else ""
        raise refused(
            where,
            f"state file has unknown format {fmt}",
            f"This appc reads state format {FORMAT}.{newer} {_NOT_OVERWRITTEN}",
        )
    other_app, other_env = obj.get("app"), obj.get("environment")
    if isinstance(other_app, str) and isinstance(other_env, str) and (other_app, other_env) != (app, environment):
        raise refused(
            where,
            f"state file belongs to app {other_app!r}, environment {other_env!r}",
            f"Expected the state of app {app!r}, environment {environment!r}. Two environments must not share "
            f"a state location: check the state settings of environment {environment!r}. {_NOT_OVERWRITTEN}",
        )
    _check_signature(obj, where, key, key_where, on_warning)
    obj.pop(keys.SIGNATURE_FIELD, None)
    try:
        return StateDoc.model_validate_json(json.dumps(obj), strict=True)  # strict: no "3" for 3
    except ValidationError as e:
        paths = [".".join(str(p) for p in err["loc"]) + f" ({err['type']})" for err in e.errors(include_input=False)]
        more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
        raise refused(
            where,
            "state file is corrupt",
            f"It does not match the state schema at {', '.join(paths[:5])}{more}. {_NOT_OVERWRITTEN} {_RESTORE}",
        ) from None


def _check_signature(
    obj: dict, where: str, key: bytes | None, key_where: str, on_warning: Callable[[str], None] | None
) -> None:
    signed = keys.SIGNATURE_FIELD in obj
    if key is None and not signed:
        if on_warning is not None:
            on_warning(
                f"the state at {where} is not signed yet (written by an earlier appc); it is signed from its next write on"
            )
        return
    if key is None:
        raise refused(
            where,
            "the state is signed, but its key is missing",
            f"The state key at {key_where} is gone, so the state cannot be verified. Restore the key from a backup; "
            f"{_NOT_OVERWRITTEN}",
        )
    if not signed:
        raise refused(
            where,
            "the state was modified outside appc: its signature is missing",
            f"This environment has a state key ({key_where}), so every state appc writes is signed. Someone "
            f"replaced or edited the state. {_NOT_OVERWRITTEN} {_RESTORE}",
        )
    if not keys.verify(key, "state", obj):
        raise refused(
            where,
            "the state was modified outside appc: its signature does not match",
            f"The state at {where} is not the document appc last wrote with the key at {key_where}. "
            f"{_NOT_OVERWRITTEN} {_RESTORE}",
        )


def check_write(stored: StateDoc | None, doc: StateDoc, where: str, app: str, environment: str) -> None:
    """Refuse a write that would lose someone else's: another lineage, or a serial moved on."""
    if (doc.app, doc.environment) != (app, environment):
        raise refused(
            where,
            "state document is for another app or environment",
            f"The document is for app {doc.app!r}, environment {doc.environment!r}; this store holds app "
            f"{app!r}, environment {environment!r}. Nothing was written.",
        )
    if stored is None:
        if doc.serial != 0:
            raise refused(
                where,
                "state disappeared since it was read",
                f"This run read serial {doc.serial}, but the state no longer exists: someone removed it. "
                "Nothing was written; find out who removed it before running again.",
            )
        return
    if stored.lineage != doc.lineage:
        raise refused(
            where,
            "state has another lineage",
            f"The stored state has lineage {stored.lineage}, this document lineage {doc.lineage}: the state was "
            "recreated or replaced since it was read. Nothing was written.",
        )
    if stored.serial != doc.serial:
        raise refused(
            where,
            "state changed since it was read",
            f"The stored state is at serial {stored.serial}, this run read serial {doc.serial}: someone else wrote "
            "in between (was the lock bypassed?). Nothing was written; run the command again.",
        )


def encode_lock(info: LockInfo) -> bytes:
    return (json.dumps(info.to_json(), sort_keys=True, indent=2) + "\n").encode()


def decode_lock(data: bytes) -> LockInfo | None:
    """A lock record, or None when it cannot be read (it then counts as held by an unknown holder)."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(obj, dict):
        return None
    fields = {"id": str, "holder": str, "pid": int, "host": str, "operation": str, "created": str}
    if any(type(obj.get(k)) is not t for k, t in fields.items()) or not obj["id"]:
        return None
    return LockInfo(**{k: obj[k] for k in fields})  # unknown keys (a newer appc) are ignored


def holder_is_gone(info: LockInfo) -> bool:
    """True only when the holder provably died: same host, and its pid no longer exists."""
    if os.name == "nt" or info.host != socket.gethostname() or info.pid <= 0 or info.pid == os.getpid():
        return False  # on Windows os.kill(pid, 0) would terminate the process
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, owned by another user
        return False
    return False


# --- Shared by the stores: the lock algorithm --------------------------------------------

POLL_SECONDS = 0.2


class LockCell(Protocol):
    """Where a store keeps its lock record. Each operation is atomic on its own."""

    where: str

    def create(self, data: bytes) -> bool:
        """Store data if no record exists; False when one does."""

    def fetch(self) -> tuple[bytes, Any] | None:
        """The record and a version token, or None when there is none."""

    def replace(self, token: Any, data: bytes) -> bool:
        """Store data if the record is still the one `token` names; False otherwise."""

    def delete(self, token: Any) -> bool:
        """Remove the record if it is still the one `token` names; False otherwise."""


class CellLock:
    """lock / unlock / current / force_unlock over a LockCell, the same for every store."""

    def __init__(self, cell: LockCell, environment: str, options: StoreOptions) -> None:
        self.cell = cell
        self.environment = environment
        self.options = options

    def lock(self, info: LockInfo, timeout: float = 0.0) -> LockInfo:
        deadline = time.monotonic() + max(timeout, 0.0)
        data = encode_lock(info)
        while True:
            acquired, held = self._attempt(data)
            if acquired:
                return info
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockHeld(held, self.cell.where)
            time.sleep(min(POLL_SECONDS, left))

    def _attempt(self, data: bytes) -> tuple[bool, LockInfo | None]:
        held: LockInfo | None = None
        for _ in range(5):  # the record may vanish or change between two calls: look again
            if self.cell.create(data):
                return True, None
            got = self.cell.fetch()
            if got is None:
                continue
            raw, token = got
            held = decode_lock(raw)
            if held is None or not holder_is_gone(held):
                return False, held
            if self.cell.replace(token, data):
                self.options.on_warning(
                    f"took over a stale lock of {held.describe()} at {self.cell.where} (pid {held.pid} is gone)"
                )
                return True, None
        return False, held

    def unlock(self, info: LockInfo) -> None:
        got = self.cell.fetch()
        if got is None:
            self.options.on_warning(f"the lock {info.id} at {self.cell.where} was already released")
            return
        raw, token = got
        held = decode_lock(raw)
        if held is None or held.id != info.id:
            who = held.describe() if held else "an unknown holder"
            self.options.on_warning(
                f"left the lock at {self.cell.where} in place: it is held by {who}, not by lock {info.id}"
            )
            return
        if not self.cell.delete(token):
            self.options.on_warning(f"the lock {info.id} at {self.cell.where} changed while it was being released")

    def current(self) -> LockInfo | None:
        got = self.cell.fetch()
        if got is None:
            return None
        held = decode_lock(got[0])
        if held is None:
            raise self._unreadable()
        return held

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        got = self.cell.fetch()
        if got is None:
            return None
        raw, token = got
        held = decode_lock(raw)
        if lock_id is not None:
            if held is None:
                raise refused(
                    self.cell.where,
                    "the lock is unreadable and has no id",
                    f"It cannot match lock id {lock_id}. If no appc run is in progress, run "
                    f"`appc force-unlock -e {self.environment}` without a lock id to remove it.",
                )
            if held.id != lock_id:
                raise refused(
                    self.cell.where,
                    f"lock id {lock_id} does not match the lock held",
                    f"It is held by {held.describe()}. Nothing was removed.",
                )
        if not self.cell.delete(token):
            raise refused(
                self.cell.where,
                "the lock changed while it was being removed",
                "Nothing was removed; look again and retry.",
            )
        return held

    def _unreadable(self) -> DiagnosticError:
        return refused(
            self.cell.where,
            "the lock is unreadable",
            "The state is locked by an unknown holder. If no appc run is in progress, run "
            f"`appc force-unlock -e {self.environment}` to remove it.",
        )
