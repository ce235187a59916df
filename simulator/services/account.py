"""1. Account: the merchant's balances, and the reconciliation file of a past gateway day.

A reconciliation file lists the movements that reached a final state that
day, each as it stood at the day's end. It is built from the records'
finishing times, so a past day's file is the same whenever it is asked for.
A LINK file is kept as a record of kind "file" whose id is the unguessable
token of its URL; `linked_file` is how the sandbox's file route serves it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ..clock import gateway_day, gateway_time
from ..runtime import Runtime
from ..store import Record, Tx
from ..worker import on_due
from .base import Call, service
from .payins import PAY_INS

FILE_KIND = "file"
LINK_EXPIRY_MS = 10 * 60_000


@service("getBalance", writes=False)
def get_balance(call: Call, tx: Tx) -> dict[str, Any]:
    markets = call.runtime.markets()
    countries = call.merchant.config.get("countries", [])
    opened = sorted({markets[country]["currency"] for country in countries if country in markets})
    wanted = call.params.get("currency")
    if wanted is not None:
        if wanted not in opened:
            call.refuse("COUNTRY_NOT_OPENED")
        opened = [wanted]
    held = {b.currency: b for b in tx.balances(call.merchant.app_id)}
    rows = []
    for currency in opened:
        balance = held.get(currency)
        rows.append(
            {
                "currency": currency,
                "available": balance.available if balance else 0,
                "frozen": balance.frozen if balance else 0,
                "pendingSettlement": balance.pending if balance else 0,
            }
        )
    return {"balances": rows}


@service("downloadReconciliation")
def download_reconciliation(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    day, kind = p["date"], p["type"]
    if not _is_day(day) or day >= call.today:
        call.refuse("TRANSACTION_NOT_FOUND")
    columns: list[str] = call.runtime.schemas["ReconciliationFile"]["x-csv-columns"]
    rows = sorted(ROWS[kind](tx, call.merchant.app_id, day), key=lambda row: (row["finishTime"], row["transactionId"]))
    content = _csv(columns, rows)
    file_name = f"{call.merchant.app_id}_{kind}_{day.replace('-', '')}.csv"
    data: dict[str, Any] = {
        "date": day,
        "type": kind,
        "fileName": file_name,
        "rowCount": len(rows),
        "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest(),
    }
    if p.get("delivery", "CONTENT") == "CONTENT":
        data["content"] = content
        return data
    token = secrets.token_urlsafe(24)
    expire_ms = call.now_ms + LINK_EXPIRY_MS
    record = call.new_record(
        FILE_KIND,
        token,
        {"content": content, "fileName": file_name, "sha256": data["sha256"], "expireTime": gateway_time(expire_ms)},
        status="ACTIVE",
        due_ms=expire_ms,
        meta={"expireMs": expire_ms},
        record_id=token,
    )
    if not tx.insert(record):
        raise RuntimeError("a reconciliation link token was drawn twice")
    data.update(downloadUrl=f"{call.base_url}/sandbox/files/{token}", expireTime=gateway_time(expire_ms))
    return data


def linked_file(tx: Tx, token: str, now_ms: int) -> tuple[str, str] | None:
    """(fileName, CSV) of a reconciliation link still valid at `now_ms`; None for any other token."""
    record = tx.get(token)
    if record is None or record.kind != FILE_KIND or now_ms >= int(record.meta.get("expireMs", 0)):
        return None
    return record.data["fileName"], record.data["content"]


@on_due(FILE_KIND)
def expire_file(tx: Tx, runtime: Runtime, record: Record, now_ms: int) -> None:
    """A link at its expireTime is no longer served."""
    record.status = "EXPIRED"
    record.due_ms = None
    tx.update(record)


# The rows of each file type ------------------------------------------------------------------------

Row = dict[str, Any]


def _pay_in_rows(tx: Tx, app_id: str, day: str) -> Iterator[Row]:
    """Pay-ins completed that day (as COMPLETED) or voided that day (as VOIDED)."""
    for record in tx.of_kind(app_id, PAY_INS):
        if record.status not in ("COMPLETED", "VOIDED") or "finishedMs" not in record.meta:
            continue
        completed_ms = int(record.meta["finishedMs"])
        voids = tx.children(record.id, "void") if record.status == "VOIDED" else []
        if voids and gateway_day(voids[0].created_ms) <= day:
            if gateway_day(voids[0].created_ms) == day:
                yield _row(record, "VOIDED", voids[0].created_ms)
        elif gateway_day(completed_ms) == day:
            yield _row(record, "COMPLETED", completed_ms)


def _payout_rows(tx: Tx, app_id: str, day: str) -> Iterator[Row]:
    for record in tx.of_kind(app_id, ("disbursement",)):
        if record.status in ("COMPLETED", "FAILED") and gateway_day(record.finished_ms) == day:
            yield _row(record, record.status, record.finished_ms)


def _refund_rows(tx: Tx, app_id: str, day: str) -> Iterator[Row]:
    for record in tx.of_kind(app_id, ("refund",)):
        if record.status in ("SUCCESS", "FAILED") and gateway_day(record.finished_ms) == day:
            # A refund's ids are its own: refundId and mchRefundOrderId.
            yield _row(record, record.status, record.finished_ms)


ROWS: dict[str, Callable[[Tx, str, str], Iterator[Row]]] = {
    "PAY_IN": _pay_in_rows,
    "PAYOUT": _payout_rows,
    "REFUND": _refund_rows,
}


def _row(record: Record, status: str, finished_ms: int) -> Row:
    """The record's fields, and the ones a file computes: product, status and finishTime as of that day."""
    return {
        **record.data,
        "transactionId": record.id,
        "mchOrderId": record.ref,
        "product": record.kind.upper(),
        "status": status,
        "currency": record.currency,
        "amount": record.amount,
        "finishTime": gateway_time(finished_ms),
    }


def _csv(columns: list[str], rows: list[Row]) -> str:
    """RFC 4180 quoting, LF line ends, a header row; a column a row lacks is left empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else row[column] for column in columns])
    return out.getvalue()


def _is_day(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True
