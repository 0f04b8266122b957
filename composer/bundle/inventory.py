"""What each component creates, and the provenance stamped on what is installed.

- `component_inventory`: per component, the cloud resource types its module declares (the
  `resource` blocks of the module package's Terraform files), the Kubernetes kinds its
  manifests hold, and the digests of its definition and module: the bundle's inventory.json.
- `Provenance`: which bundle (digest) or source commit a unit was installed from, which key
  signed it, and when; the state keeps it per unit (composer/state/model.py).
- `stamp_manifests`: the `composer.dev/bundle-digest` and `composer.dev/source` annotations
  on every Kubernetes object, only when installing from a bundle (goldens stay identical).
- `spdx_document`: the installed inventory as SPDX 2.3 JSON, for SBOM tooling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from composer.catalog import ModuleSource
from composer.catalog.hcl import _blocks, parse_file
from composer.diagnostics import DiagnosticError
from composer.render import Rendered

BUNDLE_ANNOTATION = "composer.dev/bundle-digest"
SOURCE_ANNOTATION = "composer.dev/source"


def resource_types(module: ModuleSource) -> list[str]:
    types: set[str] = set()
    for rel, data in module.files:
        if not rel.endswith((".tf", ".tf.json")):
            continue
        try:
            doc = parse_file(rel, data)
        except DiagnosticError:
            continue  # the module policy refuses unparseable files before anything runs
        types.update(label for label, _ in _blocks(doc, "resource"))
    return sorted(types)


@dataclass(frozen=True)
class ComponentEntry:
    component: str
    type: str
    implementation: str
    definition: str  # origin: builtin, provider:<name> or the bundle path of the definition file
    definition_digest: str | None
    module_digest: str | None
    resource_types: tuple[str, ...]
    kinds: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "type": self.type,
            "implementation": self.implementation,
            "definition": self.definition,
            "definitionDigest": self.definition_digest,
            "moduleDigest": self.module_digest,
            "resourceTypes": list(self.resource_types),
            "kinds": list(self.kinds),
        }


def component_inventory(
    components: list[tuple[str, str, str, str]],
    modules: Mapping[str, ModuleSource],
    rendered: Rendered,
    definition_digests: Mapping[str, tuple[str, str]],
) -> list[ComponentEntry]:
    """`components`: (name, type, implementation, origin); `definition_digests`: origin ->
    (bundle path, digest) for platform definition files."""
    out = []
    for name, ctype, impl, origin in components:
        module = modules.get(name)
        path, digest = definition_digests.get(origin, (origin, None))
        kinds = sorted({str(o.get("kind")) for o in rendered.manifests.get(name, []) if isinstance(o, dict)})
        out.append(
            ComponentEntry(
                name,
                ctype,
                impl,
                path,
                digest,
                f"sha256:{module.digest}" if module else None,
                tuple(resource_types(module)) if module else (),
                tuple(kinds),
            )
        )
    return out


@dataclass(frozen=True)
class Provenance:
    bundle_digest: str | None
    source: str | None  # e.g. git+https://...@<commit>, or bundle:<name>
    signer: str | None  # key id that signed the bundle
    installed_at: str | None = None


def stamp_manifests(rendered: Rendered, provenance: Provenance) -> Rendered:
    """Rendered with the provenance annotations on every Kubernetes object (a new value)."""
    notes = {}
    if provenance.bundle_digest:
        notes[BUNDLE_ANNOTATION] = provenance.bundle_digest
    if provenance.source:
        notes[SOURCE_ANNOTATION] = provenance.source
    manifests: dict[str, list[dict]] = {}
    files = rendered.files.copy()
    for component, objects in rendered.manifests.items():
        stamped = []
        for obj in objects:
            meta = dict(obj.get("metadata") or {})
            meta["annotations"] = {**(meta.get("annotations") or {}), **notes}
            stamped.append({**obj, "metadata": meta})
        manifests[component] = stamped
        rel = f"kubernetes/{component}.yaml"
        if rel in files:
            files.add_objects(rel, stamped)
    return dataclasses.replace(rendered, files=files, manifests=manifests)


def spdx_document(name: str, namespace: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """SPDX 2.3: one package per installed resource or object, provenance as comments."""
    packages = []
    for i, row in enumerate(rows):
        packages.append(
            {
                "SPDXID": f"SPDXRef-Item-{i}",
                "name": f"{row['component']}/{row['kind']}/{row['name']}",
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "supplier": "NOASSERTION",
                "comment": f"bundle {row.get('bundle_digest') or 'none'}; source {row.get('source') or 'none'}; "
                f"signer {row.get('signer') or 'none'}; installed {row.get('installed_at') or 'unknown'}",
                **(
                    {
                        "checksums": [
                            {"algorithm": "SHA256", "checksumValue": row["bundle_digest"].removeprefix("sha256:")}
                        ]
                    }
                    if row.get("bundle_digest")
                    else {}
                ),
            }
        )
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": namespace,
        "creationInfo": {"creators": ["Tool: appc"], "created": "1970-01-01T00:00:00Z"},
        "packages": packages,
        "relationships": [
            {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": p["SPDXID"]}
            for p in packages
        ],
    }
