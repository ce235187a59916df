"""Hostile and broken requests: each gets its documented answer, never a 500, and changes nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import paygate_v2
from generator.model import ApiModel
from paygate_v1 import _signing as v1_signing
from paygate_v2 import _signing as v2_signing

from .conftest import Merchant, Server

SIGNERS = {"v1": v1_signing, "v2": v2_signing}


def state(server: Server, app_id: str) -> tuple[Any, ...]:
    """Everything the store holds for a merchant."""
    with sqlite3.connect(f"file:{server.db}?mode=ro", uri=True) as db:
        records = db.execute("SELECT * FROM records WHERE app_id = ? ORDER BY id", (app_id,)).fetchall()
        balances = db.execute("SELECT * FROM balances WHERE app_id = ? ORDER BY currency", (app_id,)).fetchall()
        keys = db.execute("SELECT * FROM idempotency WHERE app_id = ?", (app_id,)).fetchall()
        outbox = db.execute("SELECT id FROM outbox WHERE app_id = ?", (app_id,)).fetchall()
    return records, balances, keys, outbox


def body(merchant: Merchant, version: str, **overrides: Any) -> dict[str, Any]:
    """A valid, signed createCollection body, then the overrides applied (and not re-signed)."""
    fields: dict[str, Any] = {
        "appId": merchant.app_id,
        "timestamp": str(int(time.time() * 1000)),
        "mchOrderId": "BAD-1",
        "amount": 150000,
        "currency": "PHP",
        "country": "PH",
        "payMethod": "WALLET",
        "walletCode": "GCASH",
        "productName": "Plan",
        "notifyUrl": "https://merchant.example/notify",
    }
    fields["sign"] = SIGNERS[version].sign(fields, merchant.secret)
    fields.update(overrides)
    return fields


def resign(merchant: Merchant, version: str, fields: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in fields.items() if k != "sign"}
    return {**fields, "sign": SIGNERS[version].sign(fields, merchant.secret)}


Case = Callable[[Merchant, str], tuple[dict[str, Any], bytes]]
JSON = {"content-type": "application/json"}


def raw(headers: dict[str, str], content: bytes) -> tuple[dict[str, Any], bytes]:
    return headers, content


CASES: dict[str, tuple[Case, int, int]] = {
    # name: (request, HTTP status, envelope code)
    "malformed JSON": (lambda m, v: raw(JSON, b'{"appId": '), 400, 21002),
    "not an object": (lambda m, v: raw(JSON, b"[1, 2, 3]"), 400, 21002),
    "wrong content type": (
        lambda m, v: raw({"content-type": "text/plain"}, json.dumps(body(m, v)).encode()),
        400,
        21002,
    ),
    "form instead of JSON": (
        lambda m, v: raw({"content-type": "application/x-www-form-urlencoded"}, b"appId=x"),
        400,
        21002,
    ),
    "2 MiB body": (lambda m, v: raw(JSON, json.dumps(body(m, v, remark="x" * 2 * 1024 * 1024)).encode()), 413, 21002),
    "deep nesting": (lambda m, v: raw(JSON, b'{"appId": ' + b"[" * 5000 + b"]" * 5000 + b"}"), 400, 21002),
    "nesting past 64 levels": (lambda m, v: raw(JSON, json.dumps(body(m, v, payer=nested(70))).encode()), 400, 21002),
    "invalid UTF-8": (lambda m, v: raw(JSON, b'{"appId": "\xff\xfe"}'), 400, 21002),
    "unknown appId": (lambda m, v: raw(JSON, json.dumps(body(m, v, appId="app_nobody")).encode()), 200, 21003),
    "appId missing": (
        lambda m, v: raw(JSON, json.dumps({k: x for k, x in body(m, v).items() if k != "appId"}).encode()),
        200,
        21003,
    ),
    "appId not a string": (lambda m, v: raw(JSON, json.dumps(body(m, v, appId=12345)).encode()), 200, 21003),
    "missing sign": (
        lambda m, v: raw(JSON, json.dumps({k: x for k, x in body(m, v).items() if k != "sign"}).encode()),
        200,
        21001,
    ),
    "wrong sign": (lambda m, v: raw(JSON, json.dumps(body(m, v, amount=150001)).encode()), 200, 21001),
    "sign not a string": (lambda m, v: raw(JSON, json.dumps(body(m, v, sign=["a"])).encode()), 200, 21001),
    "malformed timestamp": (
        lambda m, v: raw(JSON, json.dumps(resign(m, v, body(m, v, timestamp="yesterday"))).encode()),
        200,
        21008,
    ),
    "stale timestamp": (
        lambda m, v: raw(
            JSON, json.dumps(resign(m, v, body(m, v, timestamp=str(int(time.time() * 1000) - 301_000)))).encode()
        ),
        200,
        21009,
    ),
    "future timestamp": (
        lambda m, v: raw(
            JSON, json.dumps(resign(m, v, body(m, v, timestamp=str(int(time.time() * 1000) + 301_000)))).encode()
        ),
        200,
        21009,
    ),
    "amount of the wrong type": (
        lambda m, v: raw(JSON, json.dumps(resign(m, v, body(m, v, amount="150000"))).encode()),
        200,
        21021,
    ),
    "amount zero": (lambda m, v: raw(JSON, json.dumps(resign(m, v, body(m, v, amount=0))).encode()), 200, 21021),
    "amount fractional": (
        lambda m, v: raw(JSON, json.dumps(resign(m, v, body(m, v, amount=1.5))).encode()),
        200,
        21021,
    ),
    "unknown wallet": (
        lambda m, v: raw(JSON, json.dumps(resign(m, v, body(m, v, walletCode="PAYPAL"))).encode()),
        200,
        21013,
    ),
    "unknown pay method": (
        lambda m, v: raw(JSON, json.dumps(resign(m, v, body(m, v, payMethod="CASH"))).encode()),
        200,
        21019,
    ),
    "required field missing": (
        lambda m, v: raw(
            JSON, json.dumps(resign(m, v, {k: x for k, x in body(m, v).items() if k != "productName"})).encode()
        ),
        200,
        21002,
    ),
    "field of the wrong type": (
        lambda m, v: raw(JSON, json.dumps(resign(m, v, body(m, v, productName=7))).encode()),
        200,
        21002,
    ),
}


def nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(depth):
        node = {"a": node}
    return node


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_its_answer_and_changes_nothing(
    server: Server, merchant: Merchant, models: dict[str, ApiModel], version: str, case: str
) -> None:
    build, status, code = CASES[case]
    headers, content = build(merchant, version)
    before = state(server, merchant.app_id)
    response = server.http.post(f"/{version}/collection/create", content=content, headers=headers)
    assert response.status_code == status, response.text
    envelope = response.json()
    assert envelope["code"] == code
    assert envelope["message"] == models[version].code(code).message
    signed = version == "v2" and status == 200 and code != 21003
    assert ("sign" in envelope) == signed
    if signed:
        assert v2_signing.verify(envelope, merchant.secret)
    assert state(server, merchant.app_id) == before


def test_v1_refuses_values_its_signature_cannot_tell_apart(server: Server, merchant: Merchant) -> None:
    before = state(server, merchant.app_id)
    fields = resign(merchant, "v1", body(merchant, "v1", notifyUrl="https://merchant.example/notify?a=1&b=2"))
    response = server.http.post("/v1/collection/create", json=fields)
    assert response.json()["code"] == 21002
    assert state(server, merchant.app_id) == before
    # v2's canonical JSON has no such ambiguity: the same value is fine there.
    fields = resign(merchant, "v2", body(merchant, "v2", notifyUrl="https://merchant.example/notify?a=1&b=2"))
    assert server.http.post("/v2/collection/create", json=fields).json()["code"] == 10000


def test_unknown_paths_and_methods(server: Server) -> None:
    assert server.http.post("/v2/no/such/operation", json={}).status_code == 404
    assert server.http.get("/v2/collection/create").status_code == 405
    assert server.http.post("/v3/collection/create", json={}).status_code == 404


def test_a_disabled_merchant_and_a_foreign_address(server: Server) -> None:
    blocked = server.merchant(ipAllowList=["203.0.113.7"])
    client = blocked.client("v2", max_retries=0)
    with pytest.raises(paygate_v2.MerchantIpForbiddenError):
        client.account.balance()
    disabled = server.merchant(enabled=False)
    with pytest.raises(paygate_v2.MerchantUnavailableError):
        disabled.client("v2").account.balance()


def test_the_connection_survives_garbage(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        for _ in range(3):
            assert http.post("/v2/collection/query", content=b"\x00" * 100, headers=JSON).status_code == 400
        assert http.get("/sandbox/clock").status_code == 200
