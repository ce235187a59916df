"""The HTML reference of a version: one self-contained page, readable offline.

Everything on the page comes from the model: operations with their fields,
examples, codes and links; every schema; the code tables with their
families; the channel, market and currency tables (`x-channels`,
`x-markets`, `x-minor-units`); the sandbox test values; the notification
policy; and the signing scheme with a worked example that the toolkit's own
signer computes. This module shapes that into rows; `templates/docs/`
lays them out, autoescaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from ..bundle import ref_name
from ..changes import flatten
from ..config import Config, find_config
from ..fields import FieldInfo, constraints, field_tree, is_object, type_label
from ..model import ApiModel, Code, Example, Notification, Operation, TestValue
from ..output import OutputTree
from ..signing import load_signer

TEMPLATE = "docs/index.html.jinja"
FOLDER = "docs"
PAGE = "index.html"


def docs_path(version: str, config: Config | None = None) -> Path:
    """The generated reference of `version` (`generated/docs/<version>/index.html`), written by `payspec generate`."""
    config = config or find_config(Path(__file__).resolve().parent)
    return config.output / FOLDER / version / PAGE


@dataclass(frozen=True)
class DocField:
    path: str
    depth: int
    type: str
    type_anchor: str | None
    required: bool
    description: str
    bounds: str


@dataclass(frozen=True)
class DocExample:
    name: str
    summary: str
    json: str


@dataclass(frozen=True)
class DocLink:
    name: str
    operation_id: str
    request_body: str


@dataclass(frozen=True)
class DocOperation:
    operation: Operation
    sdk_call: str
    request_fields: tuple[DocField, ...]
    response_fields: tuple[DocField, ...]
    request_examples: tuple[DocExample, ...]
    response_examples: tuple[DocExample, ...]
    codes: tuple[Code, ...]
    links: tuple[DocLink, ...]
    test_values: tuple[TestValue, ...]


@dataclass(frozen=True)
class DocNotification:
    notification: Notification
    fields: tuple[DocField, ...]
    examples: tuple[DocExample, ...]


@dataclass(frozen=True)
class DocModule:
    tag: str
    description: str
    resource: str
    operations: tuple[DocOperation, ...]
    notifications: tuple[DocNotification, ...]


@dataclass(frozen=True)
class DocValue:
    value: Any
    name: str
    description: str


@dataclass(frozen=True)
class DocSchema:
    name: str
    kind: str
    description: str
    fields: tuple[DocField, ...]
    values: tuple[DocValue, ...]
    bounds: str
    code_table: bool


@dataclass(frozen=True)
class FactTable:
    """A per-value table of an extension (`x-channels`, `x-markets`, `x-minor-units`) of one schema."""

    schema: str
    extension: str
    description: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class SigningExample:
    operation_id: str
    example: str
    app_id: str
    secret: str
    body: str
    canonical: str
    string_to_sign: str
    sign: str
    matches: bool


def emit_docs(model: ApiModel, env: jinja2.Environment, tree: OutputTree) -> None:
    folder = f"{FOLDER}/{model.name}"
    tree.own(folder)
    tree.add(f"{folder}/{PAGE}", render_docs(model, env))


def render_docs(model: ApiModel, env: jinja2.Environment) -> str:
    return env.get_template(TEMPLATE).render(**docs_context(model))


def docs_context(model: ApiModel) -> dict[str, Any]:
    code_families: dict[int, list[str]] = {}
    for family in model.families:
        for value in family.codes:
            code_families.setdefault(value, []).append(family.name)
    delays = model.notification_policy.retry_delays_seconds
    return {
        "model": model,
        "scheme": model.signature,
        "signature": flatten(model.document.get("x-signature") or {}),
        "signing_example": _signing_example(model),
        "modules": tuple(_module(model, m.tag) for m in model.modules),
        "schemas": tuple(_schema(model, name) for name in model.schemas),
        "code_families": code_families,
        "fact_tables": _fact_tables(model),
        "cumulative_delays": tuple(sum(delays[: i + 1]) for i in range(len(delays))),
        "notifications": model.notifications,
    }


def _module(model: ApiModel, tag: str) -> DocModule:
    module = next(m for m in model.modules if m.tag == tag)
    return DocModule(
        tag=module.tag,
        description=module.description,
        resource=module.sdk_resource,
        operations=tuple(_operation(model, op, module.sdk_resource) for op in module.operations),
        notifications=tuple(
            DocNotification(n, _fields(model, model.schemas.get(n.schema, {})), _examples(n.examples))
            for n in module.notifications
        ),
    )


def _operation(model: ApiModel, op: Operation, resource: str) -> DocOperation:
    return DocOperation(
        operation=op,
        sdk_call=f"client.{resource}.{op.sdk_method}(...)",
        request_fields=_fields(model, model.schemas.get(op.request_schema, {})),
        response_fields=_fields(model, model.schemas.get(op.response_schema, {})),
        request_examples=_examples(op.request_examples),
        response_examples=_examples(op.response_examples),
        codes=tuple(model.code(c) for c in op.result_codes),
        links=tuple(DocLink(link.name, link.operation_id, _json(link.request_body)) for link in op.links),
        test_values=model.test_values_of(op.operation_id),
    )


def _fields(model: ApiModel, schema: dict[str, Any]) -> tuple[DocField, ...]:
    return tuple(_field(model, f) for f in field_tree(model, schema))


def _field(model: ApiModel, field: FieldInfo) -> DocField:
    name = ref_name(field.schema)
    if name is None:
        for branch in [*field.schema.get("anyOf", []), field.schema.get("items", {})]:
            name = name or ref_name(branch)
    return DocField(
        path=field.path,
        depth=field.path.count("."),
        type=field.type,
        type_anchor=f"schema-{name}" if name else None,
        required=field.required,
        description=field.description or model.resolve(field.schema).get("description", ""),
        bounds=_bounds(constraints(model, field.schema)),
    )


def _schema(model: ApiModel, name: str) -> DocSchema:
    schema = model.schemas[name]
    ref = {"$ref": f"#/components/schemas/{name}"}
    values: tuple[DocValue, ...] = ()
    if "enum" in schema:
        names = schema.get("x-enum-varnames") or [str(v) for v in schema["enum"]]
        texts = schema.get("x-enum-descriptions") or [""] * len(schema["enum"])
        values = tuple(DocValue(v, n, d) for v, n, d in zip(schema["enum"], names, texts, strict=False))
    kind = f"enum of {schema.get('type', 'values')}" if "enum" in schema else type_label(model, schema)
    return DocSchema(
        name=name,
        kind=kind,
        description=str(schema.get("description", "")),
        fields=_fields(model, ref) if is_object(schema) else (),
        values=values,
        bounds=_bounds(constraints(model, ref)),
        code_table="x-code-kind" in schema,
    )


def _fact_tables(model: ApiModel) -> tuple[FactTable, ...]:
    tables = []
    for name, schema in model.schemas.items():
        descriptions = dict(zip(schema.get("enum", []), schema.get("x-enum-descriptions", []), strict=False))
        for extension in ("x-channels", "x-markets", "x-minor-units"):
            facts = schema.get(extension)
            if not isinstance(facts, dict):
                continue
            flat = {value: flatten(entry) if isinstance(entry, dict) else {"": entry} for value, entry in facts.items()}
            columns = tuple(dict.fromkeys(key for entry in flat.values() for key in entry))
            rows = tuple(
                (str(value), descriptions.get(value, ""), *(_cell(entry.get(c)) for c in columns))
                for value, entry in flat.items()
            )
            headings = tuple(c or extension.removeprefix("x-").replace("-", " ") for c in columns)
            tables.append(FactTable(name, extension, str(schema.get("description", "")), headings, rows))
    return tuple(tables)


def _signing_example(model: ApiModel) -> SigningExample | None:
    """The first request example of an operation without files, signed by the toolkit's own signer."""
    signer = load_signer(model)
    scheme = model.signature
    for op in model.operations:
        if op.request_examples and not model.file_fields(op.request_schema):
            example = op.request_examples[0]
            body = example.value
            sign = signer.sign(body, scheme.example_secret)
            return SigningExample(
                operation_id=op.operation_id,
                example=example.name,
                app_id=scheme.example_app_id,
                secret=scheme.example_secret,
                body=_json(body),
                canonical=signer.canonical_string(body),
                string_to_sign=signer.string_to_sign(body, scheme.example_secret),
                sign=sign,
                matches=body.get(scheme.field) == sign,
            )
    return None


def _examples(examples: tuple[Example, ...]) -> tuple[DocExample, ...]:
    return tuple(DocExample(e.name, e.summary, _json(e.value)) for e in examples)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _bounds(found: dict[str, Any]) -> str:
    return ", ".join(f"{key} {json.dumps(value, ensure_ascii=False)}" for key, value in found.items())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
