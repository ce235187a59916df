"""The record of one change between two API versions, the shapes most changes take, and how facts are shown.

`generator.diff` and `generator.diff_schemas` make these; the changelog
emitter lays them out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from .model import ApiModel, Code

Action = Literal["added", "removed", "changed"]
K = TypeVar("K")

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


def membership(
    section: str,
    subject: str,
    before: Collection[K],
    after: Collection[K],
    *,
    target: Callable[[K], str] = str,
    added: tuple[Callable[[K], str], bool, str],
    removed: tuple[Callable[[K], str], bool, str],
) -> Iterator[Change]:
    """A change "added" for each key only `after` holds, in its order, then "removed" for each only `before` holds.

    `before` and `after` are mappings (their keys) or sequences, tested with `in`; `target` names
    a key (the key itself by default). `added` and `removed` end each such change as its last three
    fields do: the detail (made from the key), whether it breaks a client, and why.
    """
    for key in after:
        if key not in before:
            yield Change(section, "added", subject, target(key), added[0](key), added[1], added[2])
    for key in before:
        if key not in after:
            yield Change(section, "removed", subject, target(key), removed[0](key), removed[1], removed[2])


def replaced(section: str, subject: str, target: str, was: object, now: object, reason: str) -> Iterator[Change]:
    """A breaking change of one named value, `was` → `now`, when the two differ."""
    if was != now:
        yield Change(section, "changed", subject, target, f"`{was}` → `{now}`", True, reason)


def code_label(code: Code) -> str:
    return f"`{code.name}`: {code.message}"


def code_membership(
    subject: str,
    old: ApiModel,
    new: ApiModel,
    before: Collection[int],
    after: Collection[int],
    *,
    target: Callable[[int], str] = str,
    added: tuple[bool, str],
    removed: tuple[bool, str],
) -> Iterator[Change]:
    """`membership` of a list of codes, each change detailed with the code's name and message."""
    yield from membership(
        CODES,
        subject,
        before,
        after,
        target=target,
        added=(lambda value: code_label(new.code(value)), *added),
        removed=(lambda value: code_label(old.code(value)), *removed),
    )


class Described(Protocol):
    @property
    def description(self) -> str: ...


def described_membership(
    section: str,
    subject: str,
    before: Mapping[str, Described],
    after: Mapping[str, Described],
    *,
    added: tuple[bool, str],
    removed: tuple[bool, str],
) -> Iterator[Change]:
    """`membership` of named things (code tables, families), each change detailed with the thing's description."""
    yield from membership(
        section,
        subject,
        before,
        after,
        added=(lambda name: after[name].description, *added),
        removed=(lambda name: before[name].description, *removed),
    )


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
