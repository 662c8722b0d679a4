"""verify_evm_record on a real anvil read (test_evm_vector.json), and every tampering."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_hash.auto import keccak
from google.protobuf import json_format

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.evm import TrustedEvmHeader, verify_evm_record

VECTOR = json.loads(Path(__file__).with_name("test_evm_vector.json").read_text())

Case = tuple[records_pb2.Record, records_pb2.EvmStorageProof, chains_pb2.EvmTrustAnchor]


def load() -> tuple[
    records_pb2.Record, records_pb2.EvmStorageProof, chains_pb2.EvmTrustAnchor, TrustedEvmHeader
]:
    record = json_format.ParseDict(VECTOR["record"], records_pb2.Record())
    proof = json_format.ParseDict(VECTOR["proof"], records_pb2.EvmStorageProof())
    anchor = json_format.ParseDict(VECTOR["anchor"], chains_pb2.EvmTrustAnchor())
    trusted = TrustedEvmHeader(
        block_number=proof.block_number,
        block_hash=proof.block_hash,
        head_number=VECTOR["head_number"],
        source="recorded",
    )
    return record, proof, anchor, trusted


def test_the_recorded_read_verifies() -> None:
    record, proof, anchor, trusted = load()
    checks = verify_evm_record(record, proof, anchor, trusted)
    assert len(checks) == 7
    assert any("digest slot" in c for c in checks)
    assert any("version slot" in c and "version 2" in c for c in checks)


def _reject(
    mutate: Callable[
        [records_pb2.Record, records_pb2.EvmStorageProof, chains_pb2.EvmTrustAnchor], Any
    ],
    trusted_change: dict[str, Any] | None = None,
) -> str:
    record, proof, anchor, trusted = load()
    mutate(record, proof, anchor)
    if trusted_change:
        trusted = dataclasses.replace(trusted, **trusted_change)
    with pytest.raises(ProofRejected) as info:
        verify_evm_record(record, proof, anchor, trusted)
    return info.value.reason


def test_changed_value_is_rejected() -> None:
    reason = _reject(lambda r, p, a: setattr(r, "value", b'{"n":34,"name":"Tonglian Tea Co."}'))
    assert "digest slot" in reason


def test_changed_schema_version_or_deletion_is_rejected() -> None:
    assert "digest" in _reject(lambda r, p, a: setattr(r, "schema", "gov.other/v1"))
    assert "digest" in _reject(lambda r, p, a: setattr(r, "version", 1))
    assert "empty value" in _reject(lambda r, p, a: setattr(r, "deleted", True))


def test_another_key_is_rejected() -> None:
    reason = _reject(lambda r, p, a: setattr(r.ref, "key", "lic-4"))
    assert "digest slot of key 'lic-4'" in reason


def test_proof_for_another_slot_is_rejected() -> None:
    def swap(r: records_pb2.Record, p: records_pb2.EvmStorageProof, a: Any) -> None:
        digest_key, digest_nodes = p.storage_key, list(p.storage_proof)
        p.storage_key, p.version_key = p.version_key, digest_key
        del p.storage_proof[:]
        p.storage_proof.extend(p.version_proof)
        del p.version_proof[:]
        p.version_proof.extend(digest_nodes)

    assert "storage proof is for slot" in _reject(swap)


def test_storage_nodes_of_another_slot_are_rejected() -> None:
    def other_nodes(r: Any, p: records_pb2.EvmStorageProof, a: Any) -> None:
        nodes = list(p.version_proof)
        del p.storage_proof[:]
        p.storage_proof.extend(nodes)

    assert "digest storage proof" in _reject(other_nodes)


def test_proof_for_another_account_is_rejected() -> None:
    inbox = bytes.fromhex(VECTOR["inbox_address"][2:])

    def registry_is_inbox(r: records_pb2.Record, p: records_pb2.EvmStorageProof, a: Any) -> None:
        p.account = inbox

    assert "the proof is for account" in _reject(registry_is_inbox)

    def inbox_account_proof(r: Any, p: records_pb2.EvmStorageProof, a: Any) -> None:
        del p.account_proof[:]
        p.account_proof.extend(bytes.fromhex(n[2:]) for n in VECTOR["inbox_account_proof"])

    assert "account proof" in _reject(inbox_account_proof)


def test_anchor_for_another_registry_is_rejected() -> None:
    reason = _reject(lambda r, p, a: setattr(a, "registry_address", b"\x22" * 20))
    assert "the proof is for account" in reason


def test_anchor_for_another_chain_id_is_rejected() -> None:
    assert "digest" in _reject(lambda r, p, a: setattr(a, "chain_id", 1))


def test_header_that_does_not_hash_to_the_trusted_block_is_rejected() -> None:
    reason = _reject(lambda r, p, a: None, {"block_hash": keccak(b"another block")})
    assert "trusted block" in reason


def test_header_of_another_block_is_rejected() -> None:
    def other_header(r: Any, p: records_pb2.EvmStorageProof, a: Any) -> None:
        fields = rlp.decode(p.block_header_rlp)
        fields[3] = keccak(b"another state root")
        p.block_header_rlp = rlp.encode(fields)

    assert "the proof claims" in _reject(other_header)


def test_trusted_header_of_another_height_is_rejected() -> None:
    def claim_other_block(r: Any, p: records_pb2.EvmStorageProof, a: Any) -> None:
        p.block_number += 1

    assert "block number mismatch" in _reject(claim_other_block)


def test_block_not_final_enough_is_rejected() -> None:
    _, proof, _, _ = load()
    reason = _reject(lambda r, p, a: None, {"head_number": proof.block_number + 1})
    assert "not final" in reason and "requires 2" in reason


def test_record_from_a_later_block_than_the_proof_is_rejected() -> None:
    reason = _reject(lambda r, p, a: setattr(r, "block_height", p.block_number + 1))
    assert "after the proven block" in reason


def test_namespace_that_is_not_the_registry_is_rejected() -> None:
    reason = _reject(lambda r, p, a: setattr(r.ref, "namespace", VECTOR["inbox_address"]))
    assert "not the registry" in reason


def test_malformed_anchor_is_rejected() -> None:
    reason = _reject(lambda r, p, a: setattr(a, "endpoint_quorum", 5))
    assert "endpoint_quorum" in reason


def test_remembered_anchor_check_answers_only_for_the_same_anchor() -> None:
    """The anchor's problems are remembered by its exact bytes: after the good anchor was
    checked (and remembered), any edit of it is checked afresh and refused."""
    record, proof, anchor, trusted = load()
    verify_evm_record(record, proof, anchor, trusted)
    for field, value in (("endpoint_quorum", 5), ("chain_id", 0), ("finality_depth", 0)):
        bad = chains_pb2.EvmTrustAnchor()
        bad.CopyFrom(anchor)
        setattr(bad, field, value)
        with pytest.raises(ProofRejected, match="the EVM trust anchor is invalid"):
            verify_evm_record(record, proof, bad, trusted)
    verify_evm_record(record, proof, anchor, trusted)


def test_garbage_proof_nodes_are_rejected() -> None:
    def garbage(r: Any, p: records_pb2.EvmStorageProof, a: Any) -> None:
        p.account_proof[0] = b"\xff\x00"

    assert "account proof" in _reject(garbage)
