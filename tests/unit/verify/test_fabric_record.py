"""The record's schema, read from the written value (tonglian_proof/verify/fabric/record.py)."""

from __future__ import annotations

import json
import random

from tonglian_proof.verify.fabric.record import schema_of


def _reference(value: bytes) -> str:
    """schema_of as json.loads(bytes) defines it (encoding detection included)."""
    try:
        doc = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return ""
    schema = doc.get("schema") if isinstance(doc, dict) else None
    return schema if isinstance(schema, str) else ""


def test_schema_of_reads_values_as_json_loads_does() -> None:
    """The UTF-8 fast path gives json.loads' answer for every encoding it detects."""
    text = '{"schema":"gov.license/v1","n":1}'
    samples = [
        text.encode(),
        b" " + text.encode(),
        text.encode("utf-16"),
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
        text.encode("utf-32"),
        text.encode("utf-32-be"),
        b"\xef\xbb\xbf" + text.encode(),
        b'{"schema":"\xed\xa0\x80"}',  # a lone surrogate, which surrogatepass lets through
        b'{"schema":"\xff"}',
        b'{"schema":1}',
        b"",
        b"{",
        b"[]",
    ]
    rng = random.Random(7)
    alphabet = b'{}" :schema\x00\xef\xbb\xbf\xfe\xff\xed\xa0\x80a1'
    samples += [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(5000)]
    assert schema_of(text.encode()) == "gov.license/v1"
    assert schema_of(text.encode("utf-16")) == "gov.license/v1"
    for value in samples:
        assert schema_of(value) == _reference(value), value
