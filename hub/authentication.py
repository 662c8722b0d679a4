"""Checks a client certificate the TLS handshake let through, and names its principal.

The handshake already requires a certificate chaining to the client CA, but gRPC
Python cannot check revocation and reports handshake failures only vaguely. So
every call is checked here again, with messages a person can act on: issued by a
trusted CA, valid now (a connection outlives a certificate), not on the CRL (which
is re-read when it changes), and a subject naming agency, role and client.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from hub.errors import InvalidInput, Unauthenticated
from hub.principal import Principal, principal_of
from hub.reloading_file import ReloadingFile

# Client certificates remembered parsed and checked: more than a hub has clients.
PARSED_CERTIFICATES = 256


def load_ca_bundle(data: bytes, path: Path) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InvalidInput(f"client CA file {path} holds no PEM certificates: {exc}") from exc
    return certs


class Revocations:
    """Serial numbers on a CRL, which must be signed by one of the trusted CAs."""

    def __init__(self, crl: x509.CertificateRevocationList) -> None:
        self.crl = crl
        self.revoked = {r.serial_number: r.revocation_date_utc for r in crl}


def crl_parser(cas: list[x509.Certificate]) -> Callable[[bytes, Path], Revocations]:
    def parse(data: bytes, path: Path) -> Revocations:
        try:
            crl = (
                x509.load_pem_x509_crl(data)
                if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_crl(data)
            )
        except ValueError as exc:
            raise InvalidInput(f"CRL file {path} does not parse: {exc}") from exc
        for ca in cas:
            if ca.subject == crl.issuer and crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                return Revocations(crl)
        raise InvalidInput(f"CRL file {path} is not signed by a trusted client CA")

    return parse


class Authenticator:
    def __init__(self, cas: list[x509.Certificate], crl: ReloadingFile[Revocations] | None) -> None:
        if not cas:
            raise InvalidInput("the client CA bundle is empty")
        self._cas = cas
        self._crl = crl
        # Certificates whose issuer signature checked, with the principal they name.
        self._principals: dict[bytes, Principal] = {}

    @classmethod
    def from_files(cls, ca_path: Path, crl_path: Path | None) -> Authenticator:
        try:
            data = ca_path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read client CA file {ca_path}: {exc.strerror}") from exc
        cas = load_ca_bundle(data, ca_path)
        crl = ReloadingFile(crl_path, crl_parser(cas), "CRL") if crl_path else None
        return cls(cas, crl)

    def authenticate(self, pem: bytes, now: datetime | None = None) -> Principal:
        cert = self._issued(pem)
        at = now or datetime.now(UTC)
        if at < cert.not_valid_before_utc:
            raise Unauthenticated(
                f"client certificate {_who(cert)!r} is not valid before "
                f"{cert.not_valid_before_utc.isoformat()}"
            )
        if at > cert.not_valid_after_utc:
            raise Unauthenticated(
                f"client certificate {_who(cert)!r} expired at "
                f"{cert.not_valid_after_utc.isoformat()}"
            )
        if self._crl is not None:
            revoked_on = self._crl.current().revoked.get(cert.serial_number)
            if revoked_on is not None:
                raise Unauthenticated(
                    f"client certificate {_who(cert)!r} (serial {cert.serial_number:x}) was "
                    f"revoked on {revoked_on.isoformat()}"
                )
        principal = self._principals.get(pem)
        if principal is None:
            principal = self._principals[pem] = principal_of(cert)
            while len(self._principals) > PARSED_CERTIFICATES:
                del self._principals[next(iter(self._principals))]
        return principal

    def _issued(self, pem: bytes) -> x509.Certificate:
        """The certificate, once its issuer's signature checks: that never changes for the
        same bytes, so a client pays for it once, not on every call (validity and
        revocation are checked on every call)."""
        if pem in self._principals:
            return _parse(pem)
        cert = _parse(pem)
        if not any(_issued_by(cert, ca) for ca in self._cas):
            raise Unauthenticated(
                f"client certificate {_who(cert)!r} was not issued by a CA this hub trusts "
                f"(issuer {cert.issuer.rfc4514_string()!r})"
            )
        return cert

    async def lapse(self, pem: bytes, interval: float) -> Unauthenticated:
        """Waits until the certificate stops authenticating (revoked on the current CRL, or
        past its notAfter) and returns why; for calls that outlive a moment (watches).

        Checks every `interval` seconds and wakes at notAfter exactly, so a revocation ends
        the call within `interval` plus the CRL's reload."""
        cert = _parse(pem)
        while True:
            try:
                self.authenticate(pem)
            except Unauthenticated as exc:
                return exc
            left = (cert.not_valid_after_utc - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(max(0.001, min(interval, left + 0.001)))


def _who(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


@functools.lru_cache(maxsize=PARSED_CERTIFICATES)
def _parse(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise Unauthenticated(f"client certificate does not parse: {exc}") from exc


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
