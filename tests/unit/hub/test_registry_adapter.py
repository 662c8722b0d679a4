"""The registry hands out each chain's adapter without routing the chain again per call,
and a chain registered anew gets an adapter for its new settings."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.guarded_adapter import GuardedAdapter
from hub.registry import ChainRegistry
from hub.router import Router
from hub.store.sqlite import SqliteStore
from tonglian.v1 import chains_pb2


class CountingRouter(Router):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(5.0, data_dir)
        self.routed: list[str] = []

    async def adapter_for(self, chain: chains_pb2.Chain) -> GuardedAdapter:
        self.routed.append(chain.adapter.options["url"])
        return await super().adapter_for(chain)


def custom_chain(url: str) -> chains_pb2.Chain:
    chain = chains_pb2.Chain(chain_id="ledger-1", kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE)
    chain.adapter.adapter = "custom"
    chain.adapter.options["url"] = url
    anchor = chain.trust_anchor.signed_merkle
    anchor.ledger_id, anchor.threshold = "ledger-1", 1
    key = Ed25519PrivateKey.generate().public_key()
    anchor.validators.add(
        id="v1", ed25519_public_key=key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return chain


async def test_an_adapter_is_routed_once_per_registration(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    router = CountingRouter(tmp_path)
    registry = ChainRegistry(store, router)
    try:
        await registry.register(custom_chain("http://127.0.0.1:1"))
        first = await registry.adapter("ledger-1")
        assert [await registry.adapter("ledger-1") for _ in range(3)] == [first] * 3
        assert router.routed == ["http://127.0.0.1:1"]

        await registry.remove("ledger-1")
        await registry.register(custom_chain("http://127.0.0.1:2"))
        again = await registry.adapter("ledger-1")
        assert again is not first
        assert router.routed == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
        assert again.chain.adapter.options["url"] == "http://127.0.0.1:2"
    finally:
        await router.close()
        await store.close()
