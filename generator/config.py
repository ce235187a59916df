"""The toolkit's settings: which versions exist, where their specs and outputs live.

Read from `[tool.payspec]` in the nearest pyproject.toml, so that the project
that owns the spec also owns how it is built.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The templates emitters render unless a folder of the user's (`--templates DIR`) overrides one.
BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class VersionConfig:
    name: str
    spec: Path
    package: str


@dataclass(frozen=True)
class Config:
    root: Path
    output: Path
    versions: tuple[VersionConfig, ...]

    def version(self, name: str) -> VersionConfig:
        for version in self.versions:
            if version.name == name:
                return version
        known = ", ".join(v.name for v in self.versions)
        raise KeyError(f"unknown API version {name!r} (known: {known})")


class ConfigError(Exception):
    pass


def find_config(start: Path | None = None) -> Config:
    """The config of the project containing `start` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            with candidate.open("rb") as f:
                settings = tomllib.load(f).get("tool", {}).get("payspec")
            if settings is not None:
                return _parse(folder, candidate, settings)
    raise ConfigError(f"no pyproject.toml with [tool.payspec] in {here} or above")


def _parse(root: Path, path: Path, settings: dict[str, Any]) -> Config:
    try:
        versions = tuple(
            VersionConfig(name, root / str(entry["spec"]), str(entry["package"]))
            for name, entry in dict(settings["versions"]).items()
        )
        return Config(root, root / str(settings.get("output", "generated")), versions)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: [tool.payspec] is incomplete: {exc}") from exc
