"""Pydantic models of a version, written by datamodel-code-generator.

The options are pinned here (and the versions of the generator and of ruff,
which formats its output, in pyproject.toml) so that the same spec gives the
same bytes on every machine. Running the generator is the slow step of
`payspec generate`; its output is cached by a hash of everything that decides
it, so regenerating an unchanged spec costs a file read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import subprocess
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

# The generator itself is imported where it runs (`_generate`): in the forked child, which
# `prefetched` starts before the caller has imported anything heavy, or here when it did not.
# Its options are therefore spelled as its command line spells them, not with its enums.
OPTIONS: dict[str, object] = {
    "input_file_type": "openapi",
    "output_model_type": "pydantic_v2.BaseModel",
    "target_python_version": "3.11",
    # Formatted by `_format` instead.
    "formatters": [],
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
    "keep_model_order": True,
    "set_default_enum_member": True,
    # No timestamps, so regeneration is byte-identical.
    "disable_timestamp": True,
    # URLs and e-mail addresses stay the strings the merchant gave: AnyUrl would
    # rewrite them (a trailing slash) and EmailStr needs an extra dependency.
    "type_mappings": ["string+uri=string", "string+email=string"],
}

# ruff makes the same bytes as the generator's own ("builtin") formatter, imports sorted and
# then formatted, in 0.02 s instead of 0.05-0.1. Isolated: no configuration of the project it
# runs in applies.
RUFF_PASSES = (("check", "--select", "I", "--fix"), ("format",))
RUFF_OPTIONS = ("--isolated", "--quiet", "--line-length", "120", "--target-version", "py311")


class FormatError(Exception):
    """ruff could not format the generated models."""


# What models are made from: a bundled document, and the header of the file.
ModelJob = tuple[dict[str, Any], str]


def models_source(document: dict[str, Any], header: str, cache: Path | None) -> str:
    """The `models.py` of the SDK of a bundled `document`."""
    spec, cached = _input(document, header, cache)
    if cached is not None and cached.is_file():
        return cached.read_text(encoding="utf-8")
    source = _generate(spec, header)
    if not isinstance(source, str):
        raise TypeError("datamodel-code-generator returned several modules; expected one")
    source = _format(source).rstrip("\n") + "\n"
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(source, encoding="utf-8")
        temporary.replace(cached)  # whole or not at all, whichever process writes it
    return source


@contextlib.contextmanager
def prefetched(cache: Path, jobs: Callable[[], Iterable[ModelJob]]) -> Iterator[Callable[[], None]]:
    """A forked process that writes models into the cache while the caller does the rest; yields `wait`.

    The generator is the longest step of a cold `payspec generate`, so it starts
    first: the caller forks as soon as it has what the models are made from,
    before it imports anything heavy. The child calls `jobs` and makes the
    models of each (bundled document, file header) pair, cached as they are
    made. An optimization only: `models_source` makes in-process whatever the
    child did not leave in the cache (no fork on this platform, a failure).
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        yield lambda: None
        return
    child = multiprocessing.get_context("fork").Process(target=_model_process, args=(jobs, cache), daemon=True)
    child.start()
    try:
        yield child.join
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def _model_process(jobs: Callable[[], Iterable[ModelJob]], cache: Path) -> None:
    # Any failure is left for the caller to meet, and report, when it makes the models itself.
    with contextlib.suppress(Exception):
        for document, header in jobs():
            models_source(document, header, cache)


def _generate(spec: dict[str, Any], header: str) -> Any:
    import datamodel_code_generator

    with warnings.catch_warnings():
        # Constraints dropped on mapped types are reported per field; the mapping is deliberate.
        warnings.simplefilter("ignore", UserWarning)
        return datamodel_code_generator.generate(spec, custom_file_header=header, **OPTIONS)  # type: ignore[arg-type]


def _format(source: str) -> str:
    from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

    for command in RUFF_PASSES:
        try:
            run = subprocess.run(
                [find_ruff_bin(), *command, *RUFF_OPTIONS, "-"], input=source, capture_output=True, text=True
            )
        except OSError as exc:  # its binary missing or not runnable: an installation that lost a part
            raise FormatError(f"ruff could not run: {exc}") from exc
        if run.returncode != 0:
            detail = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[0]
            raise FormatError(f"ruff {command[0]} failed on the generated models: {detail}")
        source = run.stdout
    return source


def _input(document: dict[str, Any], header: str, cache: Path | None) -> tuple[dict[str, Any], Path | None]:
    """The generator's input, and where its output is cached (by a hash of all that decides it).

    The generator reads only the schemas: it is given nothing else, so that an
    edit elsewhere in the spec (an operation's prose, an example) reuses the
    cached models.
    """
    from importlib.metadata import version

    schemas_only = {
        "openapi": document["openapi"],
        "info": document["info"],
        "paths": {},
        "components": {"schemas": document["components"]["schemas"]},
    }
    spec = json.dumps(schemas_only, sort_keys=True, ensure_ascii=False)
    key = hashlib.sha256(
        "\0".join(
            [
                spec,
                header,
                repr(sorted(OPTIONS.items())),
                repr((RUFF_PASSES, RUFF_OPTIONS)),
                version("datamodel-code-generator"),
                version("ruff"),
            ]
        ).encode()
    )
    # Read back rather than passed as text: the keys sorted (the models' order), without the generator's
    # own, slower parsing of the text.
    return json.loads(spec), (cache / f"models-{key.hexdigest()}.py" if cache else None)
