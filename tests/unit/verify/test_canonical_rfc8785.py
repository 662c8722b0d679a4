"""Canonical JSON is RFC 8785: the RFC's own examples, and audit hashes that an
independent JCS implementation (the `jcs` package) recomputes byte for byte."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import jcs
import pytest

from hub.audit.log import AuditLog
from hub.store.sqlite import SqliteStore
from tonglian_proof.audit_hash import event_hash, time_us
from tonglian_proof.canonical import canonical_json
from tonglian_proof.errors import MalformedInput


def test_rfc8785_section_3_2_2_example() -> None:
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")


def test_rfc8785_section_3_2_3_sorting_by_utf16_code_units() -> None:
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")


# RFC 8785 appendix B: IEEE-754 bit patterns and their JCS number form.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, text: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_json(number) == text.encode()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 2**53])
def test_values_without_a_canonical_form_are_refused(value: float) -> None:
    with pytest.raises(MalformedInput, match="value has no canonical JSON form"):
        canonical_json({"x": value})


async def test_audit_hashes_match_an_independent_jcs_implementation(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    try:
        audit = AuditLog(store)
        for i, who in enumerate(["市场监管局", "tax-bureau", "\u20ac-\U0001f600"]):
            await audit.append(
                principal=who,
                action="query.get_record",
                target=f"custom-1/licences/键-{i}",
                purpose="business-registration",
                detail={"n": i, "ratio": 0.1 * i, "nested": {"\u00f6": [1, None, True]}},
            )
        events = await audit.events(1, 10)
    finally:
        await store.close()
    assert len(events) == 3
    for event in events:
        body = {
            "sequence": event.sequence,
            "previous_hash": event.previous_hash.hex(),
            "time_us": time_us(event.time),
            "principal": event.principal,
            "action": event.action,
            "target": event.target,
            "purpose": event.purpose,
            "outcome": event.outcome,
            "detail_json": event.detail_json,
        }
        recomputed = hashlib.sha256(jcs.canonicalize(body)).digest()
        assert recomputed == event.hash == event_hash(event)
        # The detail itself is JCS text too.
        assert event.detail_json.encode() == jcs.canonicalize(json.loads(event.detail_json))
