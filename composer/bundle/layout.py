"""The archive's framing: a ustar stream that has exactly one byte-for-byte form.

Every entry is a regular file with mode 0644, owner 0:0, mtime 0 and empty user and group
names; entries come in strictly increasing name order; each file is padded with zeros to
512 bytes and the archive ends with two zero blocks and nothing after them. Writing therefore
gives the same bytes for the same files, and reading checks every header against the one
this module would write: a flipped byte in a header, in padding or in the trailer is an error
naming the entry, and a flipped byte in a file is caught by its digest (the name of a blob
is its sha256). Names are limited to the OCI layout's own (`oci-layout`, `index.json`,
`blobs/sha256/<hex>`), so an archive can hold no path that climbs out, no link, no device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from composer.diagnostics import Diagnostic, DiagnosticError

BLOCK = 512
TRAILER = b"\0" * (2 * BLOCK)
NAME_PATTERN = re.compile(r"^(oci-layout|index\.json|blobs/sha256/[0-9a-f]{64})$")
MAX_ENTRY_BYTES = 8 * 1024**3 - 1  # what 11 octal digits hold


class ArchiveError(DiagnosticError):
    """The archive is not one appc wrote: truncated, altered or foreign."""


def archive_error(archive: str, what: str, detail: str) -> ArchiveError:
    return ArchiveError([Diagnostic(what, detail, file=archive)])


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode() + b"\0"


def header(name: str, size: int) -> bytes:
    """The one header appc writes for `name` with `size` bytes."""
    if not NAME_PATTERN.match(name) or not 0 <= size <= MAX_ENTRY_BYTES:
        raise ValueError(f"not an entry of a bundle: {name!r} ({size} bytes)")
    fields = (
        name.encode().ljust(100, b"\0")
        + _octal(0o644, 8)
        + _octal(0, 8)
        + _octal(0, 8)
        + _octal(size, 12)
        + _octal(0, 12)
        + b" " * 8  # the checksum field counts as spaces while summing
        + b"0"
        + b"\0" * 100
        + b"ustar\x0000"
        + b"\0" * 32
        + b"\0" * 32
        + _octal(0, 8)
        + _octal(0, 8)
        + b"\0" * 155
    ).ljust(BLOCK, b"\0")
    checksum = f"{sum(fields):06o}".encode() + b"\0 "
    return fields[:148] + checksum + fields[156:]


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


@dataclass(frozen=True)
class Entry:
    name: str
    size: int


def parse_header(block: bytes, previous: str | None, archive: str) -> Entry | None:
    """The entry a header block announces; None at the first trailer block. Anything but
    the canonical header for that name and size is an error naming where it happened."""
    where = f"after {previous}" if previous else "at the start"
    if len(block) < BLOCK:
        raise archive_error(archive, "the archive is truncated", f"a header {where} is cut short")
    if block == b"\0" * BLOCK:
        return None
    raw_name = block[:100].split(b"\0", 1)[0]
    try:
        name = raw_name.decode("ascii")
        size = int(block[124:135].decode("ascii"), 8)
    except (UnicodeDecodeError, ValueError):
        raise archive_error(
            archive, f"the entry {where} has a damaged header", "the archive is corrupted or not a bundle"
        ) from None
    if not NAME_PATTERN.match(name):
        raise archive_error(
            archive,
            f"unexpected entry {name!r}",
            "a bundle holds only oci-layout, index.json and blobs/sha256/<digest>: no other path, link or device",
        )
    if previous is not None and name <= previous:
        raise archive_error(archive, f"entry {name} is out of order or repeated", "the archive was altered")
    if size > MAX_ENTRY_BYTES or block != header(name, size):
        raise archive_error(archive, f"the tar header of {name} was altered", "it differs from the one appc writes")
    return Entry(name, size)


def check_padding(data: bytes, entry: Entry, archive: str) -> None:
    if data != padding(entry.size):
        raise archive_error(
            archive, f"the padding after {entry.name} was altered (or is cut short)", "the archive was altered"
        )


def check_trailer(rest: bytes, archive: str) -> None:
    """What follows the first zero block: one more zero block, then the end of the file."""
    if len(rest) < BLOCK:
        raise archive_error(archive, "the archive is truncated", "its end-of-archive marker is cut short")
    if rest != b"\0" * BLOCK:
        raise archive_error(
            archive, "bytes after the end-of-archive marker were altered or added", "the archive was altered"
        )


def is_bundle(path: Path) -> bool:
    """A regular file that starts like a bundle (the tar header of `blobs/sha256/`). Here, with
    the framing, so that `appc apply -f app.yaml` asks without importing the bundle verifier."""
    try:
        with open(path, "rb") as f:
            return path.is_file() and f.read(13) == b"blobs/sha256/"
    except OSError:
        return False
