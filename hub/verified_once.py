"""One verification of a record for every watch that carries it at the same moment.

Each WatchRecords stream follows its chain on its own, so a record in a namespace that
32 streams watch arrives 32 times within a few milliseconds, and each copy used to be
verified by itself: a burst of 32 proofs in the verification pool, which every other
agency's reads then waited behind. Here the first asks and the others wait for its
answer; an answer is kept only for `KEEP_SECONDS` (a trust-anchor change takes effect
for watches within that), and at most `MAX_KEPT` of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from tonglian.v1 import adapter_pb2, chains_pb2, records_pb2

Verify = Callable[
    [chains_pb2.Chain, adapter_pb2.ReadRecordResponse], Awaitable[records_pb2.VerifiedRecord]
]
KEEP_SECONDS = 0.5
MAX_KEPT = 256


class VerifiedOnce:
    def __init__(self) -> None:
        self._pending: dict[bytes, asyncio.Future[records_pb2.VerifiedRecord]] = {}
        self._kept: OrderedDict[bytes, tuple[float, records_pb2.VerifiedRecord]] = OrderedDict()

    async def get(
        self,
        chain: chains_pb2.Chain,
        answer: adapter_pb2.ReadRecordResponse,
        verify: Verify,
    ) -> records_pb2.VerifiedRecord:
        """A copy of the verified record `verify(chain, answer)` makes for this answer
        (record and proof), made once for all who ask at about the same time; its failure
        is theirs too."""
        # Keyed on the chain as registered (its anchors), so a chain anchored anew is
        # never answered from a verification under its old anchors.
        key = hashlib.sha256(
            chain.SerializeToString(deterministic=True)
            + b"\x00"
            + answer.SerializeToString(deterministic=True)
        ).digest()
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] <= KEEP_SECONDS:
            return _copy(kept[1])
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(verify(chain, answer))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._settle(key, done))
        return _copy(await asyncio.shield(pending))

    def _settle(self, key: bytes, done: asyncio.Future[records_pb2.VerifiedRecord]) -> None:
        self._pending.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return
        self._kept[key] = (time.monotonic(), done.result())
        self._kept.move_to_end(key)
        while len(self._kept) > MAX_KEPT:
            self._kept.popitem(last=False)


def _copy(verified: records_pb2.VerifiedRecord) -> records_pb2.VerifiedRecord:
    out = records_pb2.VerifiedRecord()
    out.CopyFrom(verified)
    return out
