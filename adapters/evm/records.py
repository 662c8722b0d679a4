"""Reading records: the RecordWritten log that carries a version, and its EIP-1186 proof material.

The log gives the record's content; the proof (header RLP, account proof and
the digest and version slots' storage proofs at a final block) is what the hub
checks it against. Nothing here decides whether the proof is good.
"""

from __future__ import annotations

from typing import Any

from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address
from google.protobuf.timestamp_pb2 import Timestamp

from adapters.base import AdapterError, ChainUnavailable, InvalidAdapterRequest, RecordNotFound
from adapters.evm import contracts
from adapters.evm.header import HeaderShapeError, header_rlp
from adapters.evm.options import ResolvedOptions
from adapters.evm.wire import EvmRpc, Json
from tonglian.v1 import adapter_pb2, records_pb2

RECORD_WRITTEN = contracts.event_topic("RecordRegistry", "RecordWritten")


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

    async def final_block(self, at_height: int = 0) -> Json:
        """The final block to prove against: `at_height`, or the highest final one.

        A height the node does not call final is refused as unavailable: the hub
        asks for the newest final block by its own endpoints, so a node that
        disagrees lags behind them (or lies about its head).
        """
        head = await self._rpc.block_number()
        final = head - self._opts.finality_depth
        if final < 0:
            raise RecordNotFound(f"no final block yet (head {head})")
        if at_height > final:
            raise ChainUnavailable(
                f"block {at_height} is not final on {self._opts.rpc_url} (it reports head "
                f"{head}, final height {final}): the node lags behind the chain or lies "
                "about its head"
            )
        block = await self._rpc.block(at_height or final)
        if block is None:
            raise RecordNotFound(f"the node has no block {at_height or final}")
        return block

    async def read(
        self, namespace: str, key: str, at_height: int
    ) -> adapter_pb2.ReadRecordResponse:
        self.check_namespace(namespace)
        if not key:
            raise InvalidAdapterRequest("empty key")
        block = await self.final_block(at_height)
        data = contracts.encode_call("RecordRegistry", "blockOf", [contracts.key_id(key)])
        raw = await self._rpc.call(self._opts.registry, data, str(block["hash"]))
        (written_at,) = contracts.decode_result("RecordRegistry", "blockOf", raw)
        if written_at == 0:
            raise RecordNotFound(
                f"no record {key!r} in {namespace} at block {_int(block['number'])}"
            )
        write_block = await self._rpc.block(int(written_at))
        if write_block is None:
            raise AdapterError(f"the node lost block {written_at}, which wrote {key!r}")
        logs = await self._rpc.logs(
            {
                "address": self._opts.registry,
                "topics": [RECORD_WRITTEN, "0x" + contracts.key_id(key).hex()],
                "blockHash": write_block["hash"],
            }
        )
        records = [self.record_from_log(log, write_block) for log in logs]
        records = [r for r in records if r.ref.key == key]
        if not records:
            raise AdapterError(f"block {written_at} wrote {key!r} but has no RecordWritten log")
        proof = await self.proof(block, key)
        return adapter_pb2.ReadRecordResponse(
            record=records[-1], proof=records_pb2.Proof(evm=proof)
        )

    def record_from_log(self, log: Json, block: Json) -> records_pb2.Record:
        fields = contracts.decode_event_data("RecordRegistry", "RecordWritten", _bytes(log["data"]))
        commit_time = Timestamp(seconds=_int(block["timestamp"]))
        return records_pb2.Record(
            ref=records_pb2.RecordRef(
                chain_id=self._hub_chain_id,
                namespace=to_checksum_address(str(log["address"])),
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

    async def proof(self, block: Json, key: str) -> records_pb2.EvmStorageProof:
        """Header RLP, account proof and both slots' storage proofs at `block`."""
        digest_slot = contracts.slot_of(key, contracts.DIGEST_SLOT_INDEX)
        version_slot = contracts.slot_of(key, contracts.VERSION_SLOT_INDEX)
        answer = await self._rpc.proof(
            self._opts.registry,
            ["0x" + digest_slot.hex(), "0x" + version_slot.hex()],
            str(block["hash"]),
        )
        try:
            header = header_rlp(block)
        except HeaderShapeError as exc:
            raise AdapterError(
                f"cannot rebuild the header of block {block['number']}: {exc}"
            ) from exc
        block_hash = _bytes(block["hash"])
        if not self._opts.qbft and keccak(header) != block_hash:
            raise AdapterError(
                f"the rebuilt header of block {_int(block['number'])} does not hash to its "
                "block hash: the node's hardfork adds header fields this adapter does not know"
            )
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
