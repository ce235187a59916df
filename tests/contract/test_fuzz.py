"""Schemathesis over every operation of both versions, in-process, with the gateway-aware checks.

CI also runs `payspec fuzz` with a larger budget against a `payspec serve`
process (.ci/run); this keeps the contract in the test suite itself.
"""

from __future__ import annotations

import pytest

from generator.config import Config
from generator.contract.runner import FuzzOptions, fuzz
from generator.model import ApiModel


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_simulator_honours_its_spec(
    config: Config, models: dict[str, ApiModel], version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = fuzz(config, FuzzOptions(version=version, max_examples=10, seed=20261126))
    output = capsys.readouterr().out
    assert status == 0, output[-5000:]
    operations = len(models[version].operations)
    assert f"Selected: {operations}/{operations}" in output and f"Tested: {operations}" in output
    assert "Stateful" in output and f"payspec fuzz {version}:" in output
