"""Sandbox-only controls under /sandbox/, outside the public API (see spec/sandbox/openapi.yaml).

They stand in for the world around the gateway: a merchant being onboarded,
a payer paying or authorizing, a channel refusing, a settlement run, time
passing. Every refusal is one line of JSON, `{"error": "..."}`, with 400
(bad input), 404 (nothing of that id), 413 (body over 1 MiB) or 501 (a
control whose service is not in this build); a page meant for a browser
(checkout, authorization) is self-contained HTML.

Whatever the gateway knows - countries, channels, currencies, failed codes -
is read from the runtime (the published specs), never typed here.
"""

from __future__ import annotations

import html
import importlib
import ipaddress
import json
import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .clock import Clock, day_start_ms, gateway_day
from .gateway import read_within_limit
from .runtime import Runtime, VersionRuntime
from .services.payins import PAY_INS, finish_payin
from .store import Merchant, Record, Store, Tx
from .worker import DUE, Worker

log = logging.getLogger("payspec.simulator")

SPEC = Path(__file__).resolve().parent.parent / "spec" / "sandbox" / "openapi.yaml"


def _spec_schemas() -> dict[str, Any]:
    with SPEC.open(encoding="utf-8") as text:
        # The C loader where there is one: a tenth of the pure-Python one's time, safe all the same.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=loader)["components"]["schemas"]  # type: ignore[no-any-return]  # noqa: S506


# What the merchant controls accept is written once, in the sandbox's own spec.
_MERCHANT = _spec_schemas()
MERCHANT_FIELDS = tuple(_MERCHANT["MerchantFields"]["properties"])
NEW_MERCHANT_FIELDS = (*_MERCHANT["NewMerchant"]["properties"], *MERCHANT_FIELDS)
SECRET = _MERCHANT["NewMerchant"]["properties"]["appSecret"]
CHANNEL_ENUMS = tuple(_MERCHANT["MerchantFields"]["properties"]["channels"]["properties"])
LIMITS = tuple(_MERCHANT["MerchantFields"]["properties"]["limits"]["properties"])
MAX_AMOUNT = int(_MERCHANT["Amounts"]["additionalProperties"]["maximum"])
"""Far above any market's limit, far below SQLite's integers."""
MAX_CLOCK_MS = 4_102_444_800_000
"""2100-01-01: the sandbox clock stays between the epoch and here."""
PAYOUT_KINDS = ("disbursement", "refund")
"""Kinds a due handler finishes: failing one plans the failure and lets the handler run."""
IN_FLIGHT = ("PENDING", "PROCESSING")
PAGE_SECURITY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"


class SandboxError(Exception):
    """A refusal of a sandbox control: one line of JSON with `status`."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(SandboxError):
    status = 404


class TooLarge(SandboxError):
    status = 413


class Unavailable(SandboxError):
    status = 501


Handler = Callable[[Request], Awaitable[Response]]


def sandbox_routes(runtime: Runtime, store: Store, clock: Clock, worker: Worker) -> list[Route]:
    schemas = runtime.schemas

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except SandboxError as exc:
                return problem(exc.message, exc.status)
            except Exception:  # a defect here, never the caller's fault; still one line of JSON
                log.exception("sandbox %s %s failed", request.method, request.url.path)
                return problem("the sandbox failed on this request; see the server log", 500)

        return endpoint

    # Merchants -------------------------------------------------------------------------------------

    async def create_merchant(request: Request) -> Response:
        body, _ = await read_body(request)
        unknown(body, NEW_MERCHANT_FIELDS)
        app_id = body.get("appId", "app_" + secrets.token_hex(6))
        secret = body.get("appSecret", "sk_sandbox_" + secrets.token_hex(16))
        app_id_schema = schemas["AppId"]  # the public specs' own: a sandbox merchant is a real one
        if not isinstance(app_id, str) or not re.fullmatch(app_id_schema["pattern"], app_id):
            raise SandboxError(f"appId matches {app_id_schema['pattern']}")
        if not app_id_schema["minLength"] <= len(app_id) <= app_id_schema["maxLength"]:
            raise SandboxError(f"appId is {app_id_schema['minLength']} to {app_id_schema['maxLength']} characters")
        shortest, longest = SECRET["minLength"], SECRET["maxLength"]
        if not isinstance(secret, str) or not shortest <= len(secret) <= longest or not secret.isprintable():
            raise SandboxError(f"appSecret is a string of {shortest} to {longest} printable characters")
        defaults: dict[str, Any] = {
            "enabled": True,
            "countries": list(schemas["Country"]["enum"]),
            "channels": {enum: list(schemas[enum]["enum"]) for enum in CHANNEL_ENUMS},
            "ipAllowList": [],
            "limits": {},
        }
        changes = merchant_changes(body)
        enabled = changes.pop("enabled", True)
        balances = changes.pop("balances", {})
        config = {**defaults, **changes, "channels": {**defaults["channels"], **changes.get("channels", {})}}
        del config["enabled"]
        merchant = Merchant(app_id, secret, enabled, config)

        def save() -> dict[str, Any]:
            with store.write() as tx:
                tx.save_merchant(merchant, clock.now_ms())
                set_balances(tx, app_id, balances)
                return {**merchant_view(tx, merchant), "appSecret": secret}

        return JSONResponse(await run_in_threadpool(save), status_code=201)

    async def update_merchant(request: Request) -> Response:
        app_id = request.path_params["appId"]
        body, _ = await read_body(request)
        unknown(body, MERCHANT_FIELDS)
        changes = merchant_changes(body)

        def save() -> dict[str, Any]:
            with store.write() as tx:
                merchant = tx.merchant(app_id)
                if merchant is None:
                    raise NotFound(f"no merchant {app_id}")
                balances = changes.pop("balances", {})
                merchant.enabled = changes.pop("enabled", merchant.enabled)
                channels = {**merchant.config.get("channels", {}), **changes.pop("channels", {})}
                merchant.config = {**merchant.config, **changes, "channels": channels}
                tx.save_merchant(merchant, clock.now_ms())
                set_balances(tx, app_id, balances)
                return merchant_view(tx, merchant)

        return JSONResponse(await run_in_threadpool(save))

    async def read_merchant(request: Request) -> Response:
        app_id = request.path_params["appId"]

        def run() -> dict[str, Any]:
            with store.read() as tx:
                merchant = tx.merchant(app_id)
                if merchant is None:
                    raise NotFound(f"no merchant {app_id}")
                return merchant_view(tx, merchant)

        return JSONResponse(await run_in_threadpool(run))

    def merchant_changes(body: dict[str, Any]) -> dict[str, Any]:
        """The merchant settings in `body`, checked against the spec's lists."""
        changes: dict[str, Any] = {}
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise SandboxError("enabled is true or false")
            changes["enabled"] = body["enabled"]
        if "countries" in body:
            changes["countries"] = codes_of(body["countries"], "Country", "countries")
        if "channels" in body:
            channels = body["channels"]
            if not isinstance(channels, dict):
                raise SandboxError(f"channels is an object of lists keyed by {', '.join(CHANNEL_ENUMS)}")
            unknown(channels, CHANNEL_ENUMS, "channels")
            changes["channels"] = {enum: codes_of(v, enum, f"channels.{enum}") for enum, v in channels.items()}
        if "ipAllowList" in body:
            changes["ipAllowList"] = addresses(body["ipAllowList"])
        if "limits" in body:
            changes["limits"] = limits_of(body["limits"])
        if "balances" in body:
            changes["balances"] = amounts_of(body["balances"], "balances")
        return changes

    def codes_of(value: Any, enum: str, name: str) -> list[str]:
        known = schemas[enum]["enum"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SandboxError(f"{name} is a list of {enum} codes")
        wrong = [v for v in value if v not in known]
        if wrong:
            raise SandboxError(f"{name}: {', '.join(map(repr, wrong[:5]))} not in {enum}")
        return list(dict.fromkeys(value))

    def addresses(value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SandboxError("ipAllowList is a list of IP addresses")
        try:
            return list(dict.fromkeys(str(ipaddress.ip_address(v)) for v in value))
        except ValueError as exc:
            raise SandboxError(f"ipAllowList: {exc}") from None

    def limits_of(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SandboxError(f"limits is an object with {', '.join(LIMITS)}")
        unknown(value, LIMITS, "limits")
        limits: dict[str, Any] = {}
        if "requestsPerSecond" in value:
            limits["requestsPerSecond"] = whole(value["requestsPerSecond"], "limits.requestsPerSecond", low=1)
        if "dailyCount" in value:
            limits["dailyCount"] = whole(value["dailyCount"], "limits.dailyCount")
        if "dailyVolume" in value:
            limits["dailyVolume"] = amounts_of(value["dailyVolume"], "limits.dailyVolume")
        return limits

    def amounts_of(value: Any, name: str) -> dict[str, int]:
        if not isinstance(value, dict):
            raise SandboxError(f"{name} is an object of amounts in minor units keyed by currency")
        wrong = [c for c in value if c not in schemas["Currency"]["enum"]]
        if wrong:
            raise SandboxError(f"{name}: {', '.join(map(repr, wrong[:5]))} not in Currency")
        return {currency: whole(amount, f"{name}.{currency}") for currency, amount in value.items()}

    def set_balances(tx: Tx, app_id: str, balances: dict[str, int]) -> None:
        """Set each currency's available balance; frozen and pending stay as they are."""
        current = {b.currency: b.available for b in tx.balances(app_id)}
        for currency, amount in balances.items():
            tx.move(app_id, currency, available=amount - current.get(currency, 0))

    def merchant_view(tx: Tx, merchant: Merchant) -> dict[str, Any]:
        return {
            "appId": merchant.app_id,
            "enabled": merchant.enabled,
            "countries": merchant.config.get("countries", []),
            "channels": merchant.config.get("channels", {}),
            "ipAllowList": merchant.config.get("ipAllowList", []),
            "limits": merchant.config.get("limits", {}),
            "balances": {
                b.currency: {"available": b.available, "frozen": b.frozen, "pending": b.pending}
                for b in tx.balances(merchant.app_id)
            },
        }

    # Payers and channels ---------------------------------------------------------------------------

    def pay_now(record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        unknown(fields, ("payMethod", "walletCode", "bankCode", "failedCode"))
        with store.write() as tx:
            record = in_flight(tx, record_id, PAY_INS, "pay-in")
            version = runtime.versions[record.version]
            failed = fields.get("failedCode", record.meta.get("failedCode"))
            if "failedCode" in fields:
                failed = failed_code(version, fields["failedCode"])
            channel = payer_channel(tx, record, fields)
            finish_payin(tx, version, record, clock.now_ms(), failed_code=failed, channel=channel)
            return record.data

    def fail_now(record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        unknown(fields, ("failedCode",))
        if "failedCode" not in fields:
            raise SandboxError("failedCode is required")
        with store.write() as tx:
            record = in_flight(tx, record_id, PAY_INS + PAYOUT_KINDS, "pay-in, payout or refund")
            version = runtime.versions[record.version]
            code = failed_code(version, fields["failedCode"])
            if record.kind in PAY_INS:
                finish_payin(tx, version, record, clock.now_ms(), failed_code=code)
                return record.data
            if record.kind not in DUE:
                raise Unavailable(f"a {record.kind} cannot be processed: its service is not in this build")
            # The payout's or refund's own handler finishes it, with its balance rules.
            record.meta["failedCode"] = code
            record.due_ms = clock.now_ms()
            tx.update(record)
        worker.process_due()
        with store.read() as tx:
            finished = tx.get(record_id)
        assert finished is not None
        return finished.data

    def in_flight(tx: Tx, record_id: str, kinds: tuple[str, ...], what: str) -> Record:
        record = tx.get(record_id)
        if record is None or record.kind not in kinds:
            raise NotFound(f"no {what} {record_id}")
        if record.status not in IN_FLIGHT:
            raise SandboxError(f"the {record.kind} is {record.status}, no longer in flight")
        return record

    def failed_code(version: VersionRuntime, value: Any) -> int:
        codes = [c.value for c in version.model.failed_codes()]
        if isinstance(value, bool) or value not in codes:
            raise SandboxError(f"failedCode is one of the failed codes, {min(codes)} to {max(codes)}")
        return int(value)

    def payer_channel(tx: Tx, record: Record, fields: dict[str, Any]) -> dict[str, str]:
        """The channel the payer paid with: fixed for a collection, the payer's choice at a checkout."""
        given = {k: fields[k] for k in ("payMethod", "walletCode", "bankCode") if k in fields}
        if not given:
            return {}
        if not all(isinstance(v, str) for v in given.values()):
            raise SandboxError("payMethod, walletCode and bankCode are strings")
        if record.kind != "cashier":
            if any(record.data.get(k) != v for k, v in given.items()):
                raise SandboxError("a collection's channel was chosen when it was created")
            return {}
        if "walletCode" in given and "bankCode" in given:
            raise SandboxError("a payer pays with a wallet or a bank, not both")
        choices = checkout_channels(tx, record)
        code = given.get("walletCode", given.get("bankCode"))
        if code is None:
            raise SandboxError("name the channel: walletCode or bankCode (and payMethod)")
        for method, field, offered in choices:
            if field in given and offered == code and given.get("payMethod", method) == method:
                return {"payMethod": method, field: code}
        listed = ", ".join(f"{m}/{c}" for m, _, c in choices) or "none"
        raise SandboxError(f"not a channel this checkout offers ({listed})")

    def checkout_channels(tx: Tx, record: Record) -> list[tuple[str, str, str]]:
        """(payMethod, field, code) a checkout offers: its methods, the merchant's channels in its country."""
        merchant = tx.merchant(record.app_id)
        opened = merchant.config.get("channels", {}) if merchant else {}
        methods = record.meta.get("payMethods") or schemas["PayMethod"]["enum"]
        offered = []
        for method in schemas["PayMethod"]["enum"]:
            if method == "TOKEN" or method not in methods:
                continue
            for enum, field in runtime.pay_in_channels:
                for code, channel in runtime.channels(enum).items():
                    serves = record.data.get("country") in channel["countries"] and method in channel["payMethods"]
                    if serves and code in opened.get(enum, []):
                        offered.append((method, field, code))
        return offered

    async def pay(request: Request) -> Response:
        body, _ = await read_body(request)
        return JSONResponse(await run_in_threadpool(pay_now, request.path_params["transactionId"], body))

    async def fail(request: Request) -> Response:
        body, _ = await read_body(request)
        return JSONResponse(await run_in_threadpool(fail_now, request.path_params["transactionId"], body))

    # Authorized-debit tokens -----------------------------------------------------------------------

    def token_answer(token: str, action: str) -> dict[str, Any]:
        function = service_function("authorization", f"{action}_token")
        with store.write() as tx:
            record = tx.get(token)
            if record is None or record.kind != "token":
                raise NotFound(f"no token {token}")
            if record.status != "PENDING":
                raise SandboxError(f"the token is {record.status}: only a PENDING token awaits the payer")
            try:
                function(tx, runtime, record, clock.now_ms())
            except ValueError as exc:
                raise SandboxError(str(exc).splitlines()[0] if str(exc) else "refused") from None
            answered = tx.get(token)
        assert answered is not None
        return answered.data

    def token_control(action: str) -> Handler:
        async def control(request: Request) -> Response:
            body, from_form = await read_body(request)
            unknown(body, ("via",))
            data = await run_in_threadpool(token_answer, request.path_params["token"], action)
            if from_form:  # the authorization page's buttons
                return page(
                    "Authorization " + ("given" if action == "authorize" else "declined"),
                    [f"<p>The token is now <strong>{esc(data.get('tokenStatus'))}</strong>.</p>"],
                )
            return JSONResponse(data)

        return control

    # Files -----------------------------------------------------------------------------------------

    async def download(request: Request) -> Response:
        ref = request.path_params["ref"]
        linked_file = service_function("account", "linked_file")

        def run() -> tuple[str, str] | None:
            with store.read() as tx:
                found: tuple[str, str] | None = linked_file(tx, ref, clock.now_ms())
                return found

        found = await run_in_threadpool(run)
        if found is None:
            raise NotFound(f"no file {ref}, or its link has expired")
        file_name, content = found
        safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", file_name) or "file.csv"
        return Response(
            content,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{safe_name}"', "X-Content-Type-Options": "nosniff"},
        )

    # Pages for a payer -----------------------------------------------------------------------------

    async def checkout_page(request: Request) -> Response:
        record_id = request.path_params["transactionId"]

        def run() -> tuple[Record, list[tuple[str, str, str]]]:
            with store.read() as tx:
                record = tx.get(record_id)
                if record is None or record.kind not in PAY_INS:
                    raise NotFound(f"no pay-in {record_id}")
                return record, checkout_channels(tx, record) if record.kind == "cashier" else []

        record, channels = await run_in_threadpool(run)
        data = record.data
        rows = [
            ("Merchant", record.app_id),
            ("Order", data.get("mchOrderId")),
            ("Amount", money(record.amount, record.currency)),
            ("Status", data.get("transactionStatus")),
        ]
        if data.get("walletCode") or data.get("bankCode"):
            rows.append(("Channel", f"{data.get('payMethod', '')} {data.get('walletCode') or data.get('bankCode')}"))
        parts = [table(rows)]
        if record.status == "PENDING":
            action = esc(f"/sandbox/checkout/{record.id}")
            fields = []
            if channels:
                options = "".join(
                    f'<option value="{esc(f"{m}:{c}")}">{esc(m)} - {esc(c)}</option>' for m, _, c in channels
                )
                fields.append(f'<p><label>Pay with <select name="channel">{options}</select></label></p>')
            failures = "".join(
                f'<option value="{c.value}">{c.value} {esc(c.message)}</option>'
                for c in runtime.versions[record.version].model.failed_codes()
            )
            parts.append(
                f'<form method="post" action="{action}">{"".join(fields)}'
                '<p><button name="action" value="pay">Pay</button></p>'
                f'<p><label>Or fail with <select name="failedCode">{failures}</select></label> '
                '<button name="action" value="fail">Fail</button></p></form>'
            )
        return page("Sandbox checkout", parts)

    async def checkout_submit(request: Request) -> Response:
        record_id = request.path_params["transactionId"]
        body, _ = await read_body(request)
        unknown(body, ("action", "channel", "failedCode"))
        action = body.get("action")
        if action == "pay":
            fields: dict[str, Any] = {}
            channel = body.get("channel")
            if channel is not None:
                if not isinstance(channel, str) or channel.count(":") != 1:
                    raise SandboxError("channel is PAYMETHOD:CODE")
                method, code = channel.split(":")
                field = "walletCode" if code in schemas["WalletCode"]["enum"] else "bankCode"
                fields = {"payMethod": method, field: code}
            data = await run_in_threadpool(pay_now, record_id, fields)
        elif action == "fail":
            data = await run_in_threadpool(fail_now, record_id, {"failedCode": integer(body.get("failedCode"))})
        else:
            raise SandboxError("action is pay or fail")
        lines = [f"<p>The payment is now <strong>{esc(data.get('transactionStatus'))}</strong>.</p>"]
        if data.get("failedCode") is not None:
            lines.append(f"<p>{esc(data['failedCode'])} {esc(data.get('failedMessage'))}</p>")
        lines.append(f'<p><a href="{esc(f"/sandbox/checkout/{record_id}")}">Back to the checkout</a></p>')
        return page("Sandbox checkout", lines)

    async def authorize_page(request: Request) -> Response:
        token = request.path_params["token"]

        def run() -> Record:
            with store.read() as tx:
                record = tx.get(token)
                if record is None or record.kind != "token":
                    raise NotFound(f"no token {token}")
                return record

        record = await run_in_threadpool(run)
        data = record.data
        rows = [
            ("Merchant", record.app_id),
            ("Authorization", data.get("mchAuthOrderId")),
            ("Payer", data.get("payerId")),
            ("Wallet", f"{data.get('walletCode', '')} ({data.get('country', '')})"),
            ("Status", data.get("tokenStatus", record.status)),
        ]
        if data.get("maxAmount") is not None:
            rows.append(("Each debit at most", money(int(data["maxAmount"]), markets_currency(data.get("country")))))
        parts = [table(rows)]
        if record.status == "PENDING":
            for action, label in (("authorize", "Authorize"), ("decline", "Decline")):
                target = esc(f"/sandbox/tokens/{record.id}/{action}")
                parts.append(
                    f'<form method="post" action="{target}"><input type="hidden" name="via" value="page">'
                    f"<button>{label}</button></form>"
                )
        return page("Sandbox authorization", parts)

    # Settlement, time, the worker ------------------------------------------------------------------

    async def settle(request: Request) -> Response:
        body, _ = await read_body(request)
        unknown(body, ("date", "appId"))
        day = body.get("date") or gateway_day(clock.now_ms())
        if not isinstance(day, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            raise SandboxError("date is yyyy-MM-dd")
        try:
            end_ms = day_start_ms(day) + 86_400_000
        except ValueError:
            raise SandboxError("date is yyyy-MM-dd") from None
        app_id = body.get("appId")
        if app_id is not None and not isinstance(app_id, str):
            raise SandboxError("appId is a string")

        def run() -> int:
            settled = 0
            with store.write() as tx:
                if app_id is not None and tx.merchant(app_id) is None:
                    raise NotFound(f"no merchant {app_id}")
                for record in tx.unsettled(PAY_INS, app_id):
                    if record.finished_ms < end_ms:
                        tx.move(record.app_id, str(record.currency), pending=-record.amount, available=record.amount)
                        record.meta["settled"] = True
                        tx.update(record)
                        settled += 1
            return settled

        return JSONResponse({"date": day, "settled": await run_in_threadpool(run)})

    async def move_clock(request: Request) -> Response:
        body, _ = await read_body(request)
        unknown(body, ("advanceSeconds",))
        seconds = body.get("advanceSeconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise SandboxError("advanceSeconds is a number")
        milliseconds = round(seconds * 1000)

        def run() -> int:
            if not 0 < clock.now_ms() + milliseconds < MAX_CLOCK_MS:
                raise SandboxError("advanceSeconds would take the clock before 1970 or past 2099")
            return clock.advance(milliseconds)

        return JSONResponse({"nowMs": await run_in_threadpool(run)})

    async def read_clock(request: Request) -> Response:
        return JSONResponse({"nowMs": await run_in_threadpool(clock.now_ms)})

    async def notifications(request: Request) -> Response:
        app_id = request.query_params.get("appId")

        def run() -> list[dict[str, Any]]:
            with store.read() as tx:
                return tx.notifications(app_id)

        return JSONResponse(await run_in_threadpool(run))

    async def process(request: Request) -> Response:
        finished = await run_in_threadpool(worker.process_due)
        return JSONResponse({"finished": finished})

    async def sandbox_spec(request: Request) -> Response:
        try:
            text = await run_in_threadpool(SPEC.read_text, "utf-8")
        except OSError:
            raise NotFound("the sandbox spec is not installed with this build") from None
        return Response(text, media_type="application/yaml; charset=utf-8")

    # Shared helpers --------------------------------------------------------------------------------

    def money(amount: int, currency: str | None) -> str:
        places = int(schemas["Currency"].get("x-minor-units", {}).get(currency or "", 2))
        whole_units = f"{amount / 10**places:,.{places}f}" if places else f"{amount:,}"
        return f"{whole_units} {currency or ''}".strip()

    def markets_currency(country: Any) -> str | None:
        market = runtime.markets().get(country) if isinstance(country, str) else None
        return str(market["currency"]) if market else None

    return [
        Route("/sandbox/merchants", guarded(create_merchant), methods=["POST"]),
        Route("/sandbox/merchants/{appId}", guarded(read_merchant), methods=["GET"]),
        Route("/sandbox/merchants/{appId}", guarded(update_merchant), methods=["POST"]),
        Route("/sandbox/transactions/{transactionId}/pay", guarded(pay), methods=["POST"]),
        Route("/sandbox/transactions/{transactionId}/fail", guarded(fail), methods=["POST"]),
        Route("/sandbox/tokens/{token}/authorize", guarded(token_control("authorize")), methods=["POST"]),
        Route("/sandbox/tokens/{token}/decline", guarded(token_control("decline")), methods=["POST"]),
        Route("/sandbox/files/{ref}", guarded(download), methods=["GET"]),
        Route("/sandbox/checkout/{transactionId}", guarded(checkout_page), methods=["GET"]),
        Route("/sandbox/checkout/{transactionId}", guarded(checkout_submit), methods=["POST"]),
        Route("/sandbox/authorize/{token}", guarded(authorize_page), methods=["GET"]),
        Route("/sandbox/settle", guarded(settle), methods=["POST"]),
        Route("/sandbox/clock", guarded(move_clock), methods=["POST"]),
        Route("/sandbox/clock", guarded(read_clock), methods=["GET"]),
        Route("/sandbox/notifications", guarded(notifications), methods=["GET"]),
        Route("/sandbox/process", guarded(process), methods=["POST"]),
        Route("/sandbox/openapi.yaml", guarded(sandbox_spec), methods=["GET"]),
    ]


# Module helpers ------------------------------------------------------------------------------------


def problem(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status)


async def read_body(request: Request) -> tuple[dict[str, Any], bool]:
    """The body as fields, and whether it came from an HTML form; empty is `{}`."""
    raw = await read_within_limit(request.receive, request.headers)
    if raw is None:
        raise TooLarge("the body is over 1 MiB")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=64)
        except ValueError:
            raise SandboxError("the form is not readable") from None
        return {name: values[-1] for name, values in form.items()}, True
    if not raw.strip():
        return {}, False
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise SandboxError("the body is not JSON") from None
    if not isinstance(value, dict):
        raise SandboxError("the body is not a JSON object")
    return value, False


def unknown(fields: dict[str, Any], known: Iterable[str], where: str = "the body") -> None:
    extra = sorted(set(fields) - set(known))
    if extra:
        raise SandboxError(f"{where} has no field {', '.join(map(repr, extra[:5]))}; known: {', '.join(known)}")


def whole(value: Any, name: str, *, low: int = 0, high: int = MAX_AMOUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SandboxError(f"{name} is a whole number from {low} to {high}")
    return value


def integer(value: Any) -> Any:
    """A form's text as an integer when it is one; anything else as it is, for the checks to refuse."""
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value.strip()):
        return int(value)
    return value


def service_function(module: str, name: str) -> Callable[..., Any]:
    """A function of a service module, imported when first needed: 501 when this build lacks it."""
    qualified = f"{__package__}.services.{module}"
    try:
        loaded = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name != qualified:
            raise
        raise Unavailable(f"{module} is not in this build of the sandbox") from None
    function = getattr(loaded, name, None)
    if not callable(function):
        raise Unavailable(f"{module}.{name} is not in this build of the sandbox")
    return function  # type: ignore[no-any-return]


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def table(rows: list[tuple[str, Any]]) -> str:
    cells = "".join(f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>" for label, value in rows)
    return f"<table>{cells}</table>"


def page(title: str, parts: list[str]) -> HTMLResponse:
    """A self-contained page: no script, no external asset, every echoed value escaped by the caller."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>"
        "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
        "th{text-align:left;padding-right:1rem}button{font-size:1rem;padding:.4rem 1.2rem}"
        ".note{color:#666;font-size:.85rem}"
        f"</style></head><body><h1>{esc(title)}</h1>{''.join(parts)}"
        '<p class="note">PayGate sandbox - no real money moves.</p></body></html>'
    )
    return HTMLResponse(
        document, headers={"Content-Security-Policy": PAGE_SECURITY, "X-Content-Type-Options": "nosniff"}
    )
