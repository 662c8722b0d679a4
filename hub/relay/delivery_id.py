"""The delivery id: the same source write always yields the same id, so every
destination inbox can refuse a second application."""

from __future__ import annotations

import hashlib
import struct

from tonglian.v1 import records_pb2


def delivery_id(record: records_pb2.Record) -> str:
    """Hex SHA-256 over source chain, transaction id, key and version (length-prefixed)."""
    h = hashlib.sha256(b"tonglian/delivery-id/v1")
    for part in (record.ref.chain_id, record.tx_id, record.ref.key):
        data = part.encode("utf-8")
        h.update(struct.pack(">I", len(data)))
        h.update(data)
    h.update(struct.pack(">Q", record.version))
    return h.hexdigest()


def proof_digest(proof: records_pb2.Proof) -> bytes:
    return hashlib.sha256(proof.SerializeToString(deterministic=True)).digest()
