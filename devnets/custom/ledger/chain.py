"""The ledger's core: accepts writes into pending, cuts signed blocks, serves block views."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from devnets.custom.ledger.header import GENESIS_PARENT, Header, block_hash
from devnets.custom.ledger.merkle import LeafFields, PathStep, leaf_hash, merkle_paths
from devnets.custom.ledger.store import Entry, NewEntry, Store, StoredBlock
from devnets.custom.ledger.validators import ValidatorSet

log = logging.getLogger("tonglian.custom-ledger")

MAX_BLOCK_ENTRIES = 500
MAX_PENDING = 10_000


class LedgerError(Exception):
    """A request the ledger refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


@dataclass(frozen=True)
class BlockView:
    """A committed block with every entry's Merkle path, as the API serves it."""

    block: StoredBlock
    entries: list[Entry]
    paths: list[list[PathStep]]


class Ledger:
    def __init__(self, store: Store, validators: ValidatorSet, threshold: int) -> None:
        if not 1 <= threshold <= len(validators.keys):
            raise ValueError(f"threshold {threshold} must be 1..{len(validators.keys)}")
        known = store.get_meta("ledger_id")
        if known is not None and known != validators.ledger_id:
            raise ValueError(
                f"data dir holds ledger {known!r}, validators file is for {validators.ledger_id!r}"
            )
        self.store = store
        self.validators = validators
        self.threshold = threshold
        self.ledger_id = validators.ledger_id
        self._new_block = asyncio.Condition()
        self._views: OrderedDict[int, BlockView] = OrderedDict()
        if known is None:
            store.set_meta("ledger_id", self.ledger_id)
        if store.head() is None:
            self._cut([])

    # -- writes -----------------------------------------------------------------------

    def new_tx_id(self) -> str:
        return secrets.token_hex(16)

    def append(self, entry: NewEntry) -> None:
        if self.store.pending_count() >= MAX_PENDING:
            raise LedgerError(503, "busy", f"{MAX_PENDING} entries are waiting; retry later")
        self.store.add_pending(entry)

    # -- blocks -----------------------------------------------------------------------

    def head(self) -> StoredBlock:
        head = self.store.head()
        assert head is not None  # genesis is written in __init__
        return head

    def cut_pending(self) -> StoredBlock | None:
        """Cuts one block from pending entries, if any; returns it."""
        batch = self.store.pending_batch(MAX_BLOCK_ENTRIES)
        if not batch:
            return None
        return self._cut(batch)

    def _cut(self, batch: list[tuple[int, NewEntry]]) -> StoredBlock:
        prev = self.store.head()
        height = 0 if prev is None else prev.height + 1
        now_ms = int(time.time() * 1000)
        if prev is not None:
            now_ms = max(now_ms, prev.time_ms)
        versions: dict[tuple[str, str], int] = {}
        entries: list[Entry] = []
        for index, (_, new) in enumerate(batch):
            k = (new.collection, new.key)
            if k not in versions:
                versions[k] = self.store.latest_version(*k)
            versions[k] += 1
            entries.append(Entry(new, versions[k], height, index, now_ms))
        root, _ = merkle_paths([self._leaf(e) for e in entries], self.validators.hash)
        header = Header(
            ledger_id=self.ledger_id,
            height=height,
            previous_hash=GENESIS_PARENT if prev is None else prev.hash.hex(),
            merkle_root=root.hex(),
            time=now_ms,
            record_count=len(entries),
        ).to_bytes()
        sigs = [
            {"validator_id": v.id, "signature": v.sign(header).hex()}
            for v in self.validators.signers(self.threshold)
        ]
        block = StoredBlock(height, header, block_hash(header, self.validators.hash), sigs, now_ms)
        self.store.commit_block(block, entries, [seq for seq, _ in batch])
        log.info("block %d: %d entries", height, len(entries))
        return block

    def _leaf(self, e: Entry) -> bytes:
        n = e.new
        return leaf_hash(
            LeafFields(
                self.ledger_id,
                n.collection,
                n.key,
                n.schema,
                n.value,
                e.version,
                n.deleted,
                n.tx_id,
            ),
            self.validators.hash,
        )

    def view(self, height: int) -> BlockView | None:
        if height in self._views:
            return self._views[height]
        block = self.store.block(height)
        if block is None:
            return None
        entries = self.store.block_entries(height)
        _, paths = merkle_paths([self._leaf(e) for e in entries], self.validators.hash)
        view = BlockView(block, entries, paths)
        self._views[height] = view
        if len(self._views) > 64:
            self._views.popitem(last=False)
        return view

    async def wait_for_height(self, height: int, within: float) -> None:
        """Returns once a block at `height` exists, or after `within` seconds."""
        with contextlib.suppress(TimeoutError):  # asyncio.timeout keeps a cancel a cancel
            async with asyncio.timeout(within), self._new_block:
                await self._new_block.wait_for(lambda: self.head().height >= height)

    async def run_cutter(self, interval: float) -> None:
        """Cuts a block every `interval` seconds while entries are pending."""
        while True:
            await asyncio.sleep(interval)
            try:
                block = self.cut_pending()
            except Exception:
                log.exception("cutting a block failed; pending entries are kept")
                continue
            if block is not None:
                async with self._new_block:
                    self._new_block.notify_all()
