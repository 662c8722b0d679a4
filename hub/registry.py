"""The chain registry: which chains the hub links, with their adapters and trust anchors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from adapters import remote
from hub import adapter_plugins, secrets
from hub.errors import InvalidInput, NotFound
from hub.guarded_adapter import GuardedAdapter
from hub.router import Router
from hub.store.base import Store
from tonglian.v1 import chains_pb2
from tonglian_proof.anchors import check_anchor

CHAIN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_DISPLAY_NAME = 200


def check_chain_id(chain_id: str) -> None:
    if not CHAIN_ID.match(chain_id):
        raise InvalidInput(
            f"chain id {chain_id[:80]!r} is not valid: use 1 to 63 lower-case letters, "
            "digits and '-', starting with a letter or digit"
        )


class ChainRegistry:
    def __init__(self, store: Store, router: Router) -> None:
        self._store = store
        self._router = router
        # Registered chains by id, as stored: every read names its chain, and a trip to
        # the store (a thread hop, behind the audit's writes) cost 0.5 ms of a 2 ms read.
        # This registry is the only writer of the chains table of its store.
        self._known: dict[str, chains_pb2.Chain] = {}
        # The adapter of each known chain, with the very Chain object it was routed for:
        # asked per delivery and per query, it is found without copying the chain and
        # fingerprinting the copy again; a chain registered anew is a new object.
        self._routed: dict[str, tuple[chains_pb2.Chain, GuardedAdapter]] = {}

    async def register(self, chain: chains_pb2.Chain) -> chains_pb2.Chain:
        """Validates and stores a new chain; the adapter is created on first use."""
        check_chain_id(chain.chain_id)
        if len(chain.display_name) > MAX_DISPLAY_NAME:
            raise InvalidInput(f"display_name is longer than {MAX_DISPLAY_NAME} characters")
        check_anchor(chain.kind, chain.trust_anchor)
        settings = chain.adapter
        if not settings.adapter:
            raise InvalidInput("chain.adapter.adapter must name an installed adapter or 'remote'")
        if settings.adapter == "remote":
            if not settings.address:
                raise InvalidInput("a remote adapter needs chain.adapter.address (host:port)")
            if not remote.ADDRESS.match(settings.address):
                raise InvalidInput(
                    f"chain.adapter.address {settings.address[:80]!r} is not HOST:PORT"
                )
        else:
            adapter_plugins.check_name(settings.adapter)
        secrets.check_refs(settings)
        if settings.timeout_ms > 600_000:
            raise InvalidInput("chain.adapter.timeout_ms must be at most 600000 (10 minutes)")
        stored = chains_pb2.Chain()
        stored.CopyFrom(chain)
        registered_at = Timestamp()
        registered_at.FromDatetime(datetime.now(UTC))
        stored.registered_at.CopyFrom(registered_at)
        await self._store.add_chain(stored)
        self._known.pop(stored.chain_id, None)
        self._routed.pop(stored.chain_id, None)
        return stored

    async def get(self, chain_id: str) -> chains_pb2.Chain:
        if not chain_id:
            raise InvalidInput("chain_id is required")
        known = self._known.get(chain_id)
        if known is None:
            known = await self._store.get_chain(chain_id)
            if known is None:
                raise NotFound(
                    f"no chain {chain_id[:80]!r} is registered; `tonglian chains list` shows them"
                )
            self._known[chain_id] = known
        chain = chains_pb2.Chain()
        chain.CopyFrom(known)  # callers may edit theirs (secrets stripped for display)
        return chain

    async def adapter(self, chain_id: str) -> GuardedAdapter:
        """The registered chain's adapter (the router's, for the chain as registered)."""
        known = self._known.get(chain_id)
        routed = self._routed.get(chain_id)
        if known is not None and routed is not None and routed[0] is known:
            return routed[1]
        chain = await self.get(chain_id)
        adapter = await self._router.adapter_for(chain)
        current = self._known.get(chain_id)
        if current is not None and current == chain:  # not registered anew meanwhile
            self._routed[chain_id] = (current, adapter)
        return adapter

    async def list(self, after: str, limit: int) -> list[chains_pb2.Chain]:
        return await self._store.list_chains(after, limit)

    async def remove(self, chain_id: str) -> None:
        if not chain_id:
            raise InvalidInput("chain_id is required")
        self._known.pop(chain_id, None)
        removed = await self._store.remove_chain(chain_id)
        self._known.pop(chain_id, None)  # a read that raced the removal may have put it back
        self._routed.pop(chain_id, None)
        if not removed:
            raise NotFound(f"no chain {chain_id[:80]!r} is registered")
        await self._router.drop(chain_id)
