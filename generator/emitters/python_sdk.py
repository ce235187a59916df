"""The Python SDK of a version: models, clients, exceptions, signer, notification verifier.

This module turns the `ApiModel` into what the templates need - Python names,
type annotations, the exception tree - so that templates stay free of logic,
then renders one file per template into the output tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from ..bundle import ref_name
from ..model import ApiModel, Field, Module, Notification, Operation
from ..output import OutputTree, file_header
from ..render import pascal_case, snake_case
from ..signing import SIGNER_TEMPLATE
from .models import models_source

PACKAGE_TEMPLATES = {
    "python/__init__.py.jinja": "__init__.py",
    "python/_base_client.py.jinja": "_base_client.py",
    "python/_client.py.jinja": "_client.py",
    "python/_exceptions.py.jinja": "_exceptions.py",
    SIGNER_TEMPLATE: "_signing.py",
    "python/notifications.py.jinja": "notifications.py",
    "python/resources/__init__.py.jinja": "resources/__init__.py",
}
PROJECT_TEMPLATES = {
    "python/pyproject.toml.jinja": "pyproject.toml",
    "python/README.md.jinja": "README.md",
}


@dataclass(frozen=True)
class Argument:
    """A keyword argument of an SDK method, mapped to one wire field."""

    name: str
    wire: str
    annotation: str
    required: bool
    description: str


@dataclass(frozen=True)
class Method:
    name: str
    operation: Operation
    constant: str
    arguments: tuple[Argument, ...]
    file_arguments: tuple[Argument, ...]
    params_model: str
    data_model: str
    raises: tuple[tuple[str, int, str], ...]


@dataclass(frozen=True)
class Resource:
    module: Module
    attribute: str
    file: str
    class_name: str
    methods: tuple[Method, ...]


@dataclass(frozen=True)
class ErrorClass:
    name: str
    bases: tuple[str, ...]
    code: int | None
    doc: str


@dataclass(frozen=True)
class Event:
    name: str
    model: str
    notification: Notification


class SdkError(Exception):
    """The spec cannot be turned into a Python SDK (a name collision, an unknown type)."""


def emit_python_sdk(
    model: ApiModel,
    package: str,
    spec_label: str,
    env: jinja2.Environment,
    tree: OutputTree,
    cache: Path | None,
    models_ready: Callable[[], None] = lambda: None,
) -> None:
    """The SDK package of `model`; its models last, after `models_ready` (a process making them may be running)."""
    project = f"python/{package}"
    tree.own(project)
    header = file_header(model.document, spec_label)
    context = sdk_context(model, package, header)
    for template, target in PACKAGE_TEMPLATES.items():
        tree.add(f"{project}/{package}/{target}", env.get_template(template).render(**context))
    for resource in context["resources"]:
        source = env.get_template("python/resources/resource.py.jinja").render(resource=resource, **context)
        tree.add(f"{project}/{package}/resources/{resource.file}.py", source)
    for template, target in PROJECT_TEMPLATES.items():
        tree.add(f"{project}/{target}", env.get_template(template).render(**context))
    tree.add(f"{project}/{package}/py.typed", "")
    models_ready()
    tree.add(f"{project}/{package}/models.py", models_source(model.document, header, cache))


def sdk_context(model: ApiModel, package: str, header: str) -> dict[str, Any]:
    """Everything the SDK templates render from."""
    errors = _error_classes(model)
    by_code = {e.code: e.name for e in errors if e.code is not None}
    resources = tuple(_resource(model, module, by_code) for module in model.modules if module.operations)
    events = tuple(Event(event, note.schema, note) for note in model.notifications for event in note.events)
    servers = model.document.get("servers") or [{"url": "http://127.0.0.1:8765"}]
    examples = {m.operation.operation_id: _example_call(model, m) for r in resources for m in r.methods}
    return {
        "model": model,
        "scheme": model.signature,
        "package": package,
        "header": header,
        "resources": resources,
        "errors": errors,
        "families": [e for e in errors if e.code is None],
        "events": events,
        "default_base_url": servers[0]["url"],
        "examples": examples,
    }


def _example_call(model: ApiModel, method: Method) -> list[tuple[str, str]]:
    """Keyword arguments, as Python source, taken from the operation's first request example."""
    if not method.operation.request_examples:
        return []
    value = method.operation.request_examples[0].value
    fields = {f.name: f for f in model.fields(method.params_model)}
    return [
        (arg.name, _literal(model, fields[arg.wire].schema, value[arg.wire]))
        for arg in (*method.file_arguments, *method.arguments)
        if arg.wire in value
    ]


def _literal(model: ApiModel, schema: dict[str, Any], value: Any) -> str:
    if "$ref" in schema:
        name = ref_name(schema) or ""
        target = model.schemas[name]
        if "enum" in target and value in target["enum"]:
            return f"models.{name}.{target['x-enum-varnames'][target['enum'].index(value)]}"
        if target.get("type") == "object" and isinstance(value, dict):
            props = target.get("properties", {})
            inner = ", ".join(f"{k!r}: {_literal(model, props.get(k, {}), v)}" for k, v in value.items())
            return f"models.{name}.model_validate({{{inner}}})"
        return _literal(model, target, value)
    if schema.get("type") == "array" and isinstance(value, list):
        return "[" + ", ".join(_literal(model, schema.get("items", {}), v) for v in value) + "]"
    if schema.get("format") == "binary":
        return "open('proof.pdf', 'rb').read()"
    return repr(value)


def _error_classes(model: ApiModel) -> tuple[ErrorClass, ...]:
    """One base class per family, one class per refusal code under its families."""
    classes: list[ErrorClass] = []
    family_of: dict[int, list[str]] = {}
    for family in model.families:
        name = pascal_case(family.name) + "Error"
        classes.append(ErrorClass(name, ("APIError",), None, family.description))
        for value in family.codes:
            family_of.setdefault(value, []).append(name)
    for code in model.result_codes():
        if code.value == model.success_code.value:
            continue
        name = pascal_case(code.name)
        name = name if name.endswith("Error") else name + "Error"
        bases = tuple(family_of.get(code.value, ["APIError"]))
        classes.append(ErrorClass(name, bases, code.value, f"{code.value} {code.message}"))
    names = [c.name for c in classes]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise SdkError(
            f"exception class names clash: {', '.join(clashes)} (rename a family or an x-enum-varnames entry)"
        )
    return tuple(classes)


def _resource(model: ApiModel, module: Module, error_names: dict[int, str]) -> Resource:
    methods = tuple(_method(model, op, error_names) for op in module.operations)
    return Resource(
        module=module,
        attribute=module.sdk_resource,
        file=module.sdk_resource,
        class_name=pascal_case(module.sdk_resource) + "Resource",
        methods=methods,
    )


def _method(model: ApiModel, op: Operation, error_names: dict[int, str]) -> Method:
    envelope = {model.signature.app_id_field, model.signature.timestamp_field, model.signature.field}
    if model.idempotency:
        envelope.add(model.idempotency.field)
    params = _params_schema(model, op)
    files = set(model.file_fields(op.request_schema))
    arguments = [_argument(model, f) for f in model.fields(params) if f.name not in envelope]
    ordered = sorted(arguments, key=lambda a: not a.required)
    if op.data_schema is None:
        raise SdkError(f"{op.operation_id}: its response has no named data schema")
    raises = tuple((error_names[c], c, model.code(c).message) for c in op.result_codes if c in error_names)
    return Method(
        name=op.sdk_method,
        operation=op,
        constant="_" + snake_case(op.operation_id).upper(),
        arguments=tuple(a for a in ordered if a.wire not in files),
        file_arguments=tuple(a for a in ordered if a.wire in files),
        params_model=params,
        data_model=op.data_schema,
        raises=raises,
    )


def _params_schema(model: ApiModel, op: Operation) -> str:
    """The business part of a request: the allOf member with neither the signature nor the idempotency id."""
    request = model.schemas[op.request_schema]
    plumbing = {model.signature.field} | ({model.idempotency.field} if model.idempotency else set())
    parts = [name for part in request.get("allOf", []) if (name := ref_name(part))]
    business = [p for p in parts if not plumbing & {f.name for f in model.fields(p)}]
    if len(business) != 1:
        raise SdkError(f"{op.request_schema}: expected one business schema in its allOf, found {business}")
    return str(business[0])


def _argument(model: ApiModel, field: Field) -> Argument:
    return Argument(
        name=snake_case(field.name),
        wire=field.name,
        annotation=annotation(model, field.schema),
        required=field.required,
        description=" ".join(field.description.split()),
    )


def annotation(model: ApiModel, schema: dict[str, Any]) -> str:
    """The Python type a method argument takes for `schema` (named types come from `models`)."""
    if "$ref" in schema:
        name = ref_name(schema) or ""
        target = model.schemas[name]
        if "enum" in target or target.get("type") == "object" or "allOf" in target:
            return f"models.{name}"
        return annotation(model, target)
    kind = schema.get("type")
    if kind == "string":
        return "bytes" if schema.get("format") == "binary" else "str"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    if kind == "array":
        return f"list[{annotation(model, schema.get('items', {}))}]"
    raise SdkError(f"no Python type for schema {schema!r}")
