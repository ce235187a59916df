"""The changelog between two versions: Markdown for people, JSON for tools.

`generator.diff` decides what changed and whether it breaks a client; this
module only lays the records out, through `templates/changelog/`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import jinja2

from ..changes import SECTIONS, Change
from ..diff import diff
from ..model import ApiModel
from ..output import OutputTree

MARKDOWN_TEMPLATE = "changelog/CHANGELOG.md.jinja"
JSON_TEMPLATE = "changelog/changelog.json.jinja"


def changelog_file(old: ApiModel, new: ApiModel) -> str:
    return f"CHANGELOG-{old.name}-{new.name}.md"


def emit_changelog(old: ApiModel, new: ApiModel, env: jinja2.Environment, tree: OutputTree) -> None:
    tree.add(changelog_file(old, new), render_markdown(old, new, diff(old, new), env))


def render_markdown(old: ApiModel, new: ApiModel, changes: list[Change], env: jinja2.Environment) -> str:
    return env.get_template(MARKDOWN_TEMPLATE).render(**_context(old, new, changes))


def render_json(old: ApiModel, new: ApiModel, changes: list[Change], env: jinja2.Environment) -> str:
    report = {
        "old": _version(old),
        "new": _version(new),
        "summary": {"changes": len(changes), "breaking": sum(c.breaking for c in changes)},
        "changes": [asdict(c) for c in changes],
    }
    return env.get_template(JSON_TEMPLATE).render(report=json.dumps(report, indent=2, ensure_ascii=False))


def _version(model: ApiModel) -> dict[str, str]:
    return {"name": model.name, "title": model.title, "version": model.version}


def _context(old: ApiModel, new: ApiModel, changes: list[Change]) -> dict[str, Any]:
    sections = []
    for name in SECTIONS:
        rows = [_row(c) for c in changes if c.section == name]
        if rows:
            sections.append({"name": name, "rows": rows, "breaking": sum(r["breaking"] for r in rows)})
    return {
        "old": old,
        "new": new,
        "changes": changes,
        "breaking": sum(c.breaking for c in changes),
        "sections": sections,
    }


def _row(change: Change) -> dict[str, Any]:
    """One table row, each cell safe inside a Markdown table."""
    return {
        "breaking": change.breaking,
        "change": _cell(f"{change.subject} {change.action}"),
        "target": _cell(change.target),
        "detail": _cell(change.detail),
        "reason": _cell(change.reason),
    }


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
