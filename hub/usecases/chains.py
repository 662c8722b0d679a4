"""The chain registry as a principal sees it: operators register and remove chains, and keep
their secrets, within their scope, and see those chains whole; everyone else (agencies, and
operators for chains outside their scope) sees no adapter settings, secret names or RPC
endpoints."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from hub import secrets
from hub.errors import HubError, InvalidInput, NotFound
from hub.paging import Page, id_token, page_size, split_page
from hub.principal import Principal
from hub.registry import ChainRegistry
from hub.router import Router
from hub.secret_store import check_name
from hub.usecases.audit_record import AuditRecord
from hub.usecases.authorization import Operators
from hub.usecases.chain_overlap import ChainOverlap
from tonglian.v1 import chains_pb2

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def public_view(chain: chains_pb2.Chain) -> chains_pb2.Chain:
    """The chain without adapter settings and without the anchor's RPC endpoints."""
    public = chains_pb2.Chain()
    public.CopyFrom(chain)
    public.ClearField("adapter")
    if public.trust_anchor.HasField("evm"):
        public.trust_anchor.evm.ClearField("rpc_endpoints")
    return public


@dataclass(frozen=True)
class ChainStatus:
    chain_id: str
    head: chains_pb2.ChainHead


class Chains:
    def __init__(self, registry: ChainRegistry, router: Router, operators: Operators) -> None:
        self._registry = registry
        self._router = router
        self._operators = operators
        self._secrets = router.secrets
        self._overlap = ChainOverlap(registry, router.secrets)

    def _as_seen_by(self, principal: Principal, chain: chains_pb2.Chain) -> chains_pb2.Chain:
        """Operators of the chain see it whole (secrets are references only); everyone
        else, operators scoped to other chains included, its public view."""
        scope = self._operators.scope(principal)
        if scope is not None and scope.covers(chain.chain_id):
            return chain
        return public_view(chain)

    async def register(
        self, principal: Principal, chain: chains_pb2.Chain | None, audit: AuditRecord
    ) -> chains_pb2.Chain:
        """Registers `chain` (None: not given): a chain within the caller's operator scope,
        whose secrets are its own (hub/secrets.py) and which shares no node or secret with
        a chain outside that scope (hub/usecases/chain_overlap.py)."""
        scope = self._operators.authorize(principal, "ChainRegistry.RegisterChain", audit)
        if chain is None:
            raise InvalidInput("chain is required")
        scope.require(chain.chain_id, "register a chain")
        await secrets.check_confined(chain.chain_id, chain.adapter, self._secrets)
        await self._overlap.require_chain(scope, chain)
        return await self._registry.register(chain)

    async def get(self, principal: Principal, chain_id: str) -> chains_pb2.Chain:
        return self._as_seen_by(principal, await self._registry.get(chain_id))

    async def list(self, principal: Principal, size: int, token: str) -> Page[chains_pb2.Chain]:
        size = page_size(size, DEFAULT_PAGE, MAX_PAGE)
        chains, more = split_page(await self._registry.list(id_token(token), size + 1), size)
        return Page(
            [self._as_seen_by(principal, c) for c in chains],
            chains[-1].chain_id if more else "",
        )

    async def remove(self, principal: Principal, chain_id: str, audit: AuditRecord) -> None:
        scope = self._operators.authorize(principal, "ChainRegistry.RemoveChain", audit)
        scope.require(chain_id, "remove a chain")
        await self._registry.remove(chain_id)

    async def put_secret(
        self, principal: Principal, chain_id: str, name: str, value: bytes, audit: AuditRecord
    ) -> None:
        """Writes a secret into the chain's own store on this replica; the audit record
        names the secret, never its value."""
        scope = self._operators.authorize(principal, "ChainRegistry.PutSecret", audit)
        scope.require(chain_id, "put a secret")
        check_name(name)
        audit.detail["secret"] = name
        await self._overlap.require_secret(scope, chain_id, name, value)
        await self._secrets.put(chain_id, name, value)

    async def list_secrets(
        self, principal: Principal, chain_id: str, audit: AuditRecord
    ) -> builtins.list[str]:
        scope = self._operators.authorize(principal, "ChainRegistry.ListSecrets", audit)
        scope.require(chain_id, "list its secrets")
        return await self._secrets.names(chain_id)

    async def remove_secret(
        self, principal: Principal, chain_id: str, name: str, audit: AuditRecord
    ) -> None:
        scope = self._operators.authorize(principal, "ChainRegistry.RemoveSecret", audit)
        scope.require(chain_id, "remove a secret")
        check_name(name)
        audit.detail["secret"] = name
        if not await self._secrets.remove(chain_id, name):
            raise NotFound(f"chain {chain_id!r} has no secret {name!r} in its store on this hub")

    async def status(self, principal: Principal, chain_id: str) -> ChainStatus:
        """The chain's head as its adapter reports it now (UNAVAILABLE when it is down).
        Why a chain cannot answer names its settings (an RPC URL, a secret's name), so
        only the chain's operators are told; others get the status without the why."""
        chain = await self._registry.get(chain_id)
        try:
            adapter = await self._router.adapter_for(chain)
            return ChainStatus(chain.chain_id, await adapter.head())
        except HubError as exc:
            scope = self._operators.scope(principal)
            if scope is not None and scope.covers(chain_id):
                raise
            public = type(exc)(
                f"chain {chain_id!r} cannot report its head now; its operators see why",
                **exc.metadata,
            )
            raise public from None
