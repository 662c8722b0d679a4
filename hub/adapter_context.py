"""The AdapterContext for a registered chain: public options and resolved secrets, kept apart."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict

from adapters.base import AdapterContext
from hub import secrets
from tonglian.v1 import chains_pb2


def adapter_context(
    chain: chains_pb2.Chain,
    *,
    timeout: float,
    data_dir: Path,
    extra_options: Mapping[str, Any] | None = None,
) -> AdapterContext:
    """What an adapter of `chain` is made from; relative secret files are under `data_dir`.

    Raises ChainMisconfigured (naming the reference, not the value) when a secret
    cannot be read.
    """
    options = MessageToDict(chain.adapter.options)
    options.update(extra_options or {})
    return AdapterContext(
        chain_id=chain.chain_id,
        options=options,
        secrets=secrets.resolve(chain.adapter, data_dir),
        trust_anchor=chain.trust_anchor,
        timeout=timeout,
    )
