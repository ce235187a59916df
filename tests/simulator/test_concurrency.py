"""Races a gateway must win: one order per merchant id, and balances that never go negative.

Run against one worker and against `--workers 2`, where the racing requests
land in different processes sharing the SQLite file.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import paygate_v2

from .conftest import PAY_IN, PAYOUT, Server, start_server, stop_server

pytestmark = pytest.mark.reliability
COLLECTION = {**PAY_IN, "mch_order_id": "RACE-1"}


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def racing_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if request.param == 1:
        yield request.getfixturevalue("server")
        return
    running = start_server(tmp_path_factory.mktemp("workers"), workers=2)
    yield running
    stop_server(running)


def race(times: int, call: Callable[[int], Any], threads: int = 50) -> list[Any]:
    """Run `call(i)` `times` times across `threads` threads; each outcome or the exception raised."""

    def attempt(i: int) -> Any:
        try:
            return call(i)
        except paygate_v2.PaygateError as exc:
            return exc

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(attempt, range(times)))


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute(sql, args).fetchall()


def test_200_identical_creates_make_one_order(racing_server: Server) -> None:
    merchant = racing_server.merchant()
    clients = [merchant.client("v2", max_retries=0) for _ in range(10)]
    outcomes = race(200, lambda i: clients[i % 10].collections.create(**COLLECTION))
    kinds = Counter(type(o).__name__ for o in outcomes)
    assert kinds == {"Collection": 1, "DuplicateMerchantOrderIdError": 199}, kinds
    created = next(o for o in outcomes if isinstance(o, paygate_v2.models.Collection))
    stored = rows(racing_server.db, "SELECT id FROM records WHERE app_id = ? AND kind = 'collection'", merchant.app_id)
    assert stored == [(created.transaction_id,)]


def test_200_creates_with_one_idempotency_id_make_one_order(racing_server: Server) -> None:
    merchant = racing_server.merchant()
    clients = [merchant.client("v2", max_retries=0) for _ in range(10)]
    outcomes = race(
        200,
        lambda i: clients[i % 10].collections.create(
            **{**COLLECTION, "mch_order_id": f"K-{i}"}, idempotency_id="same-key"
        ),
    )
    winners = [o for o in outcomes if isinstance(o, paygate_v2.models.Collection)]
    losers = [o for o in outcomes if isinstance(o, paygate_v2.DuplicateIdempotencyIdError)]
    assert len(winners) == 1 and len(losers) == 199
    assert {loser.data["transactionId"] for loser in losers} == {winners[0].transaction_id}


def test_parallel_payouts_never_overdraw(racing_server: Server) -> None:
    merchant = racing_server.merchant(balances={"PHP": 1_000_000})
    clients = [merchant.client("v2", max_retries=0) for _ in range(10)]

    def payout(i: int) -> Any:
        return clients[i % 10].disbursements.create(mch_order_id=f"P-{i}", **{**PAYOUT, "amount": 30_000})

    outcomes = race(100, payout)
    accepted = [o for o in outcomes if isinstance(o, paygate_v2.models.Disbursement)]
    refused = [o for o in outcomes if isinstance(o, paygate_v2.MerchantBalanceInsufficientError)]
    assert len(accepted) == 1_000_000 // 30_000 and len(accepted) + len(refused) == 100, Counter(map(type, outcomes))
    ((available, frozen, pending),) = rows(
        racing_server.db,
        "SELECT available, frozen, pending FROM balances WHERE app_id = ? AND currency = 'PHP'",
        merchant.app_id,
    )
    ((paid_out,),) = rows(
        racing_server.db,
        "SELECT COALESCE(SUM(amount), 0) FROM records"
        " WHERE app_id = ? AND kind = 'disbursement' AND status = 'COMPLETED'",
        merchant.app_id,
    )
    # Every accepted payout's amount left `available` at once; the money adds up to what there was.
    assert available == 1_000_000 - 30_000 * len(accepted) >= 0
    assert available + frozen + paid_out == 1_000_000 and pending == 0


def test_racing_refunds_never_add_up_to_more_than_the_payment(racing_server: Server) -> None:
    """Threads keep refunding one payment while earlier refunds complete in the background."""
    merchant = racing_server.merchant(balances={"PHP": 10_000_000})
    client = merchant.client("v2", max_retries=0)
    created = client.collections.create(**{**COLLECTION, "mch_order_id": "REFUND-RACE", "pay_method": "QR"})
    racing_server.sandbox("POST", f"transactions/{created.transaction_id}/pay")
    clients = [merchant.client("v2", max_retries=0) for _ in range(10)]

    def refund(i: int) -> Any:
        return clients[i % 10].refunds.create(
            mch_refund_order_id=f"RR-{i}",
            transaction_id=created.transaction_id,
            amount=20_000,
            notify_url="https://merchant.example/notify",
        )

    outcomes: list[Any] = []
    for wave in range(8):
        outcomes += race(20, lambda i, wave=wave: refund(wave * 20 + i), threads=20)
        time.sleep(0.35)  # let the wave's refund finish (processing takes 300 ms) before the next
    racing_server.process_due()
    accepted = [o for o in outcomes if isinstance(o, paygate_v2.models.Refund)]
    assert 2 <= len(accepted) <= 150_000 // 20_000  # several waves got one in; none went past the payment
    refused = Counter(getattr(o, "code", None) for o in outcomes if not isinstance(o, paygate_v2.models.Refund))
    assert set(refused) <= {21406, 21409}, refused
    ((succeeded,),) = rows(
        racing_server.db,
        "SELECT COALESCE(SUM(amount), 0) FROM records WHERE kind = 'refund' AND status = 'SUCCESS' AND parent = ?",
        created.transaction_id,
    )
    assert succeeded <= 150_000
    assert client.collections.query(mch_order_id="REFUND-RACE").refunded_amount == succeeded


def test_a_merchant_changed_through_the_sandbox_is_seen_by_every_worker_at_once(racing_server: Server) -> None:
    """Workers keep the merchants they have read; a change made through any of them reaches all."""
    merchant = racing_server.merchant()
    clients = [merchant.client("v2", max_retries=0) for _ in range(10)]

    def create(i: int) -> Any:
        return clients[i % 10].collections.create(**{**COLLECTION, "mch_order_id": f"SEEN-{i}"})

    # Ten connections, spread over the workers, each of which now has the merchant read.
    assert all(isinstance(o, paygate_v2.models.Collection) for o in race(10, create, threads=10))
    racing_server.sandbox("POST", f"merchants/{merchant.app_id}", json={"enabled": False})
    refused = race(20, lambda i: create(100 + i), threads=10)
    assert all(isinstance(o, paygate_v2.MerchantUnavailableError) for o in refused), Counter(map(type, refused))
    racing_server.sandbox("POST", f"merchants/{merchant.app_id}", json={"enabled": True})
    accepted = race(20, lambda i: create(200 + i), threads=10)
    assert all(isinstance(o, paygate_v2.models.Collection) for o in accepted), Counter(map(type, accepted))
