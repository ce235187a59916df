"""Changes to what values may be: named types, enum values, bounds, per-value facts, code tables.

Part of `generator.diff` (whose docstring states the rules): whether a
change to a type breaks a client depends on whether clients send it, read
it, or both, which `uses` works out from the operations that reach it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .bundle import ref_name
from .changes import (
    CODES,
    ENUM_VALUES,
    SENDS,
    STRICT,
    TYPES,
    Change,
    code_label,
    code_membership,
    described_membership,
    flatten,
    membership,
    replaced,
    show,
)
from .fields import CONSTRAINTS, constraints, type_label
from .model import ApiModel, CodeFamily

# Extensions of enum types that state per-value facts clients rely on.
_VALUE_FACTS = ("x-channels", "x-markets")


def _uses(model: ApiModel) -> dict[str, set[str]]:
    """For each named schema, whether clients send it ("request") or read it ("response")."""
    found: dict[str, set[str]] = {}

    def visit(name: str, use: str) -> None:
        if use in found.setdefault(name, set()) or name not in model.schemas:
            return
        found[name].add(use)
        for child in _refs(model.schemas[name]):
            visit(child, use)

    for op in model.operations:
        visit(op.request_schema, "request")
        visit(op.response_schema, "response")
    for note in model.notifications:
        visit(note.schema, "response")
    return found


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        name = ref_name(node)
        if name is not None:
            yield name
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def type_changes(old: ApiModel, new: ApiModel) -> Iterator[Change]:
    uses_before, uses_after = _uses(old), _uses(new)
    for name, schema in new.schemas.items():
        if "x-code-kind" in schema:
            continue  # code tables: under Result codes
        if name not in old.schemas:
            yield Change(
                TYPES,
                "added",
                "type",
                name,
                type_label(new, _ref(name)),
                False,
                "a new type",
            )
            continue
        uses = uses_before.get(name, set()) | uses_after.get(name, set())
        yield from _type(old, new, name, old.schemas[name], schema, uses)
    for name, schema in old.schemas.items():
        if name not in new.schemas and "x-code-kind" not in schema:
            yield Change(
                TYPES,
                "removed",
                "type",
                name,
                type_label(old, _ref(name)),
                True,
                "SDK code that names it must be changed",
            )


def _type(
    old: ApiModel, new: ApiModel, name: str, was: dict[str, Any], now: dict[str, Any], uses: set[str]
) -> Iterator[Change]:
    before_label, after_label = _shape(old, was), _shape(new, now)
    if before_label != after_label:
        yield Change(
            TYPES,
            "changed",
            "type",
            name,
            f"retyped: {before_label} → {after_label}",
            True,
            "a retyped value breaks every client that sends or reads it",
        )
        return
    yield from bound_changes(constraints(old, _ref(name)), constraints(new, _ref(name)), TYPES, "type", name, uses)
    if "enum" in was and "enum" in now:
        yield from _enum(name, was, now, uses)
    before_units, after_units = was.get("x-minor-units") or {}, now.get("x-minor-units") or {}
    for key in sorted(before_units.keys() & after_units.keys()):
        if before_units[key] != after_units[key]:
            yield Change(
                TYPES,
                "changed",
                "minor units",
                f"{name} {key}",
                f"{before_units[key]} → {after_units[key]}",
                True,
                "every amount in it changes meaning",
            )
    for extension in _VALUE_FACTS:
        before, after = was.get(extension) or {}, now.get(extension) or {}
        for value in [v for v in after if v in before]:
            yield from _facts(f"{name} {value}", extension, before[value], after[value])


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _shape(model: ApiModel, schema: dict[str, Any]) -> str:
    """What a named type is, independent of its name: its type label, object or enum."""
    if "enum" in schema:
        return f"enum of {schema.get('type', 'any')}"
    return type_label(model, schema)


def _enum(name: str, was: dict[str, Any], now: dict[str, Any], uses: set[str]) -> Iterator[Change]:
    before = dict(zip(was["enum"], was.get("x-enum-varnames") or was["enum"], strict=False))
    after = dict(zip(now["enum"], now.get("x-enum-varnames") or now["enum"], strict=False))
    sent, read = "request" in uses, "response" in uses
    yield from membership(
        ENUM_VALUES,
        "enum value",
        before,
        after,
        target=lambda value: f"{name} {value}",
        added=(lambda _: _where(uses), read, STRICT if read else "clients may send it"),
        removed=(lambda _: _where(uses), sent, SENDS if sent else "clients no longer receive it"),
    )
    for value in [v for v in before if v in after]:
        yield from replaced(
            ENUM_VALUES,
            "enum member",
            f"{name} {value}",
            before[value],
            after[value],
            "SDK code that names the member must be changed",
        )


def _where(uses: set[str]) -> str:
    sides = [
        side for side, use in (("requests", "request"), ("responses and notifications", "response")) if use in uses
    ]
    return "used in " + " and ".join(sides) if sides else "not used by any operation"


def bound_changes(
    before: dict[str, Any], after: dict[str, Any], section: str, subject: str, target: str, uses: set[str]
) -> Iterator[Change]:
    for key in CONSTRAINTS:
        if before.get(key) == after.get(key):
            continue
        detail = f"{key}: {show(before.get(key, '—'))} → {show(after.get(key, '—'))}"
        narrowed = _narrows(key, before.get(key), after.get(key))
        if narrowed is None:
            verdict = True, "the values that pass are different, not only more or fewer"
        elif narrowed and "request" in uses:
            verdict = True, "narrowed: " + SENDS
        elif not narrowed and "response" in uses:
            verdict = True, "widened: " + STRICT
        else:
            verdict = False, "widened on what clients send" if not narrowed else "narrowed on what clients read"
        yield Change(section, "changed", subject, target, detail, *verdict)


def _narrows(key: str, before: Any, after: Any) -> bool | None:
    """Whether a bound now lets fewer values through (True), more (False), or different ones (None)."""
    if key in ("pattern", "const"):
        return None
    if before is None:
        return True
    if after is None:
        return False
    lower = key.startswith(("min", "exclusiveMin"))
    return bool(after > before) if lower else bool(after < before)


def _facts(target: str, extension: str, before: Any, after: Any) -> Iterator[Change]:
    """Per-value facts (x-channels, x-markets): what was taken away narrows, what was given widens."""
    flat_before, flat_after = flatten(before), flatten(after)
    for key in sorted(flat_before.keys() | flat_after.keys()):
        was, now = flat_before.get(key), flat_after.get(key)
        if was == now:
            continue
        narrowed = _fact_narrowed(key, was, now)
        yield Change(
            TYPES,
            "changed",
            extension,
            target,
            f"{key}: {show(was)} → {show(now)}",
            narrowed,
            "narrowed: clients that rely on it are refused" if narrowed else "widened",
        )


def _fact_narrowed(key: str, was: Any, now: Any) -> bool:
    if isinstance(was, list) and isinstance(now, list):
        return not set(was) <= set(now)
    if isinstance(was, bool) or isinstance(now, bool):
        return bool(was) and not now
    if isinstance(was, (int, float)) and isinstance(now, (int, float)):
        return now > was if key.rsplit(".", 1)[-1].startswith("min") else now < was
    return True


# Codes


def code_changes(old: ApiModel, new: ApiModel) -> Iterator[Change]:
    yield from described_membership(
        CODES,
        "code table",
        {t.name: t for t in old.code_tables},
        {t.name: t for t in new.code_tables},
        added=(False, "a new code table"),
        removed=(True, "SDK code that names its codes must be changed"),
    )
    before = {c.value: c for t in old.code_tables for c in t.codes}
    after = {c.value: c for t in new.code_tables for c in t.codes}
    codes = before | after  # a code only one side holds is named as that side states it
    yield from membership(
        CODES,
        "code",
        before,
        after,
        target=lambda value: f"{codes[value].table} {value}",
        added=(
            lambda value: code_label(after[value]),
            False,
            "a new code: clients handle unknown codes as errors of their kind",
        ),
        removed=(
            lambda value: code_label(before[value]),
            True,
            "SDK code that names it (its exception class, its enum member) must be changed",
        ),
    )
    for value in [v for v in before if v in after]:
        was, now = before[value], after[value]
        target = f"{now.table} {value}"
        yield from replaced(CODES, "code table", target, was.table, now.table, "SDK code that names it must be changed")
        yield from replaced(CODES, "code name", target, was.name, now.name, "SDK code that names it must be changed")
        if was.message != now.message:
            yield Change(
                CODES,
                "changed",
                "code message",
                target,
                f"“{was.message}” → “{now.message}”",
                True,
                "clients match the table's message exactly",
            )
    yield from _families(old, new)
    yield from code_membership(
        "retryable code",
        old,
        new,
        old.retryable_codes,
        new.retryable_codes,
        added=(False, "clients may now repeat it unchanged"),
        removed=(True, "clients that repeat it may now act twice"),
    )


def _families(old: ApiModel, new: ApiModel) -> Iterator[Change]:
    before = {f.name: f for f in old.families}
    after = {f.name: f for f in new.families}
    yield from described_membership(
        CODES,
        "code family",
        before,
        after,
        added=(False, "a new exception family"),
        removed=(True, "SDK code that catches it must be changed"),
    )
    for name in [n for n in after if n in before]:
        yield from _family_codes(old, new, before[name], after[name])


def _family_codes(old: ApiModel, new: ApiModel, was: CodeFamily, now: CodeFamily) -> Iterator[Change]:
    yield from code_membership(
        "family code",
        old,
        new,
        was.codes,
        now.codes,
        target=lambda value: f"{now.name} {value}",
        added=(False, "handlers of the family catch one more code"),
        removed=(True, "handlers of the family no longer catch it"),
    )
