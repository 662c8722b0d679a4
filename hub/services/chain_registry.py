"""tonglian.v1.ChainRegistry over gRPC: maps messages to hub/usecases/chains.py."""

from __future__ import annotations

from hub.audit.call import current_call
from hub.services.status import Context, unary
from hub.usecases.chains import Chains
from tonglian.v1 import chains_pb2, chains_pb2_grpc


class ChainRegistryService(chains_pb2_grpc.ChainRegistryServicer):
    def __init__(self, chains: Chains) -> None:
        self._chains = chains

    @unary
    async def RegisterChain(
        self, request: chains_pb2.RegisterChainRequest, context: Context
    ) -> chains_pb2.RegisterChainResponse:
        call = current_call()
        chain = request.chain if request.HasField("chain") else None
        return chains_pb2.RegisterChainResponse(
            chain=await self._chains.register(call.principal, chain, call)
        )

    @unary
    async def GetChain(
        self, request: chains_pb2.GetChainRequest, context: Context
    ) -> chains_pb2.GetChainResponse:
        return chains_pb2.GetChainResponse(
            chain=await self._chains.get(current_call().principal, request.chain_id)
        )

    @unary
    async def ListChains(
        self, request: chains_pb2.ListChainsRequest, context: Context
    ) -> chains_pb2.ListChainsResponse:
        page = await self._chains.list(
            current_call().principal, request.page_size, request.page_token
        )
        return chains_pb2.ListChainsResponse(
            chains=page.items, next_page_token=page.next_page_token
        )

    @unary
    async def RemoveChain(
        self, request: chains_pb2.RemoveChainRequest, context: Context
    ) -> chains_pb2.RemoveChainResponse:
        call = current_call()
        await self._chains.remove(call.principal, request.chain_id, call)
        return chains_pb2.RemoveChainResponse()

    @unary
    async def PutSecret(
        self, request: chains_pb2.PutSecretRequest, context: Context
    ) -> chains_pb2.PutSecretResponse:
        call = current_call()
        await self._chains.put_secret(
            call.principal, request.chain_id, request.name, request.value, call
        )
        return chains_pb2.PutSecretResponse()

    @unary
    async def ListSecrets(
        self, request: chains_pb2.ListSecretsRequest, context: Context
    ) -> chains_pb2.ListSecretsResponse:
        call = current_call()
        names = await self._chains.list_secrets(call.principal, request.chain_id, call)
        return chains_pb2.ListSecretsResponse(names=names)

    @unary
    async def RemoveSecret(
        self, request: chains_pb2.RemoveSecretRequest, context: Context
    ) -> chains_pb2.RemoveSecretResponse:
        call = current_call()
        await self._chains.remove_secret(call.principal, request.chain_id, request.name, call)
        return chains_pb2.RemoveSecretResponse()

    @unary
    async def GetChainStatus(
        self, request: chains_pb2.GetChainStatusRequest, context: Context
    ) -> chains_pb2.GetChainStatusResponse:
        status = await self._chains.status(current_call().principal, request.chain_id)
        return chains_pb2.GetChainStatusResponse(
            chain_id=status.chain_id, head=status.head, detail="ok"
        )
