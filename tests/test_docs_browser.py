"""The v2 reference as a browser shows it: headless Chromium renders the generated page.

Skips, saying why, when Chromium is not installed (`.ci/run` installs
Debian's `chromium` when it is missing).
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from generator.config import Config
from generator.emitters.docs import docs_path
from generator.model import ApiModel

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--dump-dom",
)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


@pytest.fixture(scope="module")
def page_text(config: Config) -> str:
    """The text of the DOM Chromium builds from generated/docs/v2/index.html."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run does)")
    page = docs_path("v2", config)
    run = subprocess.run([chromium, *FLAGS, page.as_uri()], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "</html>" in run.stdout
    parser = _Text()
    parser.feed(run.stdout)
    return " ".join(" ".join(parser.parts).split())


def test_every_operation_and_notification_is_on_the_page(page_text: str, models: dict[str, ApiModel]) -> None:
    model = models["v2"]
    ids = [op.operation_id for op in model.operations] + [n.operation_id for n in model.notifications]
    assert [i for i in ids if i not in page_text] == []


def test_every_code_and_its_message_is_on_the_page(page_text: str, models: dict[str, ApiModel]) -> None:
    model = models["v2"]
    codes = [*model.result_codes(), *model.failed_codes()]
    assert [c.value for c in codes if f"{c.value} {c.name} {' '.join(c.message.split())}" not in page_text] == []


def test_the_signing_example_is_on_the_page(page_text: str, models: dict[str, ApiModel]) -> None:
    example = next(op.request_examples[0].value for op in models["v2"].operations if op.request_examples)
    assert example[models["v2"].signature.field] in page_text
