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
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

# The generator itself is imported where it runs (`_generate`): in the forked child, which
# `prefetched` starts before the parent has imported anything heavy, or here when it did not.
# Its options are therefore spelled as its command line spells them, not with its enums.
OPTIONS: dict[str, object] = {
    "input_file_type": "openapi",
    "output_model_type": "pydantic_v2.BaseModel",
    "target_python_version": "3.11",
    "formatters": ["builtin"],
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
    source = _generate(spec, header)
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
def prefetched(cache: Path) -> Iterator[Prefetch]:
    """A forked process that writes models into the cache while the caller does the rest.

    The generator's first call in a process costs almost as much as its work:
    imports and warm-up, 0.4 s. The child is forked at once and warms up on a
    spec of its own while the caller imports, bundles and validates; it is then
    sent the real jobs (`Prefetch.send`), and `Prefetch.wait` waits for them.
    An optimization only: `models_source` generates in-process whatever the
    child did not leave in the cache (no fork on this platform, a failure).
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        yield Prefetch(cache)
        return
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    # One child for all the jobs: the warm-up is paid once, and the parent keeps a core.
    child = context.Process(target=_model_process, args=(theirs, cache), daemon=True)
    child.start()
    theirs.close()
    prefetch = Prefetch(cache, child, ours)
    try:
        yield prefetch
    finally:
        prefetch.close()


@dataclass
class Prefetch:
    """The caller's end of `prefetched`."""

    cache: Path
    child: BaseProcess | None = None
    connection: Connection | None = None
    sender: threading.Thread | None = None

    def send(self, jobs: Sequence[tuple[dict[str, Any], str]]) -> None:
        """(bundled document, file header) of the models to generate; those already cached are skipped."""
        if self.child is None or self.connection is None:
            return
        pending = [job for job in jobs if not _input(*job, self.cache)[1].is_file()]  # type: ignore[union-attr]
        if not pending:  # nothing to make: the warm-up is wasted, not waited for
            self.child.terminate()
            return
        # From a thread: the child reads once it has warmed up, and until then a document
        # larger than the pipe's buffer would hold the caller up.
        self.sender = threading.Thread(target=self._send, args=(self.connection, pending), daemon=True)
        self.sender.start()

    def wait(self) -> None:
        """Until the jobs sent are in the cache (or the child has given up)."""
        if self.sender is not None:
            self.sender.join()
        if self.child is not None:
            self.child.join()

    def close(self) -> None:
        """Stop the child, done or not."""
        if self.child is not None and self.child.is_alive():
            self.child.terminate()
        self.wait()  # the sender fails at once when the child is gone
        if self.connection is not None:
            self.connection.close()

    @staticmethod
    def _send(connection: Connection, jobs: list[tuple[dict[str, Any], str]]) -> None:
        with contextlib.suppress(OSError):  # the child is gone: `models_source` makes them in-process
            connection.send(jobs)


def _model_process(connection: Connection, cache: Path) -> None:
    # The warm-up's output is thrown away, and so is any failure of it: the real jobs will tell.
    with contextlib.suppress(Exception):
        _generate(_WARM_UP, "")
    try:
        jobs = connection.recv()
    except EOFError:  # the caller stopped (its spec did not load)
        return
    for document, header in jobs:
        models_source(document, header, cache)


def _generate(spec: dict[str, Any], header: str) -> Any:
    import datamodel_code_generator

    with warnings.catch_warnings():
        # Constraints dropped on mapped types are reported per field; the mapping is deliberate.
        warnings.simplefilter("ignore", UserWarning)
        return datamodel_code_generator.generate(spec, custom_file_header=header, **OPTIONS)  # type: ignore[arg-type]


# The smallest spec that takes the generator through what a real one does: an object with
# described, constrained and required fields, a $ref, and an enum named by x-enum-varnames.
_WARM_UP: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "warm-up", "version": "0"},
    "paths": {},
    "components": {
        "schemas": {
            "Order": {
                "type": "object",
                "description": "An order.",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "maxLength": 32, "description": "Its id."},
                    "amount": {"type": "integer", "minimum": 1},
                    "status": {"$ref": "#/components/schemas/Status"},
                },
            },
            "Status": {"type": "string", "enum": ["PAID"], "x-enum-varnames": ["PAID"]},
        }
    },
}


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
        "\0".join([spec, header, repr(sorted(OPTIONS.items())), version("datamodel-code-generator")]).encode()
    )
    # Read back rather than passed as text: the keys sorted (the models' order), without the generator's
    # own, slower parsing of the text.
    return json.loads(spec), (cache / f"models-{key.hexdigest()}.py" if cache else None)
