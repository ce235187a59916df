"""Knowing, without loading a spec, that `generated/` is already what it would be.

A generation is a function of the files it read (the spec files the bundler
followed, the templates, the toolkit's own code) and nothing else. After each
run the hashes of those inputs and of every output file are recorded under
the cache folder; when all of them still match, the run can stop at once.
Anything else - an input edited, an output edited by hand, deleted or joined
by a stray file - falls through to the full run, which is always right.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .output import is_tool_cache

TOOLKIT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Record:
    inputs: dict[str, str]
    outputs: dict[str, str]
    owned: tuple[str, ...]


def digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def toolkit_files(template_dirs: Iterable[Path]) -> list[Path]:
    """The code and templates every generation depends on."""
    files = [p for p in TOOLKIT.rglob("*.py")]
    for folder in template_dirs:
        files += [p for p in folder.rglob("*") if p.is_file()]
    return files


def record_path(cache: Path, key: str) -> Path:
    return cache / f"run-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def save(path: Path, inputs: Iterable[Path], outputs: dict[str, bytes], owned: Iterable[str]) -> None:
    record = {
        "inputs": {str(p): digest(p) for p in sorted(set(inputs))},
        "outputs": {name: hashlib.sha256(content).hexdigest() for name, content in sorted(outputs.items())},
        "owned": sorted(owned),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")


def still_fresh(path: Path, output_root: Path, template_dirs: Iterable[Path]) -> bool:
    """Whether the recorded run's inputs and outputs are all unchanged on disk."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        record = Record(raw["inputs"], raw["outputs"], tuple(raw["owned"]))
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if any(str(p) not in record.inputs for p in toolkit_files(template_dirs)):
        return False
    if any(digest(Path(p)) != h for p, h in record.inputs.items()):
        return False
    if any(digest(output_root / name) != h for name, h in record.outputs.items()):
        return False
    for folder in record.owned:
        for existing in (output_root / folder).rglob("*"):
            hidden = is_tool_cache(existing.relative_to(output_root / folder))
            if existing.is_file() and not hidden and existing.relative_to(output_root).as_posix() not in record.outputs:
                return False
    return True
