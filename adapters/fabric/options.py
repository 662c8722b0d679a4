"""The fabric adapter's settings (AdapterSettings.options), validated before anything is dialled."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class PeerOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # host:port of the peer's gRPC listener (Gateway, Endorser and Deliver services).
    endpoint: str = Field(pattern=r"^[^:\s]+:\d{1,5}$")
    msp_id: str = Field(min_length=1)
    # PEM file of the TLS CA that issued the peer's TLS certificate.
    tls_root_cert: str = Field(min_length=1)
    # TLS server name to expect when the endpoint's host is not in the certificate.
    tls_server_name: str = ""


class IdentityOption(BaseModel):
    """The client identity the adapter signs with (an X.509 certificate and its P-256 key)."""

    model_config = ConfigDict(extra="forbid")

    msp_id: str = Field(min_length=1)
    cert: str = Field(min_length=1)
    key: str = Field(min_length=1)


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

    def check_files(self) -> list[str]:
        """Configured files that cannot be read (problems a person must fix)."""
        paths = [self.identity.cert, self.identity.key, *(p.tls_root_cert for p in self.peers)]
        return [p for p in paths if not Path(p).is_file()]
