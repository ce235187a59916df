"""The published spec of a version: bundled YAML and JSON, and the signing test vectors.

Teams in other languages take these files as they are, so they are plain,
self-contained and byte-stable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from ..bundle import spec_root
from ..loader import VECTORS_FILE
from ..model import ApiModel
from ..output import OutputTree

# libyaml's dumper when PyYAML has it: several times faster on a bundle.
_Base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# What a YAML 1.2 reader takes for a number, a boolean or null. PyYAML writes
# YAML 1.1 and leaves strings such as `09171234567` or `1e5` unquoted, which
# other tools then read as numbers.
_NOT_A_STRING_IN_YAML_12 = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*|0x[0-9a-fA-F]+|0o[0-7]+)"
    r"|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL|~|)$"
)


class _Dumper(_Base):  # type: ignore[misc,valid-type]
    """Quotes every string a YAML 1.1 or 1.2 reader could mistake for another type."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if _NOT_A_STRING_IN_YAML_12.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def emit_spec(model: ApiModel, spec_path: Path, tree: OutputTree) -> None:
    folder = f"spec/{model.name}"
    tree.own(folder)
    tree.add(f"{folder}/openapi.yaml", to_yaml(model.document))
    tree.add(f"{folder}/openapi.json", to_json(model.document))
    tree.add(f"{folder}/{VECTORS_FILE}", (spec_root(spec_path).parent / VECTORS_FILE).read_bytes())


def to_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
