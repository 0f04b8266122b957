"""Diagnostics of a converted KubeVela file in the user's own terms: positions keyed by the
converted paths are reported at the paths the user wrote, with KubeVela's words (gateway, storage,
domain…) and a close-match hint over the names a KubeVela user writes. Used by oam.py.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field

from composer.diagnostics import Diagnostic, FieldPath
from composer.model.oam_hints import hint
from composer.model.source import SourceMap

# OAM trait name -> Composer trait name (and a property translation where shapes differ).
TRAIT_NAMES = {
    "gateway": "ingress",
    "pure-ingress": "ingress",
    "storage": "volume",
    "cpuscaler": "hpa",
    "resource": "resources",
}


@dataclass
class OamSourceMap(SourceMap):
    """Positions keyed by the converted paths; diagnostics report the paths the user wrote.

    `origins` maps a converted path (prefix) back to where it came from, `notes` adds
    a hint to every diagnostic under a path (e.g. "OAM trait 'gateway' is read as ...").
    """

    origins: dict[FieldPath, FieldPath] = field(default_factory=dict)
    notes: dict[FieldPath, str] = field(default_factory=dict)
    vocab: dict[FieldPath, dict[str, str]] = field(default_factory=dict)  # Composer word -> the word the user wrote

    def original(self, path: FieldPath) -> FieldPath:
        p = tuple(path)
        for n in range(len(p), 0, -1):
            if p[:n] in self.origins:
                return self.origins[p[:n]] + p[n:]
        return p

    def in_user_terms(self, d: Diagnostic, key: bool) -> Diagnostic:
        p = d.path
        detail = d.detail or hint(d.summary, p)
        notes = [self.notes[p[:n]] for n in range(len(p), 0, -1) if p[:n] in self.notes]
        if notes:
            detail = "; ".join([d.detail, *notes]) if d.detail else "; ".join(notes)
        words = {k: v for n in range(len(p), 0, -1) for k, v in self.vocab.get(p[:n], {}).items()}
        summary = d.summary
        if words:
            summary, detail = _in_user_words(summary, words), _in_user_words(d.detail, words) + detail[len(d.detail) :]
        if summary.startswith(("unknown trait ", "unknown component type ")):
            detail = _kubevela_hint(summary, detail)
        return dataclasses.replace(d, path=self.original(p), summary=summary, detail=detail)


# Composer's name -> KubeVela's, for hints shown to someone who wrote a KubeVela file.
VELA_TRAIT_WORDS = {"ingress": "gateway", "volume": "storage", "resources": "resource"}
GATEWAY_WORDS = {
    "host": "domain",
    "paths": "http",
    "tlsSecretName": "secretName",
    "className": "class",
    "ingress": "gateway",
}


def _in_user_words(text: str, words: dict[str, str]) -> str:
    return (
        re.sub(r"\b(" + "|".join(map(re.escape, words)) + r")\b", lambda m: words[m.group(1)], text) if text else text
    )


def _kubevela_hint(summary: str, detail: str) -> str:
    """'did you mean' over the names a KubeVela user writes, and only when it is close (cutoff 0.8)."""
    m = re.search(r"'([^']*)'", summary)
    known_at = detail.find("known: ")
    if not m or known_at < 0:
        return detail
    head, _, tail = detail[known_at + 7 :].partition(";")
    from composer.model.oam_traits import REWRITES

    extra = set(TRAIT_NAMES) | set(REWRITES) if summary.startswith("unknown trait") else set()
    known = sorted({VELA_TRAIT_WORDS.get(k.strip(), k.strip()) for k in head.split(",") if k.strip()} | extra)
    close = difflib.get_close_matches(m.group(1), known, n=1, cutoff=0.8)
    rest = detail[:known_at]
    rest = re.sub(r"did you mean '[^']*'\? ", "", rest)
    return (
        (f"did you mean {close[0]!r}? " if close else "")
        + rest
        + "known: "
        + ", ".join(known)
        + (";" + tail if tail else "")
    )


def _move(src: SourceMap, dst: SourceMap, src_prefix: FieldPath, dst_prefix: FieldPath) -> None:
    n = len(src_prefix)
    for table_src, table_dst in ((src.values, dst.values), (src.keys, dst.keys)):
        for path, pos in table_src.items():
            if path[:n] == src_prefix:
                table_dst[dst_prefix + path[n:]] = pos
