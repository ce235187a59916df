"""The server's request log: one JSON line per API request, and never a secret or a signature in it."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from paygate_v1 import _signing as v1_signing
from paygate_v2 import _signing as v2_signing

from .conftest import Merchant, Server

SIGNERS: dict[str, Any] = {"v1": v1_signing, "v2": v2_signing}
FIELDS = {"version", "operation", "appId", "code", "status", "ms"}
PAY_IN = {
    "amount": 150000,
    "currency": "PHP",
    "country": "PH",
    "payMethod": "WALLET",
    "walletCode": "GCASH",
    "productName": "Monthly plan",
    "notifyUrl": "https://merchant.example/notify",
}


def signed(merchant: Merchant, version: str, **fields: Any) -> dict[str, Any]:
    body = {"appId": merchant.app_id, "timestamp": str(int(time.time() * 1000)), **fields}
    body["sign"] = SIGNERS[version].sign(body, merchant.secret)
    return body


def request_lines(text: str) -> list[dict[str, Any]]:
    """The log's request lines (the server also logs its start-up, in plain text)."""
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if "operation" in entry:
                lines.append(entry)
    return lines


def test_one_json_line_per_request_without_secrets(server: Server, merchant: Merchant) -> None:
    start = server.log.stat().st_size
    sent: list[tuple[str, str, bytes]] = []  # (version, path, body)
    signatures: list[str] = []

    def call(version: str, path: str, body: dict[str, Any] | bytes) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        if isinstance(body, dict) and "sign" in body:
            signatures.append(body["sign"])
        sent.append((version, path, content))
        response = server.http.post(f"/{version}/{path}", content=content, headers={"Content-Type": "application/json"})
        answer = response.json()
        if isinstance(answer, dict) and "sign" in answer:
            signatures.append(answer["sign"])
        return response

    expected = [
        # (version, operation, appId, code, status)
        ("v2", "createCollection", merchant.app_id, 10000, 200),
        ("v2", "queryCollection", merchant.app_id, 10000, 200),
        ("v1", "queryCollection", merchant.app_id, 21006, 200),
        ("v2", "queryCollection", merchant.app_id, 21001, 200),
        ("v1", "createCollection", merchant.app_id, 21008, 200),
        ("v2", "queryCollection", None, 21003, 200),
        ("v1", "createCollection", None, 21002, 400),
    ]
    call("v2", "collection/create", signed(merchant, "v2", mchOrderId="LOG-1", **PAY_IN))
    call("v2", "collection/query", signed(merchant, "v2", mchOrderId="LOG-1"))
    call("v1", "collection/query", signed(merchant, "v1", mchOrderId="LOG-none"))
    forged = signed(merchant, "v2", mchOrderId="LOG-1")
    call("v2", "collection/query", {**forged, "sign": forged["sign"][::-1]})
    call("v1", "collection/create", signed(merchant, "v1", mchOrderId="LOG-2", **{**PAY_IN, "timestamp": "soon"}))
    call("v2", "collection/query", {**signed(merchant, "v2", mchOrderId="LOG-1"), "appId": "app_nobody_here"})
    call("v1", "collection/create", b"{not json")
    # The SDK's own calls are logged alike.
    client = merchant.client("v2")
    client.collections.query(mch_order_id="LOG-1")
    expected.append(("v2", "queryCollection", merchant.app_id, 10000, 200))

    time.sleep(0.2)  # the lines are written before each answer; this only covers slow disks
    with server.log.open("rb") as log:
        log.seek(start)
        text = log.read().decode("utf-8")
    lines = request_lines(text)
    assert [(e["version"], e["operation"], e["appId"], e["code"], e["status"]) for e in lines] == expected
    for entry in lines:
        assert set(entry) == FIELDS
        assert isinstance(entry["ms"], (int, float)) and 0 <= entry["ms"] < 30_000
    whole_log = server.log.read_text("utf-8")
    assert merchant.secret not in whole_log
    assert len(signatures) >= 6
    for signature in signatures:
        assert signature not in whole_log
    assert "sign" not in "".join(json.dumps(e) for e in lines)


def test_every_line_of_the_log_is_json_or_the_servers_own(server: Server) -> None:
    """Whatever else is in the log (start-up, warnings), request lines are whole JSON objects."""
    for line in server.log.read_text("utf-8").splitlines():
        if '"operation"' in line:
            entry = json.loads(line)
            assert set(entry) == FIELDS
