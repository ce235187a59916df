"""Thousands of random and mutated raw bodies: never a 500, always a documented answer, never a change.

Bodies are random bytes, random JSON, or a valid signed request of a random
operation with one mutation applied after signing. A mutation the signature
still covers (an added null field, which signing leaves out) keeps the request
genuine and is skipped. Size: PAYSPEC_RELIABILITY_EXAMPLES (default 10,000).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import paygate_v1
import paygate_v2
from generator.model import ApiModel

from .conftest import Merchant, Server
from .test_bad_input import state

pytestmark = pytest.mark.reliability
EXAMPLES = int(os.environ.get("PAYSPEC_RELIABILITY_EXAMPLES", "10000"))
SIGNERS = {"v1": paygate_v1._signing, "v2": paygate_v2._signing}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=15,
)


def valid_body(model: ApiModel, operation_id: str, merchant: Merchant) -> dict[str, Any]:
    op = model.operation(operation_id)
    scheme = model.signature
    body = {k: v for k, v in op.request_examples[0].value.items() if k != scheme.field}
    body[scheme.app_id_field] = merchant.app_id
    body[scheme.timestamp_field] = str(int(time.time() * 1000))
    body[scheme.field] = SIGNERS[model.name].sign(body, merchant.secret)
    return body


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    changed = dict(body)
    key = draw(st.sampled_from(sorted(changed)))
    how = draw(st.sampled_from(["drop", "replace", "add", "flip sign", "wrap"]))
    if how == "drop":
        del changed[key]
    elif how == "replace":
        changed[key] = draw(json_values)
    elif how == "add":
        changed[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    elif how == "flip sign":
        sign = str(changed.get("sign", ""))
        changed["sign"] = sign[::-1] if len(set(sign)) > 1 else sign + "0"
    else:
        changed[key] = {"nested": changed[key]}
    return changed


def test_random_and_mutated_bodies(server: Server, merchant: Merchant, models: dict[str, ApiModel]) -> None:
    operations = [
        (name, op)
        for name, model in models.items()
        for op in model.operations
        if not op.content_type.startswith("multipart/")
    ]
    bodies = {(name, op.operation_id): valid_body(models[name], op.operation_id, merchant) for name, op in operations}
    before = state(server, merchant.app_id)
    answered: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def attack(data: st.DataObject) -> None:
        name, op = data.draw(st.sampled_from(operations))
        kind = data.draw(st.sampled_from(["bytes", "json", "mutated"]))
        headers = {"content-type": "application/json"}
        if kind == "bytes":
            content = data.draw(st.binary(max_size=300))
        elif kind == "json":
            content = json.dumps(data.draw(json_values)).encode()
        else:
            original = bodies[(name, op.operation_id)]
            body = data.draw(mutated(original))
            if SIGNERS[name].verify(body, merchant.secret):
                return  # still genuine (an added null or "" field is not signed): not an attack
            content = json.dumps(body).encode()
        response = server.http.post(op.path, content=content, headers=headers)
        assert response.status_code in (200, 400, 413), (response.status_code, content[:200])
        envelope = response.json()
        assert envelope["code"] in op.result_codes, (op.operation_id, envelope, content[:200])
        assert envelope["code"] != 10000, content[:200]
        answered[response.status_code] = answered.get(response.status_code, 0) + 1

    attack()
    assert state(server, merchant.app_id) == before
    assert sum(answered.values()) >= EXAMPLES * 0.9
