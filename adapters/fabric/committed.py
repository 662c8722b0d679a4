"""Committed transactions already fetched: their block and their organisations' qscc answers.

A Fabric transaction, once committed, never changes block or validation code, so what a
read fetched about it (the block's bytes, the signed GetTransactionByID answers) is
equally good evidence the next time the same version of a key is read: a repeated read
then costs only the chaincode `history` call that says which transaction is the latest.
The hub verifies every proof it is given whatever its origin, so this only saves round
trips. Entries expire (a peer's certificate may be rotated or revoked: fresh answers are
then fetched) and the total size of the blocks held is bounded.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tonglian.v1 import records_pb2


@dataclass(frozen=True)
class CommittedTx:
    block: bytes
    answers: tuple[records_pb2.FabricQsccAnswer, ...]
    fetched_at: float


class CommittedTxCache:
    """Least recently used first out, by count and by total block bytes; entries expire."""

    def __init__(
        self,
        max_entries: int = 512,
        max_bytes: int = 64 * 1024 * 1024,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[str, CommittedTx] = OrderedDict()
        self._bytes = 0
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, tx_id: str) -> CommittedTx | None:
        entry = self._entries.get(tx_id)
        if entry is None:
            return None
        if self._clock() - entry.fetched_at > self.ttl_seconds:
            self._drop(tx_id)
            return None
        self._entries.move_to_end(tx_id)
        return entry

    def put(self, tx_id: str, block: bytes, answers: list[records_pb2.FabricQsccAnswer]) -> None:
        if len(block) > self.max_bytes:
            return
        if tx_id in self._entries:
            self._drop(tx_id)
        self._entries[tx_id] = CommittedTx(block, tuple(answers), self._clock())
        self._bytes += len(block)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, tx_id: str) -> None:
        self._bytes -= len(self._entries.pop(tx_id).block)
