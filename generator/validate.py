"""Checks of a bundled spec: OpenAPI validity, the project's conventions, examples.

Three layers, each reporting problems with their source location:
  1. openapi-spec-validator: is it OpenAPI 3.1 at all?
  2. conventions: what our emitters and other teams' generators rely on
     (one tag and an sdk method per operation, examples present, named
     schemas, bounded integers, enums with names and descriptions);
  3. examples: every example validates against its schema.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, best_match
from openapi_schema_validator import OAS31Validator
from openapi_schema_validator._specifications import REGISTRY as OPENAPI_SPECIFICATIONS
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator.validation import keywords
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .bundle import Bundle, follow, format_pointer, parse_pointer
from .problems import Problem
from .yamlsource import Pointer

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_BUNDLE_URI = "urn:payspec:bundle"


_TOP_LEVEL = frozenset(
    {
        "openapi",
        "info",
        "jsonSchemaDialect",
        "servers",
        "paths",
        "webhooks",
        "components",
        "security",
        "tags",
        "externalDocs",
    }
)


def check_openapi(bundle: Bundle) -> list[Problem]:
    """OpenAPI 3.1 structural validity, by openapi-spec-validator.

    The validator checks each schema on its own and reports a schema's errors
    relative to it, which names no place in the document. Schemas are
    therefore also checked against the JSON Schema 2020-12 meta-schema here,
    where their place is known; the validator's relative reports are kept only
    when that finds nothing.
    """
    cycles = _composition_cycles(bundle)
    if cycles:
        return cycles  # the validator would recurse without end
    located: list[Problem] = []
    relative: list[Problem] = []
    for error in _SpecValidator(bundle.document).iter_errors():
        pointer = tuple(str(p) for p in error.path)
        (located if pointer[:1] and pointer[0] in _TOP_LEVEL else relative).append(
            _problem(bundle, pointer, error.message)
        )
    if relative:
        schema_problems = _schema_problems(bundle)
        relative = schema_problems or [Problem(None, "", f"a schema: {p.message}") for p in relative]
    return located + relative


class _SchemaValidator(keywords.OpenAPIV31SchemaValidator):
    """openapi-spec-validator's check of each schema, its meta-schema part run by jsonschema-rs.

    The validator checks every schema against its dialect's meta-schema with
    Python jsonschema: four fifths of a spec's validation. jsonschema-rs, the
    backend it already picks for the document as a whole, checks the same
    meta-schema with the same resources in a millisecond. Schemas in any other
    dialect keep the validator's own check.
    """

    def _get_schema_checker(self, schema: Any, schema_value: Any) -> Callable[[Any], None]:
        if self._get_schema_dialect_id(schema, schema_value) != OAS31Validator.META_SCHEMA["$id"]:
            return super()._get_schema_checker(schema, schema_value)
        return _check_oas31_schema


class _SpecValidator(OpenAPIV31SpecValidator):
    keyword_validators: dict[str, type[keywords.KeywordValidator]] = {  # noqa: RUF012 (as in the base class)
        **OpenAPIV31SpecValidator.keyword_validators,
        "schema": _SchemaValidator,
    }


@functools.cache
def _oas31_meta_validator() -> Any:
    resources = [(uri, OPENAPI_SPECIFICATIONS[uri].contents) for uri in OPENAPI_SPECIFICATIONS]
    return jsonschema_rs.validator_for(
        OAS31Validator.META_SCHEMA, registry=jsonschema_rs.Registry(resources), validate_formats=True
    )


def _check_oas31_schema(schema: Any) -> None:
    for error in _oas31_meta_validator().iter_errors(schema):
        raise SchemaError(error.message, path=list(error.instance_path))


def _composition_cycles(bundle: Bundle) -> list[Problem]:
    """Schemas that are made of themselves: a `$ref` or `allOf` chain that comes back."""
    schemas = bundle.document.get("components", {}).get("schemas") or {}

    def parts(name: str) -> list[str]:
        schema = schemas.get(name)
        if not isinstance(schema, dict):
            return []
        members = [schema, *(m for m in schema.get("allOf", []) if isinstance(m, dict))]
        refs = [str(m.get("$ref", "")) for m in members]
        return [r.rsplit("/", 1)[-1] for r in refs if r.startswith("#/components/schemas/")]

    problems = []
    for start in schemas:
        seen, frontier = set(), parts(start)
        while frontier:
            name = frontier.pop()
            if name == start:
                problems.append(
                    _problem(bundle, ("components", "schemas", start), "schema is made of itself ($ref/allOf cycle)")
                )
                break
            if name not in seen:
                seen.add(name)
                frontier.extend(parts(name))
    return problems


def _schema_problems(bundle: Bundle) -> list[Problem]:
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    problems = []
    for at, schema in _all_schemas(bundle.document):
        for error in meta.iter_errors(schema):
            problems.append(_problem(bundle, (*at, *(str(p) for p in error.absolute_path)), error.message))
    return problems


def _all_schemas(doc: dict[str, Any]) -> Iterator[tuple[Pointer, Any]]:
    for name, schema in (doc.get("components", {}).get("schemas") or {}).items():
        yield ("components", "schemas", name), schema
    for pointer, operation in _all_operations(doc):
        holders = [((*pointer, "requestBody"), operation.get("requestBody"))]
        holders += [((*pointer, "responses", s), r) for s, r in (operation.get("responses") or {}).items()]
        for at, holder in holders:
            for media, content in ((holder or {}).get("content") or {}).items() if isinstance(holder, dict) else ():
                if isinstance(content, dict) and "schema" in content:
                    yield (*at, "content", media, "schema"), content["schema"]


def check_conventions(bundle: Bundle) -> list[Problem]:
    """The rules our emitters and other generators rely on."""
    doc = bundle.document
    problems: list[Problem] = []
    tags = {t.get("name") for t in doc.get("tags", []) if isinstance(t, dict)}
    operation_ids = {op.get("operationId") for at, op in _all_operations(doc) if at[0] == "paths"}
    for i, tag in enumerate(doc.get("tags", [])):
        resource = tag.get("x-sdk-resource") if isinstance(tag, dict) else None
        if not (isinstance(resource, str) and _IDENTIFIER.match(resource)):
            problems.append(_problem(bundle, ("tags", str(i)), "tag needs x-sdk-resource, a snake_case name"))
    events = set(doc.get("components", {}).get("schemas", {}).get("EventName", {}).get("enum", []))
    for pointer, operation in _all_operations(doc):
        _check_operation(bundle, pointer, operation, tags, operation_ids, problems)
        if pointer[0] == "webhooks":
            listed = operation.get("x-events")
            if not (isinstance(listed, list) and listed and set(listed) <= events):
                problems.append(_problem(bundle, pointer, "x-events must list the EventName values it carries"))
    schemas = doc.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        for at, node in _walk_schema(schema, ("components", "schemas", name)):
            _check_schema_node(bundle, at, node, problems)
        channels = schema.get("x-channels") if isinstance(schema, dict) else None
        for value, facts in channels.items() if isinstance(channels, dict) else ():
            destination = facts.get("destination") if isinstance(facts, dict) else None
            if destination is not None and "x-channels" not in (schemas.get(destination) or {}):
                where: Pointer = ("components", "schemas", name, "x-channels", value, "destination")
                message = f"{destination!r} is not a channel list (a schema with x-channels)"
                problems.append(_problem(bundle, where, message))
    common = set(doc.get("x-result-codes") or ())
    for pointer, operation in _all_operations(doc):
        if pointer[0] != "paths":
            continue
        documented = common | set(operation.get("x-result-codes") or ())
        body, _ = _deref(doc, operation.get("requestBody"), ())
        for content in ((body or {}).get("content") or {}).values() if isinstance(body, dict) else ():
            missing = _invalid_codes(doc, content.get("schema", {}), set()) - documented
            if missing:
                where = (*pointer, "x-result-codes")
                problems.append(
                    _problem(bundle, where, f"a field's x-invalid-code is not documented: {sorted(missing)}")
                )
    return problems


def _invalid_codes(doc: dict[str, Any], schema: Any, seen: set[str]) -> set[int]:
    """Every `x-invalid-code` a request body's fields can answer with."""
    if not isinstance(schema, dict):
        return set()
    codes = {int(schema["x-invalid-code"])} if "x-invalid-code" in schema else set()
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        target, _ = _deref(doc, schema, ())
        codes |= _invalid_codes(doc, target, seen | {ref})
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            codes |= _invalid_codes(doc, part, seen)
    for child in (schema.get("properties") or {}).values():
        codes |= _invalid_codes(doc, child, seen)
    if "items" in schema:
        codes |= _invalid_codes(doc, schema["items"], seen)
    return codes


def check_examples(bundle: Bundle) -> list[Problem]:
    """Every media-type example validates against its media type's schema."""
    problems = []
    for pointer, schema_pointer, value in iter_examples(bundle.document):
        validator = schema_validator(bundle.document, schema_pointer)
        error = best_match(validator.iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(_problem(bundle, pointer, f"example does not match its schema at {where}: {error.message}"))
    return problems


def schema_validator(document: dict[str, Any], schema_pointer: Pointer) -> Draft202012Validator:
    """A validator for the schema at `schema_pointer` of the bundled `document`."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_BUNDLE_URI, resource)
    schema = {"$ref": _BUNDLE_URI + "#" + format_pointer(schema_pointer)}
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def iter_examples(doc: dict[str, Any]) -> Iterator[tuple[Pointer, Pointer, Any]]:
    """(example pointer, schema pointer, value) for every media-type example."""
    for pointer, operation in _all_operations(doc):
        bodies: list[tuple[Pointer, Any]] = [((*pointer, "requestBody"), operation.get("requestBody"))]
        for status, response in (operation.get("responses") or {}).items():
            bodies.append(((*pointer, "responses", status), response))
        for at, body in bodies:
            body, at = _deref(doc, body, at)
            if not isinstance(body, dict):
                continue
            for media, content in (body.get("content") or {}).items():
                if not isinstance(content, dict) or "schema" not in content:
                    continue
                content_at = (*at, "content", media)
                schema_at = (*content_at, "schema")
                if "example" in content:
                    yield (*content_at, "example"), schema_at, content["example"]
                for name, example in (content.get("examples") or {}).items():
                    example, example_at = _deref(doc, example, (*content_at, "examples", name))
                    if isinstance(example, dict) and "value" in example:
                        yield (*example_at, "value"), schema_at, example["value"]


def _all_operations(doc: dict[str, Any]) -> Iterator[tuple[Pointer, dict[str, Any]]]:
    """(pointer, operation) for every operation, under `paths` and under `webhooks`."""
    for section in ("paths", "webhooks"):
        for key, item in (doc.get(section) or {}).items():
            for method in HTTP_METHODS:
                operation = item.get(method) if isinstance(item, dict) else None
                if isinstance(operation, dict):
                    yield (section, key, method), operation


def _deref(doc: dict[str, Any], node: Any, at: Pointer) -> tuple[Any, Pointer]:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
        target = parse_pointer(node["$ref"][1:])
        return follow(doc, target), target
    return node, at


def _check_operation(
    bundle: Bundle,
    pointer: Pointer,
    operation: dict[str, Any],
    tags: set[Any],
    operation_ids: set[Any],
    problems: list[Problem],
) -> None:
    def need(condition: bool, message: str, at: Pointer = pointer) -> None:
        if not condition:
            problems.append(_problem(bundle, at, message))

    need(isinstance(operation.get("operationId"), str), "operation has no operationId")
    op_tags = operation.get("tags")
    need(
        isinstance(op_tags, list) and len(op_tags) == 1 and op_tags[0] in tags,
        "operation needs exactly one declared tag",
    )
    need(bool(operation.get("summary")), "operation has no summary")
    need(bool(operation.get("description")), "operation has no description")
    method = operation.get("x-sdk-method")
    need(isinstance(method, str) and bool(_IDENTIFIER.match(method)), "x-sdk-method must be a snake_case name")
    if pointer[0] == "paths":
        need(isinstance(operation.get("x-retry-safe"), bool), "x-retry-safe must be true or false")
        codes = operation.get("x-result-codes")
        need(
            isinstance(codes, list) and all(isinstance(c, int) for c in codes), "x-result-codes must list integer codes"
        )
    body, _ = _deref(bundle.document, operation.get("requestBody"), (*pointer, "requestBody"))
    need(isinstance(body, dict) and body.get("required") is True, "requestBody must be present and required")
    need(_has_example(body), "requestBody has no example")
    ok, _ = _deref(bundle.document, (operation.get("responses") or {}).get("200"), (*pointer, "responses", "200"))
    need(isinstance(ok, dict), "operation has no 200 response")
    need(_has_example(ok), "200 response has no example")
    for media_holder in (body, ok):
        for media, content in (
            ((media_holder or {}).get("content") or {}).items() if isinstance(media_holder, dict) else ()
        ):
            schema = content.get("schema") if isinstance(content, dict) else None
            if media.endswith("json") or media.startswith("multipart/"):
                need(
                    isinstance(schema, dict) and str(schema.get("$ref", "")).startswith("#/components/schemas/"),
                    f"{media} schema must be a named component ($ref to components.schemas)",
                )
    for status, response in (operation.get("responses") or {}).items():
        for name, link in ((response or {}).get("links") or {}).items() if isinstance(response, dict) else ():
            target = link.get("operationId") if isinstance(link, dict) else None
            need(
                target in operation_ids,
                f"link {name!r} targets unknown operationId {target!r}",
                (*pointer, "responses", status, "links", name),
            )


def _has_example(holder: Any) -> bool:
    if not isinstance(holder, dict):
        return False
    for content in (holder.get("content") or {}).values():
        if isinstance(content, dict) and ("example" in content or content.get("examples")):
            return True
    return False


def _walk_schema(node: Any, at: Pointer) -> Iterator[tuple[Pointer, dict[str, Any]]]:
    if isinstance(node, dict):
        yield at, node
        for key, value in node.items():
            if key in ("properties", "$defs", "patternProperties"):
                for name, child in (value or {}).items():
                    yield from _walk_schema(child, (*at, key, name))
            elif key in ("items", "not", "additionalProperties", "contains", "propertyNames"):
                yield from _walk_schema(value, (*at, key))
            elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
                for i, child in enumerate(value or []):
                    yield from _walk_schema(child, (*at, key, str(i)))


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    return set(kind) if isinstance(kind, list) else set()


def _check_schema_node(bundle: Bundle, at: Pointer, node: dict[str, Any], problems: list[Problem]) -> None:
    types = _types(node)
    if types == {"null"} and len(at) > 2 and at[-2] == "properties":
        problems.append(_problem(bundle, at, "a property whose only type is null tells a client nothing"))
    if "integer" in types and "enum" not in node and not ("minimum" in node and "maximum" in node):
        problems.append(_problem(bundle, at, "integer schema needs explicit minimum and maximum"))
    if len(at) > 3 and at[-2] == "properties" and "properties" in node:
        problems.append(_problem(bundle, at, "inline object: name it under components.schemas"))
    if "enum" in node and len(at) == 3:
        values = node["enum"]
        names = node.get("x-enum-varnames")
        descriptions = node.get("x-enum-descriptions")
        if not (isinstance(names, list) and len(names) == len(values)):
            problems.append(_problem(bundle, at, "enum needs x-enum-varnames, one per value"))
        elif len(set(names)) != len(names) or not all(isinstance(n, str) and _UPPER_SNAKE.match(n) for n in names):
            problems.append(_problem(bundle, at, "x-enum-varnames must be unique UPPER_SNAKE names"))
        if not (isinstance(descriptions, list) and len(descriptions) == len(values)):
            problems.append(_problem(bundle, at, "enum needs x-enum-descriptions, one per value"))
    elif "enum" in node:
        problems.append(_problem(bundle, at, "inline enum: name it under components.schemas"))


def _problem(bundle: Bundle, pointer: Pointer, message: str) -> Problem:
    return Problem(bundle.locate(pointer), format_pointer(pointer), message.splitlines()[0])
