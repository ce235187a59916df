"""Every benchmark, one command: python benchmarks/run.py

Each prints its figures and the ratio to a baseline run in the same command:
generation against openapi-python-client, the simulator against a bare
Starlette endpoint (1 and 2 workers), the SDK against raw httpx, and fuzzing
against schemathesis alone. About three minutes on two cores.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    ("Generation", ["bench_generate.py", "--repeat", "5"]),
    ("Simulator throughput", ["bench_simulator.py"]),
    ("SDK per-call overhead", ["bench_sdk.py"]),
    ("Fuzzing", ["bench_fuzz.py"]),
]


def main() -> int:
    started = time.perf_counter()
    failed = []
    for title, (script, *arguments) in BENCHMARKS:
        print(f"\n== {title}", flush=True)
        run = subprocess.run([sys.executable, str(HERE / script), *arguments], stderr=subprocess.DEVNULL)
        if run.returncode != 0:
            failed.append(title)
    print(f"\nall benchmarks in {time.perf_counter() - started:.0f} s")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
