"""Every operation of both versions, called through the generated sync and async clients.

The gateway here is an httpx mock transport; what it checks is the real
thing: the path, the request signature (by the independent reference
implementation), the envelope fields, and that the typed `data` comes back.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
from types import ModuleType
from typing import Any

import httpx
import pytest

from generator.emitters.python_sdk import Method, sdk_context
from generator.model import ApiModel

from ..test_signing_vectors import REFERENCE
from .conftest import APP_ID, SECRET, async_client, client, envelope


def methods(api: ApiModel) -> list[tuple[str, Method]]:
    context = sdk_context(api, f"paygate_{api.name}", "")
    return [(resource.attribute, method) for resource in context["resources"] for method in resource.methods]


def example_arguments(method: Method) -> dict[str, Any]:
    example = method.operation.request_examples[0].value
    arguments = {arg.name: example[arg.wire] for arg in method.arguments if arg.wire in example}
    # An example stands in for a file's bytes with text.
    arguments |= {arg.name: str(example[arg.wire]).encode() for arg in method.file_arguments if arg.wire in example}
    return arguments


def success_data(method: Method) -> Any:
    for example in method.operation.response_examples:
        if example.value.get("code") == 10000:
            return example.value["data"]
    raise AssertionError(f"{method.operation.operation_id} has no success example")


def signed_fields(request: httpx.Request, method: Method) -> dict[str, Any]:
    """The fields the gateway would verify, read back off the wire."""
    if method.file_arguments:
        boundary = request.headers["content-type"].split("boundary=")[1].encode()
        fields: dict[str, Any] = {}
        for part in request.content.split(b"--" + boundary)[1:-1]:
            head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
            name = head.split(b'name="')[1].split(b'"')[0].decode()
            fields[name] = hashlib.sha256(value).hexdigest() if b"filename=" in head else value.decode()
        return fields
    return json.loads(request.content)  # type: ignore[no-any-return]


def test_every_operation_has_a_sync_and_an_async_method(sdk: ModuleType, api: ApiModel) -> None:
    sync, asynchronous = sdk.Client(APP_ID, SECRET), sdk.AsyncClient(APP_ID, SECRET)
    found = 0
    for attribute, method in methods(api):
        sync_method = getattr(getattr(sync, attribute), method.name)
        async_method = getattr(getattr(asynchronous, attribute), method.name)
        assert not inspect.iscoroutinefunction(sync_method)
        assert inspect.iscoroutinefunction(async_method)
        assert method.operation.summary in (sync_method.__doc__ or "")
        found += 1
    assert found == len(api.operations)
    sync.close()
    asyncio.run(asynchronous.aclose())


def test_every_operation_round_trips_signed(sdk: ModuleType, api: ApiModel) -> None:
    reference = REFERENCE[api.name]
    for attribute, method in methods(api):
        seen: list[dict[str, Any]] = []

        def gateway(
            request: httpx.Request, method: Method = method, seen: list[dict[str, Any]] = seen
        ) -> httpx.Response:
            assert request.url.path == method.operation.path
            fields = signed_fields(request, method)
            assert fields["appId"] == APP_ID and len(fields["timestamp"]) == 13
            assert fields["sign"] == reference(fields, SECRET)[2], "request signature"
            seen.append(fields)
            return envelope(sdk, 10000, "Success", success_data(method))

        with client(sdk, gateway) as sync:
            result = getattr(getattr(sync, attribute), method.name)(**example_arguments(method))
        assert type(result).__name__ == method.data_model
        assert result.model_dump(mode="json", by_alias=True, exclude_none=True) == success_data(method)
        assert len(seen) == 1
        if method.operation.idempotent:
            assert len(seen[0]["idempotencyId"]) >= 16

        async def call(method: Method = method, attribute: str = attribute) -> Any:
            async with async_client(sdk, gateway) as asynchronous:
                return await getattr(getattr(asynchronous, attribute), method.name)(**example_arguments(method))

        assert asyncio.run(call()) == result


def test_arguments_are_checked_before_anything_is_sent(sdk: ModuleType) -> None:
    sent: list[httpx.Request] = []
    with client(sdk, lambda r: sent.append(r) or envelope(sdk, 10000, "Success")) as sync:
        with pytest.raises(sdk.InvalidRequestError) as caught:
            sync.collections.query(mch_order_id="has spaces and &k=v")
        with pytest.raises(ValueError):  # InvalidRequestError is a ValueError too
            sync.refunds.create(
                mch_refund_order_id="R1", transaction_id="T1", amount=0, notify_url="https://m.example/n"
            )
    assert not sent
    assert caught.value.errors and caught.value.errors[0]["loc"] == ("mchOrderId",)


def test_form_fields_are_text_and_signed_as_the_gateway_reads_them(sdk: ModuleType, api: ApiModel) -> None:
    uploads = [(a, m) for a, m in methods(api) if m.file_arguments]
    if api.name == "v1":
        assert not uploads
        return
    attribute, method = uploads[0]
    captured: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return envelope(sdk, 10000, "Success", success_data(method))

    with client(sdk, gateway) as sync:
        getattr(getattr(sync, attribute), method.name)(
            file=("agreement.pdf", b"%PDF-1.7 ...", "application/pdf"), relation_type="SUPPLIER"
        )
    fields = signed_fields(captured[0], method)
    assert fields["file"] == hashlib.sha256(b"%PDF-1.7 ...").hexdigest()
    assert fields["sign"] == REFERENCE[api.name](fields, SECRET)[2]
