"""The audit export file: JSON Lines that `tonglian audit export` writes and `audit verify` reads.

Line 1 is a header:
    {"format": "tonglian.audit-export/v1", "exported_at": RFC 3339,
     "head": {"sequence": N, "hash": hex}, "anchors": [AuditAnchor as proto JSON]}
then one AuditEvent per line, as proto JSON (bytes in base64), in sequence order.
The header is not trusted: the hash chain and the anchors' proofs are what verify.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

from hub.errors import InvalidInput
from tonglian.v1 import audit_pb2

FORMAT = "tonglian.audit-export/v1"


@dataclass
class AuditExport:
    head_sequence: int
    head_hash: bytes
    events: list[audit_pb2.AuditEvent]
    anchors: list[audit_pb2.AuditAnchor] = field(default_factory=list)


def _json(message: audit_pb2.AuditEvent | audit_pb2.AuditAnchor) -> str:
    return json.dumps(
        MessageToDict(message, preserving_proto_field_name=True),
        ensure_ascii=False,
        sort_keys=True,
    )


def write_export(path: Path, export: AuditExport) -> None:
    header = {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "head": {"sequence": export.head_sequence, "hash": export.head_hash.hex()},
        "anchors": [MessageToDict(a, preserving_proto_field_name=True) for a in export.anchors],
    }
    lines = [json.dumps(header, ensure_ascii=False, sort_keys=True)]
    lines += [_json(e) for e in export.events]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_export(path: Path) -> AuditExport:
    """Parses an export; InvalidInput names the line that does not parse."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read audit export {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"audit export {path} is not UTF-8 text: {exc}") from exc
    if not lines:
        raise InvalidInput(f"audit export {path} is empty")
    try:
        header = json.loads(lines[0])
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        head = header["head"]
        anchors = [ParseDict(a, audit_pb2.AuditAnchor()) for a in header.get("anchors", [])]
        head_sequence, head_hash = int(head["sequence"]), bytes.fromhex(head["hash"])
    except (ValueError, KeyError, TypeError, ParseError) as exc:
        raise InvalidInput(f"audit export {path} line 1 is not an export header: {exc}") from exc
    events: list[audit_pb2.AuditEvent] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            events.append(ParseDict(json.loads(line), audit_pb2.AuditEvent()))
        except (ValueError, ParseError) as exc:
            raise InvalidInput(
                f"audit export {path} line {number} is not an audit event: {exc}"
            ) from exc
    return AuditExport(head_sequence, head_hash, events, anchors)
