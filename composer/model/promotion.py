"""Promoted copies of a component: the same component deployed again by a later step, into a
namespace of its own (KubeVela: `deploy` steps with different `topology` and `override`
policies, docs/oam.md "Promotion").

A copy is a component of its own (its own unit, inventory, apply order and gate) with
`promotion: {of, namespace}`: its objects take the names of component `of`, so a Service keeps
its DNS name, and land in `namespace`. What a copy cannot do soundly is refused here, for
native files as for KubeVela ones: a copy of a copy, a copy of a missing component, two copies
in one namespace, and connections or references on the copy or its component (a connection
Secret lives in the environment's namespace, which a copy leaves). Cloud resources are refused at render (composer/render/promotion.py),
where a component's category is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from composer.model import refs

if TYPE_CHECKING:
    from composer.model.app import Component


def check_promotions(components: Sequence[Component]) -> None:
    """Raise ValueError (a validation error at `spec`) for a copy that cannot be deployed."""
    by_name = {c.name: c for c in components}
    seen: dict[tuple[str, str], str] = {}
    for c in components:
        promo = c.promotion
        if promo is None:
            continue
        source = by_name.get(promo.of)
        if source is None or source is c:
            raise ValueError(f"component {c.name!r} is a promotion of {promo.of!r}, which is no other component")
        if source.promotion is not None:
            raise ValueError(
                f"component {c.name!r} is a promotion of {promo.of!r}, itself a promotion: name the original"
            )
        for bound in (c, source):
            if bound.connections or _references(bound):
                raise ValueError(
                    f"component {bound.name!r} binds connections or references, and {c.name!r} promotes "
                    f"{promo.of!r}: a connection Secret lives in the environment's namespace, which a copy leaves"
                )
        other = seen.setdefault((promo.of, promo.namespace), c.name)
        if other != c.name:
            raise ValueError(
                f"components {other!r} and {c.name!r} both promote {promo.of!r} to namespace {promo.namespace!r}"
            )


def _references(component: Component) -> bool:
    """Whether a `${component.key}` reference is written in the component's properties or traits."""
    values = [component.properties, *(t.properties for t in component.traits)]
    return any(refs.REF.search(text) for _, text in refs.walk_strings(values))
