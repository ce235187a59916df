"""Each gateway-aware check catches the fault it exists for, planted in the simulator on purpose.

The simulator is wrapped in an ASGI middleware that corrupts one operation's
answers in one way; `payspec fuzz` against it must fail, naming the check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from generator.config import Config
from generator.contract.runner import FuzzOptions, fuzz, sandbox_merchant, serving
from generator.model import ApiModel
from paygate_v2 import _signing
from simulator.app import SimulatorSettings, create_app

Mutation = Callable[[dict[str, Any], str], dict[str, Any] | None]  # envelope, secret -> new envelope (None: HTTP 500)


class Faulty:
    """The simulator, with one operation's answers rewritten by `mutate`."""

    def __init__(self, path: str, mutate: Mutation) -> None:
        self.app = create_app(SimulatorSettings(db=":memory:", time_scale=0.001, processing_ms=200))
        self.path = path
        self.mutate = mutate
        self.secret = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        try:
            if start["status"] != 200:
                raise ValueError("only answers the gateway made are corrupted")
            envelope = json.loads(b"".join(chunks))
        except ValueError:  # 400/413/405 answers, not envelopes of an answer: passed through as they were
            await send(start)
            await send({"type": "http.response.body", "body": b"".join(chunks)})
            return
        changed = self.mutate(envelope, self.secret)
        if changed is None:
            body, status = b"Internal Server Error", 500
        else:
            body, status = json.dumps(changed).encode(), start["status"]
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def resigned(envelope: dict[str, Any], secret: str, **changes: Any) -> dict[str, Any]:
    """The envelope with `changes`, signed again, so that only the planted fault is wrong."""
    changed = {k: v for k, v in {**envelope, **changes}.items() if k != "sign"}
    changed["sign"] = _signing.sign(changed, secret)
    return changed


def recode(old: int, new: int) -> Mutation:
    return lambda e, s: resigned(e, s, code=new, data=e.get("data")) if e.get("code") == old else e


FAULTS: dict[str, tuple[str, Mutation, str, str]] = {
    # name: (path, mutation, phases, the check that must fail)
    "refusal turned into success": (
        "/v2/collection/query",
        lambda e, s: resigned(e, s, code=10000, message="Success") if e.get("code") == 21002 else e,
        "coverage,fuzzing",
        "invalid_input_refused",
    ),
    "valid input called a parameter error": (
        "/v2/collection/query",
        recode(21006, 21002),
        "fuzzing",
        "valid_input_not_a_parameter_error",
    ),
    "undocumented code": ("/v2/collection/query", recode(21006, 21501), "fuzzing", "documented_code"),
    "unsigned answer": (
        "/v2/collection/query",
        lambda e, s: {k: v for k, v in e.items() if k != "sign"},
        "fuzzing",
        "answer_signed",
    ),
    "server error": ("/v2/collection/query", lambda e, s: None, "fuzzing", "Server error"),
    "created order not found": ("/v2/collection/query", recode(10000, 21006), "examples,stateful", "created_is_found"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_check_catches_the_planted_fault(
    config: Config, models: dict[str, ApiModel], fault: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, mutate, phases, check = FAULTS[fault]
    faulty = Faulty(path, mutate)
    operations = ("queryCollection",) if "stateful" not in phases else ("createCollection", "queryCollection")
    with serving(faulty) as url:
        app_id, faulty.secret = sandbox_merchant(url, models["v2"].schemas["Currency"]["enum"])
        options = FuzzOptions(
            version="v2", url=url, app_id=app_id, secret=faulty.secret, max_examples=25, seed=7,
            phases=phases, operations=operations,
        )  # fmt: skip
        status = fuzz(config, options)
    output = capsys.readouterr().out
    assert status != 0, f"the planted fault ({fault}) went unnoticed:\n{output[-3000:]}"
    assert check in output, output[-3000:]
    assert "Reproduce with" in output and "curl" in output


@pytest.mark.parametrize("phases", ["coverage,fuzzing", "examples,stateful"])
def test_without_a_fault_the_same_run_passes(
    config: Config, models: dict[str, ApiModel], phases: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: the wrapper alone changes nothing, so a failure above is the planted fault's."""
    faulty = Faulty("/v2/collection/query", lambda e, s: e)
    with serving(faulty) as url:
        app_id, faulty.secret = sandbox_merchant(url, models["v2"].schemas["Currency"]["enum"])
        options = FuzzOptions(
            version="v2", url=url, app_id=app_id, secret=faulty.secret, max_examples=25, seed=7,
            phases=phases, operations=("createCollection", "queryCollection"),
        )  # fmt: skip
        assert fuzz(config, options) == 0, capsys.readouterr().out[-3000:]
