"""Scope follows what a chain touches: a chain that shares a node or a secret with another
registered chain reaches that chain, so changing it needs operator rights over that one too.

Without this, an operator scoped to `custom-*` could register `custom-evil` pointing at
evm-1's node with evm-1's submitter key and route deliveries into evm-1. The refusal
names the caller's rule and the field of the caller's own registration that collides,
never the other chain (it is outside the caller's scope) nor its settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from hub.chain_endpoints import Endpoint, endpoints, node_keys
from hub.errors import PermissionDenied
from hub.policy import OperatorScope
from hub.registry import ChainRegistry
from hub.secret_store import SecretStore, digest_of
from tonglian.v1 import chains_pb2

PAGE = 500
SecretKey = tuple[str, bytes | str]


class ChainOverlap:
    def __init__(self, registry: ChainRegistry, secrets: SecretStore) -> None:
        self._registry = registry
        self._secrets = secrets

    async def require_chain(self, scope: OperatorScope, chain: chains_pb2.Chain) -> None:
        """PermissionDenied unless `scope` covers every other registered chain that uses
        one of `chain`'s endpoints or secrets."""
        if scope.everywhere:
            return
        mine = [(ep, await node_keys(ep)) for ep in endpoints(chain)]
        my_secrets = await self._secret_keys(chain)
        async for other in self._outside(scope, chain.chain_id):
            theirs: set[tuple[str, int]] = set()
            for ep in endpoints(other):
                theirs |= await node_keys(ep)
            for ep, keys in mine:
                if keys & theirs:
                    raise _denied(scope, chain.chain_id, _endpoint_named(ep))
            their_secrets = set((await self._secret_keys(other)).values())
            for name, key in sorted(my_secrets.items()):
                if key in their_secrets:
                    raise _denied(scope, chain.chain_id, f"its secret {name!r}")

    async def require_secret(
        self, scope: OperatorScope, chain_id: str, name: str, value: bytes
    ) -> None:
        """PermissionDenied unless `scope` covers every other registered chain whose
        secrets hold `value` (putting it would let `chain_id` act as that chain)."""
        if scope.everywhere:
            return
        key: SecretKey = ("value", digest_of(value))
        async for other in self._outside(scope, chain_id):
            if key in (await self._secret_keys(other)).values():
                raise _denied(scope, chain_id, f"its secret {name!r}")

    async def _outside(
        self, scope: OperatorScope, chain_id: str
    ) -> AsyncIterator[chains_pb2.Chain]:
        """Every registered chain but `chain_id` that `scope` does not cover."""
        after = ""
        while True:
            page = await self._registry.list(after, PAGE)
            for other in page:
                if other.chain_id != chain_id and not scope.covers(other.chain_id):
                    yield other
            if len(page) < PAGE:
                return
            after = page[-1].chain_id

    async def _secret_keys(self, chain: chains_pb2.Chain) -> dict[str, SecretKey]:
        """Each secret of the chain as something to compare: the digest of its stored value,
        or the environment variable it names."""
        stored = await self._secrets.digests(chain.chain_id)
        keys: dict[str, SecretKey] = {}
        for name, ref in chain.adapter.secrets.items():
            source = ref.WhichOneof("source")
            if source == "env":
                keys[name] = ("env", ref.env)
            elif source == "store" and ref.store in stored:
                keys[name] = ("value", stored[ref.store])
        return keys


def _endpoint_named(ep: Endpoint) -> str:
    return f"its endpoint {ep.field}"


def _denied(scope: OperatorScope, chain_id: str, what: str) -> PermissionDenied:
    return PermissionDenied(
        f"rule {scope.rule!r} lets {scope.agency} operate chains {list(scope.chains)} only: "
        f"chain {chain_id[:80]!r} would share {what} with a registered chain outside them, "
        "and scope follows what a chain touches (using another chain's node or secret "
        "needs operator rights over that chain too)"
    )
