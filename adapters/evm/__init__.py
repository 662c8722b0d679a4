"""The EVM adapter plugin: Ethereum-compatible chains with a RecordRegistry (and an Inbox).

Registered as the `evm` entry point of `tonglian.adapters`.
"""

from __future__ import annotations

from adapters.base import Adapter, AdapterContext


def create_adapter(ctx: AdapterContext) -> Adapter:
    """Builds the adapter for one registered chain; raises AdapterMisconfigured on bad options."""
    from adapters.evm.adapter import EvmAdapter

    return EvmAdapter(ctx)
