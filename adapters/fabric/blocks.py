"""Reading committed Fabric blocks: transactions, their writes and flags, header hashes.

Pure functions over block bytes. Turning writes into tonglian Records follows the
adapter's conventions: value = the written bytes exactly; schema = the value's
top-level "schema" JSON member; version = (block_number << 32) | tx_index;
commit_time = the transaction's channel-header timestamp.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError

from adapters.fabric.errors import MalformedAnswer
from adapters.fabric.protos import (
    Message,
    chaincode_event_pb2,
    common_pb2,
    kv_rwset_pb2,
    proposal_pb2,
    proposal_response_pb2,
    rwset_pb2,
    transaction_pb2,
)
from tonglian.v1 import records_pb2

TRANSACTIONS_FILTER = common_pb2.BlockMetadataIndex.TRANSACTIONS_FILTER
VALID = transaction_pb2.TxValidationCode.VALID
# Composite keys (U+0000 first) are chaincode-internal, e.g. the delivery inbox.
COMPOSITE_NS = "\x00"


@dataclass(frozen=True)
class Write:
    namespace: str
    key: str
    value: bytes
    is_delete: bool


@dataclass(frozen=True)
class TxInfo:
    index: int
    tx_id: str
    header_type: int
    timestamp: timestamp_pb2.Timestamp
    validation_code: int
    creator: bytes = b""
    writes: list[Write] = field(default_factory=list)
    events: list[chaincode_event_pb2.ChaincodeEvent] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return bool(self.validation_code == VALID)

    @property
    def validation_name(self) -> str:
        try:
            return str(transaction_pb2.TxValidationCode.Name(self.validation_code))
        except ValueError:
            return f"CODE_{self.validation_code}"


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def header_hash(header: Message) -> bytes:
    """SHA-256 of DER SEQUENCE(number, previous_hash, data_hash), as Fabric computes it."""
    number = int(header.number)
    num = number.to_bytes(number.bit_length() // 8 + 1, "big")  # minimal, sign bit clear
    body = (
        _der(0x02, num)
        + _der(0x04, bytes(header.previous_hash))
        + _der(0x04, bytes(header.data_hash))
    )
    return hashlib.sha256(_der(0x30, body)).digest()


def parse_block(block_bytes: bytes) -> Message:
    try:
        return common_pb2.Block.FromString(block_bytes)
    except DecodeError as exc:
        raise MalformedAnswer(f"not a serialized common.Block: {exc}") from exc


def validation_flags(block: Message) -> bytes:
    meta = block.metadata.metadata
    return bytes(meta[TRANSACTIONS_FILTER]) if len(meta) > TRANSACTIONS_FILTER else b""


def _writes(payload_data: bytes) -> tuple[list[Write], list[chaincode_event_pb2.ChaincodeEvent]]:
    tx = transaction_pb2.Transaction.FromString(payload_data)
    writes: list[Write] = []
    events: list[chaincode_event_pb2.ChaincodeEvent] = []
    for action in tx.actions:
        cap = transaction_pb2.ChaincodeActionPayload.FromString(action.payload)
        prp = proposal_response_pb2.ProposalResponsePayload.FromString(
            cap.action.proposal_response_payload
        )
        cca = proposal_pb2.ChaincodeAction.FromString(prp.extension)
        if cca.events:
            event = chaincode_event_pb2.ChaincodeEvent.FromString(cca.events)
            if event.event_name:
                events.append(event)
        rwset = rwset_pb2.TxReadWriteSet.FromString(cca.results)
        for ns in rwset.ns_rwset:
            kv = kv_rwset_pb2.KVRWSet.FromString(ns.rwset)
            for w in kv.writes:
                writes.append(Write(ns.namespace, w.key, bytes(w.value), bool(w.is_delete)))
    return writes, events


def transactions(block: Message) -> list[TxInfo]:
    """Every transaction of a block, with its validation flag and (for endorser txs) writes."""
    flags = validation_flags(block)
    out: list[TxInfo] = []
    for index, env_bytes in enumerate(block.data.data):
        try:
            env = common_pb2.Envelope.FromString(env_bytes)
            payload = common_pb2.Payload.FromString(env.payload)
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
            writes: list[Write] = []
            events: list[chaincode_event_pb2.ChaincodeEvent] = []
            if chdr.type == common_pb2.HeaderType.ENDORSER_TRANSACTION:
                writes, events = _writes(payload.data)
        except DecodeError as exc:
            raise MalformedAnswer(
                f"block {block.header.number} transaction {index} does not decode: {exc}"
            ) from exc
        code = flags[index] if index < len(flags) else 255
        out.append(
            TxInfo(
                index=index,
                tx_id=chdr.tx_id,
                header_type=int(chdr.type),
                timestamp=chdr.timestamp,
                validation_code=code,
                creator=bytes(shdr.creator),
                writes=writes,
                events=events,
            )
        )
    return out


def find_transaction(block: Message, tx_id: str) -> TxInfo:
    for tx in transactions(block):
        if tx.tx_id == tx_id:
            return tx
    raise MalformedAnswer(f"block {block.header.number} does not hold transaction {tx_id}")


def schema_of(value: bytes) -> str:
    """The value's top-level "schema" member, or "" when the value is not such JSON."""
    try:
        obj = json.loads(value)
    except ValueError:
        return ""
    schema = obj.get("schema") if isinstance(obj, dict) else None
    return schema if isinstance(schema, str) else ""


def version(block_number: int, tx_index: int) -> int:
    return (block_number << 32) | tx_index


def is_internal_key(key: str) -> bool:
    return key.startswith(COMPOSITE_NS)


def to_record(
    chain_id: str, channel: str, block_number: int, tx: TxInfo, write: Write
) -> records_pb2.Record:
    value = b"" if write.is_delete else write.value
    return records_pb2.Record(
        ref=records_pb2.RecordRef(
            chain_id=chain_id, namespace=f"{channel}:{write.namespace}", key=write.key
        ),
        schema=schema_of(value),
        value=value,
        version=version(block_number, tx.index),
        block_height=block_number,
        tx_id=tx.tx_id,
        commit_time=tx.timestamp,
        deleted=write.is_delete,
    )


def records_of_block(
    chain_id: str, channel: str, block: Message, chaincodes: set[str] | None
) -> list[tuple[TxInfo, records_pb2.Record]]:
    """Records written by VALID transactions, in block order; internal keys skipped.

    `chaincodes` limits the namespaces (None: every user chaincode, not `_lifecycle`).
    """
    out: list[tuple[TxInfo, records_pb2.Record]] = []
    number = int(block.header.number)
    for tx in transactions(block):
        if not tx.valid:
            continue
        for write in tx.writes:
            if chaincodes is None:
                if write.namespace.startswith("_"):
                    continue
            elif write.namespace not in chaincodes:
                continue
            if is_internal_key(write.key):
                continue
            out.append((tx, to_record(chain_id, channel, number, tx, write)))
    return out
