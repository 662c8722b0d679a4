"""The adapter for Annals ledgers, written only against the SDK (adapters.base and tonglian.v1).

Annals seals blocks with k of n Ed25519 signatures over the canonical header of
the signed-Merkle spec and lists each block's transaction hashes, so its
records are proven as `signed_merkle`: the adapter fetches the sealed header,
the seals and the block's transaction hashes and computes the Merkle audit path.
"""

from __future__ import annotations

from pydantic import ValidationError

from adapters.annals.adapter import AnnalsAdapter
from adapters.annals.options import AnnalsOptions
from adapters.base import Adapter, AdapterContext, AdapterMisconfigured


def create_adapter(ctx: AdapterContext) -> Adapter:
    """The `tonglian.adapters` entry point `annals`: checks the options, connects lazily."""
    try:
        options = AnnalsOptions.model_validate(dict(ctx.options))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "options"
        raise AdapterMisconfigured(f"annals adapter options: {loc}: {first['msg']}") from None
    return AnnalsAdapter(ctx, options)
