"""1. Account over real HTTP, both versions: balances, and the reconciliation files of a past day."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

import paygate_v1
import paygate_v2
from generator.model import ApiModel

from .conftest import Merchant, Server, eventually, start_server, stop_server

VERSIONS = ["v1", "v2"]
API_ERRORS = (paygate_v1.APIError, paygate_v2.APIError)
NOTIFY = "https://merchant.example/notify"
GATEWAY_ZONE = timezone(timedelta(hours=8))
DAY_MS = 86_400_000


# Balances -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_one_row_per_opened_currency_zeros_included(server: Server, version: str) -> None:
    merchant = server.merchant(countries=["PH", "ID", "CN"], balances={"PHP": 1_000})
    client = merchant.client(version, max_retries=0)
    rows = [(b.currency.value, b.available, b.frozen, b.pending_settlement) for b in client.account.balance().balances]
    assert rows == [("CNY", 0, 0, 0), ("IDR", 0, 0, 0), ("PHP", 1_000, 0, 0)]
    (php,) = client.account.balance(currency="PHP").balances
    assert (php.currency.value, php.available) == ("PHP", 1_000)
    with pytest.raises(API_ERRORS) as refused:
        client.account.balance(currency="JPY")
    assert refused.value.code == 21017


def test_balances_follow_the_money(server: Server) -> None:
    """Pay-in, settlement, payout: each balance moves as the spec says, v1 and v2 alike."""
    merchant = server.merchant(countries=["PH"])
    v1, v2 = merchant.client("v1"), merchant.client("v2")

    def php(client: Any) -> tuple[int, int, int]:
        (b,) = client.account.balance().balances
        return b.available, b.frozen, b.pending_settlement

    paid = v2.collections.create(
        mch_order_id="O-1", amount=300_000, currency="PHP", country="PH", pay_method="WALLET", wallet_code="GCASH",
        product_name="Plan", notify_url=NOTIFY,
    )  # fmt: skip
    assert php(v1) == php(v2) == (0, 0, 0)
    server.sandbox("POST", f"transactions/{paid.transaction_id}/pay")
    assert php(v1) == php(v2) == (0, 0, 300_000)
    server.sandbox("POST", "settle", json={"appId": merchant.app_id})
    assert php(v1) == php(v2) == (300_000, 0, 0)
    v1.disbursements.create(
        mch_order_id="P-1", amount=100_000, currency="PHP", country="PH", transfer_code="INSTAPAY", bank_code="BDO",
        account_number="005370123456", account_name="Juan Dela Cruz", notify_url=NOTIFY,
    )  # fmt: skip
    assert php(v2)[0] == 200_000  # at once; `frozen` holds it until the payout completes
    eventually(lambda: php(v2) == (200_000, 0, 0))
    assert php(v1) == (200_000, 0, 0)


# Reconciliation: a day of business on a server of our own, whose clock then moves to the next day ---------


@dataclass
class Day:
    server: Server
    merchant: Merchant
    date: str
    rows: dict[str, list[dict[str, str]]]  # type -> expected rows, in file order

    def client(self, version: str) -> Any:
        return self.merchant.client(version, max_retries=0)


def gateway_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, GATEWAY_ZONE).strftime("%Y-%m-%d")


def row(
    record: Any, product: str, status: str, finish_time: str, *, ids: tuple[str, str] | None = None
) -> dict[str, str]:
    transaction_id, mch_order_id = ids or (record.transaction_id, record.mch_order_id)
    return {
        "transactionId": transaction_id,
        "mchOrderId": mch_order_id,
        "product": product,
        "status": status,
        "currency": record.currency.value,
        "amount": str(record.amount),
        "createTime": record.create_time,
        "finishTime": finish_time,
    }


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    server = start_server(tmp_path_factory.mktemp("reconciliation"))
    try:
        # Business at noon, gateway time, so that it all falls on one day.
        now = server.sandbox("GET", "clock")["nowMs"]
        noon = int(datetime.strptime(gateway_day(now), "%Y-%m-%d").replace(tzinfo=GATEWAY_ZONE).timestamp() * 1000)
        noon += DAY_MS // 2 + (DAY_MS if noon + DAY_MS // 2 <= now else 0)
        server.sandbox("POST", "clock", json={"advanceSeconds": (noon - now) / 1000})
        merchant = server.merchant(countries=["PH"], balances={"PHP": 10_000_000})
        yield Day(server, merchant, gateway_day(noon), business(server, merchant))
    finally:
        stop_server(server)


def business(server: Server, merchant: Merchant) -> dict[str, list[dict[str, str]]]:
    """A day of pay-ins, payouts and refunds through both versions; the rows each file should hold."""
    v1, v2 = (merchant.client(v) for v in VERSIONS)
    pay_in = {"currency": "PHP", "country": "PH", "product_name": "Plan", "notify_url": NOTIFY}
    wallet = {"pay_method": "WALLET", "wallet_code": "GCASH"}
    payout = {
        "currency": "PHP", "country": "PH", "transfer_code": "INSTAPAY", "bank_code": "BDO",
        "account_number": "005370123456", "account_name": "Juan Dela Cruz", "notify_url": NOTIFY,
    }  # fmt: skip

    def pay(transaction_id: str, **channel: str) -> None:
        server.sandbox("POST", f"transactions/{transaction_id}/pay", json=channel)

    completed = v1.collections.create(mch_order_id="O-1", amount=150_000, **pay_in, **wallet)
    pay(completed.transaction_id)
    voided = v2.collections.create(mch_order_id="O-2", amount=45_000, **pay_in, **wallet)
    pay(voided.transaction_id)
    void = v2.collections.void(mch_void_order_id="V-2", transaction_id=voided.transaction_id)
    v2.collections.create(mch_order_id="O-3", amount=10_000, **pay_in, **wallet)  # never paid: in no file
    closed = v1.collections.create(mch_order_id="O-4", amount=10_000, **pay_in, **wallet)
    v1.collections.close(mch_order_id=closed.mch_order_id)  # FAILED: in no file
    cashier = v2.cashier.create(mch_order_id="C-1", amount=89_900, **pay_in)
    pay(cashier.transaction_id, payMethod="WALLET", walletCode="GCASH")

    paid_out = v1.disbursements.create(mch_order_id="P-1", amount=250_000, **payout)
    failed_out = v2.disbursements.create(mch_order_id="P-2", amount=80_000, remark="sandbox:-10005", **payout)
    refunded = v2.refunds.create(
        mch_refund_order_id="R-1", transaction_id=completed.transaction_id, amount=50_000, notify_url=NOTIFY
    )
    failed_refund = v1.refunds.create(
        mch_refund_order_id="R-2", transaction_id=cashier.transaction_id, amount=89_900, notify_url=NOTIFY,
        remark="sandbox:-10010",
    )  # fmt: skip

    def final_payout(client: Any, ref: str) -> Any:
        result = client.disbursements.query(mch_order_id=ref)
        return result if result.transaction_status.value != "PENDING" else None

    def final_refund(client: Any, ref: str) -> Any:
        result = client.refunds.query(mch_refund_order_id=ref)
        return result if result.refund_status.value != "PROCESSING" else None

    payouts = [eventually(lambda: final_payout(v1, "P-1")), eventually(lambda: final_payout(v2, "P-2"))]
    refunds = [eventually(lambda: final_refund(v1, "R-1")), eventually(lambda: final_refund(v2, "R-2"))]
    assert [p.transaction_id for p in payouts] == [paid_out.transaction_id, failed_out.transaction_id]
    assert [r.refund_id for r in refunds] == [refunded.refund_id, failed_refund.refund_id]
    completed = v2.collections.query(mch_order_id="O-1")
    cashier = v1.cashier.query(mch_order_id="C-1")

    def ordered(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return sorted(rows, key=lambda r: (r["finishTime"], r["transactionId"]))

    return {
        "PAY_IN": ordered(
            [
                row(completed, "COLLECTION", "COMPLETED", completed.finish_time),
                row(voided, "COLLECTION", "VOIDED", void.void_time),
                row(cashier, "CASHIER", "COMPLETED", cashier.finish_time),
            ]
        ),
        "PAYOUT": ordered([row(p, "DISBURSEMENT", p.transaction_status.value, p.finish_time) for p in payouts]),
        "REFUND": ordered(
            [
                row(r, "REFUND", r.refund_status.value, r.finish_time, ids=(r.refund_id, r.mch_refund_order_id))
                for r in refunds
            ]
        ),
    }


@pytest.fixture(scope="module")
def next_day(day: Day) -> Day:
    """The same server and merchant, the clock moved on by a day: `day.date` has ended."""
    day.server.sandbox("POST", "clock", json={"advanceSeconds": DAY_MS / 1000})
    return day


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["PAY_IN", "PAYOUT", "REFUND"])
def test_the_file_of_a_past_day(next_day: Day, models: dict[str, ApiModel], version: str, kind: str) -> None:
    columns = models[version].schemas["ReconciliationFile"]["x-csv-columns"]
    file = next_day.client(version).account.reconciliation(date=next_day.date, type=kind)
    expected = next_day.rows[kind]
    assert (file.date, file.type.value, file.row_count) == (next_day.date, kind, len(expected))
    assert file.file_name == f"{next_day.merchant.app_id}_{kind}_{next_day.date.replace('-', '')}.csv"
    assert file.download_url is None and file.content is not None
    assert file.sha256 == hashlib.sha256(file.content.encode("utf-8")).hexdigest()
    assert "\r" not in file.content and file.content.endswith("\n")
    lines = file.content.splitlines()
    assert lines[0] == ",".join(columns)
    assert list(csv.DictReader(io.StringIO(file.content))) == [{c: r[c] for c in columns} for r in expected]


def test_the_file_is_the_same_for_both_versions_and_never_changes(next_day: Day) -> None:
    files = [next_day.client(v).account.reconciliation(date=next_day.date, type="PAY_IN") for v in VERSIONS * 2]
    assert len({(f.content, f.sha256) for f in files}) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_a_day_without_movements_is_the_header_alone(next_day: Day, models: dict[str, ApiModel], version: str) -> None:
    before = (datetime.strptime(next_day.date, "%Y-%m-%d") - timedelta(days=1)).strftime("%Y-%m-%d")
    file = next_day.client(version).account.reconciliation(date=before, type="PAYOUT", delivery="CONTENT")
    assert file.row_count == 0
    assert file.content == ",".join(models[version].schemas["ReconciliationFile"]["x-csv-columns"]) + "\n"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_link_to_the_file(next_day: Day, version: str) -> None:
    client = next_day.client(version)
    content = client.account.reconciliation(date=next_day.date, type="REFUND")
    link = client.account.reconciliation(date=next_day.date, type="REFUND", delivery="LINK")
    assert link.content is None and link.expire_time
    assert (link.file_name, link.row_count, link.sha256) == (content.file_name, content.row_count, content.sha256)
    prefix = f"{next_day.server.url}/sandbox/files/"
    assert link.download_url.startswith(prefix)
    token = link.download_url.removeprefix(prefix)
    assert len(token) >= 32  # unguessable
    now_ms = next_day.server.sandbox("GET", "clock")["nowMs"]
    expires = datetime.strptime(link.expire_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=GATEWAY_ZONE).timestamp()
    assert abs(expires * 1000 - (now_ms + 600_000)) < 5_000  # ten minutes on
    with sqlite3.connect(f"file:{next_day.server.db}?mode=ro", uri=True) as db:
        (kind, data), *_ = db.execute("SELECT kind, data FROM records WHERE id = ?", (token,)).fetchall()
    assert kind == "file" and json.loads(data)["content"] == content.content
    # A plain GET, without signature, until the link expires.
    response = httpx.get(link.download_url)
    assert response.status_code == 200 and response.content == content.content.encode("utf-8")
    assert hashlib.sha256(response.content).hexdigest() == link.sha256
    next_day.server.sandbox("POST", "clock", json={"advanceSeconds": 601})
    assert httpx.get(link.download_url).status_code == 404
    assert httpx.get(f"{prefix}{'x' * len(token)}").status_code == 404


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("when", ["today", "tomorrow", "no such day"])
def test_no_file_yet(next_day: Day, version: str, when: str) -> None:
    today = gateway_day(next_day.server.sandbox("GET", "clock")["nowMs"])
    tomorrow = (datetime.strptime(today, "%Y-%m-%d") + timedelta(days=1)).strftime("%Y-%m-%d")
    date = {"today": today, "tomorrow": tomorrow, "no such day": "2026-02-30"}[when]
    with pytest.raises(API_ERRORS) as refused:
        next_day.client(version).account.reconciliation(date=date, type="PAY_IN")
    assert refused.value.code == 21006
