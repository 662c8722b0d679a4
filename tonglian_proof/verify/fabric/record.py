"""A Record against the transaction that wrote it: the hub's conventions for Fabric.

namespace = "<channel>:<chaincode>", key = the state key; value = the written bytes
exactly; schema = the value's top-level JSON "schema" string, else ""; deleted for a
delete (value empty); version = (block << 32) | tx index; block_height, tx_id and
commit_time from the block and the channel header.
"""

from __future__ import annotations

import json
from typing import Any

from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.fabric.transaction import EndorserTx, Write


def schema_of(value: bytes) -> str:
    """The top-level JSON "schema" member of a value, or "" when there is none."""
    try:
        if len(value) >= 2 and value[1] and 0 < value[0] < 0xEF:
            # What json.loads(bytes) does for these bytes (no BOM, no UTF-16/32
            # pattern), without its encoding detection in Python.
            doc = json.loads(value.decode("utf-8", "surrogatepass"))
        else:
            doc = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(doc, dict):
        schema = doc.get("schema")
        if isinstance(schema, str):
            return schema
    return ""


def record_version(block: int, index: int) -> int:
    return (block << 32) | index


def find_write(tx: EndorserTx, namespace: str, key: str) -> Write | None:
    return next((w for w in tx.writes if w.namespace == namespace and w.key == key), None)


def check_record(record: Any, tx: EndorserTx, channel: str) -> list[str]:
    """Every field of `record` must be what the transaction wrote; raises ProofRejected."""
    h = tx.header
    label = h.label
    ns = str(record.ref.namespace)
    rec_channel, sep, chaincode = ns.partition(":")
    if not sep or rec_channel != channel or not chaincode:
        raise ProofRejected(f"record namespace {ns!r} is not '{channel}:<chaincode>'")
    key = str(record.ref.key)
    write = find_write(tx, chaincode, key)
    if write is None:
        written = ", ".join(f"{w.namespace}/{w.key}" for w in tx.writes) or "nothing"
        raise ProofRejected(
            f"{label} does not write key {key!r} of chaincode {chaincode} (it writes {written})"
        )
    if bool(record.deleted) != write.is_delete:
        said = "a delete" if record.deleted else "a put"
        did = "deletes" if write.is_delete else "puts"
        raise ProofRejected(f"record says {said} of {key!r} but {label} {did} it")
    if bytes(record.value) != write.value:
        raise ProofRejected(
            f"record value of {key!r} differs from the value {label} wrote "
            f"({len(record.value)} vs {len(write.value)} bytes)"
        )
    expected_schema = "" if write.is_delete else schema_of(write.value)
    if str(record.schema) != expected_schema:
        raise ProofRejected(
            f"record schema {record.schema!r} is not the value's schema {expected_schema!r}"
        )
    version = record_version(h.block, h.index)
    ct = record.commit_time
    for name, got, want in (
        ("version", record.version, version),
        ("block_height", record.block_height, h.block),
        ("tx_id", record.tx_id, h.tx_id),
        ("commit_time", (ct.seconds, ct.nanos), (h.seconds, h.nanos)),
    ):
        if got != want:
            raise ProofRejected(f"record {name} {got!r} is not {want!r} as {label} implies")
    kind = "delete" if write.is_delete else f"write of {len(write.value)} bytes"
    return [
        f"{label}: {kind} of {chaincode}/{key} equals the record (version, height, tx id, time)"
    ]
