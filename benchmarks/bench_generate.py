"""Generation speed: `payspec generate` against openapi-python-client on the same spec.

Run: python benchmarks/bench_generate.py [--repeat N]

Each measurement runs the real command in a fresh copy of the project, so
the baseline and ours pay the same process start-up. Printed: seconds
(median of N) and the ratios the targets are stated in.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(action: Callable[[], None], repeat: int, prepare: Callable[[], None] = lambda: None) -> float:
    samples = []
    for _ in range(repeat):
        prepare()
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def alternated(
    ours: Callable[[], None],
    prepare_ours: Callable[[], None],
    theirs: Callable[[], None] | None,
    prepare_theirs: Callable[[], None],
    repeat: int,
) -> tuple[list[float], list[float]]:
    """Times of `ours` and of `theirs` (none: not installed), run in turn."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        samples[0].append(timed(ours, 1, prepare_ours))
        if theirs is not None:
            samples[1].append(timed(theirs, 1, prepare_theirs))
    return samples


def run(*command: str, cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    opc = shutil.which("openapi-python-client")
    payspec = [sys.executable, "-m", "generator"]

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        for name in ("spec", "templates"):
            shutil.copytree(ROOT / name, project / name)
        shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
        bundled = ROOT / "generated/spec/v2/openapi.json"

        def clean() -> None:
            shutil.rmtree(project / "generated", ignore_errors=True)
            shutil.rmtree(project / ".payspec-cache", ignore_errors=True)

        out = Path(tmp) / "opc"

        def ours() -> None:
            run(*payspec, "generate", "v2", cwd=project)

        def theirs() -> None:
            run(str(opc), "generate", "--path", str(bundled), "--output-path", str(out), "--overwrite", cwd=Path(tmp))

        def clean_theirs() -> None:
            shutil.rmtree(out, ignore_errors=True)

        # The target's two sides in alternating runs, so that a change in the machine's speed touches both.
        ours_v2, theirs_v2 = alternated(ours, clean, theirs if opc else None, clean_theirs, args.repeat)
        full_all = timed(lambda: run(*payspec, "generate", cwd=project), args.repeat, clean)
        run(*payspec, "generate", cwd=project)
        noop = timed(lambda: run(*payspec, "generate", cwd=project), args.repeat)
        check = timed(lambda: run(*payspec, "generate", "--check", cwd=project), args.repeat)

    full_v2 = statistics.median(ours_v2)
    print(f"payspec generate v2 (cold)             {full_v2:7.3f} s")
    print(f"payspec generate v1+v2 (cold)          {full_all:7.3f} s")
    print(f"payspec generate, nothing changed      {noop:7.3f} s   target < 0.5 s: {'met' if noop < 0.5 else 'MISSED'}")
    print(f"payspec generate --check               {check:7.3f} s")
    if not theirs_v2:
        print("openapi-python-client not installed: no baseline (pip install -e '.[dev]')")
        return
    baseline = statistics.median(theirs_v2)
    print(f"openapi-python-client generate (v2)    {baseline:7.3f} s")
    ratio = full_v2 / baseline
    pairs = sorted(a / b for a, b in zip(ours_v2, theirs_v2, strict=True))
    verdict = "met" if ratio <= 1 else "MISSED"
    print(f"ratio ours/openapi-python-client (v2)  {ratio:7.2f}x  target <= 1.00x: {verdict}")
    print(f"  the same, run by run                 {pairs[0]:7.2f}x to {pairs[-1]:.2f}x over {len(pairs)} pairs")
    print(f"ratio no-op/openapi-python-client      {noop / baseline:7.2f}x")


if __name__ == "__main__":
    main()
