"""tonglian_proof.crypto.sm3 against the examples of GB/T 32905-2016 (Appendix A)."""

from __future__ import annotations

import hashlib

import pytest

from tonglian_proof.crypto.sm3 import sm3


@pytest.mark.parametrize(
    ("message", "digest"),
    [
        # A.1: "abc"
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        # A.2: "abcd" repeated 16 times (64 bytes, two blocks after padding)
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
)
def test_standard_examples(message: bytes, digest: str) -> None:
    assert sm3(message).hex() == digest


@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 1000])
def test_agrees_with_openssl_across_padding_boundaries(size: int) -> None:
    data = bytes(range(256)) * 4
    assert sm3(data[:size]) == hashlib.new("sm3", data[:size]).digest()
