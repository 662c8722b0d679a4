"""How an audit event is hashed: the definition every verifier (hub, CLI, SDK) shares.

    hash = SHA-256(canonical JSON of {sequence, previous_hash (hex), time_us,
                   principal, action, target, purpose, outcome, detail_json})

Canonical JSON: RFC 8785 (JCS), UTF-8; see tonglian_proof/canonical.py.
time_us is the event time in whole microseconds since the Unix epoch. The first
event's previous_hash is 32 zero bytes. JSON, not protobuf bytes, so that a tool
in any language can recompute it.
"""

from __future__ import annotations

import hashlib

from google.protobuf.timestamp_pb2 import Timestamp

from tonglian.v1 import audit_pb2
from tonglian_proof.canonical import canonical_json

GENESIS = bytes(32)


def time_us(ts: Timestamp) -> int:
    return ts.seconds * 1_000_000 + ts.nanos // 1000


def timestamp_of(us: int) -> Timestamp:
    return Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def event_hash(event: audit_pb2.AuditEvent) -> bytes:
    body = {
        "sequence": event.sequence,
        "previous_hash": event.previous_hash.hex(),
        "time_us": time_us(event.time),
        "principal": event.principal,
        "action": event.action,
        "target": event.target,
        "purpose": event.purpose,
        "outcome": event.outcome,
        "detail_json": event.detail_json,
    }
    return hashlib.sha256(canonical_json(body)).digest()
