"""Operators see the chains of their scope whole; everyone else sees no adapter settings,
secret names or RPC endpoints; a chain that touches a chain outside the caller's scope
(a node, a secret) is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import PermissionDenied
from hub.router import Router
from hub.usecases.authorization import Operators
from hub.usecases.chains import Chains
from tests.unit.hub.usecases.fakes import FakeAudit, Scene, principal
from tonglian.v1 import chains_pb2

SHARED = (
    "with a registered chain outside them, and scope follows what a chain touches (using "
    "another chain's node or secret needs operator rights over that chain too)"
)


class FakeRegistry:
    def __init__(self, *chains: chains_pb2.Chain) -> None:
        self.chains = {c.chain_id: c for c in chains}
        self.removed: list[str] = []
        self.registered: list[str] = []

    async def get(self, chain_id: str) -> chains_pb2.Chain:
        return self.chains[chain_id]

    async def list(self, after: str, limit: int) -> list[chains_pb2.Chain]:
        return [self.chains[k] for k in sorted(self.chains) if k > after][:limit]

    async def register(self, chain: chains_pb2.Chain) -> chains_pb2.Chain:
        self.registered.append(chain.chain_id)
        return chain

    async def remove(self, chain_id: str) -> None:
        self.removed.append(chain_id)


def evm_chain(chain_id: str = "evm-1", rpc: str = "http://127.0.0.1:8545") -> chains_pb2.Chain:
    chain = chains_pb2.Chain(chain_id=chain_id, kind=chains_pb2.CHAIN_KIND_EVM)
    chain.adapter.adapter = "evm"
    chain.adapter.options.update({"rpc_url": rpc})
    chain.trust_anchor.evm.rpc_endpoints.append(rpc)
    chain.trust_anchor.evm.chain_id = 31337
    return chain


def custom_chain(
    chain_id: str = "custom-1", url: str = "http://127.0.0.1:7000"
) -> chains_pb2.Chain:
    chain = chains_pb2.Chain(chain_id=chain_id, kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE)
    chain.adapter.adapter = "custom"
    chain.adapter.options.update({"url": url})
    return chain


def chains_of(scene: Scene, registry: FakeRegistry, tmp_path: Path, *env: str) -> Chains:
    return Chains(registry, Router(5.0, tmp_path, env), Operators(scene.policy))  # type: ignore[arg-type]


async def test_what_each_principal_sees(scene: Scene, tmp_path: Path) -> None:
    chains = chains_of(scene, FakeRegistry(evm_chain(), custom_chain()), tmp_path)
    whole = await chains.get(principal("ops", "operator"), "evm-1")
    assert whole == evm_chain()
    public = await chains.get(principal("office"), "evm-1")
    assert not public.HasField("adapter") and list(public.trust_anchor.evm.rpc_endpoints) == []
    assert public.trust_anchor.evm.chain_id == 31337
    # An operator certificate the policy does not name is seen as an agency.
    assert await chains.get(principal("office", "operator"), "evm-1") == public
    # A scoped operator sees its chains whole and the others as an agency does.
    scoped = principal("evm-ops", "operator")
    assert await chains.get(scoped, "evm-1") == whole
    other = await chains.get(scoped, "custom-1")
    assert not other.HasField("adapter")
    listed = await chains.list(scoped, 0, "")
    assert [c.HasField("adapter") for c in listed.items] == [False, True]


async def test_removing_a_chain_out_of_scope_is_refused(scene: Scene, tmp_path: Path) -> None:
    registry = FakeRegistry(evm_chain())
    chains = chains_of(scene, registry, tmp_path)
    with pytest.raises(PermissionDenied, match=r"not 'custom-1' \(remove a chain\)"):
        await chains.remove(principal("evm-ops", "operator"), "custom-1", FakeAudit())
    await chains.remove(principal("evm-ops", "operator"), "evm-1", FakeAudit())
    assert registry.removed == ["evm-1"]


async def test_a_chain_on_a_node_outside_the_scope_is_refused(scene: Scene, tmp_path: Path) -> None:
    registry = FakeRegistry(evm_chain(), custom_chain())
    chains = chains_of(scene, registry, tmp_path)
    scoped = principal("evm-ops", "operator")
    with pytest.raises(PermissionDenied) as err:
        await chains.register(scoped, evm_chain("evm-x", "http://LOCALHOST:7000/x"), FakeAudit())
    assert str(err.value) == (
        "rule 'evm-ops-chains' lets evm-ops operate chains ['evm-*'] only: chain 'evm-x' would "
        f"share its endpoint adapter.options.rpc_url {SHARED}"
    )
    # A node of a chain in scope may be shared; the hub's operator may share any.
    await chains.register(scoped, evm_chain("evm-y"), FakeAudit())
    await chains.register(principal("ops", "operator"), custom_chain("any-1"), FakeAudit())
    assert registry.registered == ["evm-y", "any-1"]


async def test_a_secret_of_a_chain_outside_the_scope_is_refused(
    scene: Scene, tmp_path: Path
) -> None:
    custom = custom_chain()
    custom.adapter.secrets["token"].store = "token"
    shared_env = custom_chain("custom-2", "http://127.0.0.1:7002")
    shared_env.adapter.secrets["token"].env = "LEDGER_TOKEN"
    registry = FakeRegistry(custom, shared_env)
    chains = chains_of(scene, registry, tmp_path, "LEDGER_TOKEN")
    ops, scoped = principal("ops", "operator"), principal("evm-ops", "operator")
    await chains.put_secret(ops, "custom-1", "token", b"0xAB12\n", FakeAudit())
    audit = FakeAudit()
    with pytest.raises(PermissionDenied) as err:
        await chains.put_secret(scoped, "evm-z", "private_key", b"ab12", audit)
    assert str(err.value) == (
        "rule 'evm-ops-chains' lets evm-ops operate chains ['evm-*'] only: chain 'evm-z' would "
        f"share its secret 'private_key' {SHARED}"
    )
    assert audit.detail["secret"] == "private_key"
    assert await chains.list_secrets(scoped, "evm-z", FakeAudit()) == []
    # The same environment variable is the same secret.
    by_env = evm_chain("evm-e", "http://127.0.0.1:9999")
    by_env.adapter.secrets["private_key"].env = "LEDGER_TOKEN"
    with pytest.raises(PermissionDenied) as err:
        await chains.register(scoped, by_env, FakeAudit())
    assert str(err.value).endswith(f"would share its secret 'private_key' {SHARED}")
    # A value of its own is put and referenced.
    await chains.put_secret(scoped, "evm-z", "private_key", b"cd34", FakeAudit())
    own = evm_chain("evm-z", "http://127.0.0.1:9999")
    own.adapter.secrets["private_key"].store = "private_key"
    await chains.register(scoped, own, FakeAudit())
    assert registry.registered == ["evm-z"]
