"""Annals blocks and transactions to tonglian.v1 messages; malformed material is an AdapterError."""

from __future__ import annotations

import hashlib

from google.protobuf.timestamp_pb2 import Timestamp

from adapters.annals import audit_path, wire
from adapters.base import AdapterError
from tonglian.v1 import adapter_pb2, records_pb2


def _header(block: wire.Summary) -> tuple[int, bytes]:
    """(time in ms, parent hash) from the sealed header, checked for form only."""
    try:
        fields = block.header_fields()
        time_ms, parent = fields["time"], bytes.fromhex(fields["previous_hash"])
        height = fields["height"]
    except (ValueError, KeyError, TypeError) as exc:
        raise AdapterError(
            f"annals block {block.number}: sealed header is malformed ({exc})"
        ) from None
    if height != block.number or not isinstance(time_ms, int) or len(parent) != 32:
        raise AdapterError(f"annals block {block.number}: sealed header does not fit the block")
    return time_ms, parent


def timestamp(ms: int) -> Timestamp:
    return Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def read_response(
    block: wire.Block, position: int, chain_id: str
) -> adapter_pb2.ReadRecordResponse:
    if not 0 <= position < len(block.txs) or len(block.tx_hashes) != len(block.txs):
        raise AdapterError(
            f"annals block {block.number} lists {len(block.txs)} txs and "
            f"{len(block.tx_hashes)} hashes; asked for position {position}"
        )
    tx = block.txs[position]
    time_ms, _ = _header(block)
    try:
        value = b"" if tx.tombstone else tx.doc
        value.decode("utf-8")
    except UnicodeDecodeError:
        raise AdapterError(f"annals tx {tx.txid}: doc is not UTF-8") from None
    record = records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id=chain_id, namespace=tx.space, key=tx.key),
        schema=tx.kind,
        value=value,
        version=tx.rev,
        block_height=block.number,
        tx_id=tx.txid,
        commit_time=timestamp(time_ms),
        deleted=tx.tombstone,
    )
    steps = audit_path.path(list(block.tx_hashes), position)
    proof = records_pb2.Proof(
        signed_merkle=records_pb2.SignedMerkleProof(
            header=block.sealed_header,
            signatures=[
                records_pb2.ValidatorSignature(validator_id=s.signer, signature=s.sig)
                for s in block.seals
            ],
            leaf_index=position,
            path=[records_pb2.MerkleStep(sibling=s, sibling_on_left=left) for s, left in steps],
        )
    )
    return adapter_pb2.ReadRecordResponse(record=record, proof=proof)


def block_mark(block: wire.Summary) -> adapter_pb2.BlockMark:
    _, parent = _header(block)
    return adapter_pb2.BlockMark(
        height=block.number,
        block_hash=hashlib.sha256(block.sealed_header).digest(),
        parent_hash=parent,
    )
