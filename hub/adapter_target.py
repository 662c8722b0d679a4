"""Which adapter a command means: an installed plugin with its options, or `remote:HOST:PORT`.

`tonglian adapter serve` and `tonglian adapter check` both name adapters this
way; `--from-devnet KIND` fills the chain id, options and trust anchor from a
running devnet (hub.cli.local_chains), so neither needs them typed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters import remote
from adapters.base import Adapter, AdapterError, AdapterFactory
from hub import adapter_plugins, secrets
from hub.adapter_context import adapter_context
from hub.cli.local_chains import LocalChain
from hub.errors import ChainMisconfigured, InvalidInput
from tonglian.v1 import chains_pb2

REMOTE_PREFIX = "remote:"


@dataclass
class Target:
    label: str
    adapter: Adapter
    chain_id: str
    anchor: chains_pb2.TrustAnchor | None = None
    # The running local chain it was opened from (--from-devnet), if any.
    local: LocalChain | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` flags as adapter options (values are strings, as in `chains add --option`)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--option wants KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def open_target(
    spec: str,
    *,
    chain_id: str = "",
    options: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
    local: LocalChain | None = None,
) -> Target:
    """Creates the adapter SPEC names; raises InvalidInput or ChainMisconfigured when it cannot.

    `local` (a running devnet) supplies the chain id, trust anchor and, when SPEC is its
    own adapter, the adapter's settings."""
    anchor: chains_pb2.TrustAnchor | None = None
    chain = chains_pb2.Chain()
    if local is not None:
        devnet = local.chain
        anchor = devnet.trust_anchor
        chain_id = chain_id or devnet.chain_id
        chain.trust_anchor.CopyFrom(anchor)
        if spec == devnet.adapter.adapter:
            # The devnet's settings (options and secret references) configure this adapter.
            chain.adapter.CopyFrom(devnet.adapter)
    opts: dict[str, Any] = dict(options or {})
    factory: AdapterFactory
    chain.chain_id = chain_id or "conformance-1"
    if spec.startswith(REMOTE_PREFIX):
        factory = remote.create_adapter
        opts["address"] = spec.removeprefix(REMOTE_PREFIX)
    else:
        factory = adapter_plugins.factory(spec)
    ctx = adapter_context(
        chain, timeout=timeout, secrets=secrets.read_local(chain.adapter), extra_options=opts
    )
    try:
        adapter = factory(ctx)
    except AdapterError as exc:
        raise ChainMisconfigured(f"adapter {spec!r} refused its settings: {exc}") from exc
    return Target(spec, adapter, chain.chain_id, anchor, local, dict(ctx.options))
