"""VerifiedCache: facts a verifier has already established, keyed by exactly what it checked.

A header's signatures (custom: k of n over the block header; Fabric: a block's
orderer signatures under a channel config) cost more than the rest of a record's
proof; many records share one header. The key is the content that was verified
together with the anchor it was verified against (key bytes, threshold, config
digest...), never a name or a height alone, so an entry can only ever answer for the
very bytes it was computed from: a different header, block or anchor is a miss and
is verified in full. Bounded (least recently used out), one per process.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

_ALL: list[VerifiedCache[object]] = []


class VerifiedCache(Generic[V]):
    def __init__(self, size: int, *, signatures: bool = True) -> None:
        """`signatures`: whether entries stand for signature checks (cleared by
        clear_verified_caches), or for other work: validated anchors, verdicts derived
        from already verified signers."""
        self._size = size
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        if signatures:
            _ALL.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable) -> V | None:
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
        return hit

    def put(self, key: Hashable, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


def clear_verified_caches() -> None:
    """Forgets every verified signature (benchmarks that must pay for each block's
    signatures as their raw bounds count them; tests)."""
    for cache in _ALL:
        cache.clear()
