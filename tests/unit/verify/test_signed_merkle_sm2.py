"""Signed-Merkle proofs of national-cryptography ledgers: SM2 validators, SM3 hashing.

Blocks are built here from the spec in signed_merkle's docstring, with OpenSSL's SM3
(hashlib) for leaves, nodes and block hash, independent of the verifier's binding.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gmalglib.sm2 import SM2
from google.protobuf.timestamp_pb2 import Timestamp

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.verify.signed_merkle import validate_trust_anchor, verify_signed_merkle_record

LEDGER = "guomi-ledger"
TIME_MS = 1_732_670_000_123
DOMAIN = b"tonglian/signed-merkle/header/v1\n"
UID = "1234567812345678"
SM2_SECRETS = {f"s{i}": bytes([i]) * 32 for i in range(1, 5)}
SM2_KEYS = {v: SM2.get_pk(sk) for v, sk in SM2_SECRETS.items()}
ED_KEYS = {f"e{i}": Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32) for i in range(1, 3)}
SM2_ALG = chains_pb2.SIGNATURE_ALGORITHM_SM2


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def canon(v: object) -> bytes:
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sm2_validator(vid: str, user_id: str = UID) -> chains_pb2.Validator:
    return chains_pb2.Validator(
        id=vid, algorithm=SM2_ALG, sm2_public_key=SM2_KEYS[vid], sm2_user_id=user_id
    )


def ed_validator(vid: str) -> chains_pb2.Validator:
    return chains_pb2.Validator(
        id=vid,
        algorithm=chains_pb2.SIGNATURE_ALGORITHM_ED25519,
        ed25519_public_key=ED_KEYS[vid].public_key().public_bytes_raw(),
    )


def anchor(
    threshold: int = 3,
    validators: list[chains_pb2.Validator] | None = None,
    digest: int = chains_pb2.LEDGER_DIGEST_SM3,
) -> chains_pb2.SignedMerkleTrustAnchor:
    return chains_pb2.SignedMerkleTrustAnchor(
        ledger_id=LEDGER,
        validators=validators or [sm2_validator(v) for v in SM2_KEYS],
        threshold=threshold,
        digest=digest,  # type: ignore[arg-type]
    )


def record(i: int, height: int = 9) -> records_pb2.Record:
    return records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id="gm-1", namespace="licenses", key=f"L-{i}"),
        schema="gov.license.business/v1",
        value=canon({"holder": "李四", "n": i}),
        version=i + 1,
        block_height=height,
        tx_id=f"{i:032x}",
        commit_time=Timestamp(seconds=TIME_MS // 1000, nanos=(TIME_MS % 1000) * 1_000_000),
    )


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(r: records_pb2.Record, digest: Callable[[bytes], bytes] = sm3) -> bytes:
    body = {
        "collection": r.ref.namespace,
        "deleted": r.deleted,
        "key": r.ref.key,
        "ledger_id": LEDGER,
        "schema": r.schema,
        "tx_id": r.tx_id,
        "value": r.value.decode(),
        "version": r.version,
    }
    return digest(b"\x00" + canon(body))


def sign(vid: str, header: bytes, user_id: str = UID) -> records_pb2.ValidatorSignature:
    message = DOMAIN + header
    if vid in ED_KEYS:
        sig = ED_KEYS[vid].sign(message)
    else:
        sig = SM2(sk=SM2_SECRETS[vid], uid=user_id.encode()).sign(message)
    return records_pb2.ValidatorSignature(validator_id=vid, signature=sig)


@dataclass
class Block:
    records: list[records_pb2.Record]
    fields: dict[str, object]
    sibling: bytes  # the other leaf of this two-leaf block

    @property
    def header(self) -> bytes:
        return canon(self.fields)

    def proof(
        self, signers: tuple[str, ...] = ("s1", "s2", "s3"), header: bytes | None = None
    ) -> records_pb2.SignedMerkleProof:
        signed = header if header is not None else self.header
        return records_pb2.SignedMerkleProof(
            header=signed,
            signatures=[sign(v, signed) for v in signers],
            leaf_index=0,
            path=[records_pb2.MerkleStep(sibling=self.sibling, sibling_on_left=False)],
        )


def block(height: int = 9) -> Block:
    recs = [record(0, height), record(1, height)]
    root = sm3(b"\x01" + leaf(recs[0]) + leaf(recs[1]))
    fields: dict[str, object] = {
        "ledger_id": LEDGER,
        "height": height,
        "previous_hash": sm3(b"parent").hex(),
        "merkle_root": root.hex(),
        "time": TIME_MS,
        "record_count": 2,
    }
    return Block(recs, fields, leaf(recs[1]))


def rejected(rec: records_pb2.Record, proof: records_pb2.SignedMerkleProof, anc=None) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ProofRejected) as err:
        verify_signed_merkle_record(rec, proof, anc or anchor())
    return err.value.reason


def test_sm2_signed_sm3_block_verifies_and_checks_name_both() -> None:
    b = block()
    checks = verify_signed_merkle_record(b.records[0], b.proof(), anchor())
    assert checks[1] == (
        "3 of 4 validators signed block 9 (threshold 3): "
        "s1 (SM2/SM3, user id '1234567812345678'), s2 (SM2/SM3, user id '1234567812345678'), "
        "s3 (SM2/SM3, user id '1234567812345678')"
    )
    assert checks[-1] == "leaf 0 of 2 reaches the signed merkle_root in 1 steps of SM3"


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("ledger_id", "other-ledger", "header ledger_id 'other-ledger' is not the anchored"),
        (
            "height",
            10,
            "SM2 signature of validator 's1' does not verify over the header of block 10",
        ),
        ("previous_hash", "00" * 32, "SM2 signature of validator 's1' does not verify"),
        ("merkle_root", "11" * 32, "SM2 signature of validator 's1' does not verify"),
        ("time", TIME_MS + 1, "SM2 signature of validator 's1' does not verify"),
        ("record_count", 3, "SM2 signature of validator 's1' does not verify"),
    ],
)
def test_tampering_any_field_of_an_sm2_signed_header_is_refused(
    field: str, value: object, why: str
) -> None:
    b = block()
    proof = b.proof()
    b.fields[field] = value
    proof.header = b.header  # the signatures stay those of the original header
    assert why in rejected(b.records[0], proof)


@pytest.mark.parametrize("signer", [0, 1, 2, 3])
@pytest.mark.parametrize("position", [0, 31, 32, 63])
def test_one_flipped_byte_refuses_the_bundle_though_enough_others_verify(
    signer: int, position: int
) -> None:
    b = block()
    proof = b.proof(("s1", "s2", "s3", "s4"))
    sig = bytearray(proof.signatures[signer].signature)
    sig[position] ^= 0xFF
    proof.signatures[signer].signature = bytes(sig)
    reason = rejected(b.records[0], proof, anchor(threshold=2))
    assert reason == (
        f"SM2 signature of validator 's{signer + 1}' does not verify over the header of block 9"
    )


def test_signature_under_another_user_id_is_refused() -> None:
    b = block()
    proof = b.proof()
    proof.signatures[1].CopyFrom(sign("s2", b.header, user_id="ALICE123@YAHOO.COM"))
    assert rejected(b.records[0], proof) == (
        "SM2 signature of validator 's2' does not verify over the header of block 9"
    )


def test_anchored_user_id_other_than_the_signers_is_refused() -> None:
    b = block()
    validators = [sm2_validator(v) for v in SM2_KEYS]
    validators[0].sm2_user_id = "ALICE123@YAHOO.COM"
    reason = rejected(b.records[0], b.proof(), anchor(validators=validators))
    assert reason.startswith("SM2 signature of validator 's1' does not verify")


def test_mixed_anchor_counts_ed25519_and_sm2_toward_one_threshold() -> None:
    b = block()
    mixed = [ed_validator("e1"), ed_validator("e2"), sm2_validator("s1"), sm2_validator("s2")]
    anc = anchor(threshold=3, validators=mixed)
    checks = verify_signed_merkle_record(b.records[0], b.proof(("e1", "s1", "s2")), anc)
    assert checks[1] == (
        "3 of 4 validators signed block 9 (threshold 3): e1 (Ed25519), "
        "s1 (SM2/SM3, user id '1234567812345678'), s2 (SM2/SM3, user id '1234567812345678')"
    )
    assert rejected(b.records[0], b.proof(("e1", "s1")), anc).startswith(
        "block 9 has valid signatures of 2/3 required validators (e1, s1)"
    )
    assert rejected(b.records[0], b.proof(("e1", "e2")), anc).startswith(
        "block 9 has valid signatures of 2/3 required validators (e1, e2)"
    )


def test_ed25519_signature_for_an_sm2_validator_is_refused() -> None:
    b = block()
    proof = b.proof(("s1", "s2", "s3"))
    proof.signatures[0].signature = ED_KEYS["e1"].sign(DOMAIN + b.header)
    assert rejected(b.records[0], proof) == (
        "SM2 signature of validator 's1' does not verify over the header of block 9"
    )


def test_digest_is_the_anchors_not_the_ledgers() -> None:
    b = block()
    reason = rejected(b.records[0], b.proof(), anchor(digest=chains_pb2.LEDGER_DIGEST_SHA256))
    assert reason.startswith("Merkle path from leaf 0 ends at")


def test_sm3_anchor_refuses_a_sha256_tree() -> None:
    b = block()
    sha = [leaf(r, sha256) for r in b.records]
    b.fields["merkle_root"] = sha256(b"\x01" + sha[0] + sha[1]).hex()
    b.sibling = sha[1]
    assert rejected(b.records[0], b.proof()).startswith("Merkle path from leaf 0 ends at")


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (
            lambda a: a.validators[0].ClearField("sm2_user_id"),
            "validator 's1': the SM2 user id is empty; state the signer's",
        ),
        (
            lambda a: setattr(a.validators[0], "sm2_public_key", SM2_KEYS["s1"][1:]),
            "validator 's1': an SM2 public key is 65 bytes 04 ‖ x ‖ y, got 64 bytes",
        ),
        (
            lambda a: setattr(a.validators[0], "sm2_public_key", b"\x04" + bytes(64)),
            "validator 's1': the SM2 public key is not a point on the curve sm2p256v1",
        ),
        (
            lambda a: setattr(a.validators[0], "ed25519_public_key", bytes(32)),
            "validator 's1' is SM2 but sets ed25519_public_key",
        ),
        (
            lambda a: setattr(a.validators[1], "algorithm", chains_pb2.SIGNATURE_ALGORITHM_ED25519),
            "validator 's2' is Ed25519 but sets sm2_public_key or sm2_user_id",
        ),
        (
            lambda a: setattr(a.validators[1], "algorithm", 7),
            "validator 's2' algorithm 7 is not SIGNATURE_ALGORITHM_ED25519 or "
            "SIGNATURE_ALGORITHM_SM2",
        ),
        (
            lambda a: setattr(a, "digest", 9),
            "digest 9 is not LEDGER_DIGEST_SHA256 or LEDGER_DIGEST_SM3",
        ),
        (
            lambda a: setattr(a.validators[1], "sm2_public_key", SM2_KEYS["s1"]),
            "validator 's2' repeats another's key",
        ),
    ],
)
def test_unusable_sm2_anchor_is_refused(edit, why: str) -> None:  # type: ignore[no-untyped-def]
    anc = anchor()
    edit(anc)
    with pytest.raises(MalformedInput) as err:
        validate_trust_anchor(anc)
    assert why in str(err.value)
    b = block()
    assert rejected(b.records[0], b.proof(), anc).startswith("trust anchor unusable: ")
