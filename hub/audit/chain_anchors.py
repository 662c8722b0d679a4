"""The audit heads as the anchor chain holds them, compared with the hub's own anchor table.

The table is the hub's word and can be edited with the log it vouches for; the
chain cannot. So the heads are read back from the chain (verified records,
against the chain's registered trust anchors) and every head found there must
be in the table with the same hash, every head in the table must be on the
chain, and the events after the last head on the chain are counted: nothing
proves that they were not cut.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from hub.audit.anchoring import HEAD_FORMAT, HEAD_SCHEMA, head_key
from hub.audit.chain_check import Finding
from tonglian.v1 import audit_pb2, records_pb2

HEAD_KEY_PREFIX = head_key(0).rstrip("0")


@dataclass(frozen=True)
class UnanchoredTail:
    """Events after the last head on the chain: the part of the log that can be cut unnoticed."""

    after_sequence: int
    events: int


def heads_on_chain(
    records: Sequence[records_pb2.VerifiedRecord],
) -> tuple[list[audit_pb2.AuditAnchor], list[Finding]]:
    """The heads the chain's head records name, and findings for records that name none."""
    heads: dict[int, audit_pb2.AuditAnchor] = {}
    findings: list[Finding] = []
    for verified in records:
        record = verified.record
        where = f"{record.ref.chain_id}/{record.ref.namespace}/{record.ref.key}"
        try:
            value = json.loads(record.value)
            sequence = int(value["sequence"])
            head_hash = bytes.fromhex(str(value["head_hash"]))
            if (
                record.schema != HEAD_SCHEMA
                or value.get("format") != HEAD_FORMAT
                or record.ref.key != head_key(sequence)
            ):
                raise ValueError("another schema or format, or a key naming another sequence")
        except (ValueError, KeyError, TypeError) as exc:
            findings.append(Finding(0, f"the chain's record {where} is not an audit head ({exc})"))
            continue
        anchor = audit_pb2.AuditAnchor(
            sequence=sequence,
            head_hash=head_hash,
            chain_id=record.ref.chain_id,
            tx_id=record.tx_id,
            block_height=record.block_height,
            namespace=record.ref.namespace,
            key=record.ref.key,
            bundle=verified.bundle,
        )
        earlier = heads.get(sequence)
        if earlier is not None and earlier.head_hash != head_hash:
            findings.append(Finding(sequence, f"the chain holds two different heads under {where}"))
            continue
        heads[sequence] = anchor
    return sorted(heads.values(), key=lambda a: a.sequence), findings


def compare_with_table(
    on_chain: Sequence[audit_pb2.AuditAnchor],
    table: Sequence[audit_pb2.AuditAnchor],
    chain_id: str,
    namespace: str,
) -> list[Finding]:
    """Heads on the chain missing from the table or different there, and table heads not
    on the chain; table anchors on other chains or namespaces are not this check's."""
    findings: list[Finding] = []
    chain_by_seq = {a.sequence: a for a in on_chain}
    table_by_seq = {
        a.sequence: a for a in table if a.chain_id == chain_id and a.namespace == namespace
    }
    for seq, anchor in chain_by_seq.items():
        where = (
            f"{chain_id}/{namespace}/{anchor.key} (tx {anchor.tx_id}, block {anchor.block_height})"
        )
        held = table_by_seq.get(seq)
        if held is None:
            findings.append(
                Finding(
                    seq, f"was anchored on chain {where} but is missing from the hub's anchor table"
                )
            )
        elif held.head_hash != anchor.head_hash:
            findings.append(
                Finding(
                    seq,
                    f"the hub's anchor table holds head {held.head_hash.hex()}, the chain holds "
                    f"{anchor.head_hash.hex()} at {where}",
                )
            )
    for seq in table_by_seq.keys() - chain_by_seq.keys():
        findings.append(
            Finding(
                seq,
                f"is in the hub's anchor table but no head {head_key(seq)} is on chain "
                f"{chain_id}/{namespace}",
            )
        )
    return sorted(findings, key=lambda f: f.sequence)


def unanchored_tail(
    head_sequence: int, on_chain: Sequence[audit_pb2.AuditAnchor]
) -> UnanchoredTail:
    last = max((a.sequence for a in on_chain), default=0)
    return UnanchoredTail(after_sequence=last, events=max(head_sequence - last, 0))
