"""The AdapterContext for a registered chain: public options and resolved secrets, kept apart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.json_format import MessageToDict

from adapters.base import AdapterContext, Secret
from tonglian.v1 import chains_pb2


def adapter_context(
    chain: chains_pb2.Chain,
    *,
    timeout: float,
    secrets: Mapping[str, Secret],
    extra_options: Mapping[str, Any] | None = None,
) -> AdapterContext:
    """What an adapter of `chain` is made from: its public options, and its secrets as
    resolved by the caller (the hub from the chain's own store, hub/secrets.py; a tool
    from the files it was given, `secrets.read_local`)."""
    options = MessageToDict(chain.adapter.options)
    options.update(extra_options or {})
    return AdapterContext(
        chain_id=chain.chain_id,
        options=options,
        secrets=dict(secrets),
        trust_anchor=chain.trust_anchor,
        timeout=timeout,
    )
