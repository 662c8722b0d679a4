"""The client's X.509 identity as Fabric names it: MSP id + PEM certificate (SerializedIdentity).

Its serialized form is the `creator` of every proposal and signed request; the
transaction id is derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from adapters.fabric.protos import identities_pb2


class IdentityError(ValueError):
    """The certificate is not a PEM X.509 certificate."""


@dataclass(frozen=True)
class Identity:
    msp_id: str
    # PEM bytes exactly as read: peers compare creators byte for byte.
    certificate_pem: bytes

    @classmethod
    def from_pem(cls, msp_id: str, pem: bytes) -> Identity:
        """The identity of the certificate given inline (options: identity.cert_pem)."""
        try:
            x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise IdentityError(f"identity.cert_pem is not a PEM X.509 certificate: {exc}") from exc
        return cls(msp_id=msp_id, certificate_pem=pem)

    @property
    def creator(self) -> bytes:
        """Serialized msp.SerializedIdentity."""
        return bytes(
            identities_pb2.SerializedIdentity(
                mspid=self.msp_id, id_bytes=self.certificate_pem
            ).SerializeToString()
        )

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)
