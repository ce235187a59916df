"""Retries happen where a retry cannot pay twice, and nowhere else."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import httpx
import pytest

from .conftest import async_client, client, envelope, request_body

COLLECTION = {
    "transactionId": "d149b0a575e5344740b2d9698babcede1f68",
    "mchOrderId": "ORD1",
    "amount": 150000,
    "currency": "PHP",
    "country": "PH",
    "payMethod": "WALLET",
    "walletCode": "GCASH",
    "transactionStatus": "PENDING",
    "createTime": "2026-11-26 18:00:00",
    "expireTime": "2026-11-26 18:30:00",
}
CREATE = {
    "mch_order_id": "ORD1",
    "amount": 150000,
    "currency": "PHP",
    "country": "PH",
    "pay_method": "WALLET",
    "wallet_code": "GCASH",
    "product_name": "Plan",
    "notify_url": "https://merchant.example/notify",
}


class Flaky:
    """Fails the first `failures` attempts the given way, then answers `final`."""

    def __init__(self, sdk: ModuleType, failures: list[Any], final: httpx.Response) -> None:
        self.sdk, self.failures, self.final = sdk, list(failures), final
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request_body(request))
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure  # type: ignore[no-any-return]
        return self.final


def success(sdk: ModuleType) -> httpx.Response:
    return envelope(sdk, 10000, "Success", COLLECTION)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        "500",
        21000,
        21011,
        21020,
    ],
)
def test_queries_retry_on_transient_failures(sdk: ModuleType, failure: Any) -> None:
    if failure == "500":
        failure = httpx.Response(503, text="busy")
    elif isinstance(failure, int):
        failure = envelope(sdk, failure, "transient")
    gateway = Flaky(sdk, [failure, failure], success(sdk))
    with client(sdk, gateway, max_retries=2) as sync:
        assert sync.collections.query(mch_order_id="ORD1").mch_order_id == "ORD1"
    assert len(gateway.requests) == 3


def test_retries_stop_at_max_retries(sdk: ModuleType) -> None:
    gateway = Flaky(sdk, [httpx.ConnectError("down")] * 5, success(sdk))
    with client(sdk, gateway, max_retries=2) as sync:
        with pytest.raises(sdk.APIConnectionError):
            sync.collections.query(mch_order_id="ORD1")
    assert len(gateway.requests) == 3


def test_refusals_that_are_not_transient_are_not_retried(sdk: ModuleType) -> None:
    gateway = Flaky(sdk, [envelope(sdk, 21007, "Duplicate merchant order id")], success(sdk))
    with client(sdk, gateway, max_retries=3) as sync:
        with pytest.raises(sdk.DuplicateMerchantOrderIdError):
            sync.collections.create(**CREATE)
    assert len(gateway.requests) == 1


def test_calls_that_are_not_retry_safe_are_never_retried(sdk: ModuleType) -> None:
    gateway = Flaky(sdk, [httpx.ReadTimeout("slow")], success(sdk))
    with client(sdk, gateway, max_retries=3) as sync:
        with pytest.raises(sdk.APITimeoutError):
            sync.collections.close(mch_order_id="ORD1")
    assert len(gateway.requests) == 1


def test_a_retried_create_is_signed_afresh_with_the_same_ids(sdk: ModuleType) -> None:
    clock = iter(range(1_795_687_200, 1_795_687_300))
    gateway = Flaky(sdk, [httpx.ReadTimeout("slow"), httpx.Response(502, text="bad gateway")], success(sdk))
    with client(sdk, gateway, max_retries=2, clock=lambda: float(next(clock))) as sync:
        sync.collections.create(**CREATE)
    first, *rest = gateway.requests
    assert len(rest) == 2
    assert all(r["mchOrderId"] == first["mchOrderId"] for r in rest)
    assert len({r["timestamp"] for r in gateway.requests}) == 3
    assert len({r["sign"] for r in gateway.requests}) == 3
    if sdk.__name__ == "paygate_v2":
        assert len({r["idempotencyId"] for r in gateway.requests}) == 1
    else:
        assert all("idempotencyId" not in r for r in gateway.requests)


def test_v2_retry_that_meets_its_own_idempotency_id_returns_the_first_result() -> None:
    import paygate_v2 as sdk

    gateway = Flaky(
        sdk, [httpx.ReadTimeout("lost answer")], envelope(sdk, 21015, "Duplicate idempotencyId", COLLECTION)
    )
    with client(sdk, gateway, max_retries=1) as sync:
        created = sync.collections.create(**CREATE, idempotency_id="my-key-1")
    assert created.transaction_id == COLLECTION["transactionId"]
    assert [r["idempotencyId"] for r in gateway.requests] == ["my-key-1", "my-key-1"]
    # The same code on a first attempt is the caller's own reuse: an error.
    gateway = Flaky(sdk, [], envelope(sdk, 21015, "Duplicate idempotencyId", COLLECTION))
    with client(sdk, gateway) as sync:
        with pytest.raises(sdk.DuplicateIdempotencyIdError) as caught:
            sync.collections.create(**CREATE, idempotency_id="my-key-1")
    assert caught.value.data["transactionId"] == COLLECTION["transactionId"]


def test_async_client_retries_the_same_way(sdk: ModuleType) -> None:
    gateway = Flaky(sdk, [httpx.ConnectError("refused"), envelope(sdk, 21000, "busy")], success(sdk))

    async def run() -> str:
        async with async_client(sdk, gateway, max_retries=2) as asynchronous:
            return str((await asynchronous.collections.query(mch_order_id="ORD1")).mch_order_id)

    assert asyncio.run(run()) == "ORD1"
    assert len(gateway.requests) == 3


def test_back_off_grows_and_is_jittered(sdk: ModuleType) -> None:
    sync = sdk.Client("app_x", "secret", retry_delay=0.5, max_retry_delay=8.0)
    waits = [[sync._retry_wait(attempt) for _ in range(200)] for attempt in range(6)]
    for attempt, samples in enumerate(waits):
        ceiling = min(8.0, 0.5 * 2**attempt)
        assert all(0 <= w <= ceiling for w in samples)
        assert len(set(samples)) > 100, "jittered"
    assert max(waits[3]) > max(waits[0])
    sync.close()
