"""Verifier for signed-Merkle ledgers (the reference custom ledger and kin): pure functions.

A record is proven when k of n anchored validators signed a block header and a
Merkle path leads from the record's leaf to that header's root. This module is
the hub's own reading of the spec below; it shares no code with any ledger.

Header (the exact bytes in `SignedMerkleProof.header`): canonical JSON, i.e.
UTF-8, keys sorted, no spaces, non-ASCII kept, of exactly
  {"height": int, "ledger_id": str, "merkle_root": hex64, "previous_hash": hex64,
   "record_count": int, "time": int Unix milliseconds UTC}
(hex is lowercase). Block hash = H(header bytes), where H is the anchor's digest:
SHA-256 (unset or LEDGER_DIGEST_SHA256) or SM3 (LEDGER_DIGEST_SM3); H is also the
hash of leaves and nodes below.

Signature: by a validator's key, with the algorithm its anchor entry names, over
  b"tonglian/signed-merkle/header/v1\\n" ‖ header bytes:
  Ed25519 (unset or SIGNATURE_ALGORITHM_ED25519), or SM2 with SM3 and the anchored
  user id (SIGNATURE_ALGORITHM_SM2; raw r ‖ s, 64 bytes). One anchor may mix them;
  the threshold counts validators whatever their algorithm.
Signatures of distinct anchored validators count toward the threshold k; a
signature by an anchored validator that does not verify rejects the proof; a
repeated validator id counts once; ids not in the anchor are ignored (noted).

Leaf: H(0x00 ‖ canonical JSON of {"collection", "deleted", "key",
  "ledger_id", "schema", "tx_id", "value", "version"}), where collection is the
  record's namespace and value is the record's canonical JSON value as a string
  ("" for a deletion).
Node: H(0x01 ‖ left ‖ right).
Tree: RFC 6962 §2.1 over the block's record_count leaves: n > 1 leaves split at
  the largest power of two k < n, left subtree [0, k), right [k, n); an odd node
  is never duplicated but carried up until paired. The path lists siblings from
  the leaf upwards; its length and every sibling's side follow from leaf_index
  and record_count, and are checked against them. Root of 0 leaves: H("").

The record's block_height must equal the header height and its commit_time the
header time. `record.ref.chain_id` is the hub's name for the chain and is not
part of the proof: the caller checks it names the chain it asked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.canonical import canonical_json
from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.verify.signed_merkle_keys import (
    SHA256,
    Digest,
    ValidatorKey,
    ledger_digest,
    validator_key,
)
from tonglian_proof.verify.verified_cache import VerifiedCache

SIGNING_DOMAIN = b"tonglian/signed-merkle/header/v1\n"
HEADER_FIELDS = frozenset(
    {"ledger_id", "height", "previous_hash", "merkle_root", "time", "record_count"}
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
# RFC 8785 represents integers exactly only up to 2^53 - 1.
_MAX_JSON_INT = 2**53 - 1

# Anchors that passed validate_trust_anchor, by their serialized bytes: validator id ->
# public key, loaded once. Not a signature fact: kept by clear_verified_caches, as the
# hub keeps an anchor's keys for every record of the chain.
_anchor_keys: VerifiedCache[tuple[dict[str, ValidatorKey], Digest]] = VerifiedCache(
    256, signatures=False
)
# Headers whose signatures met an anchor's threshold: (anchor bytes, header bytes, the
# signatures as given) -> the checks' text. A record of an already verified block pays
# only for its own fields and Merkle path; any other anchor, header or signature set
# (a forged one added, say) is a miss and is verified in full.
_signed_headers: VerifiedCache[list[str]] = VerifiedCache(4096)


@dataclass(frozen=True)
class SignedHeader:
    ledger_id: str
    height: int
    previous_hash: bytes
    merkle_root: bytes
    time_ms: int
    record_count: int


def block_hash(header: bytes, digest: Digest = SHA256) -> bytes:
    return digest.hash(header)


def leaf_hash(record: records_pb2.Record, ledger_id: str, digest: Digest = SHA256) -> bytes:
    body = canonical_json(
        {
            "collection": record.ref.namespace,
            "deleted": record.deleted,
            "key": record.ref.key,
            "ledger_id": ledger_id,
            "schema": record.schema,
            "tx_id": record.tx_id,
            "value": record.value.decode("utf-8"),
            "version": record.version,
        }
    )
    return digest.hash(b"\x00" + body)


def node_hash(left: bytes, right: bytes, digest: Digest = SHA256) -> bytes:
    return digest.hash(b"\x01" + left + right)


def path_sides(index: int, size: int) -> list[bool]:
    """`sibling_on_left` for each step from the leaf up, for leaf `index` of `size` (RFC 6962)."""
    sides: list[bool] = []
    while size > 1:
        k = 1
        while k * 2 < size:
            k *= 2
        if index < k:
            sides.append(False)
            size = k
        else:
            sides.append(True)
            index, size = index - k, size - k
    sides.reverse()
    return sides


def validate_trust_anchor(anchor: chains_pb2.SignedMerkleTrustAnchor) -> dict[str, ValidatorKey]:
    """The anchored keys by validator id; raises MalformedInput unless the anchor is usable."""
    if not anchor.ledger_id:
        raise MalformedInput("signed_merkle trust anchor: ledger_id is empty")
    ledger_digest(anchor)
    n = len(anchor.validators)
    if n == 0:
        raise MalformedInput("signed_merkle trust anchor: no validators")
    keys: dict[str, ValidatorKey] = {}
    seen: set[bytes] = set()
    for i, v in enumerate(anchor.validators):
        if not v.id:
            raise MalformedInput(f"signed_merkle trust anchor: validator #{i} has an empty id")
        if v.id in keys:
            raise MalformedInput(f"signed_merkle trust anchor: validator id {v.id!r} is repeated")
        key = validator_key(v)
        if key.public_key in seen:
            raise MalformedInput(
                f"signed_merkle trust anchor: validator {v.id!r} repeats another's key"
            )
        seen.add(key.public_key)
        keys[v.id] = key
    if not 1 <= anchor.threshold <= n:
        raise MalformedInput(
            f"signed_merkle trust anchor: threshold {anchor.threshold} must be 1..{n}"
        )
    return keys


def parse_header(header: bytes) -> SignedHeader:
    """The header's fields; rejects anything but the one canonical encoding."""
    try:
        doc = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProofRejected(f"block header is not UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != HEADER_FIELDS:
        got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise ProofRejected(f"block header must have exactly {sorted(HEADER_FIELDS)}, got {got}")
    for name in ("height", "time", "record_count"):
        v = doc[name]
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= _MAX_JSON_INT:
            raise ProofRejected(f"block header {name} must be a non-negative integer, got {v!r}")
    for name in ("previous_hash", "merkle_root"):
        if not isinstance(doc[name], str) or not _HEX64.fullmatch(doc[name]):
            raise ProofRejected(f"block header {name} must be 64 lowercase hex digits")
    if not isinstance(doc["ledger_id"], str):
        raise ProofRejected("block header ledger_id must be a string")
    try:
        canonical = canonical_json(doc)
    except MalformedInput as exc:
        raise ProofRejected(f"block header has no canonical form: {exc}") from None
    if canonical != header:
        raise ProofRejected("block header is not in canonical JSON form (sorted keys, no spaces)")
    return SignedHeader(
        ledger_id=doc["ledger_id"],
        height=doc["height"],
        previous_hash=bytes.fromhex(doc["previous_hash"]),
        merkle_root=bytes.fromhex(doc["merkle_root"]),
        time_ms=doc["time"],
        record_count=doc["record_count"],
    )


def check_signatures(
    header: bytes,
    height: int,
    signatures: list[records_pb2.ValidatorSignature],
    keys: dict[str, ValidatorKey],
    threshold: int,
) -> list[str]:
    """Counts distinct anchored validators whose signature verifies; k of them are needed.

    Any anchored validator's signature that does not verify refuses the block, even when
    enough others do: a ledger that emits bad signatures is not to be trusted quietly.
    """
    message = SIGNING_DOMAIN + header
    signed: list[str] = []
    unknown: list[str] = []
    repeated: list[str] = []
    for sig in signatures:
        if sig.validator_id not in keys:
            unknown.append(sig.validator_id)
            continue
        key = keys[sig.validator_id]
        if not key.verifies(message, sig.signature):
            raise ProofRejected(
                f"{key.algorithm} signature of validator {sig.validator_id!r} does not verify "
                f"over the header of block {height}"
            )
        if sig.validator_id in signed:
            repeated.append(sig.validator_id)
        else:
            signed.append(sig.validator_id)
    notes = []
    if unknown:
        notes.append(f"ignored signatures by validators not in the anchor: {', '.join(unknown)}")
    if repeated:
        notes.append(f"repeated signatures counted once: {', '.join(sorted(set(repeated)))}")
    k = threshold
    if len(signed) < k:
        why = f"; {'; '.join(notes)}" if notes else ""
        raise ProofRejected(
            f"block {height} has valid signatures of {len(signed)}/{k} required validators "
            f"({', '.join(signed) or 'none'}){why}"
        )
    return [
        f"{len(signed)} of {len(keys)} validators signed block {height} "
        f"(threshold {k}): {_signers([keys[s] for s in signed], keys)}",
        *notes,
    ]


def _signers(signed: list[ValidatorKey], keys: dict[str, ValidatorKey]) -> str:
    """The signers as checks name them: with their algorithm unless every key is Ed25519."""
    if all(k.algorithm == "Ed25519" for k in keys.values()):
        return ", ".join(k.id for k in signed)
    return ", ".join(_signer(k) for k in signed)


def _signer(key: ValidatorKey) -> str:
    if key.algorithm == "SM2":
        return f"{key.id} (SM2/SM3, user id {key.user_id!r})"
    return f"{key.id} ({key.algorithm})"


def _anchor_keys_of(
    anchor: chains_pb2.SignedMerkleTrustAnchor, key: bytes
) -> tuple[dict[str, ValidatorKey], Digest]:
    """The anchor's validator keys by id and its digest, checked once per anchor (by its
    deterministic bytes); raises MalformedInput for an unusable anchor."""
    cached = _anchor_keys.get(key)
    if cached is None:
        cached = (validate_trust_anchor(anchor), ledger_digest(anchor))
        _anchor_keys.put(key, cached)
    return cached


def check_record_fields(record: records_pb2.Record, header: SignedHeader) -> list[str]:
    """Fields the header pins directly, and the form of the value."""
    if record.block_height != header.height:
        raise ProofRejected(
            f"record block_height {record.block_height} differs from the header height "
            f"{header.height}"
        )
    ct = record.commit_time
    if ct.nanos % 1_000_000 or ct.seconds * 1000 + ct.nanos // 1_000_000 != header.time_ms:
        raise ProofRejected(
            f"record commit_time {ct.seconds}s+{ct.nanos}ns differs from the header time "
            f"{header.time_ms} ms"
        )
    if record.version < 1:
        raise ProofRejected("record version must be at least 1")
    if record.deleted:
        if record.value:
            raise ProofRejected("record is a deletion but carries a value")
    else:
        try:
            parsed = json.loads(record.value.decode("utf-8"))
            canonical = canonical_json(parsed)
        except (UnicodeDecodeError, ValueError, MalformedInput) as exc:
            raise ProofRejected(f"record value is not JSON: {exc}") from None
        if canonical != record.value:
            raise ProofRejected("record value is not canonical JSON (sorted keys, no spaces)")
    return [f"record block_height {header.height} and commit_time match the header"]


def check_merkle_path(
    record: records_pb2.Record,
    proof: records_pb2.SignedMerkleProof,
    header: SignedHeader,
    digest: Digest = SHA256,
) -> list[str]:
    n, index = header.record_count, proof.leaf_index
    if index >= n:
        raise ProofRejected(f"leaf_index {index} is outside the block's {n} records")
    sides = path_sides(index, n)
    if len(proof.path) != len(sides):
        raise ProofRejected(
            f"Merkle path has {len(proof.path)} steps; leaf {index} of {n} needs {len(sides)}"
        )
    try:
        node = leaf_hash(record, header.ledger_id, digest)
    except MalformedInput as exc:
        raise ProofRejected(f"record fields have no canonical leaf form: {exc}") from None
    for level, (step, left) in enumerate(zip(proof.path, sides, strict=True), start=1):
        if len(step.sibling) != 32:
            raise ProofRejected(
                f"Merkle level {level}: sibling is {len(step.sibling)} bytes, not 32"
            )
        if step.sibling_on_left != left:
            side = "left" if left else "right"
            raise ProofRejected(
                f"Merkle level {level}: leaf {index} of {n} needs its sibling on the {side}"
            )
        node = (
            node_hash(step.sibling, node, digest) if left else node_hash(node, step.sibling, digest)
        )
    if node != header.merkle_root:
        raise ProofRejected(
            f"Merkle path from leaf {index} ends at {node.hex()[:16]}…, not the header's "
            f"merkle_root {header.merkle_root.hex()[:16]}…: the record's namespace, key, "
            "schema, value, version, deleted or tx_id differ from what was committed, "
            "or a sibling is wrong"
        )
    hashed = "" if digest is SHA256 else f" of {digest.name}"
    return [f"leaf {index} of {n} reaches the signed merkle_root in {len(sides)} steps{hashed}"]


def verify_signed_merkle_record(
    record: records_pb2.Record,
    proof: records_pb2.SignedMerkleProof,
    anchor: chains_pb2.SignedMerkleTrustAnchor,
) -> list[str]:
    """The checks that passed, in order; raises ProofRejected naming the first that failed."""
    anchor_bytes = anchor.SerializeToString(deterministic=True)
    try:
        keys, digest = _anchor_keys_of(anchor, anchor_bytes)
    except MalformedInput as exc:
        raise ProofRejected(f"trust anchor unusable: {exc}") from None
    header = parse_header(proof.header)
    if header.ledger_id != anchor.ledger_id:
        raise ProofRejected(
            f"header ledger_id {header.ledger_id!r} is not the anchored {anchor.ledger_id!r}"
        )
    checks = [f"header of block {header.height} is canonical and names ledger {header.ledger_id!r}"]
    signed_key = (
        anchor_bytes,
        proof.header,
        tuple((sig.validator_id, sig.signature) for sig in proof.signatures),
    )
    signed = _signed_headers.get(signed_key)
    if signed is None:
        signed = check_signatures(
            proof.header, header.height, list(proof.signatures), keys, anchor.threshold
        )
        _signed_headers.put(signed_key, signed)
    checks += signed
    checks += check_record_fields(record, header)
    checks += check_merkle_path(record, proof, header, digest)
    return checks
