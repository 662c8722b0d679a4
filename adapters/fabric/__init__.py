"""The Hyperledger Fabric adapter: a Gateway client on fabric-protos, grpcio and cryptography.

Layers, each in its own module, none importing one above it:
`adapter` -> `qscc`, `blocks`, `requests`, `proposal` -> `gateway` (the only
file speaking gRPC) -> `identity`, `signer`, `errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from adapters.base import AdapterContext, AdapterMisconfigured
from adapters.fabric.adapter import FabricAdapter
from adapters.fabric.gateway import PeerConnection, PeerTarget
from adapters.fabric.identity import Identity, IdentityError
from adapters.fabric.options import IDENTITY_KEY, FabricAdapterOptions, refuse_paths
from adapters.fabric.signer import Signer, SignerError

__all__ = ["FabricAdapter", "check_options", "create_adapter"]


def check_options(options: Mapping[str, Any]) -> FabricAdapterOptions:
    """The options validated, as at registration; AdapterMisconfigured says what is wrong
    (options naming files get one message that says nothing about them)."""
    refuse_paths(options)
    try:
        return FabricAdapterOptions.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise AdapterMisconfigured(f"invalid fabric adapter options: {problems}") from None


def create_adapter(ctx: AdapterContext) -> FabricAdapter:
    """Validates the options and loads the identity (certificate inline, key from the
    chain's secret `identity_key`); AdapterMisconfigured says what is wrong."""
    options = check_options(ctx.options)
    unknown = sorted(set(ctx.secrets) - {IDENTITY_KEY})
    if unknown:
        raise AdapterMisconfigured(
            f"the fabric adapter takes only the secret {IDENTITY_KEY!r}, not {', '.join(unknown)}"
        )
    key = ctx.secrets.get(IDENTITY_KEY)
    if key is None:
        raise AdapterMisconfigured(
            f"no secret {IDENTITY_KEY!r} in the chain's adapter settings: the identity's "
            f"private key is one (`tonglian secrets put {ctx.chain_id} {IDENTITY_KEY} --file KEY`)"
        )
    try:
        identity = Identity.from_pem(options.identity.msp_id, options.identity.cert_pem.encode())
        signer = Signer.from_pem(key.reveal().encode(), f"secret {IDENTITY_KEY!r}")
    except (IdentityError, SignerError) as exc:
        raise AdapterMisconfigured(str(exc)) from exc
    if signer.public_key() != identity.certificate.public_key():
        raise AdapterMisconfigured(
            f"secret {IDENTITY_KEY!r} is not the private key of identity.cert_pem"
        )
    peers = [
        PeerConnection(
            PeerTarget(p.endpoint, p.msp_id, p.tls_root_cert_pem.encode(), p.tls_server_name)
        )
        for p in options.peers
    ]
    return FabricAdapter(ctx, options, identity, signer, peers)
