"""What changed between two versions of the API, and whether it breaks a client.

`diff(old, new)` compares two `ApiModel`s and returns `Change` records
(`generator.changes`); it reads nothing but the models and writes nothing
(the changelog emitter renders the records). Types, enum values, bounds
and code tables are compared in `generator.diff_schemas`. Operations and notifications are matched by
`operationId`, types and code tables by their component name, codes by
value.

How a change is classified, from the side of a client that was written
against OLD and now talks to NEW:

Breaking
  - an operation, notification, module or named type removed; a request,
    response or notification field removed;
  - an operation's path changed. Paths are compared without their version
    prefix (the first path segment when every path of a version shares it:
    `/v1` and `/v2`): an operation that only moves from `/v1/...` to
    `/v2/...` has not changed its path, and the move is reported once, as
    not breaking, because a client picks the prefix with the version;
  - an operation's content type, SDK method or module (SDK resource)
    changed; an operation no longer retry-safe;
  - a field retyped: its type, format, or the named enum or object it takes;
  - a new required request field; an optional request field made required;
    a response or notification field made optional (clients read it);
  - an enum used in requests narrowed (a value removed: clients that send
    it are refused); an enum used in responses or notifications widened (a
    value added): breaking for strict clients, those that map every value
    (a generated enum, an exhaustive match), so it is classified breaking;
    an enum member renamed (its `x-enum-varnames` name: SDK code names it);
  - a bound narrowed on what clients send (a request's minimum raised,
    maximum or length lowered), or widened on what they read; a `pattern`
    changed either way (no telling which values still match);
  - a code removed from its table, renamed, moved to another table, or its
    message changed (clients and SDKs match the table's exact text); a code
    leaving an exception family or the retryable list;
  - any change to the signing scheme (`x-signature`: every key but its prose
    `description`); the idempotency rule (`x-idempotency`) changed or
    removed; the notification acknowledgement changed or its timeout
    shortened; a currency's minor units changed; a market or channel fact
    narrowed (a country, pay method or capability taken away, a limit
    tightened).

Not breaking
  - a new operation, notification, module, named type, optional request
    field, response or notification field (required or not);
  - a required request field made optional; an optional response field made
    required;
  - an enum value added to an enum used only in requests, or removed from
    one used only in responses;
  - a new code in a table, a new family, a code joining a family or the
    retryable list;
  - a code an operation may answer added (listed: clients may want to
    handle it) or dropped;
  - the idempotency rule added; the retry schedule of notifications
    changed; a market or channel fact widened.

Prose (summaries, descriptions) is not compared: it changes too often to
read as a contract, and the facts it states live in the keys compared above.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from .bundle import ref_name
from .changes import (
    MODULES,
    NOTIFICATIONS,
    OPERATIONS,
    POLICIES,
    READS,
    REQUEST_FIELDS,
    RESPONSE_FIELDS,
    SECTIONS,
    SIGNING,
    STRICT,
    Change,
    code_membership,
    flatten,
    membership,
    replaced,
    show,
    without,
)
from .diff_schemas import bound_changes, code_changes, type_changes
from .fields import FieldInfo, constraints, field_tree
from .model import ApiModel, Operation

__all__ = ["SECTIONS", "STRICT", "Change", "breaking", "diff"]

Side = Literal["request", "response", "notification"]


def diff(old: ApiModel, new: ApiModel) -> list[Change]:
    """Every change from `old` to `new`, in section order, then in the order of the specs."""
    changes = [
        *_signing(old, new),
        *_modules(old, new),
        *_operations(old, new),
        *_notifications(old, new),
        *type_changes(old, new),
        *code_changes(old, new),
        *_policies(old, new),
    ]
    return sorted(changes, key=lambda c: SECTIONS.index(c.section))


def breaking(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.breaking]


# Signing


def _signing(old: ApiModel, new: ApiModel) -> Iterator[Change]:
    before = flatten(without(old.document.get("x-signature") or {}, "description"))
    after = flatten(without(new.document.get("x-signature") or {}, "description"))
    reason = "any change to the signing scheme breaks every signer and verifier"
    yield from membership(
        SIGNING,
        "x-signature",
        before,
        after,
        added=(lambda key: show(after[key]), True, reason),
        removed=(lambda key: show(before[key]), True, reason),
    )
    for key in [k for k in before if k in after]:
        if before[key] != after[key]:
            yield Change(
                SIGNING, "changed", "x-signature", key, f"{show(before[key])} → {show(after[key])}", True, reason
            )


# Modules and operations


def _modules(old: ApiModel, new: ApiModel) -> Iterator[Change]:
    before = {m.tag: m for m in old.modules}
    after = {m.tag: m for m in new.modules}

    def introduced(tag: str) -> str:
        ops = ", ".join(op.operation_id for op in after[tag].operations)
        return f"{after[tag].description} Operations: {ops}".strip()

    yield from membership(
        MODULES,
        "module",
        before,
        after,
        added=(introduced, False, "new operations do not change existing calls"),
        removed=(lambda tag: before[tag].description, True, "its operations are gone"),
    )
    for tag in [t for t in after if t in before]:
        yield from replaced(
            MODULES,
            "SDK resource",
            tag,
            before[tag].sdk_resource,
            after[tag].sdk_resource,
            "SDK code that names the resource must be changed",
        )


def _version_prefix(model: ApiModel) -> str | None:
    """The first path segment, when every operation's path starts with it (`/v2`)."""
    firsts = {"/" + op.path.lstrip("/").split("/", 1)[0] for op in model.operations if op.path.count("/") > 1}
    return firsts.pop() if len(firsts) == 1 and len(model.operations) > 0 else None


def _unprefixed(path: str, prefix: str | None) -> str:
    return path[len(prefix) :] if prefix and path.startswith(prefix + "/") else path


def _operations(old: ApiModel, new: ApiModel) -> Iterator[Change]:
    before = {op.operation_id: op for op in old.operations}
    after = {op.operation_id: op for op in new.operations}
    old_prefix, new_prefix = _version_prefix(old), _version_prefix(new)
    yield from membership(
        OPERATIONS,
        "operation",
        before,
        after,
        added=(lambda op_id: _endpoint(after[op_id]), False, "a new operation does not change existing calls"),
        removed=(lambda op_id: _endpoint(before[op_id]), True, "clients that call it are answered 404"),
    )
    common = [op_id for op_id in after if op_id in before]
    if old_prefix != new_prefix and any(
        before[i].path != after[i].path
        and _unprefixed(before[i].path, old_prefix) == _unprefixed(after[i].path, new_prefix)
        for i in common
    ):
        yield Change(
            OPERATIONS,
            "changed",
            "path prefix",
            "every operation",
            f"`{old_prefix}/…` → `{new_prefix}/…`",
            False,
            "only the version prefix: a client chooses it with the version, so no operation's path counts as changed",
        )
    for op_id in common:
        yield from _operation(old, new, before[op_id], after[op_id], old_prefix, new_prefix)


def _endpoint(op: Operation) -> str:
    return f"`POST {op.path}`: {op.summary}"


def _operation(
    old: ApiModel, new: ApiModel, was: Operation, now: Operation, old_prefix: str | None, new_prefix: str | None
) -> Iterator[Change]:
    op_id = now.operation_id
    if _unprefixed(was.path, old_prefix) != _unprefixed(now.path, new_prefix):
        yield Change(
            OPERATIONS,
            "changed",
            "path",
            op_id,
            f"`{was.path}` → `{now.path}`",
            True,
            "clients that call the old path are answered 404",
        )
    yield from replaced(
        OPERATIONS, "content type", op_id, was.content_type, now.content_type, "clients send the old body format"
    )
    yield from replaced(OPERATIONS, "module", op_id, was.tag, now.tag, "the SDK method moves to another resource")
    yield from replaced(
        OPERATIONS,
        "SDK method",
        op_id,
        was.sdk_method,
        now.sdk_method,
        "SDK code that calls the method must be changed",
    )
    if was.retry_safe != now.retry_safe:
        yield Change(
            OPERATIONS,
            "changed",
            "retry safety",
            op_id,
            "retry-safe → not retry-safe" if was.retry_safe else "not retry-safe → retry-safe",
            was.retry_safe,
            "clients that retry it may now act twice" if was.retry_safe else "clients may now retry it",
        )
    yield from _fields(old, new, was.request_schema, now.request_schema, op_id, "request")
    yield from _fields(old, new, was.response_schema, now.response_schema, op_id, "response")
    yield from _operation_codes(old, new, was, now)


def _operation_codes(old: ApiModel, new: ApiModel, was: Operation, now: Operation) -> Iterator[Change]:
    yield from code_membership(
        "operation code",
        old,
        new,
        was.result_codes,
        now.result_codes,
        target=lambda value: f"{now.operation_id} {value}",
        added=(False, "a new answer; clients may want to handle it"),
        removed=(False, "an answer the operation no longer gives"),
    )


# Fields


def _fields(old: ApiModel, new: ApiModel, old_schema: str, new_schema: str, where: str, side: Side) -> Iterator[Change]:
    before = {f.path: f for f in field_tree(old, old.schemas.get(old_schema, {}))}
    after = {f.path: f for f in field_tree(new, new.schemas.get(new_schema, {}))}
    section = REQUEST_FIELDS if side == "request" else RESPONSE_FIELDS if side == "response" else NOTIFICATIONS
    subject = f"{side} field"
    # A field added or removed with its parent is reported once, as its parent.
    added, removed = after.keys() - before.keys(), before.keys() - after.keys()
    for path, field in after.items():
        if path not in added or _parent(path) in added:
            continue
        if side == "request" and field.required:
            verdict = True, "a new required request field: clients that do not send it are refused"
        else:
            what = "optional request field" if side == "request" else f"new {side} field"
            verdict = False, f"{what}: existing clients are unaffected"
        yield Change(section, "added", subject, f"{where} {path}", _describe(field), *verdict)
    for path, field in before.items():
        if path in removed and _parent(path) not in removed:
            yield Change(
                section,
                "removed",
                subject,
                f"{where} {path}",
                _describe(field),
                True,
                "clients that send it lose what it did" if side == "request" else READS,
            )
    for path in [p for p in before if p in after]:
        yield from _field(old, new, before[path], after[path], section, subject, f"{where} {path}", side)


def _field(
    old: ApiModel, new: ApiModel, was: FieldInfo, now: FieldInfo, section: str, subject: str, target: str, side: Side
) -> Iterator[Change]:
    if was.type != now.type:
        yield Change(
            section,
            "changed",
            subject,
            target,
            f"retyped: {was.type} → {now.type}",
            True,
            "a retyped field breaks every client that sends or reads it",
        )
    elif ref_name(was.schema) is None and ref_name(now.schema) is None:
        # Named types are compared once, under Types; inline bounds belong to the field.
        uses = {"request"} if side == "request" else {"response"}
        yield from bound_changes(
            constraints(old, was.schema), constraints(new, now.schema), section, subject, target, uses
        )
    if was.required != now.required:
        if side == "request":
            verdict = (
                now.required,
                "clients that leave it out are refused" if now.required else "clients may leave it out",
            )
        else:
            verdict = (
                not now.required,
                "always present now" if now.required else "clients that read it may find it missing",
            )
        detail = "optional → required" if now.required else "required → optional"
        yield Change(section, "changed", subject, target, detail, *verdict)


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0].removesuffix("[]") if "." in path else ""


def _describe(field: FieldInfo) -> str:
    return f"{'required' if field.required else 'optional'} {field.type}"


# Notifications


def _notifications(old: ApiModel, new: ApiModel) -> Iterator[Change]:
    before = {n.operation_id: n for n in old.notifications}
    after = {n.operation_id: n for n in new.notifications}
    yield from membership(
        NOTIFICATIONS,
        "notification",
        before,
        after,
        added=(
            lambda op_id: after[op_id].summary,
            False,
            "a new notification: receivers that ignore unknown ones are unaffected",
        ),
        removed=(lambda op_id: before[op_id].summary, True, "receivers wait for a notification that never comes"),
    )
    for op_id in [i for i in after if i in before]:
        was, now = before[op_id], after[op_id]
        yield from replaced(
            NOTIFICATIONS, "SDK method", op_id, was.sdk_method, now.sdk_method, "SDK code that names it must be changed"
        )
        yield from _fields(old, new, was.schema, now.schema, op_id, "notification")


# Policies: idempotency and notification delivery


def _policies(old: ApiModel, new: ApiModel) -> Iterator[Change]:
    was, now = old.idempotency, new.idempotency
    if was is None and now is not None:
        yield Change(
            POLICIES,
            "added",
            "idempotency",
            now.field,
            f"a repeat within {now.window_hours} h creates nothing and answers {now.code}",
            False,
            "optional: clients may send it",
        )
    elif was is not None and now is None:
        yield Change(
            POLICIES, "removed", "idempotency", was.field, "", True, "clients that rely on it may create twice"
        )
    elif was is not None and now is not None:
        for key in ("field", "window_hours", "code"):
            if getattr(was, key) != getattr(now, key):
                yield Change(
                    POLICIES,
                    "changed",
                    "idempotency",
                    key,
                    f"{show(getattr(was, key))} → {show(getattr(now, key))}",
                    True,
                    "clients that rely on it may create twice",
                )
    before, after = old.notification_policy, new.notification_policy
    yield from replaced(
        POLICIES,
        "notification acknowledgement",
        "ack",
        before.ack,
        after.ack,
        "receivers answer the old acknowledgement, which is retried",
    )
    if before.timeout_seconds != after.timeout_seconds:
        shorter = after.timeout_seconds < before.timeout_seconds
        yield Change(
            POLICIES,
            "changed",
            "notification timeout",
            "timeoutSeconds",
            f"{before.timeout_seconds:g} → {after.timeout_seconds:g}",
            shorter,
            "slow receivers now time out" if shorter else "receivers have longer",
        )
    if before.retry_delays_seconds != after.retry_delays_seconds:
        yield Change(
            POLICIES,
            "changed",
            "notification retries",
            "retryDelaysSeconds",
            f"{show(list(before.retry_delays_seconds))} → {show(list(after.retry_delays_seconds))}",
            False,
            "delivery stays at least once",
        )
