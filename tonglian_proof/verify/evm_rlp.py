"""Strict RLP decoding of the small items a storage proof ends in, without pyrlp's Python walk.

A slot value is one byte string of at most 32 bytes and an account is a list of four
short byte strings; pyrlp decodes either in tens of microseconds of Python. These
functions answer in a few comparisons when the item is the canonical encoding of
exactly that shape, and hand anything else to `rlp.decode(strict=True)`, which
decides and words its refusal: every input gets pyrlp's answer.
"""

from __future__ import annotations

from typing import Any

import rlp


def _word_end(item: bytes, at: int, end: int) -> int:
    """End of the canonical byte string (< 56 bytes) at `item[at]`, or -1."""
    first = item[at]
    if first < 0x80:
        return at + 1
    n = first - 0x80
    stop = at + 1 + n
    if n > 55 or stop > end or (n == 1 and item[at + 1] < 0x80):
        return -1
    return stop


def rlp_word(item: bytes) -> Any:
    """`rlp.decode(item, strict=True)` for a storage word (a byte string of 1 to 55 bytes)."""
    n = len(item)
    if n == 1 and item[0] < 0x80:
        return item
    if 2 <= n <= 56 and item[0] == 0x7F + n and (n > 2 or item[1] >= 0x80):
        return item[1:]
    return rlp.decode(item, strict=True)


def rlp_list_of_words(item: bytes) -> Any:
    """`rlp.decode(item, strict=True)` for a list of short byte strings (an account)."""
    n = len(item)
    if n >= 2:
        first = item[0]
        if 0xC0 <= first <= 0xF7:
            start, length = 1, first - 0xC0
        elif first == 0xF8 and item[1] >= 56:
            start, length = 2, item[1]
        else:
            return rlp.decode(item, strict=True)
        if start + length == n:
            out: list[bytes] = []
            at = start
            while at < n:
                stop = _word_end(item, at, n)
                if stop < 0:
                    break
                out.append(item[at:stop] if item[at] < 0x80 else item[at + 1 : stop])
                at = stop
            else:
                return out
    return rlp.decode(item, strict=True)
