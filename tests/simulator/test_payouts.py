"""4. Disbursement over real HTTP, both versions: journeys, balances, and every refusal on purpose."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import paygate_v1
import paygate_v2
from paygate_v1 import _signing as v1_signing
from paygate_v2 import _signing as v2_signing

from .conftest import PAYOUT, Merchant, Server, eventually, start_server, stop_server

VERSIONS = ["v1", "v2"]
SIGNERS = {"v1": v1_signing, "v2": v2_signing}
API_ERRORS = (paygate_v1.APIError, paygate_v2.APIError)
WALLET = {
    **PAYOUT,
    "transfer_code": "E_WALLET",
    "bank_code": None,
    "wallet_code": "GCASH",
    "account_number": "09171234567",
}


def php(client: Any) -> tuple[int, int, int]:
    """(available, frozen, pendingSettlement) in PHP."""
    (row,) = client.account.balance(currency="PHP").balances
    return row.available, row.frozen, row.pending_settlement


def events(server: Server, app_id: str, record_id: str) -> list[dict[str, Any]]:
    return [n for n in server.notifications(app_id) if n["record_id"] == record_id]


def final(client: Any, mch_order_id: str) -> Any:
    def check() -> Any:
        payout = client.disbursements.query(mch_order_id=mch_order_id)
        return payout if payout.transaction_status.value != "PENDING" else None

    return eventually(check)


# Journeys: a server whose payouts stay PENDING until its clock is moved on, so that what a
# payout holds in flight can be seen without racing the processing.


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("slow-payouts"), extra=("--processing-ms", "60000"))
    yield running
    stop_server(running)


def gateway_client(merchant: Merchant, version: str) -> Any:
    """A client of the slow server: its clock may have been moved, which signatures do not see."""
    return merchant.client(version, max_retries=0)


def process(server: Server) -> None:
    """Let the slow server's processing time pass."""
    server.sandbox("POST", "clock", json={"advanceSeconds": 61})
    server.process_due()


@pytest.mark.parametrize("version", VERSIONS)
def test_bank_payout_completes(slow_server: Server, version: str) -> None:
    merchant = slow_server.merchant(countries=["PH"], balances={"PHP": 1_000_000})
    client = gateway_client(merchant, version)
    assert php(client) == (1_000_000, 0, 0)
    created = client.disbursements.create(mch_order_id="PO-1", remark="week 47", **PAYOUT)
    assert created.transaction_status.value == "PENDING" and created.finish_time is None
    assert (created.bank_code.value, created.wallet_code, created.remark) == ("BDO", None, "week 47")
    # The amount left `available` in the same step that created the payout, and is held in `frozen`.
    assert php(client) == (750_000, 250_000, 0)
    assert client.disbursements.query(mch_order_id="PO-1", transaction_id=created.transaction_id) == created
    assert events(slow_server, merchant.app_id, created.transaction_id) == []

    process(slow_server)
    done = client.disbursements.query(mch_order_id="PO-1")
    assert done.transaction_status.value == "COMPLETED" and done.finish_time and done.failed_code is None
    assert php(client) == (750_000, 0, 0)
    (note,) = eventually(lambda: events(slow_server, merchant.app_id, created.transaction_id))
    assert note["event"] == "disbursement.completed" and note["version"] == version
    assert note["url"] == PAYOUT["notify_url"]
    payload = note["payload"]
    assert (payload["eventName"], payload["transactionStatus"]) == ("disbursement.completed", "COMPLETED")
    assert (payload["transactionId"], payload["mchOrderId"], payload["amount"]) == (
        done.transaction_id,
        "PO-1",
        250_000,
    )
    assert (payload["currency"], payload["remark"], payload["createTime"]) == ("PHP", "week 47", done.create_time)


@pytest.mark.parametrize("version", VERSIONS)
def test_wallet_payout_fails_with_the_planned_code_and_gives_the_money_back(slow_server: Server, version: str) -> None:
    merchant = slow_server.merchant(countries=["PH"], balances={"PHP": 1_000_000})
    client = gateway_client(merchant, version)
    created = client.disbursements.create(mch_order_id="PO-F", remark="sandbox:-10005", **WALLET)
    assert created.wallet_code.value == "GCASH" and created.bank_code is None
    assert created.transaction_status.value == "PENDING"
    assert php(client) == (750_000, 250_000, 0)

    process(slow_server)
    failed = client.disbursements.query(mch_order_id="PO-F")
    assert failed.transaction_status.value == "FAILED" and failed.finish_time
    assert (failed.failed_code, failed.failed_message) == (-10005, "Transaction Destination Account Error")
    assert php(client) == (1_000_000, 0, 0)
    (note,) = eventually(lambda: events(slow_server, merchant.app_id, created.transaction_id))
    assert note["event"] == "disbursement.failed"
    assert (note["payload"]["failedCode"], note["payload"]["failedMessage"]) == (-10005, failed.failed_message)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_repeated_create_is_told_so_and_debits_nothing_again(slow_server: Server, version: str) -> None:
    # The first create used the whole balance and the day's only payout: a repeat must still get 21007.
    merchant = slow_server.merchant(countries=["PH"], balances={"PHP": 250_000}, limits={"dailyCount": 1})
    client = gateway_client(merchant, version)
    first = client.disbursements.create(mch_order_id="PO-1", **PAYOUT)
    with pytest.raises(API_ERRORS) as refused:
        client.disbursements.create(mch_order_id="PO-1", **PAYOUT)
    assert refused.value.code == 21007
    assert php(client) == (0, 250_000, 0)
    assert client.disbursements.query(mch_order_id="PO-1").transaction_id == first.transaction_id


def test_v2_idempotency_id_reuse_answers_the_first_payout(slow_server: Server) -> None:
    merchant = slow_server.merchant(countries=["PH"], balances={"PHP": 250_000})
    client = gateway_client(merchant, "v2")
    first = client.disbursements.create(mch_order_id="PO-1", idempotency_id="key-1", **PAYOUT)
    with pytest.raises(paygate_v2.DuplicateIdempotencyIdError) as refused:
        client.disbursements.create(mch_order_id="PO-2", idempotency_id="key-1", **PAYOUT)
    assert refused.value.data["transactionId"] == first.transaction_id
    assert php(client) == (0, 250_000, 0)
    assert_not_found(client, "PO-2")


def test_v1_and_v2_share_the_payouts(slow_server: Server) -> None:
    merchant = slow_server.merchant(countries=["PH"], balances={"PHP": 1_000_000})
    v1, v2 = gateway_client(merchant, "v1"), gateway_client(merchant, "v2")
    made = v1.disbursements.create(mch_order_id="PO-1", **PAYOUT)
    assert v2.disbursements.query(mch_order_id="PO-1").transaction_id == made.transaction_id
    assert php(v1) == php(v2) == (750_000, 250_000, 0)


# Outcomes and money, at the test server's own pace ---------------------------------------------------------


@pytest.mark.parametrize("failed_code", [-10000, -10003, -10009])
def test_every_planned_failure_is_reported(server: Server, failed_code: int) -> None:
    merchant = server.merchant(countries=["PH"], balances={"PHP": 1_000_000})
    client = merchant.client("v2")
    client.disbursements.create(mch_order_id="PO", remark=f"sandbox:{failed_code}", **PAYOUT)
    assert final(client, "PO").failed_code == failed_code


def test_settled_pay_ins_fund_payouts(server: Server) -> None:
    """Money in, settled, paid out: available + frozen + pending moves only by what came in or left."""
    fresh = server.merchant(countries=["PH"])
    client = fresh.client("v2")
    collection = client.collections.create(
        mch_order_id="IN-1",
        amount=400_000,
        currency="PHP",
        country="PH",
        pay_method="WALLET",
        wallet_code="GCASH",
        product_name="Plan",
        notify_url="https://merchant.example/notify",
    )
    server.sandbox("POST", f"transactions/{collection.transaction_id}/pay")
    assert php(client) == (0, 0, 400_000)
    with pytest.raises(API_ERRORS) as refused:
        client.disbursements.create(mch_order_id="PO-1", **PAYOUT)
    assert refused.value.code == 21014  # pending settlement is not available
    server.sandbox("POST", "settle", json={"appId": fresh.app_id})
    assert php(client) == (400_000, 0, 0)
    client.disbursements.create(mch_order_id="PO-1", **PAYOUT)
    assert php(client)[0] == 150_000  # at once, whether or not the payout has completed yet
    final(client, "PO-1")
    assert php(client) == (150_000, 0, 0)


# Refusals: nothing created, no balance moved ------------------------------------------------------------

ONLY_PH = {"countries": ["PH", "ID"], "balances": {"PHP": 1_000_000, "IDR": 1_000_000}}
CHANNELS = {"TransferCode": ["BANK_TRANSFER", "E_WALLET"], "BankCode": ["BPI"], "WalletCode": ["MAYA"]}
REFUSALS: dict[str, tuple[dict[str, Any], dict[str, Any], int]] = {
    # name: (merchant config, payout arguments over PAYOUT, code)
    "country not opened": ({"countries": ["ID"]}, {}, 21017),
    "currency not the country's": ({}, {"currency": "IDR"}, 21017),
    "below the country's payout minimum": ({}, {"amount": 1_999}, 21010),
    "above the country's payout maximum": ({}, {"amount": 5_000_001}, 21010),
    "rail not of the country": ({}, {"transfer_code": "PIX"}, 21018),
    "bank rail without a bank": ({}, {"bank_code": None}, 21012),
    "bank of another country": ({}, {"bank_code": "BCA"}, 21012),
    "wallet rail without a wallet": ({}, {"transfer_code": "E_WALLET", "bank_code": None}, 21013),
    "wallet that does not pay out": (
        {},
        {"country": "ID", "currency": "IDR", "transfer_code": "E_WALLET", "wallet_code": "SHOPEEPAY", "amount": 50_000},
        21013,
    ),
    "wallet of another country": ({}, {"transfer_code": "E_WALLET", "wallet_code": "DANA"}, 21013),
    "rail not opened": ({"channels": CHANNELS}, {"bank_code": "BPI"}, 21005),
    "bank not opened": ({"channels": CHANNELS}, {"transfer_code": "BANK_TRANSFER"}, 21005),
    "wallet not opened": ({"channels": CHANNELS}, {"transfer_code": "E_WALLET", "wallet_code": "GCASH"}, 21005),
    "available short": ({"balances": {"PHP": 249_999}}, {}, 21014),
    "daily volume cap": ({"limits": {"dailyVolume": {"PHP": 249_999}}}, {}, 21022),
    "daily count cap": ({"limits": {"dailyCount": 0}}, {}, 21027),
    "sandbox:21000": ({}, {"remark": "sandbox:21000"}, 21000),
    "sandbox:21011": ({}, {"remark": "sandbox:21011"}, 21011),
    "sandbox:21023": ({}, {"remark": "sandbox:21023"}, 21023),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", REFUSALS)
def test_refusal(server: Server, version: str, case: str) -> None:
    config, overrides, code = REFUSALS[case]
    merchant = server.merchant(**{**ONLY_PH, **config})
    client = merchant.client(version, max_retries=0)
    before = client.account.balance().balances
    arguments = {k: v for k, v in {**PAYOUT, **overrides}.items() if v is not None}
    with pytest.raises(API_ERRORS) as refused:
        client.disbursements.create(mch_order_id="PO-X", **arguments)
    assert refused.value.code == code, refused.value
    assert client.account.balance().balances == before
    assert_not_found(client, "PO-X")


def assert_not_found(client: Any, mch_order_id: str, transaction_id: str | None = None) -> None:
    with pytest.raises(API_ERRORS) as missing:
        client.disbursements.query(mch_order_id=mch_order_id, transaction_id=transaction_id)
    assert missing.value.code == 21006


@pytest.mark.parametrize("version", VERSIONS)
def test_caps_count_the_day_s_payouts(server: Server, version: str) -> None:
    merchant = server.merchant(countries=["PH"], balances={"PHP": 5_000_000}, limits={"dailyCount": 2})
    client = merchant.client(version, max_retries=0)
    client.disbursements.create(mch_order_id="A", **PAYOUT)
    client.disbursements.create(mch_order_id="B", remark="sandbox:-10004", **PAYOUT)
    with pytest.raises(API_ERRORS) as refused:
        client.disbursements.create(mch_order_id="C", **PAYOUT)
    assert refused.value.code == 21027


@pytest.mark.parametrize("version", VERSIONS)
def test_amount_not_a_positive_integer(server: Server, version: str) -> None:
    merchant = server.merchant(countries=["PH"], balances={"PHP": 1_000_000})
    fields: dict[str, Any] = {
        "appId": merchant.app_id,
        "timestamp": str(int(time.time() * 1000)),
        "mchOrderId": "PO-0",
        "amount": 0,
        "currency": "PHP",
        "country": "PH",
        "transferCode": "INSTAPAY",
        "bankCode": "BDO",
        "accountNumber": "005370123456",
        "accountName": "Juan Dela Cruz",
        "notifyUrl": "https://merchant.example/notify",
    }
    fields["sign"] = SIGNERS[version].sign(fields, merchant.secret)
    answer = httpx.post(f"{server.url}/{version}/disbursement/create", json=fields).json()
    assert answer["code"] == 21021


@pytest.mark.parametrize("version", VERSIONS)
def test_query_of_an_unknown_or_mismatched_payout(server: Server, version: str) -> None:
    merchant = server.merchant(countries=["PH"], balances={"PHP": 1_000_000})
    client = merchant.client(version)
    created = client.disbursements.create(mch_order_id="PO-1", **PAYOUT)
    assert_not_found(client, "PO-2")
    assert_not_found(client, "PO-1", transaction_id="f" * 36)
    other = server.merchant(countries=["PH"]).client(version)
    assert_not_found(other, "PO-1", transaction_id=created.transaction_id)
