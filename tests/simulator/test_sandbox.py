"""The sandbox controls under /sandbox/: each one works, and bad input gets a one-line error, never a 500.

Also: spec/sandbox/openapi.yaml is a valid OpenAPI document whose paths are
exactly the routes the simulator serves, and whose examples fit its schemas.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route

import paygate_v1
import paygate_v2
from generator.config import Config
from generator.model import ApiModel
from simulator.app import SimulatorSettings, create_app
from simulator.clock import GATEWAY_ZONE, Clock
from simulator.runtime import Runtime, load_runtime
from simulator.sandbox import sandbox_routes
from simulator.store import Record, Store
from simulator.worker import DeliverySettings, Worker

from ..conftest import ROOT
from .conftest import NOTIFY, PAY_IN, PAYOUT, Merchant, Server, eventually, start_server, stop_server

SPEC = ROOT / "spec" / "sandbox" / "openapi.yaml"
API_ERRORS = (paygate_v1.APIError, paygate_v2.APIError)
CASHIER = {"amount": 89_900, "currency": "PHP", "country": "PH", "product_name": "Plan", "notify_url": NOTIFY}
LINK = {"payer_id": "PAYER-1", "wallet_code": "GCASH", "country": "PH", "notify_url": NOTIFY, "max_amount": 500000}


def code_of(call: Any, **arguments: Any) -> int:
    with pytest.raises(API_ERRORS) as error:
        call(**arguments)
    return int(error.value.code)


def refused(response: httpx.Response, status: int) -> str:
    """The one-line JSON error of a refused control."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "\n" not in response.text.strip()
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert "\n" not in body["error"]
    return str(body["error"])


def balance(server: Server, app_id: str, currency: str = "PHP") -> dict[str, int]:
    balances: dict[str, dict[str, int]] = server.sandbox("GET", f"merchants/{app_id}")["balances"]
    return balances.get(currency, {"available": 0, "frozen": 0, "pending": 0})


# The sandbox spec --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox_spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text("utf-8"))
    return document


@pytest.fixture(scope="module")
def runtime(config: Config) -> Runtime:
    return load_runtime(config)


def test_the_sandbox_spec_is_valid_openapi(sandbox_spec: dict[str, Any]) -> None:
    validate(sandbox_spec)
    assert sandbox_spec["openapi"].startswith("3.1")
    for path, item in sandbox_spec["paths"].items():
        assert path.startswith("/sandbox/")
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation.get("operationId") and operation.get("summary"), f"{method} {path}"
            assert operation.get("responses"), f"{method} {path}"


def test_every_route_is_in_the_spec_and_every_path_is_a_route(sandbox_spec: dict[str, Any], runtime: Runtime) -> None:
    store = Store(":memory:")
    try:
        clock = Clock(store)
        routes = sandbox_routes(runtime, store, clock, Worker(runtime, store, clock, DeliverySettings()))
    finally:
        store.close()
    served = {
        (method.lower(), r.path)
        for r in routes
        if isinstance(r, Route)
        for method in r.methods or ()
        if method != "HEAD"
    }
    documented = {
        (method, path) for path, item in sandbox_spec["paths"].items() for method in item if method != "parameters"
    }
    assert served == documented


def test_the_spec_stays_out_of_the_public_specs(models: dict[str, ApiModel]) -> None:
    for model in models.values():
        assert not any(path.startswith("/sandbox") for path in model.document["paths"])


def test_the_examples_fit_their_schemas(sandbox_spec: dict[str, Any]) -> None:
    registry: Registry[Any] = Registry().with_resource("urn:sandbox", DRAFT202012.create_resource(sandbox_spec))
    checked = 0

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = sandbox_spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def pointer(*parts: str) -> str:
        return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)

    def check(content: dict[str, Any], *at: str) -> None:
        nonlocal checked
        for media, body in content.items():
            if "schema" not in body:
                continue
            schema = {"$ref": f"urn:sandbox#/{pointer(*at, media, 'schema')}"}
            validator = Draft202012Validator(schema, registry=registry)
            examples = [resolve(e)["value"] for e in body.get("examples", {}).values()]
            examples += [body["example"]] if "example" in body else []
            for example in examples:
                errors = [e.message for e in validator.iter_errors(example)]
                assert not errors, f"{'/'.join(at)} {media}: {errors}"
                checked += 1

    for path, item in sandbox_spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if "requestBody" in operation:
                body = resolve(operation["requestBody"])
                check(body["content"], "paths", path, method, "requestBody", "content")
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[1]
                    check(resolve(response).get("content", {}), "components", "responses", name, "content")
                else:
                    check(response.get("content", {}), "paths", path, method, "responses", status, "content")
    assert checked > 20


def test_the_server_serves_the_spec(server: Server, sandbox_spec: dict[str, Any]) -> None:
    response = server.http.get("/sandbox/openapi.yaml")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(response.text) == sandbox_spec


# Merchants -----------------------------------------------------------------------------------------------


def test_create_read_and_update_a_merchant(server: Server) -> None:
    created = server.sandbox(
        "POST",
        "merchants",
        json={
            "countries": ["PH", "ID"],
            "channels": {"WalletCode": ["GCASH"], "BankCode": []},
            "limits": {"dailyCount": 5, "dailyVolume": {"PHP": 1_000_000}},
            "ipAllowList": ["127.0.0.1", "::1"],
            "balances": {"PHP": 5_000},
        },
    )
    app_id = created["appId"]
    assert created["appSecret"] and created["enabled"] is True
    assert created["countries"] == ["PH", "ID"] and created["channels"]["WalletCode"] == ["GCASH"]
    assert created["channels"]["TransferCode"]  # a list not named keeps every channel
    assert created["balances"]["PHP"] == {"available": 5_000, "frozen": 0, "pending": 0}

    read = server.sandbox("GET", f"merchants/{app_id}")
    assert "appSecret" not in read
    assert {k: v for k, v in created.items() if k != "appSecret"} == read

    updated = server.sandbox("POST", f"merchants/{app_id}", json={"enabled": False, "balances": {"PHP": 7_000}})
    assert updated["enabled"] is False and updated["balances"]["PHP"]["available"] == 7_000
    assert updated["countries"] == ["PH", "ID"] and updated["limits"] == created["limits"]
    updated = server.sandbox("POST", f"merchants/{app_id}", json={"channels": {"BankCode": ["BDO"]}})
    assert updated["channels"]["BankCode"] == ["BDO"] and updated["channels"]["WalletCode"] == ["GCASH"]


def test_a_disabled_merchant_is_refused_21004_until_enabled(server: Server) -> None:
    merchant = server.merchant()
    client = merchant.client("v2", max_retries=0)
    server.sandbox("POST", f"merchants/{merchant.app_id}", json={"enabled": False})
    assert code_of(client.collections.create, mch_order_id="D-1", **PAY_IN) == 21004
    server.sandbox("POST", f"merchants/{merchant.app_id}", json={"enabled": True})
    assert client.collections.create(mch_order_id="D-1", **PAY_IN).transaction_status.value == "PENDING"


def test_a_rate_limit_answers_21020(server: Server) -> None:
    merchant = server.merchant()
    server.sandbox("POST", f"merchants/{merchant.app_id}", json={"limits": {"requestsPerSecond": 1}})
    client = merchant.client("v1", max_retries=0)
    codes = []
    for n in range(4):
        try:
            client.collections.query(mch_order_id=f"nothing-{n}")
        except API_ERRORS as error:
            codes.append(int(error.code))
    assert 21020 in codes
    server.sandbox("POST", f"merchants/{merchant.app_id}", json={"limits": {}})
    assert code_of(client.collections.query, mch_order_id="nothing") == 21006


def test_an_allow_list_without_the_caller_answers_21016(server: Server) -> None:
    merchant = server.merchant(ipAllowList=["10.11.12.13"])
    client = merchant.client("v2", max_retries=0)
    assert code_of(client.collections.query, mch_order_id="nothing") == 21016
    server.sandbox("POST", f"merchants/{merchant.app_id}", json={"ipAllowList": ["10.11.12.13", "127.0.0.1"]})
    assert code_of(client.collections.query, mch_order_id="nothing") == 21006


def test_closed_countries_and_channels(server: Server) -> None:
    merchant = server.merchant()
    client = merchant.client("v2", max_retries=0)
    server.sandbox("POST", f"merchants/{merchant.app_id}", json={"channels": {"WalletCode": ["MAYA"]}})
    assert code_of(client.collections.create, mch_order_id="C-1", **PAY_IN) == 21005
    server.sandbox("POST", f"merchants/{merchant.app_id}", json={"countries": ["ID"]})
    assert code_of(client.collections.create, mch_order_id="C-2", **PAY_IN) == 21017


@pytest.mark.parametrize(
    "body",
    [
        {"appId": "has spaces"},
        {"appId": "x" * 33},
        {"appId": 7},
        {"appSecret": ""},
        {"appSecret": "s" * 129},
        {"appSecret": "tab\tinside"},
        {"enabled": "yes"},
        {"countries": "PH"},
        {"countries": ["PH", "XX"]},
        {"channels": ["GCASH"]},
        {"channels": {"Wallets": ["GCASH"]}},
        {"channels": {"WalletCode": ["PAYPAL"]}},
        {"ipAllowList": ["localhost"]},
        {"ipAllowList": "127.0.0.1"},
        {"limits": {"requestsPerSecond": 0}},
        {"limits": {"requestsPerMinute": 5}},
        {"limits": {"dailyVolume": {"PHP": -1}}},
        {"limits": []},
        {"balances": {"PHP": -5}},
        {"balances": {"PHP": 1.5}},
        {"balances": {"PHP": True}},
        {"balances": {"XYZ": 5}},
        {"balances": {"PHP": 10**30}},
        {"balance": {"PHP": 5}},
    ],
)
def test_bad_merchant_settings_are_refused(server: Server, body: dict[str, Any]) -> None:
    refused(server.http.post("/sandbox/merchants", json=body), 400)
    existing = server.merchant()
    if "appId" not in body and "appSecret" not in body:
        refused(server.http.post(f"/sandbox/merchants/{existing.app_id}", json=body), 400)


def test_the_merchant_id_and_secret_rules_are_the_specs(server: Server, models: dict[str, ApiModel]) -> None:
    app_id = models["v2"].schemas["AppId"]
    assert f"1 to {app_id['maxLength']} characters" in refused(
        server.http.post("/sandbox/merchants", json={"appId": "x" * (app_id["maxLength"] + 1)}), 400
    )
    assert "1 to 128 printable characters" in refused(
        server.http.post("/sandbox/merchants", json={"appSecret": "s" * 129}), 400
    )
    created = server.http.post("/sandbox/merchants", json={"appId": "x" * app_id["maxLength"], "appSecret": "s" * 128})
    assert created.status_code == 201, created.text


def test_unknown_merchants_are_404(server: Server) -> None:
    refused(server.http.get("/sandbox/merchants/app_nobody"), 404)
    refused(server.http.post("/sandbox/merchants/app_nobody", json={"enabled": False}), 404)
    refused(server.http.post("/sandbox/settle", json={"appId": "app_nobody"}), 404)


# Paying and failing pay-ins ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_pay_with_a_failed_code(server: Server, merchant: Merchant, version: str, models: dict[str, ApiModel]) -> None:
    client = merchant.client(version)
    created = client.collections.create(mch_order_id="P-1", **PAY_IN)
    paid = server.sandbox("POST", f"transactions/{created.transaction_id}/pay", json={"failedCode": -10004})
    assert paid["transactionStatus"] == "FAILED" and paid["failedCode"] == -10004
    assert paid["failedMessage"] == models[version].code(-10004).message
    queried = client.collections.query(mch_order_id="P-1")
    assert queried.transaction_status.value == "FAILED" and queried.failed_code == -10004


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("product", ["collection", "cashier"])
def test_fail_a_pending_pay_in(
    server: Server, merchant: Merchant, models: dict[str, ApiModel], version: str, product: str
) -> None:
    client = merchant.client(version)
    resource = client.collections if product == "collection" else client.cashier
    created = resource.create(mch_order_id="F-1", **(PAY_IN if product == "collection" else CASHIER))
    before = balance(server, merchant.app_id)
    last = models[version].failed_codes()[-1]
    failed = server.sandbox("POST", f"transactions/{created.transaction_id}/fail", json={"failedCode": last.value})
    assert (failed["transactionStatus"], failed["failedCode"], failed["failedMessage"]) == (
        "FAILED",
        last.value,
        last.message,
    )
    queried = resource.query(mch_order_id="F-1")
    assert queried.transaction_status.value == "FAILED" and queried.failed_code == last.value
    assert balance(server, merchant.app_id) == before
    (event,) = eventually(
        lambda: [n for n in server.notifications(merchant.app_id) if n["record_id"] == failed["transactionId"]]
    )
    assert event["event"] == f"{product}.failed" and event["payload"]["failedCode"] == last.value
    # Already final: nothing more to fail or pay.
    path = f"/sandbox/transactions/{created.transaction_id}"
    assert "FAILED" in refused(server.http.post(f"{path}/fail", json={"failedCode": -10000}), 400)
    refused(server.http.post(f"{path}/pay"), 400)


def test_every_failed_code_of_the_table_is_accepted(
    server: Server, merchant: Merchant, models: dict[str, ApiModel]
) -> None:
    client = merchant.client("v2")
    for n, code in enumerate(models["v2"].failed_codes()):
        created = client.collections.create(mch_order_id=f"E-{n}", **PAY_IN)
        failed = server.sandbox("POST", f"transactions/{created.transaction_id}/fail", json={"failedCode": code.value})
        assert failed["failedCode"] == code.value


@pytest.mark.parametrize(
    "body",
    [{}, {"failedCode": None}, {"failedCode": -1}, {"failedCode": 10000}, {"failedCode": -10000.5},
     {"failedCode": "-10001"}, {"failedCode": True}, {"failedCode": [-10001]}, {"failedCode": -10011},
     {"failedCode": -10001, "reason": "x"}],
)  # fmt: skip
def test_a_bad_failed_code_is_refused(server: Server, merchant: Merchant, body: dict[str, Any]) -> None:
    created = merchant.client("v2").collections.create(mch_order_id="B-1", **PAY_IN)
    refused(server.http.post(f"/sandbox/transactions/{created.transaction_id}/fail", json=body), 400)
    if body:
        refused(server.http.post(f"/sandbox/transactions/{created.transaction_id}/pay", json=body), 400)
    assert merchant.client("v2").collections.query(mch_order_id="B-1").transaction_status.value == "PENDING"


def test_unknown_transactions_are_404(server: Server) -> None:
    for action in ("pay", "fail"):
        refused(server.http.post(f"/sandbox/transactions/nothing/{action}", json={"failedCode": -10001}), 404)


def test_a_cashier_order_is_paid_with_a_channel_it_offers(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2")
    order = client.cashier.create(mch_order_id="K-1", **CASHIER)
    path = f"/sandbox/transactions/{order.transaction_id}/pay"
    refused(server.http.post(path, json={"walletCode": "DANA"}), 400)  # an Indonesian wallet
    refused(server.http.post(path, json={"walletCode": "GCASH", "bankCode": "BDO"}), 400)
    refused(server.http.post(path, json={"payMethod": "WALLET"}), 400)
    refused(server.http.post(path, json={"walletCode": 5}), 400)
    paid = server.sandbox("POST", path[len("/sandbox/") :], json={"walletCode": "GCASH"})
    assert paid["transactionStatus"] == "COMPLETED" and paid["walletCode"] == "GCASH" and paid["payMethod"]


def test_a_collection_keeps_its_channel(server: Server, merchant: Merchant) -> None:
    created = merchant.client("v1").collections.create(mch_order_id="W-1", **PAY_IN)
    path = f"/sandbox/transactions/{created.transaction_id}/pay"
    refused(server.http.post(path, json={"walletCode": "MAYA"}), 400)
    paid = server.sandbox("POST", path[len("/sandbox/") :], json={"walletCode": "GCASH"})
    assert paid["transactionStatus"] == "COMPLETED" and paid["walletCode"] == "GCASH"


# Failing payouts and refunds -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_fail_a_pending_payout_gives_the_money_back(server: Server, models: dict[str, ApiModel], version: str) -> None:
    merchant = server.merchant(balances={"PHP": 1_000_000})
    client = merchant.client(version, max_retries=0)
    payout = client.disbursements.create(mch_order_id="PO-1", **PAYOUT)
    assert balance(server, merchant.app_id)["frozen"] == PAYOUT["amount"]
    failed = server.sandbox("POST", f"transactions/{payout.transaction_id}/fail", json={"failedCode": -10005})
    assert (failed["transactionStatus"], failed["failedCode"]) == ("FAILED", -10005)
    assert failed["failedMessage"] == models[version].code(-10005).message
    assert balance(server, merchant.app_id) == {"available": 1_000_000, "frozen": 0, "pending": 0}
    queried = client.disbursements.query(mch_order_id="PO-1")
    assert queried.transaction_status.value == "FAILED" and queried.failed_code == -10005
    events = eventually(lambda: [n["event"] for n in server.notifications(merchant.app_id)])
    assert events == ["disbursement.failed"]


def test_fail_a_processing_refund(server: Server) -> None:
    merchant = server.merchant(balances={"PHP": 1_000_000})
    client = merchant.client("v2", max_retries=0)
    paid = client.collections.create(mch_order_id="O-1", **PAY_IN)
    server.sandbox("POST", f"transactions/{paid.transaction_id}/pay")
    refund = client.refunds.create(
        mch_refund_order_id="R-1", transaction_id=paid.transaction_id, amount=50_000, notify_url=NOTIFY
    )
    assert refund.refund_status.value == "PROCESSING"
    failed = server.sandbox("POST", f"transactions/{refund.refund_id}/fail", json={"failedCode": -10010})
    assert (failed["refundStatus"], failed["failedCode"]) == ("FAILED", -10010)
    assert balance(server, merchant.app_id)["available"] == 1_000_000
    assert balance(server, merchant.app_id)["frozen"] == 0
    assert client.collections.query(mch_order_id="O-1").refunded_amount == 0


def test_a_finished_payout_cannot_be_failed(server: Server) -> None:
    merchant = server.merchant(balances={"PHP": 1_000_000})
    client = merchant.client("v2", max_retries=0)
    payout = client.disbursements.create(mch_order_id="PO-2", **PAYOUT)
    eventually(lambda: client.disbursements.query(mch_order_id="PO-2").transaction_status.value == "COMPLETED")
    refused(server.http.post(f"/sandbox/transactions/{payout.transaction_id}/fail", json={"failedCode": -10001}), 400)
    refused(server.http.post(f"/sandbox/transactions/{payout.transaction_id}/pay"), 404)  # not a pay-in


# Authorized-debit tokens ---------------------------------------------------------------------------------


def test_authorize_and_decline_tokens(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2", max_retries=0)
    authorized = client.authorizations.link(mch_auth_order_id="A-1", **LINK)
    declined = client.authorizations.link(mch_auth_order_id="A-2", **LINK)

    page = server.http.get(f"/sandbox/authorize/{authorized.token}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"/sandbox/tokens/{authorized.token}/authorize" in page.text and "Decline" in page.text
    assert "PAYER-1" in page.text and "5,000.00 PHP" in page.text

    answer = server.sandbox("POST", f"tokens/{authorized.token}/authorize")
    assert answer["tokenStatus"] == "ACTIVE" and answer["authorizeTime"]
    assert client.authorizations.query_token(mch_auth_order_id="A-1").token_status.value == "ACTIVE"
    # The page's own button: a form post, answered with a page.
    form = server.http.post(f"/sandbox/tokens/{declined.token}/decline", data={"via": "page"})
    assert form.status_code == 200 and form.headers["content-type"].startswith("text/html") and "FAILED" in form.text
    assert client.authorizations.query_token(mch_auth_order_id="A-2").token_status.value == "FAILED"
    assert "<form" not in server.http.get(f"/sandbox/authorize/{declined.token}").text

    for token in (authorized.token, declined.token):
        for action in ("authorize", "decline"):
            refused(server.http.post(f"/sandbox/tokens/{token}/{action}"), 400)
    for action in ("authorize", "decline"):
        refused(server.http.post(f"/sandbox/tokens/tk_nothing/{action}"), 404)
    refused(server.http.get("/sandbox/authorize/tk_nothing"), 404)
    refused(server.http.post(f"/sandbox/tokens/{authorized.token}/authorize", content=b"[1]"), 400)


# Files -----------------------------------------------------------------------------------------------------


def test_a_reconciliation_link_serves_its_csv(server: Server, merchant: Merchant) -> None:
    now_ms = server.sandbox("GET", "clock")["nowMs"]
    yesterday = (datetime.fromtimestamp(now_ms / 1000, GATEWAY_ZONE) - timedelta(days=1)).strftime("%Y-%m-%d")
    client = merchant.client("v2", max_retries=0)
    content = client.account.reconciliation(date=yesterday, type="PAY_IN")
    link = client.account.reconciliation(date=yesterday, type="PAY_IN", delivery="LINK")
    response = httpx.get(link.download_url)
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text == content.content
    assert response.headers["content-disposition"] == f'attachment; filename="{link.file_name}"'
    refused(server.http.get("/sandbox/files/not-a-link"), 404)


# Pages -----------------------------------------------------------------------------------------------------


def test_the_checkout_page_pays(server: Server, merchant: Merchant) -> None:
    created = merchant.client("v2").collections.create(mch_order_id="H-1", **PAY_IN)
    page = httpx.get(created.pay_data.pay_url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "H-1" in page.text and "1,500.00 PHP" in page.text and merchant.app_id in page.text
    assert 'value="pay"' in page.text and 'value="fail"' in page.text
    assert "http" not in page.text.split("<body>", 1)[1]  # no external asset, no absolute link
    assert "script" not in page.text.lower()
    answer = server.http.post(f"/sandbox/checkout/{created.transaction_id}", data={"action": "pay"})
    assert answer.status_code == 200 and "COMPLETED" in answer.text
    assert merchant.client("v2").collections.query(mch_order_id="H-1").transaction_status.value == "COMPLETED"
    assert 'value="pay"' not in server.http.get(f"/sandbox/checkout/{created.transaction_id}").text


def test_the_checkout_page_of_a_cashier_order_offers_its_channels_and_fails(
    server: Server, merchant: Merchant, models: dict[str, ApiModel]
) -> None:
    client = merchant.client("v1")
    order = client.cashier.create(mch_order_id="H-2", **CASHIER)
    page = httpx.get(order.cashier_url).text
    assert 'value="WALLET:GCASH"' in page and "DANA" not in page
    for code in models["v1"].failed_codes():
        assert f'value="{code.value}"' in page
    target = f"/sandbox/checkout/{order.transaction_id}"
    refused(server.http.post(target, data={"action": "refund"}), 400)
    refused(server.http.post(target, data={"action": "pay", "channel": "WALLET:DANA"}), 400)
    refused(server.http.post(target, data={"action": "fail", "failedCode": "-1"}), 400)
    refused(server.http.post(target, data={"action": "fail"}), 400)
    answer = server.http.post(target, data={"action": "fail", "failedCode": "-10007"})
    assert answer.status_code == 200 and "FAILED" in answer.text and "-10007" in answer.text
    assert client.cashier.query(mch_order_id="H-2").failed_code == -10007


def test_the_checkout_page_of_a_cashier_order_pays_with_the_chosen_channel(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2")
    order = client.cashier.create(mch_order_id="H-3", **CASHIER)
    answer = server.http.post(
        f"/sandbox/checkout/{order.transaction_id}", data={"action": "pay", "channel": "WALLET:MAYA"}
    )
    assert answer.status_code == 200 and "COMPLETED" in answer.text
    queried = client.cashier.query(mch_order_id="H-3")
    assert queried.wallet_code.value == "MAYA" and queried.pay_method.value == "WALLET"


def test_pages_escape_what_they_echo(config: Config) -> None:
    """In process, with records no API call could create: every value on a page is escaped."""
    app = create_app(SimulatorSettings(db=":memory:", run_worker=False))
    nasty = '<script>alert("x")</script>&'
    store: Store = app.state.store
    with store.write() as tx:
        for kind, record_id, data in (
            ("cashier", "tx-nasty", {"mchOrderId": nasty, "transactionStatus": "PENDING", "country": "PH"}),
            ("token", "tk-nasty", {"mchAuthOrderId": nasty, "payerId": nasty, "walletCode": nasty,
                                   "country": nasty, "tokenStatus": "PENDING", "maxAmount": 100}),
        ):  # fmt: skip
            common = {"app_id": nasty, "status": "PENDING", "day": "2026-11-26", "created_ms": 0, "version": "v2"}
            tx.insert(Record(id=record_id, kind=kind, ref=record_id, data=data, amount=100, currency="PHP", **common))

    async def visit() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
            paths = ("/sandbox/checkout/tx-nasty", "/sandbox/authorize/tk-nasty", "/sandbox/checkout/nothing")
            return [await http.get(path) for path in paths]

    try:
        *pages, missing = asyncio.run(visit())
    finally:
        store.close()
    for page in pages:
        assert page.status_code == 200, page.text
        assert "<script>" not in page.text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
    refused(missing, 404)


# Settlement, the clock, the worker, notifications --------------------------------------------------------


def test_settle_moves_pending_to_available(server: Server) -> None:
    merchant = server.merchant(balances={"PHP": 0})
    created = merchant.client("v2").collections.create(mch_order_id="S-1", **PAY_IN)
    server.sandbox("POST", f"transactions/{created.transaction_id}/pay")
    assert balance(server, merchant.app_id) == {"available": 0, "frozen": 0, "pending": 150000}
    settled = server.sandbox("POST", "settle", json={"appId": merchant.app_id})
    assert settled["settled"] == 1
    assert balance(server, merchant.app_id) == {"available": 150000, "frozen": 0, "pending": 0}
    assert server.sandbox("POST", "settle", json={"appId": merchant.app_id})["settled"] == 0


@pytest.mark.parametrize(
    "body", [{"date": "2026-13-01"}, {"date": "2026-1-5"}, {"date": 20261125}, {"appId": 5}, {"day": "2026-11-25"}]
)
def test_bad_settlements_are_refused(server: Server, body: dict[str, Any]) -> None:
    refused(server.http.post("/sandbox/settle", json=body), 400)


def test_the_clock_reads_and_moves(server: Server) -> None:
    now = server.sandbox("GET", "clock")["nowMs"]
    assert abs(now - time.time() * 1000) < 600_000
    moved = server.sandbox("POST", "clock", json={"advanceSeconds": 30})["nowMs"]
    back = server.sandbox("POST", "clock", json={"advanceSeconds": -30})["nowMs"]
    assert moved - now >= 30_000 and back - moved < 0


@pytest.mark.parametrize(
    "content",
    [b'{"advanceSeconds": "60"}', b'{"advanceSeconds": true}', b'{"advanceSeconds": NaN}',
     b'{"advanceSeconds": Infinity}', b'{"advanceSeconds": 1e300}', b'{"advanceSeconds": -1e12}',
     b'{"advanceSeconds": 999999999999}', b'{"advance": 60}'],
)  # fmt: skip
def test_bad_clock_moves_are_refused(server: Server, content: bytes) -> None:
    before = server.sandbox("GET", "clock")["nowMs"]
    refused(server.http.post("/sandbox/clock", content=content, headers={"Content-Type": "application/json"}), 400)
    assert server.sandbox("GET", "clock")["nowMs"] - before < 60_000


def test_process_and_notifications(server: Server, merchant: Merchant) -> None:
    assert isinstance(server.sandbox("POST", "process")["finished"], int)
    created = merchant.client("v1").collections.create(mch_order_id="N-1", **PAY_IN)
    server.sandbox("POST", f"transactions/{created.transaction_id}/pay")
    (queued,) = server.notifications(merchant.app_id)
    assert queued["event"] == "collection.completed" and queued["url"] == NOTIFY
    assert queued["payload"]["transactionId"] == created.transaction_id and "sign" not in queued["payload"]
    others = server.sandbox("GET", "notifications")
    assert any(n["id"] == queued["id"] for n in others)


# Bad input to every control: one line of JSON, never a 500 ------------------------------------------------

CONTROLS = [
    ("POST", "/sandbox/merchants"),
    ("POST", "/sandbox/merchants/{app}"),
    ("POST", "/sandbox/transactions/{tx}/pay"),
    ("POST", "/sandbox/transactions/{tx}/fail"),
    ("POST", "/sandbox/tokens/{token}/authorize"),
    ("POST", "/sandbox/tokens/{token}/decline"),
    ("POST", "/sandbox/checkout/{tx}"),
    ("POST", "/sandbox/settle"),
    ("POST", "/sandbox/clock"),
]
BAD_BODIES = {
    "not JSON": (b"{appId:", "application/json"),
    "a JSON array": (b"[1, 2]", "application/json"),
    "a JSON string": (b'"x"', "application/json"),
    "invalid UTF-8": (b'{"a": "\xff\xfe"}', "application/json"),
    "deeply nested": (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json"),
    "an unknown field": (b'{"surprise": 1}', "application/json"),
    "a broken form": (b"action=pay&&=&%zz", "application/x-www-form-urlencoded"),
    "over 1 MiB": (b'{"a": "' + b"x" * (1024 * 1024 + 10) + b'"}', "application/json"),
}


@pytest.fixture(scope="module")
def targets(server: Server) -> dict[str, str]:
    """Ids that exist, so that bad bodies are judged on the body, not refused for the id."""
    merchant = server.merchant()
    client = merchant.client("v2")
    created = client.collections.create(mch_order_id="BAD-1", **PAY_IN)
    token = client.authorizations.link(mch_auth_order_id="BAD-A", **LINK).token
    return {"app": merchant.app_id, "tx": created.transaction_id, "token": token}


@pytest.mark.parametrize("control", CONTROLS, ids=[f"{m} {p}" for m, p in CONTROLS])
@pytest.mark.parametrize("bad", list(BAD_BODIES))
def test_bad_bodies_get_one_line_errors(
    server: Server, targets: dict[str, str], control: tuple[str, str], bad: str
) -> None:
    method, path = control
    content, kind = BAD_BODIES[bad]
    response = server.http.request(method, path.format(**targets), content=content, headers={"Content-Type": kind})
    refused(response, 413 if bad == "over 1 MiB" else 400)


@pytest.mark.parametrize(
    "path",
    ["/sandbox/checkout/%00", "/sandbox/authorize/..%2F..", "/sandbox/files/%FF%FE", "/sandbox/merchants/%20",
     "/sandbox/checkout/" + "x" * 5000, "/sandbox/notifications?appId=%00", "/sandbox/files/" + "é" * 10],
)  # fmt: skip
def test_odd_paths_are_never_a_500(server: Server, path: str) -> None:
    response = server.http.get(path)
    assert response.status_code in (200, 404), response.text
    if response.status_code == 404 and response.headers.get("content-type", "").startswith("application/json"):
        refused(response, 404)


# On a server of our own, whose clock the tests move ------------------------------------------------------


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("sandbox"))
    yield running
    stop_server(running)


def test_a_file_link_expires_with_the_clock(own_server: Server) -> None:
    merchant = own_server.merchant(countries=["PH"])
    now_ms = own_server.sandbox("GET", "clock")["nowMs"]
    yesterday = (datetime.fromtimestamp(now_ms / 1000, GATEWAY_ZONE) - timedelta(days=1)).strftime("%Y-%m-%d")
    link = merchant.client("v1", max_retries=0).account.reconciliation(date=yesterday, type="PAYOUT", delivery="LINK")
    assert httpx.get(link.download_url).status_code == 200
    expires = datetime.strptime(link.expire_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=GATEWAY_ZONE).timestamp()
    own_server.sandbox("POST", "clock", json={"advanceSeconds": expires - now_ms / 1000 + 1})
    refused(httpx.get(link.download_url), 404)


def test_the_clock_stays_within_bounds(own_server: Server) -> None:
    now = own_server.sandbox("GET", "clock")["nowMs"]
    refused(own_server.http.post("/sandbox/clock", json={"advanceSeconds": -now / 1000 - 1}), 400)
    refused(own_server.http.post("/sandbox/clock", json={"advanceSeconds": 200 * 365 * 86400}), 400)
    tomorrow = own_server.sandbox("POST", "clock", json={"advanceSeconds": 86400})["nowMs"]
    assert tomorrow - now >= 86_400_000
    # Business time moved; signatures' timestamps stay on real time: a client on its own clock
    # still gets through, and one that signs with the moved clock is stale.
    merchant = own_server.merchant()
    assert code_of(merchant.client("v2", max_retries=0).collections.query, mch_order_id="x") == 21006
    offset = tomorrow / 1000 - time.time()
    follower = merchant.client("v2", max_retries=0, clock=lambda: time.time() + offset)
    assert code_of(follower.collections.query, mch_order_id="x") == 21009


def test_the_sandbox_never_logs_a_secret(own_server: Server) -> None:
    merchant = own_server.merchant(appSecret="sk_sandbox_never_in_the_log_0123")
    own_server.sandbox("POST", f"merchants/{merchant.app_id}", json={"enabled": False})
    own_server.http.post("/sandbox/merchants", content=b"{broken")
    assert "sk_sandbox_never_in_the_log_0123" not in own_server.log.read_text("utf-8")
    assert json.dumps(merchant.secret) not in own_server.log.read_text("utf-8")


def test_the_reference_is_served_at_docs(server: Server) -> None:
    for path in ("/docs", "/docs/v2", "/docs/v1"):
        page = server.http.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "createCollection" in page.text
    assert "createSplit" in server.http.get("/docs").text  # the current version
    assert "createSplit" not in server.http.get("/docs/v1").text
    assert server.http.get("/docs/v9").status_code == 404
