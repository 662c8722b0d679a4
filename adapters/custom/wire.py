"""The ledger's JSON answers as strict models: anything else is a garbage answer."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]
Height = Annotated[int, Field(ge=0, lt=2**63)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


# A 32-byte Ed25519 key or a 65-byte uncompressed SM2 point (04 ‖ x ‖ y).
PublicKeyHex = Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{64}|04[0-9a-f]{128})$")]


class ValidatorKey(_Wire):
    id: str
    public_key: PublicKeyHex


class Info(_Wire):
    ledger_id: str
    # Absent from ledgers older than the sm2 mode: those are ed25519.
    crypto: str = Field(default="ed25519", pattern=r"^(ed25519|sm2)$")
    validators: list[ValidatorKey]
    threshold: int
    collections: list[str] = Field(default_factory=list)


class Signature(_Wire):
    validator_id: str
    signature: str


class PathStep(_Wire):
    sibling: Hex32
    sibling_on_left: bool


class Entry(_Wire):
    tx_id: str
    collection: str
    key: str
    schema_: str = Field(alias="schema")
    value_canonical: str
    version: Height
    deleted: bool
    block_height: Height
    leaf_index: Height
    time_ms: Height


class BlockEntry(Entry):
    path: list[PathStep]


class SignedBlock(_Wire):
    height: Height
    hash: Hex32
    header: str
    signatures: list[Signature]


class Head(SignedBlock):
    time_ms: Height


class Block(SignedBlock):
    entries: list[BlockEntry]


class BlockPage(_Wire):
    blocks: list[Block]
    head_height: Height
    next_from_height: Height


class RecordProof(_Wire):
    record: Entry
    path: list[PathStep]
    block: SignedBlock


class TxStatus(_Wire):
    tx_id: str
    status: str = Field(pattern=r"^(pending|committed)$")
    block_height: Height | None = None
    duplicate: bool = False


class TxStatuses(_Wire):
    """POST /v1/inbox/statuses: one entry per delivery asked about, null when unknown."""

    statuses: list[TxStatus | None]
