"""What the fuzzer's signing hook hides, tested on purpose over HTTP: every operation of both versions.

The hook signs every generated request with a fresh timestamp, so fuzzing
never sends a missing or wrong signature, a stale or malformed timestamp, or
a replayed idempotencyId. These tests do, starting from each operation's own
request example.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

import paygate_v2
from generator.model import ApiModel, Operation

from ..simulator.conftest import Merchant, Server, start_server, stop_server


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("hidden"))
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def merchant(gateway: Server, models: dict[str, ApiModel]) -> Merchant:
    return gateway.merchant(balances={c: 10**10 for c in models["v2"].schemas["Currency"]["enum"]})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "operation_id" in metafunc.fixturenames:
        from generator.config import find_config
        from generator.loader import load_published

        config = find_config()
        pairs = []
        for version in config.versions:
            model = load_published(config.output / "spec" / version.name / "openapi.json", version.name)
            pairs += [(version.name, op.operation_id) for op in model.operations]
        metafunc.parametrize(("version", "operation_id"), pairs)


def send(gateway: Server, op: Operation, body: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    if files:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        response = gateway.http.post(op.path, data=form, files={k: ("proof.pdf", v) for k, v in files.items()})
    else:
        response = gateway.http.post(op.path, json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def example(
    model: ApiModel, op: Operation, merchant: Merchant, *, timestamp_ms: int | None = None
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The operation's request example, for this merchant, at `timestamp_ms` (default now), unsigned."""
    scheme = model.signature
    body = {k: v for k, v in op.request_examples[0].value.items() if k != scheme.field}
    body[scheme.app_id_field] = merchant.app_id
    body[scheme.timestamp_field] = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    files = {name: str(body.pop(name)).encode() for name in model.file_fields(op.request_schema) if name in body}
    return body, files


def signed(model: ApiModel, body: dict[str, Any], files: dict[str, bytes], secret: str) -> dict[str, Any]:
    signing = importlib.import_module(f"paygate_{model.name}._signing")
    digests = {name: signing.file_digest(content) for name, content in files.items()}
    form = {k: v if isinstance(v, str) or not files else json.dumps(v) for k, v in body.items()}
    return {**body, model.signature.field: signing.sign({**form, **digests}, secret)}


def answers(model: ApiModel, merchant: Merchant, envelope: dict[str, Any], code: int) -> None:
    assert envelope["code"] == code, envelope
    assert envelope["message"] == model.code(code).message
    if model.signature.signs_responses:
        signing = importlib.import_module(f"paygate_{model.name}._signing")
        assert signing.verify(envelope, merchant.secret)


def test_missing_sign(
    gateway: Server, merchant: Merchant, models: dict[str, ApiModel], version: str, operation_id: str
) -> None:
    model = models[version]
    op = model.operation(operation_id)
    body, files = example(model, op, merchant)
    answers(model, merchant, send(gateway, op, body, files), 21001)


def test_wrong_sign(
    gateway: Server, merchant: Merchant, models: dict[str, ApiModel], version: str, operation_id: str
) -> None:
    model = models[version]
    op = model.operation(operation_id)
    body, files = example(model, op, merchant)
    answers(model, merchant, send(gateway, op, signed(model, body, files, merchant.secret + "x"), files), 21001)


def test_stale_timestamp(
    gateway: Server, merchant: Merchant, models: dict[str, ApiModel], version: str, operation_id: str
) -> None:
    model = models[version]
    op = model.operation(operation_id)
    stale = int(time.time() * 1000) - (model.signature.tolerance_seconds + 5) * 1000
    body, files = example(model, op, merchant, timestamp_ms=stale)
    answers(model, merchant, send(gateway, op, signed(model, body, files, merchant.secret), files), 21009)


def test_malformed_timestamp(
    gateway: Server, merchant: Merchant, models: dict[str, ApiModel], version: str, operation_id: str
) -> None:
    model = models[version]
    op = model.operation(operation_id)
    body, files = example(model, op, merchant)
    body[model.signature.timestamp_field] = "2026-11-26T18:00:00Z"
    answers(model, merchant, send(gateway, op, signed(model, body, files, merchant.secret), files), 21008)


def test_replayed_idempotency_ids(gateway: Server, merchant: Merchant, models: dict[str, ApiModel]) -> None:
    """Every v2 money-moving create that succeeds once answers 21015, with what it created, to a replayed id."""
    client = merchant.client("v2", max_retries=0)

    pay_in = {
        "amount": 150000,
        "currency": "PHP",
        "country": "PH",
        "product_name": "Plan",
        "notify_url": "https://merchant.example/notify",
    }

    def paid(order: str) -> str:
        created = client.collections.create(mch_order_id=order, pay_method="QR", wallet_code="GCASH", **pay_in)
        gateway.sandbox("POST", f"transactions/{created.transaction_id}/pay")
        return str(created.transaction_id)

    creates = {
        "createCollection": lambda n, key: client.collections.create(
            mch_order_id=f"IC-{n}", pay_method="QR", wallet_code="GCASH", idempotency_id=key, **pay_in
        ),
        "createCashierOrder": lambda n, key: client.cashier.create(
            mch_order_id=f"ICS-{n}", idempotency_id=key, **pay_in
        ),
        "createDisbursement": lambda n, key: client.disbursements.create(
            mch_order_id=f"ID-{n}",
            amount=30000,
            currency="PHP",
            country="PH",
            transfer_code="INSTAPAY",
            bank_code="BDO",
            account_number="005370123456",
            account_name="Juan dela Cruz",
            notify_url="https://merchant.example/n",
            idempotency_id=key,
        ),
        "createRefund": lambda n, key: client.refunds.create(
            mch_refund_order_id=f"IR-{n}",
            transaction_id=refundable,
            amount=100,
            notify_url="https://merchant.example/n",
            idempotency_id=key,
        ),
        "voidCollection": lambda n, key: client.collections.void(
            mch_void_order_id=f"IV-{n}", transaction_id=voidable, idempotency_id=key
        ),
    }
    refundable, voidable = paid("IR-base"), paid("IV-base")
    idempotent = {op.operation_id for op in models["v2"].operations if op.idempotent}
    assert set(creates) <= idempotent
    for operation_id, create in creates.items():
        key = f"replay-{operation_id}"
        first = create(1, key)
        with pytest.raises(paygate_v2.DuplicateIdempotencyIdError) as replay:
            create(2, key)
        assert replay.value.data == first.model_dump(mode="json", by_alias=True, exclude_none=True), operation_id
