"""An EVM proof bundle forged from nothing: its own state trie, header and attestations.

Everything an attacker controls offline, coherent enough that every per-proof check
passes: the storage slots hold the forged record's digest and version, the account
trie leads to the registry, the header's stateRoot is the forged root and the
"attestations" name the anchor's real endpoints. Only trust the reader chose (a
node they name, a hub key they hold) can tell it from a real one.
"""

from __future__ import annotations

import rlp
from eth_hash.auto import keccak

from tests.unit.verify.mpt_reference import Trie
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.bundle import BUNDLE_FORMAT, bundle_digest
from tonglian_proof.verify.evm_registry import digest_slot, record_digest, version_slot

EMPTY_CODE_HASH = keccak(b"")


def _word(n: int | bytes) -> bytes:
    raw = n if isinstance(n, bytes) else n.to_bytes(32, "big")
    return rlp.encode(raw.lstrip(b"\x00"))


def forge_evm_bundle(
    anchor: chains_pb2.TrustAnchor,
    template_header_rlp: bytes,
    *,
    chain_id: str,
    key: str,
    schema: str,
    value: bytes,
    version: int,
    block_number: int,
) -> records_pb2.ProofBundle:
    """A bundle for `key` = `value` at `block_number` that no chain ever held."""
    evm = anchor.evm
    registry = evm.registry_address
    digest = record_digest(
        chain_id=evm.chain_id,
        registry=registry,
        key=key,
        schema=schema,
        value=value,
        version=version,
        deleted=False,
    )
    storage = Trie(
        {
            keccak(digest_slot(key)): _word(digest),
            keccak(version_slot(key)): _word(version),
        }
    )
    state = Trie({keccak(registry): rlp.encode([0, 0, storage.root, EMPTY_CODE_HASH])})
    fields = rlp.decode(template_header_rlp)
    fields[3] = state.root
    fields[8] = block_number.to_bytes(8, "big").lstrip(b"\x00")
    header_rlp = rlp.encode(fields)
    block_hash = keccak(header_rlp)
    proof = records_pb2.EvmStorageProof(
        block_header_rlp=header_rlp,
        block_hash=block_hash,
        block_number=block_number,
        account=registry,
        account_proof=state.proof(keccak(registry)),
        storage_key=digest_slot(key),
        storage_proof=storage.proof(keccak(digest_slot(key))),
        version_key=version_slot(key),
        version_proof=storage.proof(keccak(version_slot(key))),
        attestations=[
            records_pb2.EvmHeaderAttestation(
                endpoint=url, block_hash=block_hash, head_number=block_number + 100
            )
            for url in evm.rpc_endpoints
        ],
    )
    record = records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id=chain_id, namespace="0x" + registry.hex(), key=key),
        schema=schema,
        value=value,
        version=version,
        block_height=block_number,
        tx_id="0x" + "ab" * 32,
    )
    bundle = records_pb2.ProofBundle(
        format=BUNDLE_FORMAT,
        record=record,
        proof=records_pb2.Proof(evm=proof),
        chain_kind=chains_pb2.CHAIN_KIND_EVM,
        trust_anchor=anchor,
    )
    bundle.digest = bundle_digest(bundle)
    return bundle
