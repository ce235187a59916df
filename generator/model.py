"""The one in-memory model of an API version that every emitter reads.

Built from a bundled, validated document. It holds what the emitters need in
the shape they need it - operations grouped by module, code tables with
their families, the signing scheme - and keeps the bundled document itself
for emitters that write or serve the spec as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .bundle import Bundle, follow, parse_pointer, ref_name
from .jsonvalues import strings
from .problems import Problem

CodeKind = Literal["result", "failed"]


@dataclass(frozen=True)
class Code:
    """One row of a code table."""

    value: int
    name: str
    message: str
    table: str


@dataclass(frozen=True)
class CodeTable:
    name: str
    kind: CodeKind
    description: str
    codes: tuple[Code, ...]


@dataclass(frozen=True)
class CodeFamily:
    """Codes a client handles alike; an exception base class in the SDK."""

    name: str
    description: str
    codes: tuple[int, ...]


@dataclass(frozen=True)
class SignatureScheme:
    """`x-signature`: how bodies are signed. The signer template reads this."""

    description: str
    field: str
    app_id_field: str
    omit_values: tuple[Any, ...]
    canonicalization: Literal["jcs", "sorted-query"]
    algorithm: Literal["hmac-sha256", "sha1"]
    signs_requests: bool
    signs_responses: bool
    signs_notifications: bool
    unsigned_response_codes: tuple[int, ...]
    timestamp_field: str
    tolerance_seconds: int
    timestamp_in_notifications: bool
    secret_suffix: str | None
    files: str | None
    example_app_id: str
    example_secret: str
    ambiguous_pattern: str | None
    ambiguous_code: int | None

    def is_ambiguous(self, body: Any) -> bool:
        """Whether the canonical form cannot tell this body apart from another (v1's `&k=v` in a value)."""
        if not self.ambiguous_pattern:
            return False
        pattern = re.compile(self.ambiguous_pattern)
        return any(pattern.search(text) for text in strings(body))


@dataclass(frozen=True)
class Idempotency:
    description: str
    field: str
    window_hours: int
    code: int


@dataclass(frozen=True)
class NotificationPolicy:
    """`x-notifications`: how the gateway delivers notifications."""

    description: str
    ack: str
    timeout_seconds: float
    retry_delays_seconds: tuple[float, ...]


@dataclass(frozen=True)
class Field:
    """A property of an object schema, flattened through allOf."""

    name: str
    schema: dict[str, Any]
    required: bool
    description: str


@dataclass(frozen=True)
class Example:
    name: str
    summary: str
    value: Any


@dataclass(frozen=True)
class Link:
    name: str
    operation_id: str
    request_body: dict[str, Any]


@dataclass(frozen=True)
class Operation:
    operation_id: str
    path: str
    tag: str
    summary: str
    description: str
    sdk_method: str
    retry_safe: bool
    result_codes: tuple[int, ...]
    content_type: str
    request_schema: str
    response_schema: str
    data_schema: str | None
    idempotent: bool
    request_examples: tuple[Example, ...]
    response_examples: tuple[Example, ...]
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Notification:
    key: str
    operation_id: str
    tag: str
    summary: str
    description: str
    sdk_method: str
    schema: str
    events: tuple[str, ...]
    examples: tuple[Example, ...]


@dataclass(frozen=True)
class Module:
    tag: str
    sdk_resource: str
    description: str
    operations: tuple[Operation, ...]
    notifications: tuple[Notification, ...]


@dataclass(frozen=True)
class TestValue:
    field: str
    value: Any
    effect: Literal["respond", "fail"]
    code: int
    operations: tuple[str, ...]


@dataclass
class ApiModel:
    """One API version, as read from its spec."""

    name: str
    title: str
    version: str
    description: str
    document: dict[str, Any]
    signature: SignatureScheme
    idempotency: Idempotency | None
    notification_policy: NotificationPolicy
    code_tables: tuple[CodeTable, ...]
    families: tuple[CodeFamily, ...]
    retryable_codes: tuple[int, ...]
    common_result_codes: tuple[int, ...]
    modules: tuple[Module, ...]
    test_values: tuple[TestValue, ...]
    sources: tuple[Path, ...] = ()
    _codes: dict[int, Code] = field(default_factory=dict, repr=False)
    _result_codes: dict[str, Code] = field(default_factory=dict, repr=False)
    _failed_codes: dict[str, Code] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._codes = {code.value: code for table in self.code_tables for code in table.codes}
        self._result_codes = {code.name: code for code in self.result_codes()}
        self._failed_codes = {code.name: code for code in self.failed_codes()}

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(op for module in self.modules for op in module.operations)

    @property
    def notifications(self) -> tuple[Notification, ...]:
        return tuple(n for module in self.modules for n in module.notifications)

    @property
    def schemas(self) -> dict[str, Any]:
        return self.document["components"]["schemas"]  # type: ignore[no-any-return]

    def code(self, value: int) -> Code:
        return self._codes[value]

    def result_code(self, name: str) -> Code:
        """The result code the spec names `name` (its `x-enum-varnames` entry)."""
        return self._result_codes[name]

    def failed_code(self, name: str) -> Code:
        """The failure code (of a payout, a refund, a share) the spec names `name`."""
        return self._failed_codes[name]

    @property
    def success_code(self) -> Code:
        """The result code named SUCCESS: the only one that carries the operation's data."""
        return self.result_code("SUCCESS")

    def result_codes(self) -> tuple[Code, ...]:
        return tuple(c for t in self.code_tables if t.kind == "result" for c in t.codes)

    def failed_codes(self) -> tuple[Code, ...]:
        return tuple(c for t in self.code_tables if t.kind == "failed" for c in t.codes)

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)

    def test_values_of(self, operation_id: str) -> tuple[TestValue, ...]:
        """The sandbox test values an operation answers to."""
        return tuple(v for v in self.test_values if operation_id in v.operations)

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow internal `$ref`s to the schema they name."""
        return _deref(self.document, schema)

    def fields(self, schema_name: str) -> tuple[Field, ...]:
        """The properties of an object schema, through allOf, in declaration order."""
        return self.properties(self.schemas[schema_name])

    def properties(self, schema: dict[str, Any]) -> tuple[Field, ...]:
        """The properties of any object schema (named, referenced or inline), through allOf."""
        collected: dict[str, Field] = {}
        self._collect(schema, collected, set())
        return tuple(collected.values())

    def file_fields(self, schema_name: str) -> tuple[str, ...]:
        """The properties of a multipart body that carry file bytes."""
        return tuple(f.name for f in self.fields(schema_name) if self.resolve(f.schema).get("format") == "binary")

    @property
    def parameter_error_code(self) -> int:
        """The result code named PARAM_ERROR: what a bad field answers unless its type says otherwise."""
        return self.result_code("PARAM_ERROR").value

    def invalid_code(self, schema_name: str, path: Sequence[str | int]) -> int:
        """The code for a missing or invalid field of a request body, by its path ("receivers", 0, "amount").

        The deepest `x-invalid-code` declared along the path wins; a field whose
        types declare none answers the parameter error code.
        """
        code = self.parameter_error_code
        schema: dict[str, Any] = {"$ref": f"#/components/schemas/{schema_name}"}
        for step in path:
            if isinstance(step, int):
                schema = self.resolve(schema).get("items", {})
                continue
            found = next((f for f in self.properties(schema) if f.name == step), None)
            if found is None:
                break
            schema = found.schema
            code = self._declared_invalid_code(schema) or code
        return code

    def _declared_invalid_code(self, schema: dict[str, Any]) -> int | None:
        """`x-invalid-code` of a schema, or of the nearest schema it refers to that has one."""
        while True:
            if "x-invalid-code" in schema:
                return int(schema["x-invalid-code"])
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                return None
            schema = follow(self.document, parse_pointer(ref[1:]))

    def _collect(self, schema: dict[str, Any], into: dict[str, Field], required: set[str]) -> None:
        schema = self.resolve(schema)
        needed = required | set(schema.get("required", []))
        for part in schema.get("allOf", []):
            self._collect(part, into, needed)
        for name, prop in (schema.get("properties") or {}).items():
            description = prop.get("description") or self.resolve(prop).get("description", "")
            into[name] = Field(name, prop, name in needed, description)
        for name in needed & set(into):
            existing = into[name]
            into[name] = Field(name, existing.schema, True, existing.description)


def build_model(name: str, bundle: Bundle, problems: list[Problem]) -> ApiModel | None:
    """Read the model out of a bundled document; None when it is too broken to use."""
    doc = bundle.document
    builder = _Builder(bundle, problems)
    signature = builder.signature(doc.get("x-signature"))
    tables = builder.code_tables(doc.get("components", {}).get("schemas", {}))
    policy = builder.notification_policy(doc.get("x-notifications"))
    if signature is None or not tables or policy is None:
        return None
    info = doc.get("info", {})
    idempotency = builder.idempotency(doc.get("x-idempotency"))
    common = tuple(doc.get("x-result-codes") or ())
    modules = builder.modules(doc, idempotency, common)
    return ApiModel(
        name=name,
        title=str(info.get("title", "")),
        version=str(info.get("version", "")),
        description=str(info.get("description", "")),
        document=doc,
        signature=signature,
        idempotency=idempotency,
        notification_policy=policy,
        code_tables=tables,
        families=builder.families(doc.get("x-code-families") or {}),
        retryable_codes=tuple(doc.get("x-retryable-codes") or ()),
        common_result_codes=common,
        modules=modules,
        sources=bundle.sources,
        test_values=_applicable(builder.test_values(doc.get("x-sandbox-test-values") or []), modules),
    )


def _applicable(values: tuple[TestValue, ...], modules: tuple[Module, ...]) -> tuple[TestValue, ...]:
    """The test values of this version: shared entries keep the operations that exist here and can answer them."""
    operations = {op.operation_id: op for module in modules for op in module.operations}
    kept = []
    for value in values:
        ids = tuple(
            i
            for i in value.operations
            if i in operations and (value.effect == "fail" or value.code in operations[i].result_codes)
        )
        if ids:
            kept.append(TestValue(value.field, value.value, value.effect, value.code, ids))
    return tuple(kept)


class _Builder:
    def __init__(self, bundle: Bundle, problems: list[Problem]) -> None:
        self.bundle = bundle
        self.problems = problems

    def fail(self, pointer: tuple[str, ...], message: str) -> None:
        self.problems.append(Problem(self.bundle.locate(pointer), "/" + "/".join(pointer), message))

    def signature(self, raw: Any) -> SignatureScheme | None:
        at = ("x-signature",)
        if not isinstance(raw, dict):
            self.fail(at, "x-signature is missing: the signing scheme must be in the spec")
            return None
        try:
            signs = raw["signs"]
            timestamp = raw["timestamp"]
            credentials = raw["exampleCredentials"]
            scheme = SignatureScheme(
                description=str(raw.get("description", "")),
                field=raw["field"],
                app_id_field=raw["appIdField"],
                omit_values=tuple(raw["omitValues"]),
                canonicalization=raw["canonicalization"],
                algorithm=raw["algorithm"],
                signs_requests=bool(signs["requests"]),
                signs_responses=bool(signs["responses"]),
                signs_notifications=bool(signs["notifications"]),
                unsigned_response_codes=tuple(raw.get("unsignedResponseCodes", ())),
                timestamp_field=timestamp["field"],
                tolerance_seconds=int(timestamp["toleranceSeconds"]),
                timestamp_in_notifications=bool(timestamp["inNotifications"]),
                secret_suffix=raw.get("secretSuffix"),
                files=raw.get("files"),
                example_app_id=credentials["appId"],
                example_secret=credentials["appSecret"],
                ambiguous_pattern=(raw.get("ambiguousValues") or {}).get("pattern"),
                ambiguous_code=(raw.get("ambiguousValues") or {}).get("code"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            self.fail(at, f"x-signature is incomplete: {exc!r}")
            return None
        if scheme.canonicalization not in ("jcs", "sorted-query"):
            self.fail((*at, "canonicalization"), f"unsupported canonicalization {scheme.canonicalization!r}")
            return None
        if scheme.algorithm not in ("hmac-sha256", "sha1"):
            self.fail((*at, "algorithm"), f"unsupported algorithm {scheme.algorithm!r}")
            return None
        if scheme.algorithm == "sha1" and not scheme.secret_suffix:
            self.fail(at, "a sha1 scheme needs secretSuffix: the secret is what makes it a signature")
            return None
        return scheme

    def notification_policy(self, raw: Any) -> NotificationPolicy | None:
        if not isinstance(raw, dict):
            self.fail(("x-notifications",), "x-notifications is missing: ack, timeoutSeconds and retryDelaysSeconds")
            return None
        try:
            return NotificationPolicy(
                str(raw.get("description", "")),
                str(raw["ack"]),
                float(raw["timeoutSeconds"]),
                tuple(float(d) for d in raw["retryDelaysSeconds"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            self.fail(("x-notifications",), f"x-notifications is incomplete: {exc!r}")
            return None

    def idempotency(self, raw: Any) -> Idempotency | None:
        if raw is None:
            return None
        try:
            return Idempotency(str(raw.get("description", "")), raw["field"], int(raw["windowHours"]), int(raw["code"]))
        except (KeyError, TypeError, ValueError) as exc:
            self.fail(("x-idempotency",), f"x-idempotency is incomplete: {exc!r}")
            return None

    def code_tables(self, schemas: dict[str, Any]) -> tuple[CodeTable, ...]:
        tables = []
        for name, schema in schemas.items():
            kind = schema.get("x-code-kind") if isinstance(schema, dict) else None
            if kind is None:
                continue
            at = ("components", "schemas", name)
            if kind not in ("result", "failed"):
                self.fail((*at, "x-code-kind"), f"x-code-kind must be result or failed, not {kind!r}")
                continue
            values = schema.get("enum", [])
            names = schema.get("x-enum-varnames", [])
            messages = schema.get("x-enum-descriptions", [])
            if not (len(values) == len(names) == len(messages)) or not all(isinstance(v, int) for v in values):
                self.fail(at, "a code table needs integer enum values, each with a name and a message")
                continue
            codes = tuple(Code(v, n, m, name) for v, n, m in zip(values, names, messages, strict=True))
            tables.append(CodeTable(name, kind, str(schema.get("description", "")), codes))
        if not tables:
            self.fail(("components", "schemas"), "no code tables (schemas with x-code-kind)")
        return tuple(tables)

    def families(self, raw: dict[str, Any]) -> tuple[CodeFamily, ...]:
        return tuple(
            CodeFamily(name, str(entry.get("description", "")), tuple(entry.get("codes", [])))
            for name, entry in raw.items()
        )

    def test_values(self, raw: list[Any]) -> tuple[TestValue, ...]:
        values = []
        for i, entry in enumerate(raw):
            try:
                code = entry["code"] if entry["effect"] == "respond" else entry["failedCode"]
                values.append(
                    TestValue(entry["field"], entry["value"], entry["effect"], int(code), tuple(entry["operations"]))
                )
            except (KeyError, TypeError, ValueError) as exc:
                self.fail(("x-sandbox-test-values", str(i)), f"test value is incomplete: {exc!r}")
        return tuple(values)

    def modules(
        self, doc: dict[str, Any], idempotency: Idempotency | None, common: tuple[int, ...]
    ) -> tuple[Module, ...]:
        operations: dict[str, list[Operation]] = {}
        notifications: dict[str, list[Notification]] = {}
        for path, item in (doc.get("paths") or {}).items():
            for method, raw in item.items():
                if method == "post" and isinstance(raw, dict):
                    op = self.operation(path, raw, common, doc, idempotency)
                    operations.setdefault(op.tag, []).append(op)
        for key, item in (doc.get("webhooks") or {}).items():
            raw = item.get("post") if isinstance(item, dict) else None
            if isinstance(raw, dict):
                note = self.notification(key, raw)
                notifications.setdefault(note.tag, []).append(note)
        modules = []
        for tag in doc.get("tags", []):
            name = tag["name"]
            modules.append(
                Module(
                    tag=name,
                    sdk_resource=str(tag.get("x-sdk-resource", "")),
                    description=str(tag.get("description", "")),
                    operations=tuple(operations.get(name, ())),
                    notifications=tuple(notifications.get(name, ())),
                )
            )
        return tuple(modules)

    def operation(
        self,
        path: str,
        raw: dict[str, Any],
        common: tuple[int, ...],
        doc: dict[str, Any],
        idempotency: Idempotency | None,
    ) -> Operation:
        content_type, request = _single_content(raw.get("requestBody", {}))
        _, response = _single_content(raw.get("responses", {}).get("200", {}))
        request_schema = ref_name(request.get("schema", {})) or ""
        response_schema = ref_name(response.get("schema", {})) or ""
        request_fields = _flat_properties(doc, request.get("schema", {}))
        links = tuple(
            Link(name, link["operationId"], dict(link.get("requestBody") or {}))
            for name, link in (raw.get("responses", {}).get("200", {}).get("links") or {}).items()
        )
        return Operation(
            operation_id=raw["operationId"],
            path=path,
            tag=raw["tags"][0],
            summary=raw.get("summary", ""),
            description=raw.get("description", ""),
            sdk_method=raw["x-sdk-method"],
            retry_safe=bool(raw.get("x-retry-safe")),
            result_codes=tuple(sorted(set(common) | set(raw.get("x-result-codes", [])))),
            content_type=content_type,
            request_schema=request_schema,
            response_schema=response_schema,
            data_schema=_data_schema(doc, response.get("schema", {})),
            idempotent=idempotency is not None and idempotency.field in request_fields,
            request_examples=_examples(request),
            response_examples=_examples(response),
            links=links,
        )

    def notification(self, key: str, raw: dict[str, Any]) -> Notification:
        _, request = _single_content(raw.get("requestBody", {}))
        return Notification(
            key=key,
            operation_id=raw["operationId"],
            tag=raw["tags"][0],
            summary=raw.get("summary", ""),
            description=raw.get("description", ""),
            sdk_method=raw["x-sdk-method"],
            schema=(ref_name(request.get("schema", {})) or ""),
            events=tuple(raw.get("x-events", ())),
            examples=_examples(request),
        )


def _single_content(holder: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for media, content in (holder.get("content") or {}).items():
        return media, content
    return "", {}


def _deref(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while isinstance(ref := schema.get("$ref"), str):
        schema = follow(doc, parse_pointer(ref[1:]))
    return schema


def _flat_properties(doc: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = _deref(doc, schema)
    names = set(schema.get("properties") or {})
    for part in schema.get("allOf", []):
        names |= _flat_properties(doc, part)
    return names


def _data_schema(doc: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """The named schema of `data` in a response envelope (its non-null anyOf branch)."""
    schema = _deref(doc, schema)
    for part in [schema, *schema.get("allOf", [])]:
        data = (_deref(doc, part).get("properties") or {}).get("data")
        if isinstance(data, dict):
            for branch in data.get("anyOf", [data]):
                if "$ref" in branch:
                    return ref_name(branch) or ""
    return None


def _examples(content: dict[str, Any]) -> tuple[Example, ...]:
    found = []
    if "example" in content:
        found.append(Example("default", "", content["example"]))
    for name, example in (content.get("examples") or {}).items():
        found.append(Example(name, str(example.get("summary", "")), example.get("value")))
    return tuple(found)
