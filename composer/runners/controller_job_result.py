"""What a Terraform unit Job hands back to the child that started it, through the pod's
termination message: the apply's changes, its root outputs and its diagnostics, as JSON,
compressed and encrypted with a one-time key the child put in the Job's input Secret.

The termination message is readable by anyone who may read the pod and is at most 4096 bytes,
so it carries ciphertext only, and a result that would not fit drops first the resource detail,
then the outputs (the child then reads them from the unit's state, `terraform output`), never
the success flag or the diagnostics' summaries (docs/controller.md, "The job runner").
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from composer.diagnostics import Diagnostic
from composer.runners.terraform_stream import Changes

MAX_MESSAGE_BYTES = 4096  # the kubelet's limit for one container's termination message
MAX_RESULT_BYTES = 1024 * 1024  # what a message may decompress to


@dataclass(frozen=True)
class UnitResult:
    ok: bool
    changes: Changes
    diagnostics: tuple[Diagnostic, ...] = ()


def new_key() -> bytes:
    return Fernet.generate_key()


def _document(result: UnitResult, detail: bool, outputs: bool) -> dict[str, Any]:
    c = result.changes
    return {
        "ok": result.ok,
        "counts": [c.add, c.change, c.remove],
        "actions": [list(a) for a in c.resource_actions] if detail else [],
        "seen": [list(s) for s in c.resources_seen] if detail else [],
        "deleted": list(c.resources_deleted) if detail else [],
        "outputs": ({k: [v, s] for k, (v, s) in c.outputs.items()} if outputs and c.outputs is not None else None),
        "diagnostics": [
            {"summary": d.summary[:300], "detail": d.detail[:600] if detail else "", "address": d.address}
            for d in result.diagnostics[:5]
        ],
    }


def encode(result: UnitResult, key: bytes) -> bytes:
    """The encrypted message, within MAX_MESSAGE_BYTES (dropping detail, then outputs)."""
    fernet = Fernet(key)
    token = b""
    for detail, outputs in ((True, True), (False, True), (False, False)):
        text = json.dumps(_document(result, detail, outputs), separators=(",", ":"), sort_keys=True)
        token = fernet.encrypt(zlib.compress(text.encode(), 9))
        if len(token) <= MAX_MESSAGE_BYTES:
            return token
    return token[:0]  # unreachable in practice: five short summaries always fit


def decode(message: str, key: bytes) -> UnitResult | None:
    """The result, or None when the message is missing, foreign or tampered with."""
    try:
        raw = zlib.decompressobj().decompress(Fernet(key).decrypt(message.strip().encode()), MAX_RESULT_BYTES)
        doc = json.loads(raw)
        add, change, remove = (int(n) for n in doc["counts"])
        outputs = doc.get("outputs")
        changes = Changes(
            add=add,
            change=change,
            remove=remove,
            resource_actions=tuple((str(a), str(t), str(x)) for a, t, x in doc.get("actions") or []),
            resources_seen=tuple((str(a), str(t), str(i)) for a, t, i in doc.get("seen") or []),
            resources_deleted=tuple(str(a) for a in doc.get("deleted") or []),
            outputs=None if outputs is None else {str(k): (v[0], bool(v[1])) for k, v in outputs.items()},
        )
        diagnostics = tuple(
            Diagnostic(str(d.get("summary", "")), str(d.get("detail", "")), address=d.get("address"))
            for d in doc.get("diagnostics") or []
        )
        return UnitResult(bool(doc["ok"]), changes, diagnostics)
    except (InvalidToken, zlib.error, ValueError, KeyError, TypeError):
        return None
