"""Authorized debit (v2) over real HTTP: link, the payer's answer, TOKEN debits, cancel and expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

import paygate_v2

from .conftest import Merchant, Server, eventually, start_server, stop_server

LINK: dict[str, Any] = {
    "payer_id": "PAYER-1",
    "wallet_code": "GCASH",
    "country": "PH",
    "notify_url": "https://merchant.example/notify",
    "max_amount": 500000,
    "valid_days": 30,
}
TOKEN_DEBIT: dict[str, Any] = {
    "currency": "PHP",
    "country": "PH",
    "pay_method": "TOKEN",
    "product_name": "Monthly plan",
    "notify_url": "https://merchant.example/notify",
}
LINK_EXPIRY_S = 30 * 60  # the simulator's default (Settings.link_expiry_ms)


def payer_answers(server: Server, token: str, answer: str) -> None:
    """The payer authorizes or declines, by the sandbox control. ValueError when refused."""
    response = server.http.post(f"/sandbox/tokens/{token}/{answer}")
    if response.status_code >= 300:
        raise ValueError(response.json()["error"])


def events(server: Server, app_id: str, prefix: str = "authorization.") -> list[dict[str, Any]]:
    return [n for n in server.notifications(app_id) if n["event"].startswith(prefix)]


def days_between(start: str, end: str) -> float:
    parse = lambda text: datetime.strptime(text, "%Y-%m-%d %H:%M:%S")  # noqa: E731
    return (parse(end) - parse(start)).total_seconds() / 86400


# Journeys -----------------------------------------------------------------------------------------


def test_link_authorize_debit_cancel(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2")
    link = client.authorizations.link(mch_auth_order_id="AUTH-1", **LINK)
    assert link.token_status.value == "PENDING" and link.mch_auth_order_id == "AUTH-1"
    assert link.auth_url == f"{server.url}/sandbox/authorize/{link.token}"
    pending = client.authorizations.query_token(mch_auth_order_id="AUTH-1", token=link.token)
    assert pending.token_status.value == "PENDING" and pending.expire_time == link.expire_time
    assert (pending.payer_id, pending.wallet_code.value, pending.country.value) == ("PAYER-1", "GCASH", "PH")
    assert pending.max_amount == 500000 and pending.authorize_time is None
    assert 0 < days_between(pending.create_time, pending.expire_time) * 86400 <= LINK_EXPIRY_S

    with pytest.raises(paygate_v2.InvalidAccessTokenError):  # not authorized yet
        client.collections.create(mch_order_id="TK-0", amount=150000, token=link.token, **TOKEN_DEBIT)

    payer_answers(server, link.token, "authorize")
    active = client.authorizations.query_token(mch_auth_order_id="AUTH-1")
    assert active.token_status.value == "ACTIVE" and active.authorize_time
    assert days_between(active.authorize_time, active.expire_time) == 30

    debit = client.collections.create(mch_order_id="TK-1", amount=150000, token=link.token, **TOKEN_DEBIT)
    assert debit.transaction_status.value == "PENDING" and debit.wallet_code.value == "GCASH"
    paid = eventually(
        lambda: (c := client.collections.query(mch_order_id="TK-1")).transaction_status.value == "COMPLETED" and c
    )
    assert paid.finish_time
    with pytest.raises(paygate_v2.AmountExceedsLimitError):  # over the token's maxAmount
        client.collections.create(mch_order_id="TK-2", amount=500001, token=link.token, **TOKEN_DEBIT)

    cancelled = client.authorizations.cancel_token(mch_auth_order_id="AUTH-1", token=link.token)
    assert cancelled.token_status.value == "CANCELLED" and cancelled.cancel_time
    assert cancelled.expire_time == active.expire_time
    assert client.authorizations.query_token(mch_auth_order_id="AUTH-1").token_status.value == "CANCELLED"
    with pytest.raises(paygate_v2.AlreadyPaidOrClosedError):
        client.authorizations.cancel_token(mch_auth_order_id="AUTH-1")
    with pytest.raises(paygate_v2.InvalidAccessTokenError):
        client.collections.create(mch_order_id="TK-3", amount=150000, token=link.token, **TOKEN_DEBIT)

    notes = eventually(lambda: len(events(server, merchant.app_id)) == 2 and events(server, merchant.app_id))
    assert [n["event"] for n in notes] == ["authorization.active", "authorization.cancelled"]
    first = notes[0]["payload"]
    assert first["token"] == link.token and first["tokenStatus"] == "ACTIVE"
    assert first["expireTime"] == active.expire_time and first["mchAuthOrderId"] == "AUTH-1"
    assert [n["event"] for n in server.notifications(merchant.app_id)] == [
        "authorization.active",
        "collection.completed",
        "authorization.cancelled",
    ]


def test_declined_token_fails_and_cannot_be_cancelled(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2")
    link = client.authorizations.link(mch_auth_order_id="AUTH-D", **LINK)
    payer_answers(server, link.token, "decline")
    assert client.authorizations.query_token(mch_auth_order_id="AUTH-D").token_status.value == "FAILED"
    with pytest.raises(paygate_v2.AlreadyPaidOrClosedError):
        client.authorizations.cancel_token(mch_auth_order_id="AUTH-D")
    with pytest.raises(paygate_v2.InvalidAccessTokenError):
        client.collections.create(mch_order_id="TK-D", amount=150000, token=link.token, **TOKEN_DEBIT)
    notes = eventually(lambda: events(server, merchant.app_id))
    assert [n["event"] for n in notes] == ["authorization.failed"]


def test_a_pending_token_cancels_and_its_link_stops_working(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2")
    link = client.authorizations.link(mch_auth_order_id="AUTH-P", **LINK)
    assert client.authorizations.cancel_token(mch_auth_order_id="AUTH-P").token_status.value == "CANCELLED"
    with pytest.raises(ValueError, match="CANCELLED"):
        payer_answers(server, link.token, "authorize")
    assert client.authorizations.query_token(mch_auth_order_id="AUTH-P").token_status.value == "CANCELLED"


def test_a_debit_in_flight_blocks_the_cancel(slow_server: Server) -> None:
    """21025: while a TOKEN collection is PENDING (the wallet has not taken it yet) the token stays."""
    merchant = slow_server.merchant()
    client = merchant.client("v2", max_retries=0)
    link = client.authorizations.link(mch_auth_order_id="AUTH-F", **LINK)
    payer_answers(slow_server, link.token, "authorize")
    client.collections.create(mch_order_id="TK-FLIGHT", amount=150000, token=link.token, **TOKEN_DEBIT)
    with pytest.raises(paygate_v2.CancelNotAllowedError):
        client.authorizations.cancel_token(mch_auth_order_id="AUTH-F")
    assert client.authorizations.query_token(mch_auth_order_id="AUTH-F").token_status.value == "ACTIVE"
    slow_server.sandbox("POST", "clock", json={"advanceSeconds": 61})
    slow_server.process_due()
    assert client.collections.query(mch_order_id="TK-FLIGHT").transaction_status.value == "COMPLETED"
    assert client.authorizations.cancel_token(mch_auth_order_id="AUTH-F").token_status.value == "CANCELLED"


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose debits take a minute of its clock, so one can be caught in flight."""
    running = start_server(tmp_path_factory.mktemp("slow-debits"), extra=("--processing-ms", "60000"))
    yield running
    stop_server(running)


# Refusals -----------------------------------------------------------------------------------------


def test_link_refusals(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2")
    with pytest.raises(paygate_v2.WalletCodeError):  # WeChat Pay offers no authorized debit
        client.authorizations.link(mch_auth_order_id="R-1", **{**LINK, "wallet_code": "WECHAT", "country": "CN"})
    with pytest.raises(paygate_v2.WalletCodeError):  # GCash does not serve Indonesia
        client.authorizations.link(mch_auth_order_id="R-2", **{**LINK, "country": "ID"})
    ph_closed = server.merchant(countries=["ID"]).client("v2")
    with pytest.raises(paygate_v2.CountryNotOpenedError):
        ph_closed.authorizations.link(mch_auth_order_id="R-3", **LINK)
    no_gcash = server.merchant(channels={"WalletCode": ["DANA"]}).client("v2")
    with pytest.raises(paygate_v2.MerchantChannelUnavailableError):
        no_gcash.authorizations.link(mch_auth_order_id="R-4", **LINK)
    client.authorizations.link(mch_auth_order_id="R-5", **LINK)
    with pytest.raises(paygate_v2.DuplicateMerchantOrderIdError):
        client.authorizations.link(mch_auth_order_id="R-5", **LINK)
    for refused in ("R-1", "R-2"):
        with pytest.raises(paygate_v2.TransactionNotFoundError):
            client.authorizations.query_token(mch_auth_order_id=refused)


def test_unknown_or_mismatched_tokens(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2")
    mine = client.authorizations.link(mch_auth_order_id="AUTH-M", **LINK)
    other = server.merchant().client("v2")
    theirs = other.authorizations.link(mch_auth_order_id="AUTH-M", **LINK)
    calls = (client.authorizations.query_token, client.authorizations.cancel_token)
    for call in calls:
        with pytest.raises(paygate_v2.TransactionNotFoundError):
            call(mch_auth_order_id="AUTH-NONE")
        with pytest.raises(paygate_v2.TransactionNotFoundError):  # the other merchant's token
            call(mch_auth_order_id="AUTH-M", token=theirs.token)
    assert client.authorizations.query_token(mch_auth_order_id="AUTH-M", token=mine.token).token == mine.token
    with pytest.raises(paygate_v2.InvalidAccessTokenError):  # nor can it debit another merchant's token
        other.collections.create(mch_order_id="TK-X", amount=150000, token=mine.token, **TOKEN_DEBIT)


# Expiry (its own server: it moves the clock) ------------------------------------------------------


@pytest.fixture(scope="module")
def clock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("token-expiry"))
    yield running
    stop_server(running)


def test_links_lapse_and_tokens_expire(clock_server: Server) -> None:
    server = clock_server
    merchant = server.merchant()
    client = merchant.client("v2", max_retries=0)

    def advance(seconds: float) -> None:
        server.sandbox("POST", "clock", json={"advanceSeconds": seconds})

    unused = client.authorizations.link(mch_auth_order_id="EXP-LINK", **LINK)
    used = client.authorizations.link(mch_auth_order_id="EXP-TOKEN", **{**LINK, "valid_days": 1})
    payer_answers(server, used.token, "authorize")
    advance(LINK_EXPIRY_S + 1)
    eventually(lambda: client.authorizations.query_token(mch_auth_order_id="EXP-LINK").token_status.value == "EXPIRED")
    assert client.authorizations.query_token(mch_auth_order_id="EXP-TOKEN").token_status.value == "ACTIVE"
    with pytest.raises(ValueError, match="EXPIRED"):  # the payer comes too late
        payer_answers(server, unused.token, "authorize")
    advance(86400)
    expired = eventually(
        lambda: (
            (t := client.authorizations.query_token(mch_auth_order_id="EXP-TOKEN")).token_status.value == "EXPIRED"
            and t
        )
    )
    assert expired.authorize_time and days_between(expired.authorize_time, expired.expire_time) == 1
    with pytest.raises(paygate_v2.AlreadyPaidOrClosedError):
        client.authorizations.cancel_token(mch_auth_order_id="EXP-TOKEN")
    with pytest.raises(paygate_v2.InvalidAccessTokenError):
        client.collections.create(mch_order_id="TK-E", amount=150000, token=used.token, **TOKEN_DEBIT)
    notes = eventually(lambda: len(events(server, merchant.app_id)) == 3 and events(server, merchant.app_id))
    assert [(n["event"], n["payload"]["token"]) for n in notes] == [
        ("authorization.active", used.token),
        ("authorization.expired", unused.token),
        ("authorization.expired", used.token),
    ]
