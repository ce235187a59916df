"""The published spec of a version: bundled YAML and JSON, and the signing test vectors.

Teams in other languages take these files as they are, so they are plain,
self-contained and byte-stable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ..loader import VECTORS_FILE, spec_root
from ..model import ApiModel
from ..output import OutputTree

try:
    _Dumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


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
