"""What a repeated money-moving create meets first: its own earlier result.

A client that lost a create's answer sends it again. That repeat must be told
about the first request (21015 with its data, or the duplicate-id code) before
any rule whose outcome the first request itself changed: the balance it
debited, the daily caps it counted, the PROCESSING refund it created.
`Call.create` applies the same rules when it inserts; checking them up front
only puts them first.
"""

from __future__ import annotations

from ..store import Tx
from .base import Call


def refuse_replayed_idempotency_id(call: Call, tx: Tx) -> None:
    """21015, with the earlier result, for an `idempotencyId` used within the window."""
    idempotency = call.version.model.idempotency
    if idempotency is None or not call.op.operation.idempotent:
        return
    key = call.params.get(idempotency.field)
    if key is None:
        return
    window = call.now_ms - idempotency.window_hours * 3600 * 1000
    earlier = tx.idempotent_record(call.merchant.app_id, key, window)
    if earlier is not None:
        call.refuse(idempotency.code, earlier.data)


def refuse_repeat(call: Call, tx: Tx, kind: str, ref: str) -> None:
    """21015 for a replayed idempotencyId, then the operation's duplicate code for a reused merchant id."""
    refuse_replayed_idempotency_id(call, tx)
    if tx.find(call.merchant.app_id, kind, ref) is not None:
        call.refuse(call.duplicate_code())
