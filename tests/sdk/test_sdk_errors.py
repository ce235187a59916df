"""Each refusal code raises its own exception, under the families the spec gives it."""

from __future__ import annotations

import importlib
from types import ModuleType

import httpx
import pytest

from generator.model import ApiModel
from generator.render import pascal_case

from .conftest import client, envelope


def test_each_refusal_raises_its_exception(sdk: ModuleType, api: ApiModel) -> None:
    families = {f.name: f.codes for f in api.families}
    for code in api.result_codes():
        if code.value == api.success_code.value:
            continue
        data = {"transactionId": "T1"} if code.value == 21015 else None
        with client(sdk, lambda r, c=code, d=data: envelope(sdk, c.value, c.message, d), max_retries=0) as sync:
            with pytest.raises(sdk.APIError) as caught:
                sync.collections.query(mch_order_id="ORD1")
        error = caught.value
        assert type(error) is sdk.error_for_code(code.value)
        assert type(error).__name__.removesuffix("Error") in (
            pascal_case(code.name),
            pascal_case(code.name).removesuffix("Error"),
        )
        assert (error.code, error.message, error.data) == (code.value, code.message, data)
        assert error.response.status_code == 200
        for family, codes in families.items():
            base = getattr(sdk, pascal_case(family) + "Error")
            assert isinstance(error, base) == (code.value in codes), (code.value, family)


def test_an_unknown_code_is_still_an_api_error(sdk: ModuleType) -> None:
    with client(sdk, lambda r: envelope(sdk, 29999, "Something new"), max_retries=0) as sync:
        with pytest.raises(sdk.APIError) as caught:
            sync.collections.query(mch_order_id="ORD1")
    assert type(caught.value) is sdk.APIError and caught.value.code == 29999


def test_an_http_error_without_envelope(sdk: ModuleType) -> None:
    with client(sdk, lambda r: httpx.Response(404, text="not found"), max_retries=0) as sync:
        with pytest.raises(sdk.HTTPStatusError) as caught:
            sync.collections.query(mch_order_id="ORD1")
    assert caught.value.status_code == 404 and not caught.value.retryable


def test_v2_answers_must_be_signed(models: dict[str, ApiModel]) -> None:
    sdk = importlib.import_module("paygate_v2")
    data = {"transactionId": "T1"}
    for response in (
        envelope(sdk, 10000, "Success", data, sign=False),
        httpx.Response(200, json={"code": 10000, "message": "Success", "data": data, "sign": "0" * 64}),
    ):
        with client(sdk, lambda r, resp=response: resp, max_retries=0) as sync:
            with pytest.raises(sdk.ResponseSignatureError):
                sync.collections.query(mch_order_id="ORD1")
    # An unknown appId is the one answer the gateway cannot sign.
    with client(sdk, lambda r: envelope(sdk, 21003, "Request appId error", sign=False)) as sync:
        with pytest.raises(sdk.AppIdError):
            sync.collections.query(mch_order_id="ORD1")
    # Verification can be turned off (for a gateway in front of which the SDK is not the first check).
    with client(
        sdk, lambda r: envelope(sdk, 21006, "Merchant transaction not found", sign=False), verify_responses=False
    ) as sync:
        with pytest.raises(sdk.TransactionNotFoundError):
            sync.collections.query(mch_order_id="ORD1")


def test_the_secret_never_shows(sdk: ModuleType) -> None:
    secret = "sk_live_do_not_print_me"
    sync = sdk.Client("app_x", secret)
    assert secret not in repr(sync) and secret not in str(vars(sync).get("app_id"))
    sync.close()
