"""The gateway's own clockwork: what happens without a request.

Each worker process runs one `Worker`. It finishes records that fall due
(payouts and refunds after their processing time, pay-ins and links at their
expiry) and delivers queued notifications, retrying on the published
schedule. Records and notifications are claimed inside write transactions, so
several workers never handle the same one twice.

Delivery follows the version's `x-notifications` policy: a notification is
acknowledged only by HTTP 200 whose body is the policy's `ack` (surrounding
white space aside); anything else - another status or body, a refused
connection, no complete answer within `timeoutSeconds` - is an attempt that
failed, retried after the next of `retryDelaysSeconds` (times the time scale),
and given up after the last. Each attempt is signed afresh, so a v2
notification always carries the time it was sent. Every attempt is recorded
(`GET /sandbox/notifications`). Attempts run beside the worker's other work:
a slow receiver holds up neither other receivers nor records falling due.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .clock import Clock
from .runtime import Runtime, VersionRuntime
from .store import Record, Store, Tx

log = logging.getLogger("payspec.simulator")
DueHandler = Callable[[Tx, Runtime, Record, int], None]
DUE: dict[str, DueHandler] = {}

MAX_ANSWER_BYTES = 4096
"""How much of a receiver's answer is read: an acknowledgement is a few bytes."""


def on_due(kind: str) -> Callable[[DueHandler], DueHandler]:
    """Register what happens to a record of `kind` when its `due_ms` passes."""

    def register(function: DueHandler) -> DueHandler:
        DUE[kind] = function
        return function

    return register


@dataclass
class DeliverySettings:
    time_scale: float = 1.0
    """Multiplies the policy's retry delays and answer timeout (0.001 in tests)."""
    lease_ms: int = 30_000
    """How long a claimed notification is kept from other workers (at least twice the timeout)."""
    batch: int = 50
    """At most this many attempts in flight per worker."""
    min_timeout_seconds: float = 1.0
    """The shortest wait for an answer, however small the time scale: a local receiver on a
    busy machine (a CI runner, a test process collecting its garbage) can take a few hundred
    milliseconds, and failing it for that would retry a notification that was answered."""


@dataclass(frozen=True)
class _Outcome:
    status: int | None
    body: str
    error: str


class Worker:
    def __init__(self, runtime: Runtime, store: Store, clock: Clock, settings: DeliverySettings) -> None:
        self.runtime = runtime
        self.store = store
        self.clock = clock
        self.settings = settings
        self._stopped = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}

    async def run(self, interval: float = 0.05) -> None:
        async with httpx.AsyncClient(follow_redirects=False) as http:
            while not self._stopped.is_set():
                try:
                    await self.tick(http)
                except Exception:  # a bad record or receiver must not stop the gateway's clockwork
                    log.exception("worker tick failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), timeout=interval)
            # Attempts under way finish (each within its timeout) and are recorded.
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    def stop(self) -> None:
        self._stopped.set()

    async def tick(self, http: httpx.AsyncClient) -> None:
        # Store work runs on the event loop, as the gateway's does: it is sub-millisecond per
        # record, and a bounded batch per tick keeps a backlog from holding up requests.
        self.process_due(batches=4)
        await self.deliver(http, wait=False)

    def process_due(self, batches: int | None = None) -> int:
        """Finish the records whose time has come (all of them, or `batches` of 50); how many."""
        now_ms = self.clock.now_ms()
        done = 0
        for _ in itertools.count() if batches is None else range(batches):
            with self.store.write() as tx:
                batch = tx.due(now_ms, limit=50)
                for record in batch:
                    handler = DUE.get(record.kind)
                    if handler is None:
                        record.due_ms = None
                        tx.update(record)
                    else:
                        handler(tx, self.runtime, record, now_ms)
            done += len(batch)
            if len(batch) < 50:
                break
        return done

    # Notifications -------------------------------------------------------------------------------

    async def deliver(self, http: httpx.AsyncClient, *, wait: bool = True) -> int:
        """Start an attempt at every due notification (up to the batch); how many were started.

        With `wait`, return once they are all answered and recorded.
        """
        room = self.settings.batch - len(self._in_flight)
        if room <= 0:
            return 0
        rows, secrets = self._claim(room)
        started = []
        for row in rows:
            # Claimed again while its attempt is still under way (the clock was moved past the
            # lease): the attempt under way records it; a second one would only duplicate it.
            if row["id"] in self._in_flight:
                continue
            task = asyncio.create_task(self._attempt(http, row, secrets.get(row["app_id"])))
            self._in_flight[row["id"]] = task
            task.add_done_callback(self._landed)
            started.append(task)
        if wait and started:
            await asyncio.gather(*started)
        return len(started)

    def _landed(self, task: asyncio.Task[None]) -> None:
        for key, running in list(self._in_flight.items()):
            if running is task:
                del self._in_flight[key]

    def _claim(self, limit: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
        now_ms = self.clock.now_ms()
        with self.store.write() as tx:
            rows = [dict(r) for r in tx.claim(now_ms, self._lease_ms(), limit)]
            secrets = {}
            for app_id in {row["app_id"] for row in rows}:
                merchant = tx.merchant(app_id)
                if merchant is not None:
                    secrets[app_id] = merchant.secret
        return rows, secrets

    def _lease_ms(self) -> int:
        longest = max(self._timeout_seconds(v) for v in self.runtime.versions.values())
        return max(self.settings.lease_ms, int(longest * 2000) + 5000)

    def _timeout_seconds(self, version: VersionRuntime) -> float:
        policy = version.model.notification_policy
        return max(policy.timeout_seconds * self.settings.time_scale, self.settings.min_timeout_seconds)

    async def _attempt(self, http: httpx.AsyncClient, row: dict[str, Any], secret: str | None) -> None:
        """One attempt: sign, POST, judge the answer, record it and when to try again."""
        try:
            version = self.runtime.versions[row["version"]]
            policy = version.model.notification_policy
            attempt = int(row["attempts"]) + 1
            sent_ms = self.clock.now_ms()
            if secret is None:
                outcome = _Outcome(None, "", "the merchant is unknown: nothing to sign with")
            else:
                # Signed as the SDK signs a test notification; its timestamp (where the version
                # has one) is real time, as receivers check it (see Clock).
                payload = version.notifications.sign_notification(json.loads(row["payload"]), secret)
                outcome = await self._post(http, row["url"], payload, self._timeout_seconds(version))
            ok = outcome.status == 200 and outcome.body.strip() == policy.ack
            delays = policy.retry_delays_seconds
            delay_ms = None
            if not ok and secret is not None and attempt <= len(delays):
                delay_ms = int(delays[attempt - 1] * 1000 * self.settings.time_scale)
            self._record(row["id"], attempt, sent_ms, outcome, ok, delay_ms)
        except Exception:  # recorded nowhere else: its lease lapses and it is tried again
            log.exception("notification %s: the attempt could not be made or recorded", row.get("id"))

    async def _post(self, http: httpx.AsyncClient, url: str, payload: dict[str, Any], timeout: float) -> _Outcome:
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            # One deadline for the whole answer: a receiver trickling bytes is as slow as a silent one.
            async with asyncio.timeout(timeout):
                async with http.stream("POST", url, content=content, headers=headers, timeout=timeout) as response:
                    received = bytearray()
                    async for chunk in response.aiter_bytes():
                        received += chunk
                        if len(received) >= MAX_ANSWER_BYTES:
                            break
            body = bytes(received[:MAX_ANSWER_BYTES]).decode("utf-8", "replace")
            return _Outcome(response.status_code, body, "")
        except TimeoutError:
            return _Outcome(None, "", f"no answer within {timeout:g} s")
        except Exception as exc:  # refused, reset, unreadable, not a URL: an attempt that failed
            return _Outcome(None, "", f"{type(exc).__name__}: {exc}")

    def _record(
        self, outbox_id: int, attempt: int, sent_ms: int, outcome: _Outcome, ok: bool, delay_ms: int | None
    ) -> None:
        # The next try is counted from the end of this one.
        next_ms = None if delay_ms is None else self.clock.now_ms() + delay_ms
        with self.store.write() as tx:
            tx.delivered(outbox_id, attempt, sent_ms, outcome.status, outcome.body, outcome.error, ok, next_ms)
