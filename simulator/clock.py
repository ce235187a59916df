"""The gateway's clock: real time plus an offset the sandbox can move, shared by all workers.

Times on the wire are in the gateway's zone, UTC+08:00 (`GatewayTime`).
"""

from __future__ import annotations

import functools
import threading
import time
from datetime import datetime, timedelta, timezone

from .store import Store

GATEWAY_ZONE = timezone(timedelta(hours=8))
_REFRESH_SECONDS = 0.25


class Clock:
    """Now, as the gateway sees it. The offset lives in the store so every worker moves together.

    Moving the clock moves business time: expiries, processing, settlement days, the
    60-day refund window. Signatures' timestamps - a request's freshness window, a
    notification's own timestamp - stay on real time (`wall_ms`), so that merchants'
    clients and receivers keep working while a test moves the sandbox into the future.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._offset_ms = 0
        self._read_at = float("-inf")

    def now_ms(self) -> int:
        monotonic = time.monotonic()
        if monotonic - self._read_at > _REFRESH_SECONDS:
            with self._store.read() as tx:
                offset = tx.clock_offset()
            with self._lock:
                self._offset_ms, self._read_at = offset, monotonic
        return int(time.time() * 1000) + self._offset_ms

    @staticmethod
    def wall_ms() -> int:
        """Real time: what signatures' timestamps are checked against."""
        return int(time.time() * 1000)

    def advance(self, milliseconds: int) -> int:
        """Move the clock forward (or back); the new now."""
        with self._store.write() as tx:
            offset = tx.clock_offset() + milliseconds
            tx.set_clock_offset(offset)
        with self._lock:
            self._offset_ms, self._read_at = offset, time.monotonic()
        return self.now_ms()


def gateway_time(ms: int) -> str:
    return _gateway_second(ms // 1000)


@functools.lru_cache(maxsize=64)
def _gateway_second(second: int) -> str:
    """Formatting a time is slow and a busy gateway formats the same second many times."""
    return datetime.fromtimestamp(second, GATEWAY_ZONE).strftime("%Y-%m-%d %H:%M:%S")


def gateway_day(ms: int) -> str:
    return _gateway_day(ms // 3_600_000)


@functools.lru_cache(maxsize=64)
def _gateway_day(hour: int) -> str:
    """The day of an hour: the zone's offset is whole hours, so every millisecond of an hour shares it."""
    return datetime.fromtimestamp(hour * 3600, GATEWAY_ZONE).strftime("%Y-%m-%d")


def day_start_ms(day: str) -> int:
    """The first millisecond of a gateway day."""
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=GATEWAY_ZONE).timestamp() * 1000)
