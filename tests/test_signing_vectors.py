"""The published test vectors are right, by an implementation written from the prose.

The check below is deliberately independent of the signer template: it is
what a team in another language would write from the spec's description.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
import rfc8785

from generator.config import Config
from generator.loader import VECTORS_FILE, load_vectors
from generator.model import ApiModel
from generator.signing import load_signer


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "sign" and v is not None and v != ""}


def reference_v2(body: dict[str, Any], secret: str) -> tuple[str, str, str]:
    canonical = rfc8785.dumps(_fields(body)).decode()
    return canonical, canonical, hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def reference_v1(body: dict[str, Any], secret: str) -> tuple[str, str, str]:
    pairs = sorted(_fields(body).items(), key=lambda kv: kv[0].encode())
    canonical = "&".join(f"{k}={v if isinstance(v, str) else rfc8785.dumps(v).decode()}" for k, v in pairs)
    signed = f"{canonical}&key={secret}"
    return canonical, signed, hashlib.sha1(signed.encode()).hexdigest()


REFERENCE = {"v1": reference_v1, "v2": reference_v2}


@pytest.fixture
def vectors(config: Config, model: ApiModel) -> list[dict[str, Any]]:
    return load_vectors(config.version(model.name).spec / VECTORS_FILE)["vectors"]  # type: ignore[no-any-return]


def test_vectors_match_an_independent_implementation(model: ApiModel, vectors: list[dict[str, Any]]) -> None:
    for vector in vectors:
        expected = REFERENCE[model.name](vector["body"], vector["secret"])
        assert (vector["canonical"], vector["stringToSign"], vector["sign"]) == expected, vector["name"]


def test_vectors_cover_the_hard_cases(vectors: list[dict[str, Any]]) -> None:
    bodies = [v["body"] for v in vectors]
    assert any(any(not str(x).isascii() for x in b.values()) for b in bodies), "non-ASCII"
    assert any(any(isinstance(x, dict) for x in b.values()) for b in bodies), "nested object"
    assert any(None in b.values() and "" in b.values() for b in bodies), "null and empty"
    assert any(any(isinstance(x, float) and x.is_integer() for x in b.values()) for b in bodies), "integral float"


def test_integral_float_signs_like_the_integer(vectors: list[dict[str, Any]]) -> None:
    by_name = {v["name"]: v for v in vectors}
    assert by_name["integral float"]["sign"] == by_name["integer"]["sign"]


def test_rendered_signer_passes_the_vectors(model: ApiModel, vectors: list[dict[str, Any]]) -> None:
    signer = load_signer(model)
    for vector in vectors:
        assert signer.canonical_string(vector["body"]) == vector["canonical"], vector["name"]
        assert signer.sign(vector["body"], vector["secret"]) == vector["sign"], vector["name"]
        assert signer.verify({**vector["body"], "sign": vector["sign"]}, vector["secret"])
        assert not signer.verify({**vector["body"], "sign": vector["sign"]}, vector["secret"] + "x")


def test_sign_lengths_follow_the_algorithm(model: ApiModel, vectors: list[dict[str, Any]]) -> None:
    length = {"sha1": 40, "hmac-sha256": 64}[model.signature.algorithm]
    assert all(len(v["sign"]) == length and v["sign"] == v["sign"].lower() for v in vectors)
