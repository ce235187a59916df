"""The request pipeline every API operation goes through, in the gateway's order of checks.

    read     body within 1 MiB (413), JSON object or form (400, PARAM_ERROR)
    who      appId known (APP_ID_ERROR, unsigned), merchant enabled (MERCHANT_UNAVAILABLE),
             caller's address allowed (MERCHANT_IP_FORBIDDEN), rate (TOO_MANY_REQUESTS)
    trust    signature (SIGN_ERROR), timestamp well-formed and fresh (TIMESTAMP_MALFORMED, TIMESTAMP_EXPIRED),
             v1 values the signature can tell apart (PARAM_ERROR)
    shape    the generated request model; a bad field answers its x-invalid-code
    business the operation's service, in a savepoint of the turn's group transaction
    answer   the envelope, signed in the version's scheme when it signs answers,
             sent once the group has committed (or SERVER_ERROR if its commit failed)

Anything refused before `business` has not touched the store.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from generator.jsonvalues import integral
from generator.model import ApiModel

from .clock import Clock
from .runtime import OperationRuntime, Runtime, VersionRuntime
from .services import SERVICES, Call, Refusal, Settings
from .store import Merchant, Store

MAX_BODY = 1024 * 1024
MAX_DEPTH = 64
log = logging.getLogger("payspec.simulator")
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))  # as Starlette's JSONResponse


@dataclass
class Answer:
    status: int
    code: int
    body: dict[str, Any]
    app_id: str | None = None


class Gateway:
    def __init__(self, runtime: Runtime, store: Store, clock: Clock, settings: Settings) -> None:
        self.runtime = runtime
        self.store = store
        self.clock = clock
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One API call: a plain ASGI app, the path naming the version and the operation.

        Plain ASGI rather than a Starlette endpoint: one JSON body in, one out, and
        the Request and Response objects around them cost more than the routing.
        """
        started = time.perf_counter()
        path = scope["path"]
        version = self.runtime.versions[path.split("/", 2)[1]]
        op = version.operations.get(path)
        if op is None:
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        try:
            answer = await self._answer(scope, receive, version, op)
        except ClientDisconnect:
            return  # gone before its body arrived: nothing was done, no one to answer
        elapsed_ms = (time.perf_counter() - started) * 1000
        if log.isEnabledFor(logging.INFO):
            log.info(
                json.dumps(
                    {
                        "version": version.name,
                        "operation": op.operation.operation_id,
                        "appId": answer.app_id,
                        "code": answer.code,
                        "status": answer.status,
                        "ms": round(elapsed_ms, 2),
                    }
                )
            )
        body = _JSON.encode(answer.body).encode("utf-8")
        headers = [(b"content-length", str(len(body)).encode("latin-1")), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive, version: VersionRuntime, op: OperationRuntime) -> Answer:
        code = version.model.parameter_error_code
        unreadable = Answer(400, code, {"code": code, "message": version.message(code)})
        headers = Headers(scope=scope)
        raw = await read_within_limit(receive, headers)
        if raw is None:
            return Answer(413, code, unreadable.body)
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        files: dict[str, bytes] = {}
        if op.file_fields:
            if kind != "multipart/form-data":
                return unreadable
            parsed = await _form(scope, raw, op.file_fields)
            if parsed is None:
                return unreadable
            body, files = parsed
        else:
            if kind != "application/json":
                return unreadable
            parsed_json = _json_object(raw)
            if parsed_json is None:
                return unreadable
            body = parsed_json
        client = scope["client"][0] if scope.get("client") else ""
        base_url = _base_url(scope, headers)
        # Processed on the event loop: a request's SQLite work is a fraction of a millisecond,
        # cheaper than the hop to a worker thread and back.
        answer = self.process(version, op, body, files, client, base_url, raw=None if files else raw)
        # Taken at once, with nothing run since the request's last statement: the group it is in.
        committed = self.store.pending()
        if committed is not None:
            try:
                await committed
            except sqlite3.Error:
                log.exception("%s: the commit failed", op.operation.operation_id)
                merchant = self.store.merchant(answer.app_id) if answer.app_id else None
                return self._envelope(version, op, merchant, "SERVER_ERROR")
        return answer

    def process(
        self,
        version: VersionRuntime,
        op: OperationRuntime,
        body: dict[str, Any],
        files: dict[str, bytes],
        client: str,
        base_url: str,
        raw: bytes | None = None,
    ) -> Answer:
        signature = version.model.signature
        app_id = body.get(signature.app_id_field)
        merchant = self.store.merchant(app_id) if isinstance(app_id, str) else None
        if merchant is None:
            return self._envelope(version, op, None, "APP_ID_ERROR")
        now_ms = self.clock.now_ms()
        try:
            self._admit(version, op, merchant, body, files, client, now_ms)
            params = self._validate(op, {**body, **files}, raw)
            data = self._serve(version, op, merchant, params, files, now_ms, base_url)
        except Refusal as refusal:
            return self._envelope(version, op, merchant, refusal.code, refusal.data)
        except Exception:
            # A defect of the simulator, never the client's fault: answer as the gateway would
            # (SERVER_ERROR, retry later), with nothing changed, and say so loudly in the log.
            log.exception("%s failed", op.operation.operation_id)
            return self._envelope(version, op, merchant, "SERVER_ERROR")
        return self._envelope(version, op, merchant, version.model.success_code.value, data)

    def _admit(
        self,
        version: VersionRuntime,
        op: OperationRuntime,
        merchant: Merchant,
        body: dict[str, Any],
        files: dict[str, bytes],
        client: str,
        now_ms: int,
    ) -> None:
        signing = version.signing
        if not merchant.enabled:
            raise Refusal("MERCHANT_UNAVAILABLE")
        allowed = merchant.config.get("ipAllowList") or []
        if allowed and client not in allowed:
            raise Refusal("MERCHANT_IP_FORBIDDEN")
        rate = merchant.config.get("limits", {}).get("requestsPerSecond")
        if rate is not None:
            with self.store.grouped() as tx:
                if tx.count_request(merchant.app_id, now_ms // 1000) > rate:
                    raise Refusal("TOO_MANY_REQUESTS")
        if files:
            body = {**body, **{name: signing.file_digest(content) for name, content in files.items()}}
        if not signing.verify(body, merchant.secret):
            raise Refusal(op.invalid_code(signing.SIGN_FIELD))
        sent = signing.parse_timestamp(body.get(signing.TIMESTAMP_FIELD))
        if sent is None:
            raise Refusal(op.invalid_code(signing.TIMESTAMP_FIELD))
        if abs(self.clock.wall_ms() - sent) > signing.TIMESTAMP_TOLERANCE_MS:
            raise Refusal("TIMESTAMP_EXPIRED")
        if version.model.signature.is_ambiguous(body):
            raise Refusal(int(version.model.signature.ambiguous_code or version.model.parameter_error_code))

    def _validate(self, op: OperationRuntime, body: dict[str, Any], raw: bytes | None) -> dict[str, Any]:
        """The body checked against the generated request model, as JSON Schema would check it.

        JSON bodies are validated strictly from their own bytes ("150000" is not an
        integer); one that fails is tried once more with integral numbers such as
        150000.0 taken as the integers JSON Schema says they are. A form carries only
        text, so a multipart body is validated leniently.
        """
        if (raw is None or b"null" in raw) and _has_null(body):
            null = _declared_null(op.model, {"$ref": f"#/components/schemas/{op.operation.request_schema}"}, body)
            if null is not None:
                # No request field of the spec is nullable: a null is refused like any wrong type,
                # rather than read as "absent", which the generated models would allow.
                raise Refusal(op.invalid_code(null))
        try:
            if op.file_fields or raw is None:
                model = op.request_model.model_validate(body)
            else:
                try:
                    model = op.request_model.model_validate_json(raw, strict=True)
                except ValidationError:
                    model = op.request_model.model_validate_json(json.dumps(integral(body)), strict=True)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise Refusal(op.invalid_code(first["loc"])) from None
        # File contents stay bytes, beside the params (`Call.files`), never serialized.
        return model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude=op.file_attributes)

    def _serve(
        self,
        version: VersionRuntime,
        op: OperationRuntime,
        merchant: Merchant,
        params: dict[str, Any],
        files: dict[str, bytes],
        now_ms: int,
        base_url: str,
    ) -> dict[str, Any]:
        function, writes = SERVICES[op.operation.operation_id]
        call = Call(self.runtime, version, op, merchant, params, files, now_ms, self.settings, base_url)
        with self.store.grouped(writes=writes) as tx:
            data = function(call, tx)
            # Services build wire-shaped dicts; the generated model keeps them honest, before
            # the transaction commits, so an answer that would break the spec changes nothing.
            op.data_model.model_validate(data)
        return data

    def _envelope(
        self,
        version: VersionRuntime,
        op: OperationRuntime,
        merchant: Merchant | None,
        code: int | str,
        data: Any = None,
    ) -> Answer:
        """The answer with `code` (or the code of that name in the spec's tables)."""
        if isinstance(code, str):
            code = version.model.result_code(code).value
        if code not in op.codes:
            log.error("%s answered %s, which it does not document", op.operation.operation_id, code)
        body: dict[str, Any] = {"code": code, "message": version.message(code), "data": data}
        signature = version.model.signature
        if merchant is not None and signature.signs_responses and code not in signature.unsigned_response_codes:
            body[signature.field] = version.signing.sign(body, merchant.secret)
        return Answer(200, code, body, merchant.app_id if merchant else None)


async def read_within_limit(receive: Receive, headers: Headers) -> bytes | None:
    """The body, or None once it is past MAX_BODY (read no further: a client may send gigabytes).

    Raises ClientDisconnect if the client leaves before the body is all there.
    """
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return None
    raw = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        raw += message.get("body", b"")
        if len(raw) > MAX_BODY:
            return None
        if not message.get("more_body", False):
            return bytes(raw)


def _base_url(scope: Scope, headers: Headers) -> str:
    """Where this gateway is reached, for the URLs it hands out (pay pages, files)."""
    host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("127.0.0.1", 80)))
    return f"{scope.get('scheme', 'http')}://{host}"


def _has_null(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if node is None:
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _declared_null(model: ApiModel, schema: dict[str, Any], value: Any) -> list[str | int] | None:
    """The path of the first null given for a field the schema declares (undeclared fields are ignored)."""
    if not isinstance(value, dict):
        return None
    for field in model.properties(schema):
        if field.name not in value:
            continue
        item = value[field.name]
        if item is None:
            return [field.name]
        target = model.resolve(field.schema)
        if isinstance(item, dict):
            inner = _declared_null(model, field.schema, item)
            if inner is not None:
                return [field.name, *inner]
        elif isinstance(item, list) and "items" in target:
            for i, element in enumerate(item):
                if element is None:
                    return [field.name, i]
                inner = _declared_null(model, target["items"], element)
                if inner is not None:
                    return [field.name, i, *inner]
    return None


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    # A value is no deeper than it has brackets: most bodies need no walk to know.
    if not isinstance(value, dict) or (raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _depth(value) > MAX_DEPTH):
        return None
    return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


async def _form(
    scope: Scope, raw: bytes, file_fields: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, bytes]] | None:
    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    # The body was already read (to enforce the size limit): parse it from memory.
    try:
        form = await Request(scope, replay).form(max_files=len(file_fields), max_fields=64)
    except Exception:  # any form the parser refuses is unreadable
        return None
    fields: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name not in file_fields:
                return None
            files[name] = await value.read()
        elif name in file_fields:
            files[name] = value.encode("utf-8")  # a file sent as a plain part: its bytes are its text
        else:
            fields[name] = value
    return fields, files
