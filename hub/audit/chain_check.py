"""Recomputes an audit log's hash chain and says where it breaks, and how.

Works on any sequence of events (a live log, an export file), so a changed,
deleted, reordered or re-hashed event is located by sequence number with the
kind of damage, instead of a bare "invalid".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tonglian.v1 import audit_pb2
from tonglian_proof.audit_hash import GENESIS, event_hash


@dataclass(frozen=True)
class Finding:
    sequence: int
    problem: str

    def __str__(self) -> str:
        return f"event {self.sequence}: {self.problem}"


def check_chain(
    events: Sequence[audit_pb2.AuditEvent],
    *,
    first_sequence: int = 1,
    first_previous_hash: bytes = GENESIS,
    head_sequence: int = 0,
    anchors: Sequence[audit_pb2.AuditAnchor] = (),
) -> list[Finding]:
    """Every problem found, ordered by sequence; empty when the chain is intact.

    `first_sequence`/`first_previous_hash` say where the events should start
    (an export from sequence 1 starts at the zero hash); `head_sequence` is the
    last sequence the log claims to hold; `anchors` are heads written on chains.
    """
    findings: list[Finding] = []
    by_seq: dict[int, audit_pb2.AuditEvent] = {}
    previous: audit_pb2.AuditEvent | None = None
    for event in events:
        seq = event.sequence
        if seq in by_seq:
            findings.append(Finding(seq, "appears twice: an event was duplicated"))
        else:
            by_seq[seq] = event
        if previous is not None and seq < previous.sequence:
            findings.append(
                Finding(seq, f"appears after event {previous.sequence}: the events were reordered")
            )
        previous = event
    last = max([*by_seq, head_sequence], default=first_sequence - 1)
    for seq in range(first_sequence, last + 1):
        if seq not in by_seq:
            findings.append(Finding(seq, "is missing: it was deleted from the log"))
    content_ok: dict[int, bool] = {}
    for seq, event in by_seq.items():
        content_ok[seq] = event_hash(event) == event.hash
        if not content_ok[seq]:
            findings.append(Finding(seq, "content does not match its hash: the event was changed"))
    for seq, event in by_seq.items():
        if seq == first_sequence:
            if event.previous_hash != first_previous_hash:
                findings.append(
                    Finding(seq, "previous_hash is not the hash the log should start from")
                )
            continue
        before = by_seq.get(seq - 1)
        if before is not None and event.previous_hash != before.hash and content_ok[seq - 1]:
            findings.append(
                Finding(
                    seq - 1,
                    f"was changed and re-hashed (or replaced): event {seq} links to a "
                    "different hash",
                )
            )
    for anchor in anchors:
        held = by_seq.get(anchor.sequence)
        where = f"on chain {anchor.chain_id} (tx {anchor.tx_id}, block {anchor.block_height})"
        if held is None:
            if anchor.sequence >= first_sequence:
                findings.append(Finding(anchor.sequence, f"was anchored {where} but is missing"))
        elif held.hash != anchor.head_hash:
            findings.append(
                Finding(anchor.sequence, f"hash differs from the head anchored {where}")
            )
    unique = {(f.sequence, f.problem): f for f in findings}
    return sorted(unique.values(), key=lambda f: f.sequence)
