"""The record of one change between two API versions, and how its facts are shown.

`generator.diff` and `generator.diff_schemas` make these; the changelog
emitter lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .model import Code

Action = Literal["added", "removed", "changed"]

SIGNING = "Signing"
MODULES = "Modules"
OPERATIONS = "Operations"
REQUEST_FIELDS = "Request fields"
RESPONSE_FIELDS = "Response fields"
NOTIFICATIONS = "Notifications"
TYPES = "Types"
ENUM_VALUES = "Enum values"
CODES = "Result codes"
POLICIES = "Policies"
SECTIONS = (
    SIGNING,
    MODULES,
    OPERATIONS,
    REQUEST_FIELDS,
    RESPONSE_FIELDS,
    NOTIFICATIONS,
    TYPES,
    ENUM_VALUES,
    CODES,
    POLICIES,
)

STRICT = "breaking for strict clients: a client that maps every value meets one it does not know"
SENDS = "clients that send it are refused"
READS = "clients that read it find it missing"


@dataclass(frozen=True)
class Change:
    section: str
    action: Action
    subject: str
    """What kind of thing changed: "operation", "request field", "enum value", ..."""
    target: str
    """Which one: `createCollection`, `createCollection idempotencyId`, `Country KR`, ..."""
    detail: str
    breaking: bool
    reason: str


def code_label(code: Code) -> str:
    return f"`{code.name}`: {code.message}"


def without(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k != key}


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`; lists stay values."""
    if not isinstance(node, dict):
        return {prefix: node} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def show(value: Any) -> str:
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value is None:
        return "`null`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, list):
        return "[" + ", ".join(show(v).strip("`") for v in value) + "]"
    return f"`{value}`"
