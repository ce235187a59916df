"""Fixtures for the generated SDKs: the packages, and clients on an in-memory gateway."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
import pytest

from generator.model import ApiModel

SECRET = "sk_test_0123456789abcdef"
APP_ID = "app_test01"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(scope="session", params=["v1", "v2"])
def sdk(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(f"paygate_{request.param}")


@pytest.fixture
def api(sdk: ModuleType, models: dict[str, ApiModel]) -> ApiModel:
    return models[sdk.__name__.removeprefix("paygate_")]


def request_body(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)  # type: ignore[no-any-return]


def envelope(sdk: ModuleType, code: int, message: str, data: Any = None, *, sign: bool = True) -> httpx.Response:
    """A gateway answer, signed as the version's scheme says."""
    signing = importlib.import_module(f"{sdk.__name__}._signing")
    base_client = importlib.import_module(f"{sdk.__name__}._base_client")
    body: dict[str, Any] = {"code": code, "message": message, "data": data}
    if sign and base_client.SIGNS_RESPONSES:
        body["sign"] = signing.sign(body, SECRET)
    return httpx.Response(200, json=body)


def client(sdk: ModuleType, handler: Handler, **options: Any) -> Any:
    options.setdefault("retry_delay", 0.0)
    return sdk.Client(APP_ID, SECRET, transport=httpx.MockTransport(handler), **options)


def async_client(sdk: ModuleType, handler: Handler, **options: Any) -> Any:
    options.setdefault("retry_delay", 0.0)
    return sdk.AsyncClient(APP_ID, SECRET, transport=httpx.MockTransport(handler), **options)
