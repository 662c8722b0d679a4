"""The delivery id: the same source write forwarded to the same destination always
yields the same id, so every destination inbox can refuse a second application.

The destination is part of the id so that one record fanned out by several routes
to different chains makes one delivery per destination (the store keys deliveries
by id), while two routes into the same destination namespace still collapse into
one delivery.
"""

from __future__ import annotations

import hashlib
import struct

from tonglian.v1 import records_pb2


def delivery_id(
    record: records_pb2.Record, destination_chain_id: str, destination_namespace: str
) -> str:
    """Hex SHA-256 over source chain, transaction id, key, version and the destination
    chain and namespace (strings length-prefixed)."""
    h = hashlib.sha256(b"tonglian/delivery-id/v2")
    for part in (record.ref.chain_id, record.tx_id, record.ref.key):
        _put(h, part)
    h.update(struct.pack(">Q", record.version))
    _put(h, destination_chain_id)
    _put(h, destination_namespace)
    return h.hexdigest()


def _put(h: hashlib._Hash, text: str) -> None:
    data = text.encode("utf-8")
    h.update(struct.pack(">I", len(data)))
    h.update(data)


def proof_digest(proof: records_pb2.Proof) -> bytes:
    return hashlib.sha256(proof.SerializeToString(deterministic=True)).digest()


def write_id(agency: str, chain_id: str, request_id: str) -> str:
    """The delivery id of a direct write (Query.PutRecord): hex SHA-256 over the writing
    agency, the chain and the client's request id, so that the chain's inbox applies one
    request id of one agency once, whatever the request carries (its content is checked
    against what the first one wrote, hub/usecases/write.py)."""
    h = hashlib.sha256(b"tonglian/write-id/v1")
    for part in (agency, chain_id, request_id):
        _put(h, part)
    return h.hexdigest()
