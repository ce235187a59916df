"""Notification delivery over real HTTP: a merchant's receiver that verifies with the SDK, and misbehaves.

The receiver is a small threading HTTP server on a free port. It verifies every
notification with the generated SDK's `NotificationVerifier` and acknowledges
it; told to, it first misbehaves for a number of attempts - down (nothing
listening), slow (answering after the gateway's timeout), answering 500, 200
with the wrong body, a redirect, or hanging up. The gateway must retry on the
published schedule (`x-notifications`, scaled by `--time-scale`) and deliver
once the receiver recovers; a v2 attempt is signed afresh each time.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import paygate_v1
import paygate_v2
from generator.model import ApiModel
from simulator.worker import DeliverySettings

from .conftest import PAY_IN, Merchant, Server, eventually, free_port, start_server, stop_server

pytestmark = pytest.mark.reliability

SDKS: dict[str, Any] = {"v1": paygate_v1, "v2": paygate_v2}


@dataclass
class Received:
    at: float
    body: bytes
    answered: str


@dataclass
class Receiver:
    """A merchant's notifyUrl. `misbehave` for the first `times` requests, then verify and acknowledge."""

    secret: str
    version: str
    misbehave: str = ""
    times: int = 0
    slow_seconds: float = 1.0
    clock: Callable[[], float] = time.time
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.verifier = SDKS[self.version].NotificationVerifier(self.secret, clock=self.clock)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/paygate/notify"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    misbehaving = receiver.times > 0
                    receiver.times -= 1
                mode = receiver.misbehave if misbehaving else "verify"
                receiver.received.append(Received(time.monotonic(), body, mode))
                try:
                    if mode == "slow":
                        time.sleep(receiver.slow_seconds)
                        self.answer(200, receiver.ack)
                    elif mode == "500":
                        self.answer(500, "Internal Server Error")
                    elif mode == "wrong-body":
                        self.answer(200, "OK")
                    elif mode == "redirect":
                        self.answer(302, receiver.ack, location="/paygate/elsewhere")
                    elif mode == "hang-up":
                        self.close_connection = True
                    else:
                        self.verify(body)
                except OSError:  # the gateway stopped waiting: that is the point
                    pass

            def verify(self, body: bytes) -> None:
                sdk = SDKS[receiver.version]
                try:
                    event = receiver.verifier.verify(body)
                except sdk.NotificationError as exc:
                    receiver.refusals.append(type(exc).__name__)
                    self.answer(400, "refused")
                    return
                receiver.events.append(event)
                self.answer(200, receiver.ack)

            def answer(self, status: int, text: str, location: str | None = None) -> None:
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def ack(self) -> str:
        return str(SDKS[self.version].ACK)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.stop()


def time_scale(server: Server) -> float:
    args = list(server.process.args)  # type: ignore[arg-type]
    return float(args[len(args) - 1 - args[::-1].index("--time-scale") + 1])


def pay_in(merchant: Merchant, version: str, receiver: Receiver, order: str) -> str:
    """A collection notifying `receiver`, paid: its transactionId."""
    client = merchant.client(version)
    created = client.collections.create(mch_order_id=order, **{**PAY_IN, "notify_url": receiver.url})
    merchant.server.sandbox("POST", f"transactions/{created.transaction_id}/pay")
    return str(created.transaction_id)


def notification(server: Server, app_id: str, record_id: str) -> dict[str, Any]:
    (found,) = [n for n in server.notifications(app_id) if n["record_id"] == record_id]
    return found


def settled(server: Server, app_id: str, record_id: str, timeout: float = 20) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        found = notification(server, app_id, record_id)
        return found if found["state"] != "pending" else None

    return eventually(check, timeout=timeout)


def assert_schedule(deliveries: list[dict[str, Any]], model: ApiModel, scale: float) -> None:
    """Attempts numbered 1, 2, ... each at least the schedule's (scaled) delay after the one before."""
    delays = model.notification_policy.retry_delays_seconds
    assert [d["attempt"] for d in deliveries] == list(range(1, len(deliveries) + 1))
    for before, after in itertools.pairwise(deliveries):
        assert after["at_ms"] - before["at_ms"] >= int(delays[before["attempt"] - 1] * 1000 * scale)


# Delivered at once --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_receiver_verifies_and_acknowledges(
    server: Server, merchant: Merchant, receivers: list[Receiver], version: str
) -> None:
    receiver = Receiver(merchant.secret, version).start()
    receivers.append(receiver)
    transaction_id = pay_in(merchant, version, receiver, f"N-{version}-1")

    done = settled(server, merchant.app_id, transaction_id)
    assert done["state"] == "delivered" and done["event"] == "collection.completed"
    (attempt,) = done["deliveries"]
    assert (attempt["attempt"], attempt["status"], attempt["body"], attempt["ok"]) == (1, 200, receiver.ack, 1)
    (event,) = receiver.events
    assert event.transaction_id == transaction_id and event.event_name.value == "collection.completed"
    assert event.mch_order_id == f"N-{version}-1" and event.amount == PAY_IN["amount"]
    assert receiver.refusals == []


def test_a_receiver_with_another_secret_refuses(server: Server, merchant: Merchant, receivers: list[Receiver]) -> None:
    """The notification is signed with the merchant's secret: a verifier with another refuses it, unacknowledged."""
    receiver = Receiver("sk_someone_else", "v2").start()
    receivers.append(receiver)
    transaction_id = pay_in(merchant, "v2", receiver, "N-forged-1")
    eventually(lambda: len(notification(server, merchant.app_id, transaction_id)["deliveries"]) >= 2)
    assert receiver.events == [] and set(receiver.refusals) == {"NotificationSignatureError"}
    assert notification(server, merchant.app_id, transaction_id)["state"] == "pending"


# Retried until the receiver recovers ---------------------------------------------------------------

MISBEHAVIOURS = {
    # mode: what the gateway records of a failed attempt
    "500": lambda d: d["status"] == 500,
    "wrong-body": lambda d: d["status"] == 200 and d["body"] == "OK",
    "redirect": lambda d: d["status"] == 302,
    "slow": lambda d: d["status"] is None and d["error"],
    "hang-up": lambda d: d["status"] is None and d["error"],
}


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("mode", list(MISBEHAVIOURS))
def test_retried_until_the_receiver_answers_right(
    server: Server, merchant: Merchant, receivers: list[Receiver], models: dict[str, ApiModel], version: str, mode: str
) -> None:
    scale = time_scale(server)
    timeout = max(models[version].notification_policy.timeout_seconds * scale, DeliverySettings.min_timeout_seconds)
    receiver = Receiver(merchant.secret, version, misbehave=mode, times=2, slow_seconds=timeout + 0.5).start()
    receivers.append(receiver)
    transaction_id = pay_in(merchant, version, receiver, f"N-{version}-{mode}")

    done = settled(server, merchant.app_id, transaction_id)
    assert done["state"] == "delivered"
    deliveries = done["deliveries"]
    assert len(deliveries) >= 3
    assert all(MISBEHAVIOURS[mode](d) and not d["ok"] for d in deliveries[:2]), deliveries
    assert [d["ok"] for d in deliveries] == [0] * (len(deliveries) - 1) + [1]
    assert_schedule(deliveries, models[version], scale)
    assert [e.transaction_id for e in receiver.events] == [transaction_id]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_retried_while_the_receiver_is_down(
    server: Server, merchant: Merchant, receivers: list[Receiver], models: dict[str, ApiModel], version: str
) -> None:
    receiver = Receiver(merchant.secret, version)  # nothing listens yet
    transaction_id = pay_in(merchant, version, receiver, f"N-{version}-down")
    eventually(lambda: len(notification(server, merchant.app_id, transaction_id)["deliveries"]) >= 3)
    receivers.append(receiver.start())

    done = settled(server, merchant.app_id, transaction_id)
    assert done["state"] == "delivered"
    deliveries = done["deliveries"]
    refused = deliveries[:3]
    assert all(d["status"] is None and "ConnectError" in d["error"] and not d["ok"] for d in refused)
    assert deliveries[-1]["ok"] == 1 and sum(d["ok"] for d in deliveries) == 1
    assert_schedule(deliveries, models[version], time_scale(server))
    assert [e.transaction_id for e in receiver.events] == [transaction_id]


# Signatures of each attempt ------------------------------------------------------------------------


def test_every_v2_attempt_is_signed_afresh_and_a_replay_is_refused(
    server: Server, merchant: Merchant, receivers: list[Receiver]
) -> None:
    clock = time.time
    receiver = Receiver(merchant.secret, "v2", misbehave="500", times=3, clock=clock).start()
    receivers.append(receiver)
    transaction_id = pay_in(merchant, "v2", receiver, "N-v2-fresh")
    assert settled(server, merchant.app_id, transaction_id)["state"] == "delivered"

    bodies = [r.body for r in receiver.received]
    assert len(bodies) == 4
    verifier = paygate_v2.NotificationVerifier(merchant.secret, clock=clock)
    events = [verifier.verify(body) for body in bodies]  # every attempt verifies: none is a replay
    assert {e.transaction_id for e in events} == {transaction_id}
    stamps = [int(e.timestamp) for e in events]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert len({e.sign for e in events}) == len(events)
    with pytest.raises(paygate_v2.ReplayedNotificationError):
        verifier.verify(bodies[0])
    with pytest.raises(paygate_v2.StaleNotificationError):
        paygate_v2.NotificationVerifier(merchant.secret, clock=lambda: clock() + 301).verify(bodies[-1])


def test_v1_verifier_accepts_a_genuine_redelivery(
    server: Server, merchant: Merchant, receivers: list[Receiver]
) -> None:
    receiver = Receiver(merchant.secret, "v1", misbehave="500", times=1).start()
    receivers.append(receiver)
    transaction_id = pay_in(merchant, "v1", receiver, "N-v1-redelivered")
    assert settled(server, merchant.app_id, transaction_id)["state"] == "delivered"
    first, second = (r.body for r in receiver.received[:2])
    assert first == second  # v1 has no timestamp: a redelivery is the same notification, signed alike
    # A receiver that verified the first attempt, then failed before acknowledging it, accepts the
    # redelivery (and must be idempotent on transactionId and eventName: a replay looks the same).
    verifier = paygate_v1.NotificationVerifier(merchant.secret)
    assert verifier.verify(first).transaction_id == verifier.verify(second).transaction_id == transaction_id


# Given up after the schedule -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A simulator of this module's own, whose clock the tests may move."""
    running = start_server(tmp_path_factory.mktemp("delivery"))
    yield running
    stop_server(running)


def test_given_up_after_the_last_retry(
    own_server: Server, receivers: list[Receiver], models: dict[str, ApiModel]
) -> None:
    merchant = own_server.merchant(countries=["PH"])
    receiver = Receiver(merchant.secret, "v1", misbehave="500", times=10**6).start()
    receivers.append(receiver)
    transaction_id = pay_in(merchant, "v1", receiver, "N-v1-gives-up")
    delays = models["v1"].notification_policy.retry_delays_seconds
    longest = max(delays) * time_scale(own_server)

    def given_up() -> dict[str, Any] | None:
        found = notification(own_server, merchant.app_id, transaction_id)
        if found["state"] == "pending":
            # Each retry comes once the clock has passed its (scaled) delay: move it there.
            own_server.sandbox("POST", "clock", json={"advanceSeconds": longest + 1})
            return None
        return found

    done = eventually(given_up, timeout=60, interval=0.1)
    assert done["state"] == "failed"
    assert len(done["deliveries"]) == len(delays) + 1 == len(receiver.received)
    assert not any(d["ok"] for d in done["deliveries"])
    assert_schedule(done["deliveries"], models["v1"], time_scale(own_server))
    time.sleep(0.3)
    assert len(receiver.received) == len(delays) + 1  # and never tried again
