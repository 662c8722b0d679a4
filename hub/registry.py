"""The chain registry: which chains the hub links, with their adapters and trust anchors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime

from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from adapters import remote
from hub import adapter_plugins, secrets
from hub.errors import InvalidInput, NotFound, StoreUnavailable
from hub.guarded_adapter import GuardedAdapter
from hub.router import Router
from hub.store.base import Store
from hub.store.notifications import CRL_PREFIX
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


# How long a read waits for the store to confirm a chain's trust version itself when
# the notifications cannot (hub/store/notifications.py), before it refuses. Waiting
# serves nothing stale (the answer is current when it comes), so it is generous: a
# loaded database must not turn into refusals.
CONFIRM_TIMEOUT = 2.0


class ChainRegistry:
    def __init__(self, store: Store, router: Router) -> None:
        self._store = store
        self._router = router
        # Registered chains by id, as stored, each with the trust version it was read at:
        # every read names its chain, and a trip to the store (a thread hop, behind the
        # audit's writes) cost 0.5 ms of a 2 ms read. A copy is used only while its
        # version is the newest the store announced (`_current`), so a chain removed or
        # registered anew through another replica is never served from here.
        self._known: dict[str, tuple[chains_pb2.Chain, int]] = {}
        # The adapter of each known chain, with the very Chain object it was routed for:
        # asked per delivery and per query, it is found without copying the chain and
        # fingerprinting the copy again; a chain registered anew is a new object.
        self._routed: dict[str, tuple[chains_pb2.Chain, GuardedAdapter]] = {}
        self._dropping: set[asyncio.Task[None]] = set()
        self._forget: list[Callable[[chains_pb2.Chain], None]] = []
        store.trust.on_change(self._trust_changed)

    def on_forget(self, callback: Callable[[chains_pb2.Chain], None]) -> None:
        """`callback(old_chain)` runs when a chain this replica knew changes its trust
        (removed, registered anew, here or on another replica): caches keyed on its old
        anchors (the verifier's) drop them."""
        self._forget.append(callback)

    def _trust_changed(self, chain_id: str) -> None:
        """Drops every cache keyed on the chain's old trust: the copy, its adapter."""
        if chain_id.startswith(CRL_PREFIX):  # a CA's CRL (hub/authentication.py)
            return
        known = self._known.pop(chain_id, None)
        self._routed.pop(chain_id, None)
        if known is None:
            return  # no copy here, so no adapter or anchor of it either
        for callback in self._forget:
            callback(known[0])
        task = asyncio.ensure_future(self._router.drop(chain_id, only=known[0]))
        self._dropping.add(task)
        task.add_done_callback(self._dropping.discard)

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
            adapter_plugins.check_options(settings.adapter, MessageToDict(settings.options))
        secrets.check_refs(settings)
        if settings.timeout_ms > 600_000:
            raise InvalidInput("chain.adapter.timeout_ms must be at most 600000 (10 minutes)")
        stored = chains_pb2.Chain()
        stored.CopyFrom(chain)
        registered_at = Timestamp()
        registered_at.FromDatetime(datetime.now(UTC))
        stored.registered_at.CopyFrom(registered_at)
        await self._store.add_chain(stored)  # bumps the trust version: caches drop theirs
        return stored

    async def _current(self, chain_id: str) -> chains_pb2.Chain:
        """The chain as registered now, from the cache while its trust version is the
        newest announced, else from the store; refuses when neither can be confirmed."""
        known = self._known.get(chain_id)
        latest = self._store.trust.latest(chain_id)
        if known is not None and latest is not None and known[1] == latest:
            return known[0]
        if latest is None:
            # The notifications cannot vouch for any copy: ask the store, briefly.
            try:
                chain, version = await asyncio.wait_for(
                    self._store.chain_version(chain_id), CONFIRM_TIMEOUT
                )
            except (StoreUnavailable, TimeoutError):
                raise StoreUnavailable(
                    f"this replica cannot confirm chain {chain_id[:80]!r}'s trust anchors "
                    "are current (its store does not answer); retry"
                ) from None
        else:
            chain, version = await self._store.chain_version(chain_id)
        self._store.trust.heard(chain_id, version)
        if chain is None:
            raise NotFound(
                f"no chain {chain_id[:80]!r} is registered; `tonglian chains list` shows them"
            )
        if self._store.trust.latest(chain_id) in (None, version):
            self._known[chain_id] = (chain, version)
        return chain

    def is_current(self, chain: chains_pb2.Chain) -> bool:
        """Whether `chain` (from `get`) is still the chain as registered, by the newest
        trust version this replica has heard of; for work that holds a chain for long (a
        relay scan verifies block after block against it). No store trip. Raises
        StoreUnavailable when that cannot be confirmed now (the notifications are down),
        so the work stops and retries later rather than go on under old anchors."""
        latest = self._store.trust.latest(chain.chain_id)
        if latest is None:
            raise StoreUnavailable(
                f"this replica cannot confirm chain {chain.chain_id[:80]!r}'s trust anchors "
                "are current (its store's notifications are down); retrying"
            )
        known = self._known.get(chain.chain_id)
        return known is not None and known[1] == latest and known[0] == chain

    async def get(self, chain_id: str) -> chains_pb2.Chain:
        if not chain_id:
            raise InvalidInput("chain_id is required")
        chain = chains_pb2.Chain()
        chain.CopyFrom(await self._current(chain_id))  # callers may edit theirs
        return chain

    async def adapter(self, chain_id: str) -> GuardedAdapter:
        """The registered chain's adapter (the router's, for the chain as registered)."""
        current = await self._current(chain_id)
        routed = self._routed.get(chain_id)
        if routed is not None and routed[0] is current:
            return routed[1]
        adapter = await self._router.adapter_for(current)
        known = self._known.get(chain_id)
        if known is not None and known[0] is current:  # not registered anew meanwhile
            self._routed[chain_id] = (current, adapter)
        return adapter

    async def list(self, after: str, limit: int) -> list[chains_pb2.Chain]:
        return await self._store.list_chains(after, limit)

    async def remove(self, chain_id: str) -> None:
        if not chain_id:
            raise InvalidInput("chain_id is required")
        if not await self._store.remove_chain(chain_id):  # bumps the trust version
            raise NotFound(f"no chain {chain_id[:80]!r} is registered")
        await self._router.drop(chain_id)
