"""A write as the hub checks it and hands it to a chain: the client's request checked
field by field, and the delivery that carries it through the chain's inbox.

A write travels the relay's submit path (adapters' `submit`, idempotent on the delivery
id), so every family that takes deliveries takes writes. What marks a delivery as a
write is its source: chain `tonglian.write`, the writing agency as namespace, the
client's request id as transaction id, so the chain keeps who asked for it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from hub.errors import InvalidInput
from hub.records import check_ref
from hub.relay.delivery_id import write_id
from tonglian.v1 import query_pb2, records_pb2, relay_pb2
from tonglian_proof.canonical import canonical_json
from tonglian_proof.errors import MalformedInput

# The source chain a write's delivery names (no chain: the agency wrote it through the hub).
WRITE_SOURCE = "tonglian.write"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True)
class WriteRequest:
    """A checked PutRecordRequest: where, what (as canonical JSON) and under which id."""

    ref: records_pb2.RecordRef
    schema: str
    value: Any
    canonical: bytes
    request_id: str

    @property
    def target(self) -> str:
        return f"{self.ref.chain_id}/{self.ref.namespace}/{self.ref.key}"

    @property
    def value_digest(self) -> str:
        return hashlib.sha256(self.canonical).hexdigest()

    def delivery(self, agency: str) -> relay_pb2.Delivery:
        """The delivery the chain's adapter submits. Its version is the write's time in
        milliseconds, so an inbox that keeps each source key's versions in order (custom,
        Fabric) applies an agency's later writes of a key over its earlier ones."""
        ref = self.ref
        digest = hashlib.sha256(b"tonglian/write/v1")
        for part in (agency, self.target, self.schema):
            digest.update(part.encode() + b"\0")
        digest.update(self.canonical)
        return relay_pb2.Delivery(
            delivery_id=write_id(agency, ref.chain_id, self.request_id),
            record=records_pb2.Record(
                ref=records_pb2.RecordRef(chain_id=WRITE_SOURCE, namespace=agency, key=ref.key),
                schema=self.schema,
                value=self.canonical,
                version=time.time_ns() // 1_000_000,
                tx_id=self.request_id,
            ),
            proof_digest=digest.digest(),
            destination_chain_id=ref.chain_id,
            destination_namespace=ref.namespace,
        )


def check_write(request: query_pb2.PutRecordRequest) -> WriteRequest:
    """InvalidInput naming the field a write request gets wrong."""
    check_ref(request.ref)
    if not request.request_id:
        raise InvalidInput(
            "request_id is required: choose one per record you write (e.g. a UUID) and "
            "send the same one when you retry, so the write is applied once"
        )
    if not REQUEST_ID.fullmatch(request.request_id):
        raise InvalidInput(
            f"request_id {request.request_id[:80]!r} is malformed: use 1 to 128 characters "
            "of A-Z a-z 0-9 . _ : -"
        )
    if not request.schema:
        raise InvalidInput(
            "schema is required: name the catalog schema of the value, "
            "e.g. 'gov.license.business/v1'"
        )
    try:
        value = json.loads(request.value_json)
        canonical = canonical_json(value)
    except (ValueError, MalformedInput) as exc:
        raise InvalidInput(f"value_json is not JSON: {exc}") from None
    return WriteRequest(
        ref=request.ref,
        schema=request.schema,
        value=value,
        canonical=canonical,
        request_id=request.request_id,
    )
