"""The simulator names codes, it never types them: each name it uses is in every version's tables."""

from __future__ import annotations

import ast

from generator.model import ApiModel

from ..conftest import ROOT

# Calls whose first string argument is a result code's name, and those whose is a failed code's.
RESULT_CALLS = {"refuse", "Refusal", "result_code", "_envelope"}
FAILED_CALLS = {"failed_code"}


def _named(calls: set[str]) -> set[tuple[str, str]]:
    """(file:line, name) for every string constant given to one of `calls` in the simulator."""
    found = set()
    for path in sorted((ROOT / "simulator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if callee not in calls:
                continue
            for argument in node.args:
                # A name given as it is, or as either branch of a conditional.
                branches = [argument.body, argument.orelse] if isinstance(argument, ast.IfExp) else [argument]
                for branch in branches:
                    if isinstance(branch, ast.Constant) and isinstance(branch.value, str):
                        found.add((f"{path.relative_to(ROOT)}:{node.lineno}", branch.value))
    return found


def test_every_code_name_the_simulator_uses_is_in_the_spec(models: dict[str, ApiModel]) -> None:
    result, failed = _named(RESULT_CALLS), _named(FAILED_CALLS)
    assert len({name for _, name in result}) > 20 and failed  # the walk does find them
    for model in models.values():
        results = {code.name for code in model.result_codes()}
        failures = {code.name for code in model.failed_codes()}
        assert [f"{where}: {name}" for where, name in sorted(result) if name not in results] == []
        assert [f"{where}: {name}" for where, name in sorted(failed) if name not in failures] == []


def test_no_code_is_typed_in_the_simulator(models: dict[str, ApiModel]) -> None:
    # A negative code is parsed as minus a positive constant.
    values = {abs(code.value) for model in models.values() for table in model.code_tables for code in table.codes}
    typed = []
    for path in sorted((ROOT / "simulator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and type(node.value) is int and node.value in values:
                typed.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert typed == []
