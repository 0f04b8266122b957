"""The plain values of a composed YAML document, built without source positions.

source.py builds every document with each value's line and column, keyed by field path: a path
tuple and two positions per value (~45 ms of an 18,000-value app file), which only a diagnostic
ever reads. This builder makes the same values for the usual document and nothing else: no
merge keys, no keys other than text, no duplicate keys, no unusual tags, no over-long number,
no nesting deeper than `MAX_DEPTH`, no budget exceeded. Anything else raises `Unusual` and
source.py builds the document the full way, which reports it exactly as before; the positions
of a document built here are found again only when one is asked for (source.py's
`DeferredSourceMap`). Aliases are expanded and counted as the full builder counts them.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64  # deeper documents go the full way, which decides whether they are too deep

_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_CONSTRUCTED_TAGS = {  # the scalars the full builder makes with PyYAML's constructor (str is text as it is)
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_FLOAT_TAG = "tag:yaml.org,2002:float"
_Scalar = yaml.ScalarNode
_Mapping = yaml.MappingNode
_Sequence = yaml.SequenceNode


class Unusual(Exception):
    """The document needs the full builder (source._Builder)."""


class Limits:
    """What the document may still spend of its file's budget (source._Budget): the counts are
    checked as they grow, so that an alias bomb stops early, and exactly at the end."""

    def __init__(self, values: int, chars: int, aliased: int) -> None:
        self.values = values
        self.chars = chars
        self.aliased = aliased


class PlainBuilder:
    """Builds one document's values as source._Builder does, counting what it spends."""

    def __init__(self, limits: Limits, constructor: Any, dates_as_text: bool = True) -> None:
        self.limits = limits
        self.dates_as_text = dates_as_text  # as source.py builds them; PyYAML's load makes dates
        self.constructor = constructor  # PyYAML's constructor, for int, float, bool and null
        self.built: set[int] = set()  # ids of the nodes built so far: building one again is an alias
        self.scalars: dict[tuple[str, str], Any] = {}  # (tag, text) -> the value made of it once
        self.values = 0  # values built, the document itself included
        self.chars = 0  # characters of the text values built
        self.aliased = 0  # values built again through an alias
        self.alias_start = -1  # `values` when the outermost alias being expanded began, else -1

    def document(self, node: Any) -> Any:
        self.values = 1
        value = self.build(node, 0)
        if self.values > self.limits.values or self.chars > self.limits.chars or self.aliased > self.limits.aliased:
            raise Unusual("over budget")  # the full builder reports where
        return value

    def build(self, node: Any, depth: int) -> Any:
        key = id(node)
        if key in self.built:
            return self._alias(node, depth)
        self.built.add(key)
        kind = node.__class__
        if kind is _Scalar:
            return self._scalar(node)
        if depth > MAX_DEPTH:
            raise Unusual("deep")
        items = node.value
        self.values += len(items)
        if self.values > self.limits.values:
            raise Unusual("too many values")
        if kind is _Mapping:
            out: dict[str, Any] = {}
            for knode, vnode in items:
                if knode.tag != _STR_TAG or knode.__class__ is not _Scalar:
                    raise Unusual("a key that is not text, or a merge key")
                name = knode.value
                if name in out:
                    raise Unusual("duplicate key")
                out[name] = self.build(vnode, depth + 1)
            return out
        if kind is _Sequence:
            return [self.build(item, depth + 1) for item in items]
        raise Unusual("unknown node")

    def _scalar(self, node: Any) -> Any:
        tag = node.tag
        text = node.value
        self.chars += len(text)
        if tag == _STR_TAG or (tag == _TIMESTAMP_TAG and self.dates_as_text):
            return text
        made = self.scalars.get((tag, text), self)
        if made is self:
            if tag not in _CONSTRUCTED_TAGS:
                raise Unusual("unsupported tag")
            made = self.constructor.construct_object(node, deep=True)
            if tag != _FLOAT_TAG:  # a float (nan) is made each time, as the full builder makes it
                self.scalars[(tag, text)] = made
        return made

    def _alias(self, node: Any, depth: int) -> Any:
        """A node built again; what it builds counts as aliased, checked as it grows."""
        outermost = self.alias_start < 0
        if outermost:
            self.alias_start = self.values - 1  # the alias itself is a value built again (counted by its parent)
        elif self.aliased + self.values - self.alias_start > self.limits.aliased:
            raise Unusual("too many aliased values")
        self.built.discard(id(node))  # so that `build` builds it (again), and does not come back here
        try:
            return self.build(node, depth)
        finally:
            self.built.add(id(node))
            if outermost:
                self.aliased += self.values - self.alias_start
                self.alias_start = -1
