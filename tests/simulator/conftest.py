"""A real `payspec serve` process for the simulator's tests, and helpers to drive it over HTTP."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from generator.model import ApiModel

from ..conftest import ROOT

T = TypeVar("T")

# What most tests send: a GCash collection and an InstaPay payout in the Philippines (SDK arguments).
NOTIFY = "https://merchant.example/notify"
PAY_IN: dict[str, Any] = {
    "amount": 150000,
    "currency": "PHP",
    "country": "PH",
    "pay_method": "WALLET",
    "wallet_code": "GCASH",
    "product_name": "Monthly plan",
    "notify_url": NOTIFY,
}
PAYOUT: dict[str, Any] = {
    "amount": 250_000,
    "currency": "PHP",
    "country": "PH",
    "transfer_code": "INSTAPAY",
    "bank_code": "BDO",
    "account_number": "005370123456",
    "account_name": "Juan Dela Cruz",
    "notify_url": NOTIFY,
}


@dataclass
class Server:
    url: str
    db: Path
    process: subprocess.Popen[bytes]
    log: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"/sandbox/{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def merchant(self, **config: Any) -> Merchant:
        config.setdefault("appId", "app_" + secrets.token_hex(5))
        created = self.sandbox("POST", "merchants", json=config)
        return Merchant(self, created["appId"], created["appSecret"])

    def process_due(self) -> None:
        self.sandbox("POST", "process")

    def notifications(self, app_id: str) -> list[dict[str, Any]]:
        return self.sandbox("GET", "notifications", params={"appId": app_id})  # type: ignore[no-any-return]


@dataclass
class Merchant:
    server: Server
    app_id: str
    secret: str

    def client(self, version: str, **options: Any) -> Any:
        sdk = __import__(f"paygate_{version}")
        return sdk.Client(self.app_id, self.secret, base_url=self.server.url, **options)

    def async_client(self, version: str, **options: Any) -> Any:
        sdk = __import__(f"paygate_{version}")
        return sdk.AsyncClient(self.app_id, self.secret, base_url=self.server.url, **options)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: Path, *, workers: int = 1, db: Path | None = None, extra: tuple[str, ...] = ()) -> Server:
    port = free_port()
    db = db or folder / "sandbox.db"
    log = folder / f"server-{port}.log"
    command = [
        sys.executable, "-m", "generator", "serve", "--port", str(port), "--db", str(db),
        "--workers", str(workers), "--time-scale", "0.001", "--processing-ms", "300", *extra,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    server = Server(f"http://127.0.0.1:{port}", db, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"payspec serve exited:\n{log.read_text()}")
        try:
            if server.http.get("/sandbox/clock").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"payspec serve did not start:\n{log.read_text()}")


def stop_server(server: Server, *, kill: bool = False) -> None:
    server.http.close()
    if kill:
        server.process.kill()
    else:
        server.process.terminate()
    server.process.wait(timeout=30)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One simulator for the session: tests isolate themselves with their own merchants."""
    running = start_server(tmp_path_factory.mktemp("simulator"))
    yield running
    stop_server(running)


@pytest.fixture
def merchant(server: Server, models: dict[str, ApiModel]) -> Merchant:
    """A fresh merchant with every country and channel opened and money in every currency."""
    currencies = models["v2"].schemas["Currency"]["enum"]
    return server.merchant(balances={c: 100_000_000 for c in currencies})


def eventually(check: Callable[[], T], timeout: float = 15.0, interval: float = 0.05) -> T:
    """The first truthy result of `check`, polled until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "condition not reached in time"
            return result
        time.sleep(interval)
