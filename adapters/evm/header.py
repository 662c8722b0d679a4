"""Block header RLP rebuilt from a node's JSON block, so the hub can hash it and read stateRoot.

Field order is the consensus encoding: the fifteen legacy fields, then one per
fork (London baseFee, Shanghai withdrawalsRoot, Cancun blobGasUsed,
excessBlobGas and parentBeaconBlockRoot, Prague requestsHash). A fork field is
encoded when the node reports it; a gap (a later field without an earlier one)
is an error rather than a header that silently hashes wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import rlp

# (JSON name, kind): "hash"/"bytes" are byte strings, "int" a minimal big-endian integer.
LEGACY_FIELDS: tuple[tuple[str, str], ...] = (
    ("parentHash", "bytes"),
    ("sha3Uncles", "bytes"),
    ("miner", "bytes"),
    ("stateRoot", "bytes"),
    ("transactionsRoot", "bytes"),
    ("receiptsRoot", "bytes"),
    ("logsBloom", "bytes"),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", "bytes"),
    ("mixHash", "bytes"),
    ("nonce", "bytes"),
)
FORK_FIELDS: tuple[tuple[str, str], ...] = (
    ("baseFeePerGas", "int"),  # London
    ("withdrawalsRoot", "bytes"),  # Shanghai
    ("blobGasUsed", "int"),  # Cancun
    ("excessBlobGas", "int"),
    ("parentBeaconBlockRoot", "bytes"),
    ("requestsHash", "bytes"),  # Prague
)


class HeaderShapeError(ValueError):
    """The JSON block cannot be turned into a header."""


def _value(raw: Any, kind: str, name: str) -> bytes | int:
    if not isinstance(raw, str) or not raw.startswith("0x"):
        raise HeaderShapeError(f"block field {name} is not a 0x-hex string")
    if kind == "int":
        return int(raw, 16)
    return bytes.fromhex(raw[2:])


def header_fields(block: Mapping[str, Any]) -> list[bytes | int]:
    fields: list[bytes | int] = []
    for name, kind in LEGACY_FIELDS:
        if name not in block:
            raise HeaderShapeError(f"block has no {name}")
        fields.append(_value(block[name], kind, name))
    missing: str | None = None
    for name, kind in FORK_FIELDS:
        if block.get(name) is None:
            missing = missing or name
            continue
        if missing:
            raise HeaderShapeError(f"block has {name} but not the earlier fork field {missing}")
        fields.append(_value(block[name], kind, name))
    return fields


def header_rlp(block: Mapping[str, Any]) -> bytes:
    """The RLP-encoded header of a JSON-RPC block object (raw hex fields)."""
    return bytes(rlp.encode(header_fields(block)))
