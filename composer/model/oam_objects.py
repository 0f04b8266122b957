"""KubeVela's component types that render objects as given: `helmchart` (oam_helm.py),
`ref-objects` (oam_ref_objects.py: read into a k8s-objects component) and `k8s-objects` (vela-templates/definitions/internal/component/k8s-objects.cue).

For `k8s-objects` the first object is the component's workload, and KubeVela names a workload
without a name after its component (pkg/appfile, assembleWorkload). Composer does the same, so
an object given without `metadata` or `metadata.name` in first place gets the component's name.
The other objects are KubeVela's auxiliary outputs, whose generated names Composer has no
counterpart for: the schema asks for their `metadata.name`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from composer.diagnostics import FieldPath

if TYPE_CHECKING:
    from composer.model.oam import _Converter


def object_component(c: _Converter, comp: dict[str, Any], cpath: FieldPath) -> dict[str, Any]:
    if comp.get("type") == "helmchart":
        from composer.model.oam_helm import HelmChart

        return HelmChart(c, comp, cpath).run()
    if comp.get("type") == "ref-objects":
        from composer.model.oam_ref_objects import ref_objects

        comp = ref_objects(c, comp, cpath)
    return name_the_workload(c, comp, cpath)


def name_the_workload(c: _Converter, comp: dict[str, Any], cpath: FieldPath) -> dict[str, Any]:
    props = comp.get("properties")
    if not isinstance(props, dict) or not isinstance(props.get("objects"), list) or not props["objects"]:
        return comp  # the schema reports the shape
    objects: list[Any] = props["objects"]
    first = objects[0]
    if not isinstance(first, dict) or not isinstance(comp.get("name"), str):
        return comp
    meta = first.get("metadata", {})
    if not isinstance(meta, dict) or "name" in meta:
        return comp  # the schema reports a metadata that is not a mapping
    opath = cpath + ("properties", "objects", 0)
    c.pin(opath + ("metadata",), opath)
    c.pin(opath + ("metadata", "name"), cpath + ("name",))
    named = {**first, "metadata": {**meta, "name": comp["name"]}}
    return {**comp, "properties": {**props, "objects": [named, *objects[1:]]}}
