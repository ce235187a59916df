"""6. Authorized debit: a token the payer authorizes once, which TOKEN collections then debit.

A token is created PENDING with a link for the payer, valid for the sandbox's
link expiry. The payer authorizes it (ACTIVE until `validDays` have passed) or
declines it (FAILED) - in the sandbox through `authorize_token` and
`decline_token`, which the sandbox controls call. An unused link lapses
(EXPIRED), so does an ACTIVE token at its `expireTime`; the merchant may cancel
a PENDING or ACTIVE token (CANCELLED). Every one of those ends is notified
(`authorization.*`). The token record's `data` is the PaymentToken the queries
answer; `meta` keeps the link, `validDays` and the notify URL.
"""

from __future__ import annotations

from typing import Any

from ..clock import gateway_time
from ..events import enqueue_event
from ..runtime import Runtime, VersionRuntime
from ..store import Record, Tx
from ..worker import on_due
from .base import Call, find_own, service

KIND = "token"
FINAL = ("FAILED", "CANCELLED", "EXPIRED")
DAY_MS = 86_400_000


class TokenStateError(ValueError):
    """The payer cannot answer this token (it is not PENDING, or its link has lapsed); nothing changed."""


# Operations ---------------------------------------------------------------------------------------


@service("createAuthorizationLink")
def create_authorization_link(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    country, wallet = p["country"], p["walletCode"]
    market = call.runtime.markets().get(country)
    if market is None or country not in call.merchant.config.get("countries", []):
        call.refuse("COUNTRY_NOT_OPENED")
    channel = call.runtime.channels("WalletCode").get(wallet)
    if channel is None or country not in channel["countries"] or not channel.get("authorizedDebit"):
        call.refuse(call.runtime.invalid_code("WalletCode"))
    if wallet not in call.merchant.config.get("channels", {}).get("WalletCode", []):
        call.refuse("MERCHANT_CHANNEL_UNAVAILABLE")
    expire_ms = call.now_ms + call.settings.link_expiry_ms
    data: dict[str, Any] = {
        "token": "",
        "mchAuthOrderId": p["mchAuthOrderId"],
        "payerId": p["payerId"],
        "walletCode": wallet,
        "country": country,
        "tokenStatus": "PENDING",
        "createTime": call.now,
        "expireTime": gateway_time(expire_ms),
    }
    if "maxAmount" in p:
        data["maxAmount"] = p["maxAmount"]
    record = call.new_record(
        KIND,
        p["mchAuthOrderId"],
        data,
        status="PENDING",
        currency=market["currency"],
        due_ms=expire_ms,
        meta={"notifyUrl": p["notifyUrl"], "returnUrl": p.get("returnUrl"), "validDays": p["validDays"]},
    )
    data["token"] = record.id
    record.meta["authUrl"] = f"{call.base_url}/sandbox/authorize/{record.id}"
    call.create(tx, record)
    return authorization_link(record)


@service("queryToken", writes=False)
def query_token(call: Call, tx: Tx) -> dict[str, Any]:
    return find_own(tx, call, KIND, call.params["mchAuthOrderId"], call.params.get("token"), "token").data


@service("cancelToken")
def cancel_token(call: Call, tx: Tx) -> dict[str, Any]:
    record = find_own(tx, call, KIND, call.params["mchAuthOrderId"], call.params.get("token"), "token")
    if record.status in FINAL:
        call.refuse("ALREADY_PAID_OR_CLOSED")
    if debit_in_flight(tx, record):
        call.refuse("CANCEL_NOT_ALLOWED")
    record.data["cancelTime"] = call.now
    _end(tx, call.version, record, "CANCELLED", call.now_ms)
    return record.data


def authorization_link(record: Record) -> dict[str, Any]:
    """The AuthorizationLink answer of a token record."""
    data = record.data
    return {
        "token": data["token"],
        "mchAuthOrderId": data["mchAuthOrderId"],
        "authUrl": record.meta["authUrl"],
        "tokenStatus": data["tokenStatus"],
        "expireTime": data["expireTime"],
    }


def debit_in_flight(tx: Tx, token: Record) -> bool:
    """Whether a TOKEN collection that debits `token` is still PENDING."""
    row = tx.db.execute(
        "SELECT 1 FROM records WHERE app_id = ? AND kind = 'collection' AND status = 'PENDING'"
        " AND json_extract(meta, '$.token') = ? LIMIT 1",
        (token.app_id, token.id),
    ).fetchone()
    return row is not None


# The payer's answer (the sandbox controls call these) --------------------------------------------


def authorize_token(tx: Tx, runtime: Runtime, record: Record, now_ms: int) -> None:
    """The payer authorizes a PENDING token: ACTIVE for `validDays` from now, notified.

    TokenStateError (nothing changed) when the token is not PENDING or its link has lapsed.
    """
    _check_answerable(record, now_ms)
    expire_ms = now_ms + int(record.meta.get("validDays", 365)) * DAY_MS
    record.data.update(authorizeTime=gateway_time(now_ms), expireTime=gateway_time(expire_ms))
    _end(tx, runtime.versions[record.version], record, "ACTIVE", now_ms, due_ms=expire_ms)


def decline_token(tx: Tx, runtime: Runtime, record: Record, now_ms: int) -> None:
    """The payer declines a PENDING token: FAILED, notified. TokenStateError as `authorize_token`."""
    _check_answerable(record, now_ms)
    _end(tx, runtime.versions[record.version], record, "FAILED", now_ms)


def _check_answerable(record: Record, now_ms: int) -> None:
    if record.kind != KIND:
        raise TokenStateError(f"{record.id} is not a token")
    if record.status != "PENDING":
        raise TokenStateError(f"the token is {record.status}")
    if record.due_ms is not None and now_ms >= record.due_ms:
        raise TokenStateError("the authorization link has expired")


# Expiry -------------------------------------------------------------------------------------------


@on_due(KIND)
def expire_token(tx: Tx, runtime: Runtime, record: Record, now_ms: int) -> None:
    """A PENDING token whose link lapsed, or an ACTIVE one at its expireTime, ends EXPIRED."""
    if record.status in ("PENDING", "ACTIVE"):
        _end(tx, runtime.versions[record.version], record, "EXPIRED", now_ms)
    else:
        record.due_ms = None
        tx.update(record)


def _end(
    tx: Tx, version: VersionRuntime, record: Record, status: str, now_ms: int, *, due_ms: int | None = None
) -> None:
    """Move a token to `status` and notify it (`authorization.<status>`)."""
    record.status = status
    record.data["tokenStatus"] = status
    record.due_ms = due_ms
    record.meta["finishedMs"] = now_ms
    tx.update(record)
    enqueue_event(tx, version, record, f"authorization.{status.lower()}", now_ms)
