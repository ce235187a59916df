"""A body's fields as a flat tree: dotted paths, type labels, required-ness.

What a client sends or reads is a tree: `data.payData.payUrl`,
`shares[].amount`. The changelog compares two such trees and the docs print
one, so both read them from here, through `allOf`, `anyOf` branches and
array items, with each named type labelled once the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .bundle import ref_name
from .model import ApiModel

# Keywords that bound a value without changing its type.
CONSTRAINTS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "const",
)


@dataclass(frozen=True)
class FieldInfo:
    path: str
    type: str
    required: bool
    description: str
    schema: dict[str, Any]
    """The field's schema as written: a `$ref` to a named type, or inline."""


def is_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" or "properties" in schema or "allOf" in schema


def type_label(model: ApiModel, schema: dict[str, Any]) -> str:
    """`string (uri)`, `integer (int64)`, `enum Country`, `object Collection`, `array of ...`, `... | null`."""
    name = ref_name(schema)
    if name is not None:
        target = model.schemas.get(name, {})
        if "enum" in target:
            return f"enum {name}"
        if is_object(target):
            return f"object {name}"
        return type_label(model, target)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(type_label(model, branch) for branch in schema[key])
    if is_object(schema):
        return "object"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind == "array":
        return f"array of {type_label(model, schema.get('items', {}))}"
    if "enum" in schema:
        return "enum of " + ", ".join(str(v) for v in schema["enum"])
    label = str(kind) if kind else "any"
    return f"{label} ({schema['format']})" if "format" in schema else label


def constraints(model: ApiModel, schema: dict[str, Any]) -> dict[str, Any]:
    """The bounds of a field or type (through a named scalar type)."""
    resolved = model.resolve(schema)
    return {key: resolved[key] for key in CONSTRAINTS if key in resolved}


def field_tree(model: ApiModel, schema: dict[str, Any]) -> tuple[FieldInfo, ...]:
    """Every field of the body `schema` describes, parents before children."""
    found: list[FieldInfo] = []
    _walk(model, schema, "", frozenset(), found)
    # Several anyOf branches may hold the same field: the first one describes it.
    first: dict[str, FieldInfo] = {}
    for field in found:
        first.setdefault(field.path, field)
    return tuple(first.values())


def _walk(model: ApiModel, schema: dict[str, Any], prefix: str, seen: frozenset[str], into: list[FieldInfo]) -> None:
    for field in model.properties(schema):
        path = prefix + field.name
        into.append(FieldInfo(path, type_label(model, field.schema), field.required, field.description, field.schema))
        for suffix, child in _children(model, field.schema):
            name = ref_name(child)
            if name is not None and name in seen:
                continue  # a recursive type: its fields are already listed above
            _walk(model, child, path + suffix + ".", seen | ({name} if name else set()), into)


def _children(model: ApiModel, schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The object schemas whose fields hang under a field: itself, its anyOf branches, its items."""
    resolved = model.resolve(schema)
    if is_object(resolved):
        return [("", schema)]
    found: list[tuple[str, dict[str, Any]]] = []
    for key in ("anyOf", "oneOf"):
        for branch in resolved.get(key, []):
            found += _children(model, branch)
    if resolved.get("type") == "array" and isinstance(resolved.get("items"), dict):
        found += [("[]" + suffix, child) for suffix, child in _children(model, resolved["items"])]
    return found
