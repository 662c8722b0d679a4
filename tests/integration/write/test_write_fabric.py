"""Writes through a real hub onto the live Fabric devnet, through the records chaincode's
`deliver` (the relay's submit path): final, verified, applied once. Needs Fabric's
release binaries (the fabric_live marker, as tests/integration/fabric/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from tests.integration.write.test_write_custom import (
    LICENCE,
    PURPOSE,
    SCHEMA,
    regulator_policy,
)
from tonglian.v1 import chains_pb2, query_pb2
from tonglian_client.client import AsyncClient
from tonglian_proof.bundle import ReaderTrust, decode_bundle, encode_bundle, verify_bundle
from tonglian_tools.hub_process import HubProcess

pytestmark = [pytest.mark.integration, pytest.mark.fabric_live]

POLICY = regulator_policy("fabric-1", "fabric-1")


async def test_fabric_write_is_final_verified_and_applied_once(
    tmp_path: Path, fabric_network: DevnetInfo
) -> None:
    chain = ParseDict(fabric_network.chain, chains_pb2.Chain())
    chain.chain_id = "fabric-1"
    hub = HubProcess(tmp_path / "hub", policy=POLICY)
    hub.start()
    try:
        await hub.wait_serving()
        assert hub.credentials is not None
        async with AsyncClient(hub.address, hub.credentials) as ops:
            await ops.register_chain(chain)
        regulator = hub.issue("alice", org="market-regulator")
        options = fabric_network.chain["adapter"]["options"]
        ref = f"fabric-1/{options['channel']}:{options['chaincode']}/write:{tmp_path.name}"
        async with AsyncClient(hub.address, regulator) as reg:
            put = await reg.put_record(
                ref, LICENCE, schema=SCHEMA, purpose=PURPOSE, request_id="fab-1", wait=True
            )
            again = await reg.put_record(
                ref, LICENCE, schema=SCHEMA, purpose=PURPOSE, request_id="fab-1"
            )
            got = await reg.get_record(ref, purpose=PURPOSE)
    finally:
        hub.stop()
    r = put.receipt
    assert r.state == query_pb2.WRITE_STATE_FINAL and not r.repeated and r.block_height > 0
    assert put.record.verification.verified and put.record.verification.proof_kind == "fabric"
    assert again.receipt.repeated and again.receipt.tx_id == r.tx_id
    assert got.verification.verified and got.record.tx_id == r.tx_id
    assert json.loads(got.record.value) == {**LICENCE, "schema": SCHEMA}
    # The bundle verifies offline against the chain's own anchor.
    verdict = verify_bundle(
        decode_bundle(encode_bundle(put.record.bundle)), ReaderTrust(chain.trust_anchor)
    )
    assert verdict.anchored and verdict.record.tx_id == r.tx_id
