"""Pydantic models of a version, written by datamodel-code-generator.

The options are pinned here (and the generator's version in pyproject.toml) so
that the same spec gives the same bytes on every machine. Running the
generator is the slow step of `payspec generate`; its output is cached by a
hash of everything that decides it, so regenerating an unchanged spec costs a
file read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import datamodel_code_generator as dcg
from datamodel_code_generator.enums import DataModelType, InputFileType
from datamodel_code_generator.format import Formatter, PythonVersion

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


def models_source(document: dict[str, Any], header: str, cache: Path | None) -> str:
    """The `models.py` of the SDK of a bundled `document`."""
    spec, cached = _input(document, header, cache)
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
        temporary = cached.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(source, encoding="utf-8")
        temporary.replace(cached)  # whole or not at all, whichever process writes it
    return source


@contextlib.contextmanager
def prefetched(jobs: Sequence[tuple[dict[str, Any], str]], cache: Path) -> Iterator[Callable[[], None]]:
    """Run the model generator for (document, header) jobs in a forked process, into the cache.

    The generator's first call in a process costs more than a second, spent
    importing and warming up; the caller meanwhile validates the specs and
    renders everything else, then calls the yielded function to wait. It is
    an optimization only: `models_source` generates in-process whatever the
    child did not leave in the cache (no fork on this platform, a failure).
    """
    pending = [job for job in jobs if not _input(*job, cache)[1].is_file()]  # type: ignore[union-attr]
    if not pending or "fork" not in multiprocessing.get_all_start_methods():
        yield lambda: None
        return
    # One child for all the jobs: the generator's warm-up is paid once, and the parent keeps a core.
    child = multiprocessing.get_context("fork").Process(target=_fill_cache, args=(pending, cache), daemon=True)
    child.start()
    try:
        yield child.join
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def _fill_cache(jobs: Sequence[tuple[dict[str, Any], str]], cache: Path) -> None:
    for document, header in jobs:
        models_source(document, header, cache)


def _input(document: dict[str, Any], header: str, cache: Path | None) -> tuple[str, Path | None]:
    """The generator's input, and where its output is cached (by a hash of all that decides it).

    The generator reads only the schemas: it is given nothing else, so that an
    edit elsewhere in the spec (an operation's prose, an example) reuses the
    cached models.
    """
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
    return spec, (cache / f"models-{key.hexdigest()}.py" if cache else None)
