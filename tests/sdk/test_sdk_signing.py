"""The known-answer vectors pass through each generated SDK's own signer."""

from __future__ import annotations

import importlib
from types import ModuleType

from generator.config import Config
from generator.loader import VECTORS_FILE, load_vectors


def test_sdk_signer_passes_its_versions_vectors(sdk: ModuleType, config: Config) -> None:
    version = sdk.__name__.removeprefix("paygate_")
    signing = importlib.import_module(f"{sdk.__name__}._signing")
    vectors = load_vectors(config.version(version).spec / VECTORS_FILE)["vectors"]
    assert vectors
    for vector in vectors:
        body, secret = vector["body"], vector["secret"]
        assert signing.canonical_string(body) == vector["canonical"], vector["name"]
        assert signing.string_to_sign(body, secret) == vector["stringToSign"], vector["name"]
        assert signing.sign(body, secret) == vector["sign"], vector["name"]
        assert signing.verify({**body, "sign": vector["sign"]}, secret)
        flipped = vector["sign"][:-1] + ("1" if vector["sign"][-1] == "0" else "0")
        assert not signing.verify({**body, "sign": flipped}, secret)


def test_values_json_cannot_carry_exactly_are_refused_not_signed(sdk: ModuleType) -> None:
    signing = importlib.import_module(f"{sdk.__name__}._signing")
    assert not signing.verify({"amount": float("nan"), "sign": "0" * 64}, "k")
    assert not signing.verify({"amount": 2**60, "sign": "0" * 64}, "k")
