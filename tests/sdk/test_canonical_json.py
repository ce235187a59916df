"""The signers' fast path writes exactly what RFC 8785 writes, for any JSON value."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from paygate_v1 import _signing as v1
from paygate_v2 import _signing as v2

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
keys = st.text(max_size=8) | st.sampled_from(["a", "B", "é", "\U0001f600", "\ue000", "", "appId", "sign"])
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=20
)


@settings(max_examples=500, deadline=None)
@given(values)
def test_fast_canonical_json_is_rfc_8785(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value).decode("utf-8")
    except (ValueError, UnicodeError):
        return  # what RFC 8785 cannot write is not signed at all
    assert v2._canonical_json(value) == expected
    assert v1._canonical_json(value) == expected


@given(st.dictionaries(keys, values, max_size=6))
def test_both_paths_sign_alike(body: dict[str, Any]) -> None:
    try:
        rfc8785.dumps(body)
    except (ValueError, UnicodeError):
        return
    assert (
        v2.canonical_string(body)
        == rfc8785.dumps({k: v for k, v in body.items() if k != "sign" and v not in (None, "")}).decode()
    )
