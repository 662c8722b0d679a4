"""The fabric adapter's settings (AdapterSettings.options), validated before anything is dialled.

The options are public and name no file: the certificates are inline PEM text and the
identity's private key is the chain's secret `identity_key` (AdapterContext.secrets,
resolved by the hub from the chain's own secret store). An option that names a file
(`identity.cert`, `identity.key`, a peer's `tls_root_cert`, as older registrations did)
is refused with one message that says nothing about the file: the adapter never opens
a path a registration chooses, so it cannot tell files apart for anyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from cryptography import x509
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.base import AdapterMisconfigured

# The one secret: the identity's ECDSA P-256 private key, unencrypted PEM.
IDENTITY_KEY = "identity_key"

PATHS_REFUSED = (
    "fabric adapter options name files (identity.cert, identity.key or a peer's "
    "tls_root_cert), which the hub never opens: give the certificates inline as PEM text "
    "(identity.cert_pem, peers[].tls_root_cert_pem) and the identity's private key as the "
    f"chain's secret {IDENTITY_KEY!r} (`tonglian secrets put CHAIN {IDENTITY_KEY} --file KEY`)"
)


def _pem_certificates(pem: str) -> str:
    """The text unchanged if it holds at least one PEM X.509 certificate (the value is
    not quoted back: it may be long, and it is the caller's own)."""
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValueError("is not PEM text of an X.509 certificate") from None
    return pem


PemText = Annotated[str, Field(min_length=1), AfterValidator(_pem_certificates)]


class PeerOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # host:port of the peer's gRPC listener (Gateway, Endorser and Deliver services).
    endpoint: str = Field(pattern=r"^[^:\s]+:\d{1,5}$")
    msp_id: str = Field(min_length=1)
    # PEM text of the TLS CA certificate(s) that issued the peer's TLS certificate.
    tls_root_cert_pem: PemText
    # TLS server name to expect when the endpoint's host is not in the certificate.
    tls_server_name: str = ""


class IdentityOption(BaseModel):
    """The client identity the adapter signs with: its MSP and X.509 certificate (PEM
    text); its P-256 key is the chain's secret `identity_key`."""

    model_config = ConfigDict(extra="forbid")

    msp_id: str = Field(min_length=1)
    cert_pem: PemText


class FabricAdapterOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern=r"^[a-z][a-z0-9.-]{0,248}$")
    chaincode: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
    # Gateway peers, in order of preference; qscc answers come from these too.
    peers: list[PeerOption] = Field(min_length=1)
    identity: IdentityOption
    # Organisations whose peers attest each transaction's validation code through
    # signed qscc answers; empty means every organisation in `peers`.
    qscc_orgs: list[str] = Field(default_factory=list)
    # Organisations that must endorse submissions; empty lets the gateway choose.
    endorsing_orgs: list[str] = Field(default_factory=list)
    # How long submit waits for the commit status, in seconds.
    commit_timeout: float = Field(default=30.0, gt=0)

    @field_validator("peers")
    @classmethod
    def _distinct_endpoints(cls, peers: list[PeerOption]) -> list[PeerOption]:
        endpoints = [p.endpoint for p in peers]
        if len(set(endpoints)) != len(endpoints):
            raise ValueError("peer endpoints must be distinct")
        return peers

    @model_validator(mode="after")
    def _orgs_have_peers(self) -> FabricAdapterOptions:
        known = {p.msp_id for p in self.peers}
        for org in [*self.qscc_orgs, *self.endorsing_orgs]:
            if org not in known:
                raise ValueError(f"organisation {org!r} has no peer in `peers`")
        return self

    @property
    def attesting_orgs(self) -> list[str]:
        """The organisations asked for qscc answers, in a stable order."""
        if self.qscc_orgs:
            return list(dict.fromkeys(self.qscc_orgs))
        return list(dict.fromkeys(p.msp_id for p in self.peers))


def refuse_paths(options: Mapping[str, Any]) -> None:
    """AdapterMisconfigured(PATHS_REFUSED) when the options name a file, whatever file."""
    identity = options.get("identity")
    if isinstance(identity, Mapping) and ("cert" in identity or "key" in identity):
        raise AdapterMisconfigured(PATHS_REFUSED)
    peers = options.get("peers")
    if isinstance(peers, list) and any(
        isinstance(p, Mapping) and "tls_root_cert" in p for p in peers
    ):
        raise AdapterMisconfigured(PATHS_REFUSED)
