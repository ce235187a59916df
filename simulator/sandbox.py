"""Sandbox-only controls under /sandbox/, outside the public API (see spec/sandbox/openapi.yaml).

They stand in for the world around the gateway: a merchant being onboarded,
a payer paying, a channel refusing, a settlement run, time passing.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clock import Clock, day_start_ms, gateway_day
from .runtime import Runtime
from .services.payins import PAY_INS, finish_payin
from .store import Merchant, Store
from .worker import Worker


class _Invalid(Exception):
    pass


def sandbox_routes(runtime: Runtime, store: Store, clock: Clock, worker: Worker) -> list[Route]:
    def problem(message: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise _Invalid("the body is not JSON") from exc
        if not isinstance(value, dict):
            raise _Invalid("the body is not a JSON object")
        return value

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)  # type: ignore[no-any-return]
            except _Invalid as exc:
                return problem(str(exc))
            except LookupError as exc:
                return problem(str(exc), 404)

        return endpoint

    async def create_merchant(request: Request) -> Response:
        body = await body_of(request)
        schemas = runtime.schemas
        app_id = body.get("appId") or "app_" + secrets.token_hex(6)
        secret = body.get("appSecret") or "sk_sandbox_" + secrets.token_hex(16)
        if not isinstance(app_id, str) or not isinstance(secret, str):
            raise _Invalid("appId and appSecret are strings")
        config = {
            "countries": body.get("countries", schemas["Country"]["enum"]),
            "channels": {
                enum: body.get("channels", {}).get(enum, schemas[enum]["enum"])
                for enum in ("WalletCode", "BankCode", "TransferCode")
            },
            "ipAllowList": body.get("ipAllowList", []),
            "limits": body.get("limits", {}),
        }
        balances = body.get("balances", {})
        if not all(isinstance(v, int) and v >= 0 for v in balances.values()):
            raise _Invalid("balances are non-negative integers in minor units")
        merchant = Merchant(app_id, secret, bool(body.get("enabled", True)), config)

        def save() -> None:
            with store.write() as tx:
                tx.save_merchant(merchant, clock.now_ms())
                for currency, amount in balances.items():
                    current = {b.currency: b.available for b in tx.balances(app_id)}.get(currency, 0)
                    tx.move(app_id, currency, available=amount - current)

        await run_in_threadpool(save)
        return JSONResponse({"appId": app_id, "appSecret": secret, "enabled": merchant.enabled, **config}, status_code=201)

    async def pay(request: Request) -> Response:
        body = await body_of(request)
        record_id = request.path_params["transactionId"]

        def run() -> dict[str, Any]:
            with store.write() as tx:
                record = tx.get(record_id)
                if record is None or record.kind not in PAY_INS:
                    raise LookupError(f"no pay-in {record_id}")
                if record.status != "PENDING":
                    raise _Invalid(f"the pay-in is {record.status}")
                channel = {k: body[k] for k in ("payMethod", "walletCode", "bankCode") if k in body}
                failed = body.get("failedCode", record.meta.get("failedCode"))
                finish_payin(tx, runtime.versions[record.version], record, clock.now_ms(), failed_code=failed, channel=channel)
                return record.data

        return JSONResponse(await run_in_threadpool(run))

    async def settle(request: Request) -> Response:
        body = await body_of(request)
        day = body.get("date") or gateway_day(clock.now_ms())
        if not isinstance(day, str):
            raise _Invalid("date is yyyy-MM-dd")
        try:
            end_ms = day_start_ms(day) + 86_400_000
        except ValueError as exc:
            raise _Invalid("date is yyyy-MM-dd") from exc

        def run() -> int:
            settled = 0
            with store.write() as tx:
                for record in tx.unsettled(PAY_INS, body.get("appId")):
                    if record.meta.get("finishedMs", record.created_ms) < end_ms:
                        tx.move(record.app_id, str(record.currency), pending=-record.amount, available=record.amount)
                        record.meta["settled"] = True
                        tx.update(record)
                        settled += 1
            return settled

        return JSONResponse({"date": day, "settled": await run_in_threadpool(run)})

    async def move_clock(request: Request) -> Response:
        body = await body_of(request)
        seconds = body.get("advanceSeconds", 0)
        if not isinstance(seconds, (int, float)):
            raise _Invalid("advanceSeconds is a number")
        now = await run_in_threadpool(clock.advance, int(seconds * 1000))
        return JSONResponse({"nowMs": now})

    async def read_clock(request: Request) -> Response:
        return JSONResponse({"nowMs": clock.now_ms()})

    async def notifications(request: Request) -> Response:
        app_id = request.query_params.get("appId")

        def run() -> list[dict[str, Any]]:
            with store.read() as tx:
                return tx.notifications(app_id)

        return JSONResponse(await run_in_threadpool(run))

    async def process(request: Request) -> Response:
        finished = await run_in_threadpool(worker.process_due)
        return JSONResponse({"finished": finished})

    return [
        Route("/sandbox/merchants", guarded(create_merchant), methods=["POST"]),
        Route("/sandbox/transactions/{transactionId}/pay", guarded(pay), methods=["POST"]),
        Route("/sandbox/settle", guarded(settle), methods=["POST"]),
        Route("/sandbox/clock", guarded(move_clock), methods=["POST"]),
        Route("/sandbox/clock", guarded(read_clock), methods=["GET"]),
        Route("/sandbox/notifications", guarded(notifications), methods=["GET"]),
        Route("/sandbox/process", guarded(process), methods=["POST"]),
    ]
