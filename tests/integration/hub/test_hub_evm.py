"""The hub over a real socket against a real anvil: register, put, query, verify offline."""

from __future__ import annotations

import grpc
import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from devnets.evm import contracts
from devnets.evm.fixtures import RunningEvmDevnet
from hub.errors import ProofRejected
from tonglian.v1 import chains_pb2_grpc, query_pb2, query_pb2_grpc, records_pb2
from tonglian_client.secret_files import register_staged
from tonglian_proof.bundle import ReaderTrust, decode_bundle, encode_bundle, verify_bundle

pytestmark = pytest.mark.integration

VALUE = b'{"status":"clear","taxpayer_id":"91310000MA1K000001","valid_until":"2027-12-31"}'


async def test_evm_record_through_the_hub(
    hub_channel: grpc.aio.Channel, evm_devnet: RunningEvmDevnet
) -> None:
    chain = evm_devnet.chain()
    chain.chain_id = "evm-q"
    await register_staged(chains_pb2_grpc.ChainRegistryStub(hub_channel), chain)
    w3 = AsyncWeb3(AsyncHTTPProvider(evm_devnet.rpc_url))
    registry = w3.to_checksum_address(evm_devnet.registry)
    receipt = await contracts.put_record(
        w3,
        registry,
        w3.to_checksum_address(evm_devnet.owner),
        "tax:0001",
        "gov.tax.clearance/v1",
        VALUE,
    )
    await w3.provider.make_request("anvil_mine", [3])  # type: ignore[arg-type]

    query = query_pb2_grpc.QueryStub(hub_channel)
    ref = records_pb2.RecordRef(chain_id="evm-q", namespace=registry, key="tax:0001")
    resp = await query.GetRecord(
        query_pb2.GetRecordRequest(ref=ref, purpose="business-registration")
    )
    vr = resp.record
    assert vr.record.value == VALUE
    assert vr.record.block_height == receipt["blockNumber"]
    assert vr.verification.verified and vr.verification.proof_kind == "evm"
    assert len(vr.bundle.proof.evm.attestations) >= chain.trust_anchor.evm.endpoint_quorum

    data = encode_bundle(vr.bundle)
    verdict = verify_bundle(decode_bundle(data), ReaderTrust(chain.trust_anchor))
    assert verdict.record == vr.record
    # The endpoints' attestations are the hub's unsigned record: offline, the anchor
    # alone cannot authenticate the block hash (tests/integration/hub/test_offline_forgeries).
    assert verdict.anchored is False

    tampered = records_pb2.ProofBundle()
    tampered.CopyFrom(vr.bundle)
    tampered.record.value = VALUE.replace(b"clear", b"arrears")
    with pytest.raises(ProofRejected):
        verify_bundle(tampered, ReaderTrust(chain.trust_anchor))

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await query.GetRecord(
            query_pb2.GetRecordRequest(
                ref=records_pb2.RecordRef(chain_id="evm-q", namespace=registry, key="absent"),
                purpose="business-registration",
            )
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
