"""The notification verifier refuses what it must and parses what it may."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from generator.model import ApiModel

from .conftest import SECRET

pytestmark = pytest.mark.reliability

NOW = 1_795_687_200.0


def example(api: ApiModel, key: str) -> dict[str, Any]:
    note = next(n for n in api.notifications if n.key == key)
    value = dict(note.examples[0].value)
    value.pop("sign", None)
    value.pop("timestamp", None)
    return value


def signed(sdk: ModuleType, payload: dict[str, Any], at: float = NOW) -> dict[str, Any]:
    return sdk.sign_notification(payload, SECRET, clock=lambda: at)  # type: ignore[no-any-return]


@pytest.fixture
def verifier(sdk: ModuleType) -> Any:
    return sdk.NotificationVerifier(SECRET, clock=lambda: NOW)


def test_every_notification_example_verifies_and_parses(sdk: ModuleType, api: ApiModel, verifier: Any) -> None:
    for note in api.notifications:
        payload = example(api, note.key)
        event = verifier.verify(json.dumps(signed(sdk, payload)).encode())
        assert type(event).__name__ == note.schema
        assert event.event_name.value == payload["eventName"]
    assert sdk.ACK == "SUCCESS"


def test_tampered_notifications_are_refused(sdk: ModuleType, api: ApiModel, verifier: Any) -> None:
    good = signed(sdk, example(api, "disbursementResult"))
    for tampered in (
        {**good, "amount": good["amount"] + 1},
        {**good, "transactionStatus": "COMPLETED"},
        {k: v for k, v in good.items() if k != "sign"},
        {**good, "sign": good["sign"].upper()},
        {**good, "extra": "field"},
    ):
        with pytest.raises(sdk.NotificationSignatureError):
            verifier.verify(tampered)
    with pytest.raises(sdk.NotificationSignatureError):
        sdk.NotificationVerifier("another secret", clock=lambda: NOW).verify(good)


def test_replayed_notifications_are_refused_in_v2(models: dict[str, ApiModel]) -> None:
    import paygate_v2 as sdk

    verifier = sdk.NotificationVerifier(SECRET, clock=lambda: NOW)
    payload = example(models["v2"], "refundResult")
    first = signed(sdk, payload)
    verifier.verify(first)
    with pytest.raises(sdk.ReplayedNotificationError):
        verifier.verify(dict(first))
    # A genuine redelivery is signed afresh, with a new timestamp: accepted.
    assert verifier.verify(signed(sdk, payload, at=NOW + 30)).refund_id == payload["refundId"]


def test_v1_cannot_tell_a_replay_from_a_redelivery(models: dict[str, ApiModel]) -> None:
    import paygate_v1 as sdk

    verifier = sdk.NotificationVerifier(SECRET)
    first = signed(sdk, example(models["v1"], "refundResult"))
    assert verifier.verify(first) == verifier.verify(dict(first))  # at least once: receivers stay idempotent


def test_stale_notifications_are_refused_in_v2(models: dict[str, ApiModel]) -> None:
    import paygate_v2 as sdk
    from paygate_v2 import _signing

    verifier = sdk.NotificationVerifier(SECRET, clock=lambda: NOW)
    payload = example(models["v2"], "collectionResult")
    for skew in (-301, 301, -3600):
        with pytest.raises(sdk.StaleNotificationError):
            verifier.verify(signed(sdk, payload, at=NOW + skew))
    assert verifier.verify(signed(sdk, payload, at=NOW - 299))
    malformed = {**payload, "timestamp": "soon"}
    malformed["sign"] = _signing.sign(malformed, SECRET)
    with pytest.raises(sdk.InvalidNotificationError):
        verifier.verify(malformed)


def test_garbage_and_unknown_events_are_refused(sdk: ModuleType, api: ApiModel, verifier: Any) -> None:
    for body in (b"not json", b"[1, 2]", "", b"\xff\xfe"):
        with pytest.raises(sdk.InvalidNotificationError):
            verifier.verify(body)
    unknown = signed(sdk, {**example(api, "refundResult"), "eventName": "refund.teleported"})
    with pytest.raises(sdk.UnknownEventError):
        verifier.verify(unknown)
    broken = signed(sdk, {**example(api, "refundResult"), "amount": "a lot"})
    with pytest.raises(sdk.InvalidNotificationError):
        verifier.verify(broken)
    assert issubclass(sdk.UnknownEventError, sdk.NotificationError)
