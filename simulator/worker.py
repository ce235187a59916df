"""The gateway's own clockwork: what happens without a request.

Each worker process runs one `Worker`. It finishes records that fall due
(payouts and refunds after their processing time, pay-ins and links at their
expiry) and delivers queued notifications, retrying on the published
schedule. Records and notifications are claimed inside write transactions, so
several workers never handle the same one twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool

from .clock import Clock
from .runtime import Runtime
from .store import Record, Store, Tx

log = logging.getLogger("payspec.simulator")
DueHandler = Callable[[Tx, Runtime, Record, int], None]
DUE: dict[str, DueHandler] = {}


def on_due(kind: str) -> Callable[[DueHandler], DueHandler]:
    """Register what happens to a record of `kind` when its `due_ms` passes."""

    def register(function: DueHandler) -> DueHandler:
        DUE[kind] = function
        return function

    return register


@dataclass
class DeliverySettings:
    time_scale: float = 1.0
    lease_ms: int = 30_000
    batch: int = 50


class Worker:
    def __init__(self, runtime: Runtime, store: Store, clock: Clock, settings: DeliverySettings) -> None:
        self.runtime = runtime
        self.store = store
        self.clock = clock
        self.settings = settings
        self._stopped = asyncio.Event()

    async def run(self, interval: float = 0.05) -> None:
        async with httpx.AsyncClient() as http:
            while not self._stopped.is_set():
                try:
                    await self.tick(http)
                except Exception:  # a bad record or receiver must not stop the gateway's clockwork
                    log.exception("worker tick failed")
                try:
                    await asyncio.wait_for(self._stopped.wait(), timeout=interval)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stopped.set()

    async def tick(self, http: httpx.AsyncClient) -> None:
        await run_in_threadpool(self.process_due)
        await self.deliver(http)

    def process_due(self) -> int:
        """Finish every record whose time has come; how many."""
        now_ms = self.clock.now_ms()
        done = 0
        while True:
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
                return done

    async def deliver(self, http: httpx.AsyncClient) -> int:
        """Attempt every due notification once; how many were attempted."""
        now_ms = self.clock.now_ms()
        with self.store.write() as tx:
            rows = [dict(r) for r in tx.claim(now_ms, self.settings.lease_ms, self.settings.batch)]
            secrets = {row["app_id"]: _secret(tx, row["app_id"]) for row in rows}
        await asyncio.gather(*(self._attempt(http, row, secrets.get(row["app_id"])) for row in rows))
        return len(rows)

    async def _attempt(self, http: httpx.AsyncClient, row: dict[str, Any], secret: str | None) -> None:
        version = self.runtime.versions[row["version"]]
        policy = version.model.notification_policy
        signing = version.signing
        payload = json.loads(row["payload"])
        if version.model.signature.timestamp_in_notifications:
            payload[signing.TIMESTAMP_FIELD] = str(self.clock.now_ms())
        if secret is not None:
            payload[signing.SIGN_FIELD] = signing.sign(payload, secret)
        attempt = row["attempts"] + 1
        status: int | None = None
        body = error = ""
        try:
            response = await http.post(
                row["url"],
                content=json.dumps(payload, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=policy.timeout_seconds * max(self.settings.time_scale, 0.01),
            )
            status, body = response.status_code, response.text
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status == 200 and body.strip() == policy.ack
        delays = policy.retry_delays_seconds
        next_ms = None
        if not ok and attempt <= len(delays):
            next_ms = self.clock.now_ms() + int(delays[attempt - 1] * 1000 * self.settings.time_scale)
        with self.store.write() as tx:
            tx.delivered(row["id"], attempt, self.clock.now_ms(), status, body, error, ok, next_ms)


def _secret(tx: Tx, app_id: str) -> str | None:
    merchant = tx.merchant(app_id)
    return merchant.secret if merchant else None
