"""Operators see a chain whole; agencies see no adapter settings and no RPC endpoints."""

from __future__ import annotations

import pytest

from hub.errors import PermissionDenied
from hub.usecases.authorization import Operators
from hub.usecases.chains import Chains
from tests.unit.hub.usecases.fakes import FakeAudit, Scene, principal
from tonglian.v1 import chains_pb2


class FakeRegistry:
    def __init__(self, chain: chains_pb2.Chain) -> None:
        self.chain = chain
        self.removed: list[str] = []

    async def get(self, chain_id: str) -> chains_pb2.Chain:
        return self.chain

    async def remove(self, chain_id: str) -> None:
        self.removed.append(chain_id)


def evm_chain() -> chains_pb2.Chain:
    chain = chains_pb2.Chain(chain_id="evm-1", kind=chains_pb2.CHAIN_KIND_EVM)
    chain.adapter.adapter = "evm"
    chain.trust_anchor.evm.rpc_endpoints.append("http://127.0.0.1:8545")
    chain.trust_anchor.evm.chain_id = 31337
    return chain


async def test_what_each_principal_sees(scene: Scene) -> None:
    chains = Chains(FakeRegistry(evm_chain()), None, Operators(scene.policy))  # type: ignore[arg-type]
    whole = await chains.get(principal("ops", "operator"), "evm-1")
    assert whole == evm_chain()
    public = await chains.get(principal("office"), "evm-1")
    assert not public.HasField("adapter") and list(public.trust_anchor.evm.rpc_endpoints) == []
    assert public.trust_anchor.evm.chain_id == 31337
    # An operator certificate the policy does not name is seen as an agency.
    assert await chains.get(principal("office", "operator"), "evm-1") == public


async def test_removing_a_chain_out_of_scope_is_refused(scene: Scene) -> None:
    registry = FakeRegistry(evm_chain())
    chains = Chains(registry, None, Operators(scene.policy))  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied, match=r"not 'custom-1' \(remove a chain\)"):
        await chains.remove(principal("evm-ops", "operator"), "custom-1", FakeAudit())
    await chains.remove(principal("evm-ops", "operator"), "evm-1", FakeAudit())
    assert registry.removed == ["evm-1"]
