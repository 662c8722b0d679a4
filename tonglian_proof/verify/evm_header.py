"""Ethereum block headers as RLP: the fields the verifier reads, and QBFT's block hash rule.

A header is the RLP list [parentHash, ommersHash, beneficiary, stateRoot,
transactionsRoot, receiptsRoot, logsBloom, difficulty, number, gasLimit,
gasUsed, timestamp, extraData, mixHash, nonce, (baseFee, withdrawalsRoot,
blobGasUsed, excessBlobGas, parentBeaconBlockRoot, requestsHash: one more per
fork since London)]. Only the first fifteen positions are read here, so any
later fork's additions pass through unchanged; the header is bound to the
trusted block hash as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp

from tonglian_proof.crypto.keccak import keccak256 as keccak

MIN_HEADER_FIELDS = 15
STATE_ROOT, NUMBER, TIMESTAMP, EXTRA_DATA = 3, 8, 11, 12


class HeaderError(ValueError):
    """The bytes are not an Ethereum block header."""


@dataclass(frozen=True)
class EvmHeader:
    fields: list[bytes]

    @property
    def parent_hash(self) -> bytes:
        return self.fields[0]

    @property
    def state_root(self) -> bytes:
        return self.fields[STATE_ROOT]

    @property
    def number(self) -> int:
        return int.from_bytes(self.fields[NUMBER], "big")

    @property
    def timestamp(self) -> int:
        return int.from_bytes(self.fields[TIMESTAMP], "big")

    @property
    def extra_data(self) -> bytes:
        return self.fields[EXTRA_DATA]


def decode_header(header_rlp: bytes) -> EvmHeader:
    try:
        fields = rlp.decode(header_rlp, strict=True)
    except rlp.exceptions.DecodingError as exc:
        raise HeaderError(f"block header is not valid RLP: {exc}") from exc
    if not isinstance(fields, list) or len(fields) < MIN_HEADER_FIELDS:
        raise HeaderError("block header is not an RLP list of at least 15 fields")
    for f in fields:
        if not isinstance(f, bytes):
            raise HeaderError("block header fields must be byte strings")
    if len(fields[STATE_ROOT]) != 32 or len(fields[0]) != 32:
        raise HeaderError("block header parentHash/stateRoot are not 32 bytes")
    return EvmHeader(fields=list(fields))


def keccak_header_hash(header_rlp: bytes) -> bytes:
    """The block hash of a proof-of-work/stake chain: keccak256 of the header's RLP."""
    return keccak(header_rlp)


@dataclass(frozen=True)
class QbftExtraData:
    """QBFT extraData: RLP [vanity, validators, vote, round, committed seals]."""

    vanity: bytes
    validators: list[bytes]
    vote: list[bytes]
    round: bytes
    seals: list[bytes]

    def encode(self, *, with_seals: bool) -> bytes:
        seals = self.seals if with_seals else []
        return bytes(rlp.encode([self.vanity, self.validators, self.vote, self.round, seals]))


def decode_qbft_extra(extra: bytes) -> QbftExtraData:
    try:
        items = rlp.decode(extra, strict=True)
    except rlp.exceptions.DecodingError as exc:
        raise HeaderError(f"QBFT extraData is not valid RLP: {exc}") from exc
    if not isinstance(items, list) or len(items) != 5:
        raise HeaderError("QBFT extraData is not [vanity, validators, vote, round, seals]")
    vanity, validators, vote, round_, seals = items
    if not isinstance(vanity, bytes) or not isinstance(round_, bytes):
        raise HeaderError("QBFT extraData vanity/round must be byte strings")
    for name, group in (("validators", validators), ("vote", vote), ("seals", seals)):
        if not isinstance(group, list) or not all(isinstance(x, bytes) for x in group):
            raise HeaderError(f"QBFT extraData {name} must be a list of byte strings")
    return QbftExtraData(vanity, validators, vote, round_, seals)


def qbft_block_hash(header: EvmHeader) -> bytes:
    """QBFT's block hash, which is also what validators seal: keccak256 of the header
    whose extraData has its committed seals emptied (round kept), as Besu defines it."""
    extra = decode_qbft_extra(header.extra_data)
    fields = list(header.fields)
    fields[EXTRA_DATA] = extra.encode(with_seals=False)
    return keccak(rlp.encode(fields))
