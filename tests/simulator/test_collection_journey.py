"""A merchant's collection journey, both versions, over real HTTP against `payspec serve`."""

from __future__ import annotations

import pytest

from .conftest import PAY_IN, Merchant, Server, eventually


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_create_pay_query_void(server: Server, merchant: Merchant, version: str) -> None:
    client = merchant.client(version)
    created = client.collections.create(mch_order_id=f"{version}-O1", **PAY_IN)
    assert created.transaction_status.value == "PENDING"
    assert str(created.pay_data.pay_url).startswith(server.url)
    server.sandbox("POST", f"transactions/{created.transaction_id}/pay")
    queried = client.collections.query(mch_order_id=f"{version}-O1")
    assert queried.transaction_status.value == "COMPLETED" and queried.finish_time
    voided = client.collections.void(mch_void_order_id=f"{version}-V1", transaction_id=created.transaction_id)
    assert voided.transaction_status.value == "VOIDED"
    assert client.collections.query(mch_order_id=f"{version}-O1").transaction_status.value == "VOIDED"
    events = eventually(lambda: [n["event"] for n in server.notifications(merchant.app_id)])
    assert events[:2] == ["collection.completed", "collection.voided"]
