"""`payspec docs`: a self-contained, escaped HTML reference of each version, made from the model alone."""

from __future__ import annotations

import copy
import re
from pathlib import Path

from generator.bundle import Bundle
from generator.config import Config
from generator.emitters.docs import docs_context, docs_path, render_docs
from generator.model import ApiModel, build_model
from generator.problems import Problem
from generator.render import html_environment
from generator.signing import load_signer


def test_each_version_has_its_page(config: Config, models: dict[str, ApiModel]) -> None:
    for name, model in models.items():
        page = docs_path(name, config)
        assert page == config.output / "docs" / name / "index.html"
        assert page.read_text(encoding="utf-8") == render_docs(model, html_environment())


def test_the_page_loads_nothing_from_elsewhere(config: Config) -> None:
    for version in ("v1", "v2"):
        html = docs_path(version, config).read_text(encoding="utf-8")
        assert not re.search(r"<(script|img|iframe)\b[^>]*\bsrc=", html)
        assert not re.search(r"<link\b", html)
        assert "@import" not in html and "url(" not in html


def test_the_worked_example_is_the_signers(models: dict[str, ApiModel]) -> None:
    for model in models.values():
        example = docs_context(model)["signing_example"]
        assert example is not None and example.matches
        signer = load_signer(model)
        op = model.operation(example.operation_id)
        body = op.request_examples[0].value
        assert example.sign == signer.sign(body, model.signature.example_secret) == body[model.signature.field]
        assert example.canonical == signer.canonical_string(body)


def test_spec_text_is_escaped(models: dict[str, ApiModel]) -> None:
    document = copy.deepcopy(models["v2"].document)
    document["info"]["description"] = "Beware <script>alert(1)</script> & `<b>code</b>`"
    problems: list[Problem] = []
    model = build_model("v2", Bundle(Path("openapi.json"), document), problems)
    assert model is not None
    html = render_docs(model, html_environment())
    assert "<script>alert" not in html
    assert "Beware &lt;script&gt;alert(1)&lt;/script&gt; &amp; <code>&lt;b&gt;code&lt;/b&gt;</code>" in html


def test_the_page_holds_every_schema_and_code_table(config: Config, models: dict[str, ApiModel]) -> None:
    html = docs_path("v2", config).read_text(encoding="utf-8")
    model = models["v2"]
    assert [n for n in model.schemas if f'id="schema-{n}"' not in html] == []
    assert [t.name for t in model.code_tables if f'id="codes-{t.name}"' not in html] == []
    for name, schema in model.schemas.items():
        for extension in ("x-channels", "x-markets", "x-minor-units"):
            if extension in schema:
                assert f'id="facts-{name}-{extension}"' in html
