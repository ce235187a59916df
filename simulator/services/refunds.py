"""5. Refund: money back to the payer of a COMPLETED pay-in (a cashier order or a collection).

A refund is created PROCESSING and its amount moves from `available` to
`frozen` in the same transaction; the pay-in is marked `refunding` meanwhile,
which keeps it from being voided or refunded twice at once. After the
sandbox's processing time the channel answers: SUCCESS (the amount leaves
`frozen` and counts in the pay-in's `refundedAmount`) or FAILED with the
planned failed code (the amount goes back to `available`).
"""

from __future__ import annotations

from typing import Any

from ..events import enqueue_event
from ..runtime import Runtime, VersionRuntime
from ..store import Record, Tx
from ..worker import on_due
from .base import Call, by_gateway_id, find_own, finish_outgoing, service
from .payins import PAY_INS

KIND = "refund"
REFUND_WINDOW_MS = 60 * 86_400_000
EVENTS = {"SUCCESS": "refund.succeeded", "FAILED": "refund.failed"}


@service("createRefund")
def create_refund(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    amount = p["amount"]
    # A repeat of a create whose answer was lost is told so before any rule the first one changed.
    call.refuse_replayed_key(tx)
    earlier = tx.find(call.merchant.app_id, KIND, p["mchRefundOrderId"])
    if earlier is not None:
        call.refuse("REFUND_PROCESSING" if earlier.status == "PROCESSING" else "DUPLICATE_MCH_REFUND_ORDER_ID")
    original = by_gateway_id(tx, call, p["transactionId"], PAY_INS)
    if original.status == "VOIDED":
        call.refuse("REFUND_NOT_ALLOWED")
    if original.status != "COMPLETED":
        call.refuse("ORIGINAL_NOT_COMPLETED")
    support = refund_support(call.runtime, original)
    if not support["full"] and not support["partial"]:
        call.refuse("REFUND_NOT_ALLOWED")
    if call.now_ms - original.finished_ms > REFUND_WINDOW_MS:
        call.refuse("REFUND_WINDOW_EXPIRED")
    processing = [r for r in tx.children(original.id, KIND) if r.status == "PROCESSING"]
    if processing:
        call.refuse("PENDING_REFUND_EXISTS")
    full = amount == original.amount
    if full and not support["full"]:
        call.refuse("FULL_REFUND_NOT_SUPPORTED")
    if not full and not support["partial"]:
        call.refuse("PARTIAL_REFUND_NOT_SUPPORTED")
    if amount > refundable(original, processing):
        call.refuse("REFUND_AMOUNT_INVALID")
    failed_code = call.respond_to_test_value()
    data: dict[str, Any] = {
        "refundId": "",
        "mchRefundOrderId": p["mchRefundOrderId"],
        "transactionId": original.id,
        "mchOrderId": original.ref,
        "amount": amount,
        "currency": original.currency,
        "refundStatus": "PROCESSING",
        "createTime": call.now,
    }
    for key in ("reason", "remark"):
        if p.get(key) is not None:
            data[key] = p[key]
    refund = call.new_record(
        KIND,
        p["mchRefundOrderId"],
        data,
        status="PROCESSING",
        parent=original.id,
        amount=amount,
        currency=original.currency,
        due_ms=call.now_ms + call.settings.processing_ms,
        meta={"notifyUrl": p["notifyUrl"], "failedCode": failed_code},
    )
    refund.data["refundId"] = refund.id
    call.create(tx, refund)
    call.debit(tx, str(original.currency), amount)
    original.meta["refunding"] = refund.id
    tx.update(original)
    return refund.data


@service("queryRefund", writes=False)
def query_refund(call: Call, tx: Tx) -> dict[str, Any]:
    return find_own(tx, call, KIND, call.params["mchRefundOrderId"], call.params.get("refundId"), "refundId").data


def refund_support(runtime: Runtime, payin: Record) -> dict[str, bool]:
    """The pay-in channel's row of the refund table (`x-channels` `refund`).

    A pay-in completed without a recorded channel (a cashier order paid through the
    sandbox's pay control without naming one) is held to no channel's limits.
    """
    for enum, field in runtime.pay_in_channels:
        code = payin.data.get(field)
        if code is not None:
            refund = runtime.channels(enum)[code]["refund"]
            return {"full": bool(refund["full"]), "partial": bool(refund["partial"])}
    return {"full": True, "partial": True}


def refundable(payin: Record, processing: list[Record]) -> int:
    """What may still be refunded: the amount less successful refunds and those under way."""
    return payin.amount - int(payin.data.get("refundedAmount", 0)) - sum(r.amount for r in processing)


# Finishing ---------------------------------------------------------------------------------------


def finish_refund(
    tx: Tx, version: VersionRuntime, refund: Record, now_ms: int, *, failed_code: int | None = None
) -> None:
    """End a PROCESSING refund: SUCCESS (counted on the pay-in) or FAILED (the amount back to `available`)."""
    finish_outgoing(tx, version, refund, now_ms, status_field="refundStatus", paid="SUCCESS", failed_code=failed_code)
    original = tx.get(refund.parent or "")
    if original is not None:
        if refund.status == "SUCCESS":
            original.data["refundedAmount"] = int(original.data.get("refundedAmount", 0)) + refund.amount
        if original.meta.get("refunding") == refund.id:
            del original.meta["refunding"]
        tx.update(original)
    enqueue_event(tx, version, refund, EVENTS[refund.status], now_ms)


@on_due(KIND)
def process_refund(tx: Tx, runtime: Runtime, refund: Record, now_ms: int) -> None:
    """The channel's answer, when the processing time has passed: the planned failure, or refunded."""
    if refund.status == "PROCESSING":
        failed_code = refund.meta.get("failedCode")
        finish_refund(tx, runtime.versions[refund.version], refund, now_ms, failed_code=failed_code)
    else:
        refund.due_ms = None
        tx.update(refund)
