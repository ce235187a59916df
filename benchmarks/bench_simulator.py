"""Simulator throughput: a signed v2 mix against a bare Starlette JSON endpoint on the same uvicorn.

Run: python benchmarks/bench_simulator.py [--requests N] [--rounds R] [--workers 1 2] [--mixes ...]

For each mix and worker count, both servers get the same pre-built requests
(collection creates and queries, and refunds in the second mix, signed with
the generated v2 signer) from the same load generator, so the ratio shows
what the gateway's work costs: JSON parsing, signature check, model
validation, SQLite, signed answers.
Targets: the simulator at >= 40% of the bare endpoint's throughput on one
worker, and 2 workers >= 1.5x one worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Result, http_request, run

from paygate_v2 import _signing

ROOT = Path(__file__).resolve().parent.parent
# Request patterns, repeated: a collection create and query mix, and the same with refunds.
MIXES = {
    "create+query": ("create", "query"),
    "create+query+refund": ("create", "query", "query", "create", "refund"),
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(command: list[str], port: int, probe: str) -> Iterator[None]:
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ)
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.request(
                    "GET" if probe.startswith("/sandbox") else "POST", f"http://127.0.0.1:{port}{probe}", json={}
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"server did not start: {' '.join(command)}") from None
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def signed(fields: dict[str, Any], app_id: str, secret: str) -> bytes:
    body = {**fields, "appId": app_id, "timestamp": str(int(time.time() * 1000))}
    body["sign"] = _signing.sign(body, secret)
    return json.dumps(body, separators=(",", ":")).encode()


def prepare(port: int, total: int, notify_url: str, pattern: tuple[str, ...]) -> list[bytes]:
    """A merchant, paid collections to query and refund, and the mixed request list.

    Notifications go to `notify_url`, which acknowledges them, and are all delivered
    before this returns: the measured requests do not share the server with retries.
    """
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as http:
        merchant = http.post("/sandbox/merchants", json={"balances": {"PHP": 10**12}}).json()
        app_id, secret = merchant["appId"], merchant["appSecret"]
        pay_in = {
            "amount": 150000,
            "currency": "PHP",
            "country": "PH",
            "payMethod": "QR",
            "walletCode": "GCASH",
            "productName": "Plan",
            "notifyUrl": notify_url,
        }
        refunds = total * pattern.count("refund") // len(pattern)
        paid = []
        for i in range(max(refunds, 100)):
            answer = http.post(
                "/v2/collection/create",
                content=signed({**pay_in, "mchOrderId": f"seed-{i}"}, app_id, secret),
                headers={"content-type": "application/json"},
            ).json()
            http.post(f"/sandbox/transactions/{answer['data']['transactionId']}/pay")
            paid.append(answer["data"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = [
                n
                for n in http.get("/sandbox/notifications", params={"appId": app_id}).json()
                if n["state"] != "delivered"
            ]
            if not pending:
                break
            time.sleep(0.2)
    requests = []
    for i in range(total):
        kind = pattern[i % len(pattern)]
        if kind == "create":
            fields = {**pay_in, "mchOrderId": f"bench-{i}", "idempotencyId": f"idem-{i}"}
            requests.append(http_request("/v2/collection/create", signed(fields, app_id, secret)))
        elif kind == "query":
            target = paid[i % len(paid)]
            requests.append(
                http_request("/v2/collection/query", signed({"mchOrderId": target["mchOrderId"]}, app_id, secret))
            )
        else:
            target = paid[(i // len(pattern)) % len(paid)]  # a refund per paid collection
            fields = {
                "mchRefundOrderId": f"rf-{i}",
                "transactionId": target["transactionId"],
                "amount": 100,
                "notifyUrl": notify_url,
                "idempotencyId": f"idem-rf-{i}",
            }
            requests.append(http_request("/v2/refund/create", signed(fields, app_id, secret)))
    return requests


def measure(
    workers: int, total: int, connections: int, rounds: int, folder: Path, pattern: tuple[str, ...]
) -> tuple[Result, Result]:
    """Both servers up at once, measured in alternating rounds (the median round of each), after a warm-up,
    so that a change in the machine's speed during the run touches both alike."""
    port, bare_port = free_port(), free_port()
    simulator = [
        sys.executable, "-m", "generator", "serve", "--port", str(port), "--workers", str(workers),
        "--db", str(folder / f"bench-{workers}-{len(pattern)}.db"), "--log-level", "warning",
        "--processing-ms", "600000",
    ]  # fmt: skip
    bare = [
        sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(ROOT / "benchmarks"),
        "--port", str(bare_port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
        # The same HTTP protocol as `payspec serve` (simulator/transport.py), so only the app differs.
        "--http", "simulator.transport:NoDelayH11Protocol",
    ]  # fmt: skip
    with serving(simulator, port, "/sandbox/clock"), serving(bare, bare_port, "/"):
        requests = prepare(port, total * (rounds + 1), f"http://127.0.0.1:{bare_port}/notify", pattern)
        chunks = [requests[i * total : (i + 1) * total] for i in range(rounds + 1)]
        asyncio.run(run("127.0.0.1", port, chunks[0], connections))
        asyncio.run(run("127.0.0.1", bare_port, chunks[0], connections))
        ours, baseline = [], []
        for chunk in chunks[1:]:
            baseline.append(asyncio.run(run("127.0.0.1", bare_port, chunk, connections)))
            ours.append(asyncio.run(run("127.0.0.1", port, chunk, connections)))
    return _median(ours), _median(baseline)


def _median(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.rate)[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mixes", nargs="+", choices=list(MIXES), default=list(MIXES))
    args = parser.parse_args()
    rates: dict[tuple[str, int], tuple[float, float]] = {}  # (simulator, bare)
    with tempfile.TemporaryDirectory() as tmp:
        for mix in args.mixes:
            for workers in args.workers:
                ours, baseline = measure(workers, args.requests, args.connections, args.rounds, Path(tmp), MIXES[mix])
                rates[mix, workers] = ours.rate, baseline.rate
                print(baseline.line(f"bare Starlette endpoint, {workers} worker(s)"))
                print(ours.line(f"simulator, signed v2 {mix}, {workers} worker(s)"))
                ratio = ours.rate / baseline.rate
                verdict = f"target >= 0.40: {'met' if ratio >= 0.4 else 'MISSED'}" if workers == 1 else ""
                print(f"{'ratio simulator/bare':<42} {ratio:8.2f}   {verdict}")
                if set(ours.statuses) != {200}:
                    print(f"  non-200 answers: {ours.statuses}")
            if (mix, 1) in rates and (mix, 2) in rates:
                (one, bare_one), (two, bare_two) = rates[mix, 1], rates[mix, 2]
                label = "ratio 2 workers/1 worker (simulator)"
                print(f"{label:<42} {two / one:8.2f}   (bare endpoint: {bare_two / bare_one:.2f})")


if __name__ == "__main__":
    main()
