"""`payspec validate` and `payspec bundle` as a maintainer meets them: real commands, real files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.config import Config
from generator.loader import load_model
from generator.model import ApiModel

from .conftest import ROOT


def payspec(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "spec", tmp_path / "spec")
    return tmp_path / "spec"


def test_both_versions_validate() -> None:
    run = payspec("validate")
    assert run.returncode == 0, run.stderr
    assert "v1: ok - 14 operations, 4 notifications" in run.stdout
    assert "v2: ok - 26 operations, 5 notifications" in run.stdout


def _edit(path: Path, old: str, new: str) -> int:
    """Replace `old` once; return the line where it stood."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize(
    ("file", "old", "new", "message", "at_edit"),
    [
        (
            "v2/paths/collection.yaml",
            "../schemas/collection.yaml#/CollectionQueryRequest",
            "../schemas/collection.yaml#/NoSuchRequest",
            "no 'NoSuchRequest'",
            True,
        ),
        (
            "v2/paths/collection.yaml",
            "../schemas/collection.yaml#/CollectionQueryRequest",
            "../schemas/missing.yaml#/CollectionQueryRequest",
            "missing file",
            True,
        ),
        (
            "common/schemas/collection.yaml",
            "  type: object\n  required: [mchOrderId, amount",
            "  type: objekt\n  required: [mchOrderId, amount",
            "objekt",
            True,
        ),
        (
            "common/schemas/types.yaml",
            'pattern: "^[0-9A-Za-z_-]+$"',
            'pattern: "^[0-9A-Za-z_-+$"',
            "is not a .?regex",
            True,
        ),
        ("v2/openapi.yaml", "  title: PayGate Open API\n", "", "title.? is a required property", False),
        ("common/codes.yaml", '    - "Request sign error"\n', "", "enum needs x-enum-descriptions", False),
        ("v2/openapi.yaml", "x-notifications:\n", "x-notes:\n", "x-notifications is missing", False),
        ("v2/openapi.yaml", "  ack: SUCCESS\n", "", "x-notifications is incomplete: KeyError..ack", False),
        (
            "common/channels.yaml",
            "E_WALLET: {countries: [PH, ID, TH, VN, MY], destination: WalletCode}",
            "E_WALLET: {countries: [PH, ID, TH, VN, MY], destination: Wallet}",
            "'Wallet' is not a channel list",
            True,
        ),
    ],
)
def test_a_broken_spec_fails_with_file_and_line(
    spec_copy: Path, file: str, old: str, new: str, message: str, at_edit: bool
) -> None:
    line = _edit(spec_copy / file, old, new)
    run = payspec("validate", str(spec_copy / "v2"))
    assert run.returncode == 1
    problems = [ln for ln in run.stderr.strip().splitlines() if re.search(message, ln)]
    assert problems, run.stderr
    match = re.match(r"(\S+?):(\d+): ", problems[0])
    assert match, f"no file:line in {problems[0]!r}"
    assert match.group(1).endswith(file)
    if at_edit:
        assert int(match.group(2)) == line


def test_an_unreadable_yaml_file_is_one_line(spec_copy: Path) -> None:
    (spec_copy / "v2" / "paths" / "collection.yaml").write_text("create:\n  post: [unclosed\n", encoding="utf-8")
    run = payspec("validate", str(spec_copy / "v2"))
    assert run.returncode == 1
    assert re.search(r"collection\.yaml:\d+: YAML syntax", run.stderr), run.stderr


def test_a_wrong_example_signature_names_the_right_one(spec_copy: Path) -> None:
    path = spec_copy / "v2" / "paths" / "collection.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("productName: Monthly plan", "productName: Yearly plan", 1)
    path.write_text(text, encoding="utf-8")
    run = payspec("validate", str(spec_copy / "v2"))
    assert run.returncode == 1
    assert re.search(r"collection\.yaml:\d+: example's sign is wrong: expected [0-9a-f]{64}", run.stderr), run.stderr


def test_bundles_round_trip(tmp_path: Path, config: Config, models: dict[str, ApiModel]) -> None:
    run = payspec("bundle", "--check")
    assert run.returncode == 0, run.stderr
    for name, model in models.items():
        folder = config.output / "spec" / name
        as_json = json.loads((folder / "openapi.json").read_text(encoding="utf-8"))
        as_yaml = yaml.safe_load((folder / "openapi.yaml").read_text(encoding="utf-8"))
        assert as_json == model.document == as_yaml
        # The bundle is a spec in its own right: loading it gives the same model.
        again = load_model(folder / "openapi.json", name)
        assert again.document == model.document
        assert [op.operation_id for op in again.operations] == [op.operation_id for op in model.operations]
