"""Scanning final blocks in order, reorg-safe: each block's records, then its BlockMark.

Only blocks at least `finality_depth` below the head are reported. Every block's
parentHash must equal the hash of the block reported before it, and every log
must carry the hash of the block fetched for its height; a mismatch inside the
batch being read (the node reorganised while we read) is retried, and a
mismatch with a block already reported means a reorganisation deeper than the
finality depth: the scan stops with ReorgBelowFinality instead of reporting
blocks of another chain. A key written twice in one block is reported once, at
its last version: storage proofs show state between blocks only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from adapters.base import AdapterError
from adapters.evm.options import ResolvedOptions
from adapters.evm.records import RECORD_WRITTEN, RecordReader
from adapters.evm.wire import BATCH_CALLS, EvmRpc, Json
from tonglian.v1 import adapter_pb2, records_pb2

BATCH_RETRIES = 3


class ReorgBelowFinality(AdapterError):
    """A block already reported final left the canonical chain; the finality depth is too small."""


class _BatchMoved(Exception):
    """The node's canonical chain changed while a batch was read."""


class Scanner:
    def __init__(self, rpc: EvmRpc, opts: ResolvedOptions, reader: RecordReader) -> None:
        self._rpc = rpc
        self._opts = opts
        self._reader = reader

    async def scan(
        self, from_height: int, to_height: int, follow: bool
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        next_height = from_height
        prev_hash: str | None = None
        while True:
            head = await self._rpc.block_number()
            upper = head - self._opts.finality_depth
            if to_height:
                upper = min(upper, to_height)
            while next_height <= upper:
                end = min(upper, next_height + self._opts.scan_batch - 1)
                blocks, logs = await self._read_batch(next_height, end, prev_hash)
                records = [self._latest(logs.get(str(b["hash"]), []), b) for b in blocks]
                async for block, got, proofs in self._with_proofs(blocks, records):
                    for item in self._emit(block, got, proofs):
                        yield item
                    prev_hash = str(block["hash"])
                next_height = end + 1
            if (to_height and next_height > to_height) or not follow:
                return
            await asyncio.sleep(self._opts.poll_interval)

    async def _read_batch(
        self, start: int, end: int, prev_hash: str | None
    ) -> tuple[list[Json], dict[str, list[Json]]]:
        for _attempt in range(BATCH_RETRIES):
            try:
                return await self._try_batch(start, end, prev_hash)
            except _BatchMoved:
                await asyncio.sleep(self._opts.poll_interval)
        raise AdapterError(f"blocks {start}..{end} kept changing while being read")

    async def _try_batch(
        self, start: int, end: int, prev_hash: str | None
    ) -> tuple[list[Json], dict[str, list[Json]]]:
        numbers = list(range(start, end + 1))
        chunks = [numbers[i : i + BATCH_CALLS] for i in range(0, len(numbers), BATCH_CALLS)]
        got = await asyncio.gather(*(self._rpc.blocks(chunk) for chunk in chunks))
        blocks: list[Json] = []
        for block in (b for chunk in got for b in chunk):
            if block is None:
                raise _BatchMoved()
            blocks.append(block)
        for block in blocks:
            parent = str(block["parentHash"])
            if prev_hash is not None and parent != prev_hash:
                if block is blocks[0]:
                    raise ReorgBelowFinality(
                        f"block {int(block['number'], 16)} has parent {parent}, but block "
                        f"{int(block['number'], 16) - 1} was reported final as {prev_hash}"
                    )
                raise _BatchMoved()
            prev_hash = str(block["hash"])
        logs = await self._rpc.logs(
            {
                "address": self._opts.registry,
                "topics": [RECORD_WRITTEN],
                "fromBlock": hex(start),
                "toBlock": hex(end),
            }
        )
        hashes = {int(b["number"], 16): str(b["hash"]) for b in blocks}
        by_block: dict[str, list[Json]] = {}
        for log in logs:
            block_hash = str(log["blockHash"])
            if hashes.get(int(log["blockNumber"], 16)) != block_hash:
                raise _BatchMoved()
            by_block.setdefault(block_hash, []).append(log)
        return blocks, by_block

    async def _with_proofs(
        self, blocks: list[Json], records: list[dict[str, records_pb2.Record]]
    ) -> AsyncIterator[
        tuple[Json, dict[str, records_pb2.Record], list[records_pb2.EvmStorageProof]]
    ]:
        """Each block with its records' proofs. Proofs are asked for in groups of whole
        blocks of about BATCH_CALLS records (EvmRpc merges a block's into one
        eth_getProof), the next group while the caller works on this one."""
        groups: list[list[int]] = [[]]
        size = 0
        for i, got in enumerate(records):
            if size and size + len(got) > BATCH_CALLS:
                groups.append([])
                size = 0
            groups[-1].append(i)
            size += len(got)

        def fetch(group: list[int]) -> asyncio.Future[list[records_pb2.EvmStorageProof]]:
            return asyncio.gather(
                *(self._reader.proof(blocks[i], key) for i in group for key in records[i])
            )

        ahead = fetch(groups[0])
        try:
            for n, group in enumerate(groups):
                proofs = await ahead
                if n + 1 < len(groups):
                    ahead = fetch(groups[n + 1])
                at = 0
                for i in group:
                    yield blocks[i], records[i], proofs[at : at + len(records[i])]
                    at += len(records[i])
        finally:
            ahead.cancel()
            await asyncio.gather(ahead, return_exceptions=True)

    def _latest(self, logs: list[Json], block: Json) -> dict[str, records_pb2.Record]:
        """The block's records by key, each at its last write in the block."""
        latest: dict[str, records_pb2.Record] = {}
        for log in sorted(logs, key=lambda item: int(item["logIndex"], 16)):
            record = self._reader.record_from_log(log, block)
            latest.pop(record.ref.key, None)
            latest[record.ref.key] = record
        return latest

    @staticmethod
    def _emit(
        block: Json,
        latest: dict[str, records_pb2.Record],
        proofs: list[records_pb2.EvmStorageProof],
    ) -> list[adapter_pb2.ScanResponse]:
        items = [
            adapter_pb2.ScanResponse(
                record=adapter_pb2.ReadRecordResponse(
                    record=record, proof=records_pb2.Proof(evm=proof)
                )
            )
            for record, proof in zip(latest.values(), proofs, strict=True)
        ]
        items.append(
            adapter_pb2.ScanResponse(
                block=adapter_pb2.BlockMark(
                    height=int(block["number"], 16),
                    block_hash=bytes.fromhex(str(block["hash"])[2:]),
                    parent_hash=bytes.fromhex(str(block["parentHash"])[2:]),
                )
            )
        )
        return items
