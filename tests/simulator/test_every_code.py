"""Every code of the gateway's tables, reached on purpose through the public API, in one place.

Each result code has a scenario that provokes it; each failed code a
transaction that ends with it. The final assertions compare what was seen
with the spec's tables, so a code the spec adds without a way to reach it
fails here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import paygate_v1
import paygate_v2
from generator.model import ApiModel
from paygate_v2 import _signing

from .conftest import Merchant, Server, start_server, stop_server

PAY_IN = {"currency": "PHP", "country": "PH", "product_name": "Plan", "notify_url": "https://merchant.example/notify"}
QR = {"pay_method": "QR", "wallet_code": "GCASH"}
PAYOUT = {
    "currency": "PHP",
    "country": "PH",
    "transfer_code": "INSTAPAY",
    "bank_code": "BDO",
    "account_number": "005370123456",
    "account_name": "Juan dela Cruz",
    "notify_url": "https://merchant.example/notify",
}
NOTIFY = "https://merchant.example/notify"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Its own server: payouts and refunds stay PROCESSING until its clock is moved."""
    running = start_server(tmp_path_factory.mktemp("codes"), extra=("--processing-ms", "60000"))
    yield running
    stop_server(running)


def code(call: Callable[..., Any], **arguments: Any) -> int:
    try:
        call(**arguments)
    except (paygate_v1.APIError, paygate_v2.APIError) as refused:
        return int(refused.code)
    return 10000


def raw(server: Server, merchant: Merchant, path: str, fields: dict[str, Any], *, sign: bool = True) -> int:
    body = {**fields, "appId": fields.get("appId", merchant.app_id)}
    body.setdefault("timestamp", str(int(time.time() * 1000)))
    if sign:
        body["sign"] = _signing.sign(body, merchant.secret)
    return int(
        server.http.post(path, content=json.dumps(body), headers={"content-type": "application/json"}).json()["code"]
    )


def test_every_code_is_reachable(gateway: Server, models: dict[str, ApiModel]) -> None:
    money = {c: 10**10 for c in models["v2"].schemas["Currency"]["enum"]}
    merchant = gateway.merchant(balances=money)
    client = merchant.client("v2", max_retries=0)
    seen: dict[int, str] = {}

    def saw(expected: int, observed: int, how: str) -> None:
        assert observed == expected, f"{how}: expected {expected}, got {observed}"
        seen[expected] = how

    def paid(order: str, **overrides: Any) -> str:
        created = client.collections.create(mch_order_id=order, amount=150000, **{**PAY_IN, **QR, **overrides})
        gateway.sandbox("POST", f"transactions/{created.transaction_id}/pay")
        return str(created.transaction_id)

    def advance(seconds: float) -> None:
        gateway.sandbox("POST", "clock", json={"advanceSeconds": seconds})
        gateway.process_due()

    create = client.collections.create
    saw(10000, code(client.account.balance), "a balance query")
    for test_code in (21000, 21011, 21023):
        saw(
            test_code,
            code(create, mch_order_id=f"T-{test_code}", amount=150000, remark=f"sandbox:{test_code}", **PAY_IN, **QR),
            "test value",
        )
    saw(
        21001,
        raw(gateway, merchant, "/v2/collection/query", {"mchOrderId": "X", "sign": "0" * 64}, sign=False),
        "wrong sign",
    )
    not_a_string = {"mchOrderId": "P", "amount": 150000, "currency": "PHP", "country": "PH", "payMethod": "QR",
                    "walletCode": "GCASH", "productName": 7, "notifyUrl": NOTIFY}  # fmt: skip
    saw(21002, raw(gateway, merchant, "/v2/collection/create", not_a_string), "productName not a string")
    saw(
        21003,
        raw(gateway, merchant, "/v2/collection/query", {"mchOrderId": "X", "appId": "app_nobody"}),
        "unknown appId",
    )
    disabled = gateway.merchant(enabled=False)
    saw(21004, code(disabled.client("v2", max_retries=0).account.balance), "merchant disabled")
    no_gcash = gateway.merchant(channels={"WalletCode": ["MAYA"]})
    saw(
        21005,
        code(no_gcash.client("v2", max_retries=0).collections.create, mch_order_id="C", amount=150000, **PAY_IN, **QR),
        "GCash not opened",
    )
    saw(21006, code(client.collections.query, mch_order_id="nobody"), "unknown order")
    create(mch_order_id="DUP", amount=150000, **PAY_IN, **QR)
    saw(21007, code(create, mch_order_id="DUP", amount=150000, **PAY_IN, **QR), "reused mchOrderId")
    saw(
        21008,
        raw(gateway, merchant, "/v2/collection/query", {"mchOrderId": "X", "timestamp": "yesterday"}),
        "malformed timestamp",
    )
    stale = str(int(time.time() * 1000) - 301_000)
    saw(
        21009,
        raw(gateway, merchant, "/v2/collection/query", {"mchOrderId": "X", "timestamp": stale}),
        "stale timestamp",
    )
    saw(21010, code(create, mch_order_id="BIG", amount=10**11, **PAY_IN, **QR), "over the PH pay-in limit")
    saw(
        21012,
        code(client.disbursements.create, mch_order_id="B", amount=30000, **{**PAYOUT, "bank_code": "BCA"}),
        "BCA in PH",
    )
    saw(
        21013,
        code(create, mch_order_id="W", amount=150000, **PAY_IN, pay_method="WALLET", wallet_code="DANA"),
        "DANA in PH",
    )
    poor = gateway.merchant(balances={"PHP": 100})
    saw(
        21014,
        code(poor.client("v2", max_retries=0).disbursements.create, mch_order_id="P", amount=30000, **PAYOUT),
        "payout beyond balance",
    )
    create(mch_order_id="K1", amount=150000, idempotency_id="K", **PAY_IN, **QR)
    saw(
        21015,
        code(create, mch_order_id="K2", amount=150000, idempotency_id="K", **PAY_IN, **QR),
        "reused idempotencyId",
    )
    fenced = gateway.merchant(ipAllowList=["203.0.113.9"])
    saw(21016, code(fenced.client("v2", max_retries=0).account.balance), "caller not allowed")
    id_only = gateway.merchant(countries=["ID"])
    saw(
        21017,
        code(id_only.client("v2", max_retries=0).collections.create, mch_order_id="C", amount=150000, **PAY_IN, **QR),
        "PH not opened",
    )
    saw(
        21018,
        code(client.disbursements.create, mch_order_id="T", amount=30000, **{**PAYOUT, "transfer_code": "PIX"}),
        "Pix in PH",
    )
    saw(
        21019,
        code(
            create,
            mch_order_id="J",
            amount=15000,
            currency="CNY",
            country="CN",
            product_name="Plan",
            notify_url=NOTIFY,
            pay_method="JSAPI",
            wallet_code="WECHAT",
        ),
        "JSAPI without openId",
    )
    limited = gateway.merchant(limits={"requestsPerSecond": 1})
    limited_client = limited.client("v2", max_retries=0)
    codes = {code(limited_client.account.balance) for _ in range(5)}
    saw(21020, 21020 if 21020 in codes else min(codes), "five requests in one second")
    zero = {**not_a_string, "mchOrderId": "Z", "amount": 0, "productName": "Plan"}
    saw(21021, raw(gateway, merchant, "/v2/collection/create", zero), "amount 0")
    capped = gateway.merchant(limits={"dailyVolume": {"PHP": 200000}, "dailyCount": 100})
    capped_create = capped.client("v2", max_retries=0).collections.create
    capped_create(mch_order_id="V1", amount=150000, **PAY_IN, **QR)
    saw(21022, code(capped_create, mch_order_id="V2", amount=150000, **PAY_IN, **QR), "daily volume cap")
    counted = gateway.merchant(limits={"dailyCount": 1})
    counted_create = counted.client("v2", max_retries=0).collections.create
    counted_create(mch_order_id="N1", amount=150000, **PAY_IN, **QR)
    saw(21027, code(counted_create, mch_order_id="N2", amount=150000, **PAY_IN, **QR), "daily count cap")
    saw(
        21024,
        code(create, mch_order_id="TK", amount=150000, **PAY_IN, pay_method="TOKEN", token="tok_nobody"),
        "unknown token",
    )
    link = client.authorizations.link(
        mch_auth_order_id="A1", payer_id="P1", wallet_code="GCASH", country="PH", notify_url=NOTIFY
    )
    gateway.sandbox("POST", f"tokens/{link.token}/authorize")
    saw(
        21026,
        code(
            create,
            mch_order_id="TK-26",
            amount=150000,
            token=link.token,
            remark="sandbox:21026",
            **PAY_IN,
            pay_method="TOKEN",
        ),
        "payer short",
    )
    create(mch_order_id="TK-ON", amount=150000, token=link.token, **PAY_IN, pay_method="TOKEN")
    saw(21025, code(client.authorizations.cancel_token, mch_auth_order_id="A1"), "debit in flight")
    paid("CLOSED")
    saw(21028, code(client.collections.close, mch_order_id="CLOSED"), "closing a paid collection")

    # Refunds
    refund = client.refunds.create
    base = paid("R-BASE")
    refund(mch_refund_order_id="R1", transaction_id=base, amount=1000, notify_url=NOTIFY)
    saw(
        21401,
        code(refund, mch_refund_order_id="R1", transaction_id=base, amount=1000, notify_url=NOTIFY),
        "same refund again, PROCESSING",
    )
    saw(
        21409,
        code(refund, mch_refund_order_id="R2", transaction_id=base, amount=1000, notify_url=NOTIFY),
        "another while one PROCESSING",
    )
    advance(61)
    saw(
        21407,
        code(refund, mch_refund_order_id="R1", transaction_id=base, amount=1000, notify_url=NOTIFY),
        "finished refund's id reused",
    )
    saw(
        21406,
        code(refund, mch_refund_order_id="R3", transaction_id=base, amount=150000, notify_url=NOTIFY),
        "more than is left",
    )
    pending = client.collections.create(mch_order_id="R-PENDING", amount=150000, **PAY_IN, **QR).transaction_id
    saw(
        21408,
        code(refund, mch_refund_order_id="R4", transaction_id=pending, amount=1000, notify_url=NOTIFY),
        "not completed",
    )
    maya = paid("R-MAYA", wallet_code="MAYA")
    saw(
        21405,
        code(refund, mch_refund_order_id="R5", transaction_id=maya, amount=1000, notify_url=NOTIFY),
        "Maya refunds in full only",
    )
    vietnam = {"currency": "VND", "country": "VN", "product_name": "Plan", "notify_url": NOTIFY, "pay_method": "QR"}
    zalo = client.collections.create(
        mch_order_id="R-ZALO", amount=100000, wallet_code="ZALOPAY", **vietnam
    ).transaction_id
    gateway.sandbox("POST", f"transactions/{zalo}/pay")
    saw(
        21404,
        code(refund, mch_refund_order_id="R6", transaction_id=zalo, amount=100000, notify_url=NOTIFY),
        "ZaloPay refunds in part only",
    )
    voided = paid("R-VOIDED")
    client.collections.void(mch_void_order_id="V-R", transaction_id=voided)
    saw(
        21402,
        code(refund, mch_refund_order_id="R7", transaction_id=voided, amount=1000, notify_url=NOTIFY),
        "voided payment",
    )

    # Voids
    void = client.collections.void
    saw(21500, code(void, mch_void_order_id="V1", transaction_id=pending), "void of a PENDING collection")
    hong_kong = {"currency": "HKD", "country": "HK", "product_name": "Plan", "notify_url": NOTIFY, "pay_method": "QR"}
    fps = client.collections.create(mch_order_id="V-FPS", amount=15000, wallet_code="FPS", **hong_kong).transaction_id
    gateway.sandbox("POST", f"transactions/{fps}/pay")
    saw(21501, code(void, mch_void_order_id="V2", transaction_id=fps), "FPS cannot reverse")
    saw(21504, code(void, mch_void_order_id="V3", transaction_id=voided), "void twice")
    saw(21505, code(void, mch_void_order_id="V-R", transaction_id=paid("V-DUP")), "reused mchVoidOrderId")
    settled = paid("V-SETTLED")
    gateway.sandbox("POST", "settle", json={"appId": merchant.app_id})
    saw(21502, code(void, mch_void_order_id="V4", transaction_id=settled), "settled")
    yesterday = paid("V-YESTERDAY")
    advance(86400)
    saw(21503, code(void, mch_void_order_id="V5", transaction_id=yesterday), "the day after")
    advance(61 * 86400)
    saw(
        21403,
        code(refund, mch_refund_order_id="R8", transaction_id=base, amount=100, notify_url=NOTIFY),
        "61 days later",
    )

    tables = {c.value for c in models["v2"].result_codes()}
    assert set(seen) == tables, f"not reached: {sorted(tables - set(seen))}"

    # Failed codes: each ends a transaction, read back by query.
    failed = [c.value for c in models["v2"].failed_codes()]
    for failed_code in failed:
        created = create(mch_order_id=f"F{failed_code}", amount=150000, remark=f"sandbox:{failed_code}", **PAY_IN, **QR)
        gateway.sandbox("POST", f"transactions/{created.transaction_id}/pay")
        final = client.collections.query(mch_order_id=f"F{failed_code}")
        assert (final.transaction_status.value, final.failed_code) == ("FAILED", failed_code)
        assert final.failed_message == models["v2"].code(failed_code).message
