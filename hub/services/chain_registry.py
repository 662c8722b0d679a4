"""tonglian.v1.ChainRegistry over gRPC."""

from __future__ import annotations

from hub.audit.call import current_call
from hub.errors import InvalidInput
from hub.paging import id_token, page_size, split_page
from hub.registry import ChainRegistry
from hub.router import Router
from hub.services.status import Context, unary
from tonglian.v1 import chains_pb2, chains_pb2_grpc

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def visible(chain: chains_pb2.Chain) -> chains_pb2.Chain:
    """The chain as the caller may see it: operators whole (secrets are references only),
    agencies without adapter settings and without the anchor's RPC endpoints."""
    if current_call().operator is not None:
        return chain
    public = chains_pb2.Chain()
    public.CopyFrom(chain)
    public.ClearField("adapter")
    if public.trust_anchor.HasField("evm"):
        public.trust_anchor.evm.ClearField("rpc_endpoints")
    return public


class ChainRegistryService(chains_pb2_grpc.ChainRegistryServicer):
    def __init__(self, registry: ChainRegistry, router: Router) -> None:
        self._registry = registry
        self._router = router

    @unary
    async def RegisterChain(
        self, request: chains_pb2.RegisterChainRequest, context: Context
    ) -> chains_pb2.RegisterChainResponse:
        if not request.HasField("chain"):
            raise InvalidInput("chain is required")
        current_call().operator_scope().require(request.chain.chain_id, "register a chain")
        return chains_pb2.RegisterChainResponse(chain=await self._registry.register(request.chain))

    @unary
    async def GetChain(
        self, request: chains_pb2.GetChainRequest, context: Context
    ) -> chains_pb2.GetChainResponse:
        return chains_pb2.GetChainResponse(
            chain=visible(await self._registry.get(request.chain_id))
        )

    @unary
    async def ListChains(
        self, request: chains_pb2.ListChainsRequest, context: Context
    ) -> chains_pb2.ListChainsResponse:
        size = page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE)
        chains, more = split_page(
            await self._registry.list(id_token(request.page_token), size + 1), size
        )
        return chains_pb2.ListChainsResponse(
            chains=[visible(c) for c in chains], next_page_token=chains[-1].chain_id if more else ""
        )

    @unary
    async def RemoveChain(
        self, request: chains_pb2.RemoveChainRequest, context: Context
    ) -> chains_pb2.RemoveChainResponse:
        current_call().operator_scope().require(request.chain_id, "remove a chain")
        await self._registry.remove(request.chain_id)
        return chains_pb2.RemoveChainResponse()

    @unary
    async def GetChainStatus(
        self, request: chains_pb2.GetChainStatusRequest, context: Context
    ) -> chains_pb2.GetChainStatusResponse:
        chain = await self._registry.get(request.chain_id)
        adapter = await self._router.adapter_for(chain)
        head = await adapter.head()
        return chains_pb2.GetChainStatusResponse(chain_id=chain.chain_id, head=head, detail="ok")
