"""The adapter for the reference custom ledger (a signed-Merkle chain over HTTP JSON)."""

from __future__ import annotations

from pydantic import ValidationError

from adapters.base import Adapter, AdapterContext, AdapterMisconfigured
from adapters.custom.adapter import CustomAdapter
from adapters.custom.options import CustomOptions


def create_adapter(ctx: AdapterContext) -> Adapter:
    """The `tonglian.adapters` entry point: checks the options, connects lazily."""
    try:
        options = CustomOptions.model_validate(dict(ctx.options))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "options"
        raise AdapterMisconfigured(f"custom adapter options: {loc}: {first['msg']}") from None
    return CustomAdapter(ctx, options)
