"""Definition templates that write YAML: the rendered text read back as documents, and the check
that a value pasted unquoted cannot add YAML structure (a value is data, never syntax;
docs/security.md). The Jinja sandbox itself is composer/templates.py.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from composer.templates import TemplateFailure, render_text


def render_yaml_documents(source: str, context: dict[str, Any]) -> list[Any]:
    docs = _yaml_documents(source, context)
    # A parameter pasted into the YAML unquoted (`{{ parameters.x }}`, not `| tojson`) can carry
    # YAML structure: a value "x\n---\nkind: Secret" would add a document. When a parameter
    # holds such text, render again with a plain placeholder in its place: the structure must
    # not depend on it (a value is data, never syntax).
    neutral, risky = _neutralised(context.get("parameters"), "parameters")
    if risky:
        try:
            baseline = _yaml_documents(source, {**context, "parameters": neutral})
        except TemplateFailure:
            baseline = None  # the template cannot take the placeholder (a comparison, a filter): no verdict
        if baseline is not None and _shape(baseline) != _shape(docs):
            culprits = [r for r in risky if _changes_shape(source, context, r, docs)]
            raise TemplateFailure(
                f"the value of {', '.join(culprits or risky)} changes the structure of the YAML the template writes (it adds or splits keys, "
                "items or documents); a value is data, never syntax: the definition must quote it, e.g. {{ parameters.NAME | tojson }}"
            )
    return docs


def _changes_shape(source: str, context: dict[str, Any], path: str, docs: list[Any]) -> bool:
    try:
        neutral = {**context, "parameters": _neutralised(context["parameters"], "parameters", path)[0]}
        return bool(_shape(_yaml_documents(source, neutral)) != _shape(docs))
    except TemplateFailure:
        return True


def _yaml_documents(source: str, context: dict[str, Any]) -> list[Any]:
    text = render_text(source, context)
    try:
        return [_whole_characters(d) for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise TemplateFailure(f"template output is not valid YAML: {str(exc).splitlines()[0]}") from None


_YAML_SYNTAX = re.compile(r"[\n\r\t{}\[\],]|: |:$| #|^[-?:#&*!|>'\"%@`]|^\s|\s$")


def _neutralised(value: Any, path: str, only: str | None = None) -> tuple[Any, list[str]]:
    """`value` with every string that could be YAML syntax (or only the one at path `only`)
    replaced by a plain word, and the paths of those strings."""
    if isinstance(value, str):
        return ("placeholder", [path]) if _YAML_SYNTAX.search(value) and only in (None, path) else (value, [])
    if isinstance(value, dict):
        out, risky = {}, []
        for k, v in value.items():
            out[k], r = _neutralised(v, f"{path}.{k}", only)
            risky += r
        return out, risky
    if isinstance(value, list):
        items, risky = [], []
        for i, v in enumerate(value):
            item, r = _neutralised(v, f"{path}[{i}]", only)
            items.append(item)
            risky += r
        return items, risky
    return value, []


def _shape(value: Any) -> Any:
    """The structure of YAML data without its scalars (and without key names, which may be values)."""
    if isinstance(value, dict):
        return ("map", sorted((_shape(v) for v in value.values()), key=repr))
    if isinstance(value, list):
        return ("list", [_shape(v) for v in value])
    return "scalar"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _whole_characters(value: Any) -> Any:
    """YAML reads the escapes `"\\ud83d\\ude00"` (what `tojson` writes for a character beyond
    U+FFFF, e.g. an emoji) as two lone UTF-16 surrogates, which no file can hold: join such
    pairs into the character; a lone surrogate is not text, so the template fails."""
    if isinstance(value, str):
        if not _SURROGATE.search(value):
            return value
        try:
            return value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise TemplateFailure(
                "template output holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not a character"
            ) from None
    if isinstance(value, dict):
        return {_whole_characters(k): _whole_characters(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_characters(v) for v in value]
    return value
