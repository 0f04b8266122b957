"""The files of a render tree, with Kubernetes manifests written out as YAML only when read.

Rendering 1,000 Kubernetes objects into YAML costs more than the rest of the render (PyYAML's
representer is pure Python), and `appc apply` never reads those bytes: it applies the objects
and only needs to know whether they changed. So `RenderedFiles` keeps a manifest file as its
objects and dumps it on first read (`appc render`, bundles, plan files, tests). What the unit
hash needs is `digest(path)`: for a manifest file, the sha256 of the objects as canonical JSON
(the form server-side apply sends), taken when the file is added; for any other file, the
sha256 of its bytes. The objects are not to be changed after they are added: consumers that
need changed objects copy them first (engine/binding.py, bundle/inventory.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Domain separation: a manifest's digest is over its objects, never over some file's bytes.
_OBJECTS_DIGEST_PREFIX = b"composer.dev/objects-json/v1\0"
_YAML_DIGEST_PREFIX = b"composer.dev/objects-yaml/v1\0"


class _Dump(_Dumper):  # type: ignore[misc, valid-type]
    """Multi-line text as literal blocks (|), the way people write it in manifests."""


def _str(dumper: Any, value: str) -> Any:
    style = (
        "|"
        if "\n" in value and not value.startswith((" ", "\n")) and all(c == "\n" or c.isprintable() for c in value)
        else None
    )
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dump.add_representer(str, _str)


def dump_yaml(docs: list[dict]) -> bytes:
    """Kubernetes objects as a multi-document YAML file, the bytes `appc render` writes."""
    return yaml.dump_all(
        docs,
        Dumper=_Dump,
        sort_keys=False,
        default_flow_style=False,
        explicit_start=True,
        width=1 << 16,
        allow_unicode=True,
    ).encode()


def objects_digest(docs: list[dict]) -> bytes:
    """sha256 of the objects as compact JSON, keys in their rendered order (what is applied). A
    value JSON cannot hold (a date or a non-text key a definition template wrote, shared objects)
    makes it the sha256 of the YAML instead, which holds all of them, as before."""
    try:
        data = json.dumps(docs, ensure_ascii=False, separators=(",", ":")).encode()
    except (TypeError, ValueError):
        return hashlib.sha256(_YAML_DIGEST_PREFIX + dump_yaml(docs)).digest()
    return hashlib.sha256(_OBJECTS_DIGEST_PREFIX + data).digest()


class RenderedFiles(Mapping[str, bytes]):
    """Path -> bytes, in path order; manifest files dumped to YAML on first read."""

    def __init__(self, files: Mapping[str, bytes] | None = None) -> None:
        self._bytes: dict[str, bytes] = dict(files or {})
        self._objects: dict[str, list[dict]] = {}
        self._digests: dict[str, bytes] = {}
        self._order: list[str] | None = None

    def add(self, path: str, data: bytes) -> None:
        self._objects.pop(path, None)
        self._digests.pop(path, None)
        self._bytes[path] = data
        self._order = None

    def add_objects(self, path: str, docs: list[dict]) -> None:
        """A manifest file: `docs` as YAML when read; digested now."""
        self._bytes.pop(path, None)
        self._objects[path] = docs
        self._digests[path] = objects_digest(docs)
        self._order = None

    def copy(self) -> RenderedFiles:
        out = RenderedFiles(self._bytes)
        out._objects = dict(self._objects)
        out._digests = dict(self._digests)
        return out

    def under(self, *prefixes: str) -> dict[str, bytes]:
        """The files whose path starts with one of `prefixes`, without dumping any other."""
        return {path: self[path] for path in self if path.startswith(prefixes)}

    def dumped(self) -> set[str]:
        """The manifest files written out as YAML so far (`appc apply` writes none)."""
        return self._objects.keys() & self._bytes.keys()

    def digest(self, path: str) -> bytes:
        """What the unit hash takes of this file (see the module docstring)."""
        found = self._digests.get(path)
        if found is None:
            found = hashlib.sha256(self._bytes[path]).digest()
            self._digests[path] = found
        return found

    def __getitem__(self, path: str) -> bytes:
        data = self._bytes.get(path)
        if data is None:
            data = dump_yaml(self._objects[path])  # KeyError for an unknown path, as a dict says
            self._bytes[path] = data
        return data

    def __contains__(self, path: object) -> bool:
        return path in self._bytes or path in self._objects

    def __iter__(self) -> Iterator[str]:
        if self._order is None:
            self._order = sorted({*self._bytes, *self._objects})
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._bytes.keys() | self._objects.keys())


def file_digest(files: Mapping[str, bytes], path: str) -> bytes:
    """`RenderedFiles.digest` for rendered files; sha256 of the bytes for any other mapping."""
    if isinstance(files, RenderedFiles):
        return files.digest(path)
    return hashlib.sha256(files[path]).digest()
