"""Writes through a real hub onto a real EVM devnet (anvil): the hub's write becomes
`RecordRegistry.putOnce`, a record the ordinary read path proves with a storage proof,
applied once per request id; a chain registered without a submitter key takes no write."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from web3 import AsyncHTTPProvider, AsyncWeb3

from devnets.evm import contracts
from devnets.evm.fixtures import EvmDevnetFactory
from hub import pki
from tests.integration.access.test_agency_access import refused
from tests.integration.write.test_write_custom import (
    LICENCE,
    PURPOSE,
    SCHEMA,
    regulator_policy,
)
from tonglian.v1 import query_pb2
from tonglian_client.client import AsyncClient
from tonglian_proof.bundle import encode_bundle
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

POLICY = regulator_policy("evm-1, evm-readonly", "evm-1")


async def test_evm_write_is_final_verified_applied_once_and_refused_without_a_key(
    tmp_path: Path, evm_devnet_factory: EvmDevnetFactory
) -> None:
    evm = evm_devnet_factory(block_time=0.5)
    hub = HubProcess(tmp_path / "hub", policy=POLICY)
    hub.start()
    try:
        await hub.wait_serving()
        assert hub.credentials is not None
        chain = evm.chain()
        chain.chain_id = "evm-1"
        readonly = evm.chain()
        readonly.chain_id = "evm-readonly"
        del readonly.adapter.secrets["private_key"]
        async with AsyncClient(hub.address, hub.credentials) as ops:
            await ops.register_chain(chain)
            await ops.register_chain(readonly)
        regulator = hub.issue("alice", org="market-regulator")
        ref = f"evm-1/{evm.registry}/E-1"
        async with AsyncClient(hub.address, regulator) as reg:
            put = await reg.put_record(
                ref, LICENCE, schema=SCHEMA, purpose=PURPOSE, request_id="evm-1", wait=True
            )
            r = put.receipt
            assert r.state == query_pb2.WRITE_STATE_FINAL and not r.repeated
            assert r.tx_id.startswith("0x") and r.block_height > 0
            assert put.record.verification.verified
            assert put.record.verification.proof_kind == "evm"
            got = await reg.get_record(ref, purpose=PURPOSE)
            assert got.verification.verified and json.loads(got.record.value) == LICENCE
            assert got.record.tx_id == r.tx_id and got.record.version == 1

            again = await reg.put_record(
                ref, LICENCE, schema=SCHEMA, purpose=PURPOSE, request_id="evm-1"
            )
            assert again.receipt.repeated and again.receipt.tx_id == r.tx_id
            assert again.receipt.state == query_pb2.WRITE_STATE_FINAL

            err = await refused(
                reg.put_record(
                    f"evm-readonly/{evm.registry}/E-2",
                    LICENCE,
                    schema=SCHEMA,
                    purpose=PURPOSE,
                    request_id="evm-2",
                )
            )
            assert err.status == grpc.StatusCode.FAILED_PRECONDITION
            assert str(err) == (
                "FAILED_PRECONDITION: chain 'evm-readonly' cannot receive deliveries: its "
                "adapter 'evm' says can_submit = false; register the chain with the adapter's "
                "submit settings (evm: an inbox address and the secret private_key) before "
                "routing to it"
            )
        # The chain holds one version of the key, written once.
        w3 = AsyncWeb3(AsyncHTTPProvider(evm.rpc_url))
        registry = w3.eth.contract(
            address=w3.to_checksum_address(evm.registry), abi=contracts.abi("RecordRegistry")
        )
        assert await registry.functions.versionOf(w3.keccak(text="E-1")).call() == 1
        assert await registry.functions.versionOf(w3.keccak(text="E-2")).call() == 0
        await w3.provider.disconnect()
    finally:
        hub.stop()
    # The bundle verifies offline: the chain's anchor (an endpoint-quorum EVM chain's
    # final block is attested by the hub, so its key is the anchor of the block).
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    (anchors / "evm-1.json").write_text(json.dumps(MessageToDict(chain.trust_anchor)))
    bundle = tmp_path / "e1.pb"
    bundle.write_bytes(encode_bundle(put.record.bundle))
    checked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-P", "-m", "hub.cli.main", "verify", str(bundle),
         "--anchors", str(anchors), "--hub-key", str(hub.pki_dir / pki.CA_CERT), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert checked.returncode == 0, (checked.stdout, checked.stderr)
    report = json.loads(checked.stdout)
    assert report["verified"] is True and report["proof_kind"] == "evm"
