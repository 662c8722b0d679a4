"""Building a tonglian.v1.Chain for the evm adapter: the EVM kind's registration defaults.

The defaults live here, with the kind, rather than in any front end: an endpoint-quorum
chain trusts a head only when every given RPC endpoint agrees (unless told fewer) and
calls a block final `DEFAULT_FINALITY` blocks deep; a QBFT/IBFT chain trusts validator
seals instead, so its blocks are final at once unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from tonglian.v1 import chains_pb2

DEFAULT_FINALITY = 2
PRIVATE_KEY = "private_key"


def evm_chain(
    *,
    rpc_endpoints: Sequence[str],
    evm_chain_id: int,
    registry: bytes,
    inbox: bytes = b"",
    validators: Sequence[bytes] = (),
    finality: int | None = None,
    quorum: int | None = None,
    private_key: chains_pb2.SecretRef | None = None,
) -> chains_pb2.Chain:
    """A Chain for the evm adapter (chain id and name left for the caller); the adapter
    talks to the first endpoint, the anchor's header source is all of them."""
    if not rpc_endpoints:
        raise ValueError("an EVM chain needs at least one RPC endpoint")
    anchor = chains_pb2.EvmTrustAnchor(
        chain_id=evm_chain_id,
        registry_address=registry,
        inbox_address=inbox,
        rpc_endpoints=list(rpc_endpoints),
    )
    if validators:
        anchor.consensus = chains_pb2.EVM_CONSENSUS_QBFT
        anchor.validators.extend(validators)
        anchor.finality_depth = finality or 0
    else:
        anchor.consensus = chains_pb2.EVM_CONSENSUS_ENDPOINT_QUORUM
        anchor.endpoint_quorum = quorum or len(rpc_endpoints)
        anchor.finality_depth = DEFAULT_FINALITY if finality is None else finality
    chain = chains_pb2.Chain(
        kind=chains_pb2.CHAIN_KIND_EVM,
        adapter=chains_pb2.AdapterSettings(adapter="evm"),
        trust_anchor=chains_pb2.TrustAnchor(evm=anchor),
    )
    chain.adapter.options.update({"rpc_url": rpc_endpoints[0]})
    if private_key is not None:
        chain.adapter.secrets[PRIVATE_KEY].CopyFrom(private_key)
    return chain
