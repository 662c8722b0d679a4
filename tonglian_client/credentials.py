"""A client's mutual-TLS material: its certificate and key, and the CA it trusts for the hub.

Taken from arguments or from TONGLIAN_CERT, TONGLIAN_KEY and TONGLIAN_CA.
`check()` looks at the certificate before any connection, so an expired or
not-yet-valid certificate is reported as such instead of as a failed handshake.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from tonglian_client.errors import CertificateUnusable, CredentialsError

if TYPE_CHECKING:
    # Imported where used: parsing certificates is not needed to start a command.
    from cryptography import x509

ENV_CERT = "TONGLIAN_CERT"
ENV_KEY = "TONGLIAN_KEY"
ENV_CA = "TONGLIAN_CA"
ENV_INSECURE = "TONGLIAN_INSECURE"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"cannot read {what} {path}: {exc.strerror}") from exc


@dataclass(frozen=True)
class Credentials:
    cert: Path
    key: Path
    ca: Path

    @classmethod
    def from_env(cls) -> Credentials | None:
        """Credentials named by TONGLIAN_CERT/KEY/CA; None when none of them is set."""
        return cls.from_parts(None, None, None)

    @classmethod
    def from_parts(
        cls, cert: Path | str | None, key: Path | str | None, ca: Path | str | None
    ) -> Credentials | None:
        """Each part from its argument, else its environment variable; None when all are unset."""
        parts = {
            "--cert/TONGLIAN_CERT": cert or os.environ.get(ENV_CERT),
            "--key/TONGLIAN_KEY": key or os.environ.get(ENV_KEY),
            "--ca/TONGLIAN_CA": ca or os.environ.get(ENV_CA),
        }
        if not any(parts.values()):
            return None
        missing = [name for name, value in parts.items() if not value]
        if missing:
            raise CredentialsError(
                "mutual TLS needs a certificate, its key and the hub's CA: missing "
                + ", ".join(missing)
            )
        c, k, a = (Path(str(v)) for v in parts.values())
        return cls(c, k, a)

    def certificate(self) -> x509.Certificate:
        from cryptography import x509

        try:
            return x509.load_pem_x509_certificate(_read(self.cert, "client certificate"))
        except ValueError as exc:
            raise CredentialsError(f"client certificate {self.cert} is not PEM: {exc}") from exc

    def principal_name(self) -> str:
        """How the hub names this client in its audit log and signed answers: O/CN of the
        certificate's subject ("agency/client")."""
        from cryptography.x509.oid import NameOID

        subject = self.certificate().subject
        parts = [
            subject.get_attributes_for_oid(oid)
            for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME)
        ]
        return "/".join(str(p[0].value) if p else "" for p in parts)

    def authorities(self) -> list[x509.Certificate]:
        from cryptography import x509

        try:
            return x509.load_pem_x509_certificates(_read(self.ca, "CA file"))
        except ValueError as exc:
            raise CredentialsError(f"CA file {self.ca} holds no PEM certificates: {exc}") from exc

    def check(self, now: datetime | None = None) -> x509.Certificate:
        """The certificate, after checking what can be checked locally (its dates)."""
        cert = self.certificate()
        at = now or datetime.now(UTC)
        who = cert.subject.rfc4514_string()
        if at > cert.not_valid_after_utc:
            raise CertificateUnusable(
                f"client certificate {who!r} ({self.cert}) expired at "
                f"{cert.not_valid_after_utc.isoformat()}: ask for a new one"
            )
        if at < cert.not_valid_before_utc:
            raise CertificateUnusable(
                f"client certificate {who!r} ({self.cert}) is not valid before "
                f"{cert.not_valid_before_utc.isoformat()}"
            )
        self._check_key_matches(cert)
        return cert

    def _check_key_matches(self, cert: x509.Certificate) -> None:
        """The key must be the certificate's: otherwise TLS fails in a way that looks like
        the hub's refusal, so it is checked here, before dialing."""
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            PublicFormat,
            load_pem_private_key,
        )

        try:
            key = load_pem_private_key(_read(self.key, "client key"), password=None)
        except (ValueError, TypeError) as exc:
            raise CredentialsError(
                f"client key {self.key} is not an unencrypted PEM private key: {exc}"
            ) from exc
        spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
            raise CertificateUnusable(
                f"your key {self.key} does not match your certificate {self.cert} "
                f"({cert.subject.rfc4514_string()!r}): give the key issued with this "
                "certificate (`tonglian pki issue NAME` writes NAME.crt and NAME.key together)"
            )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        self.check()
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca, "CA file"),
            private_key=_read(self.key, "client key"),
            certificate_chain=_read(self.cert, "client certificate"),
        )
