"""tonglian_proof.verify.signed_merkle against blocks built here from the spec in its docstring."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.verify.signed_merkle import validate_trust_anchor, verify_signed_merkle_record

LEDGER = "ledger-under-test"
TIME_MS = 1_732_670_000_123
DOMAIN = b"tonglian/signed-merkle/header/v1\n"
KEYS = {f"v{i}": Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32) for i in range(1, 5)}


def canon(v: object) -> bytes:
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def anchor(threshold: int = 3, ids: tuple[str, ...] = ("v1", "v2", "v3", "v4")):  # type: ignore[no-untyped-def]
    return chains_pb2.SignedMerkleTrustAnchor(
        ledger_id=LEDGER,
        validators=[
            chains_pb2.Validator(id=i, ed25519_public_key=KEYS[i].public_key().public_bytes_raw())
            for i in ids
        ],
        threshold=threshold,
    )


def record(i: int, height: int = 7, deleted: bool = False) -> records_pb2.Record:
    return records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id="custom-1", namespace="licenses", key=f"L-{i}"),
        schema="gov.license.business/v1",
        value=b"" if deleted else canon({"holder": "张三", "n": i}),
        version=i + 1,
        block_height=height,
        tx_id=f"{i:032x}",
        commit_time=Timestamp(seconds=TIME_MS // 1000, nanos=(TIME_MS % 1000) * 1_000_000),
        deleted=deleted,
    )


def leaf(r: records_pb2.Record) -> bytes:
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
    return hashlib.sha256(b"\x00" + canon(body)).digest()


def tree(leaves: list[bytes]) -> tuple[bytes, list[list[tuple[bytes, bool]]]]:
    """RFC 6962 root and (sibling, sibling_on_left) paths, leaf end first."""
    if len(leaves) == 1:
        return leaves[0], [[]]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    lr, lp = tree(leaves[:k])
    rr, rp = tree(leaves[k:])
    root = hashlib.sha256(b"\x01" + lr + rr).digest()
    return root, [[*p, (rr, False)] for p in lp] + [[*p, (lr, True)] for p in rp]


@dataclass
class Block:
    records: list[records_pb2.Record]
    header: bytes
    paths: list[list[tuple[bytes, bool]]]

    def proof(
        self, index: int, signers: tuple[str, ...] = ("v1", "v2", "v3")
    ) -> records_pb2.SignedMerkleProof:
        return records_pb2.SignedMerkleProof(
            header=self.header,
            signatures=[sign(v, self.header) for v in signers],
            leaf_index=index,
            path=[
                records_pb2.MerkleStep(sibling=s, sibling_on_left=left)
                for s, left in self.paths[index]
            ],
        )


def sign(validator: str, header: bytes) -> records_pb2.ValidatorSignature:
    return records_pb2.ValidatorSignature(
        validator_id=validator, signature=KEYS[validator].sign(DOMAIN + header)
    )


def block(size: int, height: int = 7, **header_overrides: object) -> Block:
    recs = [record(i, height) for i in range(size)]
    root, paths = tree([leaf(r) for r in recs])
    fields: dict[str, object] = {
        "ledger_id": LEDGER,
        "height": height,
        "previous_hash": "ab" * 32,
        "merkle_root": root.hex(),
        "time": TIME_MS,
        "record_count": size,
    }
    fields.update(header_overrides)
    return Block(recs, canon(fields), paths)


def rejected(rec: records_pb2.Record, proof: records_pb2.SignedMerkleProof, anc=None) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ProofRejected) as err:
        verify_signed_merkle_record(rec, proof, anc or anchor())
    return err.value.reason


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 13])
def test_every_leaf_of_every_tree_shape_verifies(size: int) -> None:
    b = block(size)
    for i, rec in enumerate(b.records):
        checks = verify_signed_merkle_record(rec, b.proof(i), anchor())
        assert checks[1] == "3 of 4 validators signed block 7 (threshold 3): v1, v2, v3"
        assert checks[-1].startswith(f"leaf {i} of {size} reaches the signed merkle_root")


def test_deleted_record_verifies_with_empty_value() -> None:
    rec = record(0, deleted=True)
    root, _ = tree([leaf(rec)])
    b = block(1, merkle_root=root.hex())
    verify_signed_merkle_record(rec, b.proof(0), anchor())
    rec.value = b"{}"
    assert "deletion but carries a value" in rejected(rec, b.proof(0))


# -- threshold and signatures ---------------------------------------------------------


def test_threshold_one_and_threshold_n() -> None:
    b = block(2)
    verify_signed_merkle_record(b.records[0], b.proof(0, ("v4",)), anchor(threshold=1))
    all_four = b.proof(0, ("v1", "v2", "v3", "v4"))
    verify_signed_merkle_record(b.records[0], all_four, anchor(threshold=4))
    reason = rejected(b.records[0], b.proof(0), anchor(threshold=4))
    assert "3/4 required validators (v1, v2, v3)" in reason


def test_one_short_of_threshold_is_rejected() -> None:
    b = block(3)
    assert "2/3 required" in rejected(b.records[1], b.proof(1, ("v2", "v4")))
    assert "0/3 required validators (none)" in rejected(b.records[1], b.proof(1, ()))


def test_repeated_validator_counts_once() -> None:
    b = block(3)
    reason = rejected(b.records[0], b.proof(0, ("v1", "v1", "v2")))
    assert "2/3" in reason
    assert "repeated signatures counted once: v1" in reason
    checks = verify_signed_merkle_record(
        b.records[0], b.proof(0, ("v1", "v1", "v2", "v3")), anchor()
    )
    assert "repeated signatures counted once: v1" in checks


def test_unknown_validators_are_ignored_but_noted() -> None:
    b = block(2)
    proof = b.proof(0, ("v1", "v2", "v3", "v4"))
    checks = verify_signed_merkle_record(b.records[0], proof, anchor(ids=("v1", "v2", "v3")))
    assert "ignored signatures by validators not in the anchor: v4" in checks
    reason = rejected(b.records[0], b.proof(0, ("v1", "v2", "v4")), anchor(ids=("v1", "v2", "v3")))
    assert "2/3" in reason and "not in the anchor: v4" in reason


def test_bad_signature_of_a_known_validator_names_it() -> None:
    b = block(2)
    proof = b.proof(0, ("v1", "v2", "v3", "v4"))
    proof.signatures[3].signature = KEYS["v4"].sign(b"something else")
    assert "validator 'v4' does not verify" in rejected(b.records[0], proof)
    proof.signatures[3].signature = b"\x00" * 10
    assert "validator 'v4' does not verify" in rejected(b.records[0], proof)


def test_signature_without_domain_prefix_is_rejected() -> None:
    b = block(1)
    proof = b.proof(0)
    proof.signatures[0].signature = KEYS["v1"].sign(b.header)
    assert "'v1' does not verify" in rejected(b.records[0], proof)


# -- header and record fields ---------------------------------------------------------


def test_header_for_another_ledger_is_rejected() -> None:
    b = block(2, ledger_id="other-ledger")
    assert "'other-ledger' is not the anchored 'ledger-under-test'" in rejected(
        b.records[0], b.proof(0)
    )


def test_record_height_must_be_the_header_height() -> None:
    b = block(2)
    rec = b.records[0]
    rec.block_height = 8
    assert "block_height 8 differs from the header height 7" in rejected(rec, b.proof(0))


def test_commit_time_must_be_the_header_time() -> None:
    b = block(2)
    rec = b.records[0]
    rec.commit_time.nanos += 1
    assert "commit_time" in rejected(rec, b.proof(0))


def test_non_canonical_header_is_rejected_even_when_signed() -> None:
    b = block(1)
    spaced = json.dumps(json.loads(b.header), sort_keys=True).encode()
    proof = b.proof(0)
    proof.header = spaced
    del proof.signatures[:]
    proof.signatures.extend(sign(v, spaced) for v in ("v1", "v2", "v3"))
    assert "not in canonical JSON form" in rejected(b.records[0], proof)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (b"\xff", "not UTF-8 JSON"),
        (b"[]", "exactly"),
        (canon({"ledger_id": LEDGER}), "exactly"),
    ],
)
def test_malformed_headers(header: bytes, why: str) -> None:
    b = block(1)
    proof = b.proof(0)
    proof.header = header
    assert why in rejected(b.records[0], proof)


def test_header_field_types_are_checked() -> None:
    assert "height must be a non-negative integer" in rejected(*_one(block(1, height=True)))
    assert "merkle_root must be 64 lowercase hex" in rejected(
        *_one(block(1, merkle_root="AB" * 32))
    )


def _one(b: Block) -> tuple[records_pb2.Record, records_pb2.SignedMerkleProof]:
    return b.records[0], b.proof(0)


def test_value_must_be_canonical_json() -> None:
    b = block(1)
    rec = b.records[0]
    rec.value = json.dumps(json.loads(rec.value), ensure_ascii=True).encode()
    assert "not canonical JSON" in rejected(rec, b.proof(0))


# -- Merkle path ----------------------------------------------------------------------


def test_leaf_index_out_of_range() -> None:
    b = block(3)
    proof = b.proof(2)
    proof.leaf_index = 3
    assert "leaf_index 3 is outside the block's 3 records" in rejected(b.records[2], proof)


def test_path_of_wrong_length() -> None:
    b = block(5)
    proof = b.proof(0)
    del proof.path[-1]
    assert "Merkle path has 2 steps; leaf 0 of 5 needs 3" in rejected(b.records[0], proof)


def test_sibling_on_wrong_side_names_the_level() -> None:
    b = block(8)
    proof = b.proof(5)
    proof.path[1].sibling_on_left = not proof.path[1].sibling_on_left
    assert "Merkle level 2" in rejected(b.records[5], proof)


def test_wrong_sibling_misses_the_root() -> None:
    b = block(4)
    proof = b.proof(1)
    proof.path[0].sibling = bytes(32)
    assert "not the header's merkle_root" in rejected(b.records[1], proof)
    proof.path[0].sibling = bytes(31)
    assert "Merkle level 1: sibling is 31 bytes" in rejected(b.records[1], proof)


def test_record_of_another_leaf_is_rejected() -> None:
    b = block(4)
    assert "not the header's merkle_root" in rejected(b.records[2], b.proof(1))


# -- any single-byte change is rejected -----------------------------------------------

STRING_FIELDS = ["namespace", "key", "schema", "tx_id"]
INT_FIELDS = {"version": 8, "block_height": 8, "seconds": 8, "nanos": 4, "leaf_index": 8}


def _mutate_bytes(data: bytes, pos: int, xor: int) -> bytes:
    if not data:
        return bytes([xor])
    pos %= len(data)
    return data[:pos] + bytes([data[pos] ^ xor]) + data[pos + 1 :]


def _mutate_str(s: str, pos: int, xor: int) -> str:
    try:
        return _mutate_bytes(s.encode(), pos, xor).decode()
    except UnicodeDecodeError:
        assume(False)
        raise


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(1, 9),
    index_seed=st.integers(0, 100),
    target=st.sampled_from(
        [
            "header",
            "signature",
            "validator_id",
            "sibling",
            "sibling_on_left",
            "value",
            "deleted",
            *STRING_FIELDS,
            *INT_FIELDS,
        ]
    ),
    pos=st.integers(0, 1000),
    xor=st.integers(1, 255),
)
def test_any_single_byte_change_is_rejected(
    size: int, index_seed: int, target: str, pos: int, xor: int
) -> None:
    b = block(size)
    index = index_seed % size
    rec, proof = b.records[index], b.proof(index)
    verify_signed_merkle_record(rec, proof, anchor())
    if target == "header":
        proof.header = _mutate_bytes(proof.header, pos, xor)
    elif target == "signature":
        sig = proof.signatures[pos % 3]
        sig.signature = _mutate_bytes(sig.signature, pos // 3, xor)
    elif target == "validator_id":
        sig = proof.signatures[pos % 3]
        sig.validator_id = _mutate_str(sig.validator_id, pos // 3, xor)
    elif target in ("sibling", "sibling_on_left"):
        assume(len(proof.path) > 0)
        step = proof.path[pos % len(proof.path)]
        if target == "sibling":
            step.sibling = _mutate_bytes(step.sibling, pos // 7, xor)
        else:
            step.sibling_on_left = not step.sibling_on_left
    elif target == "value":
        rec.value = _mutate_bytes(rec.value, pos, xor)
    elif target == "deleted":
        rec.deleted = not rec.deleted
    elif target in STRING_FIELDS:
        holder = rec.ref if target in ("namespace", "key") else rec
        setattr(holder, target, _mutate_str(getattr(holder, target), pos, xor))
    else:
        holder = {"seconds": rec.commit_time, "nanos": rec.commit_time, "leaf_index": proof}.get(
            target, rec
        )
        shift = 8 * (pos % INT_FIELDS[target])
        try:
            setattr(holder, target, getattr(holder, target) ^ (xor << shift))
        except ValueError:
            assume(False)
    with pytest.raises(ProofRejected):
        verify_signed_merkle_record(rec, proof, anchor())


@settings(max_examples=100, deadline=None)
@given(pos=st.integers(0, 1000), xor=st.integers(1, 255), which=st.integers(0, 3))
def test_any_single_byte_change_of_the_anchor_keys_is_rejected(
    pos: int, xor: int, which: int
) -> None:
    b = block(3)
    anc = anchor()
    v = anc.validators[which]
    v.ed25519_public_key = _mutate_bytes(v.ed25519_public_key, pos % 32, xor)
    if which == 3:  # v4 did not sign: its key does not matter
        verify_signed_merkle_record(b.records[0], b.proof(0), anc)
    else:
        with pytest.raises(ProofRejected):
            verify_signed_merkle_record(b.records[0], b.proof(0), anc)


# -- trust anchor validation ----------------------------------------------------------


def test_valid_anchor_passes() -> None:
    validate_trust_anchor(anchor(threshold=1))
    validate_trust_anchor(anchor(threshold=4))


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda a: setattr(a, "threshold", 0), "threshold 0 must be 1..4"),
        (lambda a: setattr(a, "threshold", 5), "threshold 5 must be 1..4"),
        (lambda a: setattr(a, "ledger_id", ""), "ledger_id is empty"),
        (lambda a: setattr(a.validators[1], "ed25519_public_key", b"x" * 31), "31 bytes"),
        (lambda a: setattr(a.validators[1], "id", "v1"), "'v1' is repeated"),
        (lambda a: setattr(a.validators[1], "id", ""), "#1 has an empty id"),
        (
            lambda a: setattr(
                a.validators[1], "ed25519_public_key", a.validators[0].ed25519_public_key
            ),
            "repeats another's key",
        ),
        (lambda a: a.ClearField("validators"), "no validators"),
    ],
)
def test_invalid_anchor_is_refused(edit, why: str) -> None:  # type: ignore[no-untyped-def]
    anc = anchor()
    edit(anc)
    with pytest.raises(MalformedInput, match=why.replace("(", r"\(").replace(".", r"\.")):
        validate_trust_anchor(anc)
    assert "trust anchor unusable" in rejected(*_one(block(1)), anc)


# -- the reference ledger's own hashing agrees with this verifier ---------------------


@pytest.mark.parametrize("size", [1, 2, 3, 6, 11, 17])
def test_reference_ledger_blocks_verify(size: int) -> None:
    from devnets.custom.ledger import header as ledger_header
    from devnets.custom.ledger import merkle as ledger_merkle

    recs = [record(i) for i in range(size)]
    leaves = [
        ledger_merkle.leaf_hash(
            ledger_merkle.LeafFields(
                LEDGER,
                r.ref.namespace,
                r.ref.key,
                r.schema,
                r.value.decode(),
                r.version,
                r.deleted,
                r.tx_id,
            )
        )
        for r in recs
    ]
    root, paths = ledger_merkle.merkle_paths(leaves)
    head = ledger_header.Header(LEDGER, 7, "ab" * 32, root.hex(), TIME_MS, size).to_bytes()
    for i, r in enumerate(recs):
        proof = records_pb2.SignedMerkleProof(
            header=head,
            signatures=[sign(v, head) for v in ("v2", "v3", "v4")],
            leaf_index=i,
            path=[
                records_pb2.MerkleStep(sibling=p.sibling, sibling_on_left=p.sibling_on_left)
                for p in paths[i]
            ],
        )
        verify_signed_merkle_record(r, proof, anchor())
