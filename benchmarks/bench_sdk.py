"""SDK per-call overhead against a raw httpx call, through the same in-process transport.

Run: python benchmarks/bench_sdk.py [--calls N]

The transport answers from memory, so what is measured is the client side
alone: for the SDK, building and validating the typed arguments, the timestamp
and signature, serializing, sending, parsing the envelope, verifying the
answer's signature and building the typed `data`; for the baseline, posting a
dict with httpx and reading `.json()`. Target: the SDK at most 2x the raw call.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import httpx

import paygate_v2
from paygate_v2 import _signing

SECRET = "sk_bench_0123456789"
DATA = {
    "transactionId": "d149b0a575e5344740b2d9698babcede1f68",
    "mchOrderId": "ORD1",
    "amount": 150000,
    "currency": "PHP",
    "country": "PH",
    "payMethod": "WALLET",
    "walletCode": "GCASH",
    "transactionStatus": "COMPLETED",
    "createTime": "2026-11-26 18:00:00",
    "expireTime": "2026-11-26 18:30:00",
    "finishTime": "2026-11-26 18:03:12",
    "refundedAmount": 0,
}


def answer() -> bytes:
    envelope = {"code": 10000, "message": "Success", "data": DATA}
    envelope["sign"] = _signing.sign(envelope, SECRET)
    return httpx.Response(200, json=envelope).content


def timed(call: Callable[[], object], calls: int, rounds: int = 5) -> float:
    """Median seconds per call over `rounds` rounds."""
    call()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    body = answer()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with paygate_v2.Client("app_bench", SECRET, base_url="http://gateway", transport=transport) as client:
        sdk = timed(lambda: client.collections.query(mch_order_id="ORD1"), args.calls)
    with httpx.Client(base_url="http://gateway", transport=transport) as http:
        fields = {"appId": "app_bench", "timestamp": "1795687200000", "mchOrderId": "ORD1", "sign": "0" * 64}
        raw = timed(lambda: http.post("/v2/collection/query", json=fields).json(), args.calls)
    ratio = sdk / raw
    print(f"{'raw httpx POST of a dict + .json()':<42} {raw * 1e6:8.1f} us/call")
    print(f"{'SDK client.collections.query (v2)':<42} {sdk * 1e6:8.1f} us/call")
    print(f"{'ratio SDK/raw':<42} {ratio:8.2f}x   target <= 2.00x: {'met' if ratio <= 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
