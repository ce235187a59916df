"""`kill -9` under load: every acknowledged order survives, and queued notifications still go out."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import paygate_v2

from .conftest import eventually, free_port, start_server, stop_server

pytestmark = pytest.mark.reliability


class Receiver:
    """A merchant's notify endpoint that can be down (refusing with 503) and come back."""

    def __init__(self) -> None:
        self.up = False
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                answer = b"SUCCESS" if receiver.up else b"down"
                if receiver.up:
                    receiver.received.append(json.loads(body))
                self.send_response(200 if receiver.up else 503)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify"

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def test_kill_9_under_load_loses_nothing_acknowledged(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "sandbox.db"
    server = start_server(tmp_path, db=db)
    merchant = server.merchant()
    acknowledged: list[str] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        client = merchant.client("v2", max_retries=0, timeout=5)
        i = 0
        while not stop.is_set():
            order = f"D-{worker}-{i}"
            i += 1
            try:
                client.collections.create(
                    mch_order_id=order,
                    amount=150000,
                    currency="PHP",
                    country="PH",
                    pay_method="QR",
                    wallet_code="GCASH",
                    product_name="Plan",
                    notify_url=receiver.url,
                )
            except paygate_v2.PaygateError:
                continue  # not acknowledged: may or may not exist, both are fine
            acknowledged.append(order)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    eventually(lambda: len(acknowledged) >= 100, timeout=30)
    stop_server(server, kill=True)  # SIGKILL, mid-load
    stop.set()
    for thread in threads:
        thread.join()

    restarted = start_server(tmp_path, db=db)
    client = paygate_v2.Client(merchant.app_id, merchant.secret, base_url=restarted.url)
    for order in acknowledged:
        assert client.collections.query(mch_order_id=order).mch_order_id == order
    stop_server(restarted)


def test_pending_notifications_survive_kill_9(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "sandbox.db"
    server = start_server(tmp_path, db=db)
    merchant = server.merchant()
    client = merchant.client("v2")
    paid = []
    for i in range(5):
        created = client.collections.create(
            mch_order_id=f"N-{i}",
            amount=150000,
            currency="PHP",
            country="PH",
            pay_method="QR",
            wallet_code="GCASH",
            product_name="Plan",
            notify_url=receiver.url,
        )
        server.sandbox("POST", f"transactions/{created.transaction_id}/pay")
        paid.append(created.transaction_id)
    # The receiver is down: attempts fail and are rescheduled.
    eventually(lambda: all(n["attempts"] >= 1 for n in server.notifications(merchant.app_id)))
    stop_server(server, kill=True)

    receiver.up = True
    restarted = start_server(tmp_path, db=db)
    eventually(lambda: {n["transactionId"] for n in receiver.received} == set(paid), timeout=30)
    verifier = paygate_v2.NotificationVerifier(merchant.secret)
    for payload in receiver.received:
        assert verifier.verify(payload).event_name.value == "collection.completed"
    eventually(lambda: {n["state"] for n in restarted.notifications(merchant.app_id)} == {"delivered"})
    stop_server(restarted)
