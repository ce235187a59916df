"""`payspec generate`: reproducible, checkable, overridable - as CI and maintainers use it."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.emitters.models import FormatError, ModelJob, _format, models_source, prefetched
from generator.model import ApiModel

from .conftest import ROOT


def payspec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's inputs and committed output, to regenerate without touching the real one."""
    root = tmp_path_factory.mktemp("project")
    for name in ("spec", "templates", "generated"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _differences(left: Path, right: Path) -> list[str]:
    found = []
    compare = filecmp.dircmp(left, right, ignore=["__pycache__", ".mypy_cache", ".ruff_cache"])
    found += [f"only in committed: {n}" for n in compare.left_only] + [
        f"only in fresh: {n}" for n in compare.right_only
    ]
    found += [f"differs: {n}" for n in compare.diff_files]
    for sub in compare.common_dirs:
        found += _differences(left / sub, right / sub)
    return found


def test_committed_output_is_fresh() -> None:
    run = payspec("generate", "--check", cwd=ROOT)
    assert run.returncode == 0, run.stderr


def test_regenerating_from_scratch_is_byte_identical(project: Path) -> None:
    fresh = project / "generated"
    shutil.rmtree(fresh)
    run = payspec("generate", cwd=project)
    assert run.returncode == 0, run.stderr
    assert _differences(ROOT / "generated", fresh) == []
    again = payspec("generate", cwd=project)
    assert again.stdout.strip() == "up to date"


def test_check_lists_every_stale_file_and_writes_nothing(project: Path) -> None:
    models = project / "generated/python/paygate_v2/paygate_v2/models.py"
    models.write_text(models.read_text(encoding="utf-8") + "# edited by hand\n", encoding="utf-8")
    stray = project / "generated/python/paygate_v1/paygate_v1/leftover.py"
    stray.write_text("x = 1\n", encoding="utf-8")
    (project / "generated/spec/v1/openapi.json").unlink()
    before = models.read_text(encoding="utf-8")
    run = payspec("generate", "--check", cwd=project)
    assert run.returncode == 1
    assert "paygate_v2/models.py: stale" in run.stderr
    assert "paygate_v1/leftover.py: not generated any more" in run.stderr
    assert "spec/v1/openapi.json: missing" in run.stderr
    assert models.read_text(encoding="utf-8") == before and stray.exists()
    assert payspec("generate", cwd=project).returncode == 0
    assert not stray.exists()
    assert payspec("generate", "--check", cwd=project).returncode == 0


def test_a_template_can_be_overridden(project: Path, tmp_path: Path) -> None:
    overrides = tmp_path / "mine"
    (overrides / "python").mkdir(parents=True)
    (overrides / "python/README.md.jinja").write_text("# {{ package }}, our way\n", encoding="utf-8")
    run = payspec("generate", "--templates", str(overrides), "v2", cwd=project)
    assert run.returncode == 0, run.stderr
    assert (project / "generated/python/paygate_v2/README.md").read_text(encoding="utf-8") == "# paygate_v2, our way\n"
    # Everything not overridden is the built-in template's output.
    assert (project / "generated/python/paygate_v2/paygate_v2/_client.py").read_bytes() == (
        ROOT / "generated/python/paygate_v2/paygate_v2/_client.py"
    ).read_bytes()
    assert payspec("generate", cwd=project).returncode == 0


def test_a_broken_template_is_a_one_line_error(project: Path, tmp_path: Path) -> None:
    overrides = tmp_path / "broken"
    (overrides / "python").mkdir(parents=True)
    (overrides / "python/README.md.jinja").write_text("{{ no_such_name }}\n", encoding="utf-8")
    run = payspec("generate", "--check", "--templates", str(overrides), cwd=project)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "no_such_name" in run.stderr


@pytest.mark.parametrize("package", ["paygate_v1", "paygate_v2"])
def test_generated_sdk_passes_mypy_strict_and_ruff(package: str) -> None:
    folder = ROOT / "generated/python" / package
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir=/dev/null", package],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert mypy.returncode == 0, mypy.stdout
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", package], cwd=folder, capture_output=True, text=True
    )
    assert ruff.returncode == 0, ruff.stdout


def test_every_generated_python_file_says_it_is_generated() -> None:
    for path in (ROOT / "generated/python").rglob("*.py"):
        assert path.read_text(encoding="utf-8").startswith("# Generated by payspec"), path


def test_an_unchanged_project_answers_without_regenerating(project: Path) -> None:
    assert payspec("generate", cwd=project).returncode == 0
    assert payspec("generate", cwd=project).stdout.strip() == "up to date"
    # A spec edit is seen: the next run regenerates.
    collection = project / "spec/common/schemas/collection.yaml"
    collection.write_text(
        collection.read_text(encoding="utf-8").replace("A collection (pay-in) and how", "A pay-in and how"),
        encoding="utf-8",
    )
    run = payspec("generate", "--check", cwd=project)
    assert run.returncode == 1 and "paygate_v2/models.py: stale" in run.stderr
    assert "file(s) written" in payspec("generate", cwd=project).stdout


def test_the_model_process_is_only_a_head_start(tmp_path: Path, models: dict[str, ApiModel]) -> None:
    """Whatever the forked model process leaves undone is made in-process, to the same bytes."""
    document = models["v2"].document
    committed = (ROOT / "generated/python/paygate_v2/paygate_v2/models.py").read_text(encoding="utf-8")
    header = "\n".join(committed.splitlines()[:2])

    def dies() -> list[ModelJob]:
        raise RuntimeError("the child fails before it has made anything")

    with prefetched(tmp_path, dies) as wait:
        wait()
    assert not list(tmp_path.glob("models-*.py"))
    assert models_source(document, header, tmp_path) == committed
    assert len(list(tmp_path.glob("models-*.py"))) == 1  # and now cached


def test_the_model_process_leaves_the_models_in_the_cache(tmp_path: Path, models: dict[str, ApiModel]) -> None:
    document = models["v1"].document
    committed = (ROOT / "generated/python/paygate_v1/paygate_v1/models.py").read_text(encoding="utf-8")
    header = "\n".join(committed.splitlines()[:2])
    with prefetched(tmp_path, lambda: [(document, header)]) as wait:
        wait()
    [cached] = tmp_path.glob("models-*.py")
    assert cached.read_text(encoding="utf-8") == committed
    assert models_source(document, header, tmp_path) == committed


def test_models_that_ruff_cannot_format_are_a_one_line_error() -> None:
    assert _format("import sys\nimport os\nx=[1,\n2]\n") == "import os\nimport sys\n\nx = [1, 2]\n"
    with pytest.raises(FormatError, match=r"^ruff check failed on the generated models: invalid-syntax"):
        _format("def (:\n")


def test_a_missing_ruff_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import ruff.__main__

    def missing() -> str:
        raise FileNotFoundError("no ruff executable")

    monkeypatch.setattr(ruff.__main__, "find_ruff_bin", missing)
    with pytest.raises(FormatError, match=r"^ruff could not run: no ruff executable$"):
        _format("x = 1\n")
