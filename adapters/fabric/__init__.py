"""The Hyperledger Fabric adapter: a Gateway client on fabric-protos, grpcio and cryptography.

Layers, each in its own module, none importing one above it:
`adapter` -> `qscc`, `blocks`, `requests`, `proposal` -> `gateway` (the only
file speaking gRPC) -> `identity`, `signer`, `errors`.
"""

from __future__ import annotations

from pydantic import ValidationError

from adapters.base import AdapterContext, AdapterMisconfigured
from adapters.fabric.adapter import FabricAdapter
from adapters.fabric.gateway import PeerConnection, PeerTarget
from adapters.fabric.identity import Identity, IdentityError
from adapters.fabric.options import FabricAdapterOptions
from adapters.fabric.signer import Signer, SignerError

__all__ = ["FabricAdapter", "create_adapter"]


def create_adapter(ctx: AdapterContext) -> FabricAdapter:
    """Validates the options and loads the identity; AdapterMisconfigured says what is wrong."""
    try:
        options = FabricAdapterOptions.model_validate(dict(ctx.options))
    except ValidationError as exc:
        raise AdapterMisconfigured(f"fabric adapter options for {ctx.chain_id}: {exc}") from exc
    unreadable = options.check_files()
    if unreadable:
        raise AdapterMisconfigured(f"cannot read: {', '.join(unreadable)}")
    try:
        identity = Identity.from_files(options.identity.msp_id, options.identity.cert)
        signer = Signer.from_file(options.identity.key)
        peers = []
        for p in options.peers:
            with open(p.tls_root_cert, "rb") as f:
                root = f.read()
            peers.append(PeerConnection(PeerTarget(p.endpoint, p.msp_id, root, p.tls_server_name)))
    except (IdentityError, SignerError, OSError) as exc:
        raise AdapterMisconfigured(str(exc)) from exc
    return FabricAdapter(ctx, options, identity, signer, peers)
