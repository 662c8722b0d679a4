"""Blocks: parsing, the header hash, the data hash and the orderers' signatures.

Fabric hashes a block header as SHA-256 of the ASN.1 DER SEQUENCE (number,
previous_hash, data_hash) and the data as SHA-256 of the concatenated envelopes.
Orderers sign `metadata.value || signature_header || DER(header)` (BFT orderers may
send an IdentifierHeader naming a consenter instead of a SignatureHeader); the set
of signatures must satisfy `/Channel/Orderer/BlockValidation`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.config import ChannelConfig
from tonglian_proof.verify.fabric.msp import Identity
from tonglian_proof.verify.fabric.policy import evaluate
from tonglian_proof.verify.verified_cache import VerifiedCache

BLOCK_VALIDATION = "/Channel/Orderer/BlockValidation"
_SIGNATURES = int(protos.common.SIGNATURES)
_TRANSACTIONS_FILTER = int(protos.common.TRANSACTIONS_FILTER)

_Block = protos.common.Block

# Blocks whose orderer signatures satisfied BlockValidation: (config digest, DER header,
# signature metadata) -> (each signer's serialized identity, the check's text). The
# signatures and the policy are facts of those bytes alone; only the certificates'
# validity at a transaction's time differs per record, and is checked on every hit.
_signed_blocks: VerifiedCache[tuple[tuple[bytes, ...], str]] = VerifiedCache(4096)


@dataclass(frozen=True, slots=True)
class Block:
    """A parsed block; `envelopes` are the exact serialized envelopes of its data."""

    number: int
    previous_hash: bytes
    data_hash: bytes
    envelopes: tuple[bytes, ...]
    metadata: tuple[bytes, ...]


def parse_block(data: bytes) -> Block:
    """Parse a serialized `common.Block`."""
    try:
        blk = _Block.FromString(data)
    except Exception as exc:
        raise ProofRejected(f"block does not parse as common.Block: {exc}") from exc
    if not blk.HasField("header"):
        raise ProofRejected("block has no header")
    header = blk.header
    return Block(
        number=header.number,
        previous_hash=header.previous_hash,
        data_hash=header.data_hash,
        envelopes=tuple(blk.data.data),  # repeated bytes fields yield bytes
        metadata=tuple(blk.metadata.metadata),
    )


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_integer(v: int) -> bytes:
    body = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True)
    return b"\x02" + _der_length(len(body)) + body


def header_bytes(block: Block) -> bytes:
    """The DER encoding of the header that orderers sign and hash."""
    prev, data = block.previous_hash, block.data_hash
    body = b"".join(
        (
            _der_integer(block.number),
            b"\x04",
            _der_length(len(prev)),
            prev,
            b"\x04",
            _der_length(len(data)),
            data,
        )
    )
    return b"\x30" + _der_length(len(body)) + body


def header_hash(block: Block) -> bytes:
    return hashlib.sha256(header_bytes(block)).digest()


def data_hash(block: Block) -> bytes:
    return hashlib.sha256(b"".join(block.envelopes)).digest()


def check_data_hash(block: Block) -> str:
    """The envelopes must hash to the header's data_hash (which the orderers signed)."""
    actual = data_hash(block)
    if actual != block.data_hash:
        raise ProofRejected(
            f"block {block.number}: data no longer matches the header's data hash "
            f"(header {block.data_hash.hex()[:16]}…, data {actual.hex()[:16]}…)"
        )
    n = len(block.envelopes)
    return f"block {block.number}: data hash {actual.hex()[:16]}… matches its {n} envelope(s)"


def validation_flags(block: Block) -> bytes | None:
    """The TRANSACTIONS_FILTER bytes, unsigned and written by the committing peer."""
    idx = _TRANSACTIONS_FILTER
    if len(block.metadata) <= idx or len(block.metadata[idx]) != len(block.envelopes):
        return None
    return block.metadata[idx]


def check_orderer_signatures(
    block: Block, config: ChannelConfig, at: datetime
) -> tuple[list[Identity], str]:
    """Every orderer signature must verify, and together they must satisfy BlockValidation.

    `at` is the time the signers' certificates must be valid at (the block's newest
    transaction timestamp: the block was cut right after it).
    """
    idx = _SIGNATURES
    if len(block.metadata) <= idx or not block.metadata[idx]:
        raise ProofRejected(f"block {block.number} carries no orderer signature")
    hdr = header_bytes(block)
    key = (config.digest, hdr, block.metadata[idx])
    hit = _signed_blocks.get(key)
    if hit is not None:  # these very bytes satisfied BlockValidation under this config
        creators, check = hit
        try:
            return [config.msps.identity(c, at) for c in creators], check
        except ProofRejected as exc:
            raise ProofRejected(
                f"block {block.number}: an orderer signer is not valid: {exc.reason}"
            ) from exc
    try:
        md = protos.common.Metadata.FromString(block.metadata[idx])
    except Exception as exc:
        raise ProofRejected(
            f"block {block.number}: signature metadata does not parse: {exc}"
        ) from exc
    if not md.signatures:
        raise ProofRejected(f"block {block.number} carries no orderer signature")
    value = bytes(md.value)
    signers: list[Identity] = []
    creators_seen: list[bytes] = []
    for i, sig in enumerate(md.signatures):
        sig_header = bytes(sig.signature_header)
        if not sig_header and sig.identifier_header:
            ident_hdr = protos.common.IdentifierHeader.FromString(sig.identifier_header)
            creator = config.consenters.get(int(ident_hdr.identifier))
            if creator is None:
                raise ProofRejected(
                    f"block {block.number}: orderer signature {i} names consenter "
                    f"{ident_hdr.identifier}, which the channel config does not list"
                )
            message = value + bytes(sig.identifier_header) + hdr
        else:
            try:
                creator = bytes(protos.common.SignatureHeader.FromString(sig_header).creator)
            except Exception as exc:
                raise ProofRejected(
                    f"block {block.number}: orderer signature {i} has a malformed signature header"
                ) from exc
            message = value + sig_header + hdr
        creators_seen.append(creator)
        try:
            signers.append(config.msps.verify(creator, bytes(sig.signature), message, at))
        except ProofRejected as exc:
            raise ProofRejected(
                f"block {block.number}: orderer signature {i} does not verify: {exc.reason}"
            ) from exc
    found = config.policies.find(BLOCK_VALIDATION)
    if found is None:
        raise ProofRejected(f"channel config has no {BLOCK_VALIDATION} policy")
    group, policy = found
    outcome = evaluate(policy, group, signers)
    if not outcome.satisfied:
        raise ProofRejected(
            f"block {block.number}: orderer signatures do not satisfy {BLOCK_VALIDATION}: "
            f"{outcome.detail}"
        )
    check = (
        f"block {block.number}: {len(signers)} orderer signature(s) satisfy "
        f"{BLOCK_VALIDATION} ({outcome.detail})"
    )
    _signed_blocks.put(key, (tuple(creators_seen), check))
    return signers, check
