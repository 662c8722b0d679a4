"""canonical_json's json fast path writes exactly the bytes of the JCS package (RFC 8785)."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from tonglian_proof.canonical import canonical_json

_MAX = 2**53 - 1
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.none() | st.booleans() | st.integers(-_MAX, _MAX) | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=600, deadline=None)
@given(values)
def test_fast_path_equals_jcs(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_key_order_beyond_the_bmp_follows_utf16() -> None:
    # U+1F600 sorts before U+FF5E in UTF-16 code units, after it in code points.
    value = {"\U0001f600": 1, "\uff5e": 2}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).startswith('{"\U0001f600"'.encode())


def test_control_characters_and_quotes_are_escaped_as_jcs_does() -> None:
    value = {"k": '\x00\x01\x08\t\n\x0c\r\x1f"\\\x7f\u2028é'}
    assert canonical_json(value) == rfc8785.dumps(value)


def test_floats_take_the_jcs_form() -> None:
    assert canonical_json({"x": 1.0, "y": 1e21}) == b'{"x":1,"y":1e+21}'
