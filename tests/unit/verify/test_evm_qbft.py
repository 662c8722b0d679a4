"""QBFT header trust: seals signed here over a header that carries the recorded stateRoot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rlp
from eth_keys.datatypes import PrivateKey
from google.protobuf import json_format

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.evm import verify_evm_record
from tonglian_proof.verify.evm_header import decode_header, qbft_block_hash
from tonglian_proof.verify.evm_qbft import qbft_quorum, trusted_from_qbft_seals

VECTOR = json.loads(Path(__file__).with_name("test_evm_vector.json").read_text())
KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(4)]
VALIDATORS = [k.public_key.to_canonical_address() for k in KEYS]
STRANGER = PrivateKey(b"\x77" * 32)


def _qbft_header(signers: list[PrivateKey], *, round_: int = 0) -> tuple[bytes, bytes]:
    """(header RLP with seals, QBFT block hash), reusing the recorded block's other fields."""
    proof = json_format.ParseDict(VECTOR["proof"], records_pb2.EvmStorageProof())
    fields = rlp.decode(proof.block_header_rlp)
    vanity = b"\x00" * 32
    round_bytes = round_.to_bytes(4, "big").lstrip(b"\x00")
    fields[12] = rlp.encode([vanity, VALIDATORS, [], round_bytes, []])
    block_hash = qbft_block_hash(decode_header(rlp.encode(fields)))
    seals = [k.sign_msg_hash(block_hash).to_bytes() for k in signers]
    fields[12] = rlp.encode([vanity, VALIDATORS, [], round_bytes, seals])
    return rlp.encode(fields), block_hash


def _case(
    signers: list[PrivateKey],
) -> tuple[records_pb2.Record, records_pb2.EvmStorageProof, chains_pb2.EvmTrustAnchor]:
    record = json_format.ParseDict(VECTOR["record"], records_pb2.Record())
    proof = json_format.ParseDict(VECTOR["proof"], records_pb2.EvmStorageProof())
    proof.block_header_rlp, proof.block_hash = _qbft_header(signers)
    anchor = json_format.ParseDict(VECTOR["anchor"], chains_pb2.EvmTrustAnchor())
    anchor.consensus = chains_pb2.EVM_CONSENSUS_QBFT
    del anchor.rpc_endpoints[:]
    anchor.endpoint_quorum = 0
    anchor.finality_depth = 0
    anchor.validators.extend(VALIDATORS)
    return record, proof, anchor


def test_quorum_is_besus_ceil_two_thirds() -> None:
    assert [qbft_quorum(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 2, 3, 4, 4, 5]


def test_three_of_four_seals_make_the_header_trusted_and_the_record_verifies() -> None:
    record, proof, anchor = _case(KEYS[:3])
    trusted = trusted_from_qbft_seals(proof, anchor)
    assert trusted.block_hash == proof.block_hash
    assert trusted.head_number == proof.block_number
    assert "3 of 4" in trusted.source
    checks = verify_evm_record(record, proof, anchor, trusted)
    assert checks[0].startswith("block header QBFT hash")


def test_two_of_four_seals_are_not_enough() -> None:
    _, proof, anchor = _case(KEYS[:2])
    with pytest.raises(ProofRejected, match="2 distinct registered validator"):
        trusted_from_qbft_seals(proof, anchor)


def test_repeated_seals_of_one_validator_count_once() -> None:
    _, proof, anchor = _case([KEYS[0], KEYS[0], KEYS[0], KEYS[1]])
    with pytest.raises(ProofRejected, match="2 distinct"):
        trusted_from_qbft_seals(proof, anchor)


def test_seals_of_strangers_do_not_count() -> None:
    _, proof, anchor = _case([KEYS[0], KEYS[1], STRANGER])
    with pytest.raises(ProofRejected, match="non-validators"):
        trusted_from_qbft_seals(proof, anchor)


def test_header_changed_after_sealing_is_rejected() -> None:
    _, proof, anchor = _case(KEYS[:3])
    fields = rlp.decode(proof.block_header_rlp)
    fields[11] = (int.from_bytes(fields[11], "big") + 1).to_bytes(8, "big").lstrip(b"\x00")
    proof.block_header_rlp = rlp.encode(fields)
    with pytest.raises(ProofRejected):
        trusted_from_qbft_seals(proof, anchor)


def test_header_sealed_by_validators_of_another_set_is_rejected() -> None:
    _, proof, anchor = _case(KEYS[:3])
    del anchor.validators[:]
    anchor.validators.extend(
        PrivateKey(bytes([i + 50]) * 32).public_key.to_canonical_address() for i in range(4)
    )
    with pytest.raises(ProofRejected, match="0 distinct registered"):
        trusted_from_qbft_seals(proof, anchor)


def test_malformed_seals_and_extra_data_are_rejected() -> None:
    _, proof, anchor = _case(KEYS[:3])
    fields = rlp.decode(proof.block_header_rlp)
    extra = rlp.decode(fields[12])
    extra[4] = [b"\x01" * 64]
    fields[12] = rlp.encode(extra)
    proof.block_header_rlp = rlp.encode(fields)
    with pytest.raises(ProofRejected, match="65"):
        trusted_from_qbft_seals(proof, anchor)
    fields[12] = b"\x01\x02"
    proof.block_header_rlp = rlp.encode(fields)
    with pytest.raises(ProofRejected, match="extraData"):
        trusted_from_qbft_seals(proof, anchor)


def test_qbft_proof_against_a_different_trusted_hash_is_rejected() -> None:
    record, proof, anchor = _case(KEYS)
    trusted = trusted_from_qbft_seals(proof, anchor)
    other_header, _ = _qbft_header(KEYS, round_=1)
    proof.block_header_rlp = other_header
    with pytest.raises(ProofRejected, match="the proof claims"):
        verify_evm_record(record, proof, anchor, trusted)
