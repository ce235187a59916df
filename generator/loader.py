"""Load a spec folder into an `ApiModel`, or say everything that is wrong with it.

The order matters: a spec that cannot be bundled cannot be validated, and
one that is not valid OpenAPI would only produce noise in the later checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .bundle import Bundle, bundle, follow, ref_name, spec_root
from .model import ApiModel, build_model
from .problems import Location, Problem, SpecError
from .signing import load_signer
from .validate import check_conventions, check_examples, check_openapi, iter_examples

VECTORS_FILE = "signing-vectors.json"


def load_bundle(path: Path, bundled: Bundle | None = None) -> Bundle:
    """Bundle (unless given its bundle) and validate the spec at `path`; raise SpecError listing every problem."""
    problems: list[Problem] = []
    bundled = bundled or bundle(spec_root(path), problems)
    if bundled is None or problems:
        raise SpecError(problems)
    problems.extend(check_openapi(bundled))
    if problems:
        raise SpecError(problems)
    problems.extend(check_conventions(bundled))
    problems.extend(check_examples(bundled))
    if problems:
        raise SpecError(problems)
    return bundled


def load_model(path: Path, name: str, bundled: Bundle | None = None) -> ApiModel:
    """The checked model of the spec at `path` (or of its `bundled` form), named `name` (v1, v2, ...)."""
    bundled = load_bundle(path, bundled)
    problems: list[Problem] = []
    model = build_model(name, bundled, problems)
    if model is None or problems:
        raise SpecError(problems)
    vectors = spec_root(path).parent / VECTORS_FILE
    problems.extend(check_signatures(model, bundled, vectors))
    if problems:
        raise SpecError(problems)
    model.sources = (*model.sources, vectors)
    return model


def load_published(path: Path, name: str) -> ApiModel:
    """The model of a published bundle, trusted as generated (CI keeps it fresh): no checks, quick."""
    problems: list[Problem] = []
    bundled = bundle(spec_root(path), problems)
    model = build_model(name, bundled, problems) if bundled is not None else None
    if model is None or problems:
        raise SpecError(problems)
    return model


def load_vectors(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


def check_signatures(model: ApiModel, bundled: Bundle, vectors_path: Path) -> list[Problem]:
    """The test vectors hold under the spec's scheme, and every signed example is signed right."""
    signer = load_signer(model)
    secret = model.signature.example_secret
    problems: list[Problem] = []
    for pointer, schema_pointer, value in iter_examples(bundled.document):
        if not (isinstance(value, dict) and model.signature.field in value):
            continue
        if "multipart/form-data" in pointer:
            # An example stands in for a file's bytes with text; the signature covers those bytes' digest.
            files = model.file_fields(ref_name(follow(bundled.document, schema_pointer)) or "")
            value = {k: signer.file_digest(str(v).encode("utf-8")) if k in files else v for k, v in value.items()}
        if not signer.verify(value, secret):
            expected = signer.sign(value, secret)
            problems.append(
                Problem(bundled.locate(pointer), "", f"example's {model.signature.field} is wrong: expected {expected}")
            )
    if not vectors_path.is_file():
        return [*problems, Problem(None, str(vectors_path), "signing test vectors are missing")]
    try:
        vectors = load_vectors(vectors_path)["vectors"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [*problems, Problem(Location(vectors_path, 1), "", f"cannot read test vectors: {exc}")]
    for i, vector in enumerate(vectors):
        where = Location(vectors_path, 1)
        name = vector.get("name", f"#{i}")
        body, key = vector.get("body"), vector.get("secret")
        actual = {
            "canonical": signer.canonical_string(body),
            "stringToSign": signer.string_to_sign(body, key),
            "sign": signer.sign(body, key),
        }
        for part, value in actual.items():
            if vector.get(part) != value:
                problems.append(Problem(where, f"vector {name!r}", f"{part} should be {value!r}"))
    return problems
