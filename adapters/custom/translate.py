"""Ledger answers to tonglian.v1 messages; malformed material becomes an AdapterError.

The adapter checks form only (hex, JSON, the block hash it can recompute); the
hub verifies signatures and Merkle paths itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from adapters.base import AdapterError
from adapters.custom import wire
from tonglian.v1 import adapter_pb2, records_pb2
from tonglian_proof.crypto.sm3 import sm3

Hash = Callable[[bytes], bytes]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ledger_hash(crypto: str) -> Hash:
    """How the ledger hashes its blocks, by the mode its /v1/info states: sm2 means SM3."""
    return sm3 if crypto == "sm2" else sha256


def timestamp(ms: int) -> Timestamp:
    return Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def record(entry: wire.Entry, chain_id: str) -> records_pb2.Record:
    return records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id=chain_id, namespace=entry.collection, key=entry.key),
        schema=entry.schema_,
        value=entry.value_canonical.encode("utf-8"),
        version=entry.version,
        block_height=entry.block_height,
        tx_id=entry.tx_id,
        commit_time=timestamp(entry.time_ms),
        deleted=entry.deleted,
    )


@dataclass(frozen=True)
class Seal:
    """A block's header bytes and validator signatures, as every record proof of the
    block carries them: decoded once per block, not once per record."""

    height: int
    header: bytes
    signatures: tuple[records_pb2.ValidatorSignature, ...]


def seal(block: wire.SignedBlock) -> Seal:
    sigs = []
    for s in block.signatures:
        try:
            sig = bytes.fromhex(s.signature)
        except ValueError:
            raise AdapterError(
                f"block {block.height}: signature of {s.validator_id!r} is not hex"
            ) from None
        sigs.append(records_pb2.ValidatorSignature(validator_id=s.validator_id, signature=sig))
    return Seal(block.height, block.header.encode("utf-8"), tuple(sigs))


def proof(sealed: Seal, leaf_index: int, path: list[wire.PathStep]) -> records_pb2.Proof:
    return records_pb2.Proof(
        signed_merkle=records_pb2.SignedMerkleProof(
            header=sealed.header,
            signatures=sealed.signatures,
            leaf_index=leaf_index,
            path=[
                records_pb2.MerkleStep(
                    sibling=bytes.fromhex(p.sibling), sibling_on_left=p.sibling_on_left
                )
                for p in path
            ],
        )
    )


def read_response(
    entry: wire.Entry, sealed: Seal, path: list[wire.PathStep], chain_id: str
) -> adapter_pb2.ReadRecordResponse:
    if entry.block_height != sealed.height:
        raise AdapterError(
            f"ledger sent record {entry.collection}/{entry.key} of block {entry.block_height} "
            f"with the header of block {sealed.height}"
        )
    return adapter_pb2.ReadRecordResponse(
        record=record(entry, chain_id), proof=proof(sealed, entry.leaf_index, path)
    )


def block_mark(block: wire.SignedBlock, h: Hash = sha256) -> adapter_pb2.BlockMark:
    """Height, the ledger's hash (SHA-256 or SM3) of the header bytes, and its previous_hash."""
    header = block.header.encode("utf-8")
    digest = h(header)
    if digest.hex() != block.hash:
        raise AdapterError(f"block {block.height}: hash does not match its header bytes")
    try:
        fields = json.loads(header)
        parent = bytes.fromhex(fields["previous_hash"])
        height = fields["height"]
    except (ValueError, KeyError, TypeError) as exc:
        raise AdapterError(f"block {block.height}: header is malformed ({exc!r})") from None
    if height != block.height or len(parent) != 32:
        raise AdapterError(f"block {block.height}: header height or previous_hash is wrong")
    return adapter_pb2.BlockMark(height=block.height, block_hash=digest, parent_hash=parent)
