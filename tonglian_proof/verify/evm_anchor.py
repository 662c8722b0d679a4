"""Checks an EvmTrustAnchor when a chain is registered (and again before each verification)."""

from __future__ import annotations

from urllib.parse import urlparse

from tonglian.v1 import chains_pb2
from tonglian_proof.errors import MalformedInput

MAX_ENDPOINTS = 16
MAX_VALIDATORS = 256
MAX_FINALITY_DEPTH = 10_000


def anchor_problems(anchor: chains_pb2.EvmTrustAnchor) -> list[str]:
    """Every way `anchor` is malformed, in words a person can act on (empty when it is fine)."""
    problems: list[str] = []
    if anchor.chain_id == 0:
        problems.append("chain_id must be the chain's EIP-155 id (not 0)")
    if len(anchor.registry_address) != 20:
        problems.append(f"registry_address must be 20 bytes, got {len(anchor.registry_address)}")
    if anchor.inbox_address and len(anchor.inbox_address) != 20:
        problems.append(f"inbox_address must be 20 bytes, got {len(anchor.inbox_address)}")
    if anchor.finality_depth > MAX_FINALITY_DEPTH:
        problems.append(f"finality_depth {anchor.finality_depth} is above {MAX_FINALITY_DEPTH}")
    if anchor.consensus == chains_pb2.EVM_CONSENSUS_ENDPOINT_QUORUM:
        problems += _endpoint_problems(anchor)
    elif anchor.consensus == chains_pb2.EVM_CONSENSUS_QBFT:
        problems += _qbft_problems(anchor)
    else:
        problems.append("consensus must be EVM_CONSENSUS_ENDPOINT_QUORUM or EVM_CONSENSUS_QBFT")
    return problems


def _endpoint_problems(anchor: chains_pb2.EvmTrustAnchor) -> list[str]:
    problems: list[str] = []
    endpoints = list(anchor.rpc_endpoints)
    if not endpoints:
        problems.append("ENDPOINT_QUORUM needs at least one rpc_endpoint")
    if len(endpoints) > MAX_ENDPOINTS:
        problems.append(f"at most {MAX_ENDPOINTS} rpc_endpoints")
    for url in endpoints:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            problems.append(f"rpc_endpoint {url!r} is not an http(s) URL")
    if len(set(endpoints)) != len(endpoints):
        problems.append("rpc_endpoints must be distinct (the same URL would count twice)")
    if not 1 <= anchor.endpoint_quorum <= max(len(endpoints), 1):
        problems.append(
            f"endpoint_quorum must be between 1 and {len(endpoints)}, got {anchor.endpoint_quorum}"
        )
    if anchor.finality_depth < 1:
        problems.append("ENDPOINT_QUORUM chains need finality_depth >= 1 (blocks can reorganise)")
    return problems


def _qbft_problems(anchor: chains_pb2.EvmTrustAnchor) -> list[str]:
    problems: list[str] = []
    validators = list(anchor.validators)
    if not validators:
        problems.append("QBFT needs the validator addresses")
    if len(validators) > MAX_VALIDATORS:
        problems.append(f"at most {MAX_VALIDATORS} validators")
    if any(len(v) != 20 for v in validators):
        problems.append("each validator must be a 20-byte address")
    if len(set(validators)) != len(validators):
        problems.append("validators must be distinct")
    if anchor.finality_depth != 0:
        problems.append("QBFT blocks are final once sealed: set finality_depth to 0")
    return problems


def validate_evm_anchor(anchor: chains_pb2.EvmTrustAnchor) -> None:
    """For registration: raises MalformedInput listing every problem of `anchor`."""
    problems = anchor_problems(anchor)
    if problems:
        raise MalformedInput("invalid EVM trust anchor: " + "; ".join(problems))
