"""The RecordRegistry contract's storage layout and record digest, as the verifier recomputes them.

Mirrors devnets/evm/contracts/RecordRegistry.sol (keep both in step):
  keyId        = keccak256(utf8(key))
  digest slot  = keccak256(abi.encode(keyId, uint256(0)))   mapping digestOf at slot 0
  version slot = keccak256(abi.encode(keyId, uint256(1)))   mapping versionOf at slot 1
  digest       = keccak256(abi.encode("tonglian.evm.record/v1", chainId, registry,
                                      key, schema, value, version, deleted))
"""

from __future__ import annotations

from eth_abi.abi import encode as abi_encode

from tonglian_proof.crypto.keccak import keccak256 as keccak

DIGEST_DOMAIN = "tonglian.evm.record/v1"
DIGEST_SLOT_INDEX = 0
VERSION_SLOT_INDEX = 1
_DIGEST_TYPES = ["string", "uint256", "address", "string", "string", "bytes", "uint256", "bool"]


def key_id(key: str) -> bytes:
    return keccak(key.encode())


def mapping_slot(key: bytes, slot_index: int) -> bytes:
    """Solidity's slot of `mapping(bytes32 => _)` entry `key` declared at `slot_index`."""
    return keccak(key + slot_index.to_bytes(32, "big"))


def digest_slot(key: str) -> bytes:
    return mapping_slot(key_id(key), DIGEST_SLOT_INDEX)


def version_slot(key: str) -> bytes:
    return mapping_slot(key_id(key), VERSION_SLOT_INDEX)


def record_digest(
    *,
    chain_id: int,
    registry: bytes,
    key: str,
    schema: str,
    value: bytes,
    version: int,
    deleted: bool,
) -> bytes:
    """What the registry stores in the digest slot for one version of a record."""
    encoded = abi_encode(
        _DIGEST_TYPES,
        [DIGEST_DOMAIN, chain_id, registry, key, schema, value, version, deleted],
    )
    return keccak(encoded)
