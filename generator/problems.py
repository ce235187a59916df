"""Problems found in a spec, reported together rather than one crash at a time.

Every problem names where it is (file and line, or the document path when no
line is known), so that `payspec validate` can print one line per problem and
a maintainer can jump straight to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Location:
    """A place in a spec file: path and 1-based line."""

    file: Path
    line: int

    def __str__(self) -> str:
        return f"{_display(self.file)}:{self.line}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec."""

    location: Location | None
    where: str
    message: str

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        where = f"{self.where}: " if self.where else ""
        return f"{prefix}{where}{self.message}"


class SpecError(Exception):
    """The spec cannot be used; `problems` says every reason found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _display(path: Path) -> str:
    """Paths relative to the working directory read better in a terminal."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
