"""The EVM adapter's options (AdapterSettings.options), validated, anchor values as defaults.

Addresses, chain id and finality depth default to the registered EvmTrustAnchor,
so a registration states them once; options only add how to connect. The submitter
key is never an option: it is the secret `private_key` (AdapterContext.secrets),
which the hub reads from a reference.
"""

from __future__ import annotations

from typing import Any

from eth_utils.address import is_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from adapters.base import AdapterContext, AdapterMisconfigured
from adapters.evm.registration import PRIVATE_KEY as PRIVATE_KEY
from tonglian.v1 import chains_pb2

# The one secret: the key of the account that submits deliveries (hex).


class EvmAdapterOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rpc_url: str = Field(pattern=r"^https?://")
    # Default to the trust anchor's values when left out.
    registry_address: str | None = None
    inbox_address: str | None = None
    chain_id: int | None = Field(default=None, ge=1)
    finality_depth: int | None = Field(default=None, ge=0, le=10_000)
    # How often `scan(follow=True)` and submit look for new blocks, in seconds.
    poll_interval: float = Field(default=1.0, gt=0, le=60)
    # How long submit waits for a final receipt before answering PENDING, in seconds.
    receipt_timeout: float = Field(default=60.0, gt=0, le=3600)
    # Gas limit = estimate x this.
    gas_multiplier: float = Field(default=1.25, ge=1, le=5)
    # Blocks per eth_getLogs / header batch while scanning.
    scan_batch: int = Field(default=200, ge=1, le=10_000)

    @field_validator("registry_address", "inbox_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not is_address(value):
            raise ValueError(f"{value!r} is not a 20-byte hex address")
        return None if value is None else to_checksum_address(value)


class ResolvedOptions(BaseModel):
    """Options with the anchor's defaults applied: everything the adapter runs on."""

    model_config = ConfigDict(frozen=True)

    rpc_url: str
    registry: str
    inbox: str | None
    chain_id: int
    finality_depth: int
    private_key: SecretStr | None
    qbft: bool
    poll_interval: float
    receipt_timeout: float
    gas_multiplier: float
    scan_batch: int
    timeout: float


def resolve(ctx: AdapterContext) -> ResolvedOptions:
    """Validates `ctx.options` against the trust anchor; raises AdapterMisconfigured."""
    try:
        opts = EvmAdapterOptions.model_validate(dict(ctx.options))
    except ValidationError as exc:
        raise AdapterMisconfigured(f"invalid evm adapter options: {_errors(exc)}") from exc
    anchor = (
        ctx.trust_anchor.evm if ctx.trust_anchor.HasField("evm") else chains_pb2.EvmTrustAnchor()
    )
    registry = opts.registry_address or _anchor_address(anchor.registry_address)
    if registry is None:
        raise AdapterMisconfigured("no registry address in the options or the trust anchor")
    inbox = opts.inbox_address or _anchor_address(anchor.inbox_address)
    chain_id = opts.chain_id or anchor.chain_id
    if not chain_id:
        raise AdapterMisconfigured("no EVM chain id in the options or the trust anchor")
    unknown = sorted(set(ctx.secrets) - {PRIVATE_KEY})
    if unknown:
        raise AdapterMisconfigured(
            f"the evm adapter takes only the secret {PRIVATE_KEY!r}, not {', '.join(unknown)}"
        )
    secret = ctx.secrets.get(PRIVATE_KEY)
    key = None if secret is None else SecretStr(secret.reveal())
    depth = opts.finality_depth if opts.finality_depth is not None else anchor.finality_depth
    return ResolvedOptions(
        rpc_url=opts.rpc_url,
        registry=registry,
        inbox=inbox,
        chain_id=chain_id,
        finality_depth=depth,
        private_key=key,
        qbft=anchor.consensus == chains_pb2.EVM_CONSENSUS_QBFT,
        poll_interval=opts.poll_interval,
        receipt_timeout=opts.receipt_timeout,
        gas_multiplier=opts.gas_multiplier,
        scan_batch=opts.scan_batch,
        timeout=ctx.timeout,
    )


def _anchor_address(raw: bytes) -> str | None:
    return to_checksum_address(raw) if len(raw) == 20 else None


def _errors(exc: ValidationError) -> str:
    parts: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "options"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def options_schema() -> dict[str, Any]:
    """JSON schema of the options, for documentation and the CLI."""
    return EvmAdapterOptions.model_json_schema()
