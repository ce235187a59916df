"""Schemathesis hooks and checks that understand this gateway.

Schemathesis's stock checks judge an API by its HTTP status. This gateway
answers every business outcome with HTTP 200 and a code in the body, and
wants a signature in the body, so here:

- `before_call` signs each request with the version's generated signer, after
  generation (an auth provider would sign too early, before schemathesis has
  finished the body), filling `appId` and a fresh `timestamp` first;
- the checks read the envelope: a schema-invalid body must be refused with a
  parameter code, a schema-valid one never with 21002, every code must be one
  the operation documents, v2 answers must carry a valid signature, and what
  a create made must be found by the query its links point to, and refuse a
  second create with the same merchant id.

Which stock checks are turned off, and why, is in `runner.EXCLUDED_CHECKS`.
The hooks are configured once per run by `configure()`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import schemathesis
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ..jsonvalues import integral
from ..model import ApiModel, Operation

Case = schemathesis.Case[Any]
Response = schemathesis.Response
Context = schemathesis.CheckContext


@dataclass
class Target:
    """What the hooks need to know about the run: the version, its signer and the merchant."""

    model: ApiModel
    signing: ModuleType
    app_id: str
    secret: str
    operations: dict[str, Operation] = field(default_factory=dict)
    validators: dict[str, Draft202012Validator] = field(default_factory=dict)
    created: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: int = 0

    def __repr__(self) -> str:
        return f"Target({self.model.name}, app_id={self.app_id!r})"


_target: Target | None = None


def configure(model: ApiModel, signing: ModuleType, app_id: str, secret: str) -> Target:
    """Point the hooks at a version and a merchant; call before the run."""
    global _target
    resource = Resource.from_contents(model.document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:spec", resource)
    target = Target(model, signing, app_id, secret)
    for op in model.operations:
        target.operations[op.path] = op
        # JSON Schema's `format` is an annotation, as the gateway treats it: no format checker.
        schema = {"$ref": f"urn:spec#/components/schemas/{op.request_schema}"}
        target.validators[op.path] = Draft202012Validator(schema, registry=registry)
    _target = target
    return target


def target() -> Target:
    if _target is None:
        raise RuntimeError("the contract hooks are not configured (generator.contract.hooks.configure)")
    return _target


# Signing ------------------------------------------------------------------------------------------


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    run = target()
    op = run.operations.get(case.operation.path)
    if op is None or not isinstance(case.body, dict):
        return  # nothing to sign: schemathesis is probing something that is not a JSON object
    sign_body(run, op, case.body)


def sign_body(run: Target, op: Operation, body: dict[str, Any]) -> None:
    """Fill the merchant and the time, then sign in place, as a client of the version would."""
    scheme = run.model.signature
    body[scheme.app_id_field] = run.app_id
    body[scheme.timestamp_field] = str(int(time.time() * 1000))
    body.pop(scheme.field, None)
    signed: dict[str, Any] = dict(body)
    if op.content_type.startswith("multipart/"):
        files = run.model.file_fields(op.request_schema)
        for name, value in list(body.items()):
            if name in files:
                content = value if isinstance(value, bytes) else str(value).encode("utf-8")
                signed[name] = run.signing.file_digest(content)
            elif not isinstance(value, str):
                # A form carries text: send, and sign, the JSON spelling of anything else.
                body[name] = signed[name] = json.dumps(value)
    # A value JSON cannot carry exactly is sent unsigned, and refused for it.
    with contextlib.suppress(ValueError):
        body[scheme.field] = run.signing.sign(signed, run.secret)


# Remembering what was created -----------------------------------------------------------------------


@schemathesis.hook
def after_call(context: schemathesis.HookContext, case: Case, response: Response) -> None:
    run = target()
    with run.lock:
        run.calls += 1
    op = run.operations.get(case.operation.path)
    envelope = _envelope(response)
    if op is None or envelope is None or envelope.get("code") != run.model.success_code.value:
        return
    data = envelope.get("data")
    for link in op.links:
        expected = {name: _pointer(data, str(expr)) for name, expr in link.request_body.items()}
        if all(v is not None for v in expected.values()):
            with run.lock:
                run.created.setdefault(link.operation_id, []).append(expected)


# Checks -------------------------------------------------------------------------------------------


@schemathesis.check
def documented_code(ctx: Context, response: Response, case: Case) -> None:
    """Every answer is an envelope with a code the operation documents; unreadable bodies get 21002."""
    _, op, envelope = _context(response, case)
    if op is None or envelope is None:
        return
    code = envelope.get("code")
    assert isinstance(code, int), f"the envelope's code is {code!r}"
    assert code in op.result_codes, f"{op.operation_id} answered {code}, which it does not document"
    if response.status_code != 200:
        expected = target().model.parameter_error_code
        assert code == expected, f"HTTP {response.status_code} must carry {expected}, not {code}"


@schemathesis.check
def invalid_input_refused(ctx: Context, response: Response, case: Case) -> None:
    """A body the schema rejects is refused: with 21002, or the code its bad field declares (x-invalid-code)."""
    run, op, envelope = _context(response, case)
    if op is None or envelope is None or not isinstance(case.body, dict) or _is_form(op):
        return
    errors = list(run.validators[op.path].iter_errors(integral(case.body)))
    if not errors:
        return
    allowed = {run.model.parameter_error_code}
    for error in errors:
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            # A missing field's error sits on its parent: the field is named in the keyword.
            missing = [name for name in error.validator_value if name not in error.instance]
            allowed |= {run.model.invalid_code(op.request_schema, [*path, name]) for name in missing}
        allowed.add(run.model.invalid_code(op.request_schema, path))
    code = envelope.get("code")
    assert code != run.model.success_code.value, f"a schema-invalid body was accepted: {errors[0].message}"
    assert code in allowed, f"a schema-invalid body ({errors[0].message}) got {code}, expected one of {sorted(allowed)}"


@schemathesis.check
def valid_input_not_a_parameter_error(ctx: Context, response: Response, case: Case) -> None:
    """A body the schema accepts is never refused as a parameter error (21002)."""
    run, op, envelope = _context(response, case)
    if op is None or envelope is None or not isinstance(case.body, dict) or _is_form(op):
        return
    if envelope.get("code") != run.model.parameter_error_code or response.status_code != 200:
        return
    if run.validators[op.path].is_valid(integral(case.body)) and not run.model.signature.is_ambiguous(case.body):
        raise AssertionError("a schema-valid body was refused with 21002")


@schemathesis.check
def answer_signed(ctx: Context, response: Response, case: Case) -> None:
    """Where the version signs answers, every answer the gateway could sign carries a valid signature."""
    run, op, envelope = _context(response, case)
    scheme = run.model.signature
    if op is None or envelope is None or not scheme.signs_responses or response.status_code != 200:
        return
    if envelope.get("code") in scheme.unsigned_response_codes:
        return
    assert run.signing.verify(envelope, run.secret), "the answer's signature is missing or wrong"


@schemathesis.check
def created_is_found(ctx: Context, response: Response, case: Case) -> None:
    """What a create made is found by the operations its links lead to: never 21006 for it."""
    run, op, envelope = _context(response, case)
    not_found = run.model.result_code("TRANSACTION_NOT_FOUND").value
    if op is None or envelope is None or envelope.get("code") != not_found or not isinstance(case.body, dict):
        return
    with run.lock:
        known = list(run.created.get(op.operation_id, ()))
    for values in known:
        if all(case.body.get(k) == v for k, v in values.items()):
            raise AssertionError(f"{op.operation_id} says {not_found} for {values}, which a create made")


@schemathesis.check
def repeated_id_refused(ctx: Context, response: Response, case: Case) -> None:
    """A create that reuses a merchant id that already made something is refused as a duplicate."""
    run, op, envelope = _context(response, case)
    key = _merchant_key(run, op) if op else None
    if op is None or envelope is None or key is None or not isinstance(case.body, dict):
        return
    value = case.body.get(key)
    succeeded = envelope.get("code") == run.model.success_code.value
    with run.lock:
        used = run.created.setdefault(f"repeat:{op.operation_id}", [])
        repeated = any(v[key] == value for v in used)
        if succeeded and not repeated:
            used.append({key: value})
    if repeated and succeeded:
        raise AssertionError(f"{op.operation_id} created a second record with {key}={value!r}")


# Helpers ------------------------------------------------------------------------------------------


def _context(response: Response, case: Case) -> tuple[Target, Operation | None, dict[str, Any] | None]:
    run = target()
    return run, run.operations.get(case.operation.path), _envelope(response)


def _envelope(response: Response) -> dict[str, Any] | None:
    try:
        value = json.loads(response.content)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "code" in value else None


def _is_form(op: Operation) -> bool:
    return op.content_type.startswith("multipart/")


def _merchant_key(run: Target, op: Operation | None) -> str | None:
    """The merchant id a create is deduplicated by: its required MerchantId field, if it documents a duplicate code."""
    if op is None:
        return None
    duplicates = next((set(f.codes) for f in run.model.families if f.name == "duplicate"), set())
    if run.model.idempotency:
        duplicates.discard(run.model.idempotency.code)
    if not duplicates & set(op.result_codes):
        return None
    for f in run.model.fields(op.request_schema):
        if f.required and str(f.schema.get("$ref", "")).endswith("/MerchantId"):
            return f.name
    return None


def _pointer(data: Any, expression: str) -> Any:
    """The value a link's `$response.body#/...` expression names in the answer's data."""
    prefix = "$response.body#/"
    if not expression.startswith(prefix):
        return None
    node: Any = {"data": data}
    for token in expression[len(prefix) :].split("/"):
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node
