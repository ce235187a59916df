"""Turn a spec folder (a root file and the files it `$ref`s) into one document.

The root's `components` name things: an entry that is only a `$ref` to another
file says "the node over there is called this". Every reference to such a node
becomes an internal `#/components/<kind>/<name>` reference; every other
external reference (path items, extension data) is copied in place. The
result has no external references, so any OpenAPI tool can read it, and it
carries a map from each of its nodes back to the file and line it came from.

A schema that lives in a schema file but is not listed under
`components.schemas` is a problem: other generators would give it an
invented name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .problems import Location, Problem
from .yamlsource import Pointer, SourceFile, load_source

ROOT_FILE = "openapi.yaml"

Target = tuple[Path, Pointer]


@dataclass
class Bundle:
    """One self-contained OpenAPI document and where each of its nodes came from."""

    root: Path
    document: dict[str, Any]
    origins: dict[Pointer, Location] = field(default_factory=dict)
    sources: tuple[Path, ...] = ()

    def locate(self, pointer: Pointer) -> Location | None:
        """The source of the node at `pointer`, or of its nearest known ancestor."""
        for end in range(len(pointer), -1, -1):
            location = self.origins.get(pointer[:end])
            if location is not None:
                return location
        return None


def spec_root(path: Path) -> Path:
    """The root file of a spec given as a folder or as the file itself."""
    return path / ROOT_FILE if path.is_dir() else path


def bundle(root: Path, problems: list[Problem]) -> Bundle | None:
    """Bundle the spec whose root file is `root`; None if it cannot be read at all."""
    return _Bundler(root.resolve(), problems).run()


@functools.cache  # a spec names the same few hundred pointers thousands of times
def parse_pointer(fragment: str) -> Pointer:
    """`/a/b~1c` -> ("a", "b/c"), per RFC 6901 (after URL-decoding)."""
    fragment = unquote(fragment)
    if not fragment:
        return ()
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in fragment.lstrip("/").split("/"))


def format_pointer(pointer: Pointer) -> str:
    return "/" + "/".join(token.replace("~", "~0").replace("/", "~1") for token in pointer)


def follow(document: Any, pointer: Pointer) -> Any:
    """The node at `pointer` in `document`, or None where the path leads nowhere."""
    node = document
    for token in pointer:
        node = node.get(token) if isinstance(node, dict) else None
    return node


def ref_name(schema: Any) -> str | None:
    """The component a `$ref` names ("#/components/schemas/Amount" -> "Amount"), or None."""
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


class _Bundler:
    def __init__(self, root: Path, problems: list[Problem]) -> None:
        self.root = root
        self.problems = problems
        self.files: dict[Path, SourceFile | None] = {}
        self.names: dict[Target, Pointer] = {}
        self.schema_files: set[Path] = set()
        self.origins: dict[Pointer, Location] = {}
        self.paths: dict[tuple[Path, str], Path] = {}  # resolving a path asks the disk: once per file named

    def run(self) -> Bundle | None:
        source = self._file(self.root, None)
        if source is None:
            return None
        if not isinstance(source.data, dict):
            self.problems.append(Problem(Location(self.root, 1), "", "the root must be a mapping"))
            return None
        self._register_components(source)
        document = self._copy(source.data, source, (), (), ())
        return Bundle(self.root, document, self.origins, tuple(sorted(p for p, s in self.files.items() if s)))

    def _file(self, path: Path, referrer: Location | None) -> SourceFile | None:
        if path not in self.files:
            if not path.is_file():
                self.problems.append(Problem(referrer, "", f"$ref to missing file {path.name!r}"))
                self.files[path] = None
            else:
                self.files[path] = load_source(path, self.problems)
        return self.files[path]

    def _register_components(self, root: SourceFile) -> None:
        components = root.data.get("components")
        if not isinstance(components, dict):
            return
        for kind, entries in components.items():
            if not isinstance(entries, dict):
                continue
            for name, entry in entries.items():
                if isinstance(entry, dict) and set(entry) == {"$ref"} and isinstance(entry["$ref"], str):
                    target = self._target(entry["$ref"], root.path)
                    if target[0] != self.root:
                        self.names[target] = ("components", kind, name)
                        if kind == "schemas":
                            self.schema_files.add(target[0])

    def _target(self, ref: str, base: Path) -> Target:
        file_part, _, fragment = ref.partition("#")
        if not file_part:
            return base, parse_pointer(fragment)
        path = self.paths.get((base, file_part))
        if path is None:
            path = self.paths[base, file_part] = (base.parent / file_part).resolve()
        return path, parse_pointer(fragment)

    def _copy(self, node: Any, source: SourceFile, at: Pointer, out: Pointer, stack: tuple[Target, ...]) -> Any:
        if out not in self.origins:
            self.origins[out] = source.location(at)
        if isinstance(node, list):
            return [self._copy(item, source, (*at, str(i)), (*out, str(i)), stack) for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            siblings = {k: self._copy(v, source, (*at, k), (*out, k), stack) for k, v in node.items() if k != "$ref"}
            return self._resolve(ref, source, at, out, stack, siblings)
        return {key: self._copy(value, source, (*at, key), (*out, key), stack) for key, value in node.items()}

    def _resolve(
        self,
        ref: str,
        source: SourceFile,
        at: Pointer,
        out: Pointer,
        stack: tuple[Target, ...],
        siblings: dict[str, Any],
    ) -> Any:
        where = source.location(at)
        target = self._target(ref, source.path)
        name = self.names.get(target)
        # A components entry resolves to its content; everything else that is named becomes a reference.
        if name is not None and out != name:
            return {"$ref": "#" + format_pointer(name), **siblings}
        path, pointer = target
        if path == self.root and name is None:
            self._lookup(self._file(path, where), pointer, ref, where)
            return {"$ref": "#" + format_pointer(pointer), **siblings}
        if target in stack:
            self.problems.append(Problem(where, format_pointer(out), f"$ref {ref!r} refers back to itself"))
            return {}
        target_file = self._file(path, where)
        found = self._lookup(target_file, pointer, ref, where)
        if target_file is None or found is _MISSING:
            return {}
        if name is None and path in self.schema_files and _is_schema(found):
            self.problems.append(
                Problem(
                    where,
                    format_pointer(out),
                    f"$ref {ref!r}: schema {pointer[-1]!r} is not listed under components.schemas",
                )
            )
        copied = self._copy(found, target_file, pointer, out, (*stack, target))
        self.origins[out] = target_file.location(pointer)
        if siblings and isinstance(copied, dict):
            return {**copied, **siblings}
        return copied

    def _lookup(self, source: SourceFile | None, pointer: Pointer, ref: str, where: Location) -> Any:
        if source is None:
            return _MISSING
        node = source.data
        for token in pointer:
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                self.problems.append(Problem(where, "", f"$ref {ref!r}: no {token!r} in {source.path.name}"))
                return _MISSING
        return node


_MISSING = object()
_SCHEMA_KEYWORDS = frozenset({"type", "properties", "allOf", "anyOf", "oneOf", "enum", "items"})


def _is_schema(node: Any) -> bool:
    return isinstance(node, dict) and not _SCHEMA_KEYWORDS.isdisjoint(node)
