"""Read YAML spec files into plain data while remembering each node's line.

OpenAPI validators report errors as document paths; maintainers need a file
and a line. Composing the YAML node graph (instead of `safe_load`) keeps the
marks, and building the data ourselves lets us refuse what `safe_load` lets
slide silently: duplicate keys and non-string keys (an unquoted `200:`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .problems import Location, Problem

try:
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

Pointer = tuple[str, ...]

# Most nodes of a spec are strings: taken as they are, without a trip through the constructor.
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass
class SourceFile:
    """A parsed YAML file: its data and the line of every node, by JSON pointer."""

    path: Path
    data: Any
    lines: dict[Pointer, int] = field(default_factory=dict)

    def location(self, pointer: Pointer) -> Location:
        """The line of the node at `pointer`, or of its nearest ancestor."""
        for end in range(len(pointer), -1, -1):
            line = self.lines.get(pointer[:end])
            if line is not None:
                return Location(self.path, line)
        return Location(self.path, 1)


def load_source(path: Path, problems: list[Problem]) -> SourceFile | None:
    """Parse `path`; on failure record a problem and return None."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(Problem(None, str(path), f"cannot read: {exc.strerror or exc}"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(Location(path, 1), "", f"not UTF-8: {exc.reason}"))
        return None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        problems.append(Problem(Location(path, line), "", f"YAML syntax: {exc.problem}"))
        return None
    finally:
        loader.dispose()
    source = SourceFile(path, None)
    if node is not None:
        source.data = _build(node, (), source, problems, _Loader(""))
    return source


def _build(
    node: yaml.Node, pointer: Pointer, source: SourceFile, problems: list[Problem], loader: yaml.SafeLoader
) -> Any:
    source.lines[pointer] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if key_node.tag == _STR_TAG else loader.construct_object(key_node, deep=True)
            where = Location(source.path, key_node.start_mark.line + 1)
            if not isinstance(key, str):
                problems.append(Problem(where, "/".join(pointer), f"key {key!r} must be a string (quote it)"))
                key = str(key)
            if key in result:
                problems.append(Problem(where, "/".join(pointer), f"duplicate key {key!r}"))
            result[key] = _build(value_node, (*pointer, key), source, problems, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*pointer, str(i)), source, problems, loader) for i, item in enumerate(node.value)]
    return node.value if node.tag == _STR_TAG else loader.construct_object(node, deep=True)
