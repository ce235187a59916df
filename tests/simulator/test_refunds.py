"""5. Refund over real HTTP, both versions: journeys, balances, and every refusal on purpose."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import paygate_v1
import paygate_v2
from generator.model import ApiModel
from paygate_v1 import _signing as v1_signing
from paygate_v2 import _signing as v2_signing

from .conftest import Merchant, Server, eventually, start_server, stop_server

VERSIONS = ["v1", "v2"]
SIGNERS = {"v1": v1_signing, "v2": v2_signing}
API_ERRORS = (paygate_v1.APIError, paygate_v2.APIError)
NOTIFY = "https://merchant.example/notify"
DAY_S = 86_400


def collect(server: Server, client: Any, order: str, *, amount: int = 150_000, pay: bool = True, **channel: Any) -> str:
    """A collection (by default GCash in the Philippines), paid unless `pay` is False; its transactionId."""
    arguments = {"country": "PH", "currency": "PHP", "pay_method": "WALLET", "wallet_code": "GCASH", **channel}
    created = client.collections.create(
        mch_order_id=order, amount=amount, product_name="Plan", notify_url=NOTIFY, **arguments
    )
    if pay:
        server.sandbox("POST", f"transactions/{created.transaction_id}/pay")
    return str(created.transaction_id)


def php(client: Any) -> tuple[int, int, int]:
    """(available, frozen, pendingSettlement) in PHP."""
    (row,) = client.account.balance(currency="PHP").balances
    return row.available, row.frozen, row.pending_settlement


def final(client: Any, mch_refund_order_id: str) -> Any:
    def check() -> Any:
        refund = client.refunds.query(mch_refund_order_id=mch_refund_order_id)
        return refund if refund.refund_status.value != "PROCESSING" else None

    return eventually(check)


def refused(call: Callable[..., Any], **arguments: Any) -> int:
    """The code `call(**arguments)` is refused with."""
    with pytest.raises(API_ERRORS) as error:
        call(**arguments)
    return int(error.value.code)


def refund_of(client: Any, transaction_id: str, amount: int, ref: str = "R-X", **more: Any) -> int:
    """The code a refund is refused with."""
    return refused(
        client.refunds.create,
        mch_refund_order_id=ref,
        transaction_id=transaction_id,
        amount=amount,
        notify_url=NOTIFY,
        **more,
    )


def events(server: Server, app_id: str, record_id: str) -> list[dict[str, Any]]:
    return [n for n in server.notifications(app_id) if n["record_id"] == record_id]


@pytest.mark.parametrize("version", VERSIONS)
def test_full_refund_of_a_cashier_order(server: Server, merchant: Merchant, version: str) -> None:
    client = merchant.client(version, max_retries=0)
    order = client.cashier.create(
        mch_order_id="C-1", amount=89_900, currency="PHP", country="PH", product_name="Plan", notify_url=NOTIFY
    )
    server.sandbox(
        "POST", f"transactions/{order.transaction_id}/pay", json={"payMethod": "WALLET", "walletCode": "MAYA"}
    )
    assert refund_of(client, order.transaction_id, 100) == 21405  # MAYA refunds in full only
    client.refunds.create(
        mch_refund_order_id="R-1", transaction_id=order.transaction_id, amount=89_900, notify_url=NOTIFY
    )
    assert final(client, "R-1").refund_status.value == "SUCCESS"
    assert client.cashier.query(mch_order_id="C-1").refunded_amount == 89_900


@pytest.mark.parametrize("version", VERSIONS)
def test_failed_refund_gives_the_money_back(server: Server, merchant: Merchant, version: str) -> None:
    client = merchant.client(version, max_retries=0)
    paid = collect(server, client, "O-1")
    before = php(client)
    created = client.refunds.create(
        mch_refund_order_id="R-1", transaction_id=paid, amount=150_000, notify_url=NOTIFY, remark="sandbox:-10010"
    )
    failed = final(client, "R-1")
    assert failed.refund_status.value == "FAILED" and failed.finish_time
    assert (failed.failed_code, failed.failed_message) == (-10010, "Channel Refund Failed")
    assert php(client) == before
    assert client.collections.query(mch_order_id="O-1").refunded_amount == 0
    (note,) = eventually(lambda: events(server, merchant.app_id, created.refund_id))
    assert note["event"] == "refund.failed" and note["payload"]["failedCode"] == -10010
    # The id of a final refund is spent; the pay-in may be refunded again under a new one.
    assert refund_of(client, paid, 150_000, "R-1") == 21407
    client.refunds.create(mch_refund_order_id="R-2", transaction_id=paid, amount=150_000, notify_url=NOTIFY)
    assert final(client, "R-2").refund_status.value == "SUCCESS"


def test_a_v1_pay_in_refunded_through_v2(server: Server, merchant: Merchant) -> None:
    paid = collect(server, merchant.client("v1"), "O-1")
    refund = merchant.client("v2").refunds.create(
        mch_refund_order_id="R-1", transaction_id=paid, amount=1_000, notify_url=NOTIFY
    )
    assert merchant.client("v1").refunds.query(mch_refund_order_id="R-1").refund_id == refund.refund_id


# Refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_refusals_by_the_pay_in(server: Server, merchant: Merchant, version: str) -> None:
    client = merchant.client(version, max_retries=0)
    before = php(client)
    assert refund_of(client, "f" * 36, 1_000) == 21006
    assert refund_of(client, collect(server, server.merchant().client(version), "O-1"), 1_000) == 21006
    assert refund_of(client, collect(server, client, "PENDING", pay=False), 1_000) == 21408
    closed = collect(server, client, "CLOSED", pay=False)
    client.collections.close(mch_order_id="CLOSED")
    assert refund_of(client, closed, 1_000) == 21408
    voided = collect(server, client, "VOIDED")
    client.collections.void(mch_void_order_id="V-1", transaction_id=voided)
    assert refund_of(client, voided, 1_000) == 21402
    qris = collect(
        server, client, "QRIS", amount=50_000, country="ID", currency="IDR", pay_method="QR", wallet_code="QRIS"
    )
    assert refund_of(client, qris, 1_000) == 21402  # QRIS refunds nothing
    maya = collect(server, client, "MAYA", wallet_code="MAYA")
    assert refund_of(client, maya, 1_000) == 21405
    assert refund_of(client, maya, 150_001) == 21405  # not the whole amount: partial
    gcash = collect(server, client, "GCASH")
    assert refund_of(client, gcash, 150_001) == 21406
    for code in (21000, 21011, 21023):
        assert refund_of(client, gcash, 1_000, remark=f"sandbox:{code}") == code
    # Nothing was created and nothing left `available` (the pay-ins only added to pendingSettlement).
    assert refused(client.refunds.query, mch_refund_order_id="R-X") == 21006
    assert php(client)[:2] == before[:2]


def test_a_payout_is_no_pay_in(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2", max_retries=0)
    payout = client.disbursements.create(
        mch_order_id="P-1", amount=5_000, currency="PHP", country="PH", transfer_code="INSTAPAY", bank_code="BDO",
        account_number="005370123456", account_name="Juan Dela Cruz", notify_url=NOTIFY,
    )  # fmt: skip
    assert refund_of(client, payout.transaction_id, 5_000) == 21006


def test_full_refund_where_the_channel_refunds_only_partially(server: Server, models: dict[str, ApiModel]) -> None:
    schemas = models["v2"].schemas
    found = [
        (field, code, channel)
        for enum, field in (("WalletCode", "wallet_code"), ("BankCode", "bank_code"))
        for code, channel in schemas[enum]["x-channels"].items()
        if not channel["refund"]["full"] and channel["refund"]["partial"] and channel["payMethods"]
    ]
    if not found:
        pytest.skip("no channel of the spec refunds partially but not in full: 21404 cannot be reached")
    field, code, channel = found[0]
    country = channel["countries"][0]
    market = schemas["Country"]["x-markets"][country]
    merchant = server.merchant(balances={market["currency"]: 100_000_000})
    client = merchant.client("v2", max_retries=0)
    amount = market["payIn"]["min"] * 10
    channel_arguments = {"wallet_code": None, field: code, "pay_method": channel["payMethods"][0]}
    paid = collect(
        server, client, "O-1", amount=amount, country=country, currency=market["currency"], **channel_arguments
    )
    assert refund_of(client, paid, amount) == 21404


def test_v2_idempotency_id_reuse_answers_the_first_refund(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2", max_retries=0)
    paid = collect(server, client, "O-1")
    first = client.refunds.create(
        mch_refund_order_id="R-1", transaction_id=paid, amount=1_000, notify_url=NOTIFY, idempotency_id="key-1"
    )
    with pytest.raises(paygate_v2.DuplicateIdempotencyIdError) as error:
        client.refunds.create(
            mch_refund_order_id="R-2", transaction_id=paid, amount=1_000, notify_url=NOTIFY, idempotency_id="key-1"
        )
    assert error.value.data["refundId"] == first.refund_id


@pytest.mark.parametrize("version", VERSIONS)
def test_amount_not_a_positive_integer(server: Server, merchant: Merchant, version: str) -> None:
    paid = collect(server, merchant.client(version), "O-1")
    fields: dict[str, Any] = {
        "appId": merchant.app_id,
        "timestamp": str(int(time.time() * 1000)),
        "mchRefundOrderId": "R-0",
        "transactionId": paid,
        "amount": -5,
        "notifyUrl": NOTIFY,
    }
    fields["sign"] = SIGNERS[version].sign(fields, merchant.secret)
    assert httpx.post(f"{server.url}/{version}/refund/create", json=fields).json()["code"] == 21021


@pytest.mark.parametrize("version", VERSIONS)
def test_query_of_an_unknown_or_mismatched_refund(server: Server, merchant: Merchant, version: str) -> None:
    client = merchant.client(version, max_retries=0)
    paid = collect(server, client, "O-1")
    created = client.refunds.create(mch_refund_order_id="R-1", transaction_id=paid, amount=1_000, notify_url=NOTIFY)
    assert client.refunds.query(mch_refund_order_id="R-1", refund_id=created.refund_id) == created
    assert refused(client.refunds.query, mch_refund_order_id="R-2") == 21006
    assert refused(client.refunds.query, mch_refund_order_id="R-1", refund_id="rf_0") == 21006


# Rules that take time: a server whose refunds stay PROCESSING for a minute, and whose clock moves ---------


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("slow-refunds"), extra=("--processing-ms", "60000"))
    yield running
    stop_server(running)


def advance(server: Server, seconds: float) -> None:
    server.sandbox("POST", "clock", json={"advanceSeconds": seconds})


def process(server: Server) -> None:
    """Let the slow server's processing time pass."""
    advance(server, 61)
    server.process_due()


def gateway_client(merchant: Merchant, version: str) -> Any:
    """A client of the slow server: its clock may have been moved, which signatures do not see."""
    return merchant.client(version, max_retries=0)


@pytest.mark.parametrize("version", VERSIONS)
def test_partial_refunds_up_to_the_whole_amount(slow_server: Server, version: str) -> None:
    merchant = slow_server.merchant(countries=["PH"], balances={"PHP": 1_000_000})
    client = gateway_client(merchant, version)
    paid = collect(slow_server, client, "O-1")
    assert php(client) == (1_000_000, 0, 150_000)
    created = client.refunds.create(
        mch_refund_order_id="R-1", transaction_id=paid, amount=50_000, notify_url=NOTIFY, reason="one seat"
    )
    assert created.refund_status.value == "PROCESSING" and created.finish_time is None
    assert (created.transaction_id, created.mch_order_id, created.currency.value) == (paid, "O-1", "PHP")
    assert created.reason == "one seat" and created.refund_id
    # The amount moved from available to frozen at once; pending settlement is untouched.
    assert php(client) == (950_000, 50_000, 150_000)
    assert client.refunds.query(mch_refund_order_id="R-1", refund_id=created.refund_id) == created
    assert client.collections.query(mch_order_id="O-1").refunded_amount == 0
    assert events(slow_server, merchant.app_id, created.refund_id) == []

    process(slow_server)
    done = client.refunds.query(mch_refund_order_id="R-1")
    assert done.refund_status.value == "SUCCESS" and done.finish_time and done.failed_code is None
    assert php(client) == (950_000, 0, 150_000)
    assert client.collections.query(mch_order_id="O-1").refunded_amount == 50_000
    (note,) = eventually(lambda: events(slow_server, merchant.app_id, created.refund_id))
    assert note["event"] == "refund.succeeded" and note["version"] == version and note["url"] == NOTIFY
    payload = note["payload"]
    assert (payload["eventName"], payload["refundStatus"]) == ("refund.succeeded", "SUCCESS")
    assert (payload["refundId"], payload["mchRefundOrderId"]) == (created.refund_id, "R-1")
    assert (payload["transactionId"], payload["mchOrderId"], payload["amount"]) == (paid, "O-1", 50_000)

    # The rest can only be refunded partially; more than the rest, never.
    assert refund_of(client, paid, 100_001, "R-2") == 21406
    client.refunds.create(mch_refund_order_id="R-2", transaction_id=paid, amount=100_000, notify_url=NOTIFY)
    assert php(client) == (850_000, 100_000, 150_000)
    process(slow_server)
    assert client.collections.query(mch_order_id="O-1").refunded_amount == 150_000
    assert php(client) == (850_000, 0, 150_000)
    assert refund_of(client, paid, 1, "R-3") == 21406
    # A refunded collection cannot be voided any more.
    assert refused(client.collections.void, mch_void_order_id="V-1", transaction_id=paid) == 21501


@pytest.mark.parametrize("version", VERSIONS)
def test_available_short_until_the_pay_in_is_settled(slow_server: Server, version: str) -> None:
    merchant = slow_server.merchant(countries=["PH"])
    client = gateway_client(merchant, version)
    paid = collect(slow_server, client, "O-1")
    assert php(client) == (0, 0, 150_000)
    assert refund_of(client, paid, 150_000, "R-1") == 21014
    assert php(client) == (0, 0, 150_000)
    slow_server.sandbox("POST", "settle", json={"appId": merchant.app_id})
    assert php(client) == (150_000, 0, 0)
    client.refunds.create(mch_refund_order_id="R-1", transaction_id=paid, amount=150_000, notify_url=NOTIFY)
    assert php(client) == (0, 150_000, 0)
    process(slow_server)
    assert php(client) == (0, 0, 0)


@pytest.mark.parametrize("version", VERSIONS)
def test_one_processing_refund_at_a_time(slow_server: Server, version: str) -> None:
    merchant = slow_server.merchant(balances={"PHP": 1_000_000})
    client = gateway_client(merchant, version)
    paid = collect(slow_server, client, "O-1")
    client.refunds.create(mch_refund_order_id="R-1", transaction_id=paid, amount=1_000, notify_url=NOTIFY)
    assert refund_of(client, paid, 1_000, "R-2") == 21409
    assert refund_of(client, paid, 1_000, "R-1") == 21401  # the same refund, still under way
    assert refused(client.collections.void, mch_void_order_id="V-1", transaction_id=paid) == 21501
    process(slow_server)
    assert client.refunds.query(mch_refund_order_id="R-1").refund_status.value == "SUCCESS"
    assert refund_of(client, paid, 1_000, "R-1") == 21407
    client.refunds.create(mch_refund_order_id="R-2", transaction_id=paid, amount=1_000, notify_url=NOTIFY)


def test_sixty_days_after_completion(slow_server: Server) -> None:
    merchant = slow_server.merchant(balances={"PHP": 1_000_000})
    paid = collect(slow_server, gateway_client(merchant, "v2"), "O-1")
    advance(slow_server, 59 * DAY_S)
    gateway_client(merchant, "v1").refunds.create(
        mch_refund_order_id="R-1", transaction_id=paid, amount=1_000, notify_url=NOTIFY
    )
    advance(slow_server, 2 * DAY_S)
    for version in VERSIONS:
        assert refund_of(gateway_client(merchant, version), paid, 1_000, "R-2") == 21403
