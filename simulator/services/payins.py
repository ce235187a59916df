"""2. Cashier and 3. Collection: pay-ins, their closing, expiry, payment and void.

A pay-in is created PENDING. The payer pays (the sandbox's pay control, or at
once for a TOKEN debit): COMPLETED, its amount enters `pendingSettlement`. A
channel's refusal, a close or the expiry ends it FAILED. A COMPLETED
collection not yet settled may be voided the same gateway day.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..clock import gateway_day, gateway_time
from ..events import enqueue_event
from ..runtime import Runtime, VersionRuntime
from ..store import Record, Tx
from ..worker import on_due
from .base import Call, by_gateway_id, find_own, new_id, service

PAY_INS = ("cashier", "collection")


# Creating ----------------------------------------------------------------------------------------


@service("createCollection")
def create_collection(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    call.refuse_repeat(tx, "collection", p["mchOrderId"])
    country, currency, amount, method = p["country"], p["currency"], p["amount"], p["payMethod"]
    call.check_market(country, currency, amount, "payIn")
    token: Record | None = None
    channel_list = call.runtime.pay_in_channel_list(method)
    if channel_list is not None:
        enum, field = channel_list
        call.check_channel(enum, p.get(field), country=country, pay_method=method)
        if method == "JSAPI" and not p.get("openId"):
            call.refuse(call.runtime.invalid_code("PayMethod"))
    elif method == "TOKEN" and call.op.model.result_code("INVALID_ACCESS_TOKEN").value in call.op.codes:
        token = _active_token(call, tx, p.get("token"), country, amount)
    else:
        call.refuse(call.runtime.invalid_code("PayMethod"))
    failed_code = call.respond_to_test_value()
    call.check_daily_caps(tx, PAY_INS, currency, amount)
    transaction_id = new_id("collection")
    # A TOKEN debit needs no payer: the wallet takes it within the processing time.
    expire_ms = call.now_ms + (call.settings.processing_ms if token else p.get("expireMinutes", 30) * 60_000)
    data: dict[str, Any] = {
        "transactionId": transaction_id,
        "mchOrderId": p["mchOrderId"],
        "amount": amount,
        "currency": currency,
        "country": country,
        "payMethod": method,
        "transactionStatus": "PENDING",
        "createTime": call.now,
        "expireTime": gateway_time(expire_ms),
    }
    channel = token.data["walletCode"] if token else p.get("walletCode")
    for key, value in (("walletCode", channel), ("bankCode", p.get("bankCode")), ("remark", p.get("remark"))):
        if value is not None:
            data[key] = value
    if method != "TOKEN":
        data["payData"] = _pay_data(method, transaction_id, amount, call.base_url, call.now_ms)
    if "profitSharing" in p:  # v2 only
        data["profitSharing"] = p["profitSharing"]
    record = call.new_record(
        "collection",
        p["mchOrderId"],
        data,
        status="PENDING",
        amount=amount,
        currency=currency,
        due_ms=expire_ms,
        meta={"notifyUrl": p["notifyUrl"], "failedCode": failed_code, "token": token.id if token else None},
        record_id=transaction_id,
    )
    call.create(tx, record)
    return record.data


@service("createCashierOrder")
def create_cashier_order(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    call.refuse_repeat(tx, "cashier", p["mchOrderId"])
    country, currency, amount = p["country"], p["currency"], p["amount"]
    call.check_market(country, currency, amount, "payIn")
    methods = p.get("payMethods")
    if methods and ("TOKEN" in methods or not any(offered_channels(call, country, [m]) for m in methods)):
        call.refuse(call.runtime.invalid_code("PayMethod"))
    if not offered_channels(call, country, methods):
        call.refuse("MERCHANT_CHANNEL_UNAVAILABLE")
    failed_code = call.respond_to_test_value()
    call.check_daily_caps(tx, PAY_INS, currency, amount)
    transaction_id = new_id("cashier")
    expire_ms = call.now_ms + p.get("expireMinutes", 30) * 60_000
    data: dict[str, Any] = {
        "transactionId": transaction_id,
        "mchOrderId": p["mchOrderId"],
        "amount": amount,
        "currency": currency,
        "country": country,
        "transactionStatus": "PENDING",
        "cashierUrl": f"{call.base_url}/sandbox/checkout/{transaction_id}",
        "createTime": call.now,
        "expireTime": gateway_time(expire_ms),
    }
    if p.get("remark") is not None:
        data["remark"] = p["remark"]
    record = call.new_record(
        "cashier",
        p["mchOrderId"],
        data,
        status="PENDING",
        amount=amount,
        currency=currency,
        due_ms=expire_ms,
        meta={"notifyUrl": p["notifyUrl"], "failedCode": failed_code, "payMethods": methods},
        record_id=transaction_id,
    )
    call.create(tx, record)
    return record.data


@service("listCashierChannels", writes=False)
def list_cashier_channels(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    market = call.runtime.markets().get(p["country"])
    if market is None or p["country"] not in call.merchant.config.get("countries", []):
        call.refuse("COUNTRY_NOT_OPENED")
    if market["currency"] != p["currency"]:
        call.refuse("COUNTRY_NOT_OPENED")
    limits = market["payIn"]
    if not limits["min"] <= p["amount"] <= limits["max"]:
        return {"channels": []}
    return {
        "channels": [
            {"payMethod": method, code_field: code, "minAmount": limits["min"], "maxAmount": limits["max"]}
            for method, code_field, code in offered_channels(call, p["country"], None)
        ]
    }


def offered_channels(call: Call, country: str, methods: list[str] | None) -> list[tuple[str, str, str]]:
    """(payMethod, field, code) the merchant has opened in `country`, in the PayMethod enum's order."""
    opened = call.merchant.config.get("channels", {})
    found = []
    for method in call.runtime.schemas["PayMethod"]["enum"]:
        if method == "TOKEN" or (methods and method not in methods):
            continue
        for enum, field in call.runtime.pay_in_channels:
            for code, channel in call.runtime.channels(enum).items():
                if country in channel["countries"] and method in channel["payMethods"] and code in opened.get(enum, []):
                    found.append((method, field, code))
    return found


# Reading and closing -----------------------------------------------------------------------------


@service("queryCollection", writes=False)
def query_collection(call: Call, tx: Tx) -> dict[str, Any]:
    return find_own(
        tx, call, "collection", call.params["mchOrderId"], call.params.get("transactionId"), "transactionId"
    ).data


@service("queryCashierOrder", writes=False)
def query_cashier_order(call: Call, tx: Tx) -> dict[str, Any]:
    return find_own(
        tx, call, "cashier", call.params["mchOrderId"], call.params.get("transactionId"), "transactionId"
    ).data


@service("closeCollection")
def close_collection(call: Call, tx: Tx) -> dict[str, Any]:
    return _close(call, tx, "collection")


@service("closeCashierOrder")
def close_cashier_order(call: Call, tx: Tx) -> dict[str, Any]:
    return _close(call, tx, "cashier")


def _close(call: Call, tx: Tx, kind: str) -> dict[str, Any]:
    record = find_own(tx, call, kind, call.params["mchOrderId"], call.params.get("transactionId"), "transactionId")
    if record.status != "PENDING":
        call.refuse("ALREADY_PAID_OR_CLOSED")
    finish_payin(tx, call.version, record, call.now_ms, closed=True)
    return record.data


# Void ---------------------------------------------------------------------------------------------


@service("voidCollection")
def void_collection(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    call.refuse_repeat(tx, "void", p["mchVoidOrderId"])
    original = by_gateway_id(tx, call, p["transactionId"], ("collection",))
    if original.status == "VOIDED":
        call.refuse("ORIGINAL_ALREADY_VOIDED")
    if original.status != "COMPLETED":
        call.refuse("VOID_ORIGINAL_NOT_SUCCESS")
    if original.meta.get("settled"):
        call.refuse("ORIGINAL_ALREADY_SETTLED")
    if gateway_day(original.finished_ms) != call.today:
        call.refuse("VOID_DAY_PASSED")
    if original.data.get("refundedAmount") or original.meta.get("refunding") or not _channel_reverses(call, original):
        call.refuse("CANNOT_REVERSE")
    void = call.new_record(
        "void",
        p["mchVoidOrderId"],
        {
            "voidId": "",
            "mchVoidOrderId": p["mchVoidOrderId"],
            "transactionId": original.id,
            "mchOrderId": original.ref,
            "amount": original.amount,
            "currency": original.currency,
            "transactionStatus": "VOIDED",
            "voidTime": call.now,
        },
        status="VOIDED",
        parent=original.id,
        amount=original.amount,
        currency=original.currency,
    )
    void.data["voidId"] = void.id
    call.create(tx, void)
    tx.move(original.app_id, str(original.currency), pending=-original.amount)
    original.status = "VOIDED"
    original.data.update(transactionStatus="VOIDED", voidTime=call.now)
    tx.update(original)
    enqueue_event(tx, call.version, original, "collection.voided", call.now_ms)
    return void.data


def _channel_reverses(call: Call, record: Record) -> bool:
    """A channel that cannot refund the whole amount cannot reverse it either."""
    for enum, field in call.runtime.pay_in_channels:
        code = record.data.get(field)
        if code is not None:
            return bool(call.runtime.channels(enum)[code]["refund"]["full"])
    return False


# Finishing ---------------------------------------------------------------------------------------


def finish_payin(
    tx: Tx,
    version: VersionRuntime,
    record: Record,
    now_ms: int,
    *,
    failed_code: int | None = None,
    closed: bool = False,
    channel: dict[str, str] | None = None,
) -> None:
    """End a PENDING pay-in: paid (COMPLETED), refused by the channel (failed_code) or closed/expired."""
    time = gateway_time(now_ms)
    record.due_ms = None
    record.meta["finishedMs"] = now_ms
    if channel:
        record.data.update(channel)
    if closed:
        record.status = "FAILED"
        record.data.update(transactionStatus="FAILED", closeTime=time)
    elif failed_code is not None:
        record.status = "FAILED"
        message = version.message(failed_code)
        record.data.update(transactionStatus="FAILED", finishTime=time, failedCode=failed_code, failedMessage=message)
    else:
        record.status = "COMPLETED"
        record.data.update(transactionStatus="COMPLETED", finishTime=time)
        if record.kind == "collection":
            record.data.setdefault("refundedAmount", 0)
        tx.move(record.app_id, str(record.currency), pending=record.amount)
    tx.update(record)
    enqueue_event(tx, version, record, f"{record.kind}.{record.status.lower()}", now_ms)


def _active_token(call: Call, tx: Tx, token_id: str | None, country: str, amount: int) -> Record:
    token = tx.get(token_id or "")
    if token is None or token.app_id != call.merchant.app_id or token.kind != "token" or token.status != "ACTIVE":
        call.refuse("INVALID_ACCESS_TOKEN")
    if token.data["country"] != country:
        call.refuse("INVALID_ACCESS_TOKEN")
    if amount > token.data.get("maxAmount", amount):
        call.refuse("AMOUNT_EXCEEDS_LIMIT")
    if token.data["walletCode"] not in call.merchant.config.get("channels", {}).get("WalletCode", []):
        call.refuse("MERCHANT_CHANNEL_UNAVAILABLE")
    return token


def _pay_data(method: str, transaction_id: str, amount: int, base_url: str, now_ms: int) -> dict[str, Any]:
    if method in ("WALLET", "ONLINE_BANKING"):
        return {"payUrl": f"{base_url}/sandbox/checkout/{transaction_id}"}
    if method == "QR":
        return {"qrString": f"PAYGATE-SANDBOX:{transaction_id}:{amount}"}
    if method == "VIRTUAL_ACCOUNT":
        return {"vaNumber": "8808" + str(int(transaction_id[:12], 16))[-12:].rjust(12, "0")}
    digest = hashlib.sha256(transaction_id.encode()).hexdigest()
    return {
        "jsapiParams": {
            "appId": "wx" + digest[:16],
            "timeStamp": str(now_ms // 1000),
            "nonceStr": digest[16:48],
            "package": f"prepay_id=wx{digest[:28]}",
            "signType": "RSA",
            "paySign": digest,
        }
    }


@on_due("collection")
@on_due("cashier")
def expire_payin(tx: Tx, runtime: Runtime, record: Record, now_ms: int) -> None:
    """A TOKEN debit is taken (or refused) when due; any other unpaid pay-in at its expireTime ends closed."""
    version = runtime.versions[record.version]
    if record.status == "PENDING" and record.meta.get("token"):
        finish_payin(tx, version, record, now_ms, failed_code=record.meta.get("failedCode"))
    elif record.status == "PENDING":
        finish_payin(tx, version, record, now_ms, closed=True)
    else:
        record.due_ms = None
        tx.update(record)
