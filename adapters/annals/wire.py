"""Annals answers as strict models; base64 fields are decoded once, here."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64: {exc}") from None


B64 = Annotated[bytes, BeforeValidator(_b64)]
Number = Annotated[int, Field(ge=0, lt=2**63)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Signer(_Wire):
    name: str
    key: B64


class Ledger(_Wire):
    network: str
    signers: list[Signer]
    quorum: int
    spaces: list[str] = Field(default_factory=list)


class Seal(_Wire):
    signer: str
    sig: B64


class Tx(_Wire):
    txid: str
    space: str
    key: str
    kind: str
    doc: B64
    rev: Number
    tombstone: bool


class Summary(_Wire):
    number: Number
    sealed_header: B64
    seals: list[Seal]
    tx_count: Number
    tx_hashes: list[B64]

    def header_fields(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.sealed_header)
        except ValueError as exc:
            raise ValueError(f"block {self.number}: sealed header is not JSON") from exc
        if not isinstance(doc, dict):
            raise ValueError(f"block {self.number}: sealed header is not an object")
        return doc


class Block(Summary):
    txs: list[Tx]


class BlockPage(_Wire):
    items: list[Block]
    next_cursor: str | None


class Revision(_Wire):
    rev: Number
    block: Number
    position: Number
    txid: str


class RevisionPage(_Wire):
    items: list[Revision]
    next_cursor: str | None


class TxStatus(_Wire):
    txid: str
    state: str = Field(pattern=r"^(queued|sealed)$")
    block: Number | None = None
