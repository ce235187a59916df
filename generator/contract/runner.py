"""`payspec fuzz`: schemathesis against the simulator (started in-process) or a live sandbox.

Schemathesis runs with its own command line, so that seeds, example budgets,
workers, phases, JUnit reports and the curl reproduction of every failure are
the ones its users know; this module picks its arguments, starts a simulator
when no URL is given, and points the hooks (`hooks.py`) at the merchant.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ..config import Config, ConfigError
from ..loader import load_published
from . import hooks

# Stock checks that judge by HTTP status, which tells nothing on this gateway: every business
# outcome, refusals included, is HTTP 200 with a code in the body. Each has a gateway-aware
# replacement in hooks.py.
EXCLUDED_CHECKS = {
    "negative_data_rejection": "wants a 4xx for invalid data; refusals here are 200 + a code (invalid_input_refused)",
    "positive_data_acceptance": "wants a 2xx for valid data, which every answer has (see valid_input_...)",
    "use_after_free": "wants a 404 after a delete; the gateway answers 21006 in a 200 (created_is_found)",
    "ensure_resource_availability": "wants a 2xx after a create; see created_is_found and repeated_id_refused",
    "ignored_auth": "the spec declares no HTTP authentication: the signature is in the body (answer_signed)",
    "missing_required_header": "no operation declares a header",
}


@dataclass
class FuzzOptions:
    version: str
    url: str | None = None
    app_id: str | None = None
    secret: str | None = None
    # On `url`, a merchant made through the sandbox's /sandbox/ controls instead of app_id and secret.
    sandbox_merchant: bool = False
    seed: int | None = None
    max_examples: int = 100
    workers: int = 1
    phases: str = "examples,coverage,fuzzing,stateful"
    junit: Path | None = None
    max_time: int | None = None
    operations: tuple[str, ...] = ()


def fuzz(config: Config, options: FuzzOptions) -> int:
    """Run schemathesis; its exit code (0 when every check held)."""
    version = config.version(options.version)
    bundle = config.output / "spec" / version.name / "openapi.json"
    model = load_published(bundle, version.name)
    signing = importlib.import_module(f"{version.package}._signing")
    with contextlib.ExitStack() as stack:
        url, app_id, secret = options.url, options.app_id, options.secret
        if url is None:
            url = stack.enter_context(serving())
        if options.url is None or options.sandbox_merchant:
            app_id, secret = sandbox_merchant(url, model.schemas["Currency"]["enum"])
        elif not (app_id and secret):
            raise ConfigError("--url needs --app-id and --secret of a merchant of that sandbox (or --sandbox-merchant)")
        run = hooks.configure(model, signing, app_id, secret)
        started = time.perf_counter()
        status = _schemathesis(_arguments(options, bundle, url))
        elapsed = time.perf_counter() - started
    print(
        f"payspec fuzz {version.name}: {run.calls} requests in {elapsed:.1f} s ({run.calls / max(elapsed, 1e-9):.0f}/s)"
    )
    return status


def _arguments(options: FuzzOptions, bundle: Path, url: str) -> list[str]:
    arguments = [
        "run",
        str(bundle),
        "--url",
        url,
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(EXCLUDED_CHECKS),
        "--max-examples",
        str(options.max_examples),
        "--workers",
        str(options.workers),
        "--phases",
        options.phases,
        "--suppress-health-check",
        "all",
    ]
    if options.seed is not None:
        arguments += ["--seed", str(options.seed)]
    if options.max_time is not None:
        arguments += ["--max-time", str(options.max_time)]
    for operation_id in options.operations:
        arguments += ["--include-operation-id", operation_id]
    if options.junit is not None:
        arguments += ["--report", "junit", "--report-junit-path", str(options.junit)]
    return arguments


def _schemathesis(arguments: Sequence[str]) -> int:
    from schemathesis.cli import schemathesis as cli

    os.environ["SCHEMATHESIS_HOOKS"] = hooks.__name__
    try:
        cli.main(args=list(arguments), prog_name="schemathesis", standalone_mode=True)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


@contextlib.contextmanager
def serving(app: Any = None) -> Iterator[str]:
    """An ASGI app (default: the simulator over a fresh in-memory store) on a free local port, in this process."""
    import uvicorn

    from simulator.app import SimulatorSettings, create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    app = app or create_app(SimulatorSettings(db=":memory:", time_scale=0.001, processing_ms=200))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, name="payspec-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the simulator did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sandbox_merchant(url: str, currencies: list[str]) -> tuple[str, str]:
    """A merchant with every country and channel, and money in every currency."""
    answer = httpx.post(f"{url}/sandbox/merchants", json={"balances": {c: 10**12 for c in currencies}}, timeout=30)
    answer.raise_for_status()
    created = answer.json()
    return str(created["appId"]), str(created["appSecret"])
