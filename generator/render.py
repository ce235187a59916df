"""The jinja2 environment every emitter renders with.

Templates come from the project's `templates/` folder, or first from a
folder of the user's (`--templates DIR`), so any single template can be
overridden without copying the rest.
"""

from __future__ import annotations

import keyword
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from .config import BUILTIN_TEMPLATES


def environment(overrides: Path | None = None) -> jinja2.Environment:
    """A strict environment: an undefined name in a template is an error, not ''."""
    # These templates write Python and Markdown, not HTML: escaping would corrupt them.
    env = _strict(overrides, autoescape=False, extensions=["jinja2.ext.do"])
    env.filters.update(
        pyrepr=pyrepr,
        snake=snake_case,
        indent_text=indent_text,
        docstring=docstring,
        doc=doc,
        hanging=hanging,
        frozenset=frozenset_literal,
    )
    return env


def html_environment(overrides: Path | None = None) -> jinja2.Environment:
    """The environment of the HTML docs: autoescaped, so spec text can never become markup."""
    autoescape = jinja2.select_autoescape(enabled_extensions=("html", "html.jinja"), default=True)
    env = _strict(overrides, autoescape=autoescape)
    env.filters.update(prose=prose)
    return env


def _strict(
    overrides: Path | None, *, autoescape: bool | Callable[[str | None], bool], extensions: list[str] | None = None
) -> jinja2.Environment:
    """Templates from `overrides` first, then the built-in ones; undefined names are errors."""
    search = [str(overrides)] if overrides else []
    search.append(str(BUILTIN_TEMPLATES))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=autoescape,  # noqa: S701 - each caller chooses its escaping
        extensions=extensions or [],
    )


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """jinja's own cache of compiled templates, in the temporary folder (none where it cannot be made).

    Compiling the templates was a tenth of a cold `generate`. Entries are checked
    against their template's source, so an edited template is compiled again.
    """
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


_CODE_SPAN = re.compile(r"`([^`]+)`")


def prose(text: str) -> markupsafe.Markup:
    """Spec prose as HTML paragraphs: escaped first, then `code` spans marked up."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", str(text).strip()) if p.strip()]
    html = [_CODE_SPAN.sub(r"<code>\1</code>", str(markupsafe.escape(p))) for p in paragraphs]
    return markupsafe.Markup("".join(f"<p>{p}</p>" for p in html))  # noqa: S704 - escaped above


def pyrepr(value: Any) -> str:
    """A Python literal for `value`, with double-quoted strings as ruff formats them."""
    if isinstance(value, str):
        body = repr(value)
        if body.startswith("'") and '"' not in value:
            body = '"' + body[1:-1].replace("\\'", "'") + '"'
        return body
    if isinstance(value, (list, tuple)):
        items = ", ".join(pyrepr(v) for v in value)
        if isinstance(value, tuple):
            return f"({items},)" if len(value) == 1 else f"({items})"
        return f"[{items}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{pyrepr(k)}: {pyrepr(v)}" for k, v in value.items()) + "}"
    return repr(value)


def snake_case(name: str) -> str:
    """`mchOrderId` -> `mch_order_id`; a Python keyword gets a trailing underscore."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name).lower().replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name


def pascal_case(name: str) -> str:
    """`DUPLICATE_MERCHANT_ORDER_ID` or `not_found` -> `DuplicateMerchantOrderId` / `NotFound`."""
    return "".join(part[:1].upper() + part[1:].lower() for part in re.split(r"[_\W]+", name) if part)


def indent_text(text: str, width: int = 4, columns: int = 88) -> str:
    """Re-flow prose to fit a docstring indented by `width`."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    wrapped = [
        textwrap.fill(" ".join(p.split()), columns - width, initial_indent=" " * width, subsequent_indent=" " * width)
        for p in paragraphs
    ]
    return "\n\n".join(wrapped)


def docstring(text: str, width: int = 8, columns: int = 88) -> str:
    """Prose safe inside a triple-quoted docstring, re-flowed to fit."""
    return indent_text(text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"'), width, columns)


def doc(text: str, indent: int = 4, columns: int = 100) -> str:
    """A complete docstring literal: one line when it fits, else wrapped paragraphs."""
    text = " ".join(text.replace("\\", "\\\\").replace('"""', "'''").split())
    if len(text) + indent + 6 <= columns:
        return f'"""{text}"""'
    body = textwrap.fill(text, columns - indent, initial_indent=" " * indent, subsequent_indent=" " * indent)
    return f'"""\n{body}\n{" " * indent}"""'


def hanging(text: str, indent: int = 12, columns: int = 100) -> str:
    """A Google-style `Args:` entry: the first line at `indent`, the rest four deeper."""
    return textwrap.fill(
        " ".join(text.split()), columns, initial_indent=" " * indent, subsequent_indent=" " * (indent + 4)
    )


def frozenset_literal(values: Any) -> str:
    """`frozenset({1, 2})`, or `frozenset()` when empty (`{}` would be a dict)."""
    items = ", ".join(pyrepr(v) for v in sorted(values))
    return f"frozenset({{{items}}})" if items else "frozenset()"
