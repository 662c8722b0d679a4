"""Bundles forged from nothing, checked offline with `tonglian verify` as a reader would.

Issue 14 item 4: without trust of the reader's own a bundle may be consistent, never
"verified"; an EVM bundle's block hash needs a node the reader names or the hub's
signature under a key the reader holds. Real anvil, real hub over mTLS, the real CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from web3 import AsyncHTTPProvider, AsyncWeb3

from devnets.evm import contracts
from devnets.evm.fixtures import RunningEvmDevnet
from hub.cli import exit_codes
from tests.unit.verify.evm_forge import forge_evm_bundle
from tests.unit.verify.test_signed_merkle import anchor, block
from tonglian.v1 import chains_pb2, chains_pb2_grpc, query_pb2, query_pb2_grpc, records_pb2
from tonglian_client.secret_files import register_staged
from tonglian_proof.bundle import BUNDLE_FORMAT, bundle_digest, encode_bundle
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

VALUE = b'{"status":"clear","taxpayer_id":"91310000MA1K000001","valid_until":"2027-12-31"}'
NOT_AUTHENTICATED = (
    "the EVM block hash is not authenticated: an endpoint-quorum anchor cannot vouch "
    "for it offline; name a node you trust (--rpc URL) or the hub's key (--hub-key)"
)


def verify(tmp_path: Path, *args: str, code: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TONGLIAN_ANCHORS": str(tmp_path / "no-anchors")}
    result = subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", "verify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == code, (result.stdout, result.stderr)
    return result


async def test_evm_bundles_need_the_readers_node_or_hub_key(
    hub_process: HubProcess,
    hub_channel: grpc.aio.Channel,
    evm_devnet: RunningEvmDevnet,
    tmp_path: Path,
) -> None:
    chain = evm_devnet.chain()
    chain.chain_id = "evm-forge"
    await register_staged(chains_pb2_grpc.ChainRegistryStub(hub_channel), chain)
    w3 = AsyncWeb3(AsyncHTTPProvider(evm_devnet.rpc_url))
    registry = w3.to_checksum_address(evm_devnet.registry)
    await contracts.put_record(
        w3, registry, w3.to_checksum_address(evm_devnet.owner), "tax:f1", "gov.tax/v1", VALUE
    )
    await w3.provider.make_request("anvil_mine", [3])  # type: ignore[arg-type]
    resp = await query_pb2_grpc.QueryStub(hub_channel).GetRecord(
        query_pb2.GetRecordRequest(
            ref=records_pb2.RecordRef(chain_id="evm-forge", namespace=registry, key="tax:f1"),
            purpose="business-registration",
        )
    )
    real = tmp_path / "real.pb"
    real.write_bytes(encode_bundle(resp.record.bundle))
    anchor_file = tmp_path / "evm-forge.json"
    anchor_file.write_text(json_format.MessageToJson(chain.trust_anchor))
    hub_ca = str(hub_process.pki_dir / "ca.crt")
    rpc = evm_devnet.rpc_url

    alone = json.loads(
        verify(tmp_path, str(real), "--anchor", str(anchor_file), "--json", code=1).stdout
    )
    assert alone["verified"] is False and alone["anchored"] is False
    assert alone["anchored_in"] == NOT_AUTHENTICATED
    node = json.loads(
        verify(
            tmp_path, str(real), "--anchor", str(anchor_file), "--rpc", rpc, "--json", code=0
        ).stdout
    )
    assert node["verified"] is True
    assert node["anchored_in"] == "the trust anchor you gave and the block hash your node gave"
    assert any(f"(your node {rpc})" in c for c in node["checks"])
    signed = verify(tmp_path, str(real), "--anchor", str(anchor_file), "--hub-key", hub_ca, code=0)
    assert signed.stdout.startswith(f"{real}: verified evm-forge/")
    assert "anchored in: the trust anchor you gave, with the block hash attested by " in (
        signed.stdout
    )

    # The same chain's public anchor, a state trie, header and "attestations" of our own.
    forged = forge_evm_bundle(
        chain.trust_anchor,
        resp.record.bundle.proof.evm.block_header_rlp,
        chain_id="evm-forge",
        key="tax:f1",
        schema="gov.tax/v1",
        value=b'{"status":"arrears"}',
        version=7,
        block_number=resp.record.bundle.proof.evm.block_number,
    )
    fake = tmp_path / "forged.pb"
    fake.write_bytes(encode_bundle(forged))
    text = verify(tmp_path, str(fake), "--anchor", str(anchor_file), code=exit_codes.FAILED)
    assert text.stdout.startswith(f"{fake}: consistent but NOT anchored: evm-forge/")
    assert f"not anchored: {NOT_AUTHENTICATED}" in text.stdout
    assert "verified" not in text.stdout.splitlines()[0]
    at_node = verify(
        tmp_path, str(fake), "--anchor", str(anchor_file), "--rpc", rpc, code=exit_codes.FAILED
    )
    block_number = forged.proof.evm.block_number
    assert f"NOT verified: your node {rpc} says block {block_number} is 0x" in at_node.stderr
    assert "the bundle was not made from this chain's canonical blocks" in at_node.stderr
    with_key = json.loads(
        verify(
            tmp_path, str(fake), "--anchor", str(anchor_file), "--hub-key", hub_ca, "--json",
            code=exit_codes.FAILED,
        ).stdout
    )  # fmt: skip
    assert with_key["verified"] is False and with_key["hub_signer"] == ""
    assert with_key["anchored_in"] == NOT_AUTHENTICATED


def test_a_signed_merkle_bundle_from_made_up_validators_is_not_verified(
    hub_process: HubProcess, tmp_path: Path
) -> None:
    b = block(2)
    forged = records_pb2.ProofBundle(
        format=BUNDLE_FORMAT,
        record=b.records[0],
        proof=records_pb2.Proof(signed_merkle=b.proof(0)),
        chain_kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE,
        trust_anchor=chains_pb2.TrustAnchor(signed_merkle=anchor()),
    )
    forged.digest = bundle_digest(forged)
    path = tmp_path / "forged.pb"
    path.write_bytes(encode_bundle(forged))

    report = json.loads(verify(tmp_path, str(path), "--json", code=exit_codes.FAILED).stdout)
    assert report["verified"] is False and report["anchored"] is False
    assert report["consistent"] is True
    text = verify(tmp_path, str(path), code=exit_codes.FAILED).stdout
    assert text.startswith(f"{path}: consistent but NOT anchored: custom-1/licenses/L-0")
    keyed = verify(
        tmp_path, str(path), "--hub-key", str(hub_process.pki_dir / "ca.crt"), "--json",
        code=exit_codes.FAILED,
    )  # fmt: skip
    assert json.loads(keyed.stdout)["verified"] is False
    # Against the real chain's anchors (another validator set) it is refused outright.
    real_anchor = tmp_path / "anchors" / "custom-1.json"
    real_anchor.parent.mkdir()
    real_anchor.write_text(
        json_format.MessageToJson(chains_pb2.TrustAnchor(signed_merkle=anchor(threshold=2)))
    )
    refused = verify(
        tmp_path, str(path), "--anchors", str(real_anchor.parent), code=exit_codes.FAILED
    )
    assert "NOT verified: the bundle's trust anchors differ from the trusted anchor file" in (
        refused.stderr
    )
