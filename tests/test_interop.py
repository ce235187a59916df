"""The published bundles work in other teams' generators: openapi-generator and openapi-typescript.

openapi-generator comes from PyPI (`openapi-generator-cli`, which ships the
jar; it needs Java 17), openapi-typescript from the npm registry through
`npx`. A test skips, saying why, when its tool cannot be run here.

Two known limitations of openapi-generator (7.x) are worked around, not hidden:
- its parser wants a link's `requestBody` to be a runtime-expression string,
  where OpenAPI allows any value; our links carry an object of expressions.
  Validation must report exactly those links and nothing else; generation
  then runs with `--skip-validate-spec`.
- a webhook that shares its tag with operations makes it write the webhook
  "API" over the operations' API file (OpenAPITools/openapi-generator#20346),
  so client generation leaves webhooks out (`webhooks=false`): a client SDK
  sends no notifications, and their body models are generated all the same.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.config import Config
from generator.model import ApiModel
from generator.render import snake_case

VERSIONS = ("v1", "v2")
GENERATORS = {
    # generator name: (API folder, model file name for a schema name)
    "python": ("openapi_client/api", lambda name: f"openapi_client/models/{snake_case(name)}.py"),
    "typescript-fetch": ("apis", lambda name: f"models/{name}.ts"),
}
CLIENT_ONLY = "apis,models,supportingFiles,webhooks=false"


def _openapi_generator() -> list[str]:
    venv = str(Path(sys.executable).parent)
    found = shutil.which("openapi-generator-cli") or shutil.which("openapi-generator-cli", path=venv)
    if found is None:
        pytest.skip("openapi-generator-cli is not installed (pip install openapi-generator-cli: .ci/run does)")
    if shutil.which("java") is None:
        pytest.skip("openapi-generator needs Java (17 or later), which is not installed")
    probe = subprocess.run([found, "version"], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"openapi-generator-cli cannot run here: {(probe.stderr or probe.stdout).strip()[-300:]}")
    return [found]


def _bundle(config: Config, version: str) -> Path:
    return config.output / "spec" / version / "openapi.json"


def _squashed(text: str) -> str:
    """Identifiers as a generator may spell them: `create_collection`, `createCollection` -> `createcollection`."""
    return text.replace("_", "").lower()


@pytest.mark.parametrize("version", VERSIONS)
def test_openapi_generator_validation_reports_only_the_known_link_limitation(
    config: Config, models: dict[str, ApiModel], version: str
) -> None:
    tool = _openapi_generator()
    run = subprocess.run(
        [*tool, "validate", "-i", str(_bundle(config, version))], capture_output=True, text=True, timeout=300
    )
    text = " ".join(line.strip() for line in (run.stdout + run.stderr).splitlines())
    errors = text.split("Errors:", 1)[1].split("Warnings:", 1)[0] if "Errors:" in text else ""
    reported = {e.strip() for e in errors.split(" - ") if e.strip()}
    expected = {
        f"attribute paths.'{op.path}'(post).responses.200.links.{link.name}.requestBody is not of type `string`"
        for op in models[version].operations
        for link in op.links
    }
    assert reported == expected
    # Its validator does not read webhooks, so it calls their body types unused.
    warnings = text.split("Warnings:", 1)[1].split("[error]", 1)[0] if "Warnings:" in text else ""
    unused = {w.strip().removeprefix("Unused model: ") for w in warnings.split(" - ") if w.strip()}
    assert unused <= _notification_types(models[version])


def _notification_types(model: ApiModel) -> set[str]:
    found: set[str] = set()
    todo = [n.schema for n in model.notifications]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo += re.findall(r"#/components/schemas/(\w+)", json.dumps(model.schemas[name]))
    return found


def _generate(config: Config, version: str, generator: str, out: Path) -> subprocess.CompletedProcess[str]:
    command = [
        *_openapi_generator(),
        "generate",
        "-i",
        str(_bundle(config, version)),
        "-g",
        generator,
        "-o",
        str(out),
        "--skip-validate-spec",
        "--global-property",
        CLIENT_ONLY,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("generator", GENERATORS)
@pytest.mark.parametrize("version", VERSIONS)
def test_openapi_generator_makes_a_client_with_every_operation_and_enum_name(
    config: Config, models: dict[str, ApiModel], tmp_path: Path, version: str, generator: str
) -> None:
    run = _generate(config, version, generator, tmp_path)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert " ERROR " not in log and "FILEPATH_COLLISION" not in log, log[-3000:]
    api_folder, model_file = GENERATORS[generator]
    api = _squashed("\n".join(p.read_text(encoding="utf-8") for p in (tmp_path / api_folder).iterdir()))
    model = models[version]
    missing = [op.operation_id for op in model.operations if _squashed(op.operation_id) not in api]
    assert missing == []
    for name, schema in model.schemas.items():
        if "x-enum-varnames" in schema:
            source = (tmp_path / model_file(name)).read_text(encoding="utf-8")
            unnamed = [v for v in schema["x-enum-varnames"] if not re.search(rf"\b{re.escape(v)}\b", source)]
            assert unnamed == [], f"{name}: members not named from x-enum-varnames: {unnamed}"
    if generator == "python":
        compiled = subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(tmp_path / "openapi_client")], capture_output=True, text=True
        )
        assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def _npx() -> str:
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx is not installed (Node.js): openapi-typescript cannot run")
    return npx


@pytest.mark.parametrize("version", VERSIONS)
def test_openapi_typescript_types_every_operation(
    config: Config, models: dict[str, ApiModel], tmp_path: Path, version: str
) -> None:
    npx = _npx()
    probe = subprocess.run(
        [npx, "--yes", "openapi-typescript@7", "--version"], capture_output=True, text=True, timeout=300
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot fetch openapi-typescript@7 from the npm registry: {probe.stderr.strip()[-300:]}")
    out = tmp_path / f"{version}.d.ts"
    run = subprocess.run(
        [npx, "--yes", "openapi-typescript@7", str(config.output / "spec" / version / "openapi.yaml"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    types = out.read_text(encoding="utf-8")
    model = models[version]
    ids = [op.operation_id for op in model.operations] + [n.operation_id for n in model.notifications]
    assert [i for i in ids if f'operations["{i}"]' not in types] == []
