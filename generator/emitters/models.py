"""Pydantic models of a version, written by datamodel-code-generator.

The options are pinned here (and the generator's version in pyproject.toml) so
that the same spec gives the same bytes on every machine. Running the
generator is the slow step of `payspec generate`; its output is cached by a
hash of everything that decides it, so regenerating an unchanged spec costs a
file read.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from importlib.metadata import version
from pathlib import Path

import datamodel_code_generator as dcg
from datamodel_code_generator.enums import DataModelType, InputFileType
from datamodel_code_generator.format import Formatter, PythonVersion

from ..model import ApiModel

OPTIONS: dict[str, object] = {
    "input_file_type": InputFileType.OpenAPI,
    "output_model_type": DataModelType.PydanticV2BaseModel,
    "target_python_version": PythonVersion.PY_311,
    "formatters": [Formatter.BUILTIN],
    # Field names in snake_case with the wire names as aliases.
    "snake_case_field": True,
    # Enum members named from x-enum-varnames, documented by x-enum-descriptions.
    "capitalise_enum_members": True,
    "use_subclass_enum": True,
    # Descriptions kept as docstrings.
    "use_field_description": True,
    "use_schema_description": True,
    # Named scalar types (Amount, MerchantId, ...) become constrained fields, not wrapper classes.
    "collapse_root_models": True,
    "field_constraints": True,
    "use_annotated": True,
    "use_standard_collections": True,
    "use_union_operator": True,
    "use_double_quotes": True,
    "keep_model_order": True,
    "set_default_enum_member": True,
    # No timestamps, so regeneration is byte-identical.
    "disable_timestamp": True,
    # URLs and e-mail addresses stay the strings the merchant gave: AnyUrl would
    # rewrite them (a trailing slash) and EmailStr needs an extra dependency.
    "type_mappings": ["string+uri=string", "string+email=string"],
}


def models_source(model: ApiModel, header: str, cache: Path | None) -> str:
    """The `models.py` of `model`'s SDK."""
    # The generator reads only the schemas: give it nothing else, so that an edit elsewhere in
    # the spec (an operation's prose, an example) reuses the cached models.
    document = model.document
    schemas_only = {
        "openapi": document["openapi"],
        "info": document["info"],
        "paths": {},
        "components": {"schemas": document["components"]["schemas"]},
    }
    spec = json.dumps(schemas_only, sort_keys=True, ensure_ascii=False)
    key = hashlib.sha256(
        "\0".join([spec, header, repr(sorted(OPTIONS.items())), version("datamodel-code-generator")]).encode()
    )
    cached = cache / f"models-{key.hexdigest()}.py" if cache else None
    if cached is not None and cached.is_file():
        return cached.read_text(encoding="utf-8")
    with warnings.catch_warnings():
        # Constraints dropped on mapped types are reported per field; the mapping is deliberate.
        warnings.simplefilter("ignore", UserWarning)
        source = dcg.generate(spec, custom_file_header=header, **OPTIONS)  # type: ignore[arg-type]
    if not isinstance(source, str):
        raise TypeError("datamodel-code-generator returned several modules; expected one")
    source = source.rstrip("\n") + "\n"
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(source, encoding="utf-8")
    return source
