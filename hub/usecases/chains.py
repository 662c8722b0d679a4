"""The chain registry as a principal sees it: operators register and remove chains within
their scope and see them whole; agencies see no adapter settings and no RPC endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import InvalidInput
from hub.paging import Page, id_token, page_size, split_page
from hub.principal import Principal
from hub.registry import ChainRegistry
from hub.router import Router
from hub.usecases.audit_record import AuditRecord
from hub.usecases.authorization import Operators
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

    def _as_seen_by(self, principal: Principal, chain: chains_pb2.Chain) -> chains_pb2.Chain:
        """Operators see a chain whole (secrets are references only), others its public view."""
        return chain if self._operators.scope(principal) is not None else public_view(chain)

    async def register(
        self, principal: Principal, chain: chains_pb2.Chain | None, audit: AuditRecord
    ) -> chains_pb2.Chain:
        """Registers `chain` (None: not given), a chain within the caller's operator scope."""
        scope = self._operators.authorize(principal, "ChainRegistry.RegisterChain", audit)
        if chain is None:
            raise InvalidInput("chain is required")
        scope.require(chain.chain_id, "register a chain")
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

    async def status(self, chain_id: str) -> ChainStatus:
        """The chain's head as its adapter reports it now (UNAVAILABLE when it is down)."""
        chain = await self._registry.get(chain_id)
        adapter = await self._router.adapter_for(chain)
        return ChainStatus(chain.chain_id, await adapter.head())
