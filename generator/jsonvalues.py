"""JSON values as the spec's rules read them, for the simulator and the contract checks alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def integral(value: Any) -> Any:
    """The value with integral numbers as integers: JSON Schema reads 150000.0 as the integer 150000."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral(item) for item in value]
    return value


def strings(value: Any) -> Iterator[str]:
    """Every string a JSON value holds, at any depth (keys aside)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
