"""The reader's own trust: anchor files, an anchors folder, hub keys and a node they name.

Everything `tonglian verify` and `verify_record` may call "verified" comes from
here, never from the bundle under check. Loading is strict: a file that does not
parse is an error, never silently "no trust".
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import DecodeError

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.statement import HubKey, load_hub_keys
from tonglian_proof.verify.evm import TrustedEvmHeader

ANCHOR_SUFFIXES = (".json", ".pb")
NODE_TIMEOUT = 10.0
MAX_NODE_ANSWER = 1 << 20


def default_anchors_dir() -> Path:
    """`$TONGLIAN_ANCHORS`, else `$XDG_CONFIG_HOME/tonglian/anchors` (~/.config by default)."""
    if os.environ.get("TONGLIAN_ANCHORS"):
        return Path(os.environ["TONGLIAN_ANCHORS"])
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "tonglian" / "anchors"


def load_anchor(path: Path) -> chains_pb2.TrustAnchor:
    """A TrustAnchor from a JSON (proto JSON) or binary file; MalformedInput saying why not."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MalformedInput(f"cannot read trust anchor file {path}: {exc.strerror}") from exc
    anchor = chains_pb2.TrustAnchor()
    if path.suffix == ".json":
        try:
            ParseDict(json.loads(data), anchor)
        except (ValueError, ParseError) as exc:
            raise MalformedInput(f"trust anchor file {path} does not parse: {exc}") from exc
        return anchor
    try:
        anchor.ParseFromString(data)
    except DecodeError as exc:
        raise MalformedInput(f"trust anchor file {path} does not parse: {exc}") from exc
    return anchor


def anchor_in_dir(folder: Path, chain_id: str) -> chains_pb2.TrustAnchor | None:
    """The anchor kept for `chain_id` in `folder` (CHAIN_ID.json or CHAIN_ID.pb), if any."""
    if not chain_id or "/" in chain_id or chain_id.startswith("."):
        return None
    for suffix in ANCHOR_SUFFIXES:
        path = folder / f"{chain_id}{suffix}"
        if path.is_file():
            return load_anchor(path)
    return None


def hub_keys_from(path: Path) -> tuple[HubKey, ...]:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise MalformedInput(f"cannot read hub key file {path}: {exc.strerror}") from exc
    return tuple(load_hub_keys(pem, f"hub key file {path}"))


def _rpc(url: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    body = json.dumps(
        [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    ).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=NODE_TIMEOUT) as response:
            raw = response.read(MAX_NODE_ANSWER + 1)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise ProofRejected(f"your node {url} did not answer: {exc}") from exc
    try:
        replies = {r["id"]: r for r in json.loads(raw)}
        return [replies[i]["result"] for i in range(len(calls))]
    except (ValueError, KeyError, TypeError) as exc:
        raise ProofRejected(f"your node {url} gave a malformed JSON-RPC answer: {exc}") from exc


def evm_header_from_node(
    url: str, proof: records_pb2.EvmStorageProof, anchor: chains_pb2.EvmTrustAnchor
) -> TrustedEvmHeader:
    """Block `proof.block_number`'s hash and finality as a node the reader chose reports them.

    The chain id must match the anchor, the hash must match the proof's block and the
    block must be at least the anchor's finality depth below the node's head.
    """
    chain_id, head, block = _rpc(
        url,
        [
            ("eth_chainId", []),
            ("eth_blockNumber", []),
            ("eth_getBlockByNumber", [hex(proof.block_number), False]),
        ],
    )
    try:
        chain_id, head = int(str(chain_id), 16), int(str(head), 16)
        block_hash = bytes.fromhex(str(block["hash"]).removeprefix("0x")) if block else b""
    except (ValueError, TypeError, KeyError) as exc:
        raise ProofRejected(f"your node {url} gave a malformed block: {exc}") from exc
    if chain_id != anchor.chain_id:
        raise ProofRejected(
            f"your node {url} serves chain id {chain_id}, the anchor says {anchor.chain_id}"
        )
    if not block_hash:
        raise ProofRejected(f"your node {url} does not have block {proof.block_number}")
    if block_hash != proof.block_hash:
        raise ProofRejected(
            f"your node {url} says block {proof.block_number} is 0x{block_hash.hex()}, the "
            f"bundle's proof is for 0x{proof.block_hash.hex()}: the bundle was not made from "
            "this chain's canonical blocks"
        )
    if head - proof.block_number < anchor.finality_depth:
        raise ProofRejected(
            f"block {proof.block_number} is not final on your node {url} (head {head}, "
            f"finality depth {anchor.finality_depth})"
        )
    return TrustedEvmHeader(
        block_number=proof.block_number,
        block_hash=block_hash,
        head_number=head,
        source=f"your node {url}",
    )
