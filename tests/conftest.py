"""Shared fixtures: the project's config and the checked model of each API version."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.config import Config, find_config
from generator.loader import load_model
from generator.model import ApiModel

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "product" / "seed" / "000_44211b32813a4b4d.txt"


@pytest.fixture(scope="session")
def config() -> Config:
    return find_config(ROOT)


@pytest.fixture(scope="session")
def models(config: Config) -> dict[str, ApiModel]:
    return {v.name: load_model(v.spec, v.name) for v in config.versions}


@pytest.fixture(scope="session", params=["v1", "v2"])
def model(request: pytest.FixtureRequest, models: dict[str, ApiModel]) -> ApiModel:
    return models[request.param]
