"""What to do, for errors of a KubeVela file that say only what is wrong (a schema's "expected array,
got integer"): a hint line in KubeVela's terms, chosen by the error's words and field. Used by
oam_sourcemap.OamSourceMap for diagnostics that carry no hint of their own.
"""

from __future__ import annotations

import re

from composer.diagnostics import FieldPath

UNKNOWN_PROPERTY = re.compile(r"^invalid property of ([\w-]+): unknown property '([^']*)'")


def hint(summary: str, path: FieldPath) -> str:
    """A hint line for an error that has none, or "" when none of these applies."""
    field = str(path[-1]) if path else ""
    unknown = UNKNOWN_PROPERTY.match(summary)
    if unknown:
        kind, name = unknown.groups()
        return (
            f'{name!r} is no property of KubeVela\'s {kind} that Composer maps (docs/oam.md, "Properties"): remove '
            f"it or correct its name; a definition of your own with this property needs a type name of its own, "
            "published as a ComponentDefinition under definitions/"
        )
    if "{{" in summary and "is not a valid name" in summary:
        return (
            "the name is a template placeholder ({{ ... }}) that the tool which made this file fills in before "
            "applying it: fill it in first (e.g. with sed or envsubst)"
        )
    if field == "ports" and "expected array, got integer" in summary:
        return "ports is a list: write port: N for one port, or ports: [{port: N, expose: true}]"
    if field == "image" and "minLength is 1" in summary:
        return "give the container image, e.g. image: nginx:1.27"
    return ""
