"""Fuzzing speed: cases per second of `payspec fuzz` against schemathesis alone, on the same simulator.

Run: python benchmarks/bench_fuzz.py [--max-examples N]

Both runs are the schemathesis command line against one simulator (in this
process), fuzzing phase only, same seed: the baseline with its stock checks
and nothing else, ours with the signing hook and the gateway-aware checks.
The rate is read from schemathesis's own report (cases over the phase's time).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from generator.config import find_config
from generator.contract.runner import serving


def rate(command: list[str]) -> tuple[int, float]:
    output = subprocess.run(command, capture_output=True, text=True).stdout
    cases = re.search(r"(\d+) generated", output)
    seconds = re.search(r"Fuzzing \(in ([\d.]+)s\)", output)
    if not cases or not seconds:
        raise SystemExit(f"could not read the report of {' '.join(command)}:\n{output[-2000:]}")
    return int(cases.group(1)), int(cases.group(1)) / float(seconds.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=20)
    args = parser.parse_args()
    config = find_config()
    common = ["--phases", "fuzzing", "--max-examples", str(args.max_examples), "--seed", "1"]
    with serving() as url:
        for version in ("v1", "v2"):
            bundle = str(config.output / "spec" / version / "openapi.json")
            plain = [sys.executable, "-m", "schemathesis.cli", "run", bundle, "--url", url, *common]
            payspec = [sys.executable, "-m", "generator", "fuzz", "--api", version]
            ours = [*payspec, "--url", url, "--sandbox-merchant", *common]
            base_cases, base_rate = rate(plain)
            our_cases, our_rate = rate(ours)
            print(f"{f'schemathesis alone, {version}':<42} {base_rate:8.0f} cases/s   ({base_cases} cases)")
            print(f"{f'payspec fuzz, {version}':<42} {our_rate:8.0f} cases/s   ({our_cases} cases)")
            print(f"{'ratio payspec fuzz/schemathesis alone':<42} {our_rate / base_rate:8.2f}")


if __name__ == "__main__":
    main()
