"""4. Disbursement: payouts from the merchant's available balance to a bank account or wallet.

A payout is created PENDING and its amount moves from `available` to `frozen`
in the same transaction, so concurrent payouts never overdraw. After the
sandbox's processing time the channel answers: COMPLETED (the amount leaves
`frozen`) or FAILED with the planned failed code (the amount goes back to
`available`). Either way the merchant is notified.
"""

from __future__ import annotations

from typing import Any

from ..events import enqueue_event
from ..runtime import Runtime, VersionRuntime
from ..store import Record, Tx
from ..worker import on_due
from .base import Call, find_own, finish_outgoing, new_id, service

KIND = "disbursement"


@service("createDisbursement")
def create_disbursement(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    country, currency, amount = p["country"], p["currency"], p["amount"]
    call.refuse_repeat(tx, KIND, p["mchOrderId"])
    call.check_market(country, currency, amount, "payout")
    field = _payout_channels(call, p.get("transferCode"), country)
    failed_code = call.respond_to_test_value()
    call.check_daily_caps(tx, (KIND,), currency, amount)
    data: dict[str, Any] = {
        "transactionId": new_id(KIND),
        "mchOrderId": p["mchOrderId"],
        "amount": amount,
        "currency": currency,
        "country": country,
        "transferCode": p["transferCode"],
        field: p[field],
        "accountNumber": p["accountNumber"],
        "accountName": p["accountName"],
        "transactionStatus": "PENDING",
        "createTime": call.now,
    }
    if p.get("remark") is not None:
        data["remark"] = p["remark"]
    record = call.new_record(
        KIND,
        p["mchOrderId"],
        data,
        status="PENDING",
        amount=amount,
        currency=currency,
        due_ms=call.now_ms + call.settings.processing_ms,
        meta={"notifyUrl": p["notifyUrl"], "failedCode": failed_code},
        record_id=data["transactionId"],
    )
    call.create(tx, record)
    call.debit(tx, currency, amount)
    return record.data


@service("queryDisbursement", writes=False)
def query_disbursement(call: Call, tx: Tx) -> dict[str, Any]:
    return find_own(tx, call, KIND, call.params["mchOrderId"], call.params.get("transactionId"), "transactionId").data


def _payout_channels(call: Call, transfer_code: str | None, country: str) -> str:
    """The rail and the bank or wallet it pays to: each valid for `country` first, then opened.

    TRANSFER_CODE_ERROR for a rail that does not serve the country; BANK_CODE_ERROR
    (WALLET_CODE_ERROR) for a bank (wallet) that is missing, unknown, not of the country
    or does not pay out; MERCHANT_CHANNEL_UNAVAILABLE for any of them the merchant has
    not opened. Answers the field that names the destination.
    """
    rail = call.runtime.channels("TransferCode").get(transfer_code or "")
    if rail is None or country not in rail["countries"]:
        call.refuse(call.runtime.invalid_code("TransferCode"))
    enum = rail["destination"]  # the channel list the destination is picked from
    field = call.op.channel_fields[enum]
    code = call.params.get(field)
    channel = call.runtime.channels(enum).get(code or "")
    if channel is None or country not in channel["countries"] or not channel.get("payout"):
        call.refuse(call.runtime.invalid_code(enum))
    opened = call.merchant.config.get("channels", {})
    if transfer_code not in opened.get("TransferCode", []) or code not in opened.get(enum, []):
        call.refuse("MERCHANT_CHANNEL_UNAVAILABLE")
    return field


# Finishing ---------------------------------------------------------------------------------------


def finish_disbursement(
    tx: Tx, version: VersionRuntime, record: Record, now_ms: int, *, failed_code: int | None = None
) -> None:
    """End a PENDING payout: paid (COMPLETED, the frozen amount leaves) or FAILED (it goes back)."""
    finish_outgoing(
        tx, version, record, now_ms, status_field="transactionStatus", paid="COMPLETED", failed_code=failed_code
    )
    enqueue_event(tx, version, record, f"{KIND}.{record.status.lower()}", now_ms)


@on_due(KIND)
def process_disbursement(tx: Tx, runtime: Runtime, record: Record, now_ms: int) -> None:
    """The channel's answer, when the processing time has passed: the planned failure, or paid."""
    if record.status == "PENDING":
        failed_code = record.meta.get("failedCode")
        finish_disbursement(tx, runtime.versions[record.version], record, now_ms, failed_code=failed_code)
    else:
        record.due_ms = None
        tx.update(record)
