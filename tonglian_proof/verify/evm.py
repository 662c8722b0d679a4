"""Verifies an EVM record: EIP-1186 storage proofs of the RecordRegistry at a trusted, final block.

What is proven: at block N, whose header hashes to a block hash the hub trusts
(k of n RPC endpoints, or QBFT validator seals) and which sits at least
`finality_depth` below the trusted head, the registry account's storage holds
keccak256 of the record's canonical encoding in the key's digest slot and the
record's version in its version slot. The header gives stateRoot; the account
proof leads from it to the registry's storageRoot; the storage proofs lead
from there to both slots. Pure: no I/O, safe to run in a worker process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import rlp
from eth_utils.address import to_checksum_address

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.crypto.keccak import keccak256 as keccak
from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.evm_anchor import anchor_problems
from tonglian_proof.verify.evm_header import (
    EvmHeader,
    HeaderError,
    decode_header,
    keccak_header_hash,
    qbft_block_hash,
)
from tonglian_proof.verify.evm_registry import (
    DIGEST_SLOT_INDEX,
    VERSION_SLOT_INDEX,
    key_id,
    mapping_slot,
    record_digest,
)
from tonglian_proof.verify.evm_rlp import rlp_list_of_words, rlp_word
from tonglian_proof.verify.mpt import MptError, walk_proof


@dataclass(frozen=True)
class TrustedEvmHeader:
    """A block hash the hub trusts, and the head it was measured against."""

    block_number: int
    block_hash: bytes
    head_number: int
    # Who vouched for it, for people ("2 of 3 endpoints: ...", "QBFT seals 3 of 4").
    source: str
    # What each endpoint said (ENDPOINT_QUORUM), to copy into the proof for offline checks.
    attestations: tuple[records_pb2.EvmHeaderAttestation, ...] = field(default=())


def verify_evm_record(
    record: records_pb2.Record,
    proof: records_pb2.EvmStorageProof,
    anchor: chains_pb2.EvmTrustAnchor,
    trusted: TrustedEvmHeader,
) -> list[str]:
    """Checks `proof` of `record` against `anchor` and the trusted header; returns the checks.

    Raises ProofRejected naming the first check that failed.
    """
    checks: list[str] = []
    problems = _anchor_problems(anchor.SerializeToString(deterministic=True))
    if problems:
        raise ProofRejected("the EVM trust anchor is invalid: " + "; ".join(problems))
    registry = anchor.registry_address
    header = _check_header(proof, anchor, trusted, checks)
    _check_record_ref(record, proof, registry, header, checks)
    storage_root = _check_account(proof, registry, header, checks)
    _check_slots(record, proof, anchor, storage_root, checks)
    return checks


@lru_cache(maxsize=256)
def _anchor_problems(anchor: bytes) -> tuple[str, ...]:
    """anchor_problems by the anchor's bytes: the same anchor comes with every record."""
    return tuple(anchor_problems(chains_pb2.EvmTrustAnchor.FromString(anchor)))


@lru_cache(maxsize=256)
def _checksum(address: bytes) -> str:
    """The EIP-55 form of an address, for checks (a keccak and a loop: once per address)."""
    return str(to_checksum_address(address))


def _check_header(
    proof: records_pb2.EvmStorageProof,
    anchor: chains_pb2.EvmTrustAnchor,
    trusted: TrustedEvmHeader,
    checks: list[str],
) -> EvmHeader:
    try:
        header = decode_header(proof.block_header_rlp)
        qbft = anchor.consensus == chains_pb2.EVM_CONSENSUS_QBFT
        computed = qbft_block_hash(header) if qbft else keccak_header_hash(proof.block_header_rlp)
    except HeaderError as exc:
        raise ProofRejected(f"block header: {exc}") from exc
    rule = "QBFT hash (seals emptied)" if qbft else "keccak256"
    if computed != proof.block_hash:
        raise ProofRejected(
            f"block header {rule} is 0x{computed.hex()}, "
            f"the proof claims 0x{proof.block_hash.hex()}"
        )
    if computed != trusted.block_hash:
        raise ProofRejected(
            f"block header {rule} is 0x{computed.hex()}, but the trusted block "
            f"{trusted.block_number} is 0x{trusted.block_hash.hex()} ({trusted.source})"
        )
    checks.append(f"block header {rule} equals the trusted block hash ({trusted.source})")
    if header.number != proof.block_number or header.number != trusted.block_number:
        raise ProofRejected(
            f"block number mismatch: header {header.number}, proof {proof.block_number}, "
            f"trusted {trusted.block_number}"
        )
    checks.append(f"block number {header.number} matches the header")
    depth = trusted.head_number - header.number
    if depth < anchor.finality_depth:
        raise ProofRejected(
            f"block {header.number} is not final: {max(depth, 0)} block(s) on top of it "
            f"(trusted head {trusted.head_number}), the anchor requires {anchor.finality_depth}"
        )
    checks.append(
        f"block {header.number} is final: {depth} block(s) on top, {anchor.finality_depth} required"
    )
    return header


def _check_record_ref(
    record: records_pb2.Record,
    proof: records_pb2.EvmStorageProof,
    registry: bytes,
    header: EvmHeader,
    checks: list[str],
) -> None:
    if proof.account != registry:
        raise ProofRejected(
            f"the proof is for account 0x{proof.account.hex()}, "
            f"the registry is {to_checksum_address(registry)}"
        )
    namespace = record.ref.namespace
    if namespace.lower() != "0x" + registry.hex():
        raise ProofRejected(
            f"record namespace {namespace!r} is not the registry {to_checksum_address(registry)}"
        )
    if not record.ref.key:
        raise ProofRejected("record has an empty key")
    if record.version < 1:
        raise ProofRejected("record version must be at least 1")
    if record.block_height > header.number:
        raise ProofRejected(
            f"record claims block {record.block_height}, after the proven block {header.number}"
        )
    if record.deleted and record.value:
        raise ProofRejected("a deleting version must carry an empty value")
    checks.append(f"proof account is the registry {_checksum(registry)}")


def _check_account(
    proof: records_pb2.EvmStorageProof, registry: bytes, header: EvmHeader, checks: list[str]
) -> bytes:
    try:
        account_rlp = walk_proof(header.state_root, keccak(registry), proof.account_proof)
    except MptError as exc:
        raise ProofRejected(f"account proof: {exc}") from exc
    if account_rlp is None:
        raise ProofRejected(
            f"account proof shows no account {to_checksum_address(registry)} "
            f"at block {header.number}"
        )
    try:
        account = rlp_list_of_words(account_rlp)
    except rlp.exceptions.DecodingError as exc:
        raise ProofRejected(f"account value is not valid RLP: {exc}") from exc
    if not isinstance(account, list) or len(account) != 4 or not isinstance(account[2], bytes):
        raise ProofRejected("account value is not [nonce, balance, storageRoot, codeHash]")
    storage_root: bytes = account[2]
    if len(storage_root) != 32:
        raise ProofRejected("account storageRoot is not 32 bytes")
    checks.append(
        f"account proof leads from stateRoot 0x{header.state_root.hex()} to the registry "
        f"(storageRoot 0x{storage_root.hex()})"
    )
    return storage_root


def _check_slots(
    record: records_pb2.Record,
    proof: records_pb2.EvmStorageProof,
    anchor: chains_pb2.EvmTrustAnchor,
    storage_root: bytes,
    checks: list[str],
) -> None:
    key = record.ref.key
    kid = key_id(key)
    expected_digest_slot = mapping_slot(kid, DIGEST_SLOT_INDEX)
    expected_version_slot = mapping_slot(kid, VERSION_SLOT_INDEX)
    if proof.storage_key != expected_digest_slot:
        raise ProofRejected(
            f"storage proof is for slot 0x{proof.storage_key.hex()}, the digest slot of "
            f"key {key!r} is 0x{expected_digest_slot.hex()}"
        )
    if proof.version_key != expected_version_slot:
        raise ProofRejected(
            f"version proof is for slot 0x{proof.version_key.hex()}, the version slot of "
            f"key {key!r} is 0x{expected_version_slot.hex()}"
        )
    stored_digest = _slot_value(storage_root, proof.storage_key, proof.storage_proof, "digest")
    stored_version = _slot_value(storage_root, proof.version_key, proof.version_proof, "version")
    expected = record_digest(
        chain_id=anchor.chain_id,
        registry=anchor.registry_address,
        key=key,
        schema=record.schema,
        value=record.value,
        version=record.version,
        deleted=record.deleted,
    )
    if stored_digest != int.from_bytes(expected, "big"):
        raise ProofRejected(
            f"the registry's digest slot holds 0x{stored_digest:064x}, the record hashes to "
            f"0x{expected.hex()}: schema, value, version or deletion differ from what was written"
        )
    checks.append(f"storage proof: digest slot of {key!r} equals the record's keccak256 digest")
    if stored_version != record.version:
        raise ProofRejected(
            f"the registry's version slot holds {stored_version}, the record says {record.version}"
        )
    checks.append(f"storage proof: version slot of {key!r} equals version {record.version}")


def _slot_value(storage_root: bytes, slot: bytes, nodes: Sequence[bytes], what: str) -> int:
    try:
        leaf = walk_proof(storage_root, keccak(slot), nodes)
    except MptError as exc:
        raise ProofRejected(f"{what} storage proof: {exc}") from exc
    if leaf is None:
        raise ProofRejected(f"{what} storage proof shows the slot is empty: no such record")
    try:
        value = rlp_word(leaf)
    except rlp.exceptions.DecodingError as exc:
        raise ProofRejected(f"{what} slot value is not valid RLP: {exc}") from exc
    if not isinstance(value, bytes) or len(value) > 32 or value[:1] == b"\x00":
        raise ProofRejected(f"{what} slot value is not a minimal 32-byte word")
    return int.from_bytes(value, "big")
