"""Strict RLP of storage words and accounts (tonglian_proof/verify/evm_rlp.py): pyrlp's answer
for every input, value or refusal."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import rlp

from tonglian_proof.verify.evm_rlp import rlp_list_of_words, rlp_word


def _outcome(decode: Callable[[bytes], Any], item: bytes) -> tuple[str, object]:
    try:
        return "ok", decode(item)
    except rlp.exceptions.DecodingError as exc:
        return "refused", type(exc).__name__


def _strict(item: bytes) -> Any:
    return rlp.decode(item, strict=True)


def _mutants(rng: random.Random, enc: bytes) -> list[bytes]:
    """The encoding, with a byte more, a byte less, and one byte changed."""
    out = [enc, enc + b"\x00", enc[:-1]]
    if enc:
        changed = bytearray(enc)
        changed[rng.randrange(len(enc))] = rng.randrange(256)
        out.append(bytes(changed))
    return out


def test_rlp_word_decodes_exactly_as_strict_rlp() -> None:
    rng = random.Random(5)
    items: list[bytes] = [bytes([b]) for b in range(256)]
    items += [bytes([b, c]) for b in range(0x7E, 0xC2) for c in (0, 1, 0x7F, 0x80, 0xFF)]
    for n in range(60):
        word = rng.randbytes(n)
        items += _mutants(rng, rlp.encode(word))
        items += [bytes([0x80 + n]) + word, b"\x81" + word[:1]]
    items += [rng.randbytes(rng.randrange(40)) for _ in range(5000)]
    for item in items:
        assert _outcome(rlp_word, item) == _outcome(_strict, item), item.hex()


def test_rlp_list_of_words_decodes_exactly_as_strict_rlp() -> None:
    rng = random.Random(6)
    items: list[bytes] = [rlp.encode([b"\x01", b"", rng.randbytes(32), rng.randbytes(32)])]
    for _ in range(3000):
        sizes = [rng.choice([0, 1, 1, 2, 20, 32, 33, 55, 56, 60]) for _ in range(rng.randrange(6))]
        words: list[Any] = [rng.randbytes(s) for s in sizes]
        if rng.random() < 0.1:
            words.append([b"\x05"])  # a nested list: not this shape, pyrlp decides
        enc = rlp.encode(words)
        items += _mutants(rng, enc)
        if 1 < len(enc) < 257:
            items.append(bytes([0xF8, len(enc) - 1]) + enc[1:])  # long form for a short list
    items += [bytes([0xC0 + n]) + rng.randbytes(n) for n in range(56)]
    items += [b"\xf8\x37" + b"\x00" * 55, b"\xc2\x81\x05", b"\xc2\x81\x85"]
    items += [rng.randbytes(rng.randrange(40)) for _ in range(10000)]
    for item in items:
        assert _outcome(rlp_list_of_words, item) == _outcome(_strict, item), item.hex()
