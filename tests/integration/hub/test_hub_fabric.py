"""The hub against the live Fabric devnet: register, put through the chaincode, query
through the hub, verify the bundle offline, refuse tampering. Skipped without Fabric's
release binaries (with the devnet's exact reason)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf.json_format import ParseDict

from adapters.fabric import FabricAdapter
from devnets.base import DevnetInfo
from devnets.fabric.client import devnet_adapter
from hub.errors import ProofRejected
from tonglian.v1 import chains_pb2, chains_pb2_grpc, query_pb2, query_pb2_grpc, records_pb2
from tonglian_client.secret_files import register_staged
from tonglian_proof.bundle import ReaderTrust, decode_bundle, encode_bundle, verify_bundle

pytestmark = [pytest.mark.integration, pytest.mark.fabric_live]

LICENCE = {"licence_no": "91310000MA1K000077", "holder": "Acme", "status": "active"}


@pytest.fixture
async def fabric_adapter(fabric_network: DevnetInfo) -> AsyncIterator[FabricAdapter]:
    """The vendor side: writes records through the chaincode, as the regulator's apps do."""
    adapter = devnet_adapter(fabric_network, "fabric-q")
    try:
        yield adapter
    finally:
        await adapter.close()


async def test_fabric_record_through_the_hub(
    hub_channel: grpc.aio.Channel, fabric_network: DevnetInfo, fabric_adapter: FabricAdapter
) -> None:
    chain = ParseDict(fabric_network.chain, chains_pb2.Chain())
    chain.chain_id = "fabric-q"
    # Its identity key (a file of the devnet) is put into the chain's store first.
    await register_staged(chains_pb2_grpc.ChainRegistryStub(hub_channel), chain)
    committed = await fabric_adapter.put("licence:77", "gov.license.business/v1", LICENCE)

    query = query_pb2_grpc.QueryStub(hub_channel)
    ref = records_pb2.RecordRef(
        chain_id="fabric-q", namespace=fabric_adapter.namespace, key="licence:77"
    )
    resp = await query.GetRecord(
        query_pb2.GetRecordRequest(ref=ref, purpose="business-registration")
    )
    vr = resp.record
    assert vr.verification.verified and vr.verification.proof_kind == "fabric"
    assert vr.record.schema == "gov.license.business/v1"
    assert vr.record.tx_id == committed.tx_id
    assert len(vr.bundle.proof.fabric.qscc_answers) == 2

    verdict = verify_bundle(
        decode_bundle(encode_bundle(vr.bundle)), ReaderTrust(chain.trust_anchor)
    )
    assert verdict.record == vr.record and verdict.anchored

    for field, value in (("value", b'{"status":"revoked"}'), ("key", "licence:78")):
        tampered = records_pb2.ProofBundle()
        tampered.CopyFrom(vr.bundle)
        if field == "value":
            tampered.record.value = value  # type: ignore[assignment]
        else:
            tampered.record.ref.key = value  # type: ignore[assignment]
        with pytest.raises(ProofRejected):
            verify_bundle(tampered, ReaderTrust(chain.trust_anchor))

    flipped = records_pb2.ProofBundle()
    flipped.CopyFrom(vr.bundle)
    del flipped.proof.fabric.qscc_answers[1:]
    with pytest.raises(ProofRejected, match="qscc"):
        verify_bundle(flipped, ReaderTrust(chain.trust_anchor))
