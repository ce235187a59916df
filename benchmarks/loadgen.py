"""A small closed-loop HTTP/1.1 load generator: pre-built requests, keep-alive, latency per request.

Written on asyncio streams so that the load generator costs far less CPU per
request than the servers it measures (httpx would be the bottleneck here).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Result:
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]

    def line(self, label: str) -> str:
        return (
            f"{label:<42} {self.rate:8.0f} req/s   p50 {self.percentile(50):6.2f} ms   "
            f"p99 {self.percentile(99):6.2f} ms   ({self.requests} requests)"
        )


def http_request(path: str, body: bytes, host: str = "127.0.0.1") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _connection(host: str, port: int, requests: Sequence[bytes], next_index: list[int], result: Result) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while next_index[0] < len(requests):
            request = requests[next_index[0]]
            next_index[0] += 1
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            status = int(status_line.split()[1])
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def run(host: str, port: int, requests: Sequence[bytes], connections: int) -> Result:
    result = Result(len(requests), 0.0, [], {})
    next_index = [0]
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, requests, next_index, result) for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
