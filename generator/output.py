"""The one place that writes files: an in-memory tree compared with the disk.

Emitters add files to an `OutputTree`; nothing else touches `generated/`.
Writing only what differs keeps a no-op regeneration from changing a single
mtime, and the same comparison answers `--check` without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ChangeKind = Literal["changed", "missing", "extra"]


@dataclass(frozen=True)
class Change:
    path: str
    kind: ChangeKind

    def __str__(self) -> str:
        what = {"changed": "stale", "missing": "missing", "extra": "not generated any more"}[self.kind]
        return f"{self.path}: {what}"


@dataclass
class OutputTree:
    """Files relative to `root`; `owned` folders are wholly generated (extra files in them are stale)."""

    root: Path
    files: dict[str, bytes] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)

    def add(self, path: str, content: str | bytes) -> None:
        if path in self.files:
            raise ValueError(f"two emitters write {path}")
        self.files[path] = content.encode("utf-8") if isinstance(content, str) else content

    def own(self, folder: str) -> None:
        self.owned.add(folder.rstrip("/"))

    def changes(self) -> list[Change]:
        """What differs between this tree and the disk, in path order."""
        found = []
        for path, content in self.files.items():
            target = self.root / path
            if not target.is_file():
                found.append(Change(path, "missing"))
            elif target.read_bytes() != content:
                found.append(Change(path, "changed"))
        for folder in self.owned:
            base = self.root / folder
            if base.is_dir():
                for existing in base.rglob("*"):
                    relative = existing.relative_to(self.root).as_posix()
                    if (
                        existing.is_file()
                        and relative not in self.files
                        and not is_tool_cache(existing.relative_to(base))
                    ):
                        found.append(Change(relative, "extra"))
        return sorted(found, key=lambda c: c.path)

    def write(self) -> list[Change]:
        """Bring the disk in line with the tree; return what changed."""
        changes = self.changes()
        for change in changes:
            target = self.root / change.path
            if change.kind == "extra":
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.files[change.path])
        return changes


def is_tool_cache(path: Path) -> bool:
    """Byte code and linters' caches are not output, wherever a tool leaves them."""
    return any(part == "__pycache__" or part.startswith(".") for part in path.parts[:-1])
