"""Reading records: the RecordWritten log that carries a version, and its EIP-1186 proof material.

The log gives the record's content; the proof (header RLP, account proof and
the digest and version slots' storage proofs at a final block) is what the hub
checks it against. Nothing here decides whether the proof is good.
"""

from __future__ import annotations

import asyncio
from typing import Any

from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address
from google.protobuf.timestamp_pb2 import Timestamp

from adapters.base import AdapterError, ChainUnavailable, InvalidAdapterRequest, RecordNotFound
from adapters.evm import contracts
from adapters.evm.header import HeaderShapeError, header_rlp
from adapters.evm.options import ResolvedOptions
from adapters.evm.wire import EvmRpc, Json, NodeError
from tonglian.v1 import adapter_pb2, records_pb2

RECORD_WRITTEN = contracts.event_topic("RecordRegistry", "RecordWritten")
# Blocks remembered, oldest out first: write blocks for their timestamps (a log names
# its block by hash, so an entry only answers for the very block it was read from),
# header RLPs by the hash they hash to.
BLOCK_CACHE = 1024


def _bytes(hex_str: Any) -> bytes:
    return bytes.fromhex(str(hex_str).removeprefix("0x"))


def _int(hex_str: Any) -> int:
    return int(str(hex_str), 16)


class RecordReader:
    """Reads records of one registry and the proof material for them."""

    def __init__(self, rpc: EvmRpc, opts: ResolvedOptions, hub_chain_id: str) -> None:
        self._rpc = rpc
        self._opts = opts
        self._hub_chain_id = hub_chain_id
        self._blocks: dict[int, Json] = {}
        # Header RLP by the block hash it hashes to (keccak checked before it is kept).
        self._headers: dict[bytes, bytes] = {}

    def check_namespace(self, namespace: str) -> None:
        """The namespace is the registry address in EIP-55 form, exactly as records carry it."""
        if namespace == self._opts.registry:
            return
        if namespace.lower() == self._opts.registry.lower():
            raise InvalidAdapterRequest(
                f"namespace {namespace!r}: write the registry address in its EIP-55 checksum "
                f"form, {self._opts.registry}"
            )
        raise InvalidAdapterRequest(
            f"namespace {namespace!r} is not this chain's registry {self._opts.registry}"
        )

    def _final_height(self, head: int, at_height: int) -> int:
        """`at_height` (or the highest final block when 0), if final by the node's head.

        A height the node does not call final is refused as unavailable: the hub
        asks for the newest final block by its own endpoints, so a node that
        disagrees lags behind them (or lies about its head).
        """
        final = head - self._opts.finality_depth
        if final < 0:
            raise RecordNotFound(f"no final block yet (head {head})")
        if at_height > final:
            raise ChainUnavailable(
                f"block {at_height} is not final on {self._opts.rpc_url} (it reports head "
                f"{head}, final height {final}): the node lags behind the chain or lies "
                "about its head"
            )
        return at_height or final

    async def read(
        self, namespace: str, key: str, at_height: int
    ) -> adapter_pb2.ReadRecordResponse:
        """The key's newest version as of block `at_height` (0: the newest final block),
        with its proof there.

        One round of calls asked in parallel, the latency of a direct read's: the
        node's head, the block, the registry's pointer to the key's last write, the
        key's RecordWritten logs up to the block, and the storage proof there. A call
        answered from another block than its neighbours (a reorganisation in between)
        makes a proof that does not verify, never a wrong answer.
        """
        self.check_namespace(namespace)
        if not key:
            raise InvalidAdapterRequest("empty key")
        if not at_height:
            at_height = self._final_height(await self._rpc.block_number(), 0)
        tag = hex(at_height)
        key_id = contracts.key_id(key)
        data = contracts.encode_call("RecordRegistry", "blockOf", [key_id])
        head, block, raw, answer, logs = await asyncio.gather(
            self._rpc.block_number(),
            self._rpc.block(at_height),
            self._rpc.call(self._opts.registry, data, tag),
            self._rpc.proof(self._opts.registry, self._slots(key), tag),
            self._key_logs(key_id, "0x0", tag),
        )
        self._final_height(head, at_height)
        if block is None:
            raise RecordNotFound(f"the node has no block {at_height}")
        (written_at,) = contracts.decode_result("RecordRegistry", "blockOf", raw)
        if written_at == 0:
            raise RecordNotFound(f"no record {key!r} in {namespace} at block {at_height}")
        written = [log for log in logs if _int(log["blockNumber"]) == written_at]
        if not written:
            # A node that limits log ranges (or cut the answer short): the write's block only.
            written = await self._key_logs(key_id, hex(written_at), hex(written_at))
        records = [
            r for r in [await self._record_from_log(log) for log in written] if r.ref.key == key
        ]
        if not records:
            raise AdapterError(f"block {written_at} wrote {key!r} but has no RecordWritten log")
        return adapter_pb2.ReadRecordResponse(
            record=records[-1], proof=records_pb2.Proof(evm=self._proof(block, key, answer))
        )

    async def _key_logs(self, key_id: bytes, from_tag: str, to_tag: str) -> list[Json]:
        """The key's RecordWritten logs in a block range; none when the node refuses a
        range of several blocks (some limit how wide a log query may be)."""
        flt = {
            "address": self._opts.registry,
            "topics": [RECORD_WRITTEN, "0x" + key_id.hex()],
            "fromBlock": from_tag,
            "toBlock": to_tag,
        }
        try:
            return await self._rpc.logs(flt)
        except NodeError:
            if from_tag == to_tag:
                raise
            return []

    async def _record_from_log(self, log: Json) -> records_pb2.Record:
        """The record a log carries, its commit time from the log (nodes that give
        `blockTimestamp`) or else from its block."""
        if "blockTimestamp" in log:
            return self.record_from_log(log, {"timestamp": log["blockTimestamp"]})
        block = self._blocks.get(_int(log["blockNumber"]))
        if block is None or block["hash"] != log["blockHash"]:
            block = await self._rpc.block_by_hash(str(log["blockHash"]))
            if block is None:
                raise AdapterError(f"the node lost block {log['blockHash']}, which wrote a record")
            self._blocks[_int(log["blockNumber"])] = block
            while len(self._blocks) > BLOCK_CACHE:
                del self._blocks[next(iter(self._blocks))]
        return self.record_from_log(log, block)

    def record_from_log(self, log: Json, block: Json) -> records_pb2.Record:
        fields = contracts.decode_event_data("RecordRegistry", "RecordWritten", _bytes(log["data"]))
        commit_time = Timestamp(seconds=_int(block["timestamp"]))
        address = str(log["address"])
        return records_pb2.Record(
            ref=records_pb2.RecordRef(
                chain_id=self._hub_chain_id,
                namespace=self._opts.registry
                if address.lower() == self._opts.registry.lower()
                else to_checksum_address(address),
                key=fields["key"],
            ),
            schema=fields["schema"],
            value=fields["value"],
            version=fields["version"],
            block_height=_int(log["blockNumber"]),
            tx_id=str(log["transactionHash"]),
            commit_time=commit_time,
            deleted=fields["deleted"],
        )

    @staticmethod
    def _slots(key: str) -> list[str]:
        """The key's digest and version slots, as eth_getProof takes them."""
        return [
            "0x" + contracts.slot_of(key, contracts.DIGEST_SLOT_INDEX).hex(),
            "0x" + contracts.slot_of(key, contracts.VERSION_SLOT_INDEX).hex(),
        ]

    async def proof(self, block: Json, key: str) -> records_pb2.EvmStorageProof:
        """Header RLP, account proof and both slots' storage proofs at `block`."""
        answer = await self._rpc.proof(self._opts.registry, self._slots(key), str(block["hash"]))
        return self._proof(block, key, answer)

    def _header(self, block: Json, block_hash: bytes) -> bytes:
        """The header's RLP rebuilt from `block`; remembered by its hash when it hashes to
        it (a QBFT header's hash leaves out its seals, so it is rebuilt every time)."""
        try:
            header = header_rlp(block)
        except HeaderShapeError as exc:
            raise AdapterError(
                f"cannot rebuild the header of block {block['number']}: {exc}"
            ) from exc
        if self._opts.qbft:
            return header
        if keccak(header) != block_hash:
            raise AdapterError(
                f"the rebuilt header of block {_int(block['number'])} does not hash to its "
                "block hash: the node's hardfork adds header fields this adapter does not know"
            )
        self._headers[block_hash] = header
        while len(self._headers) > BLOCK_CACHE:
            del self._headers[next(iter(self._headers))]
        return header

    def _proof(self, block: Json, key: str, answer: Json) -> records_pb2.EvmStorageProof:
        """The proof message from `block` and the node's eth_getProof `answer` at it."""
        digest_slot = contracts.slot_of(key, contracts.DIGEST_SLOT_INDEX)
        version_slot = contracts.slot_of(key, contracts.VERSION_SLOT_INDEX)
        block_hash = _bytes(block["hash"])
        header = self._headers.get(block_hash)
        if header is None:
            header = self._header(block, block_hash)
        storage = answer.get("storageProof") or []
        if len(storage) != 2:
            raise AdapterError(f"eth_getProof returned {len(storage)} storage proofs, asked for 2")
        return records_pb2.EvmStorageProof(
            block_header_rlp=header,
            block_hash=block_hash,
            block_number=_int(block["number"]),
            account=_bytes(self._opts.registry),
            account_proof=[_bytes(n) for n in answer["accountProof"]],
            storage_key=digest_slot,
            storage_proof=[_bytes(n) for n in storage[0]["proof"]],
            version_key=version_slot,
            version_proof=[_bytes(n) for n in storage[1]["proof"]],
        )
